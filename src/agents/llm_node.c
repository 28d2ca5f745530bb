/*
 * llm_node — template rendering and the validate-then-repair call.
 */
#include "agents/llm_node.h"

#include <string.h>

#include "agents/tools.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"

#define MAX_RENDERED (4u << 20)

/* The value at a dotted path ("a.b.c") in `state`, or NULL. */
static const json_t *lookup(const json_t *state, const char *path, size_t n) {
  const json_t *v = state;
  while (n > 0 && v) {
    const char *dot = memchr(path, '.', n);
    size_t len = dot ? (size_t)(dot - path) : n;
    char key[256];
    if (len >= sizeof key)
      return NULL;
    memcpy(key, path, len);
    key[len] = 0;
    v = json_object_get(v, key);
    path += len + (dot ? 1 : 0);
    n -= len + (dot ? 1 : 0);
  }
  return v;
}

loom_err loom_llm_template_render(const char *tmpl, const json_t *state,
                                  char **out, struct loom_error *e) {
  struct loom_buf b;
  loom_buf_init(&b, MAX_RENDERED);
  loom_err err = LOOM_OK;
  for (const char *p = tmpl; *p && !err; p++) {
    if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
      err = loom_buf_append(&b, p++, 1);
      continue;
    }
    if (*p != '{') {
      err = loom_buf_append(&b, p, 1);
      continue;
    }
    const char *end = strchr(p, '}');
    if (!end) {
      err = loom_error_set(e, LOOM_ERR_INVALID,
                           "prompt template: '{' at offset %zu is never closed "
                           "(write {{ for a literal brace)",
                           (size_t)(p - tmpl));
      break;
    }
    size_t n = (size_t)(end - p - 1);
    const json_t *v = lookup(state, p + 1, n);
    if (!v || json_is_null(v)) {
      err = loom_error_set(e, LOOM_ERR_INVALID,
                           "prompt template: the state has no field '%.*s'",
                           (int)n, p + 1);
      break;
    }
    if (json_is_string(v)) {
      err = loom_buf_append_str(&b, json_string_value(v));
    } else {
      char *s = loom_json_dump(v);
      err = loom_buf_append_str(&b, s);
      loom_free(s);
    }
    p = end;
  }
  if (err) {
    if (err == LOOM_ERR_TOO_LARGE)
      loom_error_set(e, err, "prompt larger than %u bytes", MAX_RENDERED);
    loom_buf_cleanup(&b);
    return err;
  }
  *out = loom_buf_take(&b, NULL);
  return LOOM_OK;
}

json_t *loom_llm_answer_json(const char *text) {
  const char *s = text, *end = text + strlen(text);
  const char *fence = strstr(text, "```");
  if (fence) { /* ```json\n ... \n``` */
    const char *nl = strchr(fence, '\n');
    const char *close = nl ? strstr(nl, "```") : NULL;
    if (nl && close) {
      s = nl + 1;
      end = close;
    }
  }
  return json_loadb(s, (size_t)(end - s), JSON_DECODE_ANY, NULL);
}

struct loom_llm_structured {
  struct loom_llm_env env;
  struct loom_llm_call *call; /* in flight, or NULL */
  const struct loom_provider *p;
  struct loom_llm_request req; /* messages and schema owned below */
  json_t *messages;
  json_t *schema;
  char *schema_name;
  char *model;
  loom_llm_structured_cb on_done;
  void *ud;
  int attempts;
  struct loom_llm_usage usage;
  double cost;
};

static void finish(struct loom_llm_structured *s, loom_err err, const char *msg,
                   json_t *value) {
  struct loom_llm_structured_result r = {.err = err,
                                         .error = msg ? msg : "",
                                         .value = value,
                                         .attempts = s->attempts,
                                         .usage = s->usage,
                                         .cost_usd = s->cost};
  s->on_done(s->ud, &r);
  json_decref(value);
  json_decref(s->messages);
  json_decref(s->schema);
  loom_free(s->schema_name);
  loom_free(s->model);
  loom_free(s);
}

static loom_err send(struct loom_llm_structured *s, struct loom_error *e);

static void done_cb(void *ud, struct loom_llm_result *r) {
  struct loom_llm_structured *s = ud;
  s->call = NULL;
  s->attempts++;
  s->usage.prompt_tokens += r->response.usage.prompt_tokens;
  s->usage.completion_tokens += r->response.usage.completion_tokens;
  s->cost += r->cost_usd;
  if (r->err) {
    finish(s, r->err, r->error, NULL);
    return;
  }
  struct loom_error e = {0};
  json_t *v = loom_llm_answer_json(r->response.content);
  if (!v)
    loom_error_set(&e, LOOM_ERR_INVALID, "the answer is not JSON");
  else if (loom_json_schema_validate(s->schema, v, &e) == LOOM_OK) {
    finish(s, LOOM_OK, NULL, v);
    return;
  }
  json_decref(v);
  if (s->attempts >= 2) {
    char msg[700];
    snprintf(msg, sizeof msg,
             "the answer does not follow the schema after a "
             "repair attempt: %s",
             e.message);
    finish(s, LOOM_ERR_UPSTREAM, msg, NULL);
    return;
  }
  json_array_append_new(s->messages,
                        json_pack("{s:s, s:s}", "role", "assistant", "content",
                                  r->response.content));
  char *fix = loom_asprintf("That answer is not valid: %s. Answer again with "
                            "only the JSON value, following the schema.",
                            e.message);
  json_array_append_new(
      s->messages, json_pack("{s:s, s:s}", "role", "user", "content", fix));
  loom_free(fix);
  struct loom_error se = {0};
  if (send(s, &se))
    finish(s, se.code ? se.code : LOOM_ERR_INTERNAL, se.message, NULL);
}

static loom_err send(struct loom_llm_structured *s, struct loom_error *e) {
  s->req.messages = s->messages;
  struct loom_llm_call_opts o = {.on_done = done_cb, .ud = s};
  return loom_llm_call_start(&s->env, s->p, &s->req, &o, &s->call, e);
}

loom_err loom_llm_structured_start(const struct loom_llm_env *env,
                                   const struct loom_provider *p,
                                   const struct loom_llm_request *req,
                                   loom_llm_structured_cb on_done, void *ud,
                                   struct loom_llm_structured **out,
                                   struct loom_error *e) {
  if (!req->response_schema || !on_done)
    return loom_error_set(
        e, LOOM_ERR_INVALID,
        "a structured call needs a response schema and on_done");
  struct loom_llm_structured *s = LOOM_NEW(struct loom_llm_structured);
  s->env = *env;
  s->p = p;
  s->req = *req;
  s->req.stream = false;
  s->messages = json_deep_copy(req->messages);
  s->schema = json_deep_copy(req->response_schema);
  s->req.response_schema = s->schema;
  if (req->response_schema_name)
    s->req.response_schema_name = s->schema_name =
        loom_strdup(req->response_schema_name);
  if (req->model) /* the request is sent again on repair: keep copies */
    s->req.model = s->model = loom_strdup(req->model);
  s->req.tools = NULL; /* a structured answer is the answer, not a tool call */
  s->req.tool_choice = NULL;
  s->on_done = on_done;
  s->ud = ud;
  loom_err err = send(s, e);
  if (err) {
    json_decref(s->messages);
    json_decref(s->schema);
    loom_free(s->schema_name);
    loom_free(s->model);
    loom_free(s);
  } else if (out) {
    *out = s;
  }
  return err;
}

void loom_llm_structured_cancel(struct loom_llm_structured *s) {
  if (s->call) /* its on_done finishes this call with CANCELLED */
    loom_llm_call_cancel(s->call);
}
