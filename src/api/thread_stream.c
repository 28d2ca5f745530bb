/*
 * thread_stream — GET /threads/{thread_id}/stream (the SDK's
 * threads.joinStream): one SSE stream over the runs of a thread.
 *
 * The stream follows one run at a time with a run watcher (tables.c), as
 * a run's own stream does, and watches the thread itself to hear of new
 * runs. It starts with the thread's active run (else its oldest pending
 * one, else the next one created); when the run it follows has ended and
 * every event is sent, it goes on with the next run of the thread in
 * creation order, or waits for one. It never ends by itself: the client
 * leaves, or the thread is deleted. Event ids are "<run_id>:<n>" (n the
 * event's position in its run), so a reconnect with Last-Event-ID goes on
 * in that run right after that event. Events are read from memory: a
 * thread stream is for runs in progress, not a replay of old ones.
 * `messages/partial` events are kept as deltas and sent whole
 * (partials.c): each run is walked from its first event, and what is
 * before the Last-Event-ID is walked without being sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "core/alloc.h"
#include "io/sse.h"

struct tstream {
  struct loom_sse *sse;
  struct api_watch *twatch; /* on the thread */
  struct api_watch *rwatch; /* on the run followed, or NULL */
  json_t *modes;            /* NULL: each run's own stream_mode */
  size_t next;              /* index of the next event of the followed run */
  size_t send_from;         /* ... and the first one sent (Last-Event-ID) */
  struct api_partials partials;     /* its messages so far */
  char last_run[LOOM_ID_LEN + 1];   /* the run followed before ("": none) */
  char resume_run[LOOM_ID_LEN + 1]; /* Last-Event-ID's run ("": none) */
  size_t resume_after;              /* ... and its event */
  bool closed;
};

static void run_wake_cb(struct api_watch *w);

/* Lock held. Stops watching and closes the stream. */
static void end_locked(struct tstream *s) {
  if (s->closed)
    return;
  s->closed = true;
  if (s->rwatch)
    api_watch_remove(s->rwatch);
  api_watch_remove(s->twatch);
  loom_sse_close(s->sse);
  json_decref(s->modes);
  api_partials_cleanup(&s->partials);
  loom_free(s);
}

/* The run to follow next, or NULL to wait for one. Lock held. */
static struct api_run *pick_run(struct tstream *s, struct api_thread *t) {
  for (size_t i = 0; s->resume_run[0] && i < t->nruns; i++)
    if (!strcmp(t->runs[i]->id, s->resume_run))
      return t->runs[i];
  if (s->last_run[0]) { /* the one after the run followed before */
    for (size_t i = 0; i < t->nruns; i++)
      if (!strcmp(t->runs[i]->id, s->last_run))
        return i + 1 < t->nruns ? t->runs[i + 1] : NULL;
  }
  if (t->active)
    return t->active;
  for (size_t i = 0; i < t->nruns; i++) /* the oldest still to run */
    if (!api_run_finished(t->runs[i]->status))
      return t->runs[i];
  /* Nothing running: only what comes next. Remember where that starts. */
  if (t->nruns)
    snprintf(s->last_run, sizeof s->last_run, "%s", t->runs[t->nruns - 1]->id);
  return NULL;
}

/* Follows the next run of the thread if there is one. Lock held. */
static void follow_next_locked(struct tstream *s) {
  struct api_thread *t = s->twatch->thread;
  if (!t) { /* deleted */
    end_locked(s);
    return;
  }
  if (s->rwatch)
    return;
  struct api_run *r = pick_run(s, t);
  if (!r)
    return;
  s->next = s->send_from = 0;
  if (s->resume_run[0] && !strcmp(s->resume_run, r->id))
    s->send_from = s->resume_after;
  api_partials_cleanup(&s->partials); /* the run before's */
  s->resume_run[0] = '\0';
  s->rwatch = api_watch_add(r, loom_sse_loop(s->sse), false, run_wake_cb, s);
}

static void run_wake_cb(struct api_watch *w) {
  struct tstream *s = w->userdata;
  struct api_run *r = w->run;
  api_lock();
  const json_t *modes =
      s->modes ? s->modes : json_object_get(r->kwargs, "stream_mode");
  bool subgraphs = json_is_true(json_object_get(r->kwargs, "stream_subgraphs"));
  for (; s->next < r->nevents; s->next++) {
    const struct api_event *ev = &r->events[s->next];
    if (!api_stream_selected(modes, subgraphs, ev->mode, ev->event))
      continue;
    if (s->next < s->send_from) {
      api_partials_feed(&s->partials, ev->event, ev->data);
      continue;
    }
    char id[LOOM_ID_LEN + 24];
    snprintf(id, sizeof id, "%s:%zu", r->id, s->next + 1);
    json_t *wire = api_partials_wire(&s->partials, ev->event, ev->data);
    loom_err err = loom_sse_send_json(s->sse, ev->event, id, wire);
    json_decref(wire);
    if (err == LOOM_ERR_CANCELLED)
      break;
  }
  if (!loom_sse_is_open(s->sse)) {
    end_locked(s);
  } else if (r->ended && s->next >= r->nevents) {
    snprintf(s->last_run, sizeof s->last_run, "%s", r->id);
    api_watch_remove(s->rwatch);
    s->rwatch = NULL;
    follow_next_locked(s);
  }
  api_unlock();
}

static void thread_wake_cb(struct api_watch *w) {
  struct tstream *s = w->userdata;
  api_lock();
  follow_next_locked(s);
  api_unlock();
}

static void disconnect_cb(struct loom_sse *sse, void *userdata) {
  (void)sse;
  api_lock();
  end_locked(userdata);
  api_unlock();
}

static void stream_thread(struct loom_http_req *req, const char *thread_id,
                          const json_t *modes, const char *last_event_id) {
  api_lock();
  struct api_thread *t = api_thread_find(thread_id);
  api_unlock();
  if (!t) {
    api_not_found(req, "thread", thread_id);
    return;
  }
  struct tstream *s = LOOM_NEW(struct tstream);
  s->modes = modes ? json_deep_copy(modes) : NULL;
  const char *colon = last_event_id ? strrchr(last_event_id, ':') : NULL;
  if (colon && (size_t)(colon - last_event_id) <= LOOM_ID_LEN) {
    snprintf(s->resume_run, sizeof s->resume_run, "%.*s",
             (int)(colon - last_event_id), last_event_id);
    s->resume_after = (size_t)strtoull(colon + 1, NULL, 10);
  }
  struct loom_sse_options opt = {
      .keepalive_s = 15, .on_disconnect = disconnect_cb, .userdata = s};
  s->sse = loom_sse_start(req, &opt);
  api_lock();
  t = api_thread_find(thread_id); /* it may have gone meanwhile */
  if (!t) {
    s->twatch = NULL;
    s->closed = true;
    loom_sse_close(s->sse);
    json_decref(s->modes);
    loom_free(s);
  } else {
    s->twatch =
        api_thread_watch_add(t, loom_sse_loop(s->sse), thread_wake_cb, s);
  }
  api_unlock();
}

void api_thread_stream_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *modes = NULL; /* none named: each run's own */
  struct loom_error e = {0};
  if (api_stream_query_modes(req, &modes, &e)) {
    api_fail_err(req, &e);
    return;
  }
  stream_thread(req, loom_http_param(req, "thread_id"), modes,
                loom_http_header(req, "Last-Event-ID"));
  json_decref(modes);
}
