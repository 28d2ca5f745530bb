/*
 * Store tests for the JSON-row operations (assistants, threads, runs and
 * the run queue, run events) on a real SQLite file in a temporary
 * directory.
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

#include "core/alloc.h"
#include "store_fixture.h"
#include "stores/store.h"

static const char *str(const json_t *row, const char *key) {
  const char *s = json_string_value(json_object_get(row, key));
  return s ? s : "(null)";
}

static long long num(const json_t *row, const char *key) {
  return json_integer_value(json_object_get(row, key));
}

/* Returns the values of `key` across an array of rows, joined by ','. */
static char *column(const json_t *rows, const char *key) {
  char *out = loom_strdup("");
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row) {
    char *next = loom_asprintf("%s%s%s", out, i ? "," : "", str(row, key));
    loom_free(out);
    out = next;
  }
  return out;
}

static void assert_column(const json_t *rows, const char *key,
                          const char *want) {
  char *got = column(rows, key);
  assert_string_equal(got, want);
  loom_free(got);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- assistants ---- */

static json_t *put_assistant(struct loom_store *s, const char *tenant,
                             const char *json) {
  json_t *row = json_loads(json, 0, NULL), *out = NULL;
  struct loom_error e = {0};
  loom_err err =
      loom_store_put_assistant(s, tenant, row, LOOM_IF_EXISTS_RAISE, &out, &e);
  if (err)
    fprintf(stderr, "put_assistant: %s\n", e.message);
  assert_int_equal(err, LOOM_OK);
  json_decref(row);
  return out;
}

static void test_assistant_versions(void **state) {
  struct store_fixture *f = *state;
  json_t *a = put_assistant(f->store, "t1",
                            "{\"graph_id\":\"approval\",\"config\":{\"k\":1},"
                            "\"metadata\":{\"owner\":\"ann\"}}");
  assert_int_equal(strlen(str(a, "assistant_id")), 36);
  assert_string_equal(str(a, "name"), "approval");
  assert_int_equal(num(a, "version"), 1);
  assert_non_null(strstr(str(a, "created_at"), "+00:00"));
  char *id = loom_strdup(str(a, "assistant_id"));

  /* The same id again: refused, or handed back untouched. */
  json_t *again = json_pack("{s:s, s:s}", "assistant_id", id, "graph_id", "x");
  json_t *out = NULL;
  struct loom_error e = {0};
  assert_int_equal(loom_store_put_assistant(f->store, "t1", again,
                                            LOOM_IF_EXISTS_RAISE, &out, &e),
                   LOOM_ERR_EXISTS);
  assert_null(out);
  assert_int_equal(loom_store_put_assistant(f->store, "t1", again,
                                            LOOM_IF_EXISTS_DO_NOTHING, &out,
                                            &e),
                   LOOM_OK);
  assert_string_equal(str(out, "graph_id"), "approval");
  json_decref(out), json_decref(again);

  /* An update is version 2: config replaced, metadata merged. */
  json_t *patch = json_pack("{s:{s:i}, s:{s:s}}", "config", "k", 2, "metadata",
                            "team", "ops");
  assert_int_equal(
      loom_store_update_assistant(f->store, "t1", id, patch, &out, &e),
      LOOM_OK);
  assert_int_equal(num(out, "version"), 2);
  assert_int_equal(num(json_object_get(out, "config"), "k"), 2);
  assert_string_equal(str(json_object_get(out, "metadata"), "owner"), "ann");
  assert_string_equal(str(json_object_get(out, "metadata"), "team"), "ops");
  json_decref(out), json_decref(patch);

  json_t *versions = NULL;
  assert_int_equal(loom_store_list_assistant_versions(f->store, "t1", id, NULL,
                                                      &versions, &e),
                   LOOM_OK);
  assert_int_equal(json_array_size(versions), 2);
  assert_int_equal(num(json_array_get(versions, 0), "version"), 2);
  assert_int_equal(num(json_array_get(versions, 1), "version"), 1);
  json_decref(versions);

  /* Back to version 1. */
  assert_int_equal(
      loom_store_set_assistant_version(f->store, "t1", id, 1, &out, &e),
      LOOM_OK);
  assert_int_equal(num(out, "version"), 1);
  assert_int_equal(num(json_object_get(out, "config"), "k"), 1);
  json_decref(out);
  assert_int_equal(
      loom_store_set_assistant_version(f->store, "t1", id, 7, &out, &e),
      LOOM_ERR_NOT_FOUND);

  /* Another tenant does not see it; deleting removes it and its versions. */
  assert_int_equal(loom_store_get_assistant(f->store, "t2", id, &out, &e),
                   LOOM_ERR_NOT_FOUND);
  assert_int_equal(loom_store_delete_assistant(f->store, "t2", id, &e),
                   LOOM_ERR_NOT_FOUND);
  assert_int_equal(loom_store_delete_assistant(f->store, "t1", id, &e),
                   LOOM_OK);
  assert_int_equal(loom_store_get_assistant(f->store, "t1", id, &out, &e),
                   LOOM_ERR_NOT_FOUND);
  assert_int_equal(loom_store_list_assistant_versions(f->store, "t1", id, NULL,
                                                      &versions, &e),
                   LOOM_OK);
  assert_int_equal(json_array_size(versions), 0);
  json_decref(versions), json_decref(a);
  loom_free(id);
}

static void test_assistant_search(void **state) {
  struct store_fixture *f = *state;
  const char *specs[] = {
      "{\"assistant_id\":\"a1\",\"graph_id\":\"g1\",\"name\":\"charlie\","
      "\"metadata\":{\"env\":\"prod\"}}",
      "{\"assistant_id\":\"a2\",\"graph_id\":\"g2\",\"name\":\"alpha\","
      "\"metadata\":{\"env\":\"dev\"}}",
      "{\"assistant_id\":\"a3\",\"graph_id\":\"g1\",\"name\":\"bravo\","
      "\"metadata\":{\"env\":\"prod\"}}",
  };
  for (int i = 0; i < 3; i++) {
    json_decref(put_assistant(f->store, "t1", specs[i]));
    sleep_ms(2); /* distinct created_at */
  }
  json_decref(put_assistant(f->store, "t2", "{\"graph_id\":\"g1\"}"));
  json_t *rows = NULL;
  struct loom_error e = {0};
  assert_int_equal(
      loom_store_search_assistants(f->store, "t1", NULL, &rows, &e), LOOM_OK);
  assert_column(rows, "assistant_id", "a3,a2,a1");
  json_decref(rows);
  assert_int_equal(
      loom_store_search_assistants(
          f->store, "t1", &(struct loom_search){.graph_id = "g1"}, &rows, &e),
      LOOM_OK);
  assert_column(rows, "assistant_id", "a3,a1");
  json_decref(rows);
  json_t *meta = json_pack("{s:s}", "env", "prod");
  assert_int_equal(
      loom_store_search_assistants(f->store, "t1",
                                   &(struct loom_search){.metadata = meta,
                                                         .sort_by = "name",
                                                         .ascending = true},
                                   &rows, &e),
      LOOM_OK);
  assert_column(rows, "name", "bravo,charlie");
  json_decref(rows), json_decref(meta);
  assert_int_equal(
      loom_store_search_assistants(
          f->store, "t1",
          &(struct loom_search){
              .sort_by = "name", .ascending = true, .limit = 1, .offset = 1},
          &rows, &e),
      LOOM_OK);
  assert_column(rows, "name", "bravo");
  json_decref(rows);
  assert_int_equal(loom_store_search_assistants(
                       f->store, "t1",
                       &(struct loom_search){.sort_by = "config; DROP"}, &rows,
                       &e),
                   LOOM_ERR_INVALID);
  assert_null(rows);
  size_t count = 0;
  assert_int_equal(
      loom_store_count_assistants(
          f->store, "t1", &(struct loom_search){.graph_id = "g1"}, &count, &e),
      LOOM_OK);
  assert_int_equal(count, 2);
  /* Counting ignores paging. */
  assert_int_equal(loom_store_count_assistants(
                       f->store, "t1",
                       &(struct loom_search){.limit = 1, .offset = 1}, &count,
                       &e),
                   LOOM_OK);
  assert_int_equal(count, 3);
}

/* ---- threads ---- */

static void put_thread(struct loom_store *s, const char *tenant,
                       const char *json) {
  json_t *row = json_loads(json, 0, NULL), *out = NULL;
  assert_int_equal(
      loom_store_put_thread(s, tenant, row, LOOM_IF_EXISTS_RAISE, &out, NULL),
      LOOM_OK);
  json_decref(row), json_decref(out);
}

static void test_threads(void **state) {
  struct store_fixture *f = *state;
  put_thread(f->store, "t1", "{\"thread_id\":\"th1\",\"metadata\":{\"u\":1}}");
  sleep_ms(2);
  put_thread(f->store, "t1", "{\"thread_id\":\"th2\"}");
  json_t *out = NULL;
  struct loom_error e = {0};
  assert_int_equal(loom_store_get_thread(f->store, "t1", "th1", &out, &e),
                   LOOM_OK);
  assert_string_equal(str(out, "status"), "idle");
  assert_true(json_is_null(json_object_get(out, "values")));
  json_decref(out);

  json_t *patch = json_pack("{s:s, s:{s:s}, s:{s:i}}", "status", "interrupted",
                            "values", "draft", "hello", "metadata", "v", 2);
  assert_int_equal(
      loom_store_update_thread(f->store, "t1", "th1", patch, &out, &e),
      LOOM_OK);
  assert_string_equal(str(out, "status"), "interrupted");
  assert_string_equal(str(json_object_get(out, "values"), "draft"), "hello");
  assert_int_equal(num(json_object_get(out, "metadata"), "u"), 1);
  assert_int_equal(num(json_object_get(out, "metadata"), "v"), 2);
  json_decref(out), json_decref(patch);
  patch = json_pack("{s:s}", "status", "sleeping");
  assert_int_equal(
      loom_store_update_thread(f->store, "t1", "th1", patch, NULL, &e),
      LOOM_ERR_INVALID);
  json_decref(patch);

  json_t *rows = NULL, *values = json_pack("{s:s}", "draft", "hello");
  assert_int_equal(
      loom_store_search_threads(
          f->store, "t1", &(struct loom_search){.status = "idle"}, &rows, &e),
      LOOM_OK);
  assert_column(rows, "thread_id", "th2");
  json_decref(rows);
  assert_int_equal(
      loom_store_search_threads(
          f->store, "t1", &(struct loom_search){.values = values}, &rows, &e),
      LOOM_OK);
  assert_column(rows, "thread_id", "th1");
  json_decref(rows), json_decref(values);
  assert_int_equal(
      loom_store_search_threads(
          f->store, "t1", &(struct loom_search){.ascending = true}, &rows, &e),
      LOOM_OK);
  assert_column(rows, "thread_id", "th1,th2");
  json_decref(rows);
  json_t *ids = json_pack("[s, s]", "th2", "nope");
  assert_int_equal(loom_store_search_threads(f->store, "t1",
                                             &(struct loom_search){.ids = ids},
                                             &rows, &e),
                   LOOM_OK);
  assert_column(rows, "thread_id", "th2");
  json_decref(rows), json_decref(ids);
  size_t count = 0;
  assert_int_equal(loom_store_count_threads(f->store, "t1", NULL, &count, &e),
                   LOOM_OK);
  assert_int_equal(count, 2);
  assert_int_equal(
      loom_store_count_threads(f->store, "t1",
                               &(struct loom_search){.status = "interrupted"},
                               &count, &e),
      LOOM_OK);
  assert_int_equal(count, 1);
  assert_int_equal(loom_store_search_threads(f->store, "t2", NULL, &rows, &e),
                   LOOM_OK);
  assert_int_equal(json_array_size(rows), 0);
  json_decref(rows);
  json_t *empty = json_object();
  assert_int_equal(
      loom_store_update_thread(f->store, "t2", "th1", empty, NULL, &e),
      LOOM_ERR_NOT_FOUND);
  json_decref(empty);
}

static void test_delete_thread_cascades(void **state) {
  struct store_fixture *f = *state;
  put_thread(f->store, "t1", "{\"thread_id\":\"th\"}");
  json_t *row = json_pack("{s:s, s:s}", "thread_id", "th", "run_id", "r1");
  json_t *out = NULL;
  struct loom_error e = {0};
  assert_int_equal(loom_store_put_run(f->store, "t1", row, &out, &e), LOOM_OK);
  json_decref(out), json_decref(row);
  assert_int_equal(loom_store_append_run_event(f->store, "t1", "r1", "values",
                                               NULL, NULL, &e),
                   LOOM_OK);
  json_t *doc = json_pack("{s:{}}", "channel_versions");
  struct loom_checkpoint cp = {.thread_id = "th",
                               .id = "00000000-0000-7000-8000-000000000001",
                               .checkpoint = doc};
  assert_int_equal(loom_store_put_checkpoint(f->store, "t1", &cp, NULL, 0, &e),
                   LOOM_OK);
  json_decref(doc);
  assert_int_equal(loom_store_delete_thread(f->store, "t1", "th", &e), LOOM_OK);
  assert_int_equal(loom_store_get_run(f->store, "t1", "r1", &out, &e),
                   LOOM_ERR_NOT_FOUND);
  struct loom_checkpoint *got = NULL;
  assert_int_equal(
      loom_store_get_checkpoint(f->store, "t1", "th", "", NULL, &got, &e),
      LOOM_ERR_NOT_FOUND);
  json_t *events = NULL;
  assert_int_equal(
      loom_store_read_run_events(f->store, "t1", "r1", 0, 0, &events, &e),
      LOOM_OK);
  assert_int_equal(json_array_size(events), 0);
  json_decref(events);
  assert_int_equal(loom_store_delete_thread(f->store, "t1", "th", &e),
                   LOOM_ERR_NOT_FOUND);
}

/* ---- runs and the queue ---- */

static void put_run(struct loom_store *s, const char *tenant,
                    const char *thread, const char *id) {
  json_t *row = json_pack("{s:s, s:s, s:s, s:{s:i}}", "run_id", id, "thread_id",
                          thread, "assistant_id", "a", "kwargs", "input", 1);
  json_t *out = NULL;
  struct loom_error e = {0};
  loom_err err = loom_store_put_run(s, tenant, row, &out, &e);
  if (err)
    fprintf(stderr, "put_run: %s\n", e.message);
  assert_int_equal(err, LOOM_OK);
  assert_string_equal(str(out, "status"), "pending");
  assert_string_equal(str(out, "multitask_strategy"), "reject");
  json_decref(row), json_decref(out);
  sleep_ms(2);
}

/* Claims and returns the run id, or "" when nothing is ready. */
static void claim(struct loom_store *s, const char *worker, long long lease,
                  char *id, size_t n, long long *attempt) {
  json_t *out = NULL;
  struct loom_error e = {0};
  loom_err err = loom_store_claim_run(s, worker, lease, &out, &e);
  assert_true(err == LOOM_OK || err == LOOM_ERR_NOT_FOUND);
  snprintf(id, n, "%s", err ? "" : str(out, "run_id"));
  if (!err) {
    assert_string_equal(str(out, "status"), "running");
    assert_string_equal(str(out, "tenant_id"), "t1");
    if (attempt)
      *attempt = num(out, "attempt");
  }
  json_decref(out);
}

static void test_runs_and_queue(void **state) {
  struct store_fixture *f = *state;
  struct loom_error e = {0};
  json_t *out = NULL, *rows = NULL;
  json_t *orphan = json_pack("{s:s}", "thread_id", "nope");
  assert_int_equal(loom_store_put_run(f->store, "t1", orphan, &out, &e),
                   LOOM_ERR_NOT_FOUND);
  json_decref(orphan);
  put_thread(f->store, "t1", "{\"thread_id\":\"A\"}");
  put_thread(f->store, "t1", "{\"thread_id\":\"B\"}");
  put_run(f->store, "t1", "A", "a1");
  put_run(f->store, "t1", "A", "a2");
  put_run(f->store, "t1", "B", "b1");
  assert_int_equal(loom_store_list_runs(f->store, "t1", "A", NULL, &rows, &e),
                   LOOM_OK);
  assert_column(rows, "run_id", "a2,a1");
  json_decref(rows);

  /* Oldest first, one run per thread at a time. */
  char id[64];
  long long attempt = 0;
  claim(f->store, "w1", 60000, id, sizeof id, &attempt);
  assert_string_equal(id, "a1");
  assert_int_equal(attempt, 1);
  claim(f->store, "w2", 60000, id, sizeof id, NULL);
  assert_string_equal(id, "b1");
  claim(f->store, "w3", 60000, id, sizeof id, NULL);
  assert_string_equal(id, ""); /* a2 waits for a1 */

  /* Only the holder renews; a finished run frees its thread. */
  assert_int_equal(
      loom_store_renew_run_lease(f->store, "t1", "a1", "w2", 60000, &e),
      LOOM_ERR_CONFLICT);
  assert_int_equal(
      loom_store_renew_run_lease(f->store, "t1", "a1", "w1", 60000, &e),
      LOOM_OK);
  assert_int_equal(loom_store_set_run_status(f->store, "t1", "a1", "success",
                                             "running", NULL, &e),
                   LOOM_OK);
  assert_int_equal(loom_store_set_run_status(f->store, "t1", "a1",
                                             "interrupted", "running", NULL,
                                             &e),
                   LOOM_ERR_CONFLICT);
  assert_int_equal(loom_store_get_run(f->store, "t1", "a1", &out, &e), LOOM_OK);
  assert_string_equal(str(out, "status"), "success");
  assert_true(json_is_string(json_object_get(out, "finished_at")));
  json_decref(out);
  assert_int_equal(
      loom_store_renew_run_lease(f->store, "t1", "a1", "w1", 60000, &e),
      LOOM_ERR_CONFLICT);

  /* A worker that dies: its lease runs out and the run is taken again. */
  claim(f->store, "w3", 1, id, sizeof id, NULL);
  assert_string_equal(id, "a2");
  sleep_ms(5);
  claim(f->store, "w4", 60000, id, sizeof id, &attempt);
  assert_string_equal(id, "a2");
  assert_int_equal(attempt, 2);

  /* Status filter, other tenants, deletion. */
  assert_int_equal(loom_store_list_runs(
                       f->store, "t1", "A",
                       &(struct loom_search){.status = "success"}, &rows, &e),
                   LOOM_OK);
  assert_column(rows, "run_id", "a1");
  json_decref(rows);
  assert_int_equal(loom_store_get_run(f->store, "t2", "a1", &out, &e),
                   LOOM_ERR_NOT_FOUND);
  assert_int_equal(
      loom_store_set_run_status(f->store, "t2", "a2", "error", NULL, NULL, &e),
      LOOM_ERR_NOT_FOUND);
  assert_int_equal(loom_store_delete_run(f->store, "t1", "a1", &e), LOOM_OK);
  assert_int_equal(loom_store_delete_run(f->store, "t1", "a1", &e),
                   LOOM_ERR_NOT_FOUND);
}

static void test_run_events(void **state) {
  struct store_fixture *f = *state;
  struct loom_error e = {0};
  put_thread(f->store, "t1", "{\"thread_id\":\"th\"}");
  put_run(f->store, "t1", "th", "r1");
  for (int i = 1; i <= 5; i++) {
    long long seq = 0;
    json_t *data = json_pack("{s:i}", "i", i);
    assert_int_equal(loom_store_append_run_event(f->store, "t1", "r1",
                                                 i == 5 ? "end" : "values",
                                                 data, &seq, &e),
                     LOOM_OK);
    assert_int_equal(seq, i);
    json_decref(data);
  }
  json_t *events = NULL;
  assert_int_equal(
      loom_store_read_run_events(f->store, "t1", "r1", 2, 0, &events, &e),
      LOOM_OK);
  assert_int_equal(json_array_size(events), 3);
  assert_int_equal(num(json_array_get(events, 0), "seq"), 3);
  assert_int_equal(num(json_object_get(json_array_get(events, 0), "data"), "i"),
                   3);
  assert_string_equal(str(json_array_get(events, 2), "event"), "end");
  json_decref(events);
  assert_int_equal(
      loom_store_read_run_events(f->store, "t1", "r1", 0, 2, &events, &e),
      LOOM_OK);
  assert_int_equal(json_array_size(events), 2);
  json_decref(events);
  assert_int_equal(
      loom_store_read_run_events(f->store, "t2", "r1", 0, 0, &events, &e),
      LOOM_OK);
  assert_int_equal(json_array_size(events), 0);
  json_decref(events);
  assert_int_equal(loom_store_append_run_event(f->store, "t2", "r1", "values",
                                               NULL, NULL, &e),
                   LOOM_ERR_NOT_FOUND);
}

/* A backend that implements only the schema ops. */
static void test_missing_op_is_unsupported(void **state) {
  (void)state;
  static const struct loom_store_ops ops = {.name = "partial"};
  struct loom_store partial = {.ops = &ops};
  struct loom_error e = {0};
  json_t *out = NULL;
  assert_int_equal(loom_store_get_thread(&partial, "t1", "th", &out, &e),
                   LOOM_ERR_UNSUPPORTED);
  assert_non_null(strstr(e.message, "partial"));
  assert_non_null(strstr(e.message, "get_thread"));
  assert_null(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(
          test_assistant_versions, store_fixture_setup, store_fixture_teardown),
      cmocka_unit_test_setup_teardown(
          test_assistant_search, store_fixture_setup, store_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_threads, store_fixture_setup,
                                      store_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_delete_thread_cascades,
                                      store_fixture_setup,
                                      store_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_runs_and_queue, store_fixture_setup,
                                      store_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_run_events, store_fixture_setup,
                                      store_fixture_teardown),
      cmocka_unit_test(test_missing_op_is_unsupported),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
