/*
 * fuzz_vector_wal_records — vector log records that pass their CRC but
 * carry content loom's writers never log (an older or newer loom, a bug,
 * a hand-made file): any op, LSNs out of order, namespaces and ids of any
 * length, values of any count (NaN, inf, huge), metadata that is not JSON
 * or not an object. fuzz_vector_files mutates the file's bytes, which
 * rarely keep a valid CRC; here the records are encoded by the log's own
 * encoder (loom_vwal_add), so replay always reaches the store.
 *
 * Opening the store replays them; it must then answer queries, and
 * survive a checkpoint: close empties the log (a record replay applied
 * but a snapshot cannot hold would fail every checkpoint), and after a
 * reopen the store holds the same vectors.
 *
 * Input: the first byte gives the dimension (1..8) and the metric; then
 * records, each: op, LSN step (signed), ns length (u8) and bytes, id
 * length (u16) and bytes, value count (u8) and that many raw floats,
 * metadata length (u16) and bytes; lengths are cut at the input's end.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_scratch.h"

#include "core/alloc.h"
#include "stores/vector_store.h"
#include "stores/vector_wal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
  const uint8_t *p, *end;
};

static size_t take(struct input *in, size_t want, const uint8_t **out) {
  size_t n =
      (size_t)(in->end - in->p) < want ? (size_t)(in->end - in->p) : want;
  *out = in->p;
  in->p += n;
  return n;
}

static unsigned byte(struct input *in) {
  return in->p < in->end ? *in->p++ : 0;
}

static unsigned u16(struct input *in) {
  unsigned lo = byte(in);
  return lo | byte(in) << 8;
}

/* A NUL-terminated copy (the log stores C strings). */
static char *text(struct input *in, size_t want) {
  const uint8_t *p;
  size_t n = take(in, want, &p);
  char *s = loom_malloc(n + 1);
  memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

/* Encodes the input's records into DIR/wal. */
static void write_log(const char *dir, struct input *in) {
  char path[160];
  snprintf(path, sizeof path, "%s/wal", dir);
  struct loom_vwal *w;
  uint64_t last, lsn = 1000;
  struct loom_error e;
  if (loom_vwal_open(path, NULL, NULL, &w, &last, &e) != LOOM_OK)
    abort();
  while (in->p < in->end) {
    struct loom_vwal_rec r = {.op = (enum loom_vwal_op)byte(in)};
    lsn += (uint64_t)(int64_t)(int8_t)byte(in);
    r.lsn = lsn;
    char *ns = text(in, byte(in)), *id = text(in, u16(in));
    r.ns = ns;
    r.id = id;
    const uint8_t *vp;
    r.nvalues =
        (uint32_t)(take(in, byte(in) * sizeof(float), &vp) / sizeof(float));
    float *values = loom_calloc(r.nvalues + 1, sizeof(float));
    memcpy(values, vp, r.nvalues * sizeof(float));
    r.values = r.nvalues ? values : NULL;
    const uint8_t *mp;
    r.metalen = (uint32_t)take(in, u16(in), &mp);
    r.meta = r.metalen ? (const char *)mp : NULL;
    loom_vwal_add(w, &r);
    loom_free(ns);
    loom_free(id);
    loom_free(values);
  }
  if (loom_vwal_commit(w, &e) != LOOM_OK)
    abort();
  loom_vwal_close(w);
}

struct use {
  struct loom_vstore *s;
  size_t n;
};

static void item_cb(void *ud, const char *id, float distance,
                    const float *values, const json_t *metadata) {
  (void)id;
  (void)distance;
  (void)metadata;
  const struct loom_vstore_params *p = ud;
  for (uint32_t i = 0; values && i < p->dim; i++)
    if (!isfinite(values[i]))
      abort(); /* a value the store should have refused */
}

static void ns_cb(void *ud, const char *ns, size_t count) {
  struct use *u = ud;
  const struct loom_vstore_params *p = loom_vstore_params(u->s);
  float q[8] = {1, -1, 0.5f, 2, 0, 3, -2, 1};
  struct loom_hnsw_query hq = {.vector = q, .k = 4, .ef = 16};
  (void)loom_vstore_query(u->s, ns, &hq, item_cb, (void *)p);
  loom_vstore_each(u->s, ns, item_cb, (void *)p);
  u->n += count;
}

/* Reads every namespace; returns the number of vectors. */
static size_t use(struct loom_vstore *s) {
  struct use u = {s, 0};
  if (loom_vstore_namespaces(s, ns_cb, &u) != u.n)
    abort();
  return u.n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  const char *dir = scratch_dir("vwal");
  char cfg[128];
  snprintf(cfg, sizeof cfg, "%s/config.json", dir);
  static const char *const metrics[] = {"cosine", "dotproduct", "euclidean"};
  FILE *f = fopen(cfg, "w");
  if (!f)
    abort();
  fprintf(f, "{\"dimension\": %u, \"metric\": \"%s\", \"quantize\": %s}",
          data[0] % 8 + 1, metrics[(data[0] >> 3) % 3],
          data[0] & 0x80 ? "true" : "false");
  fclose(f);
  struct input in = {data + 1, data + size};
  write_log(dir, &in);
  struct loom_vstore *s = NULL;
  struct loom_error e;
  if (loom_vstore_open(dir, NULL, &s, &e) != LOOM_OK)
    abort(); /* the log was valid: nothing to refuse */
  size_t before = use(s);
  loom_vstore_close(s); /* checkpoints: snapshots written, log emptied */
  char wal[128];
  struct stat st;
  snprintf(wal, sizeof wal, "%s/wal", dir);
  if (stat(wal, &st) != 0 || st.st_size != 0)
    abort(); /* the checkpoint failed: it would fail at every close */
  if (loom_vstore_open(dir, NULL, &s, &e) != LOOM_OK) {
    fprintf(stderr, "reopen: %s\n", e.message);
    abort();
  }
  if (use(s) != before)
    abort(); /* the checkpoint lost or invented vectors */
  loom_vstore_close(s);
  scratch_clear();
  return 0;
}
