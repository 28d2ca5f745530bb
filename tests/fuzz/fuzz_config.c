/*
 * fuzz_config — settings as an operator (or a deployment template with a
 * typo) writes them: any bytes as a config file of NAME=value lines
 * (loom_config_load_file), then validation, the numbers read back, the
 * named endpoints of LOOM_ENDPOINTS and the default model
 * (loom_providers_new), model names resolved against them, and
 * LOOM_LLM_PRICES as a JSON price table. Any input must give a
 * configuration or an error saying why, never a crash, leak or UB.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_scratch.h"

#include "agents/llm_cost.h"
#include "agents/provider.h"
#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void resolve_models(const struct loom_config *c) {
  struct loom_providers *ps = NULL;
  struct loom_error e = {0};
  if (loom_providers_new(c, &ps, &e) != LOOM_OK) {
    if (!e.message[0])
      abort(); /* a refusal says why */
    return;
  }
  const char *const models[] = {
      NULL,        c->embed_model, "openai/gpt-4o", "anthropic/claude",
      "offline/x", "local/m"};
  for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
    struct loom_provider *p = NULL;
    if (loom_providers_resolve(ps, models[i], &p, &e) == LOOM_OK)
      loom_provider_free(p);
  }
  loom_providers_free(ps);
}

static void price(const char *table) {
  struct loom_llm_prices *t = loom_llm_prices_new();
  struct loom_error e;
  if (table[0] == '{')
    (void)loom_llm_prices_load_json(t, table, &e);
  struct loom_llm_usage u = {.prompt_tokens = 1000, .completion_tokens = 10};
  double usd;
  (void)loom_llm_cost(t, "openai/gpt-4o-mini-2024", &u, &usd);
  (void)loom_llm_cost(t, "local/m", &u, &usd);
  loom_llm_prices_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool env_cleared;
  if (!env_cleared) { /* the file alone decides */
    clearenv();
    env_cleared = true;
  }
  const char *path = scratch_write("config", "loom.conf", data, size);
  struct loom_config c;
  struct loom_error e = {0};
  if (loom_config_load(&c, &e) == LOOM_OK &&
      loom_config_load_file(&c, path, &e) == LOOM_OK &&
      loom_config_validate(&c, &e) == LOOM_OK) {
    (void)loom_config_max_body(&c);
    (void)loom_config_run_timeout(&c);
    (void)loom_config_grace_seconds(&c);
    resolve_models(&c);
    price(c.llm_prices);
  }
  loom_config_cleanup(&c);
  return 0;
}
