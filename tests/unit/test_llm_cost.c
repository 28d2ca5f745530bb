/*
 * test_llm_cost — a call's cost from the price table, configurable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "agents/llm_cost.h"

static void builtin_and_snapshot_names(void **state) {
  (void)state;
  struct loom_llm_prices *t = loom_llm_prices_new();
  struct loom_llm_usage u = {.prompt_tokens = 1000000,
                             .completion_tokens = 500000};
  double usd;
  assert_true(loom_llm_cost(t, "openai/gpt-4o-mini", &u, &usd));
  assert_true(fabs(usd - 0.45) < 1e-9);
  /* A dated snapshot finds its family, not the shorter "gpt-4o". */
  assert_true(loom_llm_cost(t, "openai/gpt-4o-mini-2024-07-18", &u, &usd));
  assert_true(fabs(usd - 0.45) < 1e-9);
  assert_true(loom_llm_cost(t, "anthropic/claude-3-5-haiku-latest", &u, &usd));
  assert_true(fabs(usd - 2.8) < 1e-9);
  assert_false(loom_llm_cost(t, "vllm/llama-3", &u, &usd));
  assert_true(usd == 0);
  loom_llm_prices_free(t);
}

static void table_from_json(void **state) {
  (void)state;
  struct loom_llm_prices *t = loom_llm_prices_new();
  struct loom_error e;
  assert_int_equal(
      loom_llm_prices_load_json(t,
                                "{\"vllm/llama-3\":{\"input\":1,\"output\":2},"
                                "\"gpt-4o-mini\":{\"input\":0,\"output\":0}}",
                                &e),
      LOOM_OK);
  struct loom_llm_usage u = {.prompt_tokens = 2000, .completion_tokens = 1000};
  double usd;
  assert_true(loom_llm_cost(t, "vllm/llama-3", &u, &usd));
  assert_true(fabs(usd - 0.004) < 1e-12);
  assert_true(loom_llm_cost(t, "openai/gpt-4o-mini", &u, &usd));
  assert_true(usd == 0);
  assert_int_equal(
      loom_llm_prices_load_json(t, "{\"x\":{\"input\":-1,\"output\":0}}", &e),
      LOOM_ERR_INVALID);
  assert_non_null(strstr(e.message, "'x'"));
  assert_int_equal(loom_llm_prices_load_json(t, "[", &e), LOOM_ERR_PARSE);
  loom_llm_prices_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(builtin_and_snapshot_names),
      cmocka_unit_test(table_from_json),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
