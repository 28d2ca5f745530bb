/*
 * state — a thread's state and time travel, read from its checkpoints
 * through the engine (blocking store calls, so every handler here hands
 * its work to the pool).
 *
 *   GET  /threads/{thread_id}/state                  latest state
 *   GET  /threads/{thread_id}/state/{checkpoint_id}  state at a checkpoint
 *   POST /threads/{thread_id}/state/checkpoint       same, {checkpoint: {...}}
 *   POST /threads/{thread_id}/state                  update state (values,
 *                                                    as_node, checkpoint_id)
 *   PATCH /threads/{thread_id}/state                 merge {metadata} into
 *                                                    the latest checkpoint's
 *   GET  /threads/{thread_id}/history                newest first (limit,
 * before) POST /threads/{thread_id}/history                same, with a
 * metadata filter
 *
 * The engine's state shape is turned into LangGraph's: checkpoint and
 * parent_checkpoint as {thread_id, checkpoint_ns, checkpoint_id,
 * checkpoint_map}, tasks with their interrupts.
 */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "core/alloc.h"
#include "engine/engine.h"

static struct loom_app *the_app;

enum job_kind { JOB_STATE, JOB_HISTORY, JOB_UPDATE, JOB_PATCH, JOB_SUPERSTEPS };

struct job {
  enum job_kind kind;
  char thread_id[LOOM_ID_LEN + 1];
  struct api_graph *graph; /* NULL: the thread never ran */
  char *checkpoint_id, *before, *as_node;
  json_t *values, *metadata;
  size_t limit;
  json_t *out;
  struct loom_error e;
  loom_err err;
};

static json_t *convert_state(const char *thread_id, const json_t *s) {
  json_t *tasks = json_array();
  size_t i;
  const json_t *t;
  json_array_foreach(json_object_get(s, "tasks"), i, t) {
    json_t *ints = json_object_get(t, "interrupts");
    json_t *res = json_object_get(t, "result");
    json_array_append_new(
        tasks,
        json_pack("{s:O?, s:O?, s:n, s:o, s:n, s:n, s:O}", "id",
                  json_object_get(t, "id"), "name", json_object_get(t, "name"),
                  "error", "interrupts", api_interrupt_list(ints), "checkpoint",
                  "state", "result", res ? res : json_null()));
  }
  const json_t *md = json_object_get(s, "metadata");
  const json_t *values = json_object_get(s, "values");
  const json_t *next = json_object_get(s, "next");
  const json_t *created = json_object_get(s, "created_at");
  const json_t *ints = json_object_get(s, "interrupts");
  return json_pack(
      "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "values",
      values ? json_deep_copy(values) : json_object(), "next",
      next ? json_deep_copy(next) : json_array(), "tasks", tasks, "checkpoint",
      api_checkpoint_ref(
          thread_id, json_string_value(json_object_get(s, "checkpoint_id"))),
      "parent_checkpoint",
      api_checkpoint_ref(thread_id, json_string_value(json_object_get(
                                        s, "parent_checkpoint_id"))),
      "metadata", md ? json_deep_copy(md) : json_null(), "created_at",
      created ? json_deep_copy(created) : json_null(), "interrupts",
      api_interrupt_list(ints));
}

static json_t *empty_state(void) {
  return json_pack("{s:{}, s:[], s:[], s:n, s:n, s:n, s:n, s:[]}", "values",
                   "next", "tasks", "checkpoint", "parent_checkpoint",
                   "metadata", "created_at", "interrupts");
}

static void job_state(struct job *j) {
  json_t *raw = NULL;
  j->err = loom_engine_get_state(the_app->store, API_TENANT, j->graph->graph,
                                 j->thread_id, j->checkpoint_id, &raw, &j->e);
  if (j->err == LOOM_ERR_NOT_FOUND && !j->checkpoint_id) {
    j->err = LOOM_OK;
    j->out = empty_state();
  } else if (!j->err) {
    j->out = convert_state(j->thread_id, raw);
  }
  json_decref(raw);
}

static void job_history(struct job *j) {
  json_t *raw = NULL;
  j->err = loom_engine_history(the_app->store, API_TENANT, j->graph->graph,
                               j->thread_id, j->before,
                               j->metadata ? 0 : j->limit, &raw, &j->e);
  if (j->err == LOOM_ERR_NOT_FOUND) {
    j->err = LOOM_OK;
    j->out = json_array();
    return;
  }
  if (j->err)
    return;
  j->out = json_array();
  size_t i;
  json_t *s;
  json_array_foreach(raw, i, s) {
    if (json_array_size(j->out) >= j->limit)
      break;
    if (api_json_contains(json_object_get(s, "metadata"), j->metadata))
      json_array_append_new(j->out, convert_state(j->thread_id, s));
  }
  json_decref(raw);
}

static void job_update(struct job *j) {
  char id[LOOM_ID_LEN + 1] = "";
  j->err = loom_engine_update_state(the_app->store, API_TENANT, j->graph->graph,
                                    j->thread_id, j->checkpoint_id, j->values,
                                    j->as_node, id, &j->e);
  if (j->err)
    return;
  json_t *raw = NULL;
  if (loom_engine_get_state(the_app->store, API_TENANT, j->graph->graph,
                            j->thread_id, NULL, &raw, NULL) == LOOM_OK) {
    api_lock();
    struct api_thread *t = api_thread_find(j->thread_id);
    if (t) {
      json_decref(t->values);
      t->values = json_deep_copy(json_object_get(raw, "values"));
      json_decref(t->updated_at);
      t->updated_at = api_now();
      api_persist_thread(t);
    }
    api_unlock();
    json_decref(raw);
  }
  j->out =
      json_pack("{s:o}", "checkpoint", api_checkpoint_ref(j->thread_id, id));
}

/* PATCH state: the latest checkpoint's metadata gets the given keys (in
 * place: no new checkpoint, values untouched). */
static void job_patch(struct job *j) {
  struct loom_checkpoint *cp = NULL;
  j->err = loom_store_get_checkpoint(the_app->store, API_TENANT, j->thread_id,
                                     "", NULL, &cp, &j->e);
  if (j->err == LOOM_ERR_NOT_FOUND)
    loom_error_set(&j->e, LOOM_ERR_NOT_FOUND,
                   "thread '%s' has no state to patch yet", j->thread_id);
  if (j->err)
    return;
  if (!json_is_object(cp->metadata)) {
    json_decref(cp->metadata);
    cp->metadata = json_object();
  }
  json_object_update(cp->metadata, j->metadata);
  j->err =
      loom_store_put_checkpoint(the_app->store, API_TENANT, cp, NULL, 0, &j->e);
  loom_checkpoint_free(cp);
  if (!j->err)
    j->out = json_object();
}

/* Supersteps at thread creation: every update in order, as its node. */
static void job_supersteps(struct job *j) {
  size_t i, k;
  json_t *step, *u;
  json_array_foreach(j->values, i, step) {
    json_array_foreach(json_object_get(step, "updates"), k, u) {
      char id[LOOM_ID_LEN + 1];
      json_t *v = json_object_get(u, "values");
      j->err = loom_engine_update_state(
          the_app->store, API_TENANT, j->graph->graph, j->thread_id, NULL,
          json_is_object(v) ? v : NULL,
          json_string_value(json_object_get(u, "as_node")), id, &j->e);
      if (j->err)
        return;
    }
  }
  json_t *raw = NULL;
  if (loom_engine_get_state(the_app->store, API_TENANT, j->graph->graph,
                            j->thread_id, NULL, &raw, NULL) != LOOM_OK)
    return;
  api_lock();
  struct api_thread *t = api_thread_find(j->thread_id);
  if (t) {
    json_decref(t->values);
    t->values = json_deep_copy(json_object_get(raw, "values"));
    loom_free(t->graph_id);
    t->graph_id = loom_strdup(j->graph->id);
    api_persist_thread(t);
    j->out = api_thread_json(t);
  }
  api_unlock();
  json_decref(raw);
}

static void job_work(void *arg) {
  struct job *j = arg;
  if (j->kind == JOB_SUPERSTEPS) {
    job_supersteps(j);
    return;
  }
  if (j->kind == JOB_PATCH) {
    job_patch(j);
    return;
  }
  if (!j->graph) { /* a thread that never ran has no checkpoints */
    if (j->kind == JOB_STATE && !j->checkpoint_id)
      j->out = empty_state();
    else if (j->kind == JOB_HISTORY)
      j->out = json_array();
    else
      j->err = loom_error_set(&j->e, LOOM_ERR_INVALID,
                              j->kind == JOB_UPDATE
                                  ? "thread has no graph yet: run it once or "
                                    "create it with metadata.graph_id"
                                  : "checkpoint '%s' not found",
                              j->checkpoint_id);
    return;
  }
  if (j->kind == JOB_STATE)
    job_state(j);
  else if (j->kind == JOB_HISTORY)
    job_history(j);
  else
    job_update(j);
}

static void job_free(struct job *j) {
  api_graph_release(j->graph);
  loom_free(j->checkpoint_id);
  loom_free(j->before);
  loom_free(j->as_node);
  json_decref(j->values);
  json_decref(j->metadata);
  json_decref(j->out);
  loom_free(j);
}

static void job_done(struct loom_http_req *req, void *arg) {
  struct job *j = arg;
  if (req && j->err) {
    api_fail_err(req, &j->e);
  } else if (req) {
    loom_http_respond_json(req, 200, j->out);
    j->out = NULL;
  }
  job_free(j);
}

/* A job for the path's thread, or NULL answered (404, or 409 busy). */
static struct job *new_job(struct loom_http_req *req, enum job_kind kind) {
  const char *id = loom_http_param(req, "thread_id");
  api_lock();
  struct api_thread *t = api_thread_find(id);
  char *graph_id = t && t->graph_id ? loom_strdup(t->graph_id) : NULL;
  bool busy = t && t->active;
  api_unlock();
  if (!t) {
    api_not_found(req, "thread", id);
    return NULL;
  }
  if ((kind == JOB_UPDATE || kind == JOB_PATCH) && busy) {
    loom_free(graph_id);
    api_fail(req, 409, "conflict",
             "thread '%s' has a run in progress; update its state after", id);
    return NULL;
  }
  struct job *j = LOOM_NEW(struct job);
  j->kind = kind;
  snprintf(j->thread_id, sizeof j->thread_id, "%s", id);
  j->graph = graph_id ? api_graph_get(graph_id) : NULL;
  loom_free(graph_id);
  j->limit = 10;
  return j;
}

void api_thread_supersteps(struct loom_http_req *req, const char *thread_id,
                           struct api_graph *g, const json_t *steps) {
  struct job *j = LOOM_NEW(struct job);
  j->kind = JOB_SUPERSTEPS;
  snprintf(j->thread_id, sizeof j->thread_id, "%s", thread_id);
  j->graph = g;
  j->values = json_deep_copy(steps);
  api_offload(req, job_work, job_done, j);
}

static void get_state_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  struct job *j = new_job(req, JOB_STATE);
  if (!j)
    return;
  const char *cp = loom_http_param(req, "checkpoint_id");
  j->checkpoint_id = cp ? loom_strdup(cp) : NULL;
  api_offload(req, job_work, job_done, j);
}

/* `checkpoint` may be {checkpoint_id} or a config {configurable: {...}}. */
static const char *checkpoint_of(const json_t *body) {
  const json_t *cp = json_object_get(body, "checkpoint");
  const json_t *conf = json_object_get(cp, "configurable");
  const char *id = json_string_value(json_object_get(cp, "checkpoint_id"));
  if (!id)
    id = json_string_value(json_object_get(conf, "checkpoint_id"));
  if (!id)
    id = json_string_value(json_object_get(body, "checkpoint_id"));
  return id;
}

static void post_state_checkpoint_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *body = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  json_t *cp = NULL;
  struct loom_error e = {0};
  if (api_opt_object(body, "checkpoint", &cp, &e) ||
      (!checkpoint_of(body) &&
       api_invalid(&e, "checkpoint", "must hold a checkpoint_id"))) {
    api_fail_err(req, &e);
    json_decref(body);
    return;
  }
  struct job *j = new_job(req, JOB_STATE);
  if (j) {
    j->checkpoint_id = loom_strdup(checkpoint_of(body));
    api_offload(req, job_work, job_done, j);
  }
  json_decref(body);
}

static void update_state_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *body = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  const char *as_node = NULL, *cpid = NULL;
  json_t *cp = NULL;
  struct loom_error e = {0};
  const json_t *values = json_object_get(body, "values");
  if (api_opt_string(body, "as_node", &as_node, &e) ||
      api_opt_string(body, "checkpoint_id", &cpid, &e) ||
      api_opt_object(body, "checkpoint", &cp, &e) ||
      (values && !json_is_null(values) && !json_is_object(values) &&
       !json_is_array(values) &&
       api_invalid(&e, "values", "must be an object"))) {
    api_fail_err(req, &e);
    json_decref(body);
    return;
  }
  struct job *j = new_job(req, JOB_UPDATE);
  if (j) {
    j->values = values && !json_is_null(values) ? json_deep_copy(values)
                                                : json_object();
    j->as_node = as_node ? loom_strdup(as_node) : NULL;
    j->checkpoint_id =
        checkpoint_of(body) ? loom_strdup(checkpoint_of(body)) : NULL;
    if (j->graph && as_node && !loom_graph_node(j->graph->graph, as_node)) {
      api_fail(req, 422, "invalid_request",
               "as_node: graph '%s' has no node '%s'", j->graph->id, as_node);
      job_free(j);
    } else {
      api_offload(req, job_work, job_done, j);
    }
  }
  json_decref(body);
}

static void patch_state_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *body = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  json_t *md = NULL;
  struct loom_error e = {0};
  if (api_opt_object(body, "metadata", &md, &e) ||
      (!md && api_invalid(&e, "metadata", "is required"))) {
    api_fail_err(req, &e);
    json_decref(body);
    return;
  }
  struct job *j = new_job(req, JOB_PATCH);
  if (j) {
    j->metadata = json_deep_copy(md);
    api_offload(req, job_work, job_done, j);
  }
  json_decref(body);
}

static void history_get_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  long long limit;
  struct loom_error e = {0};
  if (api_query_int(req, "limit", 10, 1, 10000, &limit, &e)) {
    api_fail_err(req, &e);
    return;
  }
  struct job *j = new_job(req, JOB_HISTORY);
  if (!j)
    return;
  const char *before = loom_http_query(req, "before");
  j->before = before && *before ? loom_strdup(before) : NULL;
  j->limit = (size_t)limit;
  api_offload(req, job_work, job_done, j);
}

static void history_post_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *body = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  long long limit = 10;
  json_t *md = NULL;
  const json_t *before = json_object_get(body, "before");
  struct loom_error e = {0};
  if (api_opt_int(body, "limit", 1, 10000, &limit, &e) ||
      api_opt_object(body, "metadata", &md, &e) ||
      (before && !json_is_null(before) && !json_is_string(before) &&
       !json_is_object(before) &&
       api_invalid(&e, "before", "must be a checkpoint id or config"))) {
    api_fail_err(req, &e);
    json_decref(body);
    return;
  }
  struct job *j = new_job(req, JOB_HISTORY);
  if (j) {
    j->limit = (size_t)limit;
    j->metadata = md ? json_deep_copy(md) : NULL;
    const char *b = json_string_value(before);
    if (json_is_object(before)) {
      json_t *wrap = json_pack("{s:O}", "checkpoint", before);
      b = checkpoint_of(wrap);
      j->before = b ? loom_strdup(b) : NULL;
      json_decref(wrap);
    } else {
      j->before = b ? loom_strdup(b) : NULL;
    }
    api_offload(req, job_work, job_done, j);
  }
  json_decref(body);
}

loom_err api_state_routes(struct loom_http_router *r, struct loom_app *app,
                          struct loom_error *e) {
  the_app = app;
  static const struct loom_http_route routes[] = {
      {"GET", "/threads/{thread_id}/state", get_state_cb},
      {"POST", "/threads/{thread_id}/state", update_state_cb},
      {"PATCH", "/threads/{thread_id}/state", patch_state_cb},
      {"POST", "/threads/{thread_id}/state/checkpoint",
       post_state_checkpoint_cb},
      {"GET", "/threads/{thread_id}/state/{checkpoint_id}", get_state_cb},
      {"GET", "/threads/{thread_id}/history", history_get_cb},
      {"POST", "/threads/{thread_id}/history", history_post_cb},
  };
  return LOOM_HTTP_ROUTES_ADD(r, routes, app, e);
}
