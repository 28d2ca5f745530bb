/*
 * test_llm_nodes — `llm` and `agent` nodes in a graph run by the engine:
 * prompts from the state, answers into channels, token events, usage
 * events, and config errors at load time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agents/nodes.h"
#include "engine/engine.h"
#include "engine_helpers.h"
#include "llm_server_harness.h"

static struct llm_server srv;

static const char *GRAPH = "name: t\n"
                           "state:\n"
                           "  text: {type: string}\n"
                           "  summary: {}\n"
                           "  rating: {}\n"
                           "  answer: {}\n"
                           "  transcript: {type: array, reducer: append}\n"
                           "nodes:\n"
                           "  summarize:\n"
                           "    kind: llm\n"
                           "    model: scripted/small\n"
                           "    system: Be brief.\n"
                           "    prompt: \"Summarize: {text}\"\n"
                           "    output: summary\n"
                           "  rate:\n"
                           "    kind: llm\n"
                           "    model: scripted/small\n"
                           "    prompt: \"Rate: {summary}\"\n"
                           "    schema: {type: object, properties: {score: "
                           "{type: integer}}, required: [score]}\n"
                           "    output: rating\n"
                           "  solve:\n"
                           "    kind: agent\n"
                           "    model: offline/extractive\n"
                           "    system: \"{text}\"\n"
                           "    prompt: When do owls hunt?\n"
                           "    tools: [current_time]\n"
                           "    output: answer\n"
                           "    messages: transcript\n"
                           "edges:\n"
                           "  - START -> summarize\n"
                           "  - summarize -> rate\n"
                           "  - rate -> solve\n"
                           "  - solve -> END\n";

struct seen {
  int tokens;
  int usage;
  char text[256];
};

static void event_cb(const struct loom_event *ev, void *arg) {
  struct seen *s = arg;
  if (ev->type != LOOM_EVENT_CUSTOM)
    return;
  const char *kind = json_string_value(json_object_get(ev->data, "event"));
  if (kind && !strcmp(kind, "token")) {
    s->tokens++;
    strncat(s->text, json_string_value(json_object_get(ev->data, "text")),
            sizeof s->text - strlen(s->text) - 1);
  } else if (kind && !strcmp(kind, "llm_usage")) {
    s->usage++;
  }
}

static void graph_with_model_nodes(void **state) {
  (void)state;
  llm_server_script(&srv, "[{\"content\":\"Owls hunt at "
                          "night.\",\"content_chunk\":5,\"chunk_delay_ms\":50},"
                          "{\"content\":\"{\\\"score\\\": 8}\"}]");
  struct loom_graph *g;
  struct loom_error e = {0};
  if (loom_graph_load(GRAPH, strlen(GRAPH), "t.yaml", &g, &e))
    fail_msg("load: %s", e.message);
  json_t *input =
      json_pack("{s:s}", "text", "Owls hunt at night. They sleep by day.");
  struct loom_run_opts opts = {.input = input};
  struct loom_run *run;
  assert_int_equal(loom_run_new(g, &opts, &run, &e), LOOM_OK);
  struct seen s = {0};
  loom_run_subscribe(run, event_cb, &s);
  enum loom_run_status st = run_to_stop(run); /* parks on model calls */
  if (st != LOOM_RUN_SUCCESS)
    fail_msg("status %s: %s", loom_run_status_name(st),
             loom_run_error(run) ? loom_run_error(run)->message : "");
  const json_t *v = loom_run_values(run);
  assert_string_equal(json_string_value(json_object_get(v, "summary")),
                      "Owls hunt at night.");
  assert_int_equal(json_integer_value(
                       json_object_get(json_object_get(v, "rating"), "score")),
                   8);
  assert_string_equal(json_string_value(json_object_get(v, "answer")),
                      "[offline extractive answer: no model is configured] "
                      "Owls hunt at night.");
  /* system, user, assistant (tool call), tool, assistant */
  assert_int_equal(json_array_size(json_object_get(v, "transcript")), 5);
  /* "Owls ", "hunt ", ... streamed as they came (deltas that arrive
   * together are sent as one event, so at least two of four). */
  assert_true(s.tokens >= 2);
  assert_non_null(strstr(s.text, "Owls hunt at night."));
  assert_int_equal(s.usage, 3);
  json_t *reqs = llm_server_requests(&srv);
  json_t *first = json_object_get(json_array_get(reqs, 0), "json");
  json_t *msgs = json_object_get(first, "messages");
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
      "Summarize: Owls hunt at night. They sleep by day.");
  assert_string_equal(json_string_value(json_object_get(first, "model")),
                      "small");
  json_decref(reqs);
  loom_run_free(run);
  json_decref(input);
  loom_graph_free(g);
}

/* A run nobody streams tokens from asks the model for its answer in one
 * piece: no token events, and the request says "stream": false. */
static void answer_in_one_piece_without_token_listeners(void **state) {
  (void)state;
  llm_server_script(&srv, "[{\"content\":\"Owls hunt at night.\"},"
                          "{\"content\":\"{\\\"score\\\": 8}\"}]");
  struct loom_graph *g;
  struct loom_error e = {0};
  if (loom_graph_load(GRAPH, strlen(GRAPH), "t.yaml", &g, &e))
    fail_msg("load: %s", e.message);
  json_t *input = json_pack("{s:s}", "text", "Owls hunt at night.");
  struct loom_run_opts opts = {.input = input, .no_token_events = true};
  struct loom_run *run;
  assert_int_equal(loom_run_new(g, &opts, &run, &e), LOOM_OK);
  struct seen s = {0};
  loom_run_subscribe(run, event_cb, &s);
  assert_int_equal(run_to_stop(run), LOOM_RUN_SUCCESS);
  assert_string_equal(
      json_string_value(json_object_get(loom_run_values(run), "summary")),
      "Owls hunt at night.");
  assert_int_equal(s.tokens, 0);
  json_t *reqs = llm_server_requests(&srv);
  json_t *first = json_object_get(json_array_get(reqs, 0), "json");
  assert_false(json_is_true(json_object_get(first, "stream")));
  json_decref(reqs);
  loom_run_free(run);
  json_decref(input);
  loom_graph_free(g);
}

static void config_errors_at_load(void **state) {
  (void)state;
  const char *bad[][2] = {
      {"    kind: agent\n    prompt: hi\n    tools: [no_such_tool]\n",
       "tools[0] is not a known tool"},
      {"    kind: llm\n", "'prompt' is required"},
      {"    kind: llm\n    prompt: hi\n    model: nowhere/x\n",
       "unknown provider 'nowhere'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char spec[1024];
    snprintf(
        spec, sizeof spec,
        "name: b\nstate: {out: {}}\nnodes:\n  n:\n%sedges:\n  - START -> n\n"
        "  - n -> END\n",
        bad[i][0]);
    if (!graph_load_fails_with(spec, bad[i][1]))
      fail_msg("case %zu", i);
  }
}

/* A model node's run-time error names its node once ("node 'a': node
 * 'a': ..." before: the kind and the scheduler both named it). */
static void run_error_names_node_once(void **state) {
  (void)state;
  static const char spec[] = "name: once\nstate: {q: {}, out: {}}\nnodes:\n"
                             "  a:\n    kind: llm\n"
                             "    model: offline/extractive\n"
                             "    prompt: \"Answer {q}\"\n    output: out\n"
                             "edges:\n  - START -> a\n  - a -> END\n";
  struct loom_graph *g;
  struct loom_error e = {0};
  if (loom_graph_load(spec, strlen(spec), "once.yaml", &g, &e))
    fail_msg("load: %s", e.message);
  json_t *input = json_object();
  struct loom_run_opts opts = {.input = input};
  struct loom_run *run;
  assert_int_equal(loom_run_new(g, &opts, &run, &e), LOOM_OK);
  assert_int_equal(run_to_stop(run), LOOM_RUN_ERROR);
  assert_string_equal(loom_run_error(run)->message,
                      "node 'a': prompt template: the state has no field 'q'");
  loom_run_free(run);
  json_decref(input);
  loom_graph_free(g);
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
      cmocka_unit_test(graph_with_model_nodes),
      cmocka_unit_test(answer_in_one_piece_without_token_listeners),
      cmocka_unit_test(config_errors_at_load),
      cmocka_unit_test(run_error_names_node_once),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
