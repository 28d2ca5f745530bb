/*
 * kinds — the node-kind registry and the built-in `lua` and `interrupt`
 * kinds (`subgraph` lives in subgraph.c).
 *
 * The registry is a small fixed table filled at start-up; built-ins are
 * added on first use. Lookups are linear: there are a handful of kinds.
 */
#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/engine.h"
#include "engine/internal.h"
#include "engine/lua_sandbox.h"

#define MAX_KINDS 64

static const struct loom_node_kind *kinds[MAX_KINDS];
static size_t nkinds;
static char kind_names[MAX_KINDS * 24];
static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;

extern const struct loom_node_kind loom_engine_subgraph_kind;

/* ---- lua ---- */

static void lua_emit_cb(const json_t *value, void *arg) {
  loom_task_emit(arg, value);
}

static void lua_start(struct loom_task *t) {
  size_t n = loom_task_resume_count(t);
  const json_t **resume = loom_calloc(n + 1, sizeof(*resume));
  for (size_t i = 0; i < n; i++)
    resume[i] = loom_task_resume(t, i);
  struct loom_lua_call call = {
      .resume = resume, .nresume = n, .emit_cb = lua_emit_cb, .arg = t};
  const json_t *args[2] = {loom_task_state(t), loom_task_item(t)};
  char *name = loom_asprintf("node %s", loom_task_node(t)->name);
  json_t *out = NULL;
  struct loom_error e = {0};
  loom_err rc = loom_lua_compile(loom_task_lua(t), name, loom_task_node(t)->lua,
                                 "state, item", &e);
  if (!rc)
    rc = loom_lua_run(loom_task_lua(t), name, args, 2, &call, &out, &e);
  loom_free(name);
  loom_free(resume);
  if (rc) {
    loom_task_fail(t, rc, "%s", e.message);
  } else if (call.interrupt) {
    json_decref(out);
    loom_task_interrupt(t, call.interrupt);
  } else if (out && !json_is_object(out)) {
    const char *what = json_is_array(out) ? "list" : "plain value";
    json_decref(out);
    loom_task_fail(t, LOOM_ERR_INVALID,
                   "node '%s' returned a %s; return a table of channel "
                   "updates, or nothing",
                   loom_task_node(t)->name, what);
  } else {
    loom_task_done(t, out);
  }
}

static const struct loom_node_kind lua_kind = {.name = "lua",
                                               .start = lua_start};

/* ---- interrupt: the resume value is the node's write ---- */

static const json_t *interrupt_config(const struct loom_node *n) {
  return json_object_get(n->config, "interrupt");
}

static loom_err interrupt_compile(struct loom_node *n, const char *dir,
                                  int depth, struct loom_error *e) {
  (void)dir, (void)depth;
  const json_t *cfg = interrupt_config(n);
  if (json_is_null(cfg) || json_is_string(cfg))
    return LOOM_OK;
  if (!json_is_object(cfg))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "interrupt: must be a mapping {question, show, "
                          "into} or a question");
  const json_t *show = json_object_get(cfg, "show");
  if (show && !json_is_array(show))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "interrupt.show must be a list of channels");
  const json_t *into = json_object_get(cfg, "into");
  if (into && !json_is_string(into))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "interrupt.into must be a channel name");
  return LOOM_OK;
}

static json_t *interrupt_payload(struct loom_task *t, const json_t *cfg) {
  json_t *payload = json_object();
  if (json_is_string(cfg))
    json_object_set(payload, "question", (json_t *)cfg);
  if (!json_is_object(cfg))
    return payload;
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)cfg, k, v) {
    if (strcmp(k, "show") && strcmp(k, "into"))
      json_object_set(payload, k, v);
  }
  const json_t *show = json_object_get(cfg, "show");
  for (size_t i = 0; i < json_array_size(show); i++) {
    const char *ch = json_string_value(json_array_get(show, i));
    json_t *val = ch ? json_object_get(loom_task_state(t), ch) : NULL;
    if (ch)
      json_object_set(payload, ch, val ? val : json_null());
  }
  return payload;
}

static void interrupt_start(struct loom_task *t) {
  const json_t *cfg = interrupt_config(loom_task_node(t));
  if (!loom_task_resume_count(t)) {
    loom_task_interrupt(t, interrupt_payload(t, cfg));
    return;
  }
  const json_t *value = loom_task_resume(t, 0);
  const char *into = json_string_value(json_object_get(cfg, "into"));
  if (into) {
    json_t *w = json_object();
    json_object_set(w, into, (json_t *)value);
    loom_task_done(t, w);
  } else if (json_is_object(value)) {
    loom_task_done(t, json_deep_copy(value));
  } else {
    loom_task_fail(t, LOOM_ERR_INVALID,
                   "node '%s': the resume value must be an object of "
                   "channel updates (or give the node `into: CHANNEL`)",
                   loom_task_node(t)->name);
  }
}

static const struct loom_node_kind interrupt_kind = {.name = "interrupt",
                                                     .compile =
                                                         interrupt_compile,
                                                     .start = interrupt_start};

/* ---- registry ---- */

static void add_kind(const struct loom_node_kind *k) {
  kinds[nkinds++] = k;
  if (nkinds > 1)
    strcat(kind_names, ", ");
  strncat(kind_names, k->name, 20);
}

static void register_builtins(void) {
  add_kind(&lua_kind);
  add_kind(&interrupt_kind);
  add_kind(&loom_engine_subgraph_kind);
}

loom_err loom_engine_node_kind_register(const struct loom_node_kind *kind) {
  pthread_once(&builtins_once, register_builtins);
  if (!kind || !kind->name || !kind->start)
    return LOOM_ERR_INVALID;
  for (size_t i = 0; i < nkinds; i++)
    if (!strcmp(kinds[i]->name, kind->name))
      return LOOM_ERR_EXISTS;
  if (nkinds == MAX_KINDS)
    return LOOM_ERR_LIMIT;
  add_kind(kind);
  return LOOM_OK;
}

const struct loom_node_kind *loom_engine_node_kind(const char *name) {
  pthread_once(&builtins_once, register_builtins);
  for (size_t i = 0; i < nkinds; i++)
    if (!strcmp(kinds[i]->name, name))
      return kinds[i];
  return NULL;
}

const char *loom_engine_node_kind_names(void) {
  pthread_once(&builtins_once, register_builtins);
  return kind_names;
}
