/*
 * run_events — what a run streams, made from its engine's events: values,
 * updates (interrupts as {"__interrupt__": [...]}), tasks, checkpoints,
 * debug, custom, and model text deltas as LangGraph's messages-tuple.
 *
 * A run makes events only for the stream modes it can be read in (its
 * stream_mode; every mode for a background run, which anyone may join
 * asking for any), so a wait or a values stream does not pay for debug
 * payloads nobody reads. The JSON of an engine event's stream events is
 * built first, without the api lock, which is then held only to append
 * them to the run (executor.c calls api_run_engine_event from the thread
 * running the engine).
 */
#include <string.h>

#include "agents/llm_usage.h"
#include "api/internal.h"
#include "core/alloc.h"
#include "engine/engine.h"

json_t *api_interrupt_list(const json_t *engine_interrupts) {
  json_t *out = json_array();
  size_t i;
  const json_t *it;
  json_array_foreach(engine_interrupts, i, it) {
    json_array_append_new(out, json_pack("{s:O, s:O?}", "value",
                                         json_object_get(it, "value")
                                             ? json_object_get(it, "value")
                                             : json_null(),
                                         "id", json_object_get(it, "id")));
  }
  return out;
}

/* Stream modes as bits (api_run_modes). */
enum mode_bit {
  MODE_VALUES = 1u << 0,
  MODE_UPDATES = 1u << 1,
  MODE_TASKS = 1u << 2,
  MODE_CHECKPOINTS = 1u << 3,
  MODE_DEBUG = 1u << 4,
  MODE_CUSTOM = 1u << 5,
  MODE_MESSAGES_TUPLE = 1u << 6, /* event `messages`: [chunk, metadata] */
  MODE_MESSAGES = 1u << 7,       /* messages/metadata, messages/partial */
  MODE_EVENTS = 1u << 8,         /* LangChain's astream_events */
  /* What a background run makes for whoever joins, whatever its own
   * stream_mode: the modes that cost little beyond what the run does
   * anyway. The others repeat the state in every event (checkpoints,
   * tasks, debug) or repeat the others (events; messages, whose partials
   * are messages-tuple's deltas summed up): a background run makes them
   * only when its stream_mode names them. */
  MODE_JOINABLE =
      MODE_VALUES | MODE_UPDATES | MODE_CUSTOM | MODE_MESSAGES_TUPLE,
};

unsigned api_run_modes(const struct api_run *r) {
  static const struct {
    const char *name;
    unsigned bit;
  } names[] = {{"values", MODE_VALUES},
               {"updates", MODE_UPDATES},
               {"tasks", MODE_TASKS},
               {"checkpoints", MODE_CHECKPOINTS},
               {"debug", MODE_DEBUG},
               {"custom", MODE_CUSTOM},
               {"messages-tuple", MODE_MESSAGES_TUPLE},
               {"messages", MODE_MESSAGES},
               {"events", MODE_EVENTS}};
  unsigned out = r->all_modes ? MODE_JOINABLE : 0;
  size_t i;
  const json_t *m;
  json_array_foreach(json_object_get(r->kwargs, "stream_mode"), i, m) {
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
      if (json_is_string(m) && !strcmp(json_string_value(m), names[k].name))
        out |= names[k].bit;
  }
  return out;
}

bool api_run_modes_want_tokens(unsigned modes) {
  return modes &
         (MODE_CUSTOM | MODE_MESSAGES_TUPLE | MODE_MESSAGES | MODE_EVENTS);
}

bool api_run_modes_want_checkpoints(unsigned modes) {
  return modes & (MODE_CHECKPOINTS | MODE_DEBUG);
}

bool api_run_modes_want_tasks(unsigned modes) {
  return modes & (MODE_TASKS | MODE_DEBUG | MODE_EVENTS);
}

void api_run_events_cleanup(struct api_run_events *st) {
  json_decref(st->usage);
  json_decref(st->partials);
  *st = (struct api_run_events){0};
}

/* Stream events made from one engine event, outside the api lock; they
 * are appended to the run under it (emit_all). */
struct evbuf {
  size_t n, cap;
  struct {
    const char *mode; /* static */
    char *name;
    json_t *data;
  } * items;
};

/* An event of `mode` named `name` (with its subgraph namespace, if any). */
static void add_named(struct evbuf *b, const char *mode, const char *name,
                      const char *ns, json_t *data) {
  if (b->n == b->cap) {
    b->cap = b->cap ? b->cap * 2 : 4;
    b->items = loom_realloc(b->items, b->cap * sizeof *b->items);
  }
  b->items[b->n].mode = mode;
  b->items[b->n].name =
      ns && *ns ? loom_asprintf("%s|%s", name, ns) : loom_strdup(name);
  b->items[b->n].data = data;
  b->n++;
}

/* An event named as its mode, as most are. */
static void add(struct evbuf *b, const char *mode, const char *ns,
                json_t *data) {
  add_named(b, mode, mode, ns, data);
}

/* Appends them (data stolen) and frees the buffer. Lock held. */
static void emit_all(struct api_run *r, struct evbuf *b) {
  for (size_t i = 0; i < b->n; i++) {
    api_run_emit(r, b->items[i].mode, b->items[i].name, b->items[i].data);
    loom_free(b->items[i].name);
  }
  loom_free(b->items);
  *b = (struct evbuf){0};
}

/* The step a task event belongs to. The engine stamps an event with the
 * step of the newest checkpoint; tasks run in the step after it, whose
 * checkpoint their writes make, and LangGraph numbers them so. */
static int task_step(const struct loom_event *ev) { return ev->step + 1; }

static void add_debug(struct evbuf *b, const struct loom_event *ev,
                      const char *type, const json_t *payload) {
  json_t *now = api_now();
  int step = ev->type == LOOM_EVENT_CHECKPOINT ? ev->step : task_step(ev);
  add(b, "debug", ev->ns,
      json_pack("{s:s, s:o, s:i, s:O}", "type", type, "timestamp", now, "step",
                step, "payload", payload));
}

static json_t *checkpoint_event(const struct api_run *r,
                                const struct loom_event *ev) {
  const json_t *d = ev->data;
  const char *id = json_string_value(json_object_get(d, "checkpoint_id"));
  const char *parent = json_string_value(json_object_get(d, "parent_id"));
  json_t *cfg = json_pack("{s:{s:s, s:s, s:s?}}", "configurable", "thread_id",
                          r->thread_id, "checkpoint_ns", ev->ns ? ev->ns : "",
                          "checkpoint_id", id);
  json_t *pcfg = parent
                     ? json_pack("{s:{s:s, s:s, s:s}}", "configurable",
                                 "thread_id", r->thread_id, "checkpoint_ns",
                                 ev->ns ? ev->ns : "", "checkpoint_id", parent)
                     : json_null();
  const json_t *values = json_object_get(d, "values"); /* the run's own */
  const json_t *tasks = json_object_get(d, "tasks");   /* items: the run's */
  const json_t *meta = json_object_get(d, "metadata");
  return json_pack("{s:o, s:o, s:o, s:O?, s:o, s:o}", "config", cfg,
                   "parent_config", pcfg, "metadata",
                   meta ? json_deep_copy(meta) : json_null(), "next",
                   json_object_get(d, "next"), "values",
                   values ? json_deep_copy(values) : json_object(), "tasks",
                   tasks ? json_deep_copy(tasks) : json_array());
}

/* ---- LangChain's astream_events (mode `events`) ---- */

/* One event as LangChain's astream_events (v2) shows it. The graph is
 * the run ("LangGraph", its run id, no parent); a task is a chain of its
 * own under it, with an id made of the run's, the step and the task's. */
static json_t *chain_event(const struct api_run *r, const char *event,
                           const struct loom_event *ev, const char *node,
                           const char *task_id, json_t *data) {
  if (!node) /* the graph */
    return json_pack("{s:s, s:s, s:s, s:[], s:{s:s, s:s, s:s, s:s}, s:[], "
                     "s:o}",
                     "event", event, "name", "LangGraph", "run_id", r->id,
                     "tags", "metadata", "run_id", r->id, "thread_id",
                     r->thread_id, "graph_id", r->graph_id, "assistant_id",
                     r->assistant_id, "parent_ids", "data", data);
  int step = task_step(ev);
  char *id = loom_asprintf("%s-%d-%s", r->id, step, task_id ? task_id : node);
  char *tag = loom_asprintf("graph:step:%d", step);
  json_t *out = json_pack(
      "{s:s, s:s, s:s, s:[s], s:{s:s, s:s, s:s, s:s, s:s, s:i}, s:[s], s:o}",
      "event", event, "name", node, "run_id", id, "tags", tag, "metadata",
      "run_id", r->id, "thread_id", r->thread_id, "graph_id", r->graph_id,
      "assistant_id", r->assistant_id, "langgraph_node", node, "langgraph_step",
      step, "parent_ids", r->id, "data", data);
  loom_free(id);
  loom_free(tag);
  return out;
}

/* {key: a copy of v}: an engine event's data is the run's own, which the
 * engine goes on changing, and stream events are read on other threads. */
static json_t *copied(const char *key, const json_t *v) {
  return json_pack("{s:o}", key, v ? json_deep_copy(v) : json_null());
}

/* The graph starts with the state it starts from (the run's first values
 * event) and ends with its last; its tasks start and end in between. */
static void add_chain_events(struct evbuf *b, const struct api_run *r,
                             struct api_run_events *st,
                             const struct loom_event *ev) {
  const json_t *d = ev->data;
  bool root = !ev->ns || !*ev->ns;
  if (ev->type == LOOM_EVENT_VALUES && root && !st->graph_begun) {
    st->graph_begun = true;
    add(b, "events", ev->ns,
        chain_event(r, "on_chain_start", ev, NULL, NULL, copied("input", d)));
  } else if (ev->type == LOOM_EVENT_END && root) {
    add(b, "events", ev->ns,
        chain_event(r, "on_chain_end", ev, NULL, NULL,
                    copied("output", json_object_get(d, "values"))));
  } else if (ev->type == LOOM_EVENT_TASKS) {
    size_t i;
    const json_t *t;
    json_array_foreach(d, i, t) {
      add(b, "events", ev->ns,
          chain_event(r, "on_chain_start", ev,
                      json_string_value(json_object_get(t, "name")),
                      json_string_value(json_object_get(t, "id")),
                      copied("input", json_object_get(t, "input"))));
    }
  } else if (ev->type == LOOM_EVENT_TASK_RESULT) {
    add(b, "events", ev->ns,
        chain_event(r, "on_chain_end", ev,
                    json_string_value(json_object_get(d, "name")),
                    json_string_value(json_object_get(d, "id")),
                    copied("output", json_object_get(d, "result"))));
  }
}

/* ---- model text: messages-tuple, messages, on_chat_model_stream ---- */

/* The id of a streamed message: the one its token event names (an
 * agent's model call, whose message in the state carries it too), else
 * one message per task (a node may run as several tasks in a step, as
 * Send's do) and step. */
static char *message_id(const struct api_run *r, const json_t *token,
                        const char *task, int step) {
  const char *named = json_string_value(json_object_get(token, "message"));
  return named ? loom_strdup(named)
               : loom_asprintf("run-%s-%s-%d", r->id, task, step);
}

/* Mode messages: the message's metadata the first time it is seen, then
 * the whole message so far per delta (messages/metadata,
 * messages/partial), as LangGraph's server sends a streamed message. The
 * partial is kept as its delta alone, rebuilt whole where it is sent
 * (partials.c): kept whole, a message would cost the square of its
 * length. */
static void add_partial(struct evbuf *b, struct api_run_events *st,
                        const char *id, const char *text, const json_t *meta,
                        const char *ns) {
  if (!st->partials)
    st->partials = json_object();
  if (!json_object_get(st->partials, id)) {
    add_named(b, "messages", "messages/metadata", ns,
              json_pack("{s:{s:O}}", id, "metadata", meta));
    json_object_set_new(st->partials, id, json_true());
  }
  add_named(b, "messages", "messages/partial", ns, api_partial_delta(id, text));
}

/* Model text deltas, which llm and agent nodes send as custom events
 * {"event": "token", "node", "task", "text"}, go out as LangGraph streams
 * a chat model's chunks: a [chunk, metadata] tuple per delta
 * (messages-tuple); the message's metadata once, then the whole message
 * so far per delta (messages); and LangChain's on_chat_model_stream
 * (events). One message per model call of an agent, per task of an llm
 * node (message_id); the events share the chunk and metadata, which nobody
 * changes. The run's ids read here never change once it exists. */
static void add_token(struct evbuf *b, const struct api_run *r,
                      struct api_run_events *st, const struct loom_event *ev) {
  const json_t *d = ev->data;
  const char *node = json_string_value(json_object_get(d, "node"));
  const char *task = json_string_value(json_object_get(d, "task"));
  const char *text = json_string_value(json_object_get(d, "text"));
  if (!node || !text)
    return;
  int step = task_step(ev);
  char *id = message_id(r, d, task ? task : node, step);
  json_t *meta = json_pack("{s:s, s:i, s:s, s:s, s:s}", "langgraph_node", node,
                           "langgraph_step", step, "run_id", r->id, "thread_id",
                           r->thread_id, "graph_id", r->graph_id);
  json_t *chunk = json_pack("{s:s, s:s, s:s, s:[]}", "content", text, "type",
                            "AIMessageChunk", "id", id, "tool_call_chunks");
  if (st->modes & MODE_MESSAGES_TUPLE)
    add_named(b, "messages-tuple", "messages", ev->ns,
              json_pack("[O, O]", chunk, meta));
  if (st->modes & MODE_MESSAGES)
    add_partial(b, st, id, text, meta, ev->ns);
  if (st->modes & MODE_EVENTS)
    add(b, "events", ev->ns,
        chain_event(r, "on_chat_model_stream", ev, node, NULL,
                    json_pack("{s:O}", "chunk", chunk)));
  json_decref(chunk);
  json_decref(meta);
  loom_free(id);
}

/* A task starting, as LangGraph's tasks stream shows it: what it reads,
 * what triggered it (the edge into its node, in LangGraph's channel
 * naming) and its interrupts (none yet). */
static json_t *task_start(const json_t *t) {
  const char *name = json_string_value(json_object_get(t, "name"));
  char *trigger = loom_asprintf("branch:to:%s", name ? name : "");
  json_t *out = json_deep_copy(t);
  json_object_set_new(out, "triggers", json_pack("[s]", trigger));
  json_object_set_new(out, "interrupts", json_array());
  loom_free(trigger);
  return out;
}

/* A task's end: its result, error or interrupts, the other two empty.
 * As in LangGraph, the error is its message (the engine's {code,
 * message} names the code too: "timeout: ..."). */
static json_t *task_result(const json_t *t) {
  json_t *out = json_deep_copy(t);
  const json_t *ints = json_object_get(t, "interrupts");
  json_object_set_new(out, "interrupts",
                      ints ? api_interrupt_list(ints) : json_array());
  const json_t *err = json_object_get(t, "error");
  if (err) {
    char *text = loom_asprintf(
        "%s: %s", json_string_value(json_object_get(err, "code")) ?: "error",
        json_string_value(json_object_get(err, "message")) ?: "");
    json_object_set_new(out, "error", json_string(text));
    loom_free(text);
  } else {
    json_object_set_new(out, "error", json_null());
  }
  return out;
}

static void add_tasks(struct evbuf *b, const struct loom_event *ev,
                      unsigned modes) {
  if (ev->type == LOOM_EVENT_TASK_RESULT) {
    json_t *t = task_result(ev->data);
    if (modes & MODE_TASKS)
      add(b, "tasks", ev->ns, json_incref(t));
    if (modes & MODE_DEBUG)
      add_debug(b, ev, "task_result", t);
    json_decref(t);
    return;
  }
  size_t i;
  const json_t *it;
  json_array_foreach(ev->data, i, it) {
    json_t *t = task_start(it);
    if (modes & MODE_TASKS)
      add(b, "tasks", ev->ns, json_incref(t));
    if (modes & MODE_DEBUG)
      add_debug(b, ev, "task", t);
    json_decref(t);
  }
}

/* The stream events of one engine event, for the modes the run makes. */
static void make_events(struct api_run *r, struct api_run_events *st,
                        const struct loom_event *ev, struct evbuf *b) {
  unsigned m = st->modes;
  if (m & MODE_EVENTS)
    add_chain_events(b, r, st, ev);
  switch (ev->type) {
  case LOOM_EVENT_VALUES:
    if (m & MODE_VALUES)
      add(b, "values", ev->ns, json_deep_copy(ev->data));
    break;
  case LOOM_EVENT_UPDATES:
    if (m & MODE_UPDATES)
      add(b, "updates", ev->ns, json_deep_copy(ev->data));
    break;
  case LOOM_EVENT_INTERRUPT: /* always: how a stream learns it stopped */
    add(b, "updates", ev->ns,
        json_pack("{s:o}", "__interrupt__", api_interrupt_list(ev->data)));
    break;
  case LOOM_EVENT_TASK_RESULT:
  case LOOM_EVENT_TASKS:
    add_tasks(b, ev, m);
    break;
  case LOOM_EVENT_CHECKPOINT:
    if (m & (MODE_CHECKPOINTS | MODE_DEBUG)) {
      json_t *cp = checkpoint_event(r, ev);
      if (m & MODE_DEBUG)
        add_debug(b, ev, "checkpoint", cp);
      if (m & MODE_CHECKPOINTS)
        add(b, "checkpoints", ev->ns, json_incref(cp));
      json_decref(cp);
    }
    break;
  case LOOM_EVENT_CUSTOM: {
    loom_llm_usage_add(&st->usage, API_TENANT, ev->data);
    if (m & MODE_CUSTOM)
      add(b, "custom", ev->ns, json_deep_copy(ev->data));
    const char *kind = json_string_value(json_object_get(ev->data, "event"));
    if (kind && !strcmp(kind, "token"))
      add_token(b, r, st, ev);
    break;
  }
  case LOOM_EVENT_ERROR:
  case LOOM_EVENT_END:
    break; /* the executor reports both itself once the run stopped */
  }
}

bool api_run_engine_event(struct api_run *r, struct api_run_events *st,
                          const struct loom_event *ev) {
  struct evbuf b = {0};
  make_events(r, st, ev, &b);
  if (!b.n) /* nothing to append (a wait's run): no lock round trip; the
               flag is only ever set, and a cancel is also posted */
    return __atomic_load_n(&r->cancel, __ATOMIC_RELAXED);
  api_lock();
  emit_all(r, &b);
  bool cancel = r->cancel;
  api_unlock();
  return cancel;
}
