/*
 * provider_openai — the OpenAI chat-completions and embeddings wire format,
 * which OpenAI, vLLM, llama.cpp and Ollama all speak.
 *
 * Build: neutral messages map almost one to one (assistant tool calls get
 * the {"type":"function","function":{...}} wrapping); a streamed request
 * asks for stream_options.include_usage so the last chunk carries usage.
 * Stream: each `data:` is a chunk; `[DONE]` ends it; a chunk with an
 * "error" member is a failure in the middle of the stream.
 */
#include <stdint.h>
#include <string.h>

#include "agents/openai_answer.h"
#include "agents/provider.h"
#include "core/alloc.h"
#include "core/base64.h"
#include "core/json.h"

static json_t *wire_tool_calls(const json_t *calls, struct loom_error *e) {
  json_t *out = json_array();
  size_t i;
  const json_t *c;
  json_array_foreach(calls, i, c) {
    const char *id = json_string_value(json_object_get(c, "id"));
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *args = json_string_value(json_object_get(c, "arguments"));
    if (!id || !name) {
      json_decref(out);
      loom_error_set(e, LOOM_ERR_INVALID,
                     "tool_calls[%zu] needs a string id and name", i);
      return NULL;
    }
    json_array_append_new(out,
                          json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id,
                                    "type", "function", "function", "name",
                                    name, "arguments", args ? args : "{}"));
  }
  return out;
}

static json_t *wire_message(const json_t *m, size_t i, struct loom_error *e) {
  const char *role = loom_provider_message_role(m, i, e);
  if (!role)
    return NULL;
  json_t *content = json_object_get(m, "content");
  json_t *out = json_pack("{s:s}", "role", role);
  if (strcmp(role, "tool") == 0)
    json_object_set(out, "tool_call_id", json_object_get(m, "tool_call_id"));
  json_object_set(out, "content", content ? content : json_null());
  json_t *calls = json_object_get(m, "tool_calls");
  if (strcmp(role, "assistant") == 0 && json_array_size(calls)) {
    json_t *w = wire_tool_calls(calls, e);
    if (!w) {
      json_decref(out);
      return NULL;
    }
    json_object_set_new(out, "tool_calls", w);
  }
  return out;
}

static json_t *wire_tools(const json_t *tools) {
  json_t *out = json_array();
  size_t i;
  const json_t *t;
  json_array_foreach(tools, i, t) {
    json_array_append_new(
        out, json_pack("{s:s, s:o}", "type", "function", "function",
                       loom_provider_tool_fn(t, "parameters")));
  }
  return out;
}

static json_t *wire_tool_choice(const char *choice) {
  if (strcmp(choice, "auto") == 0 || strcmp(choice, "none") == 0 ||
      strcmp(choice, "required") == 0)
    return json_string(choice);
  return json_pack("{s:s, s:{s:s}}", "type", "function", "function", "name",
                   choice);
}

/* A POST of `body` (consumed) to base_url + path, with the key if any. */
static loom_err post_json(const struct loom_provider *p, const char *path,
                          json_t *body, struct loom_http_spec *out) {
  char *url = loom_asprintf("%s%s", p->base_url, path);
  loom_provider_spec_json(out, url, body);
  loom_free(url);
  if (p->api_key[0])
    loom_provider_spec_header(out, "Authorization: Bearer %s", p->api_key);
  return LOOM_OK;
}

static loom_err chat_build(const struct loom_provider *p,
                           const struct loom_llm_request *req,
                           struct loom_http_spec *out, struct loom_error *e) {
  json_t *msgs = json_array();
  size_t i;
  const json_t *m;
  json_array_foreach(req->messages, i, m) {
    json_t *w = wire_message(m, i, e);
    if (!w) {
      json_decref(msgs);
      return LOOM_ERR_INVALID;
    }
    json_array_append_new(msgs, w);
  }
  json_t *body =
      json_pack("{s:s, s:o}", "model", req->model ? req->model : p->model,
                "messages", msgs);
  if (json_array_size(req->tools)) {
    json_object_set_new(body, "tools", wire_tools(req->tools));
    if (req->tool_choice)
      json_object_set_new(body, "tool_choice",
                          wire_tool_choice(req->tool_choice));
    if (req->parallel_tool_calls_off)
      json_object_set_new(body, "parallel_tool_calls", json_false());
  }
  if (req->response_schema)
    json_object_set_new(
        body, "response_format",
        json_pack(
            "{s:s, s:{s:s, s:O}}", "type", "json_schema", "json_schema", "name",
            req->response_schema_name ? req->response_schema_name : "response",
            "schema", req->response_schema));
  if (req->temperature >= 0)
    json_object_set_new(body, "temperature", json_real(req->temperature));
  if (req->max_tokens > 0)
    json_object_set_new(body,
                        p->official ? "max_completion_tokens" : "max_tokens",
                        json_integer(req->max_tokens));
  if (req->stream) {
    json_object_set_new(body, "stream", json_true());
    json_object_set_new(body, "stream_options",
                        json_pack("{s:b}", "include_usage", 1));
  }
  return post_json(p, "/chat/completions", body, out);
}

static const char *norm_finish(const char *r) {
  if (!r)
    return NULL;
  if (!strcmp(r, "stop") || !strcmp(r, "tool_calls") || !strcmp(r, "length"))
    return r;
  if (!strcmp(r, "function_call"))
    return "tool_calls";
  return "other";
}

static void usage_from(const json_t *u, struct loom_llm_usage *out) {
  if (!json_is_object(u))
    return;
  out->prompt_tokens =
      (long)json_integer_value(json_object_get(u, "prompt_tokens"));
  out->completion_tokens =
      (long)json_integer_value(json_object_get(u, "completion_tokens"));
}

/* choices[0]: its message's text and tool calls, its finish reason. */
static loom_err answer_cb(const json_t *root, struct loom_llm_acc *acc,
                          struct loom_error *e) {
  json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
  json_t *msg = json_object_get(choice, "message");
  if (!json_is_object(msg))
    return loom_error_set(e, LOOM_ERR_UPSTREAM,
                          "answer has no choices[0].message");
  loom_err err = LOOM_OK;
  const char *text = json_string_value(json_object_get(msg, "content"));
  if (text)
    err = loom_llm_acc_text(acc, text, strlen(text));
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(msg, "tool_calls"), i, c) {
    json_t *fn = json_object_get(c, "function");
    const char *args = json_string_value(json_object_get(fn, "arguments"));
    if (!err)
      err = loom_llm_acc_tool(acc, (long)i,
                              json_string_value(json_object_get(c, "id")),
                              json_string_value(json_object_get(fn, "name")),
                              args, args ? strlen(args) : 0);
  }
  loom_llm_acc_set(
      &acc->finish_reason,
      norm_finish(json_string_value(json_object_get(choice, "finish_reason"))));
  usage_from(json_object_get(root, "usage"), &acc->usage);
  return err;
}

/* The common answer (text, no tool calls) read without a JSON tree (see
 * openai_answer.h); false when the reader declined or the text is over
 * the cap, and jansson's path decides. */
static bool fast_answer(const char *body, size_t len,
                        struct loom_llm_response *out) {
  struct loom_openai_answer a;
  if (!loom_openai_answer_read(body, len, &a))
    return false;
  struct loom_llm_acc acc;
  loom_llm_acc_init(&acc, NULL, NULL);
  bool ok = !a.content ||
            loom_llm_acc_text(&acc, a.content, strlen(a.content)) == LOOM_OK;
  if (ok) {
    loom_llm_acc_set(&acc.finish_reason, norm_finish(a.finish_reason));
    acc.usage.prompt_tokens = a.prompt_tokens;
    acc.usage.completion_tokens = a.completion_tokens;
    loom_llm_acc_set(&acc.model, a.model);
    loom_llm_acc_set(&acc.id, a.id);
    loom_llm_acc_take(&acc, out);
  }
  loom_llm_acc_cleanup(&acc);
  loom_openai_answer_cleanup(&a);
  return ok;
}

static loom_err chat_parse(const char *body, size_t len,
                           struct loom_llm_response *out,
                           struct loom_error *e) {
  if (fast_answer(body, len, out))
    return LOOM_OK;
  return loom_provider_chat_parse(body, len, answer_cb, out, e);
}

/* The message of an error chunk: {"error":{"message":...}} or flat. */
static const char *error_message(const json_t *root) {
  json_t *err = json_object_get(root, "error");
  const char *m = json_string_value(json_object_get(err, "message"));
  if (!m)
    m = json_string_value(err);
  if (!m)
    m = json_string_value(json_object_get(root, "message"));
  return m ? m : "error in the stream";
}

static loom_err chunk_deltas(struct loom_llm_acc *acc, const json_t *delta) {
  loom_err err = LOOM_OK;
  const char *text = json_string_value(json_object_get(delta, "content"));
  if (text)
    err = loom_llm_acc_text(acc, text, strlen(text));
  size_t i;
  json_t *tc;
  json_array_foreach(json_object_get(delta, "tool_calls"), i, tc) {
    json_t *idx = json_object_get(tc, "index");
    json_t *fn = json_object_get(tc, "function");
    const char *args = json_string_value(json_object_get(fn, "arguments"));
    if (!err)
      err = loom_llm_acc_tool(
          acc, json_is_integer(idx) ? (long)json_integer_value(idx) : -1,
          json_string_value(json_object_get(tc, "id")),
          json_string_value(json_object_get(fn, "name")), args,
          args ? strlen(args) : 0);
  }
  return err;
}

static loom_err stream_event(struct loom_llm_acc *acc,
                             const struct loom_sse_event *ev,
                             struct loom_error *e) {
  if (strcmp(ev->data, "[DONE]") == 0) {
    acc->done = true;
    return LOOM_OK;
  }
  json_t *root = loom_json_parse(ev->data, ev->data_len, e);
  if (!root)
    return LOOM_ERR_UPSTREAM;
  loom_err err = LOOM_OK;
  if (json_object_get(root, "error") || strcmp(ev->event, "error") == 0) {
    err = loom_error_set(e, LOOM_ERR_UPSTREAM, "stream failed: %s",
                         error_message(root));
    goto out;
  }
  if (!acc->id)
    loom_llm_acc_set(&acc->id, json_string_value(json_object_get(root, "id")));
  if (!acc->model)
    loom_llm_acc_set(&acc->model,
                     json_string_value(json_object_get(root, "model")));
  json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
  if (choice) {
    err = chunk_deltas(acc, json_object_get(choice, "delta"));
    const char *fin = norm_finish(
        json_string_value(json_object_get(choice, "finish_reason")));
    if (fin)
      loom_llm_acc_set(&acc->finish_reason, fin);
  }
  usage_from(json_object_get(root, "usage"), &acc->usage);
  if (err)
    loom_error_set(e, err, "streamed answer too large");
out:
  json_decref(root);
  return err;
}

static loom_err embed_build(const struct loom_provider *p, const json_t *inputs,
                            long dims, bool base64, struct loom_http_spec *out,
                            struct loom_error *e) {
  if (!json_is_array(inputs) || json_array_size(inputs) == 0)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "embeddings need a non-empty array of strings");
  json_t *body =
      json_pack("{s:s, s:O, s:s}", "model", p->model, "input", inputs,
                "encoding_format", base64 ? "base64" : "float");
  if (dims > 0)
    json_object_set_new(body, "dimensions", json_integer(dims));
  return post_json(p, "/embeddings", body, out);
}

static loom_err vector_into(const json_t *emb, float *row, size_t dims) {
  if (json_is_string(emb)) {
    const char *s = json_string_value(emb);
    size_t len = strlen(s), n = 0;
    unsigned char *raw = loom_malloc(LOOM_BASE64_DECODED_MAX(len));
    if (loom_base64_decode(s, len, raw, &n, NULL) != LOOM_OK || n != dims * 4) {
      loom_free(raw);
      return LOOM_ERR_UPSTREAM;
    }
    for (size_t j = 0; j < dims; j++) { /* little-endian float32 */
      uint32_t u = (uint32_t)raw[4 * j] | (uint32_t)raw[4 * j + 1] << 8 |
                   (uint32_t)raw[4 * j + 2] << 16 |
                   (uint32_t)raw[4 * j + 3] << 24;
      memcpy(&row[j], &u, 4);
    }
    loom_free(raw);
    return LOOM_OK;
  }
  if (json_array_size(emb) != dims)
    return LOOM_ERR_UPSTREAM;
  for (size_t j = 0; j < dims; j++)
    row[j] = (float)json_number_value(json_array_get(emb, j));
  return LOOM_OK;
}

static size_t dims_of(const json_t *emb) {
  if (json_is_string(emb)) {
    const char *s = json_string_value(emb);
    size_t len = strlen(s), pad = 0;
    while (pad < 2 && len > pad && s[len - 1 - pad] == '=')
      pad++;
    return (len / 4 * 3 - pad) / 4;
  }
  return json_array_size(emb);
}

static loom_err embed_parse(const char *body, size_t len,
                            struct loom_embeddings *out, struct loom_error *e) {
  json_t *root = loom_json_parse(body, len, e);
  if (!root)
    return LOOM_ERR_PARSE;
  loom_err err = LOOM_OK;
  json_t *data = json_object_get(root, "data");
  size_t n = json_array_size(data);
  size_t dims =
      n ? dims_of(json_object_get(json_array_get(data, 0), "embedding")) : 0;
  if (!n || !dims || dims > (1u << 16)) {
    err = loom_error_set(e, LOOM_ERR_UPSTREAM, "embeddings answer has no data");
    goto out;
  }
  memset(out, 0, sizeof *out);
  out->data = loom_calloc(n * dims, sizeof(float));
  out->n = n;
  out->dims = dims;
  for (size_t i = 0; i < n && !err; i++) {
    json_t *item = json_array_get(data, i);
    json_t *idx = json_object_get(item, "index");
    size_t at = json_is_integer(idx) ? (size_t)json_integer_value(idx) : i;
    if (at >= n)
      err = LOOM_ERR_UPSTREAM;
    else
      err = vector_into(json_object_get(item, "embedding"),
                        out->data + at * dims, dims);
  }
  out->prompt_tokens = (long)json_integer_value(
      json_object_get(json_object_get(root, "usage"), "prompt_tokens"));
  if (err) {
    loom_embeddings_cleanup(out);
    loom_error_set(e, err, "embedding vectors have inconsistent sizes");
  }
out:
  json_decref(root);
  return err;
}

const struct loom_provider_ops loom_provider_openai = {
    .kind = "openai",
    .chat_build = chat_build,
    .chat_parse = chat_parse,
    .stream_event = stream_event,
    .embed_build = embed_build,
    .embed_parse = embed_parse,
};
