/*
 * llm_usage — sums llm_usage events into run totals and tenant metrics.
 *
 * Totals are plain JSON numbers updated in place: integers for tokens and
 * calls, a real for the cost. Labels are the event's model label and the
 * tenant; metrics are created on first use by the metrics registry.
 */
#include "agents/llm_usage.h"

#include <string.h>

#include "obs/metrics.h"

static void add_int(json_t *o, const char *key, json_int_t by) {
  json_t *v = json_object_get(o, key);
  json_object_set_new(o, key, json_integer(json_integer_value(v) + by));
}

static void add_real(json_t *o, const char *key, double by) {
  json_t *v = json_object_get(o, key);
  json_object_set_new(o, key, json_real(json_number_value(v) + by));
}

static void add_figures(json_t *o, json_int_t p, json_int_t c, double cost,
                        json_int_t calls) {
  add_int(o, "prompt_tokens", p);
  add_int(o, "completion_tokens", c);
  add_real(o, "cost_usd", cost);
  add_int(o, "calls", calls);
}

static void record_metrics(const char *tenant, const char *model, json_int_t p,
                           json_int_t c, double cost, json_int_t calls) {
  static const char *const tok_labels[] = {"tenant", "model", "kind", NULL};
  static const char *const labels[] = {"tenant", "model", NULL};
  struct loom_metric *tok =
      loom_metrics_counter("loom_llm_tenant_tokens_total",
                           "Model tokens used by a tenant's runs", tok_labels);
  const char *pv[] = {tenant, model, "prompt"};
  const char *cv[] = {tenant, model, "completion"};
  const char *v[] = {tenant, model};
  loom_metric_inc(tok, pv, (double)p);
  loom_metric_inc(tok, cv, (double)c);
  loom_metric_inc(loom_metrics_counter("loom_llm_tenant_cost_usd_total",
                                       "Model cost (USD) of a tenant's runs",
                                       labels),
                  v, cost);
  loom_metric_inc(loom_metrics_counter("loom_llm_tenant_calls_total",
                                       "Model calls made by a tenant's runs",
                                       labels),
                  v, (double)calls);
}

bool loom_llm_usage_add(json_t **acc, const char *tenant, const json_t *event) {
  const char *kind = json_string_value(json_object_get(event, "event"));
  if (!kind || strcmp(kind, "llm_usage"))
    return false;
  const char *model = json_string_value(json_object_get(event, "model"));
  model = model ? model : "unknown";
  json_int_t p = json_integer_value(json_object_get(event, "prompt_tokens"));
  json_int_t c =
      json_integer_value(json_object_get(event, "completion_tokens"));
  double cost = json_number_value(json_object_get(event, "cost_usd"));
  json_int_t calls = json_integer_value(json_object_get(event, "calls"));
  if (!*acc)
    *acc = json_pack("{s:I, s:I, s:I, s:f, s:I, s:{}}", "prompt_tokens",
                     (json_int_t)0, "completion_tokens", (json_int_t)0,
                     "total_tokens", (json_int_t)0, "cost_usd", 0.0, "calls",
                     (json_int_t)0, "models");
  add_figures(*acc, p, c, cost, calls);
  add_int(*acc, "total_tokens", p + c);
  json_t *models = json_object_get(*acc, "models");
  json_t *m = json_object_get(models, model);
  if (!m)
    json_object_set_new(models, model, m = json_object());
  add_figures(m, p, c, cost, calls);
  record_metrics(tenant ? tenant : "default", model, p, c, cost, calls);
  return true;
}

void loom_llm_usage_attach(json_t **metadata, json_t *acc) {
  if (!acc)
    return;
  if (!json_is_object(*metadata)) {
    json_decref(*metadata);
    *metadata = json_object();
  }
  json_object_set(*metadata, "usage", acc);
}
