/*
 * Store tests for the memory searches behind the LangGraph store API
 * (search_memories, list_memory_namespaces, touch_memory, purge_memories)
 * on a real SQLite file in a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "store_fixture.h"
#include "stores/store.h"

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Puts a memory of `kind`; `ttl_ms` 0 for none. Returns its memory_id
 * (freed by the caller). */
static char *put(struct loom_store *s, const char *tenant, const char *ns,
                 const char *kind, const char *key, long long ttl_ms) {
  json_t *row = json_pack("{s:s, s:s, s:s, s:s}", "namespace", ns, "kind", kind,
                          "key", key, "content", key);
  if (ttl_ms)
    json_object_set_new(row, "ttl_ms", json_integer(ttl_ms));
  json_t *out = NULL;
  struct loom_error e = {0};
  assert_int_equal(loom_store_put_memory(s, tenant, row, &out, &e), LOOM_OK);
  char *id = loom_strdup(json_string_value(json_object_get(out, "memory_id")));
  json_decref(row);
  json_decref(out);
  sleep_ms(2); /* distinct updated_at */
  return id;
}

static void put_free(struct loom_store *s, const char *tenant, const char *ns,
                     const char *kind, const char *key, long long ttl_ms) {
  loom_free(put(s, tenant, ns, kind, key, ttl_ms));
}

/* The keys (or `field`) of rows joined by ','. */
static void assert_keys(const json_t *rows, const char *field,
                        const char *want) {
  char got[512] = "";
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row) {
    const char *v = json_is_string(row)
                        ? json_string_value(row)
                        : json_string_value(json_object_get(row, field));
    size_t n = strlen(got);
    snprintf(got + n, sizeof got - n, "%s%s", i ? "," : "", v);
  }
  assert_string_equal(got, want);
}

static json_t *search(struct loom_store *s, const char *tenant,
                      const char *prefix, bool (*keep)(void *, json_t *),
                      size_t offset, size_t limit) {
  json_t *out = NULL;
  struct loom_error e = {0};
  assert_int_equal(loom_store_search_memories(s, tenant, "item", prefix, keep,
                                              NULL, offset, limit, &out, &e),
                   LOOM_OK);
  return out;
}

static bool odd_keys_cb(void *ud, json_t *row) {
  (void)ud;
  const char *key = json_string_value(json_object_get(row, "key"));
  json_object_set_new(row, "seen", json_true());
  return (key[strlen(key) - 1] - '0') % 2 == 1;
}

static void test_search_prefix_order_paging(void **state) {
  struct loom_store *s = ((struct store_fixture *)*state)->store;
  put_free(s, "t1", "a", "item", "k1", 0);
  put_free(s, "t1", "a.b", "item", "k2", 0);
  put_free(s, "t1", "ab", "item", "k3", 0); /* not under "a": whole labels */
  put_free(s, "t1", "a.b.c", "item", "k5", 0);
  put_free(s, "t1", "a", "other", "k7", 0); /* another kind */
  put_free(s, "t2", "a", "item", "k9", 0);  /* another tenant */

  json_t *rows = search(s, "t1", "a", NULL, 0, 0);
  assert_keys(rows, "key", "k5,k2,k1"); /* newest first */
  json_decref(rows);
  rows = search(s, "t1", "a.b", NULL, 0, 0);
  assert_keys(rows, "key", "k5,k2");
  json_decref(rows);
  rows = search(s, "t1", "", NULL, 0, 0);
  assert_keys(rows, "key", "k5,k3,k2,k1");
  json_decref(rows);
  rows = search(s, "t1", "", NULL, 1, 2);
  assert_keys(rows, "key", "k3,k2");
  json_decref(rows);

  /* The filter runs before paging, and what it adds stays on the row. */
  rows = search(s, "t1", "", odd_keys_cb, 1, 10);
  assert_keys(rows, "key", "k3,k1");
  assert_true(json_is_true(json_object_get(json_array_get(rows, 0), "seen")));
  json_decref(rows);
}

static void test_namespaces(void **state) {
  struct loom_store *s = ((struct store_fixture *)*state)->store;
  put_free(s, "t1", "u.x", "item", "k", 0);
  put_free(s, "t1", "u.x", "item", "k2", 0);
  put_free(s, "t1", "u", "item", "k", 0);
  put_free(s, "t1", "uv", "item", "k", 0);
  put_free(s, "t1", "w", "other", "k", 0);
  put_free(s, "t1", "gone", "item", "k", 1);
  sleep_ms(20);

  json_t *names = NULL;
  struct loom_error e = {0};
  assert_int_equal(
      loom_store_list_memory_namespaces(s, "t1", "item", "", 0, &names, &e),
      LOOM_OK);
  assert_keys(names, NULL, "u,u.x,uv"); /* distinct; expired gone */
  json_decref(names);
  assert_int_equal(
      loom_store_list_memory_namespaces(s, "t1", "item", "u", 0, &names, &e),
      LOOM_OK);
  assert_keys(names, NULL, "u,u.x");
  json_decref(names);
  assert_int_equal(
      loom_store_list_memory_namespaces(s, "t1", "item", "", 1, &names, &e),
      LOOM_OK);
  assert_keys(names, NULL, "u");
  json_decref(names);
}

static void test_touch_extends_expiry(void **state) {
  struct loom_store *s = ((struct store_fixture *)*state)->store;
  char *touched = put(s, "t1", "ttl", "item", "touched", 400);
  char *left = put(s, "t1", "ttl", "item", "left", 400);
  char *forever = put(s, "t1", "ttl", "item", "forever", 0);
  struct loom_error e = {0};
  for (int i = 0; i < 6; i++) { /* 600 ms, past the first expiry */
    sleep_ms(100);
    assert_int_equal(loom_store_touch_memory(s, "t1", touched, 400, &e),
                     LOOM_OK);
  }
  /* Another tenant's touch changes nothing; a row without ttl keeps none. */
  assert_int_equal(loom_store_touch_memory(s, "t2", left, 100000, &e), LOOM_OK);
  assert_int_equal(loom_store_touch_memory(s, "t1", forever, 1, &e), LOOM_OK);
  json_t *rows = search(s, "t1", "ttl", NULL, 0, 0);
  assert_keys(rows, "key", "forever,touched");
  json_decref(rows);
  /* An expired row is not brought back. */
  assert_int_equal(loom_store_touch_memory(s, "t1", left, 100000, &e), LOOM_OK);
  sleep_ms(500);
  rows = search(s, "t1", "ttl", NULL, 0, 0);
  assert_keys(rows, "key", "forever");
  json_decref(rows);
  loom_free(touched);
  loom_free(left);
  loom_free(forever);
}

/* Rows in the memories table of the fixture's database file, expired or
 * not (what the API never shows). */
static int rows_on_disk(const struct store_fixture *f) {
  char path[300];
  snprintf(path, sizeof path, "%s/loom.db", f->dir);
  sqlite3 *db;
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  assert_int_equal(
      sqlite3_prepare_v2(db, "SELECT count(*) FROM memories", -1, &st, NULL),
      SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

/* Expired memories in namespaces nobody writes again leave the database
 * by purge_memories: of the tenant and kind asked for, at most `limit` a
 * call, the others kept; it says when the next one expires. */
static void test_purge_deletes_expired(void **state) {
  struct store_fixture *f = *state;
  struct loom_store *s = f->store;
  put_free(s, "t1", "a", "item", "gone1", 100);
  put_free(s, "t1", "b.c", "item", "gone2", 100);
  put_free(s, "t1", "b", "item", "later", 100000);
  put_free(s, "t1", "b", "item", "forever", 0);
  put_free(s, "t1", "a", "fact", "other-kind", 100);
  put_free(s, "t2", "a", "item", "other-tenant", 100);
  sleep_ms(200);
  assert_int_equal(rows_on_disk(f), 6);
  size_t deleted = 99;
  long long next = 0;
  struct loom_error e = {0};
  assert_int_equal(
      loom_store_purge_memories(s, "t1", "item", 1, &deleted, &next, &e),
      LOOM_OK);
  assert_int_equal(deleted, 1);
  long long now = (long long)time(NULL) * 1000;
  assert_true(next > now + 90000 && next < now + 110000); /* "later" */
  assert_int_equal(rows_on_disk(f), 5);
  assert_int_equal(
      loom_store_purge_memories(s, "t1", "item", 100, &deleted, NULL, &e),
      LOOM_OK);
  assert_int_equal(deleted, 1);
  assert_int_equal(
      loom_store_purge_memories(s, "t1", "item", 100, &deleted, NULL, &e),
      LOOM_OK);
  assert_int_equal(deleted, 0);
  assert_int_equal(rows_on_disk(f), 4); /* later, forever, other kind, t2 */
  json_t *rows = search(s, "t1", "", NULL, 0, 0);
  assert_keys(rows, "key", "forever,later");
  json_decref(rows);
  /* Any kind; nothing left to expire in t2 afterwards. */
  assert_int_equal(
      loom_store_purge_memories(s, "t1", NULL, 100, &deleted, NULL, &e),
      LOOM_OK);
  assert_int_equal(deleted, 1);
  next = -1;
  assert_int_equal(
      loom_store_purge_memories(s, "t2", NULL, 100, &deleted, &next, &e),
      LOOM_OK);
  assert_int_equal(deleted, 1);
  assert_int_equal(next, 0);
  assert_int_equal(rows_on_disk(f), 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_search_prefix_order_paging,
                                      store_fixture_setup,
                                      store_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_namespaces, store_fixture_setup,
                                      store_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_touch_extends_expiry,
                                      store_fixture_setup,
                                      store_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_purge_deletes_expired,
                                      store_fixture_setup,
                                      store_fixture_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
