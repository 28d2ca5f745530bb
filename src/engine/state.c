/*
 * state — reading a thread's state and travelling in its history:
 * get_state, history, update_state (as a node), fork.
 *
 * These are blocking store calls outside any run. update_state borrows a
 * run's machinery (reducers, edges, save) on a run that never executes a
 * step, so an update goes through exactly the code a node's write does.
 */
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "engine/internal.h"

json_t *loom_engine_next_names(const json_t *next) {
  json_t *names = json_array();
  size_t i;
  json_t *t;
  json_array_foreach(next, i, t) {
    json_array_append(names, json_object_get(t, "node"));
  }
  return names;
}

json_t *loom_engine_next_tasks(const json_t *next, const json_t *pending,
                               json_t *all_interrupts) {
  json_t *tasks = json_array();
  size_t i;
  json_t *t;
  json_array_foreach(next, i, t) {
    const char *name = json_string_value(json_object_get(t, "node"));
    size_t same = 0;
    for (size_t j = 0; j < i; j++)
      same += !strcmp(name, json_string_value(json_object_get(
                                json_array_get(next, j), "node")));
    char id[160];
    snprintf(id, sizeof(id), "%s:%zu", name, same);
    json_t *ints = json_array();
    size_t k;
    json_t *w;
    json_array_foreach(pending, k, w) {
      const char *tid = json_string_value(json_object_get(w, "task_id"));
      const char *ch = json_string_value(json_object_get(w, "channel"));
      if (!tid || strcmp(ch ?: "", W_INTERRUPT) ||
          strncmp(tid, id, strlen(id)) ||
          strncmp(tid + strlen(id), "#interrupt:", 11))
        continue;
      char *answer = loom_asprintf("%s#resume:%s", id, tid + strlen(id) + 11);
      bool answered = false;
      size_t m;
      json_t *x;
      json_array_foreach(pending, m, x) {
        answered |= !strcmp(
            json_string_value(json_object_get(x, "task_id")) ?: "", answer);
      }
      loom_free(answer);
      if (!answered) {
        json_array_append(ints, json_object_get(w, "value"));
        if (all_interrupts)
          json_array_append(all_interrupts, json_object_get(w, "value"));
      }
    }
    json_array_append_new(
        tasks,
        json_pack("{sssssoso}", "id", id, "name", name, "interrupts", ints,
                  "item",
                  json_incref(json_object_get(t, "item")) ?: json_null()));
  }
  return tasks;
}

/* LangGraph's task result: the writes a task finished with at this
 * checkpoint (kept as its pending writes: it finished while a sibling
 * interrupted or failed), {} for one that wrote nothing, null for one not
 * run yet. */
static void add_results(json_t *tasks, const json_t *pending) {
  size_t i, k;
  json_t *t, *w;
  json_array_foreach(tasks, i, t) {
    const char *id = json_string_value(json_object_get(t, "id"));
    json_t *result = NULL;
    json_array_foreach(pending, k, w) {
      const char *tid = json_string_value(json_object_get(w, "task_id"));
      const char *ch = json_string_value(json_object_get(w, "channel"));
      if (!id || !tid || !ch || strcmp(tid, id))
        continue;
      if (!result)
        result = json_object();
      if (strncmp(ch, "__", 2))
        json_object_set(result, ch, json_object_get(w, "value"));
    }
    json_object_set_new(t, "result", result ? result : json_null());
  }
}

static json_t *snapshot(const struct loom_graph *g,
                        const struct loom_checkpoint *cp) {
  json_t *values = g ? loom_engine_initial_values(g) : json_object();
  if (cp->values)
    json_object_update(values, cp->values);
  json_t *next_spec = json_object_get(cp->checkpoint, "next");
  json_t *next = loom_engine_next_names(next_spec);
  json_t *interrupts = json_array();
  json_t *tasks =
      loom_engine_next_tasks(next_spec, cp->pending_writes, interrupts);
  add_results(tasks, cp->pending_writes);
  json_t *out = json_object();
  json_object_set_new(out, "values", values);
  json_object_set_new(out, "next", next);
  json_object_set_new(out, "tasks", tasks);
  json_object_set_new(out, "interrupts", interrupts);
  json_object_set_new(
      out, "checkpoint",
      json_pack("{sssssssO}", "thread_id", cp->thread_id, "checkpoint_ns",
                cp->ns ? cp->ns : "", "checkpoint_id", cp->id,
                "channel_versions",
                json_object_get(cp->checkpoint, "channel_versions")));
  json_object_set_new(out, "checkpoint_id", json_string(cp->id));
  json_object_set_new(out, "parent_checkpoint_id",
                      cp->parent_id ? json_string(cp->parent_id) : json_null());
  json_object_set(out, "metadata", cp->metadata ? cp->metadata : json_null());
  json_t *ts = json_object_get(cp->checkpoint, "ts");
  json_object_set(out, "created_at", ts ? ts : json_null());
  return out;
}

loom_err loom_engine_get_state(struct loom_store *store, const char *tenant,
                               const struct loom_graph *g,
                               const char *thread_id, const char *checkpoint_id,
                               json_t **out, struct loom_error *e) {
  struct loom_checkpoint *cp = NULL;
  loom_err rc = store->ops->get_checkpoint(
      store, tenant ? tenant : "default", thread_id, "", checkpoint_id, &cp, e);
  if (rc)
    return rc;
  *out = snapshot(g, cp);
  loom_checkpoint_free(cp);
  return LOOM_OK;
}

struct history {
  json_t *ids;
};

static bool collect_cb(const struct loom_checkpoint *cp, void *arg) {
  struct history *h = arg;
  json_array_append_new(h->ids, json_string(cp->id));
  return true;
}

loom_err loom_engine_history(struct loom_store *store, const char *tenant,
                             const struct loom_graph *g, const char *thread_id,
                             const char *before_id, size_t limit, json_t **out,
                             struct loom_error *e) {
  tenant = tenant ? tenant : "default";
  struct history h = {json_array()};
  struct loom_checkpoint_query q = {
      .thread_id = thread_id, .ns = "", .before_id = before_id, .limit = limit};
  loom_err rc =
      store->ops->list_checkpoints(store, tenant, &q, collect_cb, &h, e);
  json_t *list = json_array();
  size_t i;
  json_t *id;
  json_array_foreach(h.ids, i, id) {
    json_t *st = NULL;
    if (rc || (rc = loom_engine_get_state(store, tenant, g, thread_id,
                                          json_string_value(id), &st, e)))
      break;
    json_array_append_new(list, st);
  }
  json_decref(h.ids);
  if (rc) {
    json_decref(list);
    return rc;
  }
  *out = list;
  return LOOM_OK;
}

/* The node whose writes made this checkpoint, when there was one. */
static const char *last_writer(const struct loom_run *r, const json_t *meta) {
  const json_t *writes = json_object_get(meta, "writes");
  if (json_object_size(writes) != 1)
    return NULL;
  const char *k = json_object_iter_key(json_object_iter((json_t *)writes));
  return loom_graph_node(r->g, k) ? k : NULL;
}

static loom_err update_on(struct loom_run *r, const json_t *values,
                          const char *as_node, struct loom_error *e) {
  loom_err rc = loom_engine_load(r, e);
  if (rc == LOOM_ERR_NOT_FOUND && !r->from_checkpoint)
    rc = LOOM_OK; /* a new thread: update the defaults */
  if (rc)
    return rc;
  if (as_node && strcmp(as_node, LOOM_GRAPH_START) &&
      !loom_graph_node(r->g, as_node))
    return loom_error_set(e, LOOM_ERR_INVALID, "as_node: unknown node '%s'",
                          as_node);
  if (!json_is_object(values))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "values must be an object of channel values");
  if ((rc = loom_engine_apply_writes(r, as_node, values, NULL, e)))
    return rc;
  json_array_clear(r->next);
  if ((rc = loom_engine_successors(r, as_node, r->values, r->next, e)))
    return rc;
  r->step++;
  json_t *w = json_pack("{sO}", as_node, values);
  rc = loom_engine_save(r, "update", loom_engine_written(w), e);
  json_decref(w);
  return rc;
}

static const char *pick_as_node(struct loom_store *store, const char *tenant,
                                struct loom_run *r, const char *thread_id,
                                const char *checkpoint_id) {
  struct loom_checkpoint *cp = NULL;
  struct loom_error ignore = {0};
  const char *name = LOOM_GRAPH_START;
  if (!store->ops->get_checkpoint(store, tenant, thread_id, "", checkpoint_id,
                                  &cp, &ignore)) {
    const char *w = last_writer(r, cp->metadata);
    if (w)
      name = loom_graph_node(r->g, w)->name;
  }
  loom_checkpoint_free(cp);
  return name;
}

loom_err loom_engine_update_state(
    struct loom_store *store, const char *tenant, const struct loom_graph *g,
    const char *thread_id, const char *checkpoint_id, const json_t *values,
    const char *as_node, char out_id[LOOM_ID_LEN + 1], struct loom_error *e) {
  struct loom_run_opts o = {.store = store,
                            .tenant = tenant,
                            .thread_id = thread_id,
                            .checkpoint_id = checkpoint_id};
  struct loom_run *r = NULL;
  loom_err rc = loom_run_new(g, &o, &r, e);
  if (rc)
    return rc;
  if (!as_node)
    as_node = pick_as_node(store, r->tenant, r, thread_id, checkpoint_id);
  rc = update_on(r, values, as_node, e);
  if (!rc)
    snprintf(out_id, LOOM_ID_LEN + 1, "%s", r->checkpoint_id);
  loom_run_free(r);
  return rc;
}

loom_err loom_engine_fork(struct loom_store *store, const char *tenant,
                          const char *thread_id, const char *checkpoint_id,
                          char out_id[LOOM_ID_LEN + 1], struct loom_error *e) {
  tenant = tenant ? tenant : "default";
  struct loom_checkpoint *cp = NULL;
  loom_err rc = store->ops->get_checkpoint(store, tenant, thread_id, "",
                                           checkpoint_id, &cp, e);
  if (rc)
    return rc;
  char id[LOOM_ID_LEN + 1], ts[33];
  loom_id_new(id);
  json_t *ckpt = json_deep_copy(cp->checkpoint);
  json_object_set_new(ckpt, "id", json_string(id));
  json_object_set_new(
      ckpt, "ts", json_string(loom_clock_format_iso(loom_clock_wall_ms(), ts)));
  json_t *meta = json_pack("{sssOsnso}", "source", "fork", "step",
                           json_object_get(cp->metadata, "step") ?: json_null(),
                           "writes", "parents", json_object());
  struct loom_checkpoint fork = {.thread_id = cp->thread_id,
                                 .ns = cp->ns,
                                 .id = id,
                                 .parent_id = cp->id,
                                 .checkpoint = ckpt,
                                 .metadata = meta};
  rc = store->ops->put_checkpoint(store, tenant, &fork, NULL, 0, e);
  json_decref(ckpt);
  json_decref(meta);
  loom_checkpoint_free(cp);
  if (!rc)
    snprintf(out_id, LOOM_ID_LEN + 1, "%s", id);
  return rc;
}
