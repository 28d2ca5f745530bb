/*
 * fuzz_vector_files — the vector store's files as loom finds them in its
 * data directory after a crash, a full disk or a bad copy: an HNSW
 * snapshot (loom_hnsw_load) or a write-ahead log (loom_vwal_open's
 * replay). A file that is not what loom wrote must be refused
 * (LOOM_ERR_PARSE / a cut log), never crash, leak or read out of bounds;
 * a snapshot that loads must then answer searches, listings and writes.
 *
 * Input: the first byte picks the file (even: snapshot, odd: log); the
 * rest is its content. The seeds are real snapshots (float and int8
 * walks) and a real log, so mutations start from the true layout.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_scratch.h"

#include "core/alloc.h"
#include "stores/hnsw.h"
#include "stores/vector_wal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads every byte of an item, so the sanitizers see one that lies. */
static void item_cb(void *ud, const char *id, float distance,
                    const float *values, const json_t *metadata) {
  (void)distance;
  (void)metadata;
  const struct loom_hnsw_params *p = ud;
  float sum = (float)strlen(id);
  for (uint32_t i = 0; values && i < p->dim; i++)
    sum += values[i];
  (void)sum;
}

static void use_snapshot(struct loom_hnsw *h) {
  const struct loom_hnsw_params *p = loom_hnsw_params(h);
  float *v = loom_malloc(p->dim * sizeof *v);
  for (uint32_t i = 0; i < p->dim; i++)
    v[i] = (float)(i % 7) - 2.5f;
  struct loom_hnsw_query q = {
      .vector = v, .k = 5, .ef = 16, .exact_below = 1e-9};
  (void)loom_hnsw_query(h, &q, item_cb, (void *)p);
  loom_hnsw_each(h, item_cb, (void *)p);
  struct loom_error e;
  if (loom_hnsw_upsert(h, "fuzz-new", v, NULL, &e) == LOOM_OK)
    (void)loom_hnsw_query(h, &q, item_cb, (void *)p);
  (void)loom_hnsw_delete(h, "fuzz-new");
  loom_free(v);
}

static void replay_cb(void *ud, const struct loom_vwal_rec *r) {
  size_t *sum = ud;
  *sum += strlen(r->ns) + (r->id ? strlen(r->id) : 0) + r->metalen;
  for (uint32_t i = 0; i < r->nvalues; i++)
    *sum += r->values[i] > 0;
  if (r->meta && strlen(r->meta) > r->metalen)
    abort(); /* the copy is NUL-terminated at its length */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  const char *path = scratch_write("vfiles", "file", data + 1, size - 1);
  struct loom_error e = {0};
  if (data[0] % 2 == 0) {
    struct loom_hnsw *h = NULL;
    uint64_t lsn;
    if (loom_hnsw_load(path, &h, &lsn, &e) == LOOM_OK) {
      use_snapshot(h);
      loom_hnsw_free(h);
    } else if (!e.message[0]) {
      abort(); /* a refusal says why */
    }
    return 0;
  }
  struct loom_vwal *w = NULL;
  uint64_t last = 0;
  size_t sum = 0;
  if (loom_vwal_open(path, replay_cb, &sum, &w, &last, &e) == LOOM_OK)
    loom_vwal_close(w);
  return 0;
}
