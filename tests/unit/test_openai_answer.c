/*
 * test_openai_answer — the tree-less reader of OpenAI chat answers gives
 * what jansson's path gives, or declines: common answers are read by it,
 * answers with tool calls and anything jansson refuses go to jansson, and
 * for thousands of mutated answers every one the reader accepts is valid
 * JSON for jansson with the same fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agents/openai_answer.h"
#include "agents/provider.h"
#include "core/alloc.h"
#include "core/json.h"

static const char ANSWER[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,"
    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{"
    "\"role\":\"assistant\",\"content\":\"Hello \\\"you\\\"\\n\\u00e9\\u20ac"
    "\\ud83d\\ude00 caf\xc3\xa9\",\"refusal\":null,\"tool_calls\":[]},"
    "\"logprobs\":null,\"finish_reason\":\"length\"}],\"usage\":{"
    "\"prompt_tokens\":9,\"completion_tokens\":-7,\"total_tokens\":16,"
    "\"x\":[1.5e10,-0.0,true,false,{}]}}";

/* What jansson's path reads: the reference the reader must agree with. */
static bool reference(const char *body, size_t len,
                      struct loom_openai_answer *out) {
  memset(out, 0, sizeof *out);
  json_t *root =
      json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
  json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
  json_t *msg = json_object_get(choice, "message");
  json_t *usage = json_object_get(root, "usage");
  const char *s;
  if (!json_is_object(msg)) {
    json_decref(root);
    return false;
  }
  if ((s = json_string_value(json_object_get(msg, "content"))))
    out->content = loom_strdup(s);
  if ((s = json_string_value(json_object_get(choice, "finish_reason"))))
    out->finish_reason = loom_strdup(s);
  if ((s = json_string_value(json_object_get(root, "model"))))
    out->model = loom_strdup(s);
  if ((s = json_string_value(json_object_get(root, "id"))))
    out->id = loom_strdup(s);
  out->prompt_tokens =
      (long)json_integer_value(json_object_get(usage, "prompt_tokens"));
  out->completion_tokens =
      (long)json_integer_value(json_object_get(usage, "completion_tokens"));
  json_decref(root);
  return true;
}

static bool same_str(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The reader either declines or agrees with jansson on every field. */
static bool agrees(const char *body, size_t len) {
  struct loom_openai_answer fast, ref;
  if (!loom_openai_answer_read(body, len, &fast))
    return true;
  bool ok = reference(body, len, &ref) && same_str(fast.content, ref.content) &&
            same_str(fast.finish_reason, ref.finish_reason) &&
            same_str(fast.model, ref.model) && same_str(fast.id, ref.id) &&
            fast.prompt_tokens == ref.prompt_tokens &&
            fast.completion_tokens == ref.completion_tokens;
  loom_openai_answer_cleanup(&fast);
  loom_openai_answer_cleanup(&ref);
  return ok;
}

static void common_answer_is_read(void **state) {
  (void)state;
  struct loom_openai_answer a;
  assert_true(loom_openai_answer_read(ANSWER, sizeof ANSWER - 1, &a));
  assert_string_equal(a.content, "Hello \"you\"\n\xc3\xa9\xe2\x82\xac"
                                 "\xf0\x9f\x98\x80 caf\xc3\xa9");
  assert_string_equal(a.finish_reason, "length");
  assert_string_equal(a.model, "gpt-4o-mini");
  assert_string_equal(a.id, "chatcmpl-1");
  assert_int_equal(a.prompt_tokens, 9);
  assert_int_equal(a.completion_tokens, -7);
  loom_openai_answer_cleanup(&a);
  assert_true(agrees(ANSWER, sizeof ANSWER - 1));

  /* Through the provider, as the model call reads it. */
  struct loom_llm_response r;
  struct loom_error e = {0};
  assert_int_equal(
      loom_provider_openai.chat_parse(ANSWER, sizeof ANSWER - 1, &r, &e),
      LOOM_OK);
  assert_string_equal(r.finish_reason, "length");
  assert_int_equal(r.n_calls, 0);
  assert_int_equal(r.usage.prompt_tokens, 9);
  loom_llm_response_cleanup(&r);
}

static void unsure_answers_go_to_jansson(void **state) {
  (void)state;
  static const char *const declined[] = {
      /* tool calls: jansson's path reads them */
      "{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"a\"}]}}]}",
      /* errors jansson reports */
      "{\"choices\":[{\"message\":{}}]} x",
      "{\"choices\":[{\"message\":{},\"message\":{}}]}",
      "{\"choices\":[{\"message\":{\"content\":\"\\u0000\"}}]}",
      "{\"choices\":[{\"message\":{\"content\":\"\\ud83d\"}}]}",
      "{\"choices\":[{\"message\":{\"content\":\"\\ude00\"}}]}",
      "{\"choices\":[{\"message\":{\"content\":\"\xc0\xaf\"}}]}",
      "{\"choices\":[{\"message\":{\"content\":\"\xed\xa0\x80\"}}]}",
      "{\"choices\":[{\"message\":{\"content\":\"a\tb\"}}]}",
      "{\"choices\":[{\"message\":{\"content\":\"\\x\"}}]}",
      "{\"choices\":[{\"message\":{}}],\"n\":012}",
      "{\"choices\":[{\"message\":{}}],\"n\":1.}",
      "{\"choices\":[{\"message\":{}}],\"n\":99999999999999999999}",
      "{\"choices\":[{\"message\":{}}],\"n\":1e999}",
      "{\"choices\":[{\"message\":{}}],}",
      "{\"choices\":[{\"message\":{}}]",
      /* what the reader leaves to jansson */
      "{\"ch\\u006fices\":[{\"message\":{}}]}",
      "{\"choices\":[{\"message\":\"hi\"}]}",
      "{\"choices\":[]}",
      "[1]",
      "",
  };
  for (size_t i = 0; i < sizeof declined / sizeof *declined; i++) {
    struct loom_openai_answer a;
    if (loom_openai_answer_read(declined[i], strlen(declined[i]), &a))
      fail_msg("read, should decline: %s", declined[i]);
  }
  /* Errors still come from jansson's path. */
  struct loom_llm_response r;
  struct loom_error e = {0};
  const char *bad = declined[2];
  assert_int_equal(loom_provider_openai.chat_parse(bad, strlen(bad), &r, &e),
                   LOOM_ERR_PARSE);
  const char *none = declined[18];
  assert_int_equal(loom_provider_openai.chat_parse(none, strlen(none), &r, &e),
                   LOOM_ERR_UPSTREAM);
}

static void mutated_answers_agree_with_jansson(void **state) {
  (void)state;
  static const char alphabet[] = "{}[]\",:\\u0e9\xc3\xa9\xf0 \t-.+E";
  char buf[sizeof ANSWER + 8];
  uint32_t seed = 12345;
  size_t read = 0;
  for (int i = 0; i < 20000; i++) {
    size_t len = sizeof ANSWER - 1;
    memcpy(buf, ANSWER, len);
    for (int k = 0; k < 1 + i % 3; k++) {
      seed = seed * 1103515245u + 12345u;
      size_t at = (seed >> 8) % len;
      seed = seed * 1103515245u + 12345u;
      char c = alphabet[(seed >> 8) % (sizeof alphabet - 1)];
      if (seed & 1) {
        buf[at] = c; /* replace */
      } else {
        memmove(buf + at, buf + at + 1, len - at - 1); /* delete */
        len--;
      }
    }
    struct loom_openai_answer a;
    if (loom_openai_answer_read(buf, len, &a)) {
      read++;
      loom_openai_answer_cleanup(&a);
    }
    if (!agrees(buf, len))
      fail_msg("disagrees with jansson: %.*s", (int)len, buf);
  }
  assert_true(read > 1000); /* many mutations stay valid and are read */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(common_answer_is_read),
      cmocka_unit_test(unsure_answers_go_to_jansson),
      cmocka_unit_test(mutated_answers_agree_with_jansson),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
