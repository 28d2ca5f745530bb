/*
 * fuzz_openai_answer — the tree-less reader of OpenAI chat answers against
 * jansson: whatever bytes a model server sends, the reader either declines
 * or jansson parses the same bytes (with loom's flags) and finds the same
 * text, finish reason, model, id and token counts. A disagreement aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agents/openai_answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const char *fast, json_t *v) {
  const char *ref = json_string_value(v);
  if ((!fast) != (!ref) || (fast && strcmp(fast, ref) != 0))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *body = (const char *)data;
  struct loom_openai_answer a;
  if (!loom_openai_answer_read(body, size, &a))
    return 0;
  json_t *root =
      json_loadb(body, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
  json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
  json_t *msg = json_object_get(choice, "message");
  json_t *usage = json_object_get(root, "usage");
  if (!json_is_object(msg))
    abort();
  same(a.content, json_object_get(msg, "content"));
  same(a.finish_reason, json_object_get(choice, "finish_reason"));
  same(a.model, json_object_get(root, "model"));
  same(a.id, json_object_get(root, "id"));
  if (a.prompt_tokens !=
          (long)json_integer_value(json_object_get(usage, "prompt_tokens")) ||
      a.completion_tokens !=
          (long)json_integer_value(json_object_get(usage, "completion_tokens")))
    abort();
  json_decref(root);
  loom_openai_answer_cleanup(&a);
  return 0;
}
