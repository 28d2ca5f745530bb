/*
 * test_rag_memory — agent memory on a real SQLite store: recall brings the
 * relevant memory first, an entity's facts are replaced by key, expired
 * short-term memories disappear, namespaces and tenants do not mix, and
 * forgetting works by id and by namespace.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agents/rag_memory.h"
#include "core/alloc.h"
#include "stores/store.h"

static char dir[256];
static struct loom_store *store;

static int remove_cb(const char *path, const struct stat *sb, int flag,
                     struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

static void remember(const char *ns, const char *kind, const char *key,
                     const char *content, int64_t ttl) {
  struct loom_memory m = {
      .ns = ns, .kind = kind, .key = key, .content = content, .ttl_ms = ttl};
  struct loom_error e = {0};
  if (loom_memory_remember(store, "t1", &m, NULL, &e))
    fail_msg("remember: %s", e.message);
}

static int setup(void **state) {
  (void)state;
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/loom-mem-XXXXXX", tmp ? tmp : "/tmp");
  struct loom_error e = {0};
  if (!mkdtemp(dir) || loom_store_open("", dir, &store, &e) ||
      loom_store_migrate(store, &e))
    return -1;
  remember("crew-a", LOOM_MEMORY_LONG_TERM, NULL,
           "The client prefers concise reports written in French.", 0);
  remember("crew-a", LOOM_MEMORY_LONG_TERM, NULL,
           "Database migrations must run before every deploy.", 0);
  remember("crew-a", LOOM_MEMORY_LONG_TERM, NULL,
           "Production uses PostgreSQL 15 behind a connection pooler.", 0);
  remember("crew-a", LOOM_MEMORY_SHORT_TERM, NULL,
           "The weekly sync moved to Tuesday afternoons.", 0);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  loom_store_close(store);
  nftw(dir, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}

static char *first(const char *ns, const char *kind, const char *query) {
  json_t *hits = NULL;
  struct loom_error e = {0};
  if (loom_memory_recall(store, "t1", ns, kind, query, 3, &hits, &e))
    fail_msg("recall: %s", e.message);
  const char *c =
      json_string_value(json_object_get(json_array_get(hits, 0), "content"));
  char *out = c ? loom_strdup(c) : NULL;
  json_decref(hits);
  return out;
}

static void expect(const char *ns, const char *kind, const char *query,
                   const char *want) {
  char *got = first(ns, kind, query);
  if (!got || !strstr(got, want))
    fail_msg("recall '%s': got '%s', want '%s'", query, got ? got : "(none)",
             want);
  loom_free(got);
}

static void test_recall_ranks_relevant_first(void **state) {
  (void)state;
  expect("crew-a", NULL, "what language should reports be in", "French");
  expect("crew-a", NULL, "steps before we deploy the database", "migrations");
  expect("crew-a", NULL, "which postgresql version", "PostgreSQL 15");
  expect("crew-a", LOOM_MEMORY_SHORT_TERM, "when is the sync", "Tuesday");
  char *none = first("crew-a", LOOM_MEMORY_SHORT_TERM, "French reports");
  assert_null(none); /* kind filters, and nothing matches */
  assert_null(first("crew-b", NULL, "French reports")); /* namespaces apart */
}

static void test_entities_replace_by_key(void **state) {
  (void)state;
  remember("crew-a", LOOM_MEMORY_ENTITY, "Acme", "Acme Corp is in Lyon.", 0);
  json_t *a = NULL, *b = NULL;
  struct loom_error e = {0};
  assert_int_equal(loom_memory_entity(store, "t1", "crew-a", "Acme", &a, &e),
                   LOOM_OK);
  remember("crew-a", LOOM_MEMORY_ENTITY, "Acme", "Acme Corp moved to Paris.",
           0);
  assert_int_equal(loom_memory_entity(store, "t1", "crew-a", "Acme", &b, &e),
                   LOOM_OK);
  assert_string_equal(json_string_value(json_object_get(b, "content")),
                      "Acme Corp moved to Paris.");
  assert_string_equal(json_string_value(json_object_get(a, "memory_id")),
                      json_string_value(json_object_get(b, "memory_id")));
  /* Another tenant sees nothing. */
  json_t *none = NULL;
  assert_int_equal(loom_memory_entity(store, "t2", "crew-a", "Acme", &none, &e),
                   LOOM_ERR_NOT_FOUND);
  /* Forget by id. */
  assert_int_equal(loom_memory_forget(
                       store, "t1", "crew-a",
                       json_string_value(json_object_get(b, "memory_id")), &e),
                   LOOM_OK);
  assert_int_equal(loom_memory_entity(store, "t1", "crew-a", "Acme", &none, &e),
                   LOOM_ERR_NOT_FOUND);
  json_decref(a);
  json_decref(b);
}

static void test_expiry_and_forget_namespace(void **state) {
  (void)state;
  remember("crew-c", LOOM_MEMORY_SHORT_TERM, NULL, "Fleeting thought.", 1);
  remember("crew-c", LOOM_MEMORY_SHORT_TERM, NULL, "Lasting thought.", 0);
  nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
  json_t *all = NULL;
  struct loom_error e = {0};
  assert_int_equal(
      loom_memory_recall(store, "t1", "crew-c", NULL, "", 10, &all, &e),
      LOOM_OK);
  assert_int_equal(json_array_size(all), 1);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(all, 0), "content")),
      "Lasting thought.");
  json_decref(all);
  assert_int_equal(loom_memory_forget(store, "t1", "crew-c", NULL, &e),
                   LOOM_OK);
  assert_int_equal(
      loom_memory_recall(store, "t1", "crew-c", NULL, "", 10, &all, &e),
      LOOM_OK);
  assert_int_equal(json_array_size(all), 0);
  json_decref(all);
  struct loom_memory bad = {.ns = "x", .kind = "episodic", .content = "c"};
  assert_int_equal(loom_memory_remember(store, "t1", &bad, NULL, &e),
                   LOOM_ERR_INVALID);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_recall_ranks_relevant_first),
      cmocka_unit_test(test_entities_replace_by_key),
      cmocka_unit_test(test_expiry_and_forget_namespace),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
