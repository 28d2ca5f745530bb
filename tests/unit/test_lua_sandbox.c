/*
 * test_lua_sandbox — what a graph's Lua can and cannot do: no way out to
 * the system, bounded instructions and memory (even under pcall), errors
 * that name the node and line, faithful JSON round trips, interrupt().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engine/lua_sandbox.h"
#include "engine_helpers.h"

static loom_err run(struct loom_lua *l, const char *name, const char *src,
                    const json_t *arg, json_t **out, struct loom_error *e) {
  loom_err rc = loom_lua_compile(l, name, src, "state", e);
  if (rc)
    return rc;
  const json_t *args[1] = {arg};
  return loom_lua_run(l, name, args, 1, NULL, out, e);
}

static void test_no_way_out(void **st) {
  (void)st;
  struct loom_lua *l = loom_lua_new(0, 0);
  json_t *out = NULL;
  struct loom_error e = {0};
  assert_int_equal(
      run(l, "probe",
          "return {io = type(io), os = type(os), package = type(package), "
          "debug = type(debug), require = type(require), load = type(load), "
          "dofile = type(dofile), dump = type(string.dump), "
          "co = type(coroutine), gc = type(collectgarbage)}",
          NULL, &out, &e),
      LOOM_OK);
  assert_true(json_is(out, "{\"co\":\"nil\",\"debug\":\"nil\",\"dofile\":"
                           "\"nil\",\"dump\":\"nil\",\"gc\":\"nil\",\"io\":"
                           "\"nil\",\"load\":\"nil\",\"os\":\"nil\","
                           "\"package\":\"nil\",\"require\":\"nil\"}"));
  json_decref(out);
  /* Precompiled chunks are refused at compile time. */
  assert_int_not_equal(loom_lua_compile(l, "bytes", "\x1bLua\x54", "state", &e),
                       LOOM_OK);
  loom_lua_free(l);
}

static void test_instruction_limit_survives_pcall(void **st) {
  (void)st;
  struct loom_lua *l = loom_lua_new(0, 100000);
  json_t *out = NULL;
  struct loom_error e = {0};
  assert_int_equal(run(l, "node spin",
                       "while true do pcall(function() while true do end end) "
                       "end",
                       NULL, &out, &e),
                   LOOM_ERR_LIMIT);
  assert_non_null(strstr(e.message, "[node spin]: instruction limit"));
  /* The sandbox is still usable afterwards. */
  assert_int_equal(run(l, "ok", "return 1 + 1", NULL, &out, &e), LOOM_OK);
  assert_true(json_is(out, "2"));
  json_decref(out);
  loom_lua_free(l);
}

static void test_memory_limit(void **st) {
  (void)st;
  struct loom_lua *l = loom_lua_new(4u << 20, 0);
  json_t *out = NULL;
  struct loom_error e = {0};
  assert_int_equal(run(l, "node hog",
                       "local t = {} for i = 1, 1e8 do t[i] = string.rep('x', "
                       "64) .. i end",
                       NULL, &out, &e),
                   LOOM_ERR_LIMIT);
  assert_non_null(strstr(e.message, "memory limit"));
  loom_lua_free(l);
}

static void test_errors_name_node_and_line(void **st) {
  (void)st;
  struct loom_graph *g =
      load_graph("state: {topic: {type: string}}\n"
                 "nodes:\n"
                 "  write:\n"
                 "    lua: |\n"
                 "      local a = 1\n"
                 "      return {topic = state.missing .. 'x'}\n"
                 "edges: ['START -> write']\n");
  json_t *in = J("{}");
  struct loom_run_opts o = {.input = in};
  struct loom_error e = {0};
  assert_int_equal(run_graph(g, &o, NULL, NULL, &e), LOOM_RUN_ERROR);
  assert_non_null(strstr(e.message, "node 'write': [node write]:2:"));
  assert_non_null(strstr(e.message, "missing"));
  json_decref(in);
  loom_graph_free(g);
}

static void test_json_round_trip(void **st) {
  (void)st;
  struct loom_lua *l = loom_lua_new(0, 0);
  const char *doc = "{\"empty_list\":[],\"empty_obj\":{},\"list\":[1,null,"
                    "\"x\",2.5,true],\"nested\":{\"a\":{\"b\":[false]}},"
                    "\"big\":9007199254740993}";
  json_t *in = J(doc), *out = NULL;
  struct loom_error e = {0};
  assert_int_equal(run(l, "id", "return state", in, &out, &e), LOOM_OK);
  assert_true(json_is(out, doc));
  json_decref(out);
  /* Tables built in Lua: sequences become lists, null is JSON null. */
  assert_int_equal(run(l, "build",
                       "return {xs = {1, 2}, n = null, k = {a = 1}}", NULL,
                       &out, &e),
                   LOOM_OK);
  assert_true(json_is(out, "{\"k\":{\"a\":1},\"n\":null,\"xs\":[1,2]}"));
  json_decref(out);
  assert_int_equal(run(l, "fn", "return {f = print}", NULL, &out, &e),
                   LOOM_ERR_INVALID);
  assert_int_equal(
      run(l, "cycle", "local t = {} t.t = t return t", NULL, &out, &e),
      LOOM_ERR_INVALID);
  json_decref(in);
  loom_lua_free(l);
}

static void test_interrupt_and_function_chunks(void **st) {
  (void)st;
  struct loom_lua *l = loom_lua_new(0, 0);
  struct loom_error e = {0};
  assert_int_equal(loom_lua_compile(l, "ask",
                                    "local ok = pcall(function() "
                                    "state.v = interrupt('why?') end) "
                                    "return {v = state.v}",
                                    "state", &e),
                   LOOM_OK);
  json_t *st_in = J("{}"), *out = NULL;
  const json_t *args[1] = {st_in};
  struct loom_lua_call call = {0};
  /* pcall cannot swallow an interrupt. */
  assert_int_equal(loom_lua_run(l, "ask", args, 1, &call, &out, &e), LOOM_OK);
  assert_null(out);
  assert_true(json_is(call.interrupt, "\"why?\""));
  json_decref(call.interrupt);
  json_t *answer = J("\"because\"");
  const json_t *res[1] = {answer};
  struct loom_lua_call call2 = {.resume = res, .nresume = 1};
  assert_int_equal(loom_lua_run(l, "ask", args, 1, &call2, &out, &e), LOOM_OK);
  assert_null(call2.interrupt);
  assert_true(json_is(out, "{\"v\":\"because\"}"));
  json_decref(out), json_decref(answer), json_decref(st_in);
  /* A chunk returning a function: the function is the node. */
  json_t *n = J("{\"n\": 4}");
  assert_int_equal(
      run(l, "fnode", "return function(s) return s.n * 2 end", n, &out, &e),
      LOOM_OK);
  assert_true(json_is(out, "8"));
  json_decref(out);
  assert_int_equal(run(l, "fnode", "", n, &out, &e), LOOM_OK);
  assert_true(json_is(out, "8"));
  json_decref(out), json_decref(n);
  loom_lua_free(l);
}

static void test_nothing_carries_over_between_runs(void **st) {
  (void)st;
  struct loom_lua *l = loom_lua_new(0, 0);
  json_t *out = NULL;
  struct loom_error e = {0};
  assert_int_equal(run(l, "g", "leaked = 1", NULL, &out, &e), LOOM_ERR_INVALID);
  assert_non_null(strstr(e.message, "globals are read-only"));
  assert_int_equal(run(l, "s", "string.upper = nil", NULL, &out, &e),
                   LOOM_ERR_INVALID);
  assert_int_equal(
      run(l, "m", "getmetatable('').__index.upper = nil", NULL, &out, &e),
      LOOM_ERR_INVALID);
  assert_int_equal(run(l, "u", "return string.upper('ok')", NULL, &out, &e),
                   LOOM_OK);
  assert_true(json_is(out, "\"OK\""));
  json_decref(out);
  /* The same graph run twice on one thread reuses the sandbox. */
  struct loom_graph *g = load_graph("state: {n: {reducer: add, default: 0}}\n"
                                    "nodes: {a: {lua: 'return {n = 1}'}}\n"
                                    "edges: ['START -> a']\n");
  for (int i = 0; i < 2; i++) {
    json_t *in = J("{}"), *v = NULL;
    struct loom_run_opts o = {.input = in};
    assert_int_equal(run_graph(g, &o, &v, NULL, NULL), LOOM_RUN_SUCCESS);
    assert_true(json_is(v, "{\"n\":1}"));
    json_decref(in), json_decref(v);
  }
  loom_graph_free(g);
  loom_lua_free(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_way_out),
      cmocka_unit_test(test_instruction_limit_survives_pcall),
      cmocka_unit_test(test_memory_limit),
      cmocka_unit_test(test_errors_name_node_and_line),
      cmocka_unit_test(test_json_round_trip),
      cmocka_unit_test(test_interrupt_and_function_chunks),
      cmocka_unit_test(test_nothing_carries_over_between_runs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
