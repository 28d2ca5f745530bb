/*
 * runs — LangGraph runs, on a thread and stateless.
 *
 *   POST   /threads/{thread_id}/runs                 create, in the background
 *   POST   /threads/{thread_id}/runs/stream          create and stream (SSE)
 *   POST   /threads/{thread_id}/runs/wait            create and wait for the
 * end GET    /threads/{thread_id}/runs                 list (limit, offset,
 * status) GET    /threads/{thread_id}/runs/{run_id}        get DELETE
 * /threads/{thread_id}/runs/{run_id}        delete a finished run POST
 * /threads/{thread_id}/runs/{run_id}/cancel cancel (wait, action) GET
 * /threads/{thread_id}/runs/{run_id}/join   wait for the end GET
 * /threads/{thread_id}/runs/{run_id}/stream join the stream POST   /runs,
 * /runs/stream, /runs/wait           stateless runs GET /runs/{run_id}/stream
 * join a stateless stream POST   /runs/cancel cancel many POST   /runs/batch
 * create many (stateless)
 *
 * Every body is validated before anything happens: a field of the wrong
 * type or value is 422 naming the field; an unknown thread (without
 * if_not_exists "create"), assistant or run is 404; a busy thread with
 * multitask_strategy "reject" is 409 as LangGraph's server answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "core/alloc.h"
#include "engine/engine.h"
#include "engine/spec.h"

enum run_reply { REPLY_RUN, REPLY_STREAM, REPLY_WAIT };

/* ---- validation ---- */

static loom_err check_nodes(const json_t *list, const char *field,
                            const struct loom_graph *g, struct loom_error *e) {
  size_t i;
  const json_t *n;
  json_array_foreach(list, i, n) {
    const char *name = json_string_value(n);
    if (strcmp(name, "*") && !loom_graph_node(g, name))
      return loom_error_set(e, LOOM_ERR_INVALID,
                            "%s: graph '%s' has no node '%s'", field, g->name,
                            name);
  }
  return LOOM_OK;
}

static loom_err check_command(const json_t *cmd, struct loom_error *e) {
  if (!cmd || json_is_null(cmd))
    return LOOM_OK;
  if (!json_is_object(cmd))
    return api_invalid(e, "command", "must be an object");
  const json_t *update = json_object_get(cmd, "update");
  if (update && !json_is_null(update) && !json_is_object(update) &&
      !json_is_array(update))
    return api_invalid(e, "command.update",
                       "must be an object or a list of [key, value] pairs");
  const json_t *go = json_object_get(cmd, "goto");
  if (go && !json_is_null(go) && !json_is_string(go) && !json_is_array(go) &&
      !json_is_object(go))
    return api_invalid(e, "command.goto",
                       "must be a node name or a list of them");
  if (!json_object_get(cmd, "resume") && !update && !go)
    return api_invalid(e, "command",
                       "must have at least one of resume, update, goto");
  return LOOM_OK;
}

static loom_err check_config(const json_t *body, struct loom_error *e) {
  json_t *config = NULL;
  if (api_opt_object(body, "config", &config, e))
    return LOOM_ERR_INVALID;
  if (!config)
    return LOOM_OK;
  long long limit = 0;
  json_t *conf = NULL, *tags = NULL;
  loom_err err =
      api_opt_int(config, "recursion_limit", 1, 100000000, &limit, e);
  if (!err)
    err = api_opt_object(config, "configurable", &conf, e);
  if (!err)
    err = api_opt_strings(config, "tags", &tags, e);
  json_decref(tags);
  if (err) { /* name the path: "config.<field>" */
    char msg[sizeof e->message];
    snprintf(msg, sizeof msg, "%s", e->message);
    loom_error_set(e, LOOM_ERR_INVALID, "config.%s", msg);
  }
  return err;
}

static loom_err check_flags(const json_t *body, struct loom_error *e) {
  static const char *const strategies[] = {"reject", "rollback", "interrupt",
                                           "enqueue", NULL};
  static const char *const disconnect[] = {"cancel", "continue", NULL};
  static const char *const completion[] = {"delete", "keep", NULL};
  static const char *const if_not_exists[] = {"create", "reject", NULL};
  static const char *const durability[] = {"sync", "async", "exit", NULL};
  const char *s = NULL;
  json_t *o = NULL;
  loom_err err = api_opt_enum(body, "multitask_strategy", strategies, &s, e);
  if (!err)
    err = api_opt_enum(body, "on_disconnect", disconnect, &s, e);
  if (!err)
    err = api_opt_enum(body, "on_completion", completion, &s, e);
  if (!err)
    err = api_opt_enum(body, "if_not_exists", if_not_exists, &s, e);
  if (!err)
    err = api_opt_enum(body, "durability", durability, &s, e);
  if (!err)
    err = api_opt_object(body, "context", &o, e);
  if (!err)
    err = api_opt_object(body, "metadata", &o, e);
  if (!err)
    err = api_opt_object(body, "checkpoint", &o, e);
  if (!err)
    err = api_opt_string(body, "checkpoint_id", &s, e);
  if (!err && (s = NULL, api_opt_string(body, "webhook", &s, e)))
    err = LOOM_ERR_INVALID;
  if (!err && s)
    err = api_webhook_check(s, e);
  const json_t *after = json_object_get(body, "after_seconds");
  if (!err && after && !json_is_null(after) &&
      (!json_is_number(after) || json_number_value(after) < 0 ||
       json_number_value(after) > 86400))
    err = api_invalid(e, "after_seconds", "must be a number from 0 to 86400");
  const json_t *sub = json_object_get(body, "stream_subgraphs");
  if (!err && sub && !json_is_null(sub) && !json_is_boolean(sub))
    err = api_invalid(e, "stream_subgraphs", "must be a boolean");
  return err;
}

/* Validates the body of a run and normalises it into `kw`: `body` itself
 * with a reference more (the caller's parse, nobody else's), changed in
 * place. */
static loom_err read_run_body(json_t *body, json_t **kw, struct loom_error *e) {
  const char *assistant_id = NULL;
  json_t *modes = NULL, *before = NULL, *after = NULL;
  loom_err err = api_opt_string(body, "assistant_id", &assistant_id, e);
  if (!err && !assistant_id)
    err = api_invalid(e, "assistant_id", "is required");
  if (!err)
    err = check_command(json_object_get(body, "command"), e);
  if (!err)
    err = check_config(body, e);
  if (!err)
    err = check_flags(body, e);
  if (!err)
    err = api_stream_modes(body, &modes, e);
  if (!err)
    err = api_opt_strings(body, "interrupt_before", &before, e);
  if (!err)
    err = api_opt_strings(body, "interrupt_after", &after, e);
  const json_t *input = json_object_get(body, "input");
  const json_t *cmd = json_object_get(body, "command");
  if (!err && input && !json_is_null(input) && cmd && !json_is_null(cmd))
    err = api_invalid(e, "input", "cannot be given together with command");
  if (err) {
    json_decref(modes);
    json_decref(before);
    json_decref(after);
    return err;
  }
  *kw = json_incref(body);
  /* Only the server says a run's thread is temporary (add_run_locked): the
   * next process deletes such a thread once its runs end. */
  json_object_del(*kw, "temporary");
  json_object_set_new(*kw, "stream_mode", modes);
  json_object_set_new(*kw, "interrupt_before", before ? before : json_array());
  json_object_set_new(*kw, "interrupt_after", after ? after : json_array());
  return LOOM_OK;
}

/* ---- creating a run ---- */

struct create {
  const char *thread_id; /* NULL: stateless */
  json_t *kw;
  unsigned status; /* on failure */
  struct loom_error e;
  bool background;            /* answered at once: events in every mode,
                                 stored even when stateless */
  struct api_run *run;        /* ref for the caller */
  struct api_persist_ack ack; /* told when the run is in the store */
  bool here_ok; /* stateless, answered when it ends (wait, stream) */
  bool here;    /* ... and its graph is QUICK: the caller runs it now, on
                   its loop (api_executor_run_here) */
};

static bool thread_busy(const struct api_thread *t) {
  return t->active || api_run_next_pending(t->id);
}

static bool cancel_each(struct api_run *r, void *arg) {
  const struct api_thread *t = ((void **)arg)[0];
  bool rollback = *(bool *)((void **)arg)[1];
  if (!strcmp(r->thread_id, t->id) && !api_run_finished(r->status))
    api_executor_cancel(r, rollback);
  return true;
}

/* Lock held. Finds or makes the thread and applies the multitask rule. */
static struct api_thread *run_thread_locked(struct create *c) {
  const char *inx = json_string_value(json_object_get(c->kw, "if_not_exists"));
  struct api_thread *t = NULL;
  if (!c->thread_id) {
    t = api_thread_add(NULL, NULL);
    t->temporary = true;
    return t;
  }
  t = api_thread_find(c->thread_id);
  if (!t && inx && !strcmp(inx, "create")) {
    if (!loom_id_is_uuid(c->thread_id)) { /* as POST /threads requires */
      c->status = 422;
      api_invalid(&c->e, "thread_id", "must be a UUID to be created");
      return NULL;
    }
    t = api_thread_add(c->thread_id, NULL);
  }
  if (!t) {
    c->status = 404;
    loom_error_set(&c->e, LOOM_ERR_NOT_FOUND, "thread '%s' not found",
                   c->thread_id);
    return NULL;
  }
  if (!thread_busy(t))
    return t;
  const char *ms =
      json_string_value(json_object_get(c->kw, "multitask_strategy"));
  if (!ms || !strcmp(ms, "reject")) {
    c->status = 409;
    loom_error_set(&c->e, LOOM_ERR_CONFLICT,
                   "thread '%s' is already running a task; wait for it to "
                   "finish or choose a different multitask_strategy",
                   t->id);
    return NULL;
  }
  if (strcmp(ms, "enqueue")) {
    bool rollback = !strcmp(ms, "rollback");
    void *arg[2] = {t, &rollback};
    api_thread_runs_each(t, cancel_each, arg);
  }
  return t;
}

static void add_run_locked(struct create *c, struct api_thread *t,
                           const json_t *as, const char *asid);

/* The run's assistant (*as) and graph, its interrupt nodes checked
 * against the graph; NULL with c->status and c->e set when one is not
 * there. Lock held. */
static struct api_graph *run_target_locked(struct create *c, json_t **as) {
  const char *aid = json_string_value(json_object_get(c->kw, "assistant_id"));
  *as = api_assistant_resolve(aid);
  const char *graph_id = json_string_value(json_object_get(*as, "graph_id"));
  struct api_graph *g = api_graph_find_locked(graph_id);
  if (!g) {
    /* The graph ids, which are assistant ids too: a typo is seen at once. */
    char ids[1024];
    api_graph_ids_locked(ids, sizeof ids);
    c->status = 404;
    loom_error_set(&c->e, LOOM_ERR_NOT_FOUND,
                   *as ? "graph '%s' of the assistant is not registered; "
                         "graphs: %s"
                       : "assistant '%s' not found; a graph id is an "
                         "assistant id, and the graphs are: %s",
                   *as && graph_id ? graph_id : aid, ids[0] ? ids : "none");
    return NULL;
  }
  if (check_nodes(json_object_get(c->kw, "interrupt_before"),
                  "interrupt_before", g->graph, &c->e) ||
      check_nodes(json_object_get(c->kw, "interrupt_after"), "interrupt_after",
                  g->graph, &c->e)) {
    c->status = 422;
    return NULL;
  }
  return g;
}

/* Validates nodes against the graph, then makes the run: all in one
 * hold of the lock (the graph cannot go meanwhile). */
static bool create_run(struct create *c) {
  bool ok = false;
  json_t *as = NULL;
  api_lock();
  struct api_graph *g = run_target_locked(c, &as);
  if (!g)
    goto out;
  char asid[LOOM_ID_LEN + 1] = "";
  snprintf(asid, sizeof asid, "%s",
           json_string_value(json_object_get(as, "assistant_id")));
  struct api_thread *t = run_thread_locked(c);
  if (!t)
    goto out;
  /* Before reading the body's config: the assistant's and the thread's
   * apply too. */
  api_run_merge_config(c->kw, as, t->config);
  /* A run that asks for more steps than the default may take long: it
   * would hold the loop (and every request on it), so it goes to the pool
   * whatever its graph's record. So does one whose thread is kept
   * (on_completion keep): its checkpoints go to the store, whose calls
   * may block. */
  json_int_t limit = json_integer_value(
      json_object_get(json_object_get(c->kw, "config"), "recursion_limit"));
  const char *oc = json_string_value(json_object_get(c->kw, "on_completion"));
  c->here = c->here_ok && !c->thread_id && g->speed == API_GRAPH_QUICK &&
            limit <= LOOM_ENGINE_DEFAULT_RECURSION_LIMIT &&
            !(oc && !strcmp(oc, "keep"));
  add_run_locked(c, t, as, asid);
  ok = true;
out:
  api_unlock();
  return ok;
}

/* Makes the run on `t` from the validated body and queues it. Lock held. */
static void add_run_locked(struct create *c, struct api_thread *t,
                           const json_t *as, const char *asid) {
  const char *graph_id = json_string_value(json_object_get(as, "graph_id"));
  struct api_run *r = api_run_new(NULL);
  snprintf(r->thread_id, sizeof r->thread_id, "%s", t->id);
  api_run_attach(t, r);
  snprintf(r->assistant_id, sizeof r->assistant_id, "%s", asid);
  r->graph_id = loom_strdup(graph_id);
  r->kwargs = json_incref(c->kw);
  /* As LangGraph: the thread names its graph and assistant, and the run's
   * metadata is the assistant's, the thread's, then its own. */
  json_object_set_new(t->metadata, "graph_id", json_string(graph_id));
  json_object_set_new(t->metadata, "assistant_id", json_string(asid));
  r->metadata = api_run_merge_metadata(as, t->metadata, c->kw);
  json_decref(t->config);
  t->config = api_run_thread_config(c->kw);
  const char *ms =
      json_string_value(json_object_get(c->kw, "multitask_strategy"));
  r->multitask_strategy = loom_strdup(ms ? ms : "reject");
  r->stateless = t->temporary;
  r->loop = c->ack.loop;
  r->all_modes = c->background;
  const char *oc = json_string_value(json_object_get(c->kw, "on_completion"));
  r->delete_thread = t->temporary && !(oc && !strcmp(oc, "keep"));
  /* A stateless run in the background is stored like any other, thread
   * and all, so a run a client was told of survives a crash; one a client
   * waits on or streams is not (a crash drops its connection too). As in
   * LangGraph, its kwargs say the thread goes when it ends, which is how
   * the next process knows after a crash. */
  r->memory_only = t->memory_only || (r->stateless && !c->background);
  t->memory_only = r->memory_only; /* a run's row needs its thread's */
  if (r->delete_thread)
    json_object_set_new(r->kwargs, "temporary", json_true());
  api_run_stamp_kwargs(r);
  if (!t->graph_id)
    t->graph_id = loom_strdup(graph_id);
  api_run_ref(r);
  c->run = r;
  /* The run starts once its row is in the store (see run_saved_cb). */
  r->unsaved = !r->memory_only;
  api_persist_thread(t);
  if (!c->here) /* else nothing to wait for: it runs and answers at once */
    api_persist_run_ack(r, true, &c->ack);
  /* After the row: its events are stored after it, seq = id. */
  api_run_emit(r, "*", "metadata",
               json_pack("{s:s, s:i}", "run_id", r->id, "attempt", 1));
  if (!r->unsaved && !c->here)
    api_executor_kick(t);
}

/* The run of a create, stored: lets the executor have it. Lock held. */
static void run_saved_locked(struct api_run *r) {
  r->unsaved = false;
  struct api_thread *t = api_thread_find(r->thread_id);
  if (t && !r->deleted)
    api_executor_kick(t);
}

static void add_location(struct loom_http_req *req, const struct api_run *r,
                         bool stream) {
  char *loc = r->stateless
                  ? loom_asprintf("/runs/%s", r->id)
                  : loom_asprintf("/threads/%s/runs/%s", r->thread_id, r->id);
  loom_http_header_add(req, "Content-Location", loc);
  if (stream) {
    char *s = loom_asprintf("%s/stream", loc);
    loom_http_header_add(req, "Location", s);
    loom_free(s);
  }
  loom_free(loc);
}

/* A create waiting for its run to be stored before it answers. */
struct pending {
  struct loom_http_req *req;
  enum run_reply reply;
  json_t *kw;
  struct api_run *run; /* ref */
  bool aborted;        /* the server gave up on the request */
};

static void pending_free(struct pending *p) {
  api_lock();
  if (p->run)
    api_run_unref(p->run);
  api_unlock();
  json_decref(p->kw);
  loom_free(p);
}

static void pending_abort_cb(struct loom_http_req *req, void *arg) {
  (void)req;
  ((struct pending *)arg)->aborted = true; /* freed by run_saved_cb */
}

static void reply_run(struct pending *p) {
  struct loom_http_req *req = p->req;
  struct api_run *r = p->run;
  const char *od = json_string_value(json_object_get(p->kw, "on_disconnect"));
  bool cancel = od && !strcmp(od, "cancel");
  add_location(req, r, p->reply == REPLY_STREAM);
  if (p->reply == REPLY_STREAM) {
    api_stream_run(req, r, json_object_get(p->kw, "stream_mode"), 0, cancel);
  } else if (p->reply == REPLY_WAIT) {
    api_wait_run(req, r, cancel);
  } else {
    api_lock();
    json_t *row = api_run_json(r);
    api_unlock();
    loom_http_respond_json(req, 200, row);
  }
}

/* On the request's loop once the run's row is written (or not): only now
 * is the run acknowledged, so a crash cannot lose a run a client knows. */
static void run_saved_cb(void *arg, loom_err err) {
  struct pending *p = arg;
  if (err == LOOM_ERR_UNAVAILABLE) { /* stopping (see api_persist_ack) */
    pending_free(p);
    return;
  }
  api_lock();
  if (err == LOOM_OK)
    run_saved_locked(p->run);
  else /* not stored: nobody hears of it, and it never runs */
    api_run_remove(p->run);
  api_unlock();
  if (p->aborted) {
    pending_free(p);
    return;
  }
  if (err)
    api_fail(p->req, 500, "internal", "the run could not be stored");
  else
    reply_run(p);
  pending_free(p);
}

static void create_and_reply(struct loom_http_req *req, const char *thread_id,
                             enum run_reply reply) {
  json_t *body = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  struct pending *p = LOOM_NEW(struct pending);
  *p = (struct pending){.req = req, .reply = reply};
  /* As LangGraph's: a streamed or waited run makes the events of its
   * stream_mode, a background one those of every mode, for any join. */
  struct create c = {.thread_id = thread_id,
                     .background = reply == REPLY_RUN,
                     .ack = {loom_http_loop(req), run_saved_cb, p},
                     .here_ok = reply != REPLY_RUN};
  if (read_run_body(body, &c.kw, &c.e)) {
    api_fail_err(req, &c.e);
    loom_free(p);
    json_decref(body);
    return;
  }
  api_auth_configurable(req, c.kw);
  if (!create_run(&c)) {
    api_fail(req, c.status, loom_err_code(c.e.code), "%s", c.e.message);
    json_decref(c.kw);
    loom_free(p);
  } else if (c.here) { /* no hand-off: the answer is ready when it ends
                        * here (unless it parks or yields to the pool) */
    p->kw = c.kw;
    p->run = c.run;
    api_executor_run_here(c.run, reply == REPLY_WAIT);
    reply_run(p);
    pending_free(p);
  } else {
    p->kw = c.kw; /* the ack is posted to this loop: it comes after this */
    p->run = c.run;
    loom_http_suspend(req);
    loom_http_on_abort(req, pending_abort_cb, p);
  }
  json_decref(body);
}

static void create_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  create_and_reply(req, loom_http_param(req, "thread_id"), REPLY_RUN);
}
static void stream_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  create_and_reply(req, loom_http_param(req, "thread_id"), REPLY_STREAM);
}
static void wait_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  create_and_reply(req, loom_http_param(req, "thread_id"), REPLY_WAIT);
}
static void stateless_create_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  create_and_reply(req, NULL, REPLY_RUN);
}
static void stateless_stream_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  create_and_reply(req, NULL, REPLY_STREAM);
}
static void stateless_wait_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  create_and_reply(req, NULL, REPLY_WAIT);
}

/* Batch runs are stateless runs in the background: each starts once its
 * row is stored, and the answer waits for all of them (a barrier queued
 * after the last row). */
struct batch {
  struct loom_http_req *req;
  json_t *out; /* the runs, as answered */
  bool aborted;
};

/* The ack of one run of a batch; `arg` holds the run's ref. */
static void batch_run_saved_cb(void *arg, loom_err err) {
  struct api_run **slot = arg;
  api_lock();
  if (err == LOOM_OK)
    run_saved_locked(*slot);
  else if (err != LOOM_ERR_UNAVAILABLE) /* not stored: it never runs */
    api_run_remove(*slot);
  api_run_unref(*slot);
  api_unlock();
  loom_free(slot);
}

/* One item of a batch, checked as batch_one would make it: its body,
 * assistant, graph and nodes. */
static bool batch_check(json_t *item, struct loom_error *e) {
  if (!json_is_object(item))
    return api_invalid(e, "[]", "every item must be a run object"), false;
  struct create c = {.background = true};
  if (read_run_body(item, &c.kw, e))
    return false;
  json_t *as = NULL;
  api_lock();
  bool ok = run_target_locked(&c, &as) != NULL;
  api_unlock();
  if (!ok)
    *e = c.e;
  json_decref(c.kw);
  return ok;
}

static bool batch_one(struct loom_http_req *req, json_t *item, json_t *out,
                      struct loom_error *e) {
  if (!json_is_object(item))
    return api_invalid(e, "[]", "every item must be a run object"), false;
  struct api_run **slot = LOOM_NEW(struct api_run *);
  struct create c = {.background = true,
                     .ack = {loom_http_loop(req), batch_run_saved_cb, slot}};
  if (read_run_body(item, &c.kw, e)) {
    loom_free(slot);
    return false;
  }
  api_auth_configurable(req, c.kw);
  bool ok = create_run(&c);
  if (!ok) {
    *e = c.e;
    loom_free(slot); /* nothing was queued: no ack comes */
  } else {
    *slot = c.run; /* the ack comes on this loop, after this handler */
    api_lock();
    json_array_append_new(out, api_run_json(c.run));
    api_unlock();
  }
  json_decref(c.kw);
  return ok;
}

static void batch_abort_cb(struct loom_http_req *req, void *arg) {
  (void)req;
  ((struct batch *)arg)->aborted = true; /* freed by batch_saved_cb */
}

static void batch_saved_cb(void *arg, loom_err err) {
  struct batch *b = arg;
  if (b->aborted || err == LOOM_ERR_UNAVAILABLE)
    ; /* nobody to answer */
  else if (err)
    api_fail(b->req, 500, "internal", "the runs could not be stored");
  else
    loom_http_respond_json(b->req, 200, json_incref(b->out));
  json_decref(b->out);
  loom_free(b);
}

static void batch_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *body = NULL;
  if (!loom_http_json_body(req, &body))
    return;
  struct loom_error e = {0};
  json_t *out = json_array();
  if (!json_is_array(body))
    api_invalid(&e, "body", "must be a list of runs");
  size_t i;
  json_t *item;
  /* All or nothing: every item is checked before any run is made, so a
   * refused batch leaves no runs behind. */
  json_array_foreach(body, i, item) {
    if (e.code || !batch_check(item, &e))
      break;
  }
  json_array_foreach(body, i, item) {
    if (e.code || !batch_one(req, item, out, &e))
      break;
  }
  if (e.code) {
    json_decref(out);
    api_fail_err(req, &e);
  } else {
    struct batch *b = LOOM_NEW(struct batch);
    *b = (struct batch){.req = req, .out = out};
    loom_http_suspend(req);
    loom_http_on_abort(req, batch_abort_cb, b);
    api_persist_barrier(
        &(struct api_persist_ack){loom_http_loop(req), batch_saved_cb, b});
  }
  json_decref(body);
}

loom_err api_run_routes(struct loom_http_router *r, struct loom_app *app,
                        struct loom_error *e) {
  static const struct loom_http_route routes[] = {
      {"POST", "/threads/{thread_id}/runs", create_cb},
      {"POST", "/threads/{thread_id}/runs/stream", stream_cb},
      {"POST", "/threads/{thread_id}/runs/wait", wait_cb},
      {"POST", "/runs", stateless_create_cb},
      {"POST", "/runs/stream", stateless_stream_cb},
      {"POST", "/runs/wait", stateless_wait_cb},
      {"POST", "/runs/batch", batch_cb},
  };
  loom_err err = LOOM_HTTP_ROUTES_ADD(r, routes, app, e);
  return err ? err : api_run_manage_routes(r, app, e);
}
