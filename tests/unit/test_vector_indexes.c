/*
 * test_vector_indexes — the table of named indexes under steady query
 * load, as a Pinecone client sees it: creating or deleting an index
 * finishes promptly while other threads keep querying (a table lock held
 * by overlapping queries must not starve it), deleting the index a
 * request is using waits for that request and no longer (and new requests
 * no longer find it), and settings changed while a request reads them
 * leave that request's copy intact. Opening loads nothing: an index is
 * loaded by its first request, once however many ask at the same time,
 * and one whose files are corrupt fails alone, with a message naming it,
 * until its files are fixed (no reopen needed); it can still be deleted.
 * A failed load is not retried within its backoff window (1 s, doubling
 * to 60 s), read on a clock the tests step by hand. An index made on disk
 * after the table was listed (loom ingest beside loom serve) is found by
 * the first request naming it; a delete is never undone by such lookups.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "stores/vector_indexes.h"
#include "tmp_dir.h"

enum { DIM = 32, VECTORS = 2000, READERS = 4 };

/* What a create or delete may take with queries running (it takes
 * milliseconds; a starved one waits until the queries stop). */
#define BOUND_S 2.0
/* The readers stop by themselves after this long, so a starved writer
 * ends the test instead of hanging it. */
#define READERS_MAX_S 8.0

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void vec(uint32_t seed, float *v) {
  for (int i = 0; i < DIM; i++) {
    seed = seed * 1103515245u + 12345u;
    v[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
  }
}

/* Index `name` with VECTORS vectors. */
static void fill(struct loom_vindexes *ix, const char *name) {
  struct loom_vstore_params p = {.dim = DIM, .metric = LOOM_METRIC_COSINE};
  struct loom_error e;
  if (loom_vindexes_create(ix, name, &p, NULL, &e))
    fail_msg("%s", e.message);
  struct loom_vstore *s = loom_vindexes_acquire(ix, name, NULL, NULL);
  assert_non_null(s);
  static float vals[100][DIM];
  char ids[100][16];
  struct loom_vrecord recs[100];
  for (int b = 0; b < VECTORS / 100; b++) {
    for (int i = 0; i < 100; i++) {
      snprintf(ids[i], sizeof ids[i], "v%d", b * 100 + i);
      vec((uint32_t)(b * 100 + i + 1), vals[i]);
      recs[i] = (struct loom_vrecord){ids[i], vals[i], NULL};
    }
    if (loom_vstore_upsert(s, "", recs, 100, &e))
      fail_msg("%s", e.message);
  }
  loom_vindexes_release(ix, s);
}

struct load {
  struct loom_vindexes *ix;
  const char *name;
  atomic_bool stop;
  atomic_long queries, answered;
  double until;
};

static void count_cb(void *ud, const char *id, float d, const float *v,
                     const json_t *meta) {
  (void)id, (void)d, (void)v, (void)meta;
  (*(int *)ud)++;
}

/* One query thread: acquire, query, release, again, as the data plane
 * does for each request, until told to stop (or READERS_MAX_S). */
static void *reader(void *arg) {
  struct load *l = arg;
  float q[DIM];
  uint32_t seed = (uint32_t)(uintptr_t)&q;
  while (!atomic_load(&l->stop) && now_s() < l->until) {
    vec(seed++, q);
    struct loom_vstore *s = loom_vindexes_acquire(l->ix, l->name, NULL, NULL);
    if (s) {
      int n = 0;
      struct loom_hnsw_query hq = {.vector = q, .k = 10, .ef = 64};
      loom_vstore_query(s, "", &hq, count_cb, &n);
      loom_vindexes_release(l->ix, s);
      atomic_fetch_add(&l->answered, n == 10);
    }
    atomic_fetch_add(&l->queries, 1);
  }
  return NULL;
}

static void start_load(struct load *l, pthread_t *t) {
  l->until = now_s() + READERS_MAX_S;
  for (int i = 0; i < READERS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, reader, l), 0);
  /* Let the queries get going. */
  while (atomic_load(&l->queries) < 50 * READERS)
    usleep(1000);
}

static void stop_load(struct load *l, pthread_t *t) {
  atomic_store(&l->stop, true);
  for (int i = 0; i < READERS; i++)
    pthread_join(t[i], NULL);
}

/* A table over a fresh directory (*dir); undo with table_done. */
static struct loom_vindexes *table_new(char **dir) {
  *dir = tmp_dir_new("loom-vindexes");
  struct loom_vindexes *ix;
  struct loom_error e;
  if (loom_vindexes_open(*dir, &ix, &e) != LOOM_OK)
    fail_msg("open: %s", e.message);
  return ix;
}

static void table_done(struct loom_vindexes *ix, char *dir) {
  loom_vindexes_close(ix);
  tmp_dir_remove(dir);
  free(dir);
}

/* Creating and deleting other indexes while four threads query one. */
static void create_delete_under_queries(void **state) {
  (void)state;
  char *dir;
  struct loom_vindexes *ix = table_new(&dir);
  struct loom_error e;
  fill(ix, "busy");
  struct load l = {.ix = ix, .name = "busy"};
  pthread_t t[READERS];
  start_load(&l, t);

  struct loom_vstore_params p = {.dim = DIM, .metric = LOOM_METRIC_COSINE};
  double t0 = now_s();
  loom_err err = loom_vindexes_create(ix, "other", &p, NULL, &e);
  double created = now_s() - t0;
  t0 = now_s();
  loom_err derr = err ? err : loom_vindexes_delete(ix, "other", &e);
  double deleted = now_s() - t0;
  long during = atomic_load(&l.queries);
  stop_load(&l, t);

  assert_int_equal(err, LOOM_OK);
  assert_int_equal(derr, LOOM_OK);
  if (created > BOUND_S || deleted > BOUND_S)
    fail_msg("with %d threads querying, create took %.2f s and delete "
             "%.2f s (bound %.1f s)",
             READERS, created, deleted, BOUND_S);
  /* The queries went on and were answered all along. */
  assert_true(during > 50 * READERS);
  assert_int_equal(atomic_load(&l.answered), atomic_load(&l.queries));
  assert_null(loom_vindexes_acquire(ix, "other", NULL, NULL));
  table_done(ix, dir);
}

/* Deleting the index the queries use: it finishes promptly, and the
 * queries after it find no index. */
static void delete_busy_index(void **state) {
  (void)state;
  char *dir;
  struct loom_vindexes *ix = table_new(&dir);
  struct loom_error e;
  fill(ix, "busy");
  struct load l = {.ix = ix, .name = "busy"};
  pthread_t t[READERS];
  start_load(&l, t);
  double t0 = now_s();
  loom_err err = loom_vindexes_delete(ix, "busy", &e);
  double took = now_s() - t0;
  long before = atomic_load(&l.queries);
  while (atomic_load(&l.queries) < before + 10 * READERS && now_s() < l.until)
    usleep(1000);
  long answered = atomic_load(&l.answered);
  usleep(20000);
  stop_load(&l, t);
  assert_int_equal(err, LOOM_OK);
  if (took > BOUND_S)
    fail_msg("deleting the queried index took %.2f s (bound %.1f s)", took,
             BOUND_S);
  /* Nothing answered once the delete returned: no index any more. */
  assert_int_equal(atomic_load(&l.answered), answered);
  assert_null(loom_vindexes_acquire(ix, "busy", NULL, NULL));
  char *sub = loom_asprintf("%s/busy", dir);
  assert_int_not_equal(access(sub, F_OK), 0);
  loom_free(sub);
  table_done(ix, dir);
}

struct deleter {
  struct loom_vindexes *ix;
  const char *name;
  atomic_bool done;
  loom_err err;
};

static void *delete_thread(void *arg) {
  struct deleter *d = arg;
  struct loom_error e;
  d->err = loom_vindexes_delete(d->ix, d->name, &e);
  atomic_store(&d->done, true);
  return NULL;
}

/* A request holding an index (a long ingest, say): deleting that index
 * waits for it, the request can still use its index meanwhile, and other
 * indexes are created and deleted without waiting. */
static void delete_waits_for_its_request_only(void **state) {
  (void)state;
  char *dir;
  struct loom_vindexes *ix = table_new(&dir);
  struct loom_error e;
  fill(ix, "held");
  struct loom_vstore *s = loom_vindexes_acquire(ix, "held", NULL, NULL);
  assert_non_null(s);
  struct deleter d = {.ix = ix, .name = "held"};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, delete_thread, &d), 0);
  /* New requests no longer find it... */
  while (loom_vindexes_acquire(ix, "held", NULL, NULL) == s) {
    loom_vindexes_release(ix, s);
    usleep(1000);
  }
  /* ...other indexes come and go meanwhile... */
  struct loom_vstore_params p = {.dim = DIM, .metric = LOOM_METRIC_COSINE};
  double t0 = now_s();
  assert_int_equal(loom_vindexes_create(ix, "other", &p, NULL, &e), LOOM_OK);
  assert_int_equal(loom_vindexes_delete(ix, "other", &e), LOOM_OK);
  assert_true(now_s() - t0 < BOUND_S);
  /* ...and the held index still answers its request. */
  usleep(100000);
  assert_false(atomic_load(&d.done));
  float q[DIM];
  vec(7, q);
  int n = 0;
  struct loom_hnsw_query hq = {.vector = q, .k = 5, .ef = 32};
  loom_vstore_query(s, "", &hq, count_cb, &n);
  assert_int_equal(n, 5);
  loom_vindexes_release(ix, s);
  t0 = now_s();
  pthread_join(t, NULL);
  assert_true(now_s() - t0 < BOUND_S);
  assert_int_equal(d.err, LOOM_OK);
  assert_int_equal(loom_vindexes_delete(ix, "held", &e), LOOM_ERR_NOT_FOUND);
  table_done(ix, dir);
}

/* Settings read by a request stay as they were when it started; the next
 * request sees the new ones, which survive a reopen. */
static void configure_while_read(void **state) {
  (void)state;
  char *dir;
  struct loom_vindexes *ix = table_new(&dir);
  struct loom_error e;
  struct loom_vstore_params p = {.dim = DIM, .metric = LOOM_METRIC_COSINE};
  json_t *info = json_pack("{s:s}", "deletion_protection", "enabled");
  assert_int_equal(loom_vindexes_create(ix, "cfg", &p, info, &e), LOOM_OK);
  json_decref(info);
  json_t *seen;
  struct loom_vstore *s = loom_vindexes_acquire(ix, "cfg", &seen, NULL);
  assert_non_null(s);
  json_t *change = json_pack("{s:s,s:{s:s}}", "deletion_protection", "disabled",
                             "tags", "team", "search");
  assert_int_equal(loom_vindexes_configure(ix, "cfg", change, &e), LOOM_OK);
  json_decref(change);
  assert_string_equal(
      json_string_value(json_object_get(seen, "deletion_protection")),
      "enabled");
  assert_null(json_object_get(seen, "tags"));
  loom_vindexes_release(ix, s);
  json_decref(seen);
  loom_vindexes_close(ix);
  assert_int_equal(loom_vindexes_open(dir, &ix, &e), LOOM_OK);
  s = loom_vindexes_acquire(ix, "cfg", &seen, NULL);
  assert_non_null(s);
  assert_string_equal(
      json_string_value(json_object_get(seen, "deletion_protection")),
      "disabled");
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(seen, "tags"), "team")),
      "search");
  loom_vindexes_release(ix, s);
  json_decref(seen);
  table_done(ix, dir);
}

/* A new namespace and dropping one (deleteAll) in the index the queries
 * use: both finish promptly, and so does the write after them. */
static void namespaces_under_queries(void **state) {
  (void)state;
  char *dir;
  struct loom_vindexes *ix = table_new(&dir);
  struct loom_error e;
  fill(ix, "busy");
  struct load l = {.ix = ix, .name = "busy"};
  pthread_t t[READERS];
  start_load(&l, t);
  struct loom_vstore *s = loom_vindexes_acquire(ix, "busy", NULL, NULL);
  float v[DIM];
  vec(99, v);
  struct loom_vrecord r = {"n1", v, NULL};
  double t0 = now_s();
  loom_err err = loom_vstore_upsert(s, "fresh", &r, 1, &e);
  double added = now_s() - t0;
  t0 = now_s();
  loom_err derr = err ? err : loom_vstore_delete_all(s, "fresh", &e);
  double dropped = now_s() - t0;
  t0 = now_s();
  loom_err uerr = derr ? derr : loom_vstore_upsert(s, "", &r, 1, &e);
  double wrote = now_s() - t0;
  loom_vindexes_release(ix, s);
  stop_load(&l, t);
  assert_int_equal(uerr, LOOM_OK);
  if (added > BOUND_S || dropped > BOUND_S || wrote > BOUND_S)
    fail_msg("with %d threads querying, a new namespace took %.2f s, "
             "dropping it %.2f s and the next write %.2f s (bound %.1f s)",
             READERS, added, dropped, wrote, BOUND_S);
  assert_int_equal(atomic_load(&l.answered), atomic_load(&l.queries));
  table_done(ix, dir);
}

/* Writes `text` over DIR/NAME/FILE (or with text NULL, removes it). */
static void put_file(const char *dir, const char *name, const char *file,
                     const char *text) {
  char *path = loom_asprintf("%s/%s/%s", dir, name, file);
  if (text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
  } else {
    assert_int_equal(unlink(path), 0);
  }
  loom_free(path);
}

/* The bytes of `path` (free()), *len their count. */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  rewind(f);
  char *b = malloc(*len ? *len : 1);
  assert_int_equal(fread(b, 1, *len, f), *len);
  fclose(f);
  return b;
}

/* Writes `len` bytes over `path`. */
static void put_bytes(const char *path, const char *bytes, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(bytes, 1, len, f), len);
  fclose(f);
}

static bool dir_exists(const char *dir, const char *name) {
  char *path = loom_asprintf("%s/%s", dir, name);
  bool there = access(path, F_OK) == 0;
  loom_free(path);
  return there;
}

/* How many of the ten nearest `ix`'s index `name` answers (-1: none). */
static int query10(struct loom_vindexes *ix, const char *name) {
  struct loom_vstore *s = loom_vindexes_acquire(ix, name, NULL, NULL);
  if (!s)
    return -1;
  float q[DIM];
  vec(3, q);
  int n = 0;
  struct loom_hnsw_query hq = {.vector = q, .k = 10, .ef = 64};
  loom_vstore_query(s, "", &hq, count_cb, &n);
  loom_vindexes_release(ix, s);
  return n;
}

/* The clock of the backoff in the tests that set it: stepped by hand. */
static _Atomic uint64_t fake_ns = 1000000000000ull;

static uint64_t fake_now(void) { return atomic_load(&fake_ns); }

static void step_ms(uint64_t ms) {
  atomic_fetch_add(&fake_ns, ms * 1000000ull);
}

/* Checks that index `name` is listed, failed, and that acquiring it
 * says it could not be opened and why (`why` a part of the message). */
static void assert_fails(struct loom_vindexes *ix, const char *name,
                         const char *why) {
  struct loom_error e = {0};
  assert_null(loom_vindexes_acquire(ix, name, NULL, &e));
  assert_int_equal(e.code, LOOM_ERR_UNAVAILABLE);
  char want[64];
  snprintf(want, sizeof want, "index '%s' could not be opened: ", name);
  if (!strstr(e.message, want) || !strstr(e.message, why))
    fail_msg("acquire %s: %s", name, e.message);
  struct loom_vindex_desc d;
  assert_int_equal(loom_vindexes_describe(ix, name, &d, &e), LOOM_OK);
  json_decref(d.info);
  assert_false(d.loaded);
  assert_non_null(strstr(d.error, why));
}

/* Fills the indexes of a new table in `dir` and closes it. */
static void make_indexes(const char *dir, const char *const *names, int n) {
  struct loom_vindexes *ix;
  struct loom_error e;
  assert_int_equal(loom_vindexes_open(dir, &ix, &e), LOOM_OK);
  for (int i = 0; i < n; i++)
    fill(ix, names[i]);
  loom_vindexes_close(ix);
}

/* A corrupt snapshot and an unreadable config.json next to good indexes:
 * the table opens, lists all four without loading any, the good one
 * answers, the broken ones fail alone saying why; fixing the files is
 * enough for the next request; a failed or never-loaded index deletes. */
static void corrupt_index_fails_alone(void **state) {
  (void)state;
  char *dir = tmp_dir_new("loom-vindexes");
  static const char *const names[] = {"good", "bad", "noconf", "idle"};
  make_indexes(dir, names, 4);
  char *snap = loom_asprintf("%s/bad/ns-.snap", dir);
  size_t len;
  char *saved = slurp(snap, &len);
  put_file(dir, "bad", "ns-.snap", "garbage");
  put_file(dir, "noconf", "config.json", "{\"dimension\": ");

  struct loom_vindexes *ix;
  struct loom_error e;
  assert_int_equal(loom_vindexes_open(dir, &ix, &e), LOOM_OK);
  loom_vindexes_set_clock(ix, fake_now);
  struct loom_vindex_desc d;
  for (int i = 0; i < 4; i++) {
    assert_int_equal(loom_vindexes_describe(ix, names[i], &d, &e), LOOM_OK);
    json_decref(d.info);
    assert_false(d.loaded); /* nothing loaded by opening */
    assert_int_equal(d.has_params, i != 2);
  }
  assert_int_equal(query10(ix, "good"), 10);
  assert_int_equal(loom_vindexes_describe(ix, "good", &d, &e), LOOM_OK);
  json_decref(d.info);
  assert_true(d.loaded);
  assert_fails(ix, "bad", "ns-.snap");
  assert_fails(ix, "noconf", "config.json");
  assert_int_equal(query10(ix, "good"), 10); /* still serving */

  /* Fixed on disk: the first request after the backoff window loads it,
   * no reopen. */
  put_bytes(snap, saved, len);
  step_ms(LOOM_VINDEX_RETRY_MIN_MS);
  assert_int_equal(query10(ix, "bad"), 10);

  /* A failed index and a never-loaded one delete like any other. */
  assert_int_equal(loom_vindexes_delete(ix, "noconf", &e), LOOM_OK);
  assert_int_equal(loom_vindexes_delete(ix, "idle", &e), LOOM_OK);
  assert_false(dir_exists(dir, "noconf"));
  assert_false(dir_exists(dir, "idle"));
  assert_int_equal(loom_vindexes_describe(ix, "noconf", &d, &e),
                   LOOM_ERR_NOT_FOUND);
  loom_vindexes_close(ix);
  free(saved);
  loom_free(snap);
  tmp_dir_remove(dir);
  free(dir);
}

/* Milliseconds until index `name` is tried again, as described. */
static uint64_t retry_in(struct loom_vindexes *ix, const char *name) {
  struct loom_vindex_desc d;
  struct loom_error e;
  assert_int_equal(loom_vindexes_describe(ix, name, &d, &e), LOOM_OK);
  json_decref(d.info);
  assert_false(d.loaded);
  return d.retry_in_ms;
}

/* A client hammering a corrupt index: the failed load is not retried
 * within its window, which starts at 1 s and doubles per consecutive
 * failure up to 60 s; the message says when the next attempt is. Files
 * fixed within a window are not seen until it ends (nothing is read
 * meanwhile), then the first request loads them. */
static void failed_load_backs_off(void **state) {
  (void)state;
  char *dir = tmp_dir_new("loom-vindexes");
  static const char *const names[] = {"bad"};
  make_indexes(dir, names, 1);
  char *snap = loom_asprintf("%s/bad/ns-.snap", dir);
  size_t len;
  char *saved = slurp(snap, &len);
  put_file(dir, "bad", "ns-.snap", "garbage");
  struct loom_vindexes *ix;
  struct loom_error e;
  assert_int_equal(loom_vindexes_open(dir, &ix, &e), LOOM_OK);
  loom_vindexes_set_clock(ix, fake_now);
  assert_int_equal(retry_in(ix, "bad"), 0); /* never tried: the first loads */
  assert_fails(ix, "bad", "ns-.snap");
  assert_int_equal(retry_in(ix, "bad"), LOOM_VINDEX_RETRY_MIN_MS);
  step_ms(400);
  assert_null(loom_vindexes_acquire(ix, "bad", NULL, &e));
  assert_non_null(strstr(e.message, "(next attempt in 0.6 s)"));
  /* Each failure after a window doubles the next one, up to the cap. */
  static const uint64_t windows[] = {2000,  4000,  8000, 16000,
                                     32000, 60000, 60000};
  step_ms(600);
  for (size_t i = 0; i < sizeof windows / sizeof windows[0]; i++) {
    assert_fails(ix, "bad", "ns-.snap");
    assert_int_equal(retry_in(ix, "bad"), windows[i]);
    step_ms(windows[i]);
  }
  assert_fails(ix, "bad", "ns-.snap");
  /* Fixed, but within the window: the kept reason, files not read. */
  put_bytes(snap, saved, len);
  step_ms(LOOM_VINDEX_RETRY_MAX_MS - 1);
  assert_int_equal(query10(ix, "bad"), -1);
  step_ms(1);
  assert_int_equal(query10(ix, "bad"), 10);
  loom_vindexes_close(ix);
  free(saved);
  loom_free(snap);
  tmp_dir_remove(dir);
  free(dir);
}

/* A one-shot table (a command's): the failure says why, and no "next
 * attempt" its process will not make; a server's table says when. */
static void one_shot_promises_no_retry(void **state) {
  (void)state;
  char *dir = tmp_dir_new("loom-vindexes");
  static const char *const names[] = {"bad"};
  make_indexes(dir, names, 1);
  put_file(dir, "bad", "ns-.snap", "garbage");
  for (int one_shot = 0; one_shot < 2; one_shot++) {
    struct loom_vindexes *ix;
    struct loom_error e;
    assert_int_equal(loom_vindexes_open(dir, &ix, &e), LOOM_OK);
    if (one_shot)
      loom_vindexes_set_one_shot(ix);
    assert_fails(ix, "bad", "ns-.snap");
    assert_null(loom_vindexes_acquire(ix, "bad", NULL, &e)); /* kept */
    assert_int_equal(strstr(e.message, "(next attempt in ") == NULL, one_shot);
    loom_vindexes_close(ix);
  }
  tmp_dir_remove(dir);
  free(dir);
}

/* The settings key `key` of index `name` as described, as text ("" when
 * absent); `has_params` receives whether config.json was read. */
static char *shape_of(struct loom_vindexes *ix, const char *name,
                      const char *key, bool *has_params) {
  struct loom_vindex_desc d;
  struct loom_error e;
  assert_int_equal(loom_vindexes_describe(ix, name, &d, &e), LOOM_OK);
  *has_params = d.has_params;
  json_t *v = json_object_get(d.info, key);
  char *text = v ? json_dumps(v, JSON_ENCODE_ANY) : strdup("");
  json_decref(d.info);
  return text;
}

/* config.json lost and info.json without a shape (an index made before
 * info.json kept it): the dimension and metric come from a snapshot's
 * header, so the index is described with the shape it was built with;
 * with no valid snapshot either, the shape stays unknown. */
static void shape_from_snapshot(void **state) {
  (void)state;
  char *dir;
  struct loom_vindexes *ix = table_new(&dir);
  struct loom_error e;
  struct loom_vstore_params p = {.dim = 5, .metric = LOOM_METRIC_EUCLIDEAN};
  assert_int_equal(loom_vindexes_create(ix, "old", &p, NULL, &e), LOOM_OK);
  assert_int_equal(loom_vindexes_create(ix, "empty", &p, NULL, &e), LOOM_OK);
  struct loom_vstore *s = loom_vindexes_acquire(ix, "old", NULL, &e);
  assert_non_null(s);
  float v[5] = {1, 2, 3, 4, 5};
  struct loom_vrecord r = {"a", v, NULL};
  assert_int_equal(loom_vstore_upsert(s, "books", &r, 1, &e), LOOM_OK);
  loom_vindexes_release(ix, s);
  loom_vindexes_close(ix); /* checkpoints: old gets ns-<books>.snap */
  for (int i = 0; i < 2; i++) {
    const char *name = i ? "empty" : "old";
    put_file(dir, name, "config.json", "{garbage");
    put_file(dir, name, "info.json", "{\"deletion_protection\": \"disabled\"}");
  }
  put_file(dir, "empty", "ns-.snap", "garbage"); /* no header: no shape */
  assert_int_equal(loom_vindexes_open(dir, &ix, &e), LOOM_OK);
  bool has_params;
  char *dim = shape_of(ix, "old", "dimension", &has_params);
  char *metric = shape_of(ix, "old", "metric", &has_params);
  assert_false(has_params);
  assert_string_equal(dim, "5");
  assert_string_equal(metric, "\"euclidean\"");
  free(dim), free(metric);
  dim = shape_of(ix, "empty", "dimension", &has_params);
  metric = shape_of(ix, "empty", "metric", &has_params);
  assert_string_equal(dim, "");
  assert_string_equal(metric, "");
  free(dim), free(metric);
  assert_fails(ix, "old", "config.json");
  table_done(ix, dir);
}

enum { RACERS = 8 };

struct race {
  struct loom_vindexes *ix;
  const char *name;
  pthread_barrier_t go;
  struct loom_vstore *got[RACERS];
  struct loom_error err[RACERS];
  atomic_int next;
};

static void *racer(void *arg) {
  struct race *r = arg;
  int i = atomic_fetch_add(&r->next, 1);
  pthread_barrier_wait(&r->go);
  r->got[i] = loom_vindexes_acquire(r->ix, r->name, NULL, &r->err[i]);
  return NULL;
}

/* RACERS threads acquire `name` at once; returns after all did. */
static void race(struct race *r) {
  pthread_t t[RACERS];
  atomic_init(&r->next, 0);
  pthread_barrier_init(&r->go, NULL, RACERS);
  for (int i = 0; i < RACERS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, racer, r), 0);
  for (int i = 0; i < RACERS; i++)
    pthread_join(t[i], NULL);
  pthread_barrier_destroy(&r->go);
}

/* Eight first requests at the same moment share one load: each gets the
 * same store (two loads would give two); eight at a corrupt index all
 * get its error. */
static void first_acquires_load_once(void **state) {
  (void)state;
  char *dir = tmp_dir_new("loom-vindexes");
  static const char *const names[] = {"big", "bad"};
  make_indexes(dir, names, 2);
  put_file(dir, "bad", "ns-.snap", "garbage");
  struct loom_vindexes *ix;
  struct loom_error e;
  assert_int_equal(loom_vindexes_open(dir, &ix, &e), LOOM_OK);
  struct race r = {.ix = ix, .name = "big"};
  race(&r);
  for (int i = 0; i < RACERS; i++) {
    assert_non_null(r.got[i]);
    assert_ptr_equal(r.got[i], r.got[0]);
  }
  assert_int_equal(query10(ix, "big"), 10);
  for (int i = 0; i < RACERS; i++)
    loom_vindexes_release(ix, r.got[i]);
  struct race b = {.ix = ix, .name = "bad"};
  race(&b);
  for (int i = 0; i < RACERS; i++) {
    assert_null(b.got[i]);
    assert_non_null(strstr(b.err[i].message, "index 'bad' could not be"));
  }
  /* No pin left behind by the failures: the delete does not wait. */
  assert_int_equal(loom_vindexes_delete(ix, "bad", &e), LOOM_OK);
  assert_int_equal(loom_vindexes_delete(ix, "big", &e), LOOM_OK);
  table_done(ix, dir);
}

/* Whether index `name` is loaded, and why its last load failed. */
static bool loaded(struct loom_vindexes *ix, const char *name, char *why) {
  struct loom_vindex_desc d;
  struct loom_error e;
  assert_int_equal(loom_vindexes_describe(ix, name, &d, &e), LOOM_OK);
  json_decref(d.info);
  strcpy(why, d.error);
  return d.loaded;
}

/* Warming loads every index on its own thread, with no request asking;
 * one that cannot load is left failed, the others served; closing while
 * it runs waits for it. */
static void warm_loads_in_background(void **state) {
  (void)state;
  char *dir = tmp_dir_new("loom-vindexes");
  static const char *const names[] = {"one", "two", "broken"};
  make_indexes(dir, names, 3);
  put_file(dir, "broken", "ns-.snap", "garbage");
  struct loom_vindexes *ix;
  struct loom_error e;
  assert_int_equal(loom_vindexes_open(dir, &ix, &e), LOOM_OK);
  char why[400];
  assert_false(loaded(ix, "one", why));
  loom_vindexes_warm(ix);
  for (int tries = 0;
       tries < 500 && !(loaded(ix, "one", why) && loaded(ix, "two", why) &&
                        (loaded(ix, "broken", why), *why));
       tries++)
    usleep(10000);
  assert_true(loaded(ix, "one", why));
  assert_true(loaded(ix, "two", why));
  assert_false(loaded(ix, "broken", why));
  assert_non_null(strstr(why, "ns-.snap"));
  loom_vindexes_close(ix);
  /* Closed at once after starting: joins the warmer, whatever it did. */
  assert_int_equal(loom_vindexes_open(dir, &ix, &e), LOOM_OK);
  loom_vindexes_warm(ix);
  table_done(ix, dir);
}

/* Whether `ix` finds index `name` (acquire, then release). */
static bool finds(struct loom_vindexes *ix, const char *name) {
  struct loom_error e = {0};
  struct loom_vstore *s = loom_vindexes_acquire(ix, name, NULL, &e);
  if (s)
    loom_vindexes_release(ix, s);
  else
    assert_int_equal(e.code, LOOM_ERR_NOT_FOUND);
  return s != NULL;
}

/* each's callback: appends the index's name and ',' to `ud`. */
static void names_cb(void *ud, const struct loom_vindex_desc *d) {
  strcat((char *)ud, d->name);
  strcat((char *)ud, ",");
}

/* A server's table and an index made on disk after it was listed (by
 * another table, as loom ingest beside loom serve does): a request that
 * names it finds it and gets its vectors, with no reopen; describe and
 * delete find one too. A name just found absent is not looked for again
 * within LOOM_VINDEX_RESCAN_MS, so repeated requests for a name that does
 * not exist do not each read the disk. */
static void index_made_elsewhere_is_found(void **state) {
  (void)state;
  char *dir;
  struct loom_vindexes *ix = table_new(&dir), *other;
  loom_vindexes_set_clock(ix, fake_now);
  struct loom_error e;
  assert_false(finds(ix, "late"));
  assert_int_equal(loom_vindexes_open(dir, &other, &e), LOOM_OK);
  fill(other, "late");
  fill(other, "later");
  loom_vindexes_close(other); /* releases the stores' locks */
  /* Just found absent: not looked for again yet. */
  assert_false(finds(ix, "late"));
  step_ms(LOOM_VINDEX_RESCAN_MS);
  assert_int_equal(query10(ix, "late"), 10);
  /* Never asked for: found at the first request, described unloaded. */
  struct loom_vindex_desc d;
  assert_int_equal(loom_vindexes_describe(ix, "later", &d, &e), LOOM_OK);
  assert_false(d.loaded);
  assert_int_equal(d.params.dim, DIM);
  json_decref(d.info);
  assert_int_equal(loom_vindexes_delete(ix, "later", &e), LOOM_OK);
  assert_false(dir_exists(dir, "later"));
  step_ms(LOOM_VINDEX_RESCAN_MS);
  assert_false(finds(ix, "later"));
  assert_false(finds(ix, "never"));
  /* Made elsewhere and never asked for: listed, without a lookup. */
  assert_int_equal(loom_vindexes_open(dir, &other, &e), LOOM_OK);
  struct loom_vstore_params p0 = {.dim = DIM, .metric = LOOM_METRIC_COSINE};
  assert_int_equal(loom_vindexes_create(other, "listed", &p0, NULL, &e),
                   LOOM_OK);
  loom_vindexes_close(other);
  char names[256] = "";
  loom_vindexes_each(ix, names_cb, names);
  assert_string_equal(names, "late,listed,");
  /* Not an index (no config.json): not listed; create says it exists. */
  char *junk = loom_asprintf("%s/junk", dir);
  assert_int_equal(mkdir(junk, 0755), 0);
  step_ms(LOOM_VINDEX_RESCAN_MS);
  assert_false(finds(ix, "junk"));
  struct loom_vstore_params p = {.dim = DIM, .metric = LOOM_METRIC_COSINE};
  assert_int_equal(loom_vindexes_create(ix, "junk", &p, NULL, &e),
                   LOOM_ERR_EXISTS);
  loom_free(junk);
  table_done(ix, dir);
}

struct hunt {
  struct loom_vindexes *ix;
  atomic_bool stop;
  atomic_long found;
};

/* Asks for index "doomed" until told to stop. */
static void *hunter(void *arg) {
  struct hunt *h = arg;
  while (!atomic_load(&h->stop))
    if (finds(h->ix, "doomed"))
      atomic_fetch_add(&h->found, 1);
  return NULL;
}

/* Deleting an index while other threads keep asking for it: once the
 * delete returns it is gone for good; the lookups on disk that requests
 * for the missing name make never list it again from files that were
 * being removed. */
static void delete_is_not_undone_by_lookups(void **state) {
  (void)state;
  char *dir;
  struct loom_vindexes *ix = table_new(&dir);
  struct loom_vstore_params p = {.dim = DIM, .metric = LOOM_METRIC_COSINE};
  for (int round = 0; round < 50; round++) {
    struct loom_error ce;
    if (loom_vindexes_create(ix, "doomed", &p, NULL, &ce))
      fail_msg("%s", ce.message);
    struct hunt h = {.ix = ix};
    pthread_t t[READERS];
    for (int i = 0; i < READERS; i++)
      assert_int_equal(pthread_create(&t[i], NULL, hunter, &h), 0);
    while (atomic_load(&h.found) < 10)
      usleep(100);
    struct loom_error e;
    assert_int_equal(loom_vindexes_delete(ix, "doomed", &e), LOOM_OK);
    usleep(2000); /* the hunters keep asking for the deleted name */
    atomic_store(&h.stop, true);
    for (int i = 0; i < READERS; i++)
      pthread_join(t[i], NULL);
    assert_false(dir_exists(dir, "doomed"));
    struct loom_vindex_desc d;
    assert_int_equal(loom_vindexes_describe(ix, "doomed", &d, &e),
                     LOOM_ERR_NOT_FOUND);
  }
  table_done(ix, dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(create_delete_under_queries),
      cmocka_unit_test(delete_busy_index),
      cmocka_unit_test(delete_waits_for_its_request_only),
      cmocka_unit_test(configure_while_read),
      cmocka_unit_test(namespaces_under_queries),
      cmocka_unit_test(corrupt_index_fails_alone),
      cmocka_unit_test(failed_load_backs_off),
      cmocka_unit_test(shape_from_snapshot),
      cmocka_unit_test(first_acquires_load_once),
      cmocka_unit_test(warm_loads_in_background),
      cmocka_unit_test(one_shot_promises_no_retry),
      cmocka_unit_test(index_made_elsewhere_is_found),
      cmocka_unit_test(delete_is_not_undone_by_lookups),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
