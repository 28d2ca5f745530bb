/*
 * threads — LangGraph threads: a conversation's identity, metadata and
 * status (idle, busy, interrupted, error); its state lives in checkpoints
 * (state.c).
 *
 *   POST   /threads                  create (thread_id, metadata, if_exists)
 *   GET    /threads/{thread_id}      get
 *   PATCH  /threads/{thread_id}      merge metadata
 *   DELETE /threads/{thread_id}      delete (with its checkpoints and runs)
 *   POST   /threads/search           metadata, ids, status, values; sort; page
 *   POST   /threads/count            count matches
 *   POST   /threads/{thread_id}/copy a new thread with the same checkpoints
 *   POST   /threads/prune            delete many threads (strategy "delete")
 */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "core/alloc.h"
#include "core/log.h"

static struct loom_app *the_app;

/* The thread of the path as JSON, or NULL answered with 404. */
static json_t *path_thread_json(struct loom_http_req *req) {
  const char *id = loom_http_param(req, "thread_id");
  api_lock();
  struct api_thread *t = api_thread_find(id);
  json_t *out = t ? api_thread_json(t) : NULL;
  api_unlock();
  if (!out)
    api_not_found(req, "thread", id);
  return out;
}

/* Validates supersteps ([{updates: [{values, as_node}]}]) and returns the
 * graph they apply to (metadata.graph_id), or NULL after answering 422. */
static struct api_graph *supersteps_graph(struct loom_http_req *req,
                                          const json_t *md,
                                          const json_t *steps) {
  size_t i, j;
  const json_t *step, *u;
  json_array_foreach(steps, i, step) {
    const json_t *updates = json_object_get(step, "updates");
    if (!json_is_array(updates)) {
      api_fail(req, 422, "invalid_request",
               "supersteps[%zu].updates: must be a list", i);
      return NULL;
    }
    json_array_foreach(updates, j, u) {
      const json_t *v = json_object_get(u, "values");
      const json_t *cmd = json_object_get(u, "command");
      if (!json_is_object(u) || (v && !json_is_null(v) && !json_is_object(v)) ||
          (cmd && !json_is_null(cmd)) ||
          !json_is_string(json_object_get(u, "as_node"))) {
        api_fail(req, 422, "invalid_request",
                 "supersteps[%zu].updates[%zu]: needs as_node (a string) and "
                 "values (an object); command is not supported",
                 i, j);
        return NULL;
      }
    }
  }
  const char *gid = json_string_value(json_object_get(md, "graph_id"));
  struct api_graph *g = gid ? api_graph_get(gid) : NULL;
  if (!g)
    api_fail(req, gid ? 404 : 422, gid ? "not_found" : "invalid_request",
             gid ? "graph '%s' not found"
                 : "supersteps: metadata.graph_id must name the graph%s",
             gid ? gid : "");
  return g;
}

/* A created thread's answer, sent once its row is in the store: a thread
 * a client was told about survives a crash. */
struct saved_reply {
  struct loom_http_req *req;
  char id[LOOM_ID_LEN + 1];
  json_t *reply;
  bool aborted; /* the server gave up on the request */
};

static void saved_abort_cb(struct loom_http_req *req, void *arg) {
  (void)req;
  ((struct saved_reply *)arg)->aborted = true; /* freed by thread_saved_cb */
}

static void thread_saved_cb(void *arg, loom_err err) {
  struct saved_reply *sr = arg;
  bool gone = err == LOOM_ERR_UNAVAILABLE || sr->aborted;
  if (err && err != LOOM_ERR_UNAVAILABLE) { /* nobody hears of it */
    api_lock();
    struct api_thread *t = api_thread_find(sr->id);
    if (t && !t->nruns)
      api_thread_remove(t);
    api_unlock();
  }
  if (!gone && err) {
    api_fail(sr->req, 500, "internal", "the thread could not be stored");
  } else if (!gone) {
    loom_http_respond_json(sr->req, 200, sr->reply);
    sr->reply = NULL;
  }
  json_decref(sr->reply);
  loom_free(sr);
}

/* Lock held. Queues the thread's row and answers `reply` (stolen) once it
 * is written. */
static void reply_when_saved_locked(struct loom_http_req *req,
                                    const struct api_thread *t, json_t *reply) {
  struct saved_reply *sr = LOOM_NEW(struct saved_reply);
  *sr = (struct saved_reply){.req = req, .reply = reply};
  snprintf(sr->id, sizeof sr->id, "%s", t->id);
  struct api_persist_ack ack = {loom_http_loop(req), thread_saved_cb, sr};
  loom_http_suspend(req);
  loom_http_on_abort(req, saved_abort_cb, sr);
  api_persist_thread_ack(t, &ack);
}

/* Reads POST /threads' fields into *id, *if_exists and *md (borrowed
 * from body); false with `e` set when one is wrong. */
static bool create_fields(const json_t *body, const char **id,
                          const char **if_exists, json_t **md,
                          struct loom_error *e) {
  static const char *const choices[] = {"raise", "do_nothing", NULL};
  const json_t *steps = json_object_get(body, "supersteps");
  return !(api_opt_string(body, "thread_id", id, e) ||
           api_opt_object(body, "metadata", md, e) ||
           api_opt_enum(body, "if_exists", choices, if_exists, e) ||
           (*id && !loom_id_is_uuid(*id) &&
            api_invalid(e, "thread_id", "must be a UUID")) ||
           (steps && !json_is_null(steps) && !json_is_array(steps) &&
            api_invalid(e, "supersteps", "must be a list")));
}

/* Adds the thread `id` (NULL: a new id) with a copy of `md` as its
 * metadata and its graph_id taken from there. Lock held. */
static struct api_thread *add_thread_locked(const char *id, const json_t *md) {
  struct api_thread *t = api_thread_add(id, md ? json_deep_copy(md) : NULL);
  /* The SDK sends {"graph_id": undefined} as metadata; drop nulls. */
  json_t *gid = json_object_get(t->metadata, "graph_id");
  if (gid && json_is_null(gid))
    json_object_del(t->metadata, "graph_id");
  else if (json_is_string(gid))
    t->graph_id = loom_strdup(json_string_value(gid));
  return t;
}

/* A new thread is answered once its row is stored; with supersteps, once
 * they are applied too (api_thread_supersteps). An existing one is a 409,
 * or with if_exists "do_nothing" answered as it is. */
static void create_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *body = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  const char *id = NULL, *ie = NULL;
  json_t *md = NULL, *steps = NULL;
  struct loom_error e = {0};
  if (!create_fields(body, &id, &ie, &md, &e)) {
    api_fail_err(req, &e);
    goto out;
  }
  steps = json_object_get(body, "supersteps");
  struct api_graph *g = NULL;
  if (json_array_size(steps) && !(g = supersteps_graph(req, md, steps)))
    goto out;
  api_lock();
  struct api_thread *t = api_thread_find(id);
  json_t *reply = NULL;
  unsigned status = 200;
  bool created = false;
  if (t && !(ie && !strcmp(ie, "do_nothing"))) {
    status = 409;
  } else if (!t) {
    created = true;
    t = add_thread_locked(id, md);
    if (g) /* answered after the supersteps, which follow this write */
      api_persist_thread(t);
  }
  if (status == 200)
    reply = api_thread_json(t);
  if (created && !g) {
    reply_when_saved_locked(req, t, reply);
    reply = NULL;
  }
  char tid[LOOM_ID_LEN + 1];
  snprintf(tid, sizeof tid, "%s", t ? t->id : "");
  api_unlock();
  if (status == 409) {
    api_fail(req, 409, "conflict", "thread '%s' already exists", id);
    api_graph_release(g);
  } else if (g && created) {
    json_decref(reply);
    api_thread_supersteps(req, tid, g, steps); /* takes g */
  } else if (!created) {
    api_graph_release(g);
    loom_http_respond_json(req, 200, reply);
  }
out:
  json_decref(body);
}

static void get_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *out = path_thread_json(req);
  if (out)
    loom_http_respond_json(req, 200, out);
}

static void patch_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *body = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  json_t *md = NULL;
  struct loom_error e = {0};
  if (api_opt_object(body, "metadata", &md, &e)) {
    api_fail_err(req, &e);
    json_decref(body);
    return;
  }
  const char *id = loom_http_param(req, "thread_id");
  api_lock();
  struct api_thread *t = api_thread_find(id);
  json_t *out = NULL;
  if (t) {
    if (md)
      json_object_update(t->metadata, md);
    json_decref(t->updated_at);
    t->updated_at = api_now();
    out = api_thread_json(t);
    api_persist_thread(t);
  }
  api_unlock();
  json_decref(body);
  if (!out)
    api_not_found(req, "thread", id);
  else
    loom_http_respond_json(req, 200, out);
}

/* ---- delete: the checkpoints go on the pool ---- */

struct del {
  char id[LOOM_ID_LEN + 1];
  struct loom_error e;
  loom_err err;
};

static bool drop_run_each(struct api_run *r, void *arg) {
  if (!strcmp(r->thread_id, arg)) {
    api_executor_cancel(r, false);
    if (api_run_finished(r->status))
      api_run_remove(r);
  }
  return true;
}

static void del_work(void *arg) {
  struct del *d = arg;
  d->err = loom_store_delete_thread_checkpoints(the_app->store, API_TENANT,
                                                d->id, &d->e);
}

static void del_done(struct loom_http_req *req, void *arg) {
  struct del *d = arg;
  if (req && d->err)
    api_fail_err(req, &d->e);
  else if (req)
    loom_http_respond_raw(req, 204, NULL, "", 0);
  loom_free(d);
}

/* Removes a thread's row and runs (its checkpoints are the caller's to
 * delete). A thread with a run in progress goes when that run ends. Lock
 * held. */
static void forget_thread_locked(struct api_thread *t) {
  api_persist_thread_delete(t->id);
  /* From a copy of the list: removing a run edits it. */
  size_t n = t->nruns;
  struct api_run **copy = loom_malloc((n ? n : 1) * sizeof *copy);
  if (n)
    memcpy(copy, t->runs, n * sizeof *copy);
  for (size_t i = 0; i < n; i++)
    drop_run_each(copy[i], t->id);
  loom_free(copy);
  if (t->active) { /* removed when its run ends; nothing more stored */
    t->temporary = true;
    t->memory_only = true;
  } else
    api_thread_remove(t);
}

static void delete_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  const char *id = loom_http_param(req, "thread_id");
  api_lock();
  struct api_thread *t = api_thread_find(id);
  if (t)
    forget_thread_locked(t);
  api_unlock();
  if (!t) {
    api_not_found(req, "thread", id);
    return;
  }
  struct del *d = LOOM_NEW(struct del);
  snprintf(d->id, sizeof d->id, "%s", id);
  api_offload(req, del_work, del_done, d);
}

/* ---- prune: delete many threads ---- */

struct prune {
  json_t *ids; /* the threads that existed */
};

static void prune_work(void *arg) {
  struct prune *p = arg;
  size_t i;
  json_t *id;
  json_array_foreach(p->ids, i, id) {
    (void)loom_store_delete_thread_checkpoints(the_app->store, API_TENANT,
                                               json_string_value(id), NULL);
  }
}

static void prune_done(struct loom_http_req *req, void *arg) {
  struct prune *p = arg;
  if (req)
    loom_http_respond_json(
        req, 200,
        json_pack("{s:i}", "pruned_count", (int)json_array_size(p->ids)));
  json_decref(p->ids);
  loom_free(p);
}

static void prune_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *body = NULL, *ids = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  static const char *const strategies[] = {"delete", "keep_latest", NULL};
  const char *strategy = NULL;
  struct loom_error e = {0};
  if (api_opt_strings(body, "thread_ids", &ids, &e) ||
      (!ids && api_invalid(&e, "thread_ids", "is required")) ||
      api_opt_enum(body, "strategy", strategies, &strategy, &e) ||
      (strategy && !strcmp(strategy, "keep_latest") &&
       api_invalid(&e, "strategy", "'keep_latest' is not supported yet"))) {
    api_fail_err(req, &e);
    json_decref(ids);
    json_decref(body);
    return;
  }
  struct prune *p = LOOM_NEW(struct prune);
  p->ids = json_array();
  api_lock();
  size_t i;
  json_t *id;
  json_array_foreach(ids, i, id) {
    struct api_thread *t = api_thread_find(json_string_value(id));
    if (t && !t->temporary) {
      json_array_append(p->ids, id);
      forget_thread_locked(t);
    }
  }
  api_unlock();
  json_decref(ids);
  json_decref(body);
  api_offload(req, prune_work, prune_done, p);
}

/* ---- search and count ---- */

struct search {
  const json_t *metadata, *values, *ids;
  const char *status, *sort_by, *sort_order;
  json_t *hits;
};

static bool search_each(struct api_thread *t, void *arg) {
  struct search *s = arg;
  if (t->temporary)
    return true;
  if (s->status && strcmp(s->status, t->status))
    return true;
  if (!api_json_contains(t->metadata, s->metadata))
    return true;
  if (s->values && !api_json_contains(t->values, s->values))
    return true;
  if (s->ids) {
    bool hit = false;
    size_t i;
    const json_t *id;
    json_array_foreach(s->ids, i, id) {
      hit = hit || !strcmp(json_string_value(id), t->id);
    }
    if (!hit)
      return true;
  }
  json_array_append_new(s->hits, api_thread_json(t));
  return true;
}

static loom_err read_search(const json_t *body, struct search *s, json_t **ids,
                            struct loom_error *e) {
  static const char *const statuses[] = {"idle", "busy", "interrupted", "error",
                                         NULL};
  static const char *const sort_by[] = {"thread_id", "status", "created_at",
                                        "updated_at", NULL};
  static const char *const order[] = {"asc", "desc", NULL};
  json_t *md = NULL, *values = NULL;
  loom_err err = api_opt_object(body, "metadata", &md, e);
  if (!err)
    err = api_opt_object(body, "values", &values, e);
  if (!err)
    err = api_opt_enum(body, "status", statuses, &s->status, e);
  if (!err)
    err = api_opt_enum(body, "sort_by", sort_by, &s->sort_by, e);
  if (!err)
    err = api_opt_enum(body, "sort_order", order, &s->sort_order, e);
  if (!err)
    err = api_opt_strings(body, "ids", ids, e);
  s->metadata = md;
  s->values = values;
  s->ids = *ids;
  return err;
}

/* What a search sorts by; passed to qsort_r, as loop threads may sort at
 * the same time. */
struct sort_by {
  const char *key;
  bool desc;
};

static int compare(const void *a, const void *b, void *arg) {
  const struct sort_by *by = arg;
  const char *x =
      json_string_value(json_object_get(*(json_t *const *)a, by->key));
  const char *y =
      json_string_value(json_object_get(*(json_t *const *)b, by->key));
  int c = strcmp(x ? x : "", y ? y : "");
  return by->desc ? -c : c;
}

static void search_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *body = NULL, *ids = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  struct search s = {0};
  long long limit = 10, offset = 0;
  struct loom_error e = {0};
  if (read_search(body, &s, &ids, &e) ||
      api_opt_int(body, "limit", 1, 1000, &limit, &e) ||
      api_opt_int(body, "offset", 0, 1000000000, &offset, &e)) {
    api_fail_err(req, &e);
    goto out;
  }
  s.hits = json_array();
  api_lock();
  api_threads_each(search_each, &s);
  size_t n = json_array_size(s.hits);
  json_t **v = loom_malloc((n ? n : 1) * sizeof *v);
  for (size_t i = 0; i < n; i++)
    v[i] = json_array_get(s.hits, i);
  struct sort_by by = {s.sort_by ? s.sort_by : "created_at",
                       !s.sort_order || !strcmp(s.sort_order, "desc")};
  qsort_r(v, n, sizeof *v, compare, &by);
  json_t *page = json_array();
  for (size_t i = (size_t)offset;
       i < n && json_array_size(page) < (size_t)limit; i++)
    json_array_append(page, v[i]);
  api_unlock();
  loom_free(v);
  json_decref(s.hits);
  loom_http_respond_json(req, 200, page);
out:
  json_decref(ids);
  json_decref(body);
}

static void count_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *body = NULL, *ids = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  struct search s = {0};
  struct loom_error e = {0};
  if (read_search(body, &s, &ids, &e)) {
    api_fail_err(req, &e);
  } else {
    s.hits = json_array();
    api_lock();
    api_threads_each(search_each, &s);
    api_unlock();
    loom_http_respond_json(req, 200,
                           json_integer((json_int_t)json_array_size(s.hits)));
    json_decref(s.hits);
  }
  json_decref(ids);
  json_decref(body);
}

/* ---- copy: every checkpoint of the thread, oldest first ---- */

struct copy {
  char from[LOOM_ID_LEN + 1], to[LOOM_ID_LEN + 1];
  json_t *ids; /* checkpoint ids, newest first */
  struct loom_error e;
  loom_err err;
};

static bool collect_cb(const struct loom_checkpoint *cp, void *arg) {
  json_array_append_new(((struct copy *)arg)->ids, json_string(cp->id));
  return true;
}

static loom_err copy_one(struct copy *c, const char *id) {
  struct loom_checkpoint *cp = NULL;
  loom_err err = loom_store_get_checkpoint(the_app->store, API_TENANT, c->from,
                                           "", id, &cp, &c->e);
  if (err)
    return err;
  const json_t *versions = json_object_get(cp->checkpoint, "channel_versions");
  size_t n = json_object_size(cp->values), i = 0;
  struct loom_blob *blobs = loom_calloc(n ? n : 1, sizeof *blobs);
  const char *k;
  json_t *v;
  json_object_foreach(cp->values, k, v) {
    const char *ver = json_string_value(json_object_get(versions, k));
    if (ver)
      blobs[i++] = (struct loom_blob){k, ver, v};
  }
  loom_free(cp->thread_id);
  cp->thread_id = loom_strdup(c->to);
  err = loom_store_put_checkpoint(the_app->store, API_TENANT, cp, blobs, i,
                                  &c->e);
  loom_free(blobs);
  loom_checkpoint_free(cp);
  return err;
}

static void copy_work(void *arg) {
  struct copy *c = arg;
  struct loom_checkpoint_query q = {.thread_id = c->from};
  c->ids = json_array();
  c->err = loom_store_list_checkpoints(the_app->store, API_TENANT, &q,
                                       collect_cb, c, &c->e);
  for (size_t i = json_array_size(c->ids); !c->err && i-- > 0;)
    c->err = copy_one(c, json_string_value(json_array_get(c->ids, i)));
}

static void copy_done(struct loom_http_req *req, void *arg) {
  struct copy *c = arg;
  if (req && c->err) {
    api_fail_err(req, &c->e);
  } else if (req) {
    api_lock();
    struct api_thread *t = api_thread_find(c->to);
    json_t *out = t ? api_thread_json(t) : json_null();
    api_unlock();
    loom_http_respond_json(req, 200, out);
  }
  json_decref(c->ids);
  loom_free(c);
}

static void copy_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  const char *id = loom_http_param(req, "thread_id");
  struct copy *c = LOOM_NEW(struct copy);
  api_lock();
  struct api_thread *t = api_thread_find(id);
  if (t) {
    struct api_thread *n = api_thread_add(NULL, json_deep_copy(t->metadata));
    n->values = t->values ? json_deep_copy(t->values) : NULL;
    n->graph_id = t->graph_id ? loom_strdup(t->graph_id) : NULL;
    snprintf(c->from, sizeof c->from, "%s", t->id);
    snprintf(c->to, sizeof c->to, "%s", n->id);
    api_persist_thread(n);
  }
  api_unlock();
  if (!t) {
    loom_free(c);
    api_not_found(req, "thread", id);
    return;
  }
  api_offload(req, copy_work, copy_done, c);
}

loom_err api_thread_routes(struct loom_http_router *r, struct loom_app *app,
                           struct loom_error *e) {
  the_app = app;
  static const struct loom_http_route routes[] = {
      {"POST", "/threads", create_cb},
      {"POST", "/threads/search", search_cb},
      {"POST", "/threads/count", count_cb},
      {"POST", "/threads/prune", prune_cb},
      {"GET", "/threads/{thread_id}", get_cb},
      {"PATCH", "/threads/{thread_id}", patch_cb},
      {"DELETE", "/threads/{thread_id}", delete_cb},
      {"POST", "/threads/{thread_id}/copy", copy_cb},
      {"GET", "/threads/{thread_id}/stream", api_thread_stream_cb},
  };
  return LOOM_HTTP_ROUTES_ADD(r, routes, app, e);
}
