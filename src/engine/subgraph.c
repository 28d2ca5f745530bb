/*
 * subgraph — the `subgraph` node kind: a whole graph as one node.
 *
 * The task starts a child run on the same thread under its own checkpoint
 * namespace ("node:task", nested with "|"), with the parent's state
 * restricted to the channels the child declares. When the child finishes,
 * its final values for channels the parent also has and it changed become
 * the task's writes (for the parent's append channels, only what it
 * added). An interrupt inside the child interrupts the parent task; the
 * resume value is passed down, and the child continues from its own
 * checkpoint. The child may park on asynchronous nodes like any run (its
 * continuations go through the parent's mailbox, see post.c); it is
 * freed with the parent run, and cancelled with it.
 */
#include <string.h>

#include "core/alloc.h"
#include "engine/internal.h"

static json_t *only_channels(const struct loom_graph *g, const json_t *v) {
  json_t *out = json_object();
  for (size_t i = 0; i < g->nchannels; i++) {
    json_t *x = json_object_get(v, g->channels[i].name);
    if (x)
      json_object_set(out, g->channels[i].name, x);
  }
  return out;
}

/* The child's results as writes to the parent: channels both declare and
 * the child changed; for the parent's append channels only the items the
 * child added, so they are not appended twice. */
static json_t *child_writes(const struct loom_graph *parent,
                            const json_t *given, const json_t *final) {
  json_t *out = json_object();
  for (size_t i = 0; i < parent->nchannels; i++) {
    const struct loom_channel *ch = &parent->channels[i];
    json_t *before = json_object_get(given, ch->name);
    json_t *after = json_object_get(final, ch->name);
    if (!after || json_equal(before, after))
      continue;
    size_t n = json_array_size(before);
    bool extends = ch->reducer == LOOM_REDUCER_APPEND &&
                   json_is_array(before) && json_is_array(after) &&
                   json_array_size(after) >= n;
    for (size_t k = 0; extends && k < n; k++)
      extends = json_equal(json_array_get(before, k), json_array_get(after, k));
    if (!extends) {
      json_object_set(out, ch->name, after);
      continue;
    }
    json_t *added = json_array();
    for (size_t k = n; k < json_array_size(after); k++)
      json_array_append(added, json_array_get(after, k));
    json_object_set_new(out, ch->name, added);
  }
  return out;
}

static void forward_cb(const struct loom_event *ev, void *arg) {
  struct loom_task *t = arg;
  if (ev->type == LOOM_EVENT_CUSTOM || ev->type == LOOM_EVENT_UPDATES) {
    struct loom_event copy = *ev;
    for (size_t i = 0; i < t->run->nsubs; i++)
      t->run->subs[i].cb(&copy, t->run->subs[i].arg);
  }
}

static void child_done_cb(struct loom_run *child, void *arg) {
  struct loom_task *t = arg;
  const struct loom_graph *parent = t->run->g;
  switch (child->status) {
  case LOOM_RUN_SUCCESS:
    loom_task_done(t, child_writes(parent, t->view, child->values));
    break;
  case LOOM_RUN_INTERRUPTED: {
    json_t *first = json_array_get(child->interrupts, 0);
    json_t *v = first ? json_object_get(first, "value") : NULL;
    loom_task_interrupt(t, v ? json_incref(v)
                             : json_pack("{ss}", "subgraph", "paused"));
    break;
  }
  default:
    loom_task_fail(t, child->error.code ? child->error.code : LOOM_ERR_INTERNAL,
                   "subgraph: %s",
                   child->error.message[0]
                       ? child->error.message
                       : loom_run_status_name(child->status));
  }
}

static void subgraph_start(struct loom_task *t) {
  struct loom_run *r = t->run;
  const struct loom_graph *g = t->node->subgraph;
  size_t nres = loom_task_resume_count(t);
  char *ns =
      r->ns[0] ? loom_asprintf("%s|%s", r->ns, t->id) : loom_strdup(t->id);
  json_t *input = nres ? NULL : only_channels(g, t->view);
  json_t *command = nres ? json_pack("{sO}", "resume",
                                     (json_t *)loom_task_resume(t, nres - 1))
                         : NULL;
  struct loom_run_opts o = {.store = r->store,
                            .tenant = r->tenant,
                            .thread_id = r->thread_id,
                            .ns = ns,
                            .input = input,
                            .command = command,
                            .durability = r->durability,
                            .user = r->user,
                            .no_token_events = r->no_token_events,
                            .no_checkpoint_events = r->no_checkpoint_events,
                            .no_task_events = r->no_task_events,
                            .metadata = r->metadata};
  struct loom_run *child = NULL;
  struct loom_error e = {0};
  loom_err rc = loom_run_new(g, &o, &child, &e);
  json_decref(input);
  json_decref(command);
  loom_free(ns);
  if (rc) {
    loom_task_fail(t, rc, "subgraph: %s", e.message);
    return;
  }
  r->children =
      loom_realloc(r->children, (r->nchildren + 1) * sizeof(*r->children));
  r->children[r->nchildren++] = child;
  child->parent_task = t;
  child->root = r->root; /* continuations go through the top run */
  loom_run_subscribe(child, forward_cb, t);
  loom_run_on_done(child, child_done_cb, t);
  loom_run_start(child);
}

/* The parent run is cancelled: so is the child, quietly (the engine
 * fails the parent's task itself). */
static void subgraph_cancel(struct loom_task *t) {
  struct loom_run *r = t->run;
  for (size_t i = r->nchildren; i-- > 0;) {
    struct loom_run *child = r->children[i];
    if (child->parent_task != t)
      continue;
    loom_run_on_done(child, NULL, NULL);
    loom_run_cancel(child);
    break;
  }
}

const struct loom_node_kind loom_engine_subgraph_kind = {
    .name = "subgraph", .start = subgraph_start, .cancel = subgraph_cancel};
