/*
 * test_engine — super-step semantics: reducers, conditions, fan-out, the
 * concurrent-write error, the recursion limit, async nodes, subgraphs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engine_helpers.h"

static const char *linear =
    "state:\n"
    "  log: {type: array, reducer: append}\n"
    "  n: {type: integer, reducer: add, default: 0}\n"
    "nodes:\n"
    "  a: {lua: 'return {log = {\"a\"}, n = 1}'}\n"
    "  b: {lua: 'return {log = {\"b\"}, n = 2}'}\n"
    "  c: {lua: 'return {log = {\"c\"}, n = 3}'}\n"
    "edges: ['START -> a', 'a -> b', 'b -> c', 'c -> END']\n";

static void test_linear_reducers(void **st) {
  (void)st;
  struct loom_graph *g = load_graph(linear);
  json_t *in = J("{\"log\": [\"in\"]}");
  struct loom_run_opts o = {.input = in};
  json_t *values = NULL;
  assert_int_equal(run_graph(g, &o, &values, NULL, NULL), LOOM_RUN_SUCCESS);
  assert_true(json_is(values, "{\"log\":[\"in\",\"a\",\"b\",\"c\"],\"n\":6}"));
  json_decref(values), json_decref(in);
  loom_graph_free(g);
}

static void test_conditions_and_loops(void **st) {
  (void)st;
  struct loom_graph *g =
      load_graph("state:\n"
                 "  i: {type: integer, default: 0}\n"
                 "  path: {reducer: append}\n"
                 "nodes:\n"
                 "  inc: {lua: 'return {i = state.i + 1, path = {\"inc\"}}'}\n"
                 "  big: {lua: 'return {path = {\"big\"}}'}\n"
                 "edges:\n"
                 "  - START -> inc\n"
                 "  - inc -> inc: i < 3\n"
                 "  - inc -> big: i >= 3 and not (i == 4)\n"
                 "  - big -> END\n");
  json_t *in = J("{}");
  struct loom_run_opts o = {.input = in};
  json_t *values = NULL;
  assert_int_equal(run_graph(g, &o, &values, NULL, NULL), LOOM_RUN_SUCCESS);
  assert_true(
      json_is(values, "{\"i\":3,\"path\":[\"inc\",\"inc\",\"inc\",\"big\"]}"));
  json_decref(values), json_decref(in);
  loom_graph_free(g);
}

/* Writes to channels the graph does not declare, from the input and from
 * a node, say who wrote (the input was "node 'input'") and where to
 * declare it. */
static void test_undeclared_channel_names_writer(void **st) {
  (void)st;
  struct loom_graph *g = load_graph("name: g\n"
                                    "state: {x: {type: string}}\n"
                                    "nodes:\n"
                                    "  a: {lua: 'return {y = 1}'}\n"
                                    "edges: ['START -> a', 'a -> END']\n");
  json_t *in = J("{\"z\": 1}");
  struct loom_run_opts o = {.input = in};
  struct loom_error e = {0};
  assert_int_equal(run_graph(g, &o, NULL, NULL, &e), LOOM_RUN_ERROR);
  assert_string_equal(e.message, "the run's input wrote to unknown channel "
                                 "'z'; declare it under state: in graph 'g'");
  json_decref(in);
  in = J("{\"x\": 5}");
  o.input = in;
  assert_int_equal(run_graph(g, &o, NULL, NULL, &e), LOOM_RUN_ERROR);
  assert_string_equal(e.message, "the run's input wrote a number to channel "
                                 "'x' of type string");
  json_decref(in);
  in = J("{\"x\": \"s\"}");
  o.input = in;
  assert_int_equal(run_graph(g, &o, NULL, NULL, &e), LOOM_RUN_ERROR);
  assert_non_null(strstr(e.message, "node 'a' wrote to unknown channel 'y'"));
  json_decref(in);
  loom_graph_free(g);
}

static void test_concurrent_replace_write_is_an_error(void **st) {
  (void)st;
  struct loom_graph *g =
      load_graph("state: {x: {type: string}}\n"
                 "nodes:\n"
                 "  left: {lua: 'return {x = \"l\"}'}\n"
                 "  right: {lua: 'return {x = \"r\"}'}\n"
                 "edges: ['START -> left', 'START -> right']\n");
  json_t *in = J("{}");
  struct loom_run_opts o = {.input = in};
  struct loom_error e = {0};
  assert_int_equal(run_graph(g, &o, NULL, NULL, &e), LOOM_RUN_ERROR);
  assert_int_equal(e.code, LOOM_ERR_CONFLICT);
  assert_non_null(strstr(e.message, "channel 'x'"));
  assert_non_null(strstr(e.message, "'left' and 'right'"));
  json_decref(in);
  loom_graph_free(g);
}

static void test_recursion_limit(void **st) {
  (void)st;
  struct loom_graph *g =
      load_graph("state: {n: {reducer: add, default: 0}}\n"
                 "nodes: {spin: {lua: 'return {n = 1}'}}\n"
                 "edges: ['START -> spin', 'spin -> spin']\n");
  json_t *in = J("{}");
  struct loom_run_opts o = {.input = in};
  struct loom_error e = {0};
  json_t *values = NULL;
  assert_int_equal(run_graph(g, &o, &values, NULL, &e), LOOM_RUN_ERROR);
  assert_int_equal(e.code, LOOM_ERR_LIMIT);
  assert_non_null(strstr(e.message, "recursion limit of 25"));
  assert_true(json_is(values, "{\"n\":25}"));
  json_decref(values);
  o.recursion_limit = 3;
  assert_int_equal(run_graph(g, &o, &values, NULL, &e), LOOM_RUN_ERROR);
  assert_true(json_is(values, "{\"n\":3}"));
  json_decref(values), json_decref(in);
  loom_graph_free(g);
}

static void test_fan_out(void **st) {
  (void)st;
  struct loom_graph *g = load_graph(
      "state:\n"
      "  items: {type: array}\n"
      "  out: {reducer: append}\n"
      "  total: {reducer: add, default: 0}\n"
      "  done: {type: string}\n"
      "nodes:\n"
      "  square: {lua: 'return {out = {item * item}, total = state.x}'}\n"
      "  join: {lua: 'table.sort(state.out) return {done = "
      "table.concat(state.out, \",\")}'}\n"
      "edges:\n"
      "  - {from: START, to: square, each: items, as: x}\n"
      "  - square -> join\n");
  json_t *in = J("{\"items\": [3, 1, 2, 4]}");
  struct loom_run_opts o = {.input = in};
  json_t *values = NULL;
  assert_int_equal(run_graph(g, &o, &values, NULL, NULL), LOOM_RUN_SUCCESS);
  /* Tasks apply in index order: out follows the input order. */
  assert_true(json_is(json_object_get(values, "out"), "[9,1,4,16]"));
  assert_true(json_is(json_object_get(values, "total"), "10"));
  assert_true(json_is(json_object_get(values, "done"), "\"1,4,9,16\""));
  json_decref(values), json_decref(in);
  loom_graph_free(g);
}

/* ---- an asynchronous native kind: parks the run until completed ---- */

static struct loom_task *parked[8];
static int nparked;

static void later_start(struct loom_task *t) { parked[nparked++] = t; }

static const struct loom_node_kind later_kind = {.name = "later",
                                                 .start = later_start};

/* Loads `yaml` into *g and starts a run of it on `in`: the run parks on
 * its `later` nodes, whose tasks are then in parked[0..nparked). */
static struct loom_run *start_parked(const char *yaml, json_t *in,
                                     struct loom_graph **g) {
  loom_err rc = loom_engine_node_kind_register(&later_kind);
  assert_true(rc == LOOM_OK || rc == LOOM_ERR_EXISTS);
  *g = load_graph(yaml);
  struct loom_run_opts o = {.input = in};
  struct loom_run *r = new_run(*g, &o);
  nparked = 0;
  assert_int_equal(loom_run_start(r), LOOM_RUN_WAITING);
  return r;
}

static void test_async_node_parks_the_run(void **st) {
  (void)st;
  struct loom_graph *g;
  json_t *in = J("{}");
  struct loom_run *r = start_parked(
      "state: {log: {reducer: append}}\n"
      "nodes:\n"
      "  slow1: {kind: later}\n"
      "  slow2: {later: {}}\n"
      "  after: {lua: 'return {log = {\"after\"}}'}\n"
      "edges: ['START -> slow1', 'START -> slow2', 'slow1 -> after',"
      " 'slow2 -> after']\n",
      in, &g);
  assert_int_equal(nparked, 2);
  /* Finish out of order: the writes still apply in task order. */
  loom_task_done(parked[1], J("{\"log\": [\"slow2\"]}"));
  assert_int_equal(loom_run_status(r), LOOM_RUN_WAITING);
  loom_task_done(parked[0], J("{\"log\": [\"slow1\"]}"));
  assert_int_equal(loom_run_status(r), LOOM_RUN_SUCCESS);
  assert_true(
      json_is(loom_run_values(r), "{\"log\":[\"slow1\",\"slow2\",\"after\"]}"));
  loom_run_free(r);
  json_decref(in);
  loom_graph_free(g);
}

static void test_cancel_a_parked_run(void **st) {
  (void)st;
  struct loom_graph *g;
  json_t *in = J("{}");
  struct loom_run *r = start_parked("nodes: {slow: {kind: later}}\n"
                                    "edges: ['START -> slow']\n",
                                    in, &g);
  loom_run_cancel(r);
  assert_int_equal(loom_run_status(r), LOOM_RUN_CANCELLED);
  loom_run_free(r);
  json_decref(in);
  loom_graph_free(g);
}

static void test_subgraph(void **st) {
  (void)st;
  struct loom_graph *g = load_graph(
      "state: {text: {type: string}, log: {reducer: append}}\n"
      "nodes:\n"
      "  pre: {lua: 'return {log = {\"pre\"}}'}\n"
      "  inner:\n"
      "    subgraph:\n"
      "      state: {text: {type: string}, log: {reducer: append}}\n"
      "      nodes:\n"
      "        shout: {lua: 'return {text = string.upper(state.text)}'}\n"
      "      edges: ['START -> shout']\n"
      "edges: ['START -> pre', 'pre -> inner']\n");
  json_t *in = J("{\"text\": \"hi\"}");
  struct loom_run_opts o = {.input = in};
  json_t *values = NULL;
  assert_int_equal(run_graph(g, &o, &values, NULL, NULL), LOOM_RUN_SUCCESS);
  /* The child's final log (which it received) comes back through the
   * parent's append reducer: subgraph outputs are writes. */
  assert_true(json_is(json_object_get(values, "text"), "\"HI\""));
  assert_true(json_is(json_object_get(values, "log"), "[\"pre\"]"));
  json_decref(values), json_decref(in);
  loom_graph_free(g);
}

static int count_events[LOOM_EVENT_END + 1];
/* Copies of the first values event and of the first two checkpoints. */
static json_t *first_values, *checkpoints[3];
static void count_cb(const struct loom_event *ev, void *arg) {
  (void)arg;
  int n = count_events[ev->type]++;
  if (ev->type == LOOM_EVENT_VALUES && n == 0)
    first_values = json_deep_copy(ev->data);
  if (ev->type == LOOM_EVENT_CHECKPOINT && n < 3)
    checkpoints[n] = json_deep_copy(ev->data);
}

static void test_events(void **st) {
  (void)st;
  struct loom_graph *g = load_graph(linear);
  json_t *in = J("{\"log\": [\"in\"]}");
  struct loom_run_opts o = {.input = in};
  struct loom_run *r = new_run(g, &o);
  memset(count_events, 0, sizeof(count_events));
  loom_run_subscribe(r, count_cb, NULL);
  assert_int_equal(loom_run_start(r), LOOM_RUN_SUCCESS);
  /* The state the run starts from, then one per step. */
  assert_int_equal(count_events[LOOM_EVENT_VALUES], 4);
  assert_true(json_is(json_object_get(first_values, "log"), "[\"in\"]"));
  /* A checkpoint says what state it holds and which nodes run next. As
   * LangGraph's, the first holds the state before the input, which waits
   * on __start__; the start step (step 0) applies it. */
  assert_true(
      json_is(json_object_get(checkpoints[0], "next"), "[\"__start__\"]"));
  assert_true(json_is(json_object_get(checkpoints[0], "values"), "{\"n\": 0}"));
  assert_true(json_is(
      json_object_get(json_object_get(checkpoints[0], "metadata"), "step"),
      "-1"));
  assert_true(json_is(json_object_get(checkpoints[1], "next"), "[\"a\"]"));
  assert_true(json_is(json_object_get(checkpoints[1], "values"),
                      "{\"log\": [\"in\"], \"n\": 0}"));
  assert_true(json_is(
      json_object_get(json_object_get(checkpoints[1], "metadata"), "step"),
      "0"));
  assert_true(json_is(json_object_get(checkpoints[2], "next"), "[\"b\"]"));
  assert_true(json_is(json_object_get(checkpoints[2], "tasks"),
                      "[{\"id\": \"b:0\", \"name\": \"b\", "
                      "\"interrupts\": [], \"item\": null}]"));
  json_decref(first_values), json_decref(checkpoints[0]);
  json_decref(checkpoints[1]), json_decref(checkpoints[2]);
  assert_int_equal(count_events[LOOM_EVENT_UPDATES], 3);
  assert_int_equal(count_events[LOOM_EVENT_TASKS], 3);
  assert_int_equal(count_events[LOOM_EVENT_TASK_RESULT], 3);
  /* + input, + start step */
  assert_int_equal(count_events[LOOM_EVENT_CHECKPOINT], 5);
  assert_int_equal(count_events[LOOM_EVENT_END], 1);
  loom_run_free(r);
  json_decref(in);
  loom_graph_free(g);
}

struct yielding {
  int asked;    /* yield_cb calls */
  int yield_at; /* say yes on this call */
  int woken;    /* wake_cb calls */
};

static bool yield_cb(struct loom_run *r, void *arg) {
  (void)r;
  struct yielding *y = arg;
  return ++y->asked == y->yield_at;
}

static void wake_cb(struct loom_run *r, void *arg) {
  (void)r;
  ((struct yielding *)arg)->woken++;
}

/* A run whose owner wants its thread back after the first step parks
 * there and wakes the owner; resumed, it finishes with the same values,
 * and is not asked again before it has taken a step. */
static void test_yield_hands_the_run_over(void **st) {
  (void)st;
  struct loom_graph *g = load_graph(linear);
  json_t *in = J("{\"log\": [\"in\"]}");
  struct yielding y = {.yield_at = 1};
  struct loom_run_opts o = {
      .input = in, .wake_cb = wake_cb, .yield_cb = yield_cb, .wake_arg = &y};
  struct loom_run *r = new_run(g, &o);
  assert_int_equal(loom_run_start(r), LOOM_RUN_WAITING);
  assert_int_equal(y.asked, 1); /* after step a, not before it */
  assert_int_equal(y.woken, 1);
  assert_true(json_is(loom_run_values(r), "{\"log\":[\"in\",\"a\"],\"n\":1}"));
  assert_true(loom_run_resume(r)); /* runs b and c; says no to yielding */
  assert_int_equal(loom_run_status(r), LOOM_RUN_SUCCESS);
  assert_int_equal(y.woken, 1);
  assert_int_equal(y.asked, 2); /* between b and c; none before b */
  assert_true(json_is(loom_run_values(r),
                      "{\"log\":[\"in\",\"a\",\"b\",\"c\"],\"n\":6}"));
  loom_run_free(r);
  json_decref(in);
  loom_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_linear_reducers),
      cmocka_unit_test(test_conditions_and_loops),
      cmocka_unit_test(test_concurrent_replace_write_is_an_error),
      cmocka_unit_test(test_undeclared_channel_names_writer),
      cmocka_unit_test(test_recursion_limit),
      cmocka_unit_test(test_fan_out),
      cmocka_unit_test(test_async_node_parks_the_run),
      cmocka_unit_test(test_cancel_a_parked_run),
      cmocka_unit_test(test_subgraph),
      cmocka_unit_test(test_events),
      cmocka_unit_test(test_yield_hands_the_run_over),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
