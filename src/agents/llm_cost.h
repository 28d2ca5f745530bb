/*
 * llm_cost — what a model call cost, from a configurable price table.
 *
 * Prices are US dollars per million tokens, input and output separately.
 * A table starts with a few well-known models and is overridden or
 * extended from JSON: {"openai/gpt-4o-mini": {"input": 0.15, "output":
 * 0.6}, "llama-3": {"input": 0, "output": 0}}. A model is looked up by its
 * whole label ("openai/gpt-4o-mini"), then by the id without the provider
 * ("gpt-4o-mini"), then by the longest table entry its id starts with (so
 * dated snapshots like "gpt-4o-mini-2024-07-18" find "gpt-4o-mini").
 * Unknown models cost 0 and say so (loom_llm_cost returns false). A table
 * is read-only once built, so every loop may share it.
 */
#ifndef LOOM_AGENTS_LLM_COST_H
#define LOOM_AGENTS_LLM_COST_H

#include <stdbool.h>

#include "agents/llm.h"
#include "core/err.h"

struct loom_llm_prices;

/* A table with the built-in prices. */
struct loom_llm_prices *loom_llm_prices_new(void);

/* Adds or replaces prices from JSON text (shape above). LOOM_ERR_PARSE or
 * LOOM_ERR_INVALID with the offending entry named in `e`. */
loom_err loom_llm_prices_load_json(struct loom_llm_prices *t, const char *text,
                                   struct loom_error *e) LOOM_MUST_USE;

/* Sets one model's prices (USD per million tokens). */
void loom_llm_prices_set(struct loom_llm_prices *t, const char *model,
                         double input, double output);

void loom_llm_prices_free(struct loom_llm_prices *t);

/* Cost in USD of `u` for model `label` into *usd; false (and 0) when the
 * model has no price. */
bool loom_llm_cost(const struct loom_llm_prices *t, const char *label,
                   const struct loom_llm_usage *u, double *usd);

#endif
