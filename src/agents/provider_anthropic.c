/*
 * provider_anthropic — the Anthropic Messages wire format.
 *
 * Build: system messages move to the top-level "system"; assistant tool
 * calls become tool_use blocks (arguments parsed back to an object); tool
 * results become tool_result blocks inside a user turn, consecutive ones
 * merged into one turn, because the API wants user and assistant turns to
 * alternate. max_tokens is required (4096 when the request has none). The
 * API has no response_format, so a response schema is stated in the system
 * prompt and the answer is validated by the caller.
 * Stream: named events (message_start, content_block_start/delta/stop,
 * message_delta, message_stop, ping, error); tool input arrives as
 * input_json_delta fragments keyed by the content block index.
 */
#include <string.h>

#include "agents/provider.h"
#include "core/alloc.h"
#include "core/json.h"

#define ANTHROPIC_VERSION "2023-06-01"
#define DEFAULT_MAX_TOKENS 4096

/* `content` as a new reference, "" when absent. */
static json_t *content_or_empty(json_t *content) {
  return content ? json_incref(content) : json_string("");
}

static json_t *tool_use_blocks(const json_t *m) {
  json_t *blocks = json_array();
  const char *text = json_string_value(json_object_get(m, "content"));
  if (text && *text)
    json_array_append_new(
        blocks, json_pack("{s:s, s:s}", "type", "text", "text", text));
  size_t i;
  const json_t *c;
  json_array_foreach(json_object_get(m, "tool_calls"), i, c) {
    const char *args = json_string_value(json_object_get(c, "arguments"));
    json_t *input = args ? json_loads(args, 0, NULL) : NULL;
    if (!json_is_object(input)) {
      json_decref(input);
      input = json_object();
    }
    json_array_append_new(
        blocks, json_pack("{s:s, s:O, s:O, s:o}", "type", "tool_use", "id",
                          json_object_get(c, "id"), "name",
                          json_object_get(c, "name"), "input", input));
  }
  return blocks;
}

static json_t *tool_result_block(const json_t *m) {
  json_t *content = json_object_get(m, "content");
  json_t *b = json_pack("{s:s, s:O, s:o}", "type", "tool_result", "tool_use_id",
                        json_object_get(m, "tool_call_id"), "content",
                        content_or_empty(content));
  json_t *is_error = json_object_get(m, "is_error");
  if (json_is_true(is_error))
    json_object_set_new(b, "is_error", json_true());
  return b;
}

/* Appends one neutral message to the wire turns; system text is collected. */
static loom_err add_message(json_t *turns, struct loom_buf *system,
                            const json_t *m, size_t i, struct loom_error *e) {
  const char *role = loom_provider_message_role(m, i, e);
  if (!role)
    return LOOM_ERR_INVALID;
  json_t *content = json_object_get(m, "content");
  if (strcmp(role, "system") == 0) {
    const char *t = json_string_value(content);
    if ((system->len && loom_buf_append_str(system, "\n\n")) ||
        loom_buf_append_str(system, t ? t : ""))
      return loom_error_set(e, LOOM_ERR_TOO_LARGE, "system prompt too large");
    return LOOM_OK;
  }
  json_t *last = json_array_get(turns, json_array_size(turns) - 1);
  if (strcmp(role, "tool") == 0) {
    json_t *lc = json_object_get(last, "content");
    bool merge =
        last && json_is_array(lc) &&
        !strcmp(json_string_value(json_object_get(last, "role")), "user");
    if (merge)
      return json_array_append_new(lc, tool_result_block(m)) ? LOOM_ERR_INTERNAL
                                                             : LOOM_OK;
    json_array_append_new(turns, json_pack("{s:s, s:[o]}", "role", "user",
                                           "content", tool_result_block(m)));
    return LOOM_OK;
  }
  if (strcmp(role, "assistant") == 0) {
    json_t *w = json_array_size(json_object_get(m, "tool_calls"))
                    ? json_pack("{s:s, s:o}", "role", "assistant", "content",
                                tool_use_blocks(m))
                    : json_pack("{s:s, s:o}", "role", "assistant", "content",
                                content_or_empty(content));
    json_array_append_new(turns, w);
    return LOOM_OK;
  }
  json_array_append_new(turns, json_pack("{s:s, s:o}", "role", "user",
                                         "content", content_or_empty(content)));
  return LOOM_OK;
}

static json_t *wire_tools(const json_t *tools) {
  json_t *out = json_array();
  size_t i;
  const json_t *t;
  json_array_foreach(tools, i, t) {
    json_array_append_new(out, loom_provider_tool_fn(t, "input_schema"));
  }
  return out;
}

static json_t *wire_tool_choice(const char *choice, bool no_parallel) {
  json_t *c;
  if (!choice || strcmp(choice, "auto") == 0)
    c = json_pack("{s:s}", "type", "auto");
  else if (strcmp(choice, "none") == 0)
    c = json_pack("{s:s}", "type", "none");
  else if (strcmp(choice, "required") == 0)
    c = json_pack("{s:s}", "type", "any");
  else
    c = json_pack("{s:s, s:s}", "type", "tool", "name", choice);
  if (no_parallel)
    json_object_set_new(c, "disable_parallel_tool_use", json_true());
  return c;
}

static loom_err chat_build(const struct loom_provider *p,
                           const struct loom_llm_request *req,
                           struct loom_http_spec *out, struct loom_error *e) {
  json_t *turns = json_array();
  struct loom_buf system;
  loom_buf_init(&system, LOOM_LLM_MAX_TEXT);
  loom_err err = LOOM_OK;
  size_t i;
  const json_t *m;
  json_array_foreach(req->messages, i, m) {
    if ((err = add_message(turns, &system, m, i, e)))
      goto out;
  }
  if (req->response_schema) {
    char *schema = loom_json_dump(req->response_schema);
    err = loom_buf_appendf(&system,
                           "%sAnswer with one JSON value only, no other text, "
                           "following this JSON Schema: %s",
                           system.len ? "\n\n" : "", schema);
    loom_free(schema);
    if (err) {
      loom_error_set(e, err, "system prompt too large");
      goto out;
    }
  }
  json_t *body = json_pack(
      "{s:s, s:i}", "model", req->model ? req->model : p->model, "max_tokens",
      req->max_tokens > 0 ? (json_int_t)req->max_tokens : DEFAULT_MAX_TOKENS);
  if (system.len)
    json_object_set_new(body, "system", json_string(system.data));
  json_object_set(body, "messages", turns);
  if (json_array_size(req->tools)) {
    json_object_set_new(body, "tools", wire_tools(req->tools));
    if (req->tool_choice || req->parallel_tool_calls_off)
      json_object_set_new(
          body, "tool_choice",
          wire_tool_choice(req->tool_choice, req->parallel_tool_calls_off));
  }
  if (req->temperature >= 0)
    json_object_set_new(body, "temperature", json_real(req->temperature));
  if (req->stream)
    json_object_set_new(body, "stream", json_true());
  char *url = loom_asprintf("%s/v1/messages", p->base_url);
  loom_provider_spec_json(out, url, body);
  loom_free(url);
  if (p->api_key[0])
    loom_provider_spec_header(out, "x-api-key: %s", p->api_key);
  loom_provider_spec_header(out, "anthropic-version: %s", ANTHROPIC_VERSION);
out:
  json_decref(turns);
  loom_buf_cleanup(&system);
  return err;
}

static const char *norm_stop(const char *r) {
  if (!r)
    return NULL;
  if (!strcmp(r, "end_turn") || !strcmp(r, "stop_sequence"))
    return "stop";
  if (!strcmp(r, "tool_use"))
    return "tool_calls";
  if (!strcmp(r, "max_tokens"))
    return "length";
  return "other";
}

/* input_tokens plus the cached parts, which are billed as input too. */
static void usage_from(const json_t *u, struct loom_llm_usage *out) {
  if (!json_is_object(u))
    return;
  json_t *in = json_object_get(u, "input_tokens");
  if (json_is_integer(in))
    out->prompt_tokens =
        (long)(json_integer_value(in) +
               json_integer_value(
                   json_object_get(u, "cache_read_input_tokens")) +
               json_integer_value(
                   json_object_get(u, "cache_creation_input_tokens")));
  json_t *o = json_object_get(u, "output_tokens");
  if (json_is_integer(o))
    out->completion_tokens = (long)json_integer_value(o);
}

static loom_err add_block(struct loom_llm_acc *acc, const json_t *b, long idx) {
  const char *type = json_string_value(json_object_get(b, "type"));
  if (type && strcmp(type, "text") == 0) {
    const char *t = json_string_value(json_object_get(b, "text"));
    return t ? loom_llm_acc_text(acc, t, strlen(t)) : LOOM_OK;
  }
  if (type && strcmp(type, "tool_use") == 0) {
    json_t *input = json_object_get(b, "input");
    char *args =
        input && json_object_size(input) ? loom_json_dump(input) : NULL;
    loom_err err =
        loom_llm_acc_tool(acc, idx, json_string_value(json_object_get(b, "id")),
                          json_string_value(json_object_get(b, "name")), args,
                          args ? strlen(args) : 0);
    loom_free(args);
    return err;
  }
  return LOOM_OK; /* thinking and other blocks are not part of the answer */
}

/* The content blocks, the stop reason and usage of a complete answer. */
static loom_err answer_cb(const json_t *root, struct loom_llm_acc *acc,
                          struct loom_error *e) {
  json_t *content = json_object_get(root, "content");
  if (!json_is_array(content))
    return loom_error_set(e, LOOM_ERR_UPSTREAM, "answer has no content array");
  loom_err err = LOOM_OK;
  size_t i;
  json_t *b;
  json_array_foreach(content, i, b) {
    if (!err)
      err = add_block(acc, b, (long)i);
  }
  loom_llm_acc_set(
      &acc->finish_reason,
      norm_stop(json_string_value(json_object_get(root, "stop_reason"))));
  usage_from(json_object_get(root, "usage"), &acc->usage);
  return err;
}

static loom_err chat_parse(const char *body, size_t len,
                           struct loom_llm_response *out,
                           struct loom_error *e) {
  return loom_provider_chat_parse(body, len, answer_cb, out, e);
}

static loom_err on_delta(struct loom_llm_acc *acc, const json_t *root) {
  json_t *d = json_object_get(root, "delta");
  const char *type = json_string_value(json_object_get(d, "type"));
  long idx = (long)json_integer_value(json_object_get(root, "index"));
  if (!type)
    return LOOM_OK;
  if (strcmp(type, "text_delta") == 0) {
    const char *t = json_string_value(json_object_get(d, "text"));
    return t ? loom_llm_acc_text(acc, t, strlen(t)) : LOOM_OK;
  }
  if (strcmp(type, "input_json_delta") == 0) {
    const char *j = json_string_value(json_object_get(d, "partial_json"));
    return j ? loom_llm_acc_tool(acc, idx, NULL, NULL, j, strlen(j)) : LOOM_OK;
  }
  return LOOM_OK;
}

static loom_err stream_event(struct loom_llm_acc *acc,
                             const struct loom_sse_event *ev,
                             struct loom_error *e) {
  json_t *root = loom_json_parse(ev->data, ev->data_len, e);
  if (!root)
    return LOOM_ERR_UPSTREAM;
  loom_err err = LOOM_OK;
  const char *type = json_string_value(json_object_get(root, "type"));
  if (!type)
    type = ev->event;
  if (strcmp(type, "error") == 0) {
    json_t *er = json_object_get(root, "error");
    const char *msg = json_string_value(json_object_get(er, "message"));
    err = loom_error_set(e, LOOM_ERR_UPSTREAM, "stream failed: %s (%s)",
                         msg ? msg : "error event",
                         json_string_value(json_object_get(er, "type"))
                             ?: "error");
  } else if (strcmp(type, "message_start") == 0) {
    json_t *m = json_object_get(root, "message");
    loom_llm_acc_set(&acc->id, json_string_value(json_object_get(m, "id")));
    loom_llm_acc_set(&acc->model,
                     json_string_value(json_object_get(m, "model")));
    usage_from(json_object_get(m, "usage"), &acc->usage);
  } else if (strcmp(type, "content_block_start") == 0) {
    err = add_block(acc, json_object_get(root, "content_block"),
                    (long)json_integer_value(json_object_get(root, "index")));
  } else if (strcmp(type, "content_block_delta") == 0) {
    err = on_delta(acc, root);
  } else if (strcmp(type, "message_delta") == 0) {
    const char *r = norm_stop(json_string_value(
        json_object_get(json_object_get(root, "delta"), "stop_reason")));
    if (r)
      loom_llm_acc_set(&acc->finish_reason, r);
    usage_from(json_object_get(root, "usage"), &acc->usage);
  } else if (strcmp(type, "message_stop") == 0) {
    acc->done = true;
  }
  if (err && err != LOOM_ERR_UPSTREAM)
    loom_error_set(e, err, "streamed answer too large");
  json_decref(root);
  return err;
}

const struct loom_provider_ops loom_provider_anthropic = {
    .kind = "anthropic",
    .chat_build = chat_build,
    .chat_parse = chat_parse,
    .stream_event = stream_event,
};
