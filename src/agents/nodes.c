/*
 * nodes — `llm` and `agent` kinds: config checks at load, and tasks that
 * hand their model work to a model loop and park the run meanwhile.
 *
 * A task builds a job (provider, messages, options), posts it to the
 * model loop and returns: the run parks, holding no thread. The loop side
 * starts the call (llm_call, llm_node structured, or agent); from its
 * callbacks it queues text deltas and finally the result under the job's
 * mutex and posts continuations back to the run (loom_task_post): one to
 * emit the deltas queued so far as `custom` token events, one to finish
 * the task. Both run on the run's side (a worker that may write to the
 * store), never on the model loop.
 *
 * An agent makes several model calls, each its own message with its own
 * id (agent.h, on_call): a token event names the message its text is
 * from. At a call boundary the text queued for the call before is set
 * aside under that call's id (`segments`), so one token event never
 * joins the text of two messages.
 *
 * Cancel (run side) marks the job cancelled under its mutex, so the loop
 * side posts nothing more for the task, and asks the loop to cancel the
 * call. The job is reference-counted: the task, the loop side, and each
 * continuation or cancel in flight hold one (engine/parked.h, shared with
 * the retrieve kind).
 */
#include "agents/nodes.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent.h"
#include "agents/llm_cost.h"
#include "agents/llm_node.h"
#include "agents/tools_plugin.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/id.h"
#include "core/json.h"
#include "engine/engine.h"
#include "engine/parked.h"
#include "io/http_client.h"
#include "io/loop.h"
#include "io/loop_share.h"

#define MAX_MODEL_LOOPS 16

/* A model loop and its HTTP client (which only that loop touches). */
struct model_loop {
  struct loom_loop *loop;
  struct loom_http_client *http;
};

static struct {
  struct model_loop ml[MAX_MODEL_LOOPS];
  unsigned nloops;          /* LOOM_LLM_LOOPS, default 1 */
  unsigned max_connections; /* per host and loop: LOOM_LLM_MAX_CONNECTIONS */
  struct loom_loop_share *share; /* calls waiting for a loop to take them */
  struct loom_providers *providers;
  struct loom_tools *tools;
  struct loom_llm_prices *prices;
} rt;

enum job_kind { JOB_TEXT, JOB_STRUCTURED, JOB_AGENT };

struct job {
  struct loom_parked parked; /* first: the task's state points here; its
                                mutex also guards deltas and flush_posted */
  struct loom_loop_share_item queued; /* until a model loop takes it */
  struct model_loop *ml;              /* where its calls run, once taken */
  enum job_kind kind;
  struct loom_provider *p;
  json_t *messages;
  json_t *schema; /* borrowed from the node config */
  const char **tool_names;
  const struct loom_tools *tools;
  int max_iterations;
  bool react;
  bool tokens; /* stream the answer: the run wants token events */
  double temperature;
  long max_tokens;
  /* loop side only */
  void *call; /* llm call, structured call or agent in flight */
  bool model_done;
  /* under parked.mu */
  struct loom_buf deltas; /* text not yet emitted, of the call in flight */
  char message[LOOM_ID_LEN + 5]; /* that call's message id ("": none) */
  json_t *segments;  /* text of earlier calls not yet emitted: [{message,
                        text}] in call order */
  bool flush_posted; /* a continuation will emit them */
  /* the outcome: written by the loop side before it posts the finish */
  loom_err err;
  char error[600];
  json_t *value;        /* the answer */
  json_t *conversation; /* agent: the whole conversation */
  struct loom_llm_usage usage;
  double cost;
  int calls;
};

static void job_free_cb(struct loom_parked *p) {
  struct job *j = (struct job *)p;
  json_decref(j->value);
  json_decref(j->conversation);
  json_decref(j->messages);
  loom_free(j->tool_names);
  loom_provider_free(j->p);
  loom_buf_cleanup(&j->deltas);
  json_decref(j->segments);
  loom_free(j);
}

static void job_unref(struct job *j) { loom_parked_unref(&j->parked); }

static struct job *job_of(struct loom_loop_share_item *item) {
  return (struct job *)((char *)item - offsetof(struct job, queued));
}

static void flush_cb(void *arg);
static void finish_cb(void *arg);

/* ---- loop side ---- */

static void delta_cb(void *ud, const char *text, size_t len) {
  struct job *j = ud;
  pthread_mutex_lock(&j->parked.mu);
  if (!j->parked.cancelled) {
    (void)!loom_buf_append(&j->deltas, text, len); /* over the cap: dropped */
    if (!j->flush_posted) {
      loom_parked_ref(&j->parked);
      j->flush_posted = loom_task_post(j->parked.t, flush_cb, j) == LOOM_OK;
      if (!j->flush_posted)
        job_unref(j); /* not the last: the loop holds one */
    }
  }
  pthread_mutex_unlock(&j->parked.mu);
}

/* Agent: a model call starts; what is queued of the call before is that
 * call's message (a flush is posted for it already, if it could be). */
static void call_cb(void *ud, const char *message_id) {
  struct job *j = ud;
  pthread_mutex_lock(&j->parked.mu);
  if (j->deltas.len) {
    char *text = loom_buf_take(&j->deltas, NULL);
    if (!j->segments)
      j->segments = json_array();
    json_array_append_new(j->segments, json_pack("{s:s, s:s}", "message",
                                                 j->message, "text", text));
    loom_free(text);
  }
  snprintf(j->message, sizeof j->message, "%s", message_id);
  pthread_mutex_unlock(&j->parked.mu);
}

/* The call ended: hand the outcome (and the loop side's reference) to a
 * continuation on the run's side, unless the task was cancelled. */
static void job_finish(struct job *j, loom_err err, const char *msg,
                       json_t *value, json_t *conversation) {
  j->model_done = true;
  j->call = NULL;
  j->err = err;
  snprintf(j->error, sizeof j->error, "%s", msg ? msg : "");
  j->value = value;
  j->conversation = conversation;
  if (!loom_parked_post(&j->parked, finish_cb, j))
    job_unref(j);
}

static void text_done_cb(void *ud, struct loom_llm_result *r) {
  struct job *j = ud;
  j->usage = r->response.usage;
  j->cost = r->cost_usd;
  j->calls = r->attempts;
  job_finish(j, r->err, r->error,
             r->err ? NULL : json_string(r->response.content), NULL);
}

static void structured_done_cb(void *ud, struct loom_llm_structured_result *r) {
  struct job *j = ud;
  j->usage = r->usage;
  j->cost = r->cost_usd;
  j->calls = r->attempts;
  job_finish(j, r->err, r->error, r->value ? json_incref(r->value) : NULL,
             NULL);
}

static void agent_done_cb(void *ud, struct loom_agent_result *r) {
  struct job *j = ud;
  j->usage = r->usage;
  j->cost = r->cost_usd;
  j->calls = r->iterations;
  /* A copy: the agent frees its own on this thread while the run's side
   * hands the conversation to the engine. */
  job_finish(j, r->err, r->error, r->err ? NULL : json_string(r->answer),
             json_deep_copy(r->messages));
}

static loom_err job_call(struct job *j, struct loom_loop *loop,
                         struct loom_error *e) {
  struct loom_llm_env env = {
      .loop = loop, .http = j->ml->http, .prices = rt.prices};
  struct loom_llm_request req = {.messages = j->messages,
                                 .response_schema = j->schema,
                                 .temperature = j->temperature,
                                 .max_tokens = j->max_tokens};
  if (j->kind == JOB_STRUCTURED)
    return loom_llm_structured_start(&env, j->p, &req, structured_done_cb, j,
                                     (struct loom_llm_structured **)&j->call,
                                     e);
  if (j->kind == JOB_TEXT) {
    struct loom_llm_call_opts o = {.on_delta = j->tokens ? delta_cb : NULL,
                                   .on_done = text_done_cb,
                                   .ud = j};
    return loom_llm_call_start(&env, j->p, &req, &o,
                               (struct loom_llm_call **)&j->call, e);
  }
  struct loom_agent_opts o = {.provider = j->p,
                              .tools = j->tools,
                              .tool_names = j->tool_names,
                              .max_iterations = j->max_iterations,
                              .react = j->react,
                              .temperature = j->temperature,
                              .on_delta = j->tokens ? delta_cb : NULL,
                              .on_call = j->tokens ? call_cb : NULL,
                              .on_done = agent_done_cb,
                              .ud = j};
  return loom_agent_start(&env, &o, j->messages, (struct loom_agent **)&j->call,
                          e);
}

static struct model_loop *model_loop_of(const struct loom_loop *loop) {
  for (unsigned i = 0; i < rt.nloops; i++)
    if (rt.ml[i].loop == loop)
      return &rt.ml[i];
  return NULL; /* unreachable: only model loops take jobs */
}

static void job_start_cb(struct loom_loop *loop,
                         struct loom_loop_share_item *item) {
  struct job *j = job_of(item);
  j->ml = model_loop_of(loop);
  pthread_mutex_lock(&j->parked.mu);
  bool cancelled = j->parked.cancelled;
  pthread_mutex_unlock(&j->parked.mu);
  if (cancelled) { /* cancelled before it started: nothing to send */
    j->model_done = true;
    job_unref(j);
    return;
  }
  struct loom_error e = {0};
  if (job_call(j, loop, &e))
    job_finish(j, e.code ? e.code : LOOM_ERR_INTERNAL, e.message, NULL, NULL);
}

static void job_cancel_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  struct job *j = arg;
  if (j->call && !j->model_done) { /* on_done runs inside, CANCELLED */
    if (j->kind == JOB_STRUCTURED)
      loom_llm_structured_cancel(j->call);
    else if (j->kind == JOB_TEXT)
      loom_llm_call_cancel(j->call);
    else
      loom_agent_cancel(j->call);
  }
  job_unref(j);
}

/* ---- config ---- */

static const char *str(const json_t *cfg, const char *key) {
  return json_string_value(json_object_get(cfg, key));
}

/* A `tools` entry: a tool name, or an inline Lua tool declaration. */
static const char *tool_name(const json_t *t) {
  return json_is_object(t) ? str(t, "name") : json_string_value(t);
}

static loom_err check_config(struct loom_node *node, bool agent,
                             struct loom_error *e) {
  const json_t *c = node->config;
  const char *const strings[] = {"prompt", "system", "model", "output",
                                 "messages"};
  for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
    json_t *v = json_object_get(c, strings[i]);
    if (v && !json_is_string(v))
      return loom_error_set(e, LOOM_ERR_INVALID,
                            "node '%s': '%s' must be a string", node->name,
                            strings[i]);
  }
  if (!str(c, "prompt"))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "node '%s': 'prompt' is required (a template such "
                          "as \"Summarize: {text}\")",
                          node->name);
  json_t *schema = json_object_get(c, "schema");
  if (schema && !json_is_object(schema))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "node '%s': 'schema' must be a JSON Schema object",
                          node->name);
  if (str(c, "model")) {
    struct loom_provider *p;
    loom_err err = loom_providers_resolve(rt.providers, str(c, "model"), &p, e);
    if (err)
      return err;
    loom_provider_free(p);
  }
  size_t i;
  json_t *t;
  json_t *tools = json_object_get(c, "tools");
  if ((tools || json_object_get(c, "tools_file")) &&
      (!agent || (tools && !json_is_array(tools))))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "node '%s': 'tools' is a list of tool names, for "
                          "agent nodes",
                          node->name);
  const struct loom_tools *reg = node->kind_data ? node->kind_data : rt.tools;
  json_array_foreach(tools, i, t) {
    if (!loom_tools_has(reg, tool_name(t)))
      return loom_error_set(e, LOOM_ERR_INVALID,
                            "node '%s': tools[%zu] is not a known tool",
                            node->name, i);
  }
  return LOOM_OK;
}

/* The node's own Lua tools (declared inline in `tools` or in
 * `tools_file`, relative to the spec) in a registry over the process's. */
static loom_err node_tools(struct loom_node *node, const char *dir,
                           struct loom_error *e) {
  const json_t *c = node->config;
  const char *file = str(c, "tools_file");
  json_t *tools = json_object_get(c, "tools");
  size_t i;
  json_t *t;
  bool inline_tools = false;
  json_array_foreach(tools, i, t) inline_tools |= json_is_object(t);
  if (!file && !inline_tools)
    return LOOM_OK;
  struct loom_tools *r = loom_tools_new();
  loom_tools_set_parent(r, rt.tools);
  node->kind_data = r;
  struct loom_error sub = {0};
  loom_err err = LOOM_OK;
  if (file) {
    char *path = file[0] == '/' || !dir || !*dir
                     ? loom_strdup(file)
                     : loom_asprintf("%s/%s", dir, file);
    err = loom_tools_load_file(r, path, &sub);
    loom_free(path);
  }
  json_array_foreach(tools, i, t) {
    if (!err && json_is_object(t))
      err = loom_tools_add_lua(r, t, &sub);
  }
  if (err)
    return loom_error_set(e, err, "node '%s': %s", node->name, sub.message);
  return LOOM_OK;
}

static void node_tools_free(void *data) { loom_tools_free(data); }

static loom_err llm_compile(struct loom_node *node, const char *dir, int depth,
                            struct loom_error *e) {
  (void)dir;
  (void)depth;
  return check_config(node, false, e);
}

static loom_err agent_compile(struct loom_node *node, const char *dir,
                              int depth, struct loom_error *e) {
  (void)depth;
  loom_err err = node_tools(node, dir, e);
  return err ? err : check_config(node, true, e);
}

/* ---- task side ---- */

static json_t *build_messages(const json_t *c, const json_t *state,
                              struct loom_error *e) {
  char *system = NULL, *prompt = NULL;
  if (str(c, "system") &&
      loom_llm_template_render(str(c, "system"), state, &system, e))
    return NULL;
  if (loom_llm_template_render(str(c, "prompt"), state, &prompt, e)) {
    loom_free(system);
    return NULL;
  }
  json_t *m = json_array();
  if (system)
    json_array_append_new(
        m, json_pack("{s:s, s:s}", "role", "system", "content", system));
  json_array_append_new(
      m, json_pack("{s:s, s:s}", "role", "user", "content", prompt));
  loom_free(system);
  loom_free(prompt);
  return m;
}

/* A token event: the text, which node and task (one node may run as
 * several tasks in a step) it comes from, and the id of the message (the
 * model call) it is part of, when the node names one (agents do). */
static void emit_text(struct loom_task *t, const char *message,
                      const char *text) {
  json_t *ev =
      json_pack("{s:s, s:s, s:s, s:s}", "event", "token", "node",
                loom_task_node(t)->name, "task", loom_task_id(t), "text", text);
  if (message && *message)
    json_object_set_new(ev, "message", json_string(message));
  loom_task_emit(t, ev);
  json_decref(ev);
}

/* Text queued so far, taken under the mutex: [{message, text}], the
 * earlier calls' first (NULL when there is none). */
static json_t *take_text(struct job *j) {
  json_t *out = j->segments;
  j->segments = NULL;
  if (j->deltas.len) {
    char *text = loom_buf_take(&j->deltas, NULL);
    if (!out)
      out = json_array();
    json_array_append_new(
        out, json_pack("{s:s, s:s}", "message", j->message, "text", text));
    loom_free(text);
  }
  return out;
}

/* Emits what take_text took (one token event per message) and frees it. */
static void emit_taken(struct loom_task *t, json_t *taken) {
  size_t i;
  const json_t *seg;
  json_array_foreach(taken, i, seg) {
    emit_text(t, json_string_value(json_object_get(seg, "message")),
              json_string_value(json_object_get(seg, "text")));
  }
  json_decref(taken);
}

/* Run side: the deltas queued so far go out as token events, one per
 * message. */
static void flush_cb(void *arg) {
  struct job *j = arg;
  pthread_mutex_lock(&j->parked.mu);
  j->flush_posted = false;
  struct loom_task *t = j->parked.cancelled ? NULL : j->parked.t;
  json_t *taken = t ? take_text(j) : NULL;
  pthread_mutex_unlock(&j->parked.mu);
  emit_taken(t, taken);
  job_unref(j);
}

static void emit_usage(struct loom_task *t, const struct job *j) {
  json_t *usage =
      json_pack("{s:s, s:s, s:s, s:I, s:I, s:f, s:i}", "event", "llm_usage",
                "node", loom_task_node(t)->name, "model", j->p->label,
                "prompt_tokens", (json_int_t)j->usage.prompt_tokens,
                "completion_tokens", (json_int_t)j->usage.completion_tokens,
                "cost_usd", j->cost, "calls", j->calls);
  loom_task_emit(t, usage);
  json_decref(usage);
}

/* Run side: the call ended; finish the task with its outcome. Holds the
 * loop side's reference; drops the task's too. */
static void finish_cb(void *arg) {
  struct job *j = arg;
  struct loom_task *t = loom_parked_claim(&j->parked);
  if (!t) { /* the task is gone; the cancel dropped its reference */
    job_unref(j);
    return;
  }
  pthread_mutex_lock(&j->parked.mu);
  json_t *taken = take_text(j);
  pthread_mutex_unlock(&j->parked.mu);
  const struct loom_node *node = loom_task_node(t);
  const json_t *c = node->config;
  emit_taken(t, taken);
  emit_usage(t, j);
  if (j->err) {
    loom_task_fail(t, j->err, "node '%s': %s", node->name, j->error);
  } else {
    json_t *writes = json_object();
    json_object_set_new(writes, str(c, "output") ? str(c, "output") : "output",
                        j->value);
    j->value = NULL;
    if (str(c, "messages") && j->conversation) {
      json_object_set_new(writes, str(c, "messages"), j->conversation);
      j->conversation = NULL;
    }
    loom_task_done(t, writes);
  }
  job_unref(j);
  job_unref(j);
}

/* The job for task `t`, or NULL after failing the task. */
static struct job *job_new(struct loom_task *t, bool agent) {
  const struct loom_node *node = loom_task_node(t);
  const json_t *c = node->config;
  struct loom_error e = {0};
  struct loom_provider *p = NULL;
  json_t *messages = build_messages(c, loom_task_state(t), &e);
  if (!messages ||
      loom_providers_resolve(rt.providers, str(c, "model"), &p, &e)) {
    json_decref(messages);
    loom_task_fail(t, e.code ? e.code : LOOM_ERR_INVALID, "node '%s': %s",
                   node->name, e.message);
    return NULL;
  }
  struct job *j = LOOM_NEW(struct job);
  j->kind = agent                          ? JOB_AGENT
            : json_object_get(c, "schema") ? JOB_STRUCTURED
                                           : JOB_TEXT;
  j->p = p;
  j->messages = messages;
  j->schema = json_object_get(c, "schema");
  json_t *tools = json_object_get(c, "tools");
  j->tool_names = loom_calloc(json_array_size(tools) + 1, sizeof(char *));
  for (size_t i = 0; i < json_array_size(tools); i++)
    j->tool_names[i] = tool_name(json_array_get(tools, i));
  j->tools = node->kind_data ? node->kind_data : rt.tools;
  json_t *temp = json_object_get(c, "temperature");
  j->temperature = json_is_number(temp) ? json_number_value(temp) : -1;
  j->max_tokens = (long)json_integer_value(json_object_get(c, "max_tokens"));
  j->max_iterations =
      (int)json_integer_value(json_object_get(c, "max_iterations"));
  j->react = json_is_true(json_object_get(c, "react"));
  j->tokens = loom_task_wants_tokens(t);
  loom_buf_init(&j->deltas, 1u << 20);
  return j;
}

static void run_task(struct loom_task *t, bool agent) {
  if (!rt.nloops) {
    loom_task_fail(t, LOOM_ERR_UNAVAILABLE,
                   "node '%s': the model runtime is not running",
                   loom_task_node(t)->name);
    return;
  }
  struct job *j = job_new(t, agent);
  if (!j)
    return;
  loom_parked_init(&j->parked, t, job_free_cb);
  if (loom_loop_share_push(rt.share, &j->queued, job_start_cb) != LOOM_OK) {
    loom_parked_abandon(&j->parked);
    loom_task_fail(t, LOOM_ERR_UNAVAILABLE, "node '%s': the model loop stopped",
                   loom_task_node(t)->name);
  }
  /* Parked: the loop side posts finish_cb when the call ends. */
}

/* Run side: the run was cancelled. Nothing is posted for the task from
 * here on; the loop cancels the call in flight. */
static void task_cancel(struct loom_task *t) {
  struct job *j = (struct job *)loom_parked_cancel(t);
  if (!j)
    return;
  if (loom_loop_share_take_back(rt.share, &j->queued)) {
    job_unref(j); /* never started: the model loop's reference */
  } else if (j->queued.taken_by) {
    loom_parked_ref(&j->parked);
    if (loom_loop_post(j->queued.taken_by, job_cancel_cb, j) != LOOM_OK)
      job_unref(j);
  }             /* else the shutdown is dropping it */
  job_unref(j); /* the task's */
}

static void llm_start(struct loom_task *t) { run_task(t, false); }
static void agent_start(struct loom_task *t) { run_task(t, true); }

static const struct loom_node_kind LLM_KIND = {.name = "llm",
                                               .compile = llm_compile,
                                               .start = llm_start,
                                               .cancel = task_cancel};
static const struct loom_node_kind AGENT_KIND = {.name = "agent",
                                                 .compile = agent_compile,
                                                 .start = agent_start,
                                                 .cancel = task_cancel,
                                                 .free_data = node_tools_free};

/* ---- start-up and shutdown ---- */

/* Connections per model server host: every call in flight holds one
 * (HTTP/1.1), so this caps concurrency per provider. */
#define DEFAULT_MAX_CONNECTIONS 16384

/* A whole-number setting within [min, max], or `def` when unset (a
 * configuration that was never validated, as in tests). */
static unsigned setting_uint(const char *v, unsigned def, unsigned min,
                             unsigned max) {
  long n = v && *v ? strtol(v, NULL, 10) : (long)def;
  return n < (long)min ? min : n > (long)max ? max : (unsigned)n;
}

static void client_new_cb(struct loom_loop *loop, void *arg) {
  struct model_loop *ml = arg;
  if (loom_http_client_new(loop, rt.max_connections, &ml->http) != LOOM_OK)
    ml->http = NULL;
}

static void client_free_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  struct model_loop *ml = arg;
  loom_http_client_free(ml->http);
  ml->http = NULL;
}

/* LOOM_LLM_LOOPS model loops (default 1), for many thousands of calls in
 * flight; each loop has its own connections, and a call goes to whichever
 * loop takes it first (loop_share), so a loop that gets less CPU takes
 * fewer. */
static loom_err start_loops(const struct loom_config *cfg) {
  unsigned n = setting_uint(cfg->llm_loops, 1, 1, MAX_MODEL_LOOPS);
  rt.max_connections = setting_uint(cfg->llm_max_connections,
                                    DEFAULT_MAX_CONNECTIONS, 1, 1000000);
  for (rt.nloops = 0; rt.nloops < n; rt.nloops++) {
    struct model_loop *ml = &rt.ml[rt.nloops];
    char name[16];
    snprintf(name, sizeof name, "loom-models-%u", rt.nloops);
    if (loom_loop_new(name, &ml->loop) != LOOM_OK)
      return LOOM_ERR_INTERNAL;
    if (loom_loop_call(ml->loop, client_new_cb, ml) != LOOM_OK || !ml->http) {
      rt.nloops++; /* stopped by the shutdown */
      return LOOM_ERR_INTERNAL;
    }
  }
  struct loom_loop *loops[MAX_MODEL_LOOPS];
  for (unsigned i = 0; i < rt.nloops; i++)
    loops[i] = rt.ml[i].loop;
  return loom_loop_share_new(loops, rt.nloops, 0, &rt.share);
}

struct loom_tools *loom_agents_tools(void) {
  return rt.tools;
}

/* LOOM_LLM_PRICES: inline JSON ({"model": {"input": .., "output": ..}}) or
 * the path of a file holding it; adds to the built-in prices. */
static loom_err load_prices(const char *v, struct loom_error *e) {
  if (!v || !*v)
    return LOOM_OK;
  if (*v == '{')
    return loom_llm_prices_load_json(rt.prices, v, e);
  FILE *f = fopen(v, "rb");
  if (!f)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "LOOM_LLM_PRICES: cannot read '%s'", v);
  struct loom_buf b;
  loom_buf_init(&b, 1u << 20);
  char chunk[4096];
  size_t n;
  loom_err err = LOOM_OK;
  while (!err && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
    err = loom_buf_append(&b, chunk, n);
  fclose(f);
  if (err)
    err = loom_error_set(e, err, "LOOM_LLM_PRICES: '%s' is over 1 MiB", v);
  else
    err = loom_llm_prices_load_json(rt.prices, b.data ? b.data : "", e);
  loom_buf_cleanup(&b);
  return err;
}

loom_err loom_agents_nodes_register(const struct loom_config *cfg,
                                    struct loom_error *e) {
  if (rt.nloops)
    return LOOM_OK;
  loom_err err = loom_providers_new(cfg, &rt.providers, e);
  if (!err && cfg->model && *cfg->model &&
      (err = loom_providers_check_default(rt.providers, e))) {
    loom_providers_free(rt.providers);
    rt.providers = NULL;
  }
  if (err)
    return err;
  loom_http_client_global_init();
  if (start_loops(cfg) != LOOM_OK) {
    loom_agents_nodes_shutdown();
    return loom_error_set(e, LOOM_ERR_INTERNAL, "cannot start the model loop");
  }
  rt.tools = loom_tools_new();
  loom_tools_add_builtins(rt.tools);
  rt.prices = loom_llm_prices_new();
  if ((err = load_prices(cfg->llm_prices, e)) ||
      (cfg->tools_file && *cfg->tools_file &&
       (err = loom_tools_load_file(rt.tools, cfg->tools_file, e))) ||
      (err = loom_tools_load_plugins(rt.tools, cfg->tool_plugins, e))) {
    loom_agents_nodes_shutdown();
    return err;
  }
  /* Registered once per process; a second runtime reuses the kinds. */
  if (!loom_engine_node_kind("llm") &&
      (err = loom_engine_node_kind_register(&LLM_KIND)))
    return loom_error_set(e, err, "cannot register the llm node kind");
  if (!loom_engine_node_kind("agent") &&
      (err = loom_engine_node_kind_register(&AGENT_KIND)))
    return loom_error_set(e, err, "cannot register the agent node kind");
  return LOOM_OK;
}

/* Shutdown: a call no model loop took fails as if its loop had stopped. */
static void job_drop_cb(struct loom_loop_share_item *item, void *arg) {
  (void)arg;
  struct job *j = job_of(item);
  job_finish(j, LOOM_ERR_UNAVAILABLE, "the model loop stopped", NULL, NULL);
}

void loom_agents_nodes_shutdown(void) {
  loom_loop_share_free(rt.share, job_drop_cb, NULL);
  for (unsigned i = 0; i < rt.nloops; i++) {
    struct model_loop *ml = &rt.ml[i];
    if (ml->http && loom_loop_call(ml->loop, client_free_cb, ml) != LOOM_OK)
      ml->http = NULL;
    loom_loop_free(ml->loop);
  }
  loom_providers_free(rt.providers);
  loom_tools_free(rt.tools);
  loom_llm_prices_free(rt.prices);
  memset(&rt, 0, sizeof rt);
}
