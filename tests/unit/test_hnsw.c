/*
 * test_hnsw — what a user of the vector index notices: nearest neighbours
 * close to the exact answer, upserts that replace, deletes that stay gone,
 * filtered results that match a brute-force filtered scan (including very
 * selective filters), snapshots that reload the same index, and searches
 * running while another thread writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stores/hnsw.h"

enum { N = 2000, DIM = 24, K = 10 };

static uint64_t rng;
static float frand(void) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((rng >> 40) & 0xffffff) / 16777216.0f - 0.5f;
}

static float *random_vectors(size_t n, uint64_t seed) {
  rng = seed;
  float *v = malloc(n * DIM * sizeof *v);
  for (size_t i = 0; i < n * DIM; i++)
    v[i] = frand();
  return v;
}

static float dist(enum loom_metric m, const float *a, const float *b) {
  double ab = 0, aa = 0, bb = 0, l2 = 0;
  for (int i = 0; i < DIM; i++) {
    ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
    l2 += (a[i] - b[i]) * (a[i] - b[i]);
  }
  if (m == LOOM_METRIC_EUCLIDEAN)
    return (float)l2;
  if (m == LOOM_METRIC_DOT)
    return (float)-ab;
  return (float)(1 - ab / sqrt(aa * bb));
}

struct pred {
  const char *key;
  long long value;
};

static bool pred_cb(void *ud, const json_t *meta) {
  const struct pred *p = ud;
  json_t *v = meta ? json_object_get(meta, p->key) : NULL;
  return v && json_integer_value(v) == p->value;
}

/* Exact top-k ids (as indexes) among live items passing `p`. */
static size_t brute(enum loom_metric m, const float *base, size_t n,
                    const bool *dead, const json_t *const *meta,
                    const struct pred *p, const float *q, size_t *out) {
  size_t got = 0;
  float best[K];
  for (size_t i = 0; i < n; i++) {
    if (dead && dead[i])
      continue;
    if (p && !pred_cb((void *)p, meta[i]))
      continue;
    float d = dist(m, q, base + i * DIM);
    size_t j = got < K ? got++ : K;
    if (j == K && d >= best[K - 1])
      continue;
    if (j == K)
      j = K - 1;
    while (j > 0 && best[j - 1] > d) {
      best[j] = best[j - 1];
      out[j] = out[j - 1];
      j--;
    }
    best[j] = d;
    out[j] = i;
  }
  return got;
}

static struct loom_hnsw *build(enum loom_metric m, bool quantize,
                               const float *base, size_t n, json_t **meta) {
  struct loom_hnsw_params p = {.dim = DIM, .metric = m, .quantize = quantize};
  struct loom_hnsw *h;
  assert_int_equal(loom_hnsw_new(&p, &h, NULL), LOOM_OK);
  for (size_t i = 0; i < n; i++) {
    char id[24];
    snprintf(id, sizeof id, "v%zu", i);
    assert_int_equal(
        loom_hnsw_upsert(h, id, base + i * DIM, meta ? meta[i] : NULL, NULL),
        LOOM_OK);
  }
  return h;
}

static size_t id_index(struct loom_hnsw *h, uint32_t slot) {
  const char *id = loom_hnsw_slot_id(h, slot);
  assert_non_null(id);
  return (size_t)strtoul(id + 1, NULL, 10);
}

/* Mean recall@K over `nq` queries. */
static double recall(struct loom_hnsw *h, enum loom_metric m, const float *base,
                     const bool *dead, const json_t *const *meta,
                     const struct pred *p, const float *queries, size_t nq,
                     size_t ef) {
  size_t hit = 0, total = 0;
  for (size_t qi = 0; qi < nq; qi++) {
    const float *q = queries + qi * DIM;
    size_t truth[K];
    size_t nt = brute(m, base, N, dead, meta, p, q, truth);
    struct loom_hnsw_hit out[K];
    struct loom_hnsw_query query = {.vector = q,
                                    .k = K,
                                    .ef = ef,
                                    .filter = p ? pred_cb : NULL,
                                    .filter_ud = (void *)p};
    size_t n = loom_hnsw_search(h, &query, out);
    assert_int_equal(n, nt);
    for (size_t i = 0; i < n; i++) {
      size_t got = id_index(h, out[i].slot);
      if (dead)
        assert_false(dead[got]);
      if (p)
        assert_true(pred_cb((void *)p, meta[got]));
      for (size_t j = 0; j < nt; j++)
        hit += truth[j] == got;
    }
    total += nt;
  }
  return total ? (double)hit / total : 1.0;
}

static void recall_matches_brute_force(void **state) {
  (void)state;
  float *base = random_vectors(N, 1), *qs = random_vectors(100, 2);
  for (int m = 0; m <= LOOM_METRIC_EUCLIDEAN; m++) {
    for (int quant = 0; quant <= 1; quant++) {
      struct loom_hnsw *h = build(m, quant, base, N, NULL);
      assert_int_equal(loom_hnsw_count(h), N);
      double r = recall(h, m, base, NULL, NULL, NULL, qs, 100, 100);
      if (r < 0.95)
        fail_msg("metric %d quant %d recall %.3f", m, quant, r);
      loom_hnsw_free(h);
    }
  }
  free(base), free(qs);
}

struct seen {
  const char *id;
  float first;
  json_t *meta;
};

static void seen_cb(void *ud, const char *id, float d, const float *values,
                    const json_t *meta) {
  struct seen *s = ud;
  (void)d;
  s->id = id;
  s->first = values[0];
  s->meta = meta ? json_deep_copy(meta) : NULL;
}

static void upsert_replaces(void **state) {
  (void)state;
  float *base = random_vectors(N, 3);
  struct loom_hnsw *h = build(LOOM_METRIC_EUCLIDEAN, false, base, N, NULL);
  float far[DIM];
  for (int i = 0; i < DIM; i++)
    far[i] = 5.0f;
  json_t *meta = json_pack("{s:s}", "kind", "moved");
  assert_int_equal(loom_hnsw_upsert(h, "v7", far, meta, NULL), LOOM_OK);
  json_decref(meta);
  assert_int_equal(loom_hnsw_count(h), N);
  struct loom_hnsw_hit out[K];
  struct loom_hnsw_query q = {.vector = far, .k = K, .ef = 50};
  assert_true(loom_hnsw_search(h, &q, out) > 0);
  assert_string_equal(loom_hnsw_slot_id(h, out[0].slot), "v7");
  assert_float_equal(out[0].distance, 0.0f, 1e-5);
  q.vector = base + 7 * DIM; /* the old vector no longer finds v7 */
  size_t n = loom_hnsw_search(h, &q, out);
  for (size_t i = 0; i < n; i++)
    assert_string_not_equal(loom_hnsw_slot_id(h, out[i].slot), "v7");
  struct seen s = {0}; /* metadata came with the replacement */
  assert_true(loom_hnsw_get(h, "v7", seen_cb, &s));
  assert_string_equal(json_string_value(json_object_get(s.meta, "kind")),
                      "moved");
  json_decref(s.meta);
  loom_hnsw_free(h);
  free(base);
}

static void deletes_never_come_back(void **state) {
  (void)state;
  float *base = random_vectors(N, 4), *qs = random_vectors(100, 5);
  struct loom_hnsw *h = build(LOOM_METRIC_EUCLIDEAN, false, base, N, NULL);
  bool *dead = calloc(N, sizeof *dead);
  for (size_t i = 0; i < N; i += 2) {
    char id[16];
    snprintf(id, sizeof id, "v%zu", i);
    assert_true(loom_hnsw_delete(h, id));
    dead[i] = true;
  }
  assert_false(loom_hnsw_delete(h, "v0"));
  assert_int_equal(loom_hnsw_count(h), N / 2);
  double r =
      recall(h, LOOM_METRIC_EUCLIDEAN, base, dead, NULL, NULL, qs, 100, 100);
  if (r < 0.95)
    fail_msg("recall after deletes %.3f", r);
  /* Reinsert a quarter under the same ids (reusing tombstoned slots). */
  for (size_t i = 0; i < N; i += 4) {
    char id[16];
    snprintf(id, sizeof id, "v%zu", i);
    assert_int_equal(loom_hnsw_upsert(h, id, base + i * DIM, NULL, NULL),
                     LOOM_OK);
    dead[i] = false;
  }
  r = recall(h, LOOM_METRIC_EUCLIDEAN, base, dead, NULL, NULL, qs, 100, 100);
  if (r < 0.95)
    fail_msg("recall after reinsert %.3f", r);
  loom_hnsw_clear(h);
  assert_int_equal(loom_hnsw_count(h), 0);
  struct loom_hnsw_hit out[K];
  struct loom_hnsw_query q = {.vector = qs, .k = K, .ef = 50};
  assert_int_equal(loom_hnsw_search(h, &q, out), 0);
  loom_hnsw_free(h);
  free(base), free(qs), free(dead);
}

static void filtered_matches_filtered_scan(void **state) {
  (void)state;
  float *base = random_vectors(N, 6), *qs = random_vectors(50, 7);
  json_t **meta = malloc(N * sizeof *meta);
  for (size_t i = 0; i < N; i++)
    meta[i] = json_pack("{s:I,s:I}", "cat", (json_int_t)(i % 10), "rare",
                        (json_int_t)(i % 400 == 3));
  for (int quant = 0; quant <= 1; quant++) {
    struct loom_hnsw *h = build(LOOM_METRIC_COSINE, quant, base, N, meta);
    struct pred tenth = {"cat", 3}, rare = {"rare", 1}, none = {"cat", 99};
    double r = recall(h, LOOM_METRIC_COSINE, base, NULL,
                      (const json_t *const *)meta, &tenth, qs, 50, 100);
    if (r < 0.95)
      fail_msg("10%% filter recall %.3f", r);
    /* 5 matches in 2000: exact scan, so exactly the brute-force answer. */
    r = recall(h, LOOM_METRIC_COSINE, base, NULL, (const json_t *const *)meta,
               &rare, qs, 50, 100);
    assert_true(r == 1.0);
    r = recall(h, LOOM_METRIC_COSINE, base, NULL, (const json_t *const *)meta,
               &none, qs, 5, 100);
    assert_true(r == 1.0);
    loom_hnsw_free(h);
  }
  for (size_t i = 0; i < N; i++)
    json_decref(meta[i]);
  free(meta), free(base), free(qs);
}

static void update_values_and_metadata(void **state) {
  (void)state;
  float *base = random_vectors(N, 8);
  struct loom_hnsw *h = build(LOOM_METRIC_DOT, false, base, N, NULL);
  json_t *set = json_pack("{s:s,s:i}", "genre", "drama", "year", 2020);
  assert_int_equal(loom_hnsw_update(h, "v3", NULL, set, NULL), LOOM_OK);
  json_decref(set);
  set = json_pack("{s:i}", "year", 2021);
  float nv[DIM];
  for (int i = 0; i < DIM; i++)
    nv[i] = 0.25f;
  assert_int_equal(loom_hnsw_update(h, "v3", nv, set, NULL), LOOM_OK);
  json_decref(set);
  struct seen s = {0};
  assert_true(loom_hnsw_get(h, "v3", seen_cb, &s));
  assert_float_equal(s.first, 0.25f, 1e-6);
  assert_string_equal(json_string_value(json_object_get(s.meta, "genre")),
                      "drama");
  assert_int_equal(json_integer_value(json_object_get(s.meta, "year")), 2021);
  json_decref(s.meta);
  struct loom_error e;
  assert_int_equal(loom_hnsw_update(h, "nope", nv, NULL, &e),
                   LOOM_ERR_NOT_FOUND);
  assert_non_null(strstr(e.message, "nope"));
  assert_false(loom_hnsw_get(h, "nope", seen_cb, &s));
  loom_hnsw_free(h);
  free(base);
}

static void snapshot_reloads_same_index(void **state) {
  (void)state;
  float *base = random_vectors(N, 9), *qs = random_vectors(50, 10);
  json_t **meta = malloc(N * sizeof *meta);
  for (size_t i = 0; i < N; i++)
    meta[i] = json_pack("{s:I}", "cat", (json_int_t)(i % 10));
  char dir[] = "/tmp/loom-hnsw-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[64];
  snprintf(path, sizeof path, "%s/snap", dir);
  for (int quant = 0; quant <= 1; quant++) {
    struct loom_hnsw *h = build(LOOM_METRIC_EUCLIDEAN, quant, base, N, meta);
    assert_true(loom_hnsw_delete(h, "v5"));
    assert_int_equal(loom_hnsw_save(h, path, 42, NULL), LOOM_OK);
    struct loom_hnsw *g;
    uint64_t lsn = 0;
    assert_int_equal(loom_hnsw_load(path, &g, &lsn, NULL), LOOM_OK);
    assert_int_equal(lsn, 42);
    assert_int_equal(loom_hnsw_count(g), N - 1);
    for (size_t qi = 0; qi < 50; qi++) {
      struct loom_hnsw_hit a[K], b[K];
      struct loom_hnsw_query q = {.vector = qs + qi * DIM, .k = K, .ef = 64};
      size_t na = loom_hnsw_search(h, &q, a), nb = loom_hnsw_search(g, &q, b);
      assert_int_equal(na, nb);
      for (size_t i = 0; i < na; i++)
        assert_string_equal(loom_hnsw_slot_id(h, a[i].slot),
                            loom_hnsw_slot_id(g, b[i].slot));
    }
    struct seen s = {0};
    assert_false(loom_hnsw_get(g, "v5", seen_cb, &s));
    assert_true(loom_hnsw_get(g, "v6", seen_cb, &s));
    assert_int_equal(json_integer_value(json_object_get(s.meta, "cat")), 6);
    json_decref(s.meta);
    /* The mapped index keeps taking writes (it grows out of the map). */
    for (size_t i = 0; i < 500; i++) {
      char id[16];
      snprintf(id, sizeof id, "w%zu", i);
      assert_int_equal(loom_hnsw_upsert(g, id, qs + (i % 50) * DIM, NULL, NULL),
                       LOOM_OK);
    }
    assert_int_equal(loom_hnsw_count(g), N - 1 + 500);
    loom_hnsw_free(g);
    loom_hnsw_free(h);
  }
  unlink(path);
  rmdir(dir);
  struct loom_hnsw *g;
  uint64_t lsn;
  assert_int_equal(loom_hnsw_load(path, &g, &lsn, NULL), LOOM_ERR_NOT_FOUND);
  for (size_t i = 0; i < N; i++)
    json_decref(meta[i]);
  free(meta), free(base), free(qs);
}

/* The snapshot at `path` with `n` bytes at `off` replaced by `bytes`. */
static void patch_file(const char *path, long off, const void *bytes,
                       size_t n) {
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  assert_int_equal(fseek(f, off, SEEK_SET), 0);
  assert_int_equal(fwrite(bytes, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

/* Found by fuzz_vector_files. A snapshot whose links a bad disk changed
 * (a link past the last node) loaded and crashed the first search; now
 * it is refused as corrupt. A tombstone given metadata by a damaged file
 * leaked it when its slot was reused (seen under ASan). */
static void damaged_snapshots(void **state) {
  (void)state;
  float v[2 * DIM] = {0};
  v[0] = 1, v[DIM + 1] = 1;
  char dir[] = "/tmp/loom-hnsw-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[64];
  snprintf(path, sizeof path, "%s/snap", dir);
  struct loom_hnsw_params p = {.dim = DIM, .metric = LOOM_METRIC_EUCLIDEAN};
  struct loom_hnsw *h, *g;
  assert_int_equal(loom_hnsw_new(&p, &h, NULL), LOOM_OK);
  json_t *meta = json_pack("{s:i}", "a", 1);
  assert_int_equal(loom_hnsw_upsert(h, "a", v, meta, NULL), LOOM_OK);
  assert_int_equal(loom_hnsw_upsert(h, "b", v + DIM, NULL, NULL), LOOM_OK);
  json_decref(meta);
  assert_int_equal(loom_hnsw_save(h, path, 1, NULL), LOOM_OK);
  loom_hnsw_free(h);
  /* Header: level0_off at byte 80; slot 0's level-0 list starts there. */
  FILE *f = fopen(path, "rb");
  uint64_t level0_off;
  assert_int_equal(fseek(f, 80, SEEK_SET), 0);
  assert_int_equal(fread(&level0_off, 8, 1, f), 1);
  fclose(f);
  const uint32_t far[2] = {1, 1000}; /* one link, to slot 1000 of 2 */
  patch_file(path, (long)level0_off, far, sizeof far);
  uint64_t lsn;
  struct loom_error e;
  assert_int_equal(loom_hnsw_load(path, &g, &lsn, &e), LOOM_ERR_PARSE);
  assert_non_null(strstr(e.message, "corrupt"));
  /* Slot 0 ("a", with metadata) marked deleted: it loads, and the slot's
   * reuse frees nothing it should not and leaks nothing. */
  assert_int_equal(loom_hnsw_new(&p, &h, NULL), LOOM_OK);
  meta = json_pack("{s:i}", "a", 1);
  assert_int_equal(loom_hnsw_upsert(h, "a", v, meta, NULL), LOOM_OK);
  assert_int_equal(loom_hnsw_upsert(h, "b", v + DIM, NULL, NULL), LOOM_OK);
  json_decref(meta);
  assert_int_equal(loom_hnsw_save(h, path, 1, NULL), LOOM_OK);
  loom_hnsw_free(h);
  const uint8_t flags = 1 | 2; /* used, deleted */
  patch_file(path, 128, &flags, 1);
  assert_int_equal(loom_hnsw_load(path, &g, &lsn, NULL), LOOM_OK);
  assert_int_equal(loom_hnsw_count(g), 1);
  assert_int_equal(loom_hnsw_upsert(g, "c", v, NULL, NULL), LOOM_OK);
  assert_int_equal(loom_hnsw_count(g), 2);
  loom_hnsw_free(g);
  unlink(path);
  rmdir(dir);
}

struct reader_arg {
  struct loom_hnsw *h;
  const float *qs;
  volatile int *stop;
  size_t searches;
};

static void *reader_main(void *arg) {
  struct reader_arg *a = arg;
  struct loom_hnsw_hit out[K];
  while (!*a->stop) {
    struct loom_hnsw_query q = {
        .vector = a->qs + (a->searches % 50) * DIM, .k = K, .ef = 32};
    size_t n = loom_hnsw_search(a->h, &q, out);
    assert_true(n <= K);
    a->searches++;
  }
  return NULL;
}

static void reads_run_during_writes(void **state) {
  (void)state;
  float *base = random_vectors(N, 11), *qs = random_vectors(50, 12);
  struct loom_hnsw *h = build(LOOM_METRIC_EUCLIDEAN, false, base, 200, NULL);
  volatile int stop = 0;
  struct reader_arg ra = {h, qs, &stop, 0};
  pthread_t t;
  pthread_create(&t, NULL, reader_main, &ra);
  for (size_t i = 200; i < N; i++) {
    char id[16];
    snprintf(id, sizeof id, "v%zu", i);
    assert_int_equal(loom_hnsw_upsert(h, id, base + i * DIM, NULL, NULL),
                     LOOM_OK);
    if (i % 3 == 0) {
      snprintf(id, sizeof id, "v%zu", i - 100);
      loom_hnsw_delete(h, id);
    }
  }
  stop = 1;
  pthread_join(t, NULL);
  assert_true(ra.searches > 0);
  loom_hnsw_free(h);
  free(base), free(qs);
}

/*
 * A query does not wait for a whole insert: the neighbour search of an
 * insert runs under the read lock. With a huge ef_construction each insert
 * takes long; a reader must finish several searches during one upsert
 * call at least once (an insert holding the index exclusively allows at
 * most one or two).
 */
static void queries_finish_inside_one_insert(void **state) {
  (void)state;
  enum { BIG = 3000 };
  float *base = random_vectors(BIG, 21), *qs = random_vectors(50, 22);
  struct loom_hnsw_params p = {
      .dim = DIM, .metric = LOOM_METRIC_EUCLIDEAN, .ef_construction = 4096};
  struct loom_hnsw *h;
  assert_int_equal(loom_hnsw_new(&p, &h, NULL), LOOM_OK);
  for (size_t i = 0; i < BIG - 40; i++) {
    char id[16];
    snprintf(id, sizeof id, "v%zu", i);
    assert_int_equal(loom_hnsw_upsert(h, id, base + i * DIM, NULL, NULL),
                     LOOM_OK);
  }
  volatile int stop = 0;
  struct reader_arg ra = {h, qs, &stop, 0};
  pthread_t t;
  pthread_create(&t, NULL, reader_main, &ra);
  size_t best = 0;
  for (size_t i = BIG - 40; i < BIG; i++) {
    char id[16];
    snprintf(id, sizeof id, "v%zu", i);
    size_t before = *(volatile size_t *)&ra.searches;
    assert_int_equal(loom_hnsw_upsert(h, id, base + i * DIM, NULL, NULL),
                     LOOM_OK);
    size_t during = *(volatile size_t *)&ra.searches - before;
    best = during > best ? during : best;
  }
  stop = 1;
  pthread_join(t, NULL);
  if (best < 3)
    fail_msg("at most %zu searches finished during one insert", best);
  assert_int_equal(loom_hnsw_count(h), BIG);
  loom_hnsw_free(h);
  free(base), free(qs);
}

static void cosine_gives_values_back(void **state) {
  (void)state;
  struct loom_hnsw_params p = {.dim = 3, .metric = LOOM_METRIC_COSINE};
  struct loom_hnsw *h;
  assert_int_equal(loom_hnsw_new(&p, &h, NULL), LOOM_OK);
  float v[3] = {3, 4, 12}, w[3] = {-1, 0.5f, 2};
  assert_int_equal(loom_hnsw_upsert(h, "a", v, NULL, NULL), LOOM_OK);
  assert_int_equal(loom_hnsw_upsert(h, "b", w, NULL, NULL), LOOM_OK);
  struct seen s = {0};
  assert_true(loom_hnsw_get(h, "a", seen_cb, &s));
  assert_float_equal(s.first, 3.0f, 1e-5);
  struct loom_hnsw_query q = {.vector = w, .k = 1, .ef = 10};
  assert_int_equal(loom_hnsw_query(h, &q, seen_cb, &s), 1);
  assert_string_equal(s.id, "b");
  assert_float_equal(s.first, -1.0f, 1e-5);
  loom_hnsw_free(h);
}

static void rejects_bad_input(void **state) {
  (void)state;
  struct loom_error e;
  struct loom_hnsw *h;
  struct loom_hnsw_params p = {.dim = 0, .metric = LOOM_METRIC_COSINE};
  assert_int_equal(loom_hnsw_new(&p, &h, &e), LOOM_ERR_INVALID);
  assert_non_null(strstr(e.message, "dimension"));
  p.dim = 3;
  assert_int_equal(loom_hnsw_new(&p, &h, &e), LOOM_OK);
  float zero[3] = {0, 0, 0}, nan3[3] = {1, NAN, 0}, ok[3] = {1, 0, 0};
  assert_int_equal(loom_hnsw_upsert(h, "z", zero, NULL, &e), LOOM_ERR_INVALID);
  assert_int_equal(loom_hnsw_upsert(h, "n", nan3, NULL, &e), LOOM_ERR_INVALID);
  assert_non_null(strstr(e.message, "finite"));
  assert_int_equal(loom_hnsw_upsert(h, "", ok, NULL, &e), LOOM_ERR_INVALID);
  assert_int_equal(loom_hnsw_count(h), 0);
  loom_hnsw_free(h);
}

/* The int8 walk quantizes every vector (and every query) over its own
 * range. A scale below FLT_MIN (values like 1e-38) made the scale's
 * inverse inf and the values NaN, cast to int (UBSan); a squared length
 * past the float range made distances NaN, so such vectors are refused. */
static void quantized_walk_takes_tiny_ranges(void **state) {
  (void)state;
  struct loom_hnsw_params p = {
      .dim = 3, .metric = LOOM_METRIC_EUCLIDEAN, .quantize = true};
  struct loom_hnsw *h;
  struct loom_error e;
  assert_int_equal(loom_hnsw_new(&p, &h, NULL), LOOM_OK);
  float tiny[3] = {0, 1e-38f, 2e-38f}, far[3] = {5, 5, 5};
  assert_int_equal(loom_hnsw_upsert(h, "tiny", tiny, NULL, &e), LOOM_OK);
  assert_int_equal(loom_hnsw_upsert(h, "far", far, NULL, &e), LOOM_OK);
  struct seen s = {0};
  struct loom_hnsw_query q = {.vector = tiny, .k = 2, .ef = 10};
  assert_int_equal(loom_hnsw_query(h, &q, seen_cb, &s), 2);
  float huge[3] = {3e38f, -3e38f, 0};
  assert_int_equal(loom_hnsw_upsert(h, "huge", huge, NULL, &e),
                   LOOM_ERR_INVALID);
  assert_non_null(strstr(e.message, "too large"));
  assert_int_equal(loom_hnsw_count(h), 2);
  loom_hnsw_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(recall_matches_brute_force),
      cmocka_unit_test(upsert_replaces),
      cmocka_unit_test(deletes_never_come_back),
      cmocka_unit_test(filtered_matches_filtered_scan),
      cmocka_unit_test(update_values_and_metadata),
      cmocka_unit_test(snapshot_reloads_same_index),
      cmocka_unit_test(damaged_snapshots),
      cmocka_unit_test(reads_run_during_writes),
      cmocka_unit_test(queries_finish_inside_one_insert),
      cmocka_unit_test(cosine_gives_values_back),
      cmocka_unit_test(rejects_bad_input),
      cmocka_unit_test(quantized_walk_takes_tiny_ranges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
