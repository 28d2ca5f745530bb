/*
 * test_engine_hitl — checkpoints and humans: interrupt and resume, several
 * interrupts by id, Command update/goto, interrupt_before/after (and
 * the tasks a stopped run names as where it stopped), fork,
 * update_state, history, pending writes reused after a failure, and the
 * durability modes. Every test runs on the in-memory store and on SQLite.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <unistd.h>

#include "engine_helpers.h"
#include "store_fixture.h"

struct fixture {
  struct loom_store *store;
  char dir[256];
};

static int setup_mem(void **st) {
  struct fixture *f = calloc(1, sizeof(*f));
  f->store = loom_engine_memstore_new();
  *st = f;
  return 0;
}

static int setup_sqlite(void **st) {
  struct fixture *f = calloc(1, sizeof(*f));
  *st = f;
  f->store = store_fixture_open(f->dir, sizeof(f->dir), "loom-hitl", NULL);
  return f->store ? 0 : -1;
}

static int teardown(void **st) {
  struct fixture *f = *st;
  store_fixture_close(f->store, f->dir);
  free(f);
  return 0;
}

static char *approval_path(void) {
  const char *src = getenv("LOOM_SOURCE_DIR");
  static char path[512];
  snprintf(path, sizeof(path), "%s/examples/graphs/approval.yaml",
           src ? src : ".");
  return path;
}

static enum loom_run_status go(struct fixture *f, const struct loom_graph *g,
                               const char *thread, const char *input,
                               const char *command, json_t **values,
                               json_t **interrupts) {
  json_t *in = input ? J(input) : NULL, *cmd = command ? J(command) : NULL;
  struct loom_run_opts o = {
      .store = f->store, .thread_id = thread, .input = in, .command = cmd};
  enum loom_run_status s = run_graph(g, &o, values, interrupts, NULL);
  json_decref(in), json_decref(cmd);
  return s;
}

static void test_approval_round_trip(void **st) {
  struct fixture *f = *st;
  struct loom_graph *g = NULL;
  struct loom_error e = {0};
  assert_int_equal(loom_graph_load_file(approval_path(), &g, &e), LOOM_OK);
  json_t *v = NULL, *ints = NULL;
  assert_int_equal(go(f, g, "t1", "{\"topic\":\"otters\"}", NULL, &v, &ints),
                   LOOM_RUN_INTERRUPTED);
  assert_int_equal(json_array_size(ints), 1);
  json_t *payload = json_object_get(json_array_get(ints, 0), "value");
  assert_true(json_is(payload, "{\"question\":\"Approve this draft?\","
                               "\"draft\":\"Draft about otters\"}"));
  json_decref(v), json_decref(ints);
  /* The state shows the pending interrupt and the next node. */
  json_t *state = NULL;
  assert_int_equal(
      loom_engine_get_state(f->store, NULL, g, "t1", NULL, &state, &e),
      LOOM_OK);
  assert_true(json_is(json_object_get(state, "next"), "[\"review\"]"));
  assert_int_equal(json_array_size(json_object_get(state, "interrupts")), 1);
  json_decref(state);
  /* Reject with feedback: back to write, and to review again. */
  assert_int_equal(
      go(f, g, "t1", NULL,
         "{\"resume\":{\"approved\":false,\"feedback\":\"short\"}}", &v, &ints),
      LOOM_RUN_INTERRUPTED);
  assert_true(json_is(json_object_get(v, "draft"),
                      "\"Draft about otters (revised: short)\""));
  json_decref(v), json_decref(ints);
  assert_int_equal(
      go(f, g, "t1", NULL, "{\"resume\":{\"approved\":true}}", &v, NULL),
      LOOM_RUN_SUCCESS);
  assert_true(
      json_is(json_object_get(v, "log"), "[\"write\",\"write\",\"publish\"]"));
  json_decref(v);
  /* Nothing is waiting any more. */
  assert_int_equal(go(f, g, "t1", NULL, "{\"resume\":1}", NULL, NULL),
                   LOOM_RUN_ERROR);
  loom_graph_free(g);
}

static void test_lua_interrupts_resumed_by_id(void **st) {
  struct fixture *f = *st;
  struct loom_graph *g = load_graph(
      "state: {answers: {reducer: append}}\n"
      "nodes:\n"
      "  ask_a: {lua: 'local x = interrupt(\"a?\") local y = interrupt(\"a2?\")"
      " return {answers = {x .. y}}'}\n"
      "  ask_b: {lua: 'return {answers = {interrupt({q = \"b?\"})}}'}\n"
      "edges: ['START -> ask_a', 'START -> ask_b']\n");
  json_t *v = NULL, *ints = NULL;
  assert_int_equal(go(f, g, "t2", "{}", NULL, NULL, &ints),
                   LOOM_RUN_INTERRUPTED);
  assert_int_equal(json_array_size(ints), 2);
  /* A bare value is ambiguous with two pending. */
  assert_int_equal(go(f, g, "t2", NULL, "{\"resume\":\"x\"}", NULL, NULL),
                   LOOM_RUN_ERROR);
  const char *id_a =
      json_string_value(json_object_get(json_array_get(ints, 0), "id"));
  const char *id_b =
      json_string_value(json_object_get(json_array_get(ints, 1), "id"));
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "{\"resume\":{\"%s\":\"A\",\"%s\":\"B\"}}", id_a,
           id_b);
  json_t *ints2 = NULL;
  /* ask_b finishes; ask_a reaches its second interrupt. */
  assert_int_equal(go(f, g, "t2", NULL, cmd, NULL, &ints2),
                   LOOM_RUN_INTERRUPTED);
  assert_int_equal(json_array_size(ints2), 1);
  assert_true(
      json_is(json_object_get(json_array_get(ints2, 0), "value"), "\"a2?\""));
  assert_int_equal(go(f, g, "t2", NULL, "{\"resume\":\"2\"}", &v, NULL),
                   LOOM_RUN_SUCCESS);
  assert_true(json_is(json_object_get(v, "answers"), "[\"A2\",\"B\"]"));
  json_decref(v), json_decref(ints), json_decref(ints2);
  loom_graph_free(g);
}

static const char *three =
    "state: {log: {reducer: append}, note: {type: string}}\n"
    "nodes:\n"
    "  a: {lua: 'return {log = {\"a\"}}'}\n"
    "  b: {lua: 'return {log = {\"b\" .. (state.note or \"\")}}'}\n"
    "  c: {lua: 'return {log = {\"c\"}}'}\n"
    "edges: ['START -> a', 'a -> b', 'b -> c', 'c -> END']\n";

static void test_interrupt_before_after_and_command(void **st) {
  struct fixture *f = *st;
  struct loom_graph *g = load_graph(three);
  const char *before[] = {"b"}, *after[] = {"b"};
  json_t *in = J("{}"), *v = NULL;
  struct loom_run_opts o = {.store = f->store,
                            .thread_id = "t3",
                            .input = in,
                            .interrupt_before = before,
                            .ninterrupt_before = 1};
  assert_int_equal(run_graph(g, &o, &v, NULL, NULL), LOOM_RUN_INTERRUPTED);
  assert_true(json_is(json_object_get(v, "log"), "[\"a\"]"));
  json_decref(v);
  /* Continue with an update: b sees it, and we stop after b. */
  json_t *cmd = J("{\"update\":{\"note\":\"!\"}}");
  struct loom_run_opts o2 = {.store = f->store,
                             .thread_id = "t3",
                             .command = cmd,
                             .interrupt_after = after,
                             .ninterrupt_after = 1};
  assert_int_equal(run_graph(g, &o2, &v, NULL, NULL), LOOM_RUN_INTERRUPTED);
  assert_true(json_is(json_object_get(v, "log"), "[\"a\",\"b!\"]"));
  json_decref(v), json_decref(cmd);
  /* goto: jump back to a instead of going on to c. */
  cmd = J("{\"goto\":\"a\"}");
  struct loom_run_opts o3 = {.store = f->store,
                             .thread_id = "t3",
                             .command = cmd,
                             .recursion_limit = 2};
  run_graph(g, &o3, &v, NULL, NULL);
  assert_true(
      json_is(json_object_get(v, "log"), "[\"a\",\"b!\",\"a\",\"c\",\"b!\"]"));
  json_decref(v), json_decref(cmd), json_decref(in);
  loom_graph_free(g);
}

/* The ids of the tasks `g` stopped at on `thread` with options `o`, as a
 * JSON text, after checking it stopped with status `want`. */
static char *stopped_at(const struct loom_graph *g, struct loom_run_opts *o,
                        enum loom_run_status want, json_t **interrupts) {
  struct loom_run *r = new_run(g, o);
  assert_int_equal(run_to_stop(r), want);
  json_t *tasks = loom_run_next_tasks(r), *ids = json_array();
  size_t i;
  json_t *t;
  json_array_foreach(tasks, i, t) {
    json_array_append(ids, json_object_get(t, "id"));
  }
  if (interrupts)
    *interrupts = json_deep_copy(loom_run_interrupts(r));
  char *text = json_dumps(ids, JSON_COMPACT);
  json_decref(ids), json_decref(tasks);
  loom_run_free(r);
  return text;
}

/* Where a run stopped is the task ids of its next step, which the API
 * keys a thread's interrupts by: the step an interrupt_before held back,
 * the one after an interrupt_after, the one whose node interrupted (its
 * interrupt naming the same task); none once the graph ended. */
static void test_next_tasks_say_where_it_stopped(void **st) {
  struct fixture *f = *st;
  struct loom_graph *g = load_graph(three);
  const char *b[] = {"b"}, *a[] = {"a"};
  json_t *in = J("{}");
  struct loom_run_opts o = {.store = f->store,
                            .thread_id = "n1",
                            .input = in,
                            .interrupt_before = b,
                            .ninterrupt_before = 1};
  char *ids = stopped_at(g, &o, LOOM_RUN_INTERRUPTED, NULL);
  assert_string_equal(ids, "[\"b:0\"]");
  free(ids);
  struct loom_run_opts o2 = {.store = f->store,
                             .thread_id = "n2",
                             .input = in,
                             .interrupt_after = a,
                             .ninterrupt_after = 1};
  ids = stopped_at(g, &o2, LOOM_RUN_INTERRUPTED, NULL);
  assert_string_equal(ids, "[\"b:0\"]");
  free(ids);
  struct loom_run_opts o3 = {.store = f->store, .thread_id = "n2"};
  ids = stopped_at(g, &o3, LOOM_RUN_SUCCESS, NULL);
  assert_string_equal(ids, "[]");
  free(ids);
  loom_graph_free(g);
  struct loom_error e = {0};
  g = NULL;
  assert_int_equal(loom_graph_load_file(approval_path(), &g, &e), LOOM_OK);
  json_t *topic = J("{\"topic\":\"owls\"}"), *ints = NULL;
  struct loom_run_opts o4 = {
      .store = f->store, .thread_id = "n3", .input = topic};
  ids = stopped_at(g, &o4, LOOM_RUN_INTERRUPTED, &ints);
  assert_string_equal(ids, "[\"review:0\"]");
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(ints, 0), "task_id")),
      "review:0");
  free(ids);
  json_decref(ints), json_decref(topic), json_decref(in);
  loom_graph_free(g);
}

static json_t *history_of(struct fixture *f, const struct loom_graph *g,
                          const char *thread) {
  json_t *h = NULL;
  struct loom_error e = {0};
  assert_int_equal(
      loom_engine_history(f->store, NULL, g, thread, NULL, 0, &h, &e), LOOM_OK);
  return h;
}

static void test_fork_update_and_history(void **st) {
  struct fixture *f = *st;
  struct loom_graph *g = load_graph(three);
  json_t *v = NULL;
  assert_int_equal(go(f, g, "t4", "{}", NULL, &v, NULL), LOOM_RUN_SUCCESS);
  json_decref(v);
  json_t *h = history_of(f, g, "t4");
  /* input, start, a, b, c */
  assert_int_equal(json_array_size(h), 5);
  /* Newest first; parents chain back. */
  json_t *after_a = json_array_get(h, 2);
  assert_true(json_is(json_object_get(after_a, "next"), "[\"b\"]"));
  assert_true(
      json_is(json_object_get(json_object_get(after_a, "metadata"), "source"),
              "\"loop\""));
  assert_true(
      json_equal(json_object_get(json_array_get(h, 0), "parent_checkpoint_id"),
                 json_object_get(json_array_get(h, 1), "checkpoint_id")));
  /* Update state at the checkpoint after a, as node a, then continue. */
  char id[LOOM_ID_LEN + 1];
  struct loom_error e = {0};
  json_t *upd = J("{\"note\": \"?\"}");
  const char *cp_a =
      json_string_value(json_object_get(after_a, "checkpoint_id"));
  assert_int_equal(
      loom_engine_update_state(f->store, NULL, g, "t4", cp_a, upd, "a", id, &e),
      LOOM_OK);
  assert_int_equal(go(f, g, "t4", NULL, NULL, &v, NULL), LOOM_RUN_SUCCESS);
  /* From a's checkpoint: a's update routes to b again; the old branch's
   * b and c are not in this state. */
  assert_true(json_is(json_object_get(v, "log"), "[\"a\",\"b?\",\"c\"]"));
  json_decref(v), json_decref(upd);
  /* Fork the original checkpoint after a and replay. */
  assert_int_equal(loom_engine_fork(f->store, NULL, "t4", cp_a, id, &e),
                   LOOM_OK);
  json_t *state = NULL;
  assert_int_equal(
      loom_engine_get_state(f->store, NULL, g, "t4", NULL, &state, &e),
      LOOM_OK);
  assert_true(
      json_is(json_object_get(json_object_get(state, "metadata"), "source"),
              "\"fork\""));
  json_decref(state);
  assert_int_equal(go(f, g, "t4", NULL, NULL, &v, NULL), LOOM_RUN_SUCCESS);
  assert_true(json_is(json_object_get(v, "log"), "[\"a\",\"b\",\"c\"]"));
  json_decref(v), json_decref(h);
  loom_graph_free(g);
}

/* A node that fails until told otherwise, and counts its runs. */
static int calls_ok, fail_flaky;
static void flaky_start(struct loom_task *t) {
  if (!strcmp(loom_task_node(t)->name, "ok")) {
    calls_ok++;
    loom_task_done(t, J("{\"log\": [\"ok\"]}"));
  } else if (fail_flaky) {
    loom_task_fail(t, LOOM_ERR_UPSTREAM, "model unavailable");
  } else {
    loom_task_done(t, J("{\"log\": [\"flaky\"]}"));
  }
}
static const struct loom_node_kind flaky_kind = {.name = "flaky",
                                                 .start = flaky_start};

static void test_finished_tasks_do_not_run_again(void **st) {
  struct fixture *f = *st;
  loom_err rc = loom_engine_node_kind_register(&flaky_kind);
  assert_true(rc == LOOM_OK || rc == LOOM_ERR_EXISTS);
  struct loom_graph *g =
      load_graph("state: {log: {reducer: append}}\n"
                 "nodes: {ok: {kind: flaky}, bad: {kind: flaky}}\n"
                 "edges: ['START -> ok', 'START -> bad']\n");
  calls_ok = 0, fail_flaky = 1;
  json_t *v = NULL;
  assert_int_equal(go(f, g, "t5", "{}", NULL, NULL, NULL), LOOM_RUN_ERROR);
  /* The state shows what the finished task wrote as its result, as
   * LangGraph's does; the failed one has none. */
  json_t *state = NULL;
  struct loom_error e = {0};
  assert_int_equal(
      loom_engine_get_state(f->store, NULL, g, "t5", NULL, &state, &e),
      LOOM_OK);
  json_t *tasks = json_object_get(state, "tasks");
  assert_int_equal(json_array_size(tasks), 2);
  for (size_t i = 0; i < 2; i++) {
    json_t *t = json_array_get(tasks, i);
    const char *name = json_string_value(json_object_get(t, "name"));
    assert_true(json_is(json_object_get(t, "result"),
                        strcmp(name, "ok") ? "null" : "{\"log\": [\"ok\"]}"));
  }
  json_decref(state);
  fail_flaky = 0;
  assert_int_equal(go(f, g, "t5", NULL, NULL, &v, NULL), LOOM_RUN_SUCCESS);
  assert_int_equal(calls_ok, 1);
  assert_true(json_is(json_object_get(v, "log"), "[\"flaky\",\"ok\"]"));
  json_decref(v);
  loom_graph_free(g);
}

/* As LangGraph's: history begins with the input waiting on __start__ at
 * step -1 (the state before it), then step 0 has it applied. A run from
 * that checkpoint (a replay, or a run restarted after a crash right after
 * it) applies the input kept there; an update there goes in as START's. */
static void test_input_checkpoint_then_start_step(void **st) {
  struct fixture *f = *st;
  struct loom_graph *g = load_graph(three);
  json_t *v = NULL;
  assert_int_equal(go(f, g, "t5", "{\"note\": \"!\"}", NULL, &v, NULL),
                   LOOM_RUN_SUCCESS);
  json_decref(v);
  json_t *h = history_of(f, g, "t5");
  assert_int_equal(json_array_size(h), 5);
  json_t *input = json_array_get(h, 4), *start = json_array_get(h, 3);
  assert_true(json_is(json_object_get(input, "next"), "[\"__start__\"]"));
  assert_null(json_object_get(json_object_get(input, "values"), "note"));
  assert_true(json_is(
      json_object_get(json_object_get(input, "metadata"), "step"), "-1"));
  assert_true(
      json_is(json_object_get(json_object_get(input, "metadata"), "source"),
              "\"input\""));
  assert_true(json_is(json_object_get(start, "next"), "[\"a\"]"));
  assert_true(json_is(json_object_get(json_object_get(start, "values"), "note"),
                      "\"!\""));
  assert_true(json_is(
      json_object_get(json_object_get(start, "metadata"), "step"), "0"));
  const char *in_id =
      json_string_value(json_object_get(input, "checkpoint_id"));
  struct loom_run_opts o = {
      .store = f->store, .thread_id = "t5", .checkpoint_id = in_id};
  assert_int_equal(run_graph(g, &o, &v, NULL, NULL), LOOM_RUN_SUCCESS);
  assert_true(json_is(json_object_get(v, "log"), "[\"a\",\"b!\",\"c\"]"));
  json_decref(v);
  char id[LOOM_ID_LEN + 1];
  struct loom_error e = {0};
  json_t *upd = J("{\"note\": \"?\"}"), *state = NULL;
  assert_int_equal(loom_engine_update_state(f->store, NULL, g, "t5", in_id, upd,
                                            NULL, id, &e),
                   LOOM_OK);
  assert_int_equal(
      loom_engine_get_state(f->store, NULL, g, "t5", id, &state, &e), LOOM_OK);
  assert_true(json_is(json_object_get(state, "next"), "[\"a\"]"));
  assert_true(json_is(
      json_object_get(json_object_get(state, "metadata"), "step"), "0"));
  json_decref(state), json_decref(upd), json_decref(h);
  loom_graph_free(g);
}

static size_t count_cb_n;
static bool count_cb(const struct loom_checkpoint *cp, void *arg) {
  (void)cp, (void)arg;
  count_cb_n++;
  return true;
}

static void test_durability_modes(void **st) {
  struct fixture *f = *st;
  struct loom_graph *g = load_graph(three);
  const char *threads[] = {"d-sync", "d-async", "d-exit"};
  size_t want[] = {5, 5, 1};
  for (int m = 0; m < 3; m++) {
    json_t *in = J("{}"), *v = NULL;
    struct loom_run_opts o = {.store = f->store,
                              .thread_id = threads[m],
                              .input = in,
                              .durability = (enum loom_durability)m};
    assert_int_equal(run_graph(g, &o, &v, NULL, NULL), LOOM_RUN_SUCCESS);
    count_cb_n = 0;
    struct loom_checkpoint_query q = {.thread_id = threads[m]};
    struct loom_error e = {0};
    assert_int_equal(f->store->ops->list_checkpoints(f->store, "default", &q,
                                                     count_cb, NULL, &e),
                     LOOM_OK);
    assert_int_equal(count_cb_n, want[m]);
    json_t *state = NULL;
    assert_int_equal(
        loom_engine_get_state(f->store, NULL, g, threads[m], NULL, &state, &e),
        LOOM_OK);
    assert_true(json_equal(json_object_get(state, "values"), v));
    json_decref(state), json_decref(v), json_decref(in);
  }
  loom_graph_free(g);
}

static void test_interrupt_inside_subgraph(void **st) {
  struct fixture *f = *st;
  struct loom_graph *g =
      load_graph("state: {ok: {type: boolean}, log: {reducer: append}}\n"
                 "nodes:\n"
                 "  inner:\n"
                 "    subgraph:\n"
                 "      state: {ok: {type: boolean}, log: {reducer: append}}\n"
                 "      nodes:\n"
                 "        ask: {interrupt: {question: 'ok?'}}\n"
                 "        done: {lua: 'return {log = {\"inner \" .. "
                 "tostring(state.ok)}}'}\n"
                 "      edges: ['START -> ask', 'ask -> done']\n"
                 "  after: {lua: 'return {log = {\"after\"}}'}\n"
                 "edges: ['START -> inner', 'inner -> after']\n");
  json_t *v = NULL, *ints = NULL;
  assert_int_equal(go(f, g, "t6", "{}", NULL, NULL, &ints),
                   LOOM_RUN_INTERRUPTED);
  assert_true(json_is(json_object_get(json_array_get(ints, 0), "value"),
                      "{\"question\":\"ok?\"}"));
  assert_int_equal(go(f, g, "t6", NULL, "{\"resume\":{\"ok\":true}}", &v, NULL),
                   LOOM_RUN_SUCCESS);
  assert_true(json_is(json_object_get(v, "log"), "[\"inner true\",\"after\"]"));
  assert_true(json_is(json_object_get(v, "ok"), "true"));
  json_decref(v), json_decref(ints);
  loom_graph_free(g);
}

/* Found by fuzz_checkpoint: a stored interrupt without an id (a damaged
 * row) crashed a resume by id (strcmp of NULL). It is now one no key
 * names; the real interrupt is resumed and the run goes on. */
static void test_resume_by_id_past_damaged_interrupt(void **st) {
  struct fixture *f = *st;
  struct loom_graph *g = NULL;
  struct loom_error e = {0};
  assert_int_equal(loom_graph_load_file(approval_path(), &g, &e), LOOM_OK);
  json_t *ints = NULL;
  assert_int_equal(go(f, g, "t9", "{\"topic\":\"otters\"}", NULL, NULL, &ints),
                   LOOM_RUN_INTERRUPTED);
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "{\"resume\":{\"%s\":{\"approved\":true}}}",
           json_string_value(json_object_get(json_array_get(ints, 0), "id")));
  json_decref(ints);
  struct loom_checkpoint *cp = NULL;
  assert_int_equal(
      loom_store_get_checkpoint(f->store, "default", "t9", "", NULL, &cp, &e),
      LOOM_OK);
  json_t *bad = J("[{\"channel\":\"__interrupt__\",\"value\":{\"value\":1}}]");
  assert_int_equal(loom_store_put_writes(f->store, "default", "t9", "", cp->id,
                                         "ghost:0#interrupt:0", bad, &e),
                   LOOM_OK);
  json_decref(bad);
  loom_checkpoint_free(cp);
  json_t *v = NULL;
  assert_int_equal(go(f, g, "t9", NULL, cmd, &v, NULL), LOOM_RUN_SUCCESS);
  assert_true(json_is(json_object_get(v, "log"), "[\"write\",\"publish\"]"));
  json_decref(v);
  loom_graph_free(g);
}

#define BOTH(fn)                                                               \
  cmocka_unit_test_setup_teardown(fn, setup_mem, teardown),                    \
      cmocka_unit_test_setup_teardown(fn, setup_sqlite, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      BOTH(test_approval_round_trip),
      BOTH(test_lua_interrupts_resumed_by_id),
      BOTH(test_interrupt_before_after_and_command),
      BOTH(test_next_tasks_say_where_it_stopped),
      BOTH(test_fork_update_and_history),
      BOTH(test_input_checkpoint_then_start_step),
      BOTH(test_finished_tasks_do_not_run_again),
      BOTH(test_durability_modes),
      BOTH(test_interrupt_inside_subgraph),
      BOTH(test_resume_by_id_past_damaged_interrupt),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
