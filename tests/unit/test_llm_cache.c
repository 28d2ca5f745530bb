/*
 * The exact-request cache's entries read back (llm_cache): an entry a
 * shared cache may hold that loom would not write is a miss, never a
 * crash, a huge allocation or an answer with impossible numbers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "agents/llm_cache.h"

/* {"dims": 65536, "vectors": [[], ... 2^20 times]}: a small entry (one
 * empty row shared) that asked for 256 GB before its rows were checked,
 * and the allocation failing ended the process. */
static void embeddings_entry_with_rows_too_short_is_a_miss(void **state) {
  (void)state;
  json_t *rows = json_array(), *empty = json_array();
  for (size_t i = 0; i < (1u << 20); i++)
    json_array_append(rows, empty);
  json_t *v = json_pack("{s:i, s:o, s:i}", "dims", 65536, "vectors", rows,
                        "prompt_tokens", 1);
  struct loom_embeddings em;
  assert_false(loom_llm_cache_unpack_embeddings(v, &em));
  assert_null(em.data);
  json_decref(v);
  json_decref(empty);
}

/* A number past the float range became an infinite vector component. */
static void embeddings_past_float_range_are_a_miss(void **state) {
  (void)state;
  json_t *v = json_loads(
      "{\"dims\": 2, \"vectors\": [[1e300, 1]], \"prompt_tokens\": 1}", 0,
      NULL);
  struct loom_embeddings em;
  assert_false(loom_llm_cache_unpack_embeddings(v, &em));
  json_decref(v);
  v = json_loads("{\"dims\": 2, \"vectors\": [[\"x\", 1]]}", 0, NULL);
  assert_false(loom_llm_cache_unpack_embeddings(v, &em));
  json_decref(v);
  v = json_loads("{\"dims\": 2, \"vectors\": [[0.5, -3]], \"prompt_tokens\": "
                 "-4}",
                 0, NULL);
  assert_true(loom_llm_cache_unpack_embeddings(v, &em));
  assert_int_equal(em.n, 1);
  assert_float_equal(em.data[1], -3, 0);
  assert_int_equal(em.prompt_tokens, 0); /* never a negative count */
  loom_embeddings_cleanup(&em);
  json_decref(v);
}

/* Negative token counts would make a cached call's cost negative. */
static void answer_with_negative_usage_reads_as_zero(void **state) {
  (void)state;
  json_t *v = json_loads("{\"content\": \"hi\", \"tool_calls\": [], "
                         "\"usage\": [-5, 7]}",
                         0, NULL);
  struct loom_llm_response r;
  assert_true(loom_llm_cache_unpack(v, &r));
  assert_string_equal(r.content, "hi");
  assert_string_equal(r.finish_reason, "stop");
  assert_int_equal(r.usage.prompt_tokens, 0);
  assert_int_equal(r.usage.completion_tokens, 7);
  loom_llm_response_cleanup(&r);
  json_decref(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(embeddings_entry_with_rows_too_short_is_a_miss),
      cmocka_unit_test(embeddings_past_float_range_are_a_miss),
      cmocka_unit_test(answer_with_negative_usage_reads_as_zero),
  };
  return cmocka_run_group_tests_name("llm_cache", tests, NULL, NULL);
}
