/*
 * Cache tests: the in-process backend's get/set/delete, time to live, LRU
 * eviction within the byte budget, delete by prefix, JSON values, a table
 * that grows, and use from several threads; and backend selection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "stores/cache.h"

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static bool has(struct loom_cache *c, const char *key) {
  char *v = NULL;
  loom_err err = loom_cache_get(c, key, &v, NULL);
  loom_free(v);
  return err == LOOM_OK;
}

static void test_open(void **state) {
  (void)state;
  struct loom_cache *c = NULL;
  struct loom_error e = {0};
  assert_int_equal(loom_cache_open("", 0, &c, &e), LOOM_OK);
  assert_string_equal(loom_cache_backend(c), "memory");
  struct loom_cache_stats st;
  loom_cache_stats(c, &st);
  assert_int_equal(st.max_bytes, LOOM_CACHE_DEFAULT_BYTES);
  loom_cache_free(c);
  assert_int_equal(loom_cache_open("redis://localhost:6379", 0, &c, &e),
                   LOOM_ERR_UNSUPPORTED);
  assert_non_null(strstr(e.message, "REDIS_URL"));
  assert_int_equal(loom_cache_open("memcached://x", 0, &c, &e),
                   LOOM_ERR_INVALID);
  assert_null(c);
}

static void test_get_set_del(void **state) {
  (void)state;
  struct loom_cache *c = loom_cache_memory_new(1 << 20);
  char *v = NULL;
  size_t len = 0;
  assert_int_equal(loom_cache_get(c, "k", &v, &len), LOOM_ERR_NOT_FOUND);
  assert_null(v);
  assert_int_equal(loom_cache_set(c, "k", "a\0b", 3, 0), LOOM_OK);
  assert_int_equal(loom_cache_get(c, "k", &v, &len), LOOM_OK);
  assert_int_equal(len, 3);
  assert_memory_equal(v, "a\0b", 3);
  loom_free(v);
  assert_int_equal(loom_cache_set(c, "k", "second", 6, 0), LOOM_OK);
  assert_int_equal(loom_cache_get(c, "k", &v, NULL), LOOM_OK);
  assert_string_equal(v, "second");
  loom_free(v);
  struct loom_cache_stats st;
  loom_cache_stats(c, &st);
  assert_int_equal(st.hits, 2);
  assert_int_equal(st.misses, 1);
  assert_int_equal(st.entries, 1);
  assert_int_equal(loom_cache_del(c, "k"), LOOM_OK);
  assert_int_equal(loom_cache_del(c, "k"), LOOM_OK);
  assert_false(has(c, "k"));
  loom_cache_stats(c, &st);
  assert_int_equal(st.entries, 0);
  assert_int_equal(st.bytes, 0);
  loom_cache_free(c);
}

static void test_ttl_expiry(void **state) {
  (void)state;
  struct loom_cache *c = loom_cache_memory_new(1 << 20);
  assert_int_equal(loom_cache_set(c, "short", "v", 1, 40), LOOM_OK);
  assert_int_equal(loom_cache_set(c, "forever", "v", 1, 0), LOOM_OK);
  assert_int_equal(loom_cache_set(c, "long", "v", 1, 60000), LOOM_OK);
  assert_true(has(c, "short"));
  sleep_ms(80);
  assert_false(has(c, "short"));
  assert_true(has(c, "forever"));
  assert_true(has(c, "long"));
  struct loom_cache_stats st;
  loom_cache_stats(c, &st);
  assert_int_equal(st.expired, 1);
  assert_int_equal(st.entries, 2);
  /* Setting again restarts the clock. */
  assert_int_equal(loom_cache_set(c, "short", "v", 1, 60000), LOOM_OK);
  assert_true(has(c, "short"));
  loom_cache_free(c);
}

static void test_lru_eviction_within_budget(void **state) {
  (void)state;
  /* Measure what one entry costs, then allow exactly five. */
  struct loom_cache *probe = loom_cache_memory_new(1 << 20);
  char value[100];
  memset(value, 'v', sizeof value);
  assert_int_equal(loom_cache_set(probe, "k0", value, sizeof value, 0),
                   LOOM_OK);
  struct loom_cache_stats st;
  loom_cache_stats(probe, &st);
  size_t one = st.bytes;
  loom_cache_free(probe);

  struct loom_cache *c = loom_cache_memory_new(5 * one);
  char key[8];
  for (int i = 0; i < 5; i++) {
    snprintf(key, sizeof key, "k%d", i);
    assert_int_equal(loom_cache_set(c, key, value, sizeof value, 0), LOOM_OK);
  }
  assert_true(has(c, "k0")); /* k0 is now the most recent; k1 the least */
  assert_int_equal(loom_cache_set(c, "k5", value, sizeof value, 0), LOOM_OK);
  assert_false(has(c, "k1"));
  assert_true(has(c, "k0"));
  for (int i = 2; i <= 5; i++) {
    snprintf(key, sizeof key, "k%d", i);
    assert_true(has(c, key));
  }
  loom_cache_stats(c, &st);
  assert_int_equal(st.evictions, 1);
  assert_int_equal(st.entries, 5);
  assert_true(st.bytes <= 5 * one);
  /* A value bigger than the whole budget is refused and leaves no stale
   * value behind. */
  char *big = loom_calloc(1, 6 * one);
  assert_int_equal(loom_cache_set(c, "k0", big, 6 * one, 0),
                   LOOM_ERR_TOO_LARGE);
  assert_false(has(c, "k0"));
  loom_free(big);
  /* A wide entry pushes out the oldest entries until all fits. */
  char *wide = loom_calloc(1, 2 * one);
  assert_int_equal(loom_cache_set(c, "wide", wide, 2 * one, 0), LOOM_OK);
  loom_free(wide);
  loom_cache_stats(c, &st);
  assert_true(st.bytes <= 5 * one);
  assert_true(has(c, "wide"));
  assert_true(has(c, "k5"));
  assert_false(has(c, "k2"));
  loom_cache_free(c);
}

static void test_delete_prefix(void **state) {
  (void)state;
  struct loom_cache *c = loom_cache_memory_new(1 << 20);
  const char *keys[] = {"api:t1:/threads", "api:t1:/assistants",
                        "api:t10:/threads", "state:t1:th", "api:t2:/threads"};
  for (size_t i = 0; i < 5; i++)
    assert_int_equal(loom_cache_set(c, keys[i], "x", 1, 0), LOOM_OK);
  size_t removed = 0;
  assert_int_equal(loom_cache_del_prefix(c, "api:t1:", &removed), LOOM_OK);
  assert_int_equal(removed, 2);
  assert_false(has(c, "api:t1:/threads"));
  assert_false(has(c, "api:t1:/assistants"));
  assert_true(has(c, "api:t10:/threads"));
  assert_true(has(c, "state:t1:th"));
  assert_true(has(c, "api:t2:/threads"));
  assert_int_equal(loom_cache_del_prefix(c, "", &removed), LOOM_OK);
  assert_int_equal(removed, 3);
  struct loom_cache_stats st;
  loom_cache_stats(c, &st);
  assert_int_equal(st.entries, 0);
  assert_int_equal(st.bytes, 0);
  loom_cache_free(c);
}

static void test_json_and_growth(void **state) {
  (void)state;
  struct loom_cache *c = loom_cache_memory_new(64u << 20);
  json_t *v = json_pack("{s:s, s:[i, i]}", "status", "idle", "ids", 1, 2);
  assert_int_equal(loom_cache_set_json(c, "state:t:th", v, 0), LOOM_OK);
  json_t *got = NULL;
  assert_int_equal(loom_cache_get_json(c, "state:t:th", &got), LOOM_OK);
  assert_true(json_equal(v, got));
  json_decref(got), json_decref(v);
  assert_int_equal(loom_cache_set(c, "bad", "{", 1, 0), LOOM_OK);
  assert_int_equal(loom_cache_get_json(c, "bad", &got), LOOM_ERR_NOT_FOUND);
  assert_false(has(c, "bad"));
  /* Many keys: the table grows and every key is still found. */
  char key[32], *out = NULL;
  for (int i = 0; i < 20000; i++) {
    snprintf(key, sizeof key, "key-%d", i);
    assert_int_equal(loom_cache_set(c, key, key, strlen(key), 0), LOOM_OK);
  }
  for (int i = 0; i < 20000; i += 7) {
    snprintf(key, sizeof key, "key-%d", i);
    assert_int_equal(loom_cache_get(c, key, &out, NULL), LOOM_OK);
    assert_string_equal(out, key);
    loom_free(out);
  }
  loom_cache_free(c);
}

enum { WORKERS = 4, OPS = 20000 };

struct worker {
  struct loom_cache *cache;
  int id;
  int wrong; /* reads that returned another key's value */
};

static void *worker_main(void *arg) {
  struct worker *w = arg;
  char key[32], value[32], *out = NULL;
  for (int i = 0; i < OPS; i++) {
    int k = (i * 7 + w->id) % 500;
    snprintf(key, sizeof key, "k%d", k);
    snprintf(value, sizeof value, "value-of-k%d", k);
    switch (i % 4) {
    case 0:
    case 1:
      (void)loom_cache_set(w->cache, key, value, strlen(value), i % 2 ? 0 : 50);
      break;
    case 2:
      if (loom_cache_get(w->cache, key, &out, NULL) == LOOM_OK) {
        w->wrong += strcmp(out, value) != 0;
        loom_free(out);
      }
      break;
    default:
      if (i % 400 == 3)
        (void)loom_cache_del_prefix(w->cache, "k1", NULL);
      else
        (void)loom_cache_del(w->cache, key);
    }
  }
  return NULL;
}

static void test_concurrent_use(void **state) {
  (void)state;
  struct loom_cache *c = loom_cache_memory_new(16 * 1024);
  pthread_t tids[WORKERS];
  struct worker ws[WORKERS];
  for (int i = 0; i < WORKERS; i++) {
    ws[i] = (struct worker){.cache = c, .id = i};
    assert_int_equal(pthread_create(&tids[i], NULL, worker_main, &ws[i]), 0);
  }
  for (int i = 0; i < WORKERS; i++) {
    pthread_join(tids[i], NULL);
    assert_int_equal(ws[i].wrong, 0);
  }
  struct loom_cache_stats st;
  loom_cache_stats(c, &st);
  assert_true(st.bytes <= 16 * 1024);
  assert_true(st.evictions > 0);
  assert_true(st.hits + st.misses == WORKERS * OPS / 4);
  loom_cache_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open),
      cmocka_unit_test(test_get_set_del),
      cmocka_unit_test(test_ttl_expiry),
      cmocka_unit_test(test_lru_eviction_within_budget),
      cmocka_unit_test(test_delete_prefix),
      cmocka_unit_test(test_json_and_growth),
      cmocka_unit_test(test_concurrent_use),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
