/*
 * test_graph_spec — loading graph specs: both formats, the shapes of
 * edges, and errors that point at the file, line and field at fault.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engine_helpers.h"

static char *load_error(const char *text) {
  struct loom_graph *g = NULL;
  struct loom_error e = {0};
  loom_err rc = loom_graph_load(text, strlen(text), "g.yaml", &g, &e);
  assert_int_not_equal(rc, LOOM_OK);
  assert_null(g);
  static char msg[512];
  snprintf(msg, sizeof(msg), "%s", e.message);
  return msg;
}

#define HAS(msg, part)                                                         \
  do {                                                                         \
    if (!strstr(msg, part))                                                    \
      fail_msg("'%s' not in '%s'", part, msg);                                 \
  } while (0)

static void test_yaml_and_json_give_the_same_graph(void **st) {
  (void)st;
  struct loom_graph *y =
      load_graph("name: g\n"
                 "state:\n"
                 "  n: {type: integer, default: 0, reducer: add}\n"
                 "  m: {reducer: merge}\n"
                 "nodes:\n"
                 "  a: {lua: 'return {n = 1}'}\n"
                 "edges:\n"
                 "  - START -> a\n"
                 "  - a -> END: n > 3\n"
                 "  - {from: a, to: a, when: 'n <= 3'}\n");
  struct loom_graph *j = load_graph(
      "{\"name\": \"g\", \"state\": {\"n\": {\"type\": \"integer\", "
      "\"default\": 0, \"reducer\": \"add\"}, \"m\": {\"reducer\": "
      "\"merge\"}}, \"nodes\": {\"a\": {\"lua\": \"return {n = 1}\"}}, "
      "\"edges\": [\"START -> a\", \"a -> END: n > 3\", {\"from\": \"a\", "
      "\"to\": \"a\", \"when\": \"n <= 3\"}]}");
  struct loom_graph *gs[2] = {y, j};
  for (int i = 0; i < 2; i++) {
    struct loom_graph *g = gs[i];
    assert_string_equal(g->name, "g");
    assert_int_equal(g->nchannels, 2);
    assert_int_equal(g->channels[0].reducer, LOOM_REDUCER_ADD);
    assert_int_equal(g->channels[1].reducer, LOOM_REDUCER_MERGE);
    assert_int_equal(g->nedges, 3);
    assert_int_equal(g->edges[1].type, LOOM_EDGE_WHEN);
    assert_string_equal(g->edges[1].to, "END");
    assert_int_equal(g->edges[2].type, LOOM_EDGE_WHEN);
    json_t *in = J("{}"), *v = NULL;
    struct loom_run_opts o = {.input = in};
    assert_int_equal(run_graph(g, &o, &v, NULL, NULL), LOOM_RUN_SUCCESS);
    assert_true(json_is(json_object_get(v, "n"), "4"));
    json_decref(in), json_decref(v);
    loom_graph_free(g);
  }
}

static void test_unknown_node_in_edge(void **st) {
  (void)st;
  char *m = load_error("nodes:\n"
                       "  a: {lua: 'return nil'}\n"
                       "edges:\n"
                       "  - START -> a\n"
                       "  - a -> b\n");
  HAS(m, "g.yaml:5: edges[1]: unknown node 'b' (edge target)");
}

static void test_unreachable_node(void **st) {
  (void)st;
  char *m = load_error("nodes:\n"
                       "  a: {lua: 'return nil'}\n"
                       "  lonely: {lua: 'return nil'}\n"
                       "edges: ['START -> a']\n");
  HAS(m, "g.yaml:3: nodes.lonely: unreachable");
}

static void test_bad_reducer(void **st) {
  (void)st;
  char *m = load_error("state:\n"
                       "  x: {type: string}\n"
                       "  y:\n"
                       "    reducer: concat\n"
                       "nodes: {a: {lua: 'return nil'}}\n"
                       "edges: ['START -> a']\n");
  HAS(m, "g.yaml:4: state.y.reducer: unknown reducer 'concat'");
}

static void test_unknown_node_kind(void **st) {
  (void)st;
  char *m = load_error("nodes:\n"
                       "  a: {lua: 'return nil'}\n"
                       "  b:\n"
                       "    kind: teleport\n"
                       "edges: ['START -> a', 'a -> b']\n");
  HAS(m, "g.yaml:4: nodes.b: unknown node kind teleport");
  HAS(m, "lua, interrupt, subgraph");
  /* A misspelt kind key: the keys are named, and what a node needs. */
  m = load_error("nodes:\n"
                 "  a:\n"
                 "    lau: return nil\n"
                 "edges: ['START -> a']\n");
  HAS(m, "g.yaml:3: nodes.a: no node kind among its keys (lau); a node needs "
         "one of lua, interrupt, subgraph");
  HAS(m, "as a key, or kind: NAME");
}

static void test_bad_condition_and_lua(void **st) {
  (void)st;
  char *m = load_error("nodes: {a: {lua: 'return nil'}}\n"
                       "edges:\n"
                       "  - START -> a\n"
                       "  - a -> END: n >< 3\n");
  HAS(m, "g.yaml:4: edges[1]: expression 'n >< 3'");
  m = load_error("nodes:\n"
                 "  a:\n"
                 "    lua: |\n"
                 "      local x = 1\n"
                 "      return {x = }\n"
                 "edges: ['START -> a']\n");
  HAS(m, "nodes.a: [node a]:2:");
}

static void test_parse_errors_have_lines(void **st) {
  (void)st;
  char *m = load_error("nodes:\n  a: {lua: 'x'\nedges: [\n");
  HAS(m, "g.yaml:");
  m = load_error("");
  HAS(m, "g.yaml: the document is empty"); /* was "g.yaml:the document" */
  /* A directory named as the graph file says so (it read as empty). */
  struct loom_graph *g = NULL;
  struct loom_error e = {0};
  assert_int_equal(loom_graph_load_file("/tmp", &g, &e), LOOM_ERR_INVALID);
  assert_null(g);
  assert_string_equal(e.message, "/tmp: is a directory; give a graph file "
                                 "(.yaml, .yml or .json)");
  m = load_error("nodes: &x {a: 1}\nedges: *x\n");
  HAS(m, "aliases");
  m = load_error("nodes: {a: {lua: 'return nil'}}\n"
                 "edges: ['START -> a']\n"
                 "colour: blue\n");
  HAS(m, "g.yaml:3: colour: unknown field; a graph has name, description, "
         "state, nodes, edges");
  m = load_error("state: {x: {typ: string}}\n"
                 "nodes: {a: {lua: 'return nil'}}\n"
                 "edges: ['START -> a']\n");
  HAS(m, "unknown field 'typ'; a channel has type, default, reducer");
  m = load_error("nodes: {a: {lua: 'return nil'}}\n"
                 "edges: [{from: START, too: a}]\n");
  HAS(m, "unknown field 'too'; an edge has from, to, when");
  m = load_error(
      "nodes: {END: {lua: 'return nil'}}\nedges: ['START -> END']\n");
  HAS(m, "nodes.END");
}

static void test_expressions(void **st) {
  (void)st;
  struct loom_error e = {0};
  char *lua = loom_graph_expr_to_lua(
      "a.b == 'x' and not c or d != null and e >= -1.5", &e);
  assert_non_null(lua);
  assert_string_equal(lua, "return ((state[\"a\"] or {})[\"b\"] == \"x\" and "
                           "not state[\"c\"] or state[\"d\"] ~= nil and "
                           "state[\"e\"] >= -1.5)");
  free(lua);
  assert_null(loom_graph_expr_to_lua("a == ", &e));
  assert_null(loom_graph_expr_to_lua("os.exit()", &e));
  assert_null(loom_graph_expr_to_lua("'unterminated", &e));
}

static void test_route_and_fan_out_shapes(void **st) {
  (void)st;
  struct loom_graph *g =
      load_graph("state: {xs: {type: array}, seen: {reducer: append}}\n"
                 "nodes:\n"
                 "  pick: {lua: 'return nil'}\n"
                 "  each: {lua: 'return {seen = {item}}'}\n"
                 "  other: {lua: 'return nil'}\n"
                 "edges:\n"
                 "  - START -> pick\n"
                 "  - {from: pick, route: 'return {\"other\", \"END\"}', "
                 "targets: [other]}\n"
                 "  - {from: other, to: each, each: xs}\n");
  json_t *in = J("{\"xs\": [1, 2]}"), *v = NULL;
  struct loom_run_opts o = {.input = in};
  assert_int_equal(run_graph(g, &o, &v, NULL, NULL), LOOM_RUN_SUCCESS);
  assert_true(json_is(json_object_get(v, "seen"), "[1,2]"));
  json_decref(in), json_decref(v);
  loom_graph_free(g);
  char *m = load_error("nodes: {a: {lua: 'return nil'}}\n"
                       "edges:\n"
                       "  - START -> a\n"
                       "  - {from: a, to: a, each: missing}\n");
  HAS(m, "g.yaml:4: edges[1]: fan-out over unknown channel 'missing'");
}

static void test_examples_load(void **st) {
  (void)st;
  const char *src = getenv("LOOM_SOURCE_DIR");
  const char *files[] = {"approval.yaml", "map_reduce.yaml"};
  for (int i = 0; i < 2; i++) {
    char path[512];
    snprintf(path, sizeof(path), "%s/examples/graphs/%s", src ? src : ".",
             files[i]);
    struct loom_graph *g = NULL;
    struct loom_error e = {0};
    if (loom_graph_load_file(path, &g, &e))
      fail_msg("%s", e.message);
    loom_graph_free(g);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_yaml_and_json_give_the_same_graph),
      cmocka_unit_test(test_unknown_node_in_edge),
      cmocka_unit_test(test_unreachable_node),
      cmocka_unit_test(test_bad_reducer),
      cmocka_unit_test(test_unknown_node_kind),
      cmocka_unit_test(test_bad_condition_and_lua),
      cmocka_unit_test(test_parse_errors_have_lines),
      cmocka_unit_test(test_expressions),
      cmocka_unit_test(test_route_and_fan_out_shapes),
      cmocka_unit_test(test_examples_load),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
