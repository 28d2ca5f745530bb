/*
 * Group commit in the SQLite store (loom_store_batch_begin/end): calls
 * made in a batch are one transaction, seen by other connections only
 * once it commits; a call that fails inside a batch undoes only itself;
 * a batch ended without commit leaves nothing. And the WAL is
 * checkpointed by the store's own thread once it grows (the writes that
 * grew it do not do it), so the database file takes the rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/alloc.h"
#include "store_fixture.h"
#include "stores/store.h"

static loom_err put_thread(struct loom_store *s, const char *id) {
  json_t *row = json_pack("{s:s}", "thread_id", id), *out = NULL;
  loom_err err =
      loom_store_put_thread(s, "t", row, LOOM_IF_EXISTS_RAISE, &out, NULL);
  json_decref(row);
  json_decref(out);
  return err;
}

static loom_err put_run(struct loom_store *s, const char *thread,
                        const char *id) {
  json_t *row = json_pack("{s:s, s:s, s:s}", "run_id", id, "thread_id", thread,
                          "status", "pending"),
         *out = NULL;
  loom_err err = loom_store_put_run(s, "t", row, &out, NULL);
  json_decref(row);
  json_decref(out);
  return err;
}

static bool thread_exists(struct loom_store *s, const char *id) {
  json_t *out = NULL;
  loom_err err = loom_store_get_thread(s, "t", id, &out, NULL);
  json_decref(out);
  return err == LOOM_OK;
}

/* Reads from another thread, i.e. through another connection. */
struct peek {
  struct loom_store *store;
  const char *id;
  bool found;
};

static void *peek_main(void *arg) {
  struct peek *p = arg;
  p->found = thread_exists(p->store, p->id);
  return NULL;
}

static bool seen_by_others(struct loom_store *s, const char *id) {
  struct peek p = {s, id, false};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, peek_main, &p), 0);
  pthread_join(t, NULL);
  return p.found;
}

static void test_batch_commits_together(void **state) {
  struct store_fixture *f = *state;
  struct loom_error e = {0};
  assert_int_equal(loom_store_batch_begin(f->store, &e), LOOM_OK);
  assert_int_equal(put_thread(f->store, "A"), LOOM_OK);
  assert_int_equal(put_run(f->store, "A", "r1"), LOOM_OK);
  /* A failing call (its thread does not exist) undoes only itself. */
  assert_int_equal(put_run(f->store, "nope", "r2"), LOOM_ERR_NOT_FOUND);
  assert_int_equal(put_thread(f->store, "A"), LOOM_ERR_EXISTS);
  assert_int_equal(put_thread(f->store, "B"), LOOM_OK);
  /* The batch's own calls see its writes; nobody else does yet. */
  assert_true(thread_exists(f->store, "A"));
  assert_false(seen_by_others(f->store, "A"));
  assert_int_equal(loom_store_batch_end(f->store, true, &e), LOOM_OK);
  assert_true(seen_by_others(f->store, "A"));
  assert_true(seen_by_others(f->store, "B"));
  json_t *out = NULL;
  assert_int_equal(loom_store_get_run(f->store, "t", "r1", &out, &e), LOOM_OK);
  json_decref(out);
  assert_int_equal(loom_store_get_run(f->store, "t", "r2", &out, &e),
                   LOOM_ERR_NOT_FOUND);
}

static void test_batch_rollback(void **state) {
  struct store_fixture *f = *state;
  struct loom_error e = {0};
  assert_int_equal(loom_store_batch_begin(f->store, &e), LOOM_OK);
  assert_int_equal(put_thread(f->store, "C"), LOOM_OK);
  assert_int_equal(loom_store_batch_end(f->store, false, &e), LOOM_OK);
  assert_false(thread_exists(f->store, "C"));
  /* The connection is usable again, outside any batch. */
  assert_int_equal(put_thread(f->store, "C"), LOOM_OK);
  assert_true(seen_by_others(f->store, "C"));
}

static void test_batch_misuse(void **state) {
  struct store_fixture *f = *state;
  struct loom_error e = {0};
  assert_int_equal(loom_store_batch_end(f->store, true, &e), LOOM_ERR_INVALID);
  assert_int_equal(loom_store_batch_begin(f->store, &e), LOOM_OK);
  assert_int_equal(loom_store_batch_begin(f->store, &e), LOOM_ERR_INVALID);
  assert_int_equal(loom_store_batch_end(f->store, true, &e), LOOM_OK);
}

static long long file_size(const char *dir, const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  struct stat sb;
  return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

static void test_wal_checkpointed_in_background(void **state) {
  struct store_fixture *f = *state;
  long long before = file_size(f->dir, "loom.db");
  /* About 6 MB of rows: several times the 1,000-page WAL threshold. */
  char *big = loom_malloc(4001);
  memset(big, 'x', 4000);
  big[4000] = '\0';
  for (int i = 0; i < 1500; i++) {
    char id[32];
    snprintf(id, sizeof id, "T%d", i);
    json_t *row = json_pack("{s:s, s:{s:s}}", "thread_id", id, "metadata",
                            "blob", big),
           *out = NULL;
    assert_int_equal(loom_store_put_thread(f->store, "t", row,
                                           LOOM_IF_EXISTS_RAISE, &out, NULL),
                     LOOM_OK);
    json_decref(row);
    json_decref(out);
  }
  loom_free(big);
  long long after = before;
  for (int i = 0; i < 200 && after < before + 4000000; i++) {
    struct timespec ts = {0, 10 * 1000000L};
    nanosleep(&ts, NULL);
    after = file_size(f->dir, "loom.db");
  }
  assert_true(after >= before + 4000000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_batch_commits_together,
                                      store_fixture_setup,
                                      store_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_batch_rollback, store_fixture_setup,
                                      store_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_batch_misuse, store_fixture_setup,
                                      store_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_wal_checkpointed_in_background,
                                      store_fixture_setup,
                                      store_fixture_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
