/*
 * test_vector_store — durability as a user sees it: everything written
 * before a restart is there after it (values, metadata, deletes, updates,
 * namespaces, "" == "__default__"), a torn log tail is ignored, and a
 * process killed with SIGKILL in the middle of upserts and checkpoints
 * loses no write it had acknowledged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stores/vector_store.h"
#include "stores/vector_wal.h"
#include "tmp_dir.h"

enum { DIM = 8 };

/* Deterministic values for an id, so a reader can check them. */
static void values_for(const char *id, float *v) {
  uint32_t hsh = 2166136261u;
  for (const char *p = id; *p; p++)
    hsh = (hsh ^ (unsigned char)*p) * 16777619u;
  for (int i = 0; i < DIM; i++) {
    hsh = hsh * 1103515245u + 12345u;
    v[i] = (float)(hsh >> 8) / 16777216.0f + 0.01f;
  }
}

struct got {
  int found;
  float d;
  float v[DIM];
  json_t *meta;
};

static void got_cb(void *ud, const char *id, float d, const float *values,
                   const json_t *meta) {
  struct got *g = ud;
  (void)id;
  g->found++;
  g->d = d;
  memcpy(g->v, values, sizeof g->v);
  g->meta = meta ? json_deep_copy(meta) : NULL;
}

static struct loom_vstore *open_store(const char *dir, size_t wal_max) {
  struct loom_vstore_params p = {
      .dim = DIM, .metric = LOOM_METRIC_EUCLIDEAN, .wal_max_bytes = wal_max};
  struct loom_vstore *s;
  struct loom_error e;
  if (loom_vstore_open(dir, &p, &s, &e) != LOOM_OK)
    fail_msg("%s", e.message);
  return s;
}

static void upsert_one(struct loom_vstore *s, const char *ns, const char *id,
                       json_t *meta) {
  float v[DIM];
  values_for(id, v);
  struct loom_vrecord r = {id, v, meta};
  assert_int_equal(loom_vstore_upsert(s, ns, &r, 1, NULL), LOOM_OK);
}

static void check_present(struct loom_vstore *s, const char *ns,
                          const char *id) {
  struct got g = {0};
  float v[DIM];
  values_for(id, v);
  if (!loom_vstore_fetch(s, ns, id, got_cb, &g))
    fail_msg("%s lost", id);
  assert_memory_equal(g.v, v, sizeof v);
  if (g.meta)
    json_decref(g.meta);
}

static void write_everything(struct loom_vstore *s) {
  char id[32];
  for (int i = 0; i < 300; i++) {
    snprintf(id, sizeof id, "doc-%d", i);
    json_t *meta =
        json_pack("{s:i,s:s}", "n", i, "kind", i % 2 ? "odd" : "even");
    upsert_one(s, i < 200 ? "" : "other", id, meta);
    json_decref(meta);
  }
  const char *gone[] = {"doc-1", "doc-2"};
  assert_int_equal(loom_vstore_delete(s, "__default__", gone, 2, NULL),
                   LOOM_OK);
  json_t *set = json_pack("{s:s}", "kind", "edited");
  assert_int_equal(loom_vstore_update(s, "", "doc-3", NULL, set, NULL),
                   LOOM_OK);
  json_decref(set);
  assert_int_equal(loom_vstore_update(s, "", "nope", NULL, NULL, NULL),
                   LOOM_ERR_NOT_FOUND);
  struct loom_filter *f;
  const char *flt = "{\"kind\":\"odd\",\"n\":{\"$gte\":250}}";
  assert_int_equal(loom_filter_parse(flt, strlen(flt), &f, NULL), LOOM_OK);
  size_t deleted = 0;
  assert_int_equal(loom_vstore_delete_where(s, "other", f, &deleted, NULL),
                   LOOM_OK);
  assert_int_equal(deleted, 25);
  loom_filter_free(f);
  upsert_one(s, "dropped", "x", NULL);
  assert_int_equal(loom_vstore_delete_all(s, "dropped", NULL), LOOM_OK);
}

static void ns_cb(void *ud, const char *ns, size_t count) {
  json_t *o = ud;
  json_object_set_new(o, ns, json_integer((json_int_t)count));
}

static void check_everything(struct loom_vstore *s) {
  json_t *counts = json_object();
  assert_int_equal(loom_vstore_namespaces(s, ns_cb, counts), 198 + 75);
  assert_int_equal(json_integer_value(json_object_get(counts, "")), 198);
  assert_int_equal(json_integer_value(json_object_get(counts, "other")), 75);
  assert_null(json_object_get(counts, "dropped"));
  json_decref(counts);
  check_present(s, "", "doc-0");
  check_present(s, "__default__", "doc-199");
  check_present(s, "other", "doc-200");
  struct got g = {0};
  assert_false(loom_vstore_fetch(s, "", "doc-1", got_cb, &g));
  assert_false(loom_vstore_fetch(s, "other", "doc-251", got_cb, &g));
  assert_true(loom_vstore_fetch(s, "", "doc-3", got_cb, &g));
  assert_string_equal(json_string_value(json_object_get(g.meta, "kind")),
                      "edited");
  assert_int_equal(json_integer_value(json_object_get(g.meta, "n")), 3);
  json_decref(g.meta);
  /* search still finds a vector by its own values */
  float q[DIM];
  values_for("doc-150", q);
  struct got top = {0};
  struct loom_hnsw_query query = {.vector = q, .k = 1, .ef = 32};
  assert_int_equal(loom_vstore_query(s, "", &query, got_cb, &top), 1);
  assert_memory_equal(top.v, q, sizeof q);
  if (top.meta)
    json_decref(top.meta);
}

static void restart_keeps_everything(void **state) {
  (void)state;
  for (int small_wal = 0; small_wal <= 1; small_wal++) {
    char *dir = tmp_dir_new("loom-vstore");
    struct loom_vstore *s = open_store(dir, small_wal ? 4096 : 0);
    write_everything(s);
    check_everything(s);
    loom_vstore_close(s);
    s = open_store(dir, 0);
    check_everything(s);
    loom_vstore_close(s);
    s = open_store(dir, 0); /* from snapshots only */
    check_everything(s);
    loom_vstore_close(s);
    tmp_dir_remove(dir);
    free(dir);
  }
}

/* A store directory has one owner at a time: a second open (here in the
 * same process; another process is refused the same way) gets a
 * conflict that says so, and the directory is free again once closed. */
static void one_owner_at_a_time(void **state) {
  (void)state;
  char *dir = tmp_dir_new("loom-vstore");
  struct loom_vstore *s = open_store(dir, 0), *again = NULL;
  struct loom_error e = {0};
  assert_int_equal(loom_vstore_open(dir, NULL, &again, &e), LOOM_ERR_CONFLICT);
  assert_null(again);
  assert_non_null(strstr(e.message, "open elsewhere"));
  /* and what to do instead: a server's API */
  assert_non_null(strstr(e.message, "POST /indexes/NAME/search"));
  loom_vstore_close(s);
  s = open_store(dir, 0);
  loom_vstore_close(s);
  tmp_dir_remove(dir);
  free(dir);
}

/* A new store walks int8 copies and answers with exact distances; one
 * created walking floats keeps its floats when reopened with the default;
 * config.json says which. */
static void new_stores_walk_int8_old_ones_keep_floats(void **state) {
  (void)state;
  for (int fl = 0; fl <= 1; fl++) {
    char *dir = tmp_dir_new("loom-vstore");
    struct loom_vstore_params p = {.dim = DIM,
                                   .metric = LOOM_METRIC_EUCLIDEAN,
                                   .walk = fl ? LOOM_VSTORE_WALK_FLOAT
                                              : LOOM_VSTORE_WALK_INT8};
    struct loom_vstore *s;
    assert_int_equal(loom_vstore_open(dir, &p, &s, NULL), LOOM_OK);
    write_everything(s);
    loom_vstore_close(s);
    s = open_store(dir, 0); /* default parameters: int8 */
    assert_int_equal(loom_vstore_params(s)->walk,
                     fl ? LOOM_VSTORE_WALK_FLOAT : LOOM_VSTORE_WALK_INT8);
    check_everything(s);
    float q[DIM], v[DIM], want = 0;
    values_for("doc-150", q);
    values_for("doc-150", v);
    q[0] += 0.001f;
    for (int i = 0; i < DIM; i++)
      want += (q[i] - v[i]) * (q[i] - v[i]);
    struct got top = {0};
    struct loom_hnsw_query query = {.vector = q, .k = 1, .ef = 32};
    assert_int_equal(loom_vstore_query(s, "", &query, got_cb, &top), 1);
    assert_memory_equal(top.v, v, sizeof v);
    assert_float_equal(top.d, want, 1e-9);
    if (top.meta)
      json_decref(top.meta);
    loom_vstore_close(s);
    char path[128];
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_t *config = json_load_file(path, 0, NULL);
    assert_non_null(config);
    assert_true(json_is_boolean(json_object_get(config, "quantize")));
    assert_int_equal(json_is_true(json_object_get(config, "quantize")), !fl);
    json_decref(config);
    tmp_dir_remove(dir);
    free(dir);
  }
}

static void torn_log_tail_is_ignored(void **state) {
  (void)state;
  char *dir = tmp_dir_new("loom-vstore");
  pid_t pid = fork();
  if (pid == 0) { /* write without a clean close, then vanish */
    struct loom_vstore *s = open_store(dir, 0);
    write_everything(s);
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  char path[128];
  snprintf(path, sizeof path, "%s/wal", dir);
  FILE *f = fopen(path, "ab");
  assert_non_null(f);
  fwrite("\x40\x00\x00\x00garbage-half-record", 1, 23, f);
  fclose(f);
  struct loom_vstore *s = open_store(dir, 0);
  check_everything(s);
  upsert_one(s, "", "after-crash", NULL); /* log still appends cleanly */
  loom_vstore_close(s);
  s = open_store(dir, 0);
  check_present(s, "", "after-crash");
  char longns[200];
  memset(longns, 'n', sizeof longns - 1);
  longns[sizeof longns - 1] = '\0';
  float v[DIM];
  values_for("x", v);
  struct loom_vrecord rec = {"x", v, NULL};
  struct loom_error e;
  assert_int_equal(loom_vstore_upsert(s, longns, &rec, 1, &e),
                   LOOM_ERR_INVALID);
  assert_non_null(strstr(e.message, "namespace"));
  loom_vstore_close(s);
  struct loom_vstore *none;
  snprintf(path, sizeof path, "%s/missing", dir);
  assert_int_equal(loom_vstore_open(path, NULL, &none, &e), LOOM_ERR_NOT_FOUND);
  tmp_dir_remove(dir);
  free(dir);
}

static void kill9_loses_no_acknowledged_write(void **state) {
  (void)state;
  char *dir = tmp_dir_new("loom-vstore");
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    /* A small log so checkpoints happen while we are killed. */
    struct loom_vstore *s = open_store(dir, 32 << 10);
    for (int32_t b = 0;; b++) {
      char ids[5][32];
      float v[5][DIM];
      struct loom_vrecord r[5];
      for (int j = 0; j < 5; j++) {
        snprintf(ids[j], sizeof ids[j], "b%d-%d", b, j);
        values_for(ids[j], v[j]);
        r[j] = (struct loom_vrecord){ids[j], v[j], NULL};
      }
      if (loom_vstore_upsert(s, b % 2 ? "odd" : "", r, 5, NULL) != LOOM_OK)
        _exit(3);
      if (write(fds[1], &b, sizeof b) != sizeof b)
        _exit(4); /* acknowledged */
    }
  }
  close(fds[1]);
  int32_t acked = -1, b;
  while (acked < 400 && read(fds[0], &b, sizeof b) == sizeof b)
    acked = b;
  kill(pid, SIGKILL);
  while (read(fds[0], &b, sizeof b) == sizeof b)
    acked = b;
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFSIGNALED(status));
  assert_true(acked >= 400);
  struct loom_vstore *s = open_store(dir, 0);
  for (int32_t i = 0; i <= acked; i++)
    for (int j = 0; j < 5; j++) {
      char id[32];
      snprintf(id, sizeof id, "b%d-%d", i, j);
      check_present(s, i % 2 ? "odd" : "", id);
    }
  loom_vstore_close(s);
  tmp_dir_remove(dir);
  free(dir);
}

static void write_config(const char *dir, const char *text) {
  char path[128];
  snprintf(path, sizeof path, "%s/config.json", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* A config.json edited (or restored from another index) so that it no
 * longer matches the snapshots: opening refuses, naming the snapshot,
 * instead of handing the snapshot's index vectors of the wrong length. */
static void snapshot_of_another_shape_is_refused(void **state) {
  (void)state;
  char *dir = tmp_dir_new("loom-vstore");
  struct loom_vstore *s = open_store(dir, 0);
  upsert_one(s, "", "a", NULL);
  loom_vstore_close(s); /* checkpoint: ns-.snap holds 8-dim vectors */
  write_config(dir, "{\"dimension\": 4, \"metric\": \"euclidean\"}");
  struct loom_error e = {0};
  assert_int_equal(loom_vstore_open(dir, NULL, &s, &e), LOOM_ERR_PARSE);
  assert_non_null(strstr(e.message, "ns-.snap holds 8-dimensional"));
  assert_non_null(strstr(e.message, "config.json says 4-dimensional"));
  tmp_dir_remove(dir);
  free(dir);
}

/* A config.json whose shape no index can have (m past 64, a dimension
 * past 32 bits) is refused when read, not accepted to then log every
 * write and apply none. */
static void config_with_an_impossible_shape_is_refused(void **state) {
  (void)state;
  static const char *const configs[] = {
      "{\"dimension\": 8, \"metric\": \"euclidean\", \"m\": 100}",
      "{\"dimension\": 4294967304, \"metric\": \"euclidean\"}",
      "{\"dimension\": 8, \"metric\": \"euclidean\", \"ef_construction\": -1}",
  };
  for (size_t i = 0; i < sizeof configs / sizeof *configs; i++) {
    char *dir = tmp_dir_new("loom-vstore");
    write_config(dir, configs[i]);
    struct loom_vstore *s = NULL;
    struct loom_vstore_params p;
    struct loom_error e = {0};
    assert_int_equal(loom_vstore_open(dir, NULL, &s, &e), LOOM_ERR_PARSE);
    assert_non_null(strstr(e.message, "config.json"));
    assert_int_equal(loom_vstore_read_params(dir, &p, &e), LOOM_ERR_PARSE);
    tmp_dir_remove(dir);
    free(dir);
  }
}

/* A record no writer logs (a namespace past LOOM_VSTORE_MAX_NS) used to
 * be replayed, and its snapshot's file name, too long to create, failed
 * every checkpoint from then on: the log only grew. */
static void replayed_record_with_a_long_namespace_is_skipped(void **state) {
  (void)state;
  char *dir = tmp_dir_new("loom-vstore");
  struct loom_vstore *s = open_store(dir, 0);
  upsert_one(s, "", "kept", NULL);
  loom_vstore_close(s);
  char path[128], ns[200];
  snprintf(path, sizeof path, "%s/wal", dir);
  memset(ns, 'n', sizeof ns - 1);
  ns[sizeof ns - 1] = '\0';
  float v[DIM];
  values_for("long", v);
  struct loom_vwal *w;
  uint64_t last;
  assert_int_equal(loom_vwal_open(path, NULL, NULL, &w, &last, NULL), LOOM_OK);
  loom_vwal_add(w, &(struct loom_vwal_rec){.lsn = 100,
                                           .op = LOOM_VWAL_UPSERT,
                                           .ns = ns,
                                           .id = "long",
                                           .values = v,
                                           .nvalues = DIM});
  assert_int_equal(loom_vwal_commit(w, NULL), LOOM_OK);
  loom_vwal_close(w);
  s = open_store(dir, 0);
  check_present(s, "", "kept");
  assert_false(loom_vstore_fetch(s, ns, "long", NULL, NULL));
  struct loom_error e = {0};
  assert_int_equal(loom_vstore_checkpoint(s, &e), LOOM_OK);
  loom_vstore_close(s);
  tmp_dir_remove(dir);
  free(dir);
}

/* A cosine vector whose length squared underflows (or overflows) in
 * float was accepted, then stored divided by 0 (or inf): its values came
 * back infinite. Now it is refused before anything is logged. */
static void cosine_vector_too_short_is_refused(void **state) {
  (void)state;
  char *dir = tmp_dir_new("loom-vstore");
  struct loom_vstore_params p = {.dim = DIM, .metric = LOOM_METRIC_COSINE};
  struct loom_vstore *s;
  assert_int_equal(loom_vstore_open(dir, &p, &s, NULL), LOOM_OK);
  float tiny[DIM] = {1e-30f}, huge[DIM] = {3e38f, 3e38f};
  struct loom_error e = {0};
  struct loom_vrecord r = {"tiny", tiny, NULL};
  assert_int_equal(loom_vstore_upsert(s, "", &r, 1, &e), LOOM_ERR_INVALID);
  assert_non_null(strstr(e.message, "too small for the cosine metric"));
  r = (struct loom_vrecord){"huge", huge, NULL};
  assert_int_equal(loom_vstore_upsert(s, "", &r, 1, &e), LOOM_ERR_INVALID);
  assert_non_null(strstr(e.message, "is too large; scale it first"));
  assert_false(loom_vstore_fetch(s, "", "tiny", NULL, NULL));
  float ok[DIM] = {1e-3f};
  r = (struct loom_vrecord){"small", ok, NULL};
  assert_int_equal(loom_vstore_upsert(s, "", &r, 1, &e), LOOM_OK);
  loom_vstore_close(s);
  tmp_dir_remove(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(restart_keeps_everything),
      cmocka_unit_test(one_owner_at_a_time),
      cmocka_unit_test(new_stores_walk_int8_old_ones_keep_floats),
      cmocka_unit_test(torn_log_tail_is_ignored),
      cmocka_unit_test(kill9_loses_no_acknowledged_write),
      cmocka_unit_test(snapshot_of_another_shape_is_refused),
      cmocka_unit_test(config_with_an_impossible_shape_is_refused),
      cmocka_unit_test(replayed_record_with_a_long_namespace_is_skipped),
      cmocka_unit_test(cosine_vector_too_short_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
