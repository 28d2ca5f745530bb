/*
 * Unit tests for the LangGraph API's building blocks (src/api): the
 * resource tables (insertion order kept across growth and removals), run
 * events reaching a watcher on its loop, system assistant ids equal to
 * LangGraph's, validation messages that name the field, and a run's
 * config and metadata merged from its assistant and thread as LangGraph's
 * server merges them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api/internal.h"
#include "core/alloc.h"
#include "io/loop.h"

static bool collect_thread(struct api_thread *t, void *arg) {
  json_array_append_new(arg, json_string(t->id));
  return true;
}

static void threads_keep_insertion_order(void **state) {
  (void)state;
  char ids[300][LOOM_ID_LEN + 1];
  api_lock();
  for (int i = 0; i < 300; i++) { /* enough to grow the map twice */
    snprintf(ids[i], sizeof ids[i], "00000000-0000-4000-8000-%012d", i);
    api_thread_add(ids[i], NULL);
  }
  for (int i = 0; i < 300; i += 3)
    api_thread_remove(api_thread_find(ids[i]));
  assert_null(api_thread_find(ids[0]));
  assert_non_null(api_thread_find(ids[1]));
  json_t *seen = json_array();
  api_threads_each(collect_thread, seen);
  assert_int_equal(json_array_size(seen), 200);
  size_t k = 0;
  for (int i = 0; i < 300; i++)
    if (i % 3)
      assert_string_equal(json_string_value(json_array_get(seen, k++)), ids[i]);
  json_decref(seen);
  for (int i = 0; i < 300; i++)
    if (i % 3)
      api_thread_remove(api_thread_find(ids[i]));
  api_unlock();
}

/* Stateless runs come and go by the thousand: the table rehashes and
 * drops the holes they leave, and what stays keeps its order. */
static void threads_keep_order_through_churn(void **state) {
  (void)state;
  char keep[10][LOOM_ID_LEN + 1];
  api_lock();
  for (int i = 0; i < 20000; i++) {
    char id[LOOM_ID_LEN + 1];
    snprintf(id, sizeof id, "00000000-0000-4000-9000-%012d", i);
    struct api_thread *t = api_thread_add(id, NULL);
    if (i % 2000 == 0)
      snprintf(keep[i / 2000], sizeof keep[0], "%s", t->id);
    else
      api_thread_remove(t);
  }
  json_t *seen = json_array();
  api_threads_each(collect_thread, seen);
  assert_int_equal(json_array_size(seen), 10);
  for (size_t i = 0; i < 10; i++) {
    assert_string_equal(json_string_value(json_array_get(seen, i)), keep[i]);
    api_thread_remove(api_thread_find(keep[i]));
  }
  json_decref(seen);
  api_unlock();
}

struct wake {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  size_t seen;  /* events the watcher has read */
  bool on_loop; /* the callback ran on the watcher's loop */
};

static void watch_cb(struct api_watch *w) {
  struct wake *k = w->userdata;
  api_lock();
  size_t n = w->run->nevents;
  api_unlock();
  pthread_mutex_lock(&k->lock);
  k->seen = n;
  k->on_loop = loom_loop_is_current(w->loop);
  pthread_cond_broadcast(&k->cond);
  pthread_mutex_unlock(&k->lock);
}

static void wait_seen(struct wake *k, size_t n) {
  pthread_mutex_lock(&k->lock);
  while (k->seen < n)
    pthread_cond_wait(&k->cond, &k->lock);
  pthread_mutex_unlock(&k->lock);
}

static void run_events_wake_watchers_on_their_loop(void **state) {
  (void)state;
  struct loom_loop *loop = NULL;
  assert_int_equal(loom_loop_new("test-api", &loop), LOOM_OK);
  struct wake k = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0,
                   false};
  api_lock();
  struct api_run *r = api_run_new(NULL);
  api_run_emit(r, "*", "metadata", json_pack("{s:s}", "run_id", r->id));
  struct api_watch *w = api_watch_add(r, loop, false, watch_cb, &k);
  api_unlock();
  wait_seen(&k, 1); /* what was there before the watcher came */
  api_lock();
  api_run_emit(r, "values", "values", json_pack("{s:i}", "n", 1));
  api_run_emit(r, "*", "end", json_null());
  api_unlock();
  wait_seen(&k, 3);
  assert_true(k.on_loop);
  api_lock();
  assert_string_equal(r->events[1].event, "values");
  assert_int_equal(json_integer_value(json_object_get(r->events[1].data, "n")),
                   1);
  api_watch_remove(w);
  char id[LOOM_ID_LEN + 1];
  snprintf(id, sizeof id, "%s", r->id);
  assert_ptr_equal(api_run_find(id), r);
  api_run_remove(r); /* the table's reference was the last one */
  assert_null(api_run_find(id));
  api_unlock();
  loom_loop_free(loop); /* delivers (and frees) a wake-up still queued */
}

static void old_runs_keep_ids_and_end_but_drop_data(void **state) {
  (void)state;
  api_lock();
  struct api_run *first = NULL;
  for (int i = 0; i <= API_KEEP_EVENTS_RUNS; i++) {
    struct api_run *r = api_run_new(NULL);
    api_run_emit(r, "*", "metadata", json_object());
    api_run_emit(r, "values", "values", json_pack("{s:i}", "i", i));
    api_run_emit(r, "*", "end", json_null());
    api_run_retire(r);
    if (i == 0)
      first = r;
    else if (i == 1)
      assert_non_null(first->events[1].data); /* still within the window */
  }
  /* The oldest was trimmed when run number API_KEEP_EVENTS_RUNS retired. */
  assert_int_equal(first->nevents, 3);
  assert_null(first->events[0].mode);
  assert_null(first->events[1].data);
  assert_string_equal(first->events[2].event, "end");
  api_unlock();
}

/* A run's events read back from the store are sent to the streams whose
 * mode made them: the mode comes from the stored event name. */
static void stored_events_find_their_mode(void **state) {
  (void)state;
  char buf[64];
  assert_string_equal(api_event_mode("values", buf, sizeof buf), "values");
  assert_string_equal(api_event_mode("updates|sub:1", buf, sizeof buf),
                      "updates");
  assert_string_equal(api_event_mode("messages", buf, sizeof buf),
                      "messages-tuple");
  assert_string_equal(api_event_mode("messages|sub:1", buf, sizeof buf),
                      "messages-tuple");
  assert_string_equal(api_event_mode("messages/partial", buf, sizeof buf),
                      "messages");
  assert_string_equal(api_event_mode("messages/metadata", buf, sizeof buf),
                      "messages");
  assert_string_equal(api_event_mode("end", buf, sizeof buf), "*");
}

static void system_assistant_ids_match_langgraph(void **state) {
  (void)state;
  char id[LOOM_ID_LEN + 1];
  /* RFC 4122 test vector. */
  api_uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org", id);
  assert_string_equal(id, "886313e1-3b8a-5372-9b90-0c9aee199e5d");
  /* LangGraph's default assistant of a graph called "agent". */
  api_uuid5("6ba7b821-9dad-11d1-80b4-00c04fd430c8", "agent", id);
  assert_string_equal(id, "fe096781-5601-53d2-b2f6-0d3403f7e9ca");
  api_lock();
  api_assistant_ensure_system("agent");
  json_t *row = api_assistant_resolve("agent");
  assert_non_null(row);
  assert_string_equal(json_string_value(json_object_get(row, "assistant_id")),
                      id);
  assert_ptr_equal(api_assistant_resolve(id), row);
  api_assistant_remove(id);
  assert_null(api_assistant_resolve("agent"));
  api_unlock();
}

static void validation_names_the_field(void **state) {
  (void)state;
  static const char *const modes[] = {"reject", "enqueue", NULL};
  json_t *body = json_pack("{s:s, s:s, s:i, s:[s,i]}", "multitask_strategy",
                           "later", "name", "x", "limit", 0, "tags", "a", 1);
  struct loom_error e = {0};
  const char *s = NULL;
  assert_int_equal(api_opt_enum(body, "multitask_strategy", modes, &s, &e),
                   LOOM_ERR_INVALID);
  assert_string_equal(e.message, "multitask_strategy: must be one of "
                                 "'reject', 'enqueue' (got 'later')");
  long long n = 5;
  assert_int_equal(api_opt_int(body, "limit", 1, 10, &n, &e), LOOM_ERR_INVALID);
  assert_string_equal(e.message, "limit: must be between 1 and 10");
  assert_int_equal(n, 5);
  json_t *tags = NULL;
  assert_int_equal(api_opt_strings(body, "tags", &tags, &e), LOOM_ERR_INVALID);
  assert_null(tags);
  assert_int_equal(api_opt_int(body, "absent", 1, 10, &n, &e), LOOM_OK);
  assert_int_equal(api_opt_strings(body, "name", &tags, &e), LOOM_OK);
  assert_string_equal(json_string_value(json_array_get(tags, 0)), "x");
  json_decref(tags);
  json_t *modes_out = NULL;
  json_t *bad = json_pack("{s:s}", "stream_mode", "everything");
  assert_int_equal(api_stream_modes(bad, &modes_out, &e), LOOM_ERR_INVALID);
  assert_non_null(strstr(e.message, "stream_mode: 'everything'"));
  assert_int_equal(api_stream_modes(body, &modes_out, &e), LOOM_OK);
  assert_string_equal(json_string_value(json_array_get(modes_out, 0)),
                      "values");
  json_decref(modes_out);
  json_decref(bad);
  json_decref(body);
}

static void metadata_filters_match_nested_objects(void **state) {
  (void)state;
  json_t *obj =
      json_pack("{s:s, s:{s:i, s:i}}", "user", "ann", "tags", "a", 1, "b", 2);
  json_t *yes = json_pack("{s:{s:i}}", "tags", "a", 1);
  json_t *no = json_pack("{s:s}", "user", "bob");
  assert_true(api_json_contains(obj, yes));
  assert_false(api_json_contains(obj, no));
  assert_true(api_json_contains(obj, NULL));
  json_decref(obj);
  json_decref(yes);
  json_decref(no);
}

static int json_eq(const json_t *v, const char *text) {
  json_error_t je;
  json_t *want = json_loads(text, 0, &je);
  assert_non_null(want);
  int eq = json_equal(v, want);
  if (!eq) {
    char *got = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    fprintf(stderr, "got %s\nwant %s\n", got, text);
    free(got);
  }
  json_decref(want);
  return eq;
}

/* As LangGraph's server makes a run: the assistant's config under the
 * thread's under the body's (but no identity from either), its metadata
 * under the thread's under the body's, the thread keeping the merged
 * config, and checkpoints carrying the configurable scalars, that
 * metadata and the run's ids. */
static void runs_merge_the_assistant_and_thread(void **state) {
  (void)state;
  json_t *as = json_loads("{\"metadata\":{\"owner\":\"ann\",\"project\":\"a\"},"
                          "\"context\":{\"lang\":\"en\",\"tone\":\"dry\"},"
                          "\"config\":{\"recursion_limit\":7,\"tags\":[\"x\"],"
                          "\"configurable\":{\"model\":\"m1\",\"temp\":1,"
                          "\"langgraph_auth_user_id\":\"mallory\"}}}",
                          0, NULL);
  json_t *kw =
      json_loads("{\"metadata\":{\"ticket\":\"t1\",\"project\":\"c\"},"
                 "\"context\":{\"tone\":\"warm\"},"
                 "\"config\":{\"tags\":[\"y\"],\"configurable\":{\"temp\":2,"
                 "\"__secret\":\"s\",\"checkpoint_id\":\"c\",\"obj\":{}}}}",
                 0, NULL);
  /* The thread's config (its last run's) sits between the two. */
  json_t *tcfg =
      json_loads("{\"recursion_limit\":9,\"configurable\":{\"model\":\"m-t\","
                 "\"tk\":1,\"langgraph_auth_user_id\":\"eve\"}}",
                 0, NULL);
  api_run_merge_config(kw, as, tcfg);
  json_decref(tcfg);
  assert_true(json_eq(json_object_get(kw, "config"),
                      "{\"recursion_limit\":9,\"tags\":[\"y\"],"
                      "\"configurable\":{\"model\":\"m-t\",\"temp\":2,"
                      "\"tk\":1,\"__secret\":\"s\",\"checkpoint_id\":\"c\","
                      "\"obj\":{}}}"));
  json_t *kept = api_run_thread_config(kw);
  assert_true(json_equal(kept, json_object_get(kw, "config")));
  json_decref(kept);
  assert_true(json_eq(json_object_get(kw, "context"),
                      "{\"lang\":\"en\",\"tone\":\"warm\"}"));
  json_t *tmd = json_pack("{s:s, s:s, s:s}", "project", "b", "graph_id", "g",
                          "assistant_id", "A");
  struct api_run r = {.id = "R",
                      .thread_id = "T",
                      .assistant_id = "A",
                      .graph_id = "g",
                      .kwargs = kw};
  r.metadata = api_run_merge_metadata(as, tmd, kw);
  assert_true(json_eq(r.metadata, "{\"owner\":\"ann\",\"project\":\"c\","
                                  "\"ticket\":\"t1\",\"graph_id\":\"g\","
                                  "\"assistant_id\":\"A\"}"));
  api_run_stamp_kwargs(&r);
  json_t *conf = json_object_get(json_object_get(kw, "config"), "configurable");
  assert_string_equal(json_string_value(json_object_get(conf, "run_id")), "R");
  assert_true(json_equal(
      json_object_get(json_object_get(kw, "config"), "metadata"), r.metadata));
  assert_true(json_is_false(json_object_get(kw, "temporary")));
  json_t *cm = api_run_checkpoint_metadata(&r);
  assert_true(json_eq(cm, "{\"owner\":\"ann\",\"project\":\"c\","
                          "\"ticket\":\"t1\",\"graph_id\":\"g\","
                          "\"assistant_id\":\"A\",\"model\":\"m-t\","
                          "\"temp\":2,\"tk\":1,\"run_id\":\"R\","
                          "\"thread_id\":\"T\"}"));
  json_decref(cm), json_decref(r.metadata), json_decref(tmd);
  json_decref(kw), json_decref(as);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(threads_keep_insertion_order),
      cmocka_unit_test(threads_keep_order_through_churn),
      cmocka_unit_test(run_events_wake_watchers_on_their_loop),
      cmocka_unit_test(old_runs_keep_ids_and_end_but_drop_data),
      cmocka_unit_test(stored_events_find_their_mode),
      cmocka_unit_test(system_assistant_ids_match_langgraph),
      cmocka_unit_test(validation_names_the_field),
      cmocka_unit_test(metadata_filters_match_nested_objects),
      cmocka_unit_test(runs_merge_the_assistant_and_thread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
