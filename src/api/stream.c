/*
 * stream — following a run: SSE streams (runs/stream, join stream with
 * Last-Event-ID) and the waits behind runs/wait and join.
 *
 * Both are watchers on the run (tables.c): after every wake-up on the
 * request's loop, a stream copies the run's events after its cursor (under
 * the lock), then sends those its modes select; event ids are the events'
 * positions in the run (1, 2, ...), so Last-Event-ID: N resumes at N+1.
 * Events with mode "*" (metadata, error, end) always go out. Once the run
 * has finished and every event is sent, the stream closes. Events no
 * longer in memory (a retired run, or one loaded at start-up) are read
 * back from the store on the pool, a page at a time, then the stream goes
 * on from memory. A wait answers
 * when the run has finished: the final values, with `__interrupt__` or
 * `__error__` as LangGraph's server does.
 *
 * `messages/partial` events are kept as deltas and sent whole
 * (partials.c): a stream that sends them walks the run's events from the
 * first, Last-Event-ID or not, and sends those after its cursor.
 */
#include <stdio.h>
#include <string.h>

#include "api/internal.h"
#include "core/alloc.h"
#include "core/log.h"
#include "io/sse.h"

static const char *const modes_valid[] = {
    "values", "updates", "messages",    "messages-tuple", "custom",
    "debug",  "tasks",   "checkpoints", "events",         NULL};

loom_err api_stream_modes(const json_t *body, json_t **out,
                          struct loom_error *e) {
  json_t *list = NULL;
  if (api_opt_strings(body, "stream_mode", &list, e))
    return LOOM_ERR_INVALID;
  if (!list)
    list = json_pack("[s]", "values");
  size_t i;
  json_t *m;
  json_array_foreach(list, i, m) {
    bool ok = false;
    for (size_t k = 0; modes_valid[k]; k++)
      ok = ok || !strcmp(json_string_value(m), modes_valid[k]);
    if (!ok) {
      loom_error_set(e, LOOM_ERR_INVALID,
                     "stream_mode: '%s' is not one of values, updates, "
                     "messages, messages-tuple, custom, debug, tasks, "
                     "checkpoints, events",
                     json_string_value(m));
      json_decref(list);
      return LOOM_ERR_INVALID;
    }
  }
  *out = list;
  return LOOM_OK;
}

loom_err api_stream_query_modes(struct loom_http_req *req, json_t **out,
                                struct loom_error *e) {
  const char *given[16];
  size_t n = loom_http_query_values(req, "stream_mode", given, 16);
  *out = NULL;
  if (n > 16)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "stream_mode: at most 16 modes (got %zu)", n);
  json_t *list = json_array();
  for (size_t i = 0; i < n; i++) {
    if (!strcmp(given[i], "run_modes")) { /* LangGraph's name for the */
      json_decref(list);                  /* run's own modes */
      return LOOM_OK;
    }
    if (*given[i])
      json_array_append_new(list, json_string(given[i]));
  }
  if (!json_array_size(list)) {
    json_decref(list);
    return LOOM_OK;
  }
  json_t *q = json_pack("{s:o}", "stream_mode", list);
  loom_err err = api_stream_modes(q, out, e);
  json_decref(q);
  return err;
}

/* ---- SSE ---- */

struct stream {
  struct loom_sse *sse;
  struct api_watch *watch;
  json_t *modes; /* NULL: every mode */
  bool subgraphs;
  size_t next;      /* index of the next event to walk (its id - 1) */
  size_t send_from; /* the first index sent: Last-Event-ID */
  struct api_partials partials; /* messages so far, to send partials */
  bool cancel_on_disconnect;
  bool closed;
  bool reading;         /* a store read is on the pool */
  bool from_store_done; /* the store replay reached its end */
  char run_id[LOOM_ID_LEN + 1];
  json_t *rows; /* what the store read returned */
};

bool api_stream_selected(const json_t *modes, bool subgraphs, const char *mode,
                         const char *event) {
  if (!mode) /* trimmed: an old run's event (see api_run_retire) */
    return false;
  if (!strcmp(mode, "*"))
    return true;
  if (strchr(event, '|') && !subgraphs)
    return false;
  if (!modes)
    return true;
  size_t i;
  json_t *m;
  json_array_foreach(modes, i, m) {
    const char *name = json_string_value(m);
    if (!strcmp(name, mode))
      return true;
  }
  return false;
}

static bool selected(const struct stream *s, const char *mode,
                     const char *event) {
  return api_stream_selected(s->modes, s->subgraphs, mode, event);
}

static void stream_free(struct stream *s) {
  api_partials_cleanup(&s->partials);
  json_decref(s->modes);
  json_decref(s->rows);
  loom_free(s);
}

/* Lock held. Stops watching and closes the SSE stream; the stream itself
 * waits for a store read in flight. */
static void stream_end_locked(struct stream *s) {
  if (s->closed)
    return;
  s->closed = true;
  api_watch_remove(s->watch);
  loom_sse_close(s->sse);
  if (!s->reading)
    stream_free(s);
}

/* ---- replay from the store: events no longer in memory ---- */

static void stream_wake_cb(struct api_watch *w);

static void read_work_cb(void *arg) {
  struct stream *s = arg;
  json_decref(s->rows);
  s->rows = NULL;
  struct loom_error e = {0};
  if (loom_store_read_run_events(api_store(), API_TENANT, s->run_id,
                                 (long long)s->next, 0, &s->rows, &e))
    LOOM_WARN("replay of run %s: %s", s->run_id, e.message);
}

/* Sends event number `index` (its id - 1) if the stream selects it and
 * it is past the cursor. False when the client is gone. Lock held. */
static bool send_event_locked(struct stream *s, size_t index, const char *mode,
                              const char *event, const json_t *data) {
  if (!selected(s, mode, event))
    return true;
  if (index < s->send_from) { /* before Last-Event-ID: walked, not sent */
    api_partials_feed(&s->partials, event, data);
    return true;
  }
  char id[24];
  snprintf(id, sizeof id, "%zu", index + 1);
  json_t *wire = api_partials_wire(&s->partials, event, data);
  loom_err err = loom_sse_send_json(s->sse, event, id, wire);
  json_decref(wire);
  return err != LOOM_ERR_CANCELLED;
}

/* Sends what the store gave; true when the replay is over. Lock held. */
static bool send_rows_locked(struct stream *s, bool *ended) {
  size_t i, n = json_array_size(s->rows);
  json_t *row;
  json_array_foreach(s->rows, i, row) {
    const char *event = json_string_value(json_object_get(row, "event"));
    char mode[64];
    s->next = (size_t)json_integer_value(json_object_get(row, "seq"));
    *ended = !strcmp(event, "end");
    if (!send_event_locked(s, s->next - 1,
                           api_event_mode(event, mode, sizeof mode), event,
                           json_object_get(row, "data")))
      return true;
  }
  return n < LOOM_SEARCH_MAX_LIMIT;
}

static void read_after_cb(struct loom_loop *loop, void *arg, loom_err st) {
  struct stream *s = arg;
  api_lock();
  s->reading = false;
  if (s->closed) {
    api_unlock();
    stream_free(s);
    return;
  }
  bool ended = false;
  bool over = st != LOOM_OK || !s->rows || send_rows_locked(s, &ended);
  struct api_run *r = s->watch->run;
  if (!over) { /* a full page: read the next one */
    if (loom_loop_work(loop, read_work_cb, read_after_cb, s) == LOOM_OK)
      s->reading = true;
    else
      stream_end_locked(s);
    api_unlock();
    return;
  }
  s->from_store_done = true;
  /* A run loaded at start-up has no events in memory: close here, with an
   * `end` if the store lacks it (written behind, lost in a crash). */
  if (!ended && r->nevents == 0 && loom_sse_is_open(s->sse))
    (void)!loom_sse_send_json(s->sse, "end", NULL, json_null());
  bool close = ended || r->nevents == 0 || !loom_sse_is_open(s->sse);
  if (close)
    stream_end_locked(s);
  api_unlock();
  if (!close)
    stream_wake_cb(s->watch); /* the rest from memory */
}

/* True (and a read started) when the stream's next event is only in the
 * store. Lock held. */
static bool replay_from_store_locked(struct stream *s,
                                     const struct api_run *r) {
  if (!r->events_gone || r->memory_only || s->from_store_done || !api_store())
    return false;
  if (r->nevents && s->next + 1 >= r->nevents)
    return false; /* only the last event is left: it is in memory */
  snprintf(s->run_id, sizeof s->run_id, "%s", r->id);
  if (loom_loop_work(loom_sse_loop(s->sse), read_work_cb, read_after_cb, s) !=
      LOOM_OK)
    return false;
  s->reading = true;
  return true;
}

static void stream_wake_cb(struct api_watch *w) {
  struct stream *s = w->userdata;
  struct api_run *r = w->run;
  api_lock();
  if (s->reading || replay_from_store_locked(s, r)) {
    api_unlock();
    return;
  }
  for (; s->next < r->nevents; s->next++) {
    const struct api_event *ev = &r->events[s->next];
    if (!send_event_locked(s, s->next, ev->mode, ev->event, ev->data))
      break;
  }
  bool done = api_run_finished(r->status) && s->next >= r->nevents && r->ended;
  if (done || !loom_sse_is_open(s->sse))
    stream_end_locked(s);
  api_unlock();
}

static void stream_disconnect_cb(struct loom_sse *sse, void *userdata) {
  (void)sse;
  struct stream *s = userdata;
  api_lock();
  if (!s->closed) {
    if (s->cancel_on_disconnect && s->watch->run)
      api_executor_cancel(s->watch->run, false);
    stream_end_locked(s);
  }
  api_unlock();
}

void api_stream_run(struct loom_http_req *req, struct api_run *r,
                    const json_t *modes, size_t after_seq,
                    bool cancel_on_disconnect) {
  struct stream *s = LOOM_NEW(struct stream);
  s->modes = modes ? json_deep_copy(modes) : NULL;
  s->subgraphs = json_is_true(json_object_get(r->kwargs, "stream_subgraphs"));
  s->next = s->send_from = after_seq;
  if (after_seq && selected(s, "messages", "messages/partial"))
    s->next = 0; /* the deltas before the cursor make its first partials */
  s->cancel_on_disconnect = cancel_on_disconnect;
  struct loom_sse_options opt = {
      .keepalive_s = 15, .on_disconnect = stream_disconnect_cb, .userdata = s};
  s->sse = loom_sse_start(req, &opt);
  api_lock();
  s->watch = api_watch_add(r, loom_sse_loop(s->sse), false, stream_wake_cb, s);
  api_unlock();
}

/* ---- wait / join ---- */

struct waiter {
  struct loom_http_req *req;
  struct api_watch *watch;
};

static void waiter_abort_cb(struct loom_http_req *req, void *userdata) {
  (void)req;
  struct waiter *w = userdata;
  api_lock();
  api_watch_remove(w->watch);
  api_unlock();
  loom_free(w);
}

static void waiter_wake_cb(struct api_watch *watch) {
  struct waiter *w = watch->userdata;
  struct api_run *r = watch->run;
  api_lock();
  /* The result is set with the status; `end` follows once the status is
   * in the store, and only then is the run's end acknowledged. */
  bool done = api_run_finished(r->status) && r->result && r->ended;
  json_t *result = done ? json_deep_copy(r->result) : NULL;
  if (done)
    api_watch_remove(watch);
  api_unlock();
  if (!done)
    return;
  loom_http_respond_json(w->req, 200, result);
  loom_free(w);
}

/* The client hung up (on_disconnect "cancel"): cancel the run and let go;
 * the answer is dropped by the server. */
static void waiter_gone_cb(struct loom_http_req *req, void *userdata) {
  struct waiter *w = userdata;
  api_lock();
  api_executor_cancel(w->watch->run, false);
  api_watch_remove(w->watch);
  api_unlock();
  loom_free(w);
  loom_http_respond_raw(req, 499, NULL, "", 0);
}

void api_wait_run(struct loom_http_req *req, struct api_run *r,
                  bool cancel_on_disconnect) {
  api_lock();
  json_t *result = api_run_finished(r->status) && r->result && r->ended
                       ? json_deep_copy(r->result)
                       : NULL;
  api_unlock();
  if (result) { /* over already: no suspension, no wake-up */
    loom_http_respond_json(req, 200, result);
    return;
  }
  struct waiter *w = LOOM_NEW(struct waiter);
  w->req = req;
  loom_http_suspend(req);
  loom_http_on_abort(req, waiter_abort_cb, w);
  if (cancel_on_disconnect)
    loom_http_on_disconnect(req, waiter_gone_cb, w);
  api_lock();
  w->watch = api_watch_add(r, loom_http_loop(req), true, waiter_wake_cb, w);
  api_unlock();
}
