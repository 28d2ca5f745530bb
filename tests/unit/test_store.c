/*
 * Store tests on a real SQLite file in a fresh temporary directory:
 * opening and migrations, the checkpoint contract (round trip, incremental
 * blobs, latest vs by id, listing, pending writes, deletion), tenant
 * isolation and use from several threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/id.h"
#include "store_fixture.h"
#include "stores/store.h"

struct fixture {
  char dir[256];
  char *db_path;
  struct loom_store *store;
};

static int setup(void **state) {
  struct fixture *f = LOOM_NEW(struct fixture);
  *state = f;
  /* A nested data directory: the store creates what is missing. */
  f->store =
      store_fixture_open(f->dir, sizeof f->dir, "loom-store", "data/nested");
  f->db_path = loom_asprintf("%s/data/nested/loom.db", f->dir);
  return f->store ? 0 : -1;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  store_fixture_close(f->store, f->dir);
  loom_free(f->db_path);
  loom_free(f);
  return 0;
}

/* Runs a query returning one integer on a separate raw connection. */
static long long query_int(const struct fixture *f, const char *sql) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open(f->db_path, &db), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  long long v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

/* Puts a checkpoint whose channel_versions are given as "ch=ver" pairs;
 * `blobs` are the values stored with it. Returns the new id in `id`. */
static void put_cp(struct loom_store *s, const char *tenant, const char *thread,
                   const char *parent, json_t *versions, json_t *metadata,
                   const struct loom_blob *blobs, size_t nblobs,
                   char id[LOOM_ID_LEN + 1]) {
  loom_id_new(id);
  json_t *doc = json_pack("{s:i, s:O, s:{}}", "v", 1, "channel_versions",
                          versions, "versions_seen");
  struct loom_checkpoint cp = {.thread_id = (char *)thread,
                               .ns = "",
                               .id = id,
                               .parent_id = (char *)parent,
                               .checkpoint = doc,
                               .metadata = metadata};
  struct loom_error e = {0};
  loom_err err = loom_store_put_checkpoint(s, tenant, &cp, blobs, nblobs, &e);
  if (err)
    fprintf(stderr, "put_checkpoint: %s\n", e.message);
  assert_int_equal(err, LOOM_OK);
  json_decref(doc);
}

/* ---- opening and migrations ---- */

/* A data directory that is a file is refused naming it and the setting
 * (SQLite's own words were "unable to open database file"). */
static void test_data_dir_is_a_file(void **state) {
  struct fixture *f = *state;
  char *file = loom_asprintf("%s/not-a-dir", f->dir);
  FILE *fp = fopen(file, "w");
  assert_non_null(fp);
  fclose(fp);
  struct loom_store *s = NULL;
  struct loom_error e = {0};
  assert_int_equal(loom_store_open("", file, &s, &e), LOOM_ERR_INVALID);
  assert_null(s);
  assert_non_null(strstr(e.message, "is a file, not a directory"));
  assert_non_null(strstr(e.message, "--data-dir (LOOM_DATA_DIR)"));
  assert_non_null(strstr(e.message, file));
  loom_free(file);
}

static void test_open_urls(void **state) {
  (void)state;
  struct loom_store *s = NULL;
  struct loom_error e = {0};
  assert_int_equal(loom_store_open("postgres://u@h/db", "x", &s, &e),
                   LOOM_ERR_UNSUPPORTED);
  assert_non_null(strstr(e.message, "PostgreSQL"));
  assert_null(s);
  assert_int_equal(loom_store_open("mysql://h/db", "x", &s, &e),
                   LOOM_ERR_INVALID);
  assert_null(s);
}

static void test_migrations_fresh_and_rerun(void **state) {
  struct fixture *f = *state;
  int version = 0;
  assert_int_equal(loom_store_schema_version(f->store, &version), LOOM_OK);
  assert_int_equal(version, 3);
  assert_string_equal(loom_store_backend(f->store), "sqlite");
  static const char *tables[] = {"tenants",
                                 "principals",
                                 "api_keys",
                                 "assistants",
                                 "assistant_versions",
                                 "threads",
                                 "runs",
                                 "checkpoints",
                                 "checkpoint_blobs",
                                 "checkpoint_writes",
                                 "run_events",
                                 "crews",
                                 "kickoffs",
                                 "documents",
                                 "chunks",
                                 "memories"};
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    char *sql = loom_asprintf("SELECT COUNT(*) FROM sqlite_master WHERE "
                              "type='table' AND name='%s'",
                              tables[i]);
    assert_int_equal(query_int(f, sql), 1);
    loom_free(sql);
  }
  /* Re-running is a no-op, and so is reopening and running again. */
  struct loom_error e = {0};
  assert_int_equal(loom_store_migrate(f->store, &e), LOOM_OK);
  loom_store_close(f->store);
  char *dir = loom_strndup(f->db_path, strlen(f->db_path) - strlen("/loom.db"));
  assert_int_equal(loom_store_open(NULL, dir, &f->store, &e), LOOM_OK);
  loom_free(dir);
  assert_int_equal(loom_store_migrate(f->store, &e), LOOM_OK);
  assert_int_equal(query_int(f, "SELECT COUNT(*) FROM schema_migrations"), 3);
  assert_int_equal(query_int(f, "SELECT MAX(version) FROM schema_migrations"),
                   3);
  assert_int_equal(loom_store_ping(f->store), LOOM_OK);
  char mode[16] = "";
  sqlite3 *db;
  sqlite3_open(f->db_path, &db);
  sqlite3_stmt *st;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  snprintf(mode, sizeof mode, "%s", sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  assert_string_equal(mode, "wal");
}

/* ---- checkpoints ---- */

static void test_checkpoint_round_trip(void **state) {
  struct fixture *f = *state;
  json_t *a = json_pack("{s:s}", "text", "hello");
  json_t *b = json_pack("[i, i, i]", 1, 2, 3);
  struct loom_blob blobs[] = {{"messages", "00001", a}, {"counts", "00001", b}};
  json_t *versions =
      json_pack("{s:s, s:s}", "messages", "00001", "counts", "00001");
  json_t *meta = json_pack("{s:s, s:i}", "source", "input", "step", -1);
  char id[LOOM_ID_LEN + 1];
  put_cp(f->store, "t1", "th", NULL, versions, meta, blobs, 2, id);

  struct loom_checkpoint *cp = NULL;
  struct loom_error e = {0};
  assert_int_equal(
      loom_store_get_checkpoint(f->store, "t1", "th", NULL, NULL, &cp, &e),
      LOOM_OK);
  assert_string_equal(cp->id, id);
  assert_string_equal(cp->thread_id, "th");
  assert_string_equal(cp->ns, "");
  assert_null(cp->parent_id);
  assert_true(json_equal(json_object_get(cp->values, "messages"), a));
  assert_true(json_equal(json_object_get(cp->values, "counts"), b));
  assert_true(json_equal(cp->metadata, meta));
  assert_true(json_equal(json_object_get(cp->checkpoint, "channel_versions"),
                         versions));
  assert_int_equal(json_array_size(cp->pending_writes), 0);
  loom_checkpoint_free(cp);
  json_decref(a), json_decref(b), json_decref(versions), json_decref(meta);
}

static void test_incremental_blobs(void **state) {
  struct fixture *f = *state;
  enum { BIG = 256 * 1024, STEPS = 10 };
  char *text = loom_malloc(BIG + 1);
  memset(text, 'x', BIG);
  text[BIG] = '\0';
  json_t *big = json_string(text);
  loom_free(text);
  char ids[STEPS][LOOM_ID_LEN + 1];
  for (int i = 0; i < STEPS; i++) {
    char ver[16];
    snprintf(ver, sizeof ver, "%05d", i + 1);
    json_t *step = json_integer(i);
    /* Only the first checkpoint carries the big channel: it never changes,
     * so later ones point at version 00001 and pass only "step". */
    struct loom_blob blobs[] = {{"step", ver, step}, {"doc", "00001", big}};
    json_t *versions = json_pack("{s:s, s:s}", "doc", "00001", "step", ver);
    json_t *meta = json_pack("{s:i}", "step", i);
    put_cp(f->store, "t1", "big", i ? ids[i - 1] : NULL, versions, meta, blobs,
           i == 0 ? 2 : 1, ids[i]);
    json_decref(versions), json_decref(meta), json_decref(step);
  }
  assert_int_equal(query_int(f, "SELECT COUNT(*) FROM checkpoint_blobs WHERE "
                                "thread_id='big' AND channel='doc'"),
                   1);
  assert_int_equal(query_int(f, "SELECT COUNT(*) FROM checkpoint_blobs WHERE "
                                "thread_id='big' AND channel='step'"),
                   STEPS);
  long long stored = query_int(f, "SELECT SUM(LENGTH(value)) FROM "
                                  "checkpoint_blobs WHERE thread_id='big'");
  assert_true(stored < BIG + 1024);
  /* Whole file, WAL folded in: far below the 2.5 MB of ten copies. */
  query_int(f, "PRAGMA wal_checkpoint(TRUNCATE)");
  long long bytes = query_int(f, "SELECT page_count * page_size FROM "
                                 "pragma_page_count, pragma_page_size");
  assert_true(bytes < 2 * BIG);
  /* Every checkpoint still reads back the big value and its own step. */
  for (int i = 0; i < STEPS; i++) {
    struct loom_checkpoint *cp = NULL;
    assert_int_equal(
        loom_store_get_checkpoint(f->store, "t1", "big", "", ids[i], &cp, NULL),
        LOOM_OK);
    assert_true(json_equal(json_object_get(cp->values, "doc"), big));
    assert_int_equal(json_integer_value(json_object_get(cp->values, "step")),
                     i);
    assert_string_equal(cp->parent_id ? cp->parent_id : "",
                        i ? ids[i - 1] : "");
    loom_checkpoint_free(cp);
  }
  json_decref(big);
}

/* Five checkpoints of one thread, step i, source loop for odd i. */
static void put_five(struct fixture *f, const char *tenant, const char *thread,
                     char ids[5][LOOM_ID_LEN + 1]) {
  for (int i = 0; i < 5; i++) {
    char ver[16];
    snprintf(ver, sizeof ver, "%05d", i + 1);
    json_t *step = json_integer(i);
    struct loom_blob blob = {"step", ver, step};
    json_t *versions = json_pack("{s:s}", "step", ver);
    json_t *meta =
        json_pack("{s:i, s:s}", "step", i, "source", i % 2 ? "loop" : "input");
    put_cp(f->store, tenant, thread, i ? ids[i - 1] : NULL, versions, meta,
           &blob, 1, ids[i]);
    json_decref(versions), json_decref(meta), json_decref(step);
  }
}

static void test_latest_vs_by_id(void **state) {
  struct fixture *f = *state;
  char ids[5][LOOM_ID_LEN + 1];
  put_five(f, "t1", "th", ids);
  struct loom_checkpoint *cp = NULL;
  struct loom_error e = {0};
  assert_int_equal(
      loom_store_get_checkpoint(f->store, "t1", "th", "", NULL, &cp, &e),
      LOOM_OK);
  assert_string_equal(cp->id, ids[4]);
  assert_int_equal(json_integer_value(json_object_get(cp->values, "step")), 4);
  loom_checkpoint_free(cp);
  assert_int_equal(
      loom_store_get_checkpoint(f->store, "t1", "th", "", ids[2], &cp, &e),
      LOOM_OK);
  assert_string_equal(cp->id, ids[2]);
  assert_string_equal(cp->parent_id, ids[1]);
  assert_int_equal(json_integer_value(json_object_get(cp->values, "step")), 2);
  loom_checkpoint_free(cp);
  char unknown[LOOM_ID_LEN + 1];
  loom_id_new(unknown);
  assert_int_equal(
      loom_store_get_checkpoint(f->store, "t1", "th", "", unknown, &cp, &e),
      LOOM_ERR_NOT_FOUND);
  assert_null(cp);
  assert_int_equal(
      loom_store_get_checkpoint(f->store, "t1", "nothing", "", NULL, &cp, &e),
      LOOM_ERR_NOT_FOUND);
  /* Another namespace of the same thread is separate. */
  assert_int_equal(
      loom_store_get_checkpoint(f->store, "t1", "th", "sub:1", NULL, &cp, &e),
      LOOM_ERR_NOT_FOUND);
}

struct collected {
  char ids[16][LOOM_ID_LEN + 1];
  size_t n;
  size_t stop_after; /* 0: never */
};

static bool collect_cb(const struct loom_checkpoint *cp, void *arg) {
  struct collected *c = arg;
  assert_null(cp->values);
  snprintf(c->ids[c->n++], LOOM_ID_LEN + 1, "%s", cp->id);
  return c->stop_after == 0 || c->n < c->stop_after;
}

static void list(struct fixture *f, const char *tenant,
                 const struct loom_checkpoint_query *q, struct collected *c) {
  memset(c->ids, 0, sizeof c->ids);
  c->n = 0;
  struct loom_error e = {0};
  assert_int_equal(
      loom_store_list_checkpoints(f->store, tenant, q, collect_cb, c, &e),
      LOOM_OK);
}

static void test_list(void **state) {
  struct fixture *f = *state;
  char ids[5][LOOM_ID_LEN + 1];
  put_five(f, "t1", "th", ids);
  struct collected c = {0};
  list(f, "t1", &(struct loom_checkpoint_query){.thread_id = "th"}, &c);
  assert_int_equal(c.n, 5);
  for (int i = 0; i < 5; i++)
    assert_string_equal(c.ids[i], ids[4 - i]);
  list(f, "t1",
       &(struct loom_checkpoint_query){.thread_id = "th", .before_id = ids[3]},
       &c);
  assert_int_equal(c.n, 3);
  assert_string_equal(c.ids[0], ids[2]);
  assert_string_equal(c.ids[2], ids[0]);
  list(f, "t1", &(struct loom_checkpoint_query){.thread_id = "th", .limit = 2},
       &c);
  assert_int_equal(c.n, 2);
  assert_string_equal(c.ids[0], ids[4]);
  assert_string_equal(c.ids[1], ids[3]);
  json_t *filter = json_pack("{s:s}", "source", "loop");
  list(f, "t1",
       &(struct loom_checkpoint_query){.thread_id = "th",
                                       .metadata_filter = filter},
       &c);
  assert_int_equal(c.n, 2);
  assert_string_equal(c.ids[0], ids[3]);
  assert_string_equal(c.ids[1], ids[1]);
  list(f, "t1",
       &(struct loom_checkpoint_query){
           .thread_id = "th", .metadata_filter = filter, .limit = 1},
       &c);
  assert_int_equal(c.n, 1);
  assert_string_equal(c.ids[0], ids[3]);
  json_decref(filter);
  c.stop_after = 3;
  list(f, "t1", &(struct loom_checkpoint_query){.thread_id = "th"}, &c);
  assert_int_equal(c.n, 3);
}

static void test_put_writes_idempotent(void **state) {
  struct fixture *f = *state;
  char ids[5][LOOM_ID_LEN + 1];
  put_five(f, "t1", "th", ids);
  json_t *w1 = json_pack("[{s:s, s:i}, {s:s, s:s}]", "channel", "step", "value",
                         10, "channel", "log", "value", "a");
  json_t *w2 = json_pack("[{s:s, s:[s]}]", "channel", "log", "value", "b");
  struct loom_error e = {0};
  for (int i = 0; i < 3; i++) /* a replayed task */
    assert_int_equal(loom_store_put_writes(f->store, "t1", "th", "", ids[4],
                                           "task-a", w1, &e),
                     LOOM_OK);
  assert_int_equal(
      loom_store_put_writes(f->store, "t1", "th", "", ids[4], "task-b", w2, &e),
      LOOM_OK);
  struct loom_checkpoint *cp = NULL;
  assert_int_equal(
      loom_store_get_checkpoint(f->store, "t1", "th", "", NULL, &cp, &e),
      LOOM_OK);
  assert_int_equal(json_array_size(cp->pending_writes), 3);
  json_t *first = json_array_get(cp->pending_writes, 0);
  assert_string_equal(json_string_value(json_object_get(first, "task_id")),
                      "task-a");
  assert_string_equal(json_string_value(json_object_get(first, "channel")),
                      "step");
  assert_int_equal(json_integer_value(json_object_get(first, "value")), 10);
  json_t *last = json_array_get(cp->pending_writes, 2);
  assert_true(json_equal(json_object_get(last, "value"),
                         json_object_get(json_array_get(w2, 0), "value")));
  loom_checkpoint_free(cp);
  /* The previous checkpoint has none. */
  assert_int_equal(
      loom_store_get_checkpoint(f->store, "t1", "th", "", ids[3], &cp, &e),
      LOOM_OK);
  assert_int_equal(json_array_size(cp->pending_writes), 0);
  loom_checkpoint_free(cp);
  /* A malformed write is refused and stores nothing. */
  json_t *bad = json_pack("[{s:s}, {s:i}]", "channel", "x", "value", 1);
  assert_int_equal(loom_store_put_writes(f->store, "t1", "th", "", ids[3],
                                         "task-c", bad, &e),
                   LOOM_ERR_INVALID);
  assert_int_equal(query_int(f, "SELECT COUNT(*) FROM checkpoint_writes WHERE "
                                "task_id='task-c'"),
                   0);
  json_decref(bad), json_decref(w1), json_decref(w2);
}

static void test_tenant_isolation(void **state) {
  struct fixture *f = *state;
  char ids[5][LOOM_ID_LEN + 1];
  put_five(f, "tenant-a", "shared", ids);
  struct loom_checkpoint *cp = NULL;
  struct loom_error e = {0};
  /* B knows A's thread and checkpoint ids and still sees nothing. */
  assert_int_equal(loom_store_get_checkpoint(f->store, "tenant-b", "shared", "",
                                             ids[2], &cp, &e),
                   LOOM_ERR_NOT_FOUND);
  assert_int_equal(loom_store_get_checkpoint(f->store, "tenant-b", "shared", "",
                                             NULL, &cp, &e),
                   LOOM_ERR_NOT_FOUND);
  assert_null(cp);
  struct collected c = {0};
  list(f, "tenant-b", &(struct loom_checkpoint_query){.thread_id = "shared"},
       &c);
  assert_int_equal(c.n, 0);
  /* B's writes and deletes do not reach A's checkpoint. */
  json_t *w = json_pack("[{s:s, s:i}]", "channel", "step", "value", 99);
  assert_int_equal(loom_store_put_writes(f->store, "tenant-b", "shared", "",
                                         ids[4], "evil", w, &e),
                   LOOM_OK);
  json_decref(w);
  assert_int_equal(
      loom_store_delete_thread_checkpoints(f->store, "tenant-b", "shared", &e),
      LOOM_OK);
  assert_int_equal(loom_store_get_checkpoint(f->store, "tenant-a", "shared", "",
                                             NULL, &cp, &e),
                   LOOM_OK);
  assert_string_equal(cp->id, ids[4]);
  assert_int_equal(json_array_size(cp->pending_writes), 0);
  loom_checkpoint_free(cp);
  /* B can use the same thread id for its own checkpoints. */
  char bids[5][LOOM_ID_LEN + 1];
  put_five(f, "tenant-b", "shared", bids);
  list(f, "tenant-a", &(struct loom_checkpoint_query){.thread_id = "shared"},
       &c);
  assert_int_equal(c.n, 5);
  assert_string_equal(c.ids[0], ids[4]);
  /* An empty tenant is refused outright. */
  assert_int_equal(
      loom_store_get_checkpoint(f->store, "", "shared", "", NULL, &cp, &e),
      LOOM_ERR_INVALID);
}

static void test_delete_thread(void **state) {
  struct fixture *f = *state;
  char ids[5][LOOM_ID_LEN + 1], other[5][LOOM_ID_LEN + 1];
  put_five(f, "t1", "gone", ids);
  put_five(f, "t1", "kept", other);
  json_t *w = json_pack("[{s:s, s:i}]", "channel", "step", "value", 1);
  struct loom_error e = {0};
  assert_int_equal(
      loom_store_put_writes(f->store, "t1", "gone", "", ids[4], "t", w, &e),
      LOOM_OK);
  json_decref(w);
  assert_int_equal(
      loom_store_delete_thread_checkpoints(f->store, "t1", "gone", &e),
      LOOM_OK);
  struct loom_checkpoint *cp = NULL;
  assert_int_equal(
      loom_store_get_checkpoint(f->store, "t1", "gone", "", NULL, &cp, &e),
      LOOM_ERR_NOT_FOUND);
  assert_int_equal(query_int(f, "SELECT (SELECT COUNT(*) FROM checkpoint_blobs"
                                " WHERE thread_id='gone') + (SELECT COUNT(*)"
                                " FROM checkpoint_writes WHERE "
                                "thread_id='gone')"),
                   0);
  assert_int_equal(
      loom_store_get_checkpoint(f->store, "t1", "kept", "", NULL, &cp, &e),
      LOOM_OK);
  loom_checkpoint_free(cp);
}

static void test_copy_thread(void **state) {
  struct fixture *f = *state;
  char ids[5][LOOM_ID_LEN + 1];
  put_five(f, "t1", "orig", ids);
  json_t *w = json_pack("[{s:s, s:i}]", "channel", "step", "value", 7);
  struct loom_error e = {0};
  assert_int_equal(
      loom_store_put_writes(f->store, "t1", "orig", "", ids[4], "t", w, &e),
      LOOM_OK);
  json_decref(w);
  assert_int_equal(
      loom_store_copy_thread_checkpoints(f->store, "t1", "orig", "copy", &e),
      LOOM_OK);
  struct loom_checkpoint *cp = NULL;
  assert_int_equal(
      loom_store_get_checkpoint(f->store, "t1", "copy", "", NULL, &cp, &e),
      LOOM_OK);
  assert_string_equal(cp->id, ids[4]);
  assert_int_equal(json_integer_value(json_object_get(cp->values, "step")), 4);
  assert_int_equal(json_array_size(cp->pending_writes), 1);
  loom_checkpoint_free(cp);
  /* The copy is independent: deleting the original leaves it. */
  assert_int_equal(
      loom_store_delete_thread_checkpoints(f->store, "t1", "orig", &e),
      LOOM_OK);
  struct collected c = {0};
  list(f, "t1", &(struct loom_checkpoint_query){.thread_id = "copy"}, &c);
  assert_int_equal(c.n, 5);
  /* Another tenant copies nothing of t1's. */
  assert_int_equal(
      loom_store_copy_thread_checkpoints(f->store, "t2", "copy", "mine", &e),
      LOOM_OK);
  assert_int_equal(
      loom_store_get_checkpoint(f->store, "t2", "mine", "", NULL, &cp, &e),
      LOOM_ERR_NOT_FOUND);
}

/* ---- several threads at once ---- */

enum { WORKERS = 4, PER_WORKER = 25 };

struct worker {
  struct loom_store *store;
  char thread_id[32];
  int failures;
  size_t listed;
};

static bool count_cb(const struct loom_checkpoint *cp, void *arg) {
  (void)cp;
  (*(size_t *)arg)++;
  return true;
}

static void *worker_main(void *arg) {
  struct worker *w = arg;
  char prev[LOOM_ID_LEN + 1] = "";
  for (int i = 0; i < PER_WORKER; i++) {
    char id[LOOM_ID_LEN + 1], ver[16];
    loom_id_new(id);
    snprintf(ver, sizeof ver, "%05d", i + 1);
    json_t *v = json_integer(i);
    struct loom_blob blob = {"n", ver, v};
    json_t *doc = json_pack("{s:{s:s}}", "channel_versions", "n", ver);
    struct loom_checkpoint cp = {.thread_id = w->thread_id,
                                 .id = id,
                                 .parent_id = *prev ? prev : NULL,
                                 .checkpoint = doc};
    struct loom_checkpoint *got = NULL;
    if (loom_store_put_checkpoint(w->store, "t1", &cp, &blob, 1, NULL) ||
        loom_store_get_checkpoint(w->store, "t1", w->thread_id, NULL, NULL,
                                  &got, NULL) ||
        strcmp(got->id, id) != 0 ||
        json_integer_value(json_object_get(got->values, "n")) != i)
      w->failures++;
    loom_checkpoint_free(got);
    json_decref(doc), json_decref(v);
    memcpy(prev, id, sizeof prev);
  }
  struct loom_checkpoint_query q = {.thread_id = w->thread_id};
  if (loom_store_list_checkpoints(w->store, "t1", &q, count_cb, &w->listed,
                                  NULL))
    w->failures++;
  return NULL;
}

static void test_concurrent_threads(void **state) {
  struct fixture *f = *state;
  pthread_t tids[WORKERS];
  struct worker ws[WORKERS];
  for (int i = 0; i < WORKERS; i++) {
    ws[i] = (struct worker){.store = f->store};
    snprintf(ws[i].thread_id, sizeof ws[i].thread_id, "worker-%d", i);
    assert_int_equal(pthread_create(&tids[i], NULL, worker_main, &ws[i]), 0);
  }
  for (int i = 0; i < WORKERS; i++) {
    pthread_join(tids[i], NULL);
    assert_int_equal(ws[i].failures, 0);
    assert_int_equal(ws[i].listed, PER_WORKER);
  }
  assert_int_equal(query_int(f, "SELECT COUNT(*) FROM checkpoints"),
                   WORKERS * PER_WORKER);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open_urls),
      cmocka_unit_test_setup_teardown(test_data_dir_is_a_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_migrations_fresh_and_rerun, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_checkpoint_round_trip, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_incremental_blobs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_latest_vs_by_id, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list, setup, teardown),
      cmocka_unit_test_setup_teardown(test_put_writes_idempotent, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_tenant_isolation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete_thread, setup, teardown),
      cmocka_unit_test_setup_teardown(test_copy_thread, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_threads, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
