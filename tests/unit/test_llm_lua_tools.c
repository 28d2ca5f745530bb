/*
 * test_llm_lua_tools — tools written in Lua: declared in a graph's agent
 * node or in a tool file, called by the model (the scripted server), their
 * results, errors and runaway loops fed back in the next request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "agents/nodes.h"
#include "agents/tools.h"
#include "engine/engine.h"
#include "engine_helpers.h"
#include "llm_server_harness.h"

static struct llm_server srv;

static const char *GRAPH =
    "name: t\n"
    "state:\n"
    "  question: {type: string}\n"
    "  answer: {}\n"
    "nodes:\n"
    "  solve:\n"
    "    kind: agent\n"
    "    model: scripted/small\n"
    "    prompt: \"{question}\"\n"
    "    output: answer\n"
    "    tools:\n"
    "      - calculator\n"
    "      - name: word_count\n"
    "        description: Counts the words of a text.\n"
    "        parameters: {type: object, properties: {text: {type: string}},"
    " required: [text]}\n"
    "        lua: |\n"
    "          local n = 0\n"
    "          for _ in string.gmatch(args.text, '%S+') do n = n + 1 end\n"
    "          return {words = n, first = string.match(args.text, '%S+')}\n"
    "      - name: boom\n"
    "        lua: \"error('the vault is locked')\"\n"
    "      - name: spin\n"
    "        max_instructions: 200000\n"
    "        lua: \"while true do end\"\n"
    "edges:\n"
    "  - START -> solve\n"
    "  - solve -> END\n";

static const char *SCRIPT =
    "[{\"tool_calls\":["
    "{\"id\":\"c1\",\"name\":\"word_count\",\"arguments\":"
    "\"{\\\"text\\\":\\\"owls hunt at night\\\"}\"},"
    "{\"id\":\"c2\",\"name\":\"boom\",\"arguments\":\"{}\"},"
    "{\"id\":\"c3\",\"name\":\"spin\",\"arguments\":\"{}\"},"
    "{\"id\":\"c4\",\"name\":\"word_count\",\"arguments\":\"{\\\"text\\\":7}\"}"
    "]},"
    "{\"content\":\"Four words.\"}]";

static const char *content_of(json_t *msgs, size_t i) {
  return json_string_value(json_object_get(json_array_get(msgs, i), "content"));
}

static void agent_calls_lua_tools(void **state) {
  (void)state;
  llm_server_script(&srv, SCRIPT);
  struct loom_graph *g;
  struct loom_error e = {0};
  if (loom_graph_load(GRAPH, strlen(GRAPH), "t.yaml", &g, &e))
    fail_msg("load: %s", e.message);
  json_t *input = json_pack("{s:s}", "question", "How many words?");
  struct loom_run_opts opts = {.input = input};
  struct loom_run *run;
  assert_int_equal(loom_run_new(g, &opts, &run, &e), LOOM_OK);
  enum loom_run_status st = run_to_stop(run); /* parks on model calls */
  if (st != LOOM_RUN_SUCCESS)
    fail_msg("status %s: %s", loom_run_status_name(st),
             loom_run_error(run) ? loom_run_error(run)->message : "");
  assert_string_equal(
      json_string_value(json_object_get(loom_run_values(run), "answer")),
      "Four words.");
  json_t *reqs = llm_server_requests(&srv);
  assert_int_equal(json_array_size(reqs), 2);
  /* The first request declares the Lua tool with its schema. */
  json_t *first = json_object_get(json_array_get(reqs, 0), "json");
  json_t *decl = json_object_get(
      json_array_get(json_object_get(first, "tools"), 1), "function");
  assert_string_equal(json_string_value(json_object_get(decl, "name")),
                      "word_count");
  assert_string_equal(json_string_value(json_object_get(decl, "description")),
                      "Counts the words of a text.");
  /* The second carries the four results, in call order. */
  json_t *msgs = json_object_get(
      json_object_get(json_array_get(reqs, 1), "json"), "messages");
  assert_int_equal(json_array_size(msgs), 6);
  assert_string_equal(content_of(msgs, 2), "{\"first\":\"owls\",\"words\":4}");
  const char *boom = content_of(msgs, 3);
  if (!strstr(boom, "the vault is locked") || !strstr(boom, "Error"))
    fail_msg("boom: %s", boom);
  const char *spin = content_of(msgs, 4);
  if (!strstr(spin, "instruction limit of 200000"))
    fail_msg("spin: %s", spin);
  const char *bad = content_of(msgs, 5); /* validated before Lua ran */
  if (!strstr(bad, "$.text must be a string"))
    fail_msg("bad: %s", bad);
  json_decref(reqs);
  loom_run_free(run);
  json_decref(input);
  loom_graph_free(g);
}

static void tool_done_cb(void *ud, bool is_error, const char *text) {
  snprintf(ud, 256, "%s%s", is_error ? "E:" : "", text);
}

static void tool_file_and_default_limit(void **state) {
  (void)state;
  char path[] = "/tmp/loom-lua-tools-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *text =
      "tools:\n"
      "  - name: shout\n"
      "    parameters: {type: object, properties: {s: {type: string}}}\n"
      "    lua: return string.upper(args.s)\n"
      "  - name: forever\n"
      "    lua: \"local i = 0 while true do i = i + 1 end\"\n"
      "  - name: escape\n"
      "    lua: return os.getenv('HOME')\n";
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  struct loom_tools *r = loom_tools_new();
  struct loom_error e = {0};
  if (loom_tools_load_file(r, path, &e))
    fail_msg("load: %s", e.message);
  unlink(path);
  struct loom_tool_env env = {0};
  char out[256];
  loom_tools_invoke(r, &env, "shout", "{\"s\":\"hoot\"}", tool_done_cb, out);
  assert_string_equal(out, "HOOT");
  loom_tools_invoke(r, &env, "forever", "{}", tool_done_cb, out);
  if (!strstr(out, "E:") || !strstr(out, "instruction limit"))
    fail_msg("forever: %s", out);
  loom_tools_invoke(r, &env, "escape", "{}", tool_done_cb, out); /* no os */
  if (strncmp(out, "E:", 2))
    fail_msg("escape: %s", out);
  loom_tools_free(r);
}

static void declaration_errors_at_load(void **state) {
  (void)state;
  const char *bad[][2] = {
      {"      - {name: broken, lua: \"return (\"}\n", "[tool broken]"},
      {"      - {name: nobody}\n", "needs 'name' and 'lua'"},
      {"      - {name: calculator, lua: return 1}\n", "already exists"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char spec[1024];
    snprintf(spec, sizeof spec,
             "name: b\nstate: {out: {}}\nnodes:\n  n:\n    kind: agent\n"
             "    prompt: hi\n    tools:\n%sedges:\n  - START -> n\n"
             "  - n -> END\n",
             bad[i][0]);
    if (!graph_load_fails_with(spec, bad[i][1]))
      fail_msg("case %zu", i);
  }
}

static int setup(void **state) {
  (void)state;
  return llm_server_start_nodes(&srv) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  llm_server_stop_nodes(&srv);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(agent_calls_lua_tools),
      cmocka_unit_test(tool_file_and_default_limit),
      cmocka_unit_test(declaration_errors_at_load),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
