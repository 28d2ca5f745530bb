/*
 * fuzz_vector_index_files — the files that describe a vector index, as
 * loom finds them in its data directory at start (after a crash, a full
 * disk, a hand edit or a copy from another version): the store's
 * config.json (its shape), the index's info.json (settings shown by
 * describe-index) and, when config.json is unreadable, the header of a
 * snapshot that tells the shape instead. fuzz_vector_files covers the
 * snapshot bodies and the log; this covers what is read before them.
 *
 * Whatever the files hold, listing, describing, loading, configuring and
 * closing must not crash, leak or hang, and an index whose store loads
 * must take a write and give it back (a store loaded with a shape no
 * index can have would acknowledge writes and drop them).
 *
 * Input: config.json, a NUL, info.json, a NUL, then the snapshot
 * ns-.snap (binary); a missing part is a missing file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_scratch.h"

#include "core/alloc.h"
#include "stores/vector_indexes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char sub[96]; /* DIR/kb: the index */

static void put(const char *name, const uint8_t *p, size_t n) {
  char path[160];
  snprintf(path, sizeof path, "%s/%s", sub, name);
  FILE *f = fopen(path, "wb");
  if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
    abort();
}

/* Splits the input into the index's files in a fresh DIR/kb. */
static void write_files(const uint8_t *data, size_t size) {
  snprintf(sub, sizeof sub, "%s/kb", scratch_dir("vindex"));
  if (mkdir(sub, 0755) != 0)
    abort();
  static const char *const names[] = {"config.json", "info.json", "ns-.snap"};
  const uint8_t *end = data + size;
  for (int i = 0; i < 3 && data <= end; i++) {
    const uint8_t *nul = i < 2 ? memchr(data, 0, (size_t)(end - data)) : NULL;
    size_t n = nul ? (size_t)(nul - data) : (size_t)(end - data);
    put(names[i], data, n);
    if (!nul)
      break;
    data = nul + 1;
  }
}

static void desc_cb(void *ud, const struct loom_vindex_desc *d) {
  (void)ud;
  free(json_dumps(d->info, JSON_COMPACT));
}

static void found_cb(void *ud, const char *id, float distance,
                     const float *values, const json_t *metadata) {
  (void)id;
  (void)distance;
  (void)metadata;
  const struct loom_vstore_params *p = ud;
  float sum = 0;
  for (uint32_t i = 0; values && i < p->dim; i++)
    sum += values[i];
  if (values && sum <= 0)
    abort(); /* not the vector written */
}

/* A loaded index takes a vector and gives it back. */
static void write_and_read(struct loom_vstore *s) {
  const struct loom_vstore_params *p = loom_vstore_params(s);
  if (p->dim < 1 || p->dim > LOOM_HNSW_MAX_DIM)
    abort();
  float *v = loom_malloc(p->dim * sizeof *v);
  for (uint32_t i = 0; i < p->dim; i++)
    v[i] = (float)(i % 5) + 1;
  struct loom_vrecord rec = {.id = "fuzz", .values = v};
  struct loom_error e;
  if (loom_vstore_upsert(s, "", &rec, 1, &e) != LOOM_OK ||
      !loom_vstore_fetch(s, "", "fuzz", found_cb, (void *)p))
    abort();
  loom_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  write_files(data, size);
  struct loom_vindexes *r = NULL;
  struct loom_error e;
  if (loom_vindexes_open(scratch_dir("vindex"), &r, &e) != LOOM_OK)
    abort();
  loom_vindexes_each(r, desc_cb, NULL);
  struct loom_vindex_desc d;
  if (loom_vindexes_describe(r, "kb", &d, &e) == LOOM_OK)
    json_decref(d.info);
  json_t *info = NULL;
  struct loom_vstore *s = loom_vindexes_acquire(r, "kb", &info, &e);
  if (s) {
    write_and_read(s);
    loom_vindexes_release(r, s);
  }
  json_decref(info);
  json_t *tags = json_pack("{s:{s:s}}", "tags", "team", "fuzz");
  (void)loom_vindexes_configure(r, "kb", tags, &e);
  json_decref(tags);
  loom_vindexes_close(r);
  scratch_clear();
  return 0;
}
