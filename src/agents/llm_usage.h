/*
 * llm_usage — model tokens and cost summed over a run, and per tenant.
 *
 * `llm` and `agent` nodes report each node's model work as a custom event
 * {"event":"llm_usage","node","model","prompt_tokens","completion_tokens",
 * "cost_usd","calls"} (nodes.h). Whoever watches a run's events (the API
 * executor) feeds them here: the run's totals build up in one JSON object,
 * and every event also adds to the per-tenant metrics
 *   loom_llm_tenant_tokens_total{tenant,model,kind}  (kind: prompt|completion)
 *   loom_llm_tenant_cost_usd_total{tenant,model}
 *   loom_llm_tenant_calls_total{tenant,model}
 * (the per-call metrics of llm_call.h have no tenant: calls do not know it).
 */
#ifndef LOOM_AGENTS_LLM_USAGE_H
#define LOOM_AGENTS_LLM_USAGE_H

#include <jansson.h>
#include <stdbool.h>

/*
 * Adds `event` (a custom event's data) to the run totals in *acc when it
 * is an llm_usage event; other events are ignored (false). *acc is created
 * on first use (caller decrefs): {"prompt_tokens","completion_tokens",
 * "total_tokens","cost_usd","calls","models":{label:{prompt_tokens,
 * completion_tokens,cost_usd,calls}}}. `tenant` NULL counts as "default".
 */
bool loom_llm_usage_add(json_t **acc, const char *tenant, const json_t *event);

/*
 * Puts the totals (if any) into *metadata as "usage", creating the object
 * when *metadata is not one. For a run's metadata when it finishes.
 */
void loom_llm_usage_attach(json_t **metadata, json_t *acc);

#endif
