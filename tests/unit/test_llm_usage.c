/*
 * test_llm_usage — a run's model tokens and cost, summed over its llm
 * nodes' calls (as the API executor sums them into the run's metadata),
 * and the per-tenant metrics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "agents/llm_usage.h"
#include "agents/nodes.h"
#include "core/alloc.h"
#include "engine/engine.h"
#include "engine_helpers.h"
#include "llm_server_harness.h"
#include "obs/metrics.h"

static struct llm_server srv;

static const char *GRAPH = "name: t\n"
                           "state:\n"
                           "  text: {type: string}\n"
                           "  a: {}\n"
                           "  b: {}\n"
                           "nodes:\n"
                           "  first:\n"
                           "    kind: llm\n"
                           "    model: scripted/small\n"
                           "    prompt: \"Summarize: {text}\"\n"
                           "    output: a\n"
                           "  second:\n"
                           "    kind: llm\n"
                           "    model: scripted/small\n"
                           "    prompt: \"Shorter: {a}\"\n"
                           "    output: b\n"
                           "edges:\n"
                           "  - START -> first\n"
                           "  - first -> second\n"
                           "  - second -> END\n";

static void usage_cb(const struct loom_event *ev, void *arg) {
  if (ev->type == LOOM_EVENT_CUSTOM)
    loom_llm_usage_add(arg, "acme", ev->data);
}

static json_int_t int_at(const json_t *o, const char *key) {
  return json_integer_value(json_object_get(o, key));
}

static void metric_has(const char *text, const char *line) {
  if (!strstr(text, line))
    fail_msg("no '%s' in metrics:\n%s", line, text);
}

static void run_totals_are_the_sum_of_its_calls(void **state) {
  (void)state;
  llm_server_script(
      &srv, "[{\"content\":\"Owls hunt.\",\"usage\":{\"prompt_tokens\":11,"
            "\"completion_tokens\":5}},"
            "{\"content\":\"Owls.\",\"usage\":{\"prompt_tokens\":30,"
            "\"completion_tokens\":7}}]");
  struct loom_graph *g;
  struct loom_error e = {0};
  if (loom_graph_load(GRAPH, strlen(GRAPH), "t.yaml", &g, &e))
    fail_msg("load: %s", e.message);
  json_t *input = json_pack("{s:s}", "text", "Owls hunt at night.");
  struct loom_run_opts opts = {.input = input};
  struct loom_run *run;
  assert_int_equal(loom_run_new(g, &opts, &run, &e), LOOM_OK);
  json_t *usage = NULL;
  loom_run_subscribe(run, usage_cb, &usage);
  enum loom_run_status st = run_to_stop(run); /* parks on model calls */
  assert_int_equal(st, LOOM_RUN_SUCCESS);
  json_t *reqs = llm_server_requests(&srv);
  assert_int_equal(json_array_size(reqs), 2);
  json_decref(reqs);
  assert_non_null(usage);
  assert_int_equal(int_at(usage, "prompt_tokens"), 11 + 30);
  assert_int_equal(int_at(usage, "completion_tokens"), 5 + 7);
  assert_int_equal(int_at(usage, "total_tokens"), 53);
  assert_int_equal(int_at(usage, "calls"), 2);
  /* Price table: 1 USD per million input tokens, 2 per million output. */
  double want = (41 * 1.0 + 12 * 2.0) / 1e6;
  double cost = json_number_value(json_object_get(usage, "cost_usd"));
  assert_true(cost > want - 1e-12 && cost < want + 1e-12);
  json_t *m =
      json_object_get(json_object_get(usage, "models"), "scripted/small");
  assert_int_equal(int_at(m, "prompt_tokens"), 41);
  /* As the executor shows it: the run's metadata gets "usage". */
  json_t *meta = json_pack("{s:s}", "owner", "me");
  loom_llm_usage_attach(&meta, usage);
  assert_string_equal(json_string_value(json_object_get(meta, "owner")), "me");
  assert_true(json_equal(json_object_get(meta, "usage"), usage));
  char *text = loom_metrics_render();
  metric_has(
      text,
      "loom_llm_tenant_tokens_total{tenant=\"acme\",model=\"scripted/small\","
      "kind=\"prompt\"} 41");
  metric_has(
      text,
      "loom_llm_tenant_tokens_total{tenant=\"acme\",model=\"scripted/small\","
      "kind=\"completion\"} 12");
  metric_has(text, "loom_llm_tenant_calls_total{tenant=\"acme\",model="
                   "\"scripted/small\"} 2");
  metric_has(text, "loom_llm_tenant_cost_usd_total{tenant=\"acme\",model="
                   "\"scripted/small\"}");
  loom_free(text);
  json_decref(meta);
  json_decref(usage);
  loom_run_free(run);
  json_decref(input);
  loom_graph_free(g);
}

static void other_events_are_ignored(void **state) {
  (void)state;
  json_t *acc = NULL;
  json_t *token = json_pack("{s:s, s:s}", "event", "token", "text", "hi");
  assert_false(loom_llm_usage_add(&acc, NULL, token));
  assert_null(acc);
  json_t *meta = NULL;
  loom_llm_usage_attach(&meta, acc); /* nothing to attach */
  assert_null(meta);
  json_decref(token);
}

static int setup(void **state) {
  (void)state;
  setenv("LOOM_LLM_PRICES", "{\"scripted/small\":{\"input\":1,\"output\":2}}",
         1);
  return llm_server_start_nodes(&srv) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  llm_server_stop_nodes(&srv);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(run_totals_are_the_sum_of_its_calls),
      cmocka_unit_test(other_events_are_ignored),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
