/*
 * provider_common — what the HTTP providers' wire formats have in common.
 *
 * OpenAI and Anthropic lay messages, tools and answers out differently,
 * but they check a neutral message the same way, describe a tool from the
 * same three fields, and read a complete answer through the same steps
 * (parse, accumulate, move into the response). Those steps live here once;
 * the providers keep only what differs.
 */
#include <string.h>

#include "agents/provider.h"
#include "core/json.h"

const char *loom_provider_message_role(const json_t *m, size_t i,
                                       struct loom_error *e) {
  const char *role = json_string_value(json_object_get(m, "role"));
  if (!role) {
    loom_error_set(e, LOOM_ERR_INVALID, "messages[%zu] has no role", i);
    return NULL;
  }
  if (strcmp(role, "tool") == 0) {
    if (!json_is_string(json_object_get(m, "tool_call_id"))) {
      loom_error_set(e, LOOM_ERR_INVALID,
                     "messages[%zu] (tool) needs a tool_call_id", i);
      return NULL;
    }
    return role;
  }
  if (strcmp(role, "system") && strcmp(role, "user") &&
      strcmp(role, "assistant")) {
    loom_error_set(e, LOOM_ERR_INVALID,
                   "messages[%zu]: role '%s' must be system, user, assistant "
                   "or tool",
                   i, role);
    return NULL;
  }
  return role;
}

json_t *loom_provider_tool_fn(const json_t *tool, const char *schema_key) {
  json_t *fn = json_pack("{s:O}", "name", json_object_get(tool, "name"));
  json_t *d = json_object_get(tool, "description");
  if (d)
    json_object_set(fn, "description", d);
  json_t *params = json_object_get(tool, "parameters");
  json_object_set_new(
      fn, schema_key,
      params ? json_incref(params)
             : json_pack("{s:s, s:{}}", "type", "object", "properties"));
  return fn;
}

loom_err loom_provider_chat_parse(const char *body, size_t len,
                                  loom_provider_answer_cb fill_cb,
                                  struct loom_llm_response *out,
                                  struct loom_error *e) {
  json_t *root = loom_json_parse(body, len, e);
  if (!root)
    return LOOM_ERR_PARSE;
  struct loom_llm_acc acc;
  loom_llm_acc_init(&acc, NULL, NULL);
  loom_err err = fill_cb(root, &acc, e);
  if (err == LOOM_OK) {
    loom_llm_acc_set(&acc.model,
                     json_string_value(json_object_get(root, "model")));
    loom_llm_acc_set(&acc.id, json_string_value(json_object_get(root, "id")));
    loom_llm_acc_take(&acc, out);
  } else if (err != LOOM_ERR_UPSTREAM) {
    loom_error_set(e, err, "answer too large");
  }
  loom_llm_acc_cleanup(&acc);
  json_decref(root);
  return err;
}
