/*
 * runs_manage — what happens to a run once it exists: list, get, delete,
 * cancel (one or many), join (wait for its result) and join its stream
 * (with Last-Event-ID to resume after a disconnect). The creating routes
 * are in runs.c.
 */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "core/alloc.h"

/* The run of the path (checked against the thread when the path has one),
 * with a reference; answers 404 itself. */
static struct api_run *path_run(struct loom_http_req *req) {
  const char *tid = loom_http_param(req, "thread_id");
  const char *rid = loom_http_param(req, "run_id");
  api_lock();
  if (tid && !api_thread_find(tid)) {
    api_unlock();
    api_not_found(req, "thread", tid);
    return NULL;
  }
  struct api_run *r = api_run_find(rid);
  if (r && tid && strcmp(r->thread_id, tid))
    r = NULL;
  if (r)
    api_run_ref(r);
  api_unlock();
  if (!r)
    api_not_found(req, "run", rid);
  return r;
}

static void release(struct api_run *r) {
  api_lock();
  api_run_unref(r);
  api_unlock();
}

struct list {
  const char *thread_id, *status;
  json_t *hits;
};

static bool list_each(struct api_run *r, void *arg) {
  struct list *l = arg;
  if (strcmp(r->thread_id, l->thread_id))
    return true;
  if (l->status && strcmp(api_run_status_name(r->status), l->status))
    return true;
  json_array_insert_new(l->hits, 0, api_run_json(r)); /* newest first */
  return true;
}

static void list_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  const char *tid = loom_http_param(req, "thread_id");
  long long limit, offset;
  struct loom_error e = {0};
  if (api_query_int(req, "limit", 10, 1, 1000, &limit, &e) ||
      api_query_int(req, "offset", 0, 0, 1000000000, &offset, &e)) {
    api_fail_err(req, &e);
    return;
  }
  struct list l = {tid, loom_http_query(req, "status"), json_array()};
  api_lock();
  struct api_thread *t = api_thread_find(tid);
  bool found = t != NULL;
  if (found)
    api_thread_runs_each(t, list_each, &l);
  api_unlock();
  if (!found) {
    json_decref(l.hits);
    api_not_found(req, "thread", tid);
    return;
  }
  json_t *page = json_array();
  for (size_t i = (size_t)offset;
       i < json_array_size(l.hits) && json_array_size(page) < (size_t)limit;
       i++)
    json_array_append(page, json_array_get(l.hits, i));
  json_decref(l.hits);
  loom_http_respond_json(req, 200, page);
}

static void get_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  struct api_run *r = path_run(req);
  if (!r)
    return;
  api_lock();
  json_t *row = api_run_json(r);
  api_run_unref(r);
  api_unlock();
  loom_http_respond_json(req, 200, row);
}

static void delete_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  struct api_run *r = path_run(req);
  if (!r)
    return;
  api_lock();
  bool active = !api_run_finished(r->status);
  if (!active) {
    api_persist_run_delete(r);
    api_run_remove(r);
  }
  api_run_unref(r);
  api_unlock();
  if (active)
    api_fail(req, 409, "conflict",
             "run is still pending or running; cancel it first");
  else
    loom_http_respond_raw(req, 204, NULL, "", 0);
}

static loom_err cancel_action(struct loom_http_req *req, bool *rollback,
                              struct loom_error *e) {
  const char *a = loom_http_query(req, "action");
  *rollback = a && !strcmp(a, "rollback");
  if (a && *a && strcmp(a, "interrupt") && strcmp(a, "rollback"))
    return api_invalid(e, "action", "must be 'interrupt' or 'rollback'");
  return LOOM_OK;
}

/* A cancel answered once its writes are in the store. */
struct cancel_answer {
  struct loom_http_req *req;
  unsigned status;
  bool aborted; /* the server gave up on the request */
};

static void cancel_abort_cb(struct loom_http_req *req, void *arg) {
  (void)req;
  ((struct cancel_answer *)arg)->aborted = true; /* freed by the ack */
}

static void cancel_saved_cb(void *arg, loom_err err) {
  struct cancel_answer *a = arg;
  if (a->aborted || err == LOOM_ERR_UNAVAILABLE)
    ; /* nobody to answer: the server dropped the request */
  else if (err)
    api_fail(a->req, 500, "internal", "the cancel could not be stored");
  else
    loom_http_respond_raw(a->req, a->status, NULL, "", 0);
  loom_free(a);
}

/* Answers `status` once what the cancel queued for the store is written,
 * as a create is: a cancelled pending run stays cancelled after a crash.
 * Lock held. */
static void answer_when_saved_locked(struct loom_http_req *req,
                                     unsigned status) {
  struct cancel_answer *a = LOOM_NEW(struct cancel_answer);
  *a = (struct cancel_answer){req, status, false};
  loom_http_suspend(req);
  loom_http_on_abort(req, cancel_abort_cb, a);
  struct api_persist_ack ack = {loom_http_loop(req), cancel_saved_cb, a};
  api_persist_barrier(&ack);
}

static void cancel_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  bool rollback;
  struct loom_error e = {0};
  if (cancel_action(req, &rollback, &e)) {
    api_fail_err(req, &e);
    return;
  }
  struct api_run *r = path_run(req);
  if (!r)
    return;
  const char *wait = loom_http_query(req, "wait");
  bool waits = wait && (!strcmp(wait, "1") || !strcmp(wait, "true"));
  api_lock();
  api_executor_cancel(r, rollback);
  if (!waits)
    answer_when_saved_locked(req, 202);
  api_unlock();
  if (waits) /* answered at `end`, which follows the writes */
    api_wait_run(req, r, false);
  release(r);
}

struct cancel_many {
  const char *thread_id, *status;
  const json_t *ids;
  bool rollback;
};

static bool cancel_many_each(struct api_run *r, void *arg) {
  struct cancel_many *c = arg;
  if (c->thread_id && strcmp(r->thread_id, c->thread_id))
    return true;
  if (c->status && strcmp(c->status, "all") &&
      strcmp(api_run_status_name(r->status), c->status))
    return true;
  if (c->ids) {
    bool hit = false;
    size_t i;
    const json_t *id;
    json_array_foreach(c->ids, i, id) {
      hit = hit || !strcmp(json_string_value(id), r->id);
    }
    if (!hit)
      return true;
  }
  api_executor_cancel(r, c->rollback);
  return true;
}

static void cancel_many_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *body = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  static const char *const statuses[] = {"pending", "running", "all", NULL};
  struct cancel_many c = {0};
  json_t *ids = NULL;
  struct loom_error e = {0};
  if (cancel_action(req, &c.rollback, &e) ||
      api_opt_string(body, "thread_id", &c.thread_id, &e) ||
      api_opt_enum(body, "status", statuses, &c.status, &e) ||
      api_opt_strings(body, "run_ids", &ids, &e) ||
      (!c.thread_id && !ids && !c.status &&
       api_invalid(&e, "body", "give thread_id, run_ids or status"))) {
    api_fail_err(req, &e);
    json_decref(body);
    return;
  }
  c.ids = ids;
  api_lock();
  api_runs_each(cancel_many_each, &c);
  answer_when_saved_locked(req, 204);
  api_unlock();
  json_decref(ids);
  json_decref(body);
}

static void join_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  struct api_run *r = path_run(req);
  if (!r)
    return;
  const char *cod = loom_http_query(req, "cancel_on_disconnect");
  api_wait_run(req, r, cod && (!strcmp(cod, "1") || !strcmp(cod, "true")));
  release(r);
}

static void join_stream_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  struct api_run *r = path_run(req);
  if (!r)
    return;
  const char *last = loom_http_header(req, "Last-Event-ID");
  size_t after = last ? (size_t)strtoull(last, NULL, 10) : 0;
  json_t *modes = NULL;
  struct loom_error e = {0};
  if (api_stream_query_modes(req, &modes, &e)) {
    api_fail_err(req, &e);
    release(r);
    return;
  }
  if (!modes) {
    api_lock();
    modes = json_incref(json_object_get(r->kwargs, "stream_mode"));
    api_unlock();
  }
  const char *cod = loom_http_query(req, "cancel_on_disconnect");
  api_stream_run(req, r, modes, after,
                 cod && (!strcmp(cod, "1") || !strcmp(cod, "true")));
  json_decref(modes);
  release(r);
}

loom_err api_run_manage_routes(struct loom_http_router *r, struct loom_app *app,
                               struct loom_error *e) {
  static const struct loom_http_route routes[] = {
      {"GET", "/threads/{thread_id}/runs", list_cb},
      {"GET", "/threads/{thread_id}/runs/{run_id}", get_cb},
      {"DELETE", "/threads/{thread_id}/runs/{run_id}", delete_cb},
      {"POST", "/threads/{thread_id}/runs/{run_id}/cancel", cancel_cb},
      {"GET", "/threads/{thread_id}/runs/{run_id}/join", join_cb},
      {"GET", "/threads/{thread_id}/runs/{run_id}/stream", join_stream_cb},
      {"GET", "/runs/{run_id}/stream", join_stream_cb},
      {"GET", "/runs/{run_id}", get_cb},
      {"POST", "/runs/cancel", cancel_many_cb},
  };
  return LOOM_HTTP_ROUTES_ADD(r, routes, app, e);
}
