/*
 * agent — model call, tools, model call, ... on one loop.
 *
 * States: asking (one model call in flight, a->call set) and tooling
 * (a->pending tool results outstanding). Tool results land in a->results at
 * the index of their call, so they go back in call order whatever order
 * they finish in. Sync tools finish inside loom_tools_invoke; `launching`
 * keeps the last of them from moving on before every call was started.
 */
#include "agents/agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/id.h"
#include "core/json.h"
#include "core/utf8.h"

#define DEFAULT_MAX_ITERATIONS 10
#define FINAL_NOTE                                                             \
  "You have reached the last step: give your final answer now, without "       \
  "calling any tool."

struct slot {
  struct loom_agent *a;
  size_t index;
  char *id;
  char *name;
};

struct loom_agent {
  struct loom_llm_env env;
  struct loom_agent_opts o;
  json_t *messages;
  json_t *tool_decls; /* array or NULL */
  json_t *seen;       /* {"name\nargs": true} for the repeat guard */
  char *react_prompt; /* system prompt for the text fallback, or NULL */
  int max_iterations;
  int iterations;
  int tools_run;
  struct loom_llm_usage usage;
  double cost_usd;
  struct loom_llm_call *call;
  char message_id[LOOM_ID_LEN + 5]; /* of the call in flight: "run-<uuid>" */
  struct slot *slots;
  json_t *results; /* tool messages by call index */
  size_t pending;
  bool launching;
  bool cancelled;
};

static void ask(struct loom_agent *a);

static void finish(struct loom_agent *a, loom_err err, const char *msg,
                   const char *answer) {
  struct loom_agent_result r = {.err = err,
                                .error = msg ? msg : "",
                                .messages = a->messages,
                                .answer = answer ? answer : "",
                                .iterations = a->iterations,
                                .tool_calls = a->tools_run,
                                .usage = a->usage,
                                .cost_usd = a->cost_usd};
  a->o.on_done(a->o.ud, &r);
  json_decref(a->messages);
  json_decref(a->tool_decls);
  json_decref(a->seen);
  json_decref(a->results);
  loom_free(a->react_prompt);
  loom_free(a);
}

static void emit(struct loom_agent *a, const char *type, json_t *data) {
  if (a->o.on_event)
    a->o.on_event(a->o.ud, type, data);
  json_decref(data);
}

/* ---- tools ---- */

static void free_slots(struct loom_agent *a, size_t n) {
  for (size_t i = 0; i < n; i++) {
    loom_free(a->slots[i].id);
    loom_free(a->slots[i].name);
  }
  loom_free(a->slots);
  a->slots = NULL;
}

static void tools_finished(struct loom_agent *a) {
  size_t n = json_array_size(a->results);
  size_t i;
  json_t *m;
  json_array_foreach(a->results, i, m) json_array_append(a->messages, m);
  json_decref(a->results);
  a->results = NULL;
  free_slots(a, n);
  if (a->cancelled)
    finish(a, LOOM_ERR_CANCELLED, "agent cancelled", NULL);
  else
    ask(a);
}

static json_t *tool_message(struct loom_agent *a, const struct slot *s,
                            bool is_error, const char *text) {
  if (a->react_prompt)
    return json_pack("{s:s, s:s+}", "role", "user", "content",
                     "Observation: ", text);
  json_t *m = json_pack("{s:s, s:s, s:s, s:s}", "role", "tool", "tool_call_id",
                        s->id, "name", s->name, "content", text);
  if (is_error)
    json_object_set_new(m, "is_error", json_true());
  return m;
}

static void tool_done_cb(void *ud, bool is_error, const char *result) {
  struct slot *s = ud;
  struct loom_agent *a = s->a;
  /* A fetched page in Latin-1, a body cut at its byte cap mid-character:
   * a tool's text need not be UTF-8, and JSON refuses it (the result, and
   * the model's next request with it, would be lost). */
  char *text = loom_strdup(result);
  loom_utf8_scrub(text, strlen(text));
  json_array_set_new(a->results, s->index, tool_message(a, s, is_error, text));
  emit(a, "tool_result",
       json_pack("{s:s, s:s, s:b, s:s}", "id", s->id, "name", s->name,
                 "is_error", is_error, "content", text));
  loom_free(text);
  if (--a->pending == 0 && !a->launching)
    tools_finished(a);
}

/* "name\n" + the arguments as normalised JSON, for the repeat guard. */
static char *call_key(const char *name, const char *args) {
  json_t *v = json_loads(args ? args : "{}", 0, NULL);
  char *norm =
      v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
  char *key = loom_asprintf("%s\n%s", name, norm ? norm : (args ? args : ""));
  free(norm);
  json_decref(v);
  return key;
}

static void run_tools(struct loom_agent *a,
                      const struct loom_llm_tool_call *calls, size_t n) {
  a->slots = loom_calloc(n, sizeof *a->slots);
  a->results = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(a->results, json_null());
  a->pending = n;
  a->launching = true;
  struct loom_tool_env env = a->o.tool_env;
  if (!env.loop)
    env.loop = a->env.loop;
  if (!env.http)
    env.http = a->env.http;
  for (size_t i = 0; i < n; i++) {
    struct slot *s = &a->slots[i];
    *s = (struct slot){a, i, loom_strdup(calls[i].id),
                       loom_strdup(calls[i].name)};
    emit(a, "tool_call",
         json_pack("{s:s, s:s, s:s}", "id", s->id, "name", s->name, "arguments",
                   calls[i].arguments));
    char *key = call_key(calls[i].name, calls[i].arguments);
    bool repeat = json_object_get(a->seen, key) != NULL;
    json_object_set_new(a->seen, key, json_true());
    loom_free(key);
    if (repeat) {
      char *msg = loom_asprintf(
          "Error: '%s' was already called with these arguments; its result "
          "is above. Use it, or call with different arguments.",
          s->name);
      tool_done_cb(s, true, msg);
      loom_free(msg);
      continue;
    }
    if (!a->o.tools) {
      tool_done_cb(s, true, "Error: this agent has no tools.");
      continue;
    }
    a->tools_run++;
    loom_tools_invoke(a->o.tools, &env, s->name, calls[i].arguments,
                      tool_done_cb, s);
  }
  a->launching = false;
  if (a->pending == 0)
    tools_finished(a);
}

/* ---- the ReAct text format ---- */

static char *trimmed(const char *s, size_t n) {
  while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) {
    s++;
    n--;
  }
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
               s[n - 1] == '\r'))
    n--;
  return loom_strndup(s, n);
}

bool loom_agent_react_parse(const char *text, char **tool, char **input,
                            char **answer) {
  *tool = *input = *answer = NULL;
  const char *fin = strstr(text, "Final Answer:");
  const char *act = strstr(text, "Action:");
  if (act && (!fin || act < fin)) {
    const char *name = act + 7;
    const char *eol = strchr(name, '\n');
    *tool = trimmed(name, eol ? (size_t)(eol - name) : strlen(name));
    const char *in = strstr(act, "Action Input:");
    if (in) {
      in += 13;
      const char *obs = strstr(in, "\nObservation");
      *input = trimmed(in, obs ? (size_t)(obs - in) : strlen(in));
    } else {
      *input = loom_strdup("{}");
    }
    return true;
  }
  if (fin) {
    *answer = trimmed(fin + 13, strlen(fin + 13));
    return true;
  }
  return false;
}

static char *react_prompt(const json_t *decls) {
  struct loom_buf b;
  loom_buf_init(&b, 1u << 20);
  (void)!loom_buf_append_str(&b, "You can use these tools:\n");
  size_t i;
  const json_t *t;
  json_array_foreach(decls, i, t) {
    char *params = loom_json_dump(json_object_get(t, "parameters"));
    (void)!loom_buf_appendf(
        &b, "- %s: %s Arguments (JSON Schema): %s\n",
        json_string_value(json_object_get(t, "name")),
        json_string_value(json_object_get(t, "description")), params);
    loom_free(params);
  }
  (void)!loom_buf_append_str(
      &b, "To use a tool, answer exactly in this form and stop:\n"
          "Thought: <your reasoning>\nAction: <tool name>\n"
          "Action Input: <a JSON object of arguments>\n"
          "The result comes back as \"Observation: ...\". When you know the "
          "answer, reply:\nFinal Answer: <the answer>");
  return loom_buf_take(&b, NULL);
}

/* ---- model calls ---- */

static void react_turn(struct loom_agent *a, const char *text, bool last) {
  char *tool, *input, *answer;
  bool parsed = loom_agent_react_parse(text, &tool, &input, &answer);
  json_array_append_new(a->messages,
                        json_pack("{s:s, s:s, s:s}", "role", "assistant",
                                  "content", text, "id", a->message_id));
  if (!parsed || answer || last) {
    finish(a, LOOM_OK, NULL, answer ? answer : text);
  } else {
    char id[32];
    snprintf(id, sizeof id, "react_%d", a->iterations);
    struct loom_llm_tool_call c = {id, tool, input};
    run_tools(a, &c, 1);
  }
  loom_free(tool);
  loom_free(input);
  loom_free(answer);
}

static void llm_done_cb(void *ud, struct loom_llm_result *r) {
  struct loom_agent *a = ud;
  a->call = NULL;
  a->iterations++;
  a->usage.prompt_tokens += r->response.usage.prompt_tokens;
  a->usage.completion_tokens += r->response.usage.completion_tokens;
  a->cost_usd += r->cost_usd;
  if (r->err) {
    finish(a, r->err, r->error, NULL);
    return;
  }
  emit(a, "llm_end",
       json_pack("{s:i, s:s, s:{s:I, s:I}}", "iteration", a->iterations,
                 "finish_reason", r->response.finish_reason, "usage",
                 "prompt_tokens", (json_int_t)r->response.usage.prompt_tokens,
                 "completion_tokens",
                 (json_int_t)r->response.usage.completion_tokens));
  bool last = a->iterations >= a->max_iterations;
  if (a->react_prompt) {
    react_turn(a, r->response.content, last);
    return;
  }
  json_t *m = loom_llm_response_message(&r->response);
  json_object_set_new(m, "id", json_string(a->message_id));
  if (last) /* tool calls that will never get results would break the
               conversation for any later call */
    json_object_del(m, "tool_calls");
  json_array_append_new(a->messages, m);
  if (r->response.n_calls == 0 || last || a->cancelled) {
    finish(a, a->cancelled ? LOOM_ERR_CANCELLED : LOOM_OK, NULL,
           r->response.content);
    return;
  }
  run_tools(a, r->response.calls, r->response.n_calls);
}

/* The messages for the next call: the conversation, with the ReAct prompt
 * in front and the final-step note at the end when they apply. */
static json_t *request_messages(struct loom_agent *a, bool last) {
  json_t *msgs = json_array();
  if (a->react_prompt)
    json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system",
                                          "content", a->react_prompt));
  json_array_extend(msgs, a->messages);
  if (last && a->iterations > 0)
    json_array_append_new(
        msgs, json_pack("{s:s, s:s}", "role", "user", "content", FINAL_NOTE));
  return msgs;
}

/* Text deltas go to the agent's caller with the caller's pointer. */
static void agent_delta_cb(void *ud, const char *text, size_t len) {
  struct loom_agent *a = ud;
  a->o.on_delta(a->o.ud, text, len);
}

static loom_err ask_start(struct loom_agent *a, struct loom_error *e) {
  bool last = a->iterations + 1 >= a->max_iterations;
  json_t *msgs = request_messages(a, last);
  struct loom_llm_request req = {
      .messages = msgs,
      .tools = a->react_prompt ? NULL : a->tool_decls,
      .tool_choice = last && a->tool_decls && !a->react_prompt ? "none" : NULL,
      .temperature = a->o.temperature};
  struct loom_llm_call_opts co = {.on_delta =
                                      a->o.on_delta ? agent_delta_cb : NULL,
                                  .on_done = llm_done_cb,
                                  .ud = a};
  char uuid[LOOM_ID_LEN + 1];
  snprintf(a->message_id, sizeof a->message_id, "run-%s", loom_id_new(uuid));
  if (a->o.on_call)
    a->o.on_call(a->o.ud, a->message_id);
  loom_err err =
      loom_llm_call_start(&a->env, a->o.provider, &req, &co, &a->call, e);
  json_decref(msgs);
  return err;
}

static void ask(struct loom_agent *a) {
  struct loom_error e = {0};
  if (ask_start(a, &e))
    finish(a, e.code ? e.code : LOOM_ERR_INVALID, e.message, NULL);
}

loom_err loom_agent_start(const struct loom_llm_env *env,
                          const struct loom_agent_opts *o,
                          const json_t *messages, struct loom_agent **out,
                          struct loom_error *e) {
  if (!o->on_done || !o->provider)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "provider and on_done are required");
  json_t *decls = NULL;
  if (o->tool_names && o->tool_names[0]) {
    if (!o->tools)
      return loom_error_set(e, LOOM_ERR_NOT_FOUND, "no tool registry");
    loom_err err = loom_tools_describe(o->tools, o->tool_names, &decls, e);
    if (err)
      return err;
  }
  struct loom_agent *a = LOOM_NEW(struct loom_agent);
  a->env = *env;
  a->o = *o;
  a->messages = json_deep_copy(messages);
  if (!json_is_array(a->messages)) {
    json_decref(a->messages);
    a->messages = json_array();
  }
  a->tool_decls = decls;
  a->seen = json_object();
  a->max_iterations =
      o->max_iterations > 0 ? o->max_iterations : DEFAULT_MAX_ITERATIONS;
  if (o->react && decls)
    a->react_prompt = react_prompt(decls);
  loom_err err = ask_start(a, e);
  if (err) { /* nothing started: no callback, nothing left behind */
    json_decref(a->messages);
    json_decref(a->tool_decls);
    json_decref(a->seen);
    loom_free(a->react_prompt);
    loom_free(a);
    return err;
  }
  if (out)
    *out = a;
  return LOOM_OK;
}

void loom_agent_cancel(struct loom_agent *a) {
  a->cancelled = true;
  if (a->call)
    loom_llm_call_cancel(a->call); /* its on_done finishes the agent */
}
