/*
 * executor — runs queued runs on the engine, in-process.
 *
 * A thread runs one run at a time; the others wait as pending rows
 * (multitask "enqueue"). api_executor_kick() picks the oldest pending run
 * of a thread when none is active and hands it to libuv's worker pool
 * (store calls block, so an engine run may not sit on a loop thread). On
 * the worker, the run is built from its validated body, every engine event
 * is turned into the stream events LangGraph clients expect and appended
 * to the run (run_events.c; that wakes its streams), and a cancel request
 * is honoured from inside the event callback, i.e. on the thread that owns
 * the engine run. A run parked on asynchronous nodes (model calls) gives
 * its worker back: when a continuation is posted to it, the engine's
 * wake_cb queues loom_run_resume on the pool, so thousands of parked runs
 * cost memory, not threads; cancel reaches a parked run through
 * loom_run_post. When the engine stops (loom_run_on_done, on whichever
 * worker last ran it), the run's status, result and its thread's status
 * and values are set, `end` is emitted, and the next pending run of the
 * thread starts.
 *
 * Rollback (multitask "rollback", cancel action=rollback): the thread's
 * latest checkpoint from before the run is forked as the newest again (or
 * every checkpoint goes when there was none), and the run is deleted.
 *
 * States of a run here: pending (queued) → running (on a worker, or
 * parked) → success | error | interrupted (human input or cancelled) |
 * timeout.
 */
#include <string.h>

#include "agents/llm_usage.h"
#include "api/internal.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "engine/engine.h"
#include "io/loop.h"

static struct loom_app *app;
static bool stopping;        /* under the api lock */
static struct exec *engines; /* runs with an engine run, under the lock */
static uv_timer_t sweeper;   /* LOOM_RUN_TIMEOUT, on the first loop */
static uint64_t run_timeout_ms;

struct exec {
  struct api_run *run; /* ref held */
  struct api_graph *graph;
  struct loom_run *engine;
  enum loom_run_status status;
  json_t *values, *interrupts;
  json_t *next_tasks; /* when interrupted: the tasks it stopped at */
  struct loom_error error;
  uv_timer_t timer; /* after_seconds */
  struct loom_loop *loop;
  struct exec *prev, *next; /* in `engines` while x->engine is set */
  /* Where its checkpoints go: the app's store, or, for a run whose thread
   * is deleted when it ends (stateless), a store in memory of its own, or
   * none at all when it starts from input: nothing to write to disk and
   * nothing to delete after. */
  struct loom_store *store;
  bool own_store; /* store is the run's own (or none) */
  bool no_events; /* nobody reads its stream (api_executor_run_here) */
  bool on_loop;   /* runs on its request's loop (api_executor_run_here) */
  uint64_t cpu_start_ns;        /* its thread's CPU clock when it started */
  uint64_t started_ms;          /* when it started running (LOOM_RUN_TIMEOUT) */
  struct api_run_events events; /* making its stream events (run_events.c) */
};

/* One trip of a run through the pool: the first, or a resume. Only the
 * trip in which the run stopped finishes it, on the loop, after. */
struct trip {
  struct exec *x;
  bool resume;
  bool stopped;
};

static void event_cb(const struct loom_event *ev, void *arg) {
  struct exec *x = arg;
  if (api_run_engine_event(x->run, &x->events, ev) && x->engine)
    loom_run_cancel(x->engine);
}

/* Engine stopped (on the run's side): keep what the API reports. */
static void engine_done_cb(struct loom_run *run, void *arg) {
  struct exec *x = arg;
  x->status = loom_run_status(run);
  if (x->status == LOOM_RUN_ERROR && loom_run_error(run))
    x->error = *loom_run_error(run);
  x->values = json_deep_copy(loom_run_values(run));
  if (x->status == LOOM_RUN_INTERRUPTED && loom_run_interrupts(run))
    x->interrupts = json_deep_copy(loom_run_interrupts(run));
  if (x->status == LOOM_RUN_INTERRUPTED)
    x->next_tasks = loom_run_next_tasks(run);
}

static void resume_work_cb(void *arg);
static void exec_after_cb(struct loom_loop *loop, void *arg, loom_err st);

/* A continuation was posted to the parked run: resume it on the pool. */
static void wake_cb(struct loom_run *run, void *arg) {
  (void)run;
  struct exec *x = arg;
  struct trip *t = LOOM_NEW(struct trip);
  t->x = x;
  t->resume = true;
  if (loom_loop_work(x->loop, resume_work_cb, exec_after_cb, t) != LOOM_OK) {
    /* Only while the server stops, after every run was cancelled: the run
     * stays "running" in the store and is continued at the next start. */
    LOOM_WARN("run %s cannot resume: the server is stopping", x->run->id);
    loom_free(t);
  }
}

/* Between two steps of a run on its request's loop: once it has cost that
 * thread API_QUICK_MS of CPU (a QUICK graph that some input made heavy),
 * it gives the loop back and the rest goes on on the pool (wake_cb); the
 * graph counts it as slow on a loop. */
static bool yield_cb(struct loom_run *run, void *arg) {
  (void)run;
  struct exec *x = arg;
  if (!x->on_loop || !loom_loop_current()) /* on the pool: stay */
    return false;
  uint64_t ms = (loom_clock_thread_cpu_ns() - x->cpu_start_ns) / 1000000;
  if (ms <= API_QUICK_MS)
    return false;
  api_graph_timed(x->graph, ms, true);
  return true;
}

static void cancel_cb(void *arg) {
  struct exec *x = arg;
  loom_run_cancel(x->engine);
}

/* Asks the engine run to cancel from its own side (refused once it has
 * stopped: nothing left to cancel). Lock held. */
static void post_cancel_locked(struct exec *x) {
  if (x->engine)
    (void)!loom_run_post(x->engine, cancel_cb, x);
}

/* The engine options from the run's body, but for the lists and metadata
 * that run_engine allocates (and frees once the engine run is made). */
static struct loom_run_opts run_opts(struct exec *x) {
  struct api_run *r = x->run;
  const json_t *kw = r->kwargs;
  const json_t *config = json_object_get(kw, "config");
  return (struct loom_run_opts){
      .store = x->store,
      .tenant = API_TENANT,
      .thread_id = r->thread_id,
      .checkpoint_id = api_run_start_checkpoint_id(r),
      .input = r->recovered || json_is_null(json_object_get(kw, "input"))
                   ? NULL
                   : json_object_get(kw, "input"),
      .command = r->recovered ? NULL : json_object_get(kw, "command"),
      .recursion_limit =
          (int)json_integer_value(json_object_get(config, "recursion_limit")),
      /* In memory, sync costs nothing and saves the writer hand-off. */
      .durability =
          x->own_store ? LOOM_DURABILITY_SYNC : api_run_durability(kw),
      .wake_cb = wake_cb,
      .yield_cb = yield_cb,
      .wake_arg = x,
      .no_token_events = !api_run_modes_want_tokens(x->events.modes),
      .no_checkpoint_events = !api_run_modes_want_checkpoints(x->events.modes),
      .no_task_events = !api_run_modes_want_tasks(x->events.modes),
  };
}

/* Puts x in `engines`, where cancels, the shutdown and the timeout sweep
 * find it. Lock held. */
static void engines_add_locked(struct exec *x, struct loom_run *engine) {
  x->engine = engine;
  x->next = engines;
  if (engines)
    engines->prev = x;
  engines = x;
}

/* Takes x out of `engines` (if its engine was made). Lock held. */
static void engines_remove_locked(struct exec *x) {
  if (!x->engine)
    return;
  if (x->prev)
    x->prev->next = x->next;
  else
    engines = x->next;
  if (x->next)
    x->next->prev = x->prev;
  x->engine = NULL;
}

/* Builds and starts the engine run; true when it stopped at once, false
 * when it parked (a later resume finishes it). */
static bool run_engine(struct exec *x) {
  struct api_run *r = x->run;
  struct loom_run_opts opts = run_opts(x);
  const char **before = api_string_list(
      json_object_get(r->kwargs, "interrupt_before"), &opts.ninterrupt_before);
  const char **after = api_string_list(
      json_object_get(r->kwargs, "interrupt_after"), &opts.ninterrupt_after);
  opts.interrupt_before = before;
  opts.interrupt_after = after;
  /* Only checkpoints carry it: none kept, none shown, none needed. */
  json_t *meta = x->store || !opts.no_checkpoint_events
                     ? api_run_checkpoint_metadata(r)
                     : NULL;
  opts.metadata = meta;
  struct loom_run *engine = NULL;
  loom_err made = loom_run_new(x->graph->graph, &opts, &engine, &x->error);
  json_decref(meta);
  loom_free(before);
  loom_free(after);
  if (made != LOOM_OK) {
    x->status = LOOM_RUN_ERROR;
    return true;
  }
  loom_run_subscribe(engine, event_cb, x);
  loom_run_on_done(engine, engine_done_cb, x);
  api_lock();
  engines_add_locked(x, engine);
  if (r->cancel) /* cancelled while it was being built */
    post_cancel_locked(x);
  api_unlock();
  return loom_run_start(engine) != LOOM_RUN_WAITING;
}

/* Undoes a run's checkpoints: fork the one from before it, or drop all. */
static void roll_back(struct api_run *r) {
  struct loom_error e = {0};
  char id[LOOM_ID_LEN + 1];
  loom_err err = r->start_checkpoint
                     ? loom_engine_fork(app->store, API_TENANT, r->thread_id,
                                        r->start_checkpoint, id, &e)
                     : loom_store_delete_thread_checkpoints(
                           app->store, API_TENANT, r->thread_id, &e);
  if (err)
    LOOM_WARN("rollback of run %s failed: %s", r->id, e.message);
}

/* The engine run stopped: free it, then what the API does after a run
 * on the worker (rollback, thread deletion). */
static void engine_finished(struct exec *x) {
  struct api_run *r = x->run;
  struct loom_run *engine = x->engine;
  api_lock();
  engines_remove_locked(x);
  bool cancelled = r->cancel, rollback = r->rollback;
  api_unlock();
  loom_run_free(engine); /* before the graph it runs goes */
  api_graph_release(x->graph);
  x->graph = NULL;
  /* A cancel may surface from the engine as an error about it. */
  if (cancelled && x->status == LOOM_RUN_ERROR)
    x->status = LOOM_RUN_CANCELLED;
  if (x->own_store) { /* its checkpoints go with its thread */
    loom_store_close(x->store);
    x->store = NULL;
    x->own_store = false;
    return;
  }
  if (rollback)
    roll_back(r);
  if (r->delete_thread)
    (void)loom_store_delete_thread_checkpoints(app->store, API_TENANT,
                                               r->thread_id, NULL);
}

/* Asks for the run's cancel. The flag is read without the lock
 * (api_run_engine_event), so it is stored atomically. Lock held. */
static void mark_cancel(struct api_run *r) {
  __atomic_store_n(&r->cancel, true, __ATOMIC_RELAXED);
}

/* Marks the run running, in the store before it has any effect (so the
 * store never shows a pending run with checkpoints of its own, and a
 * cancel answered before cannot be overtaken); false when it is not to
 * run after all. On the worker, which may block; a run on its request's
 * loop (api_executor_run_here) is memory-only and waits for nothing. */
static bool mark_running(struct exec *x) {
  struct api_run *r = x->run;
  if (r->memory_only) { /* not stored: nothing to wait for */
    api_lock();
    bool run = !r->cancel && !r->deleted;
    if (run) {
      r->status = API_RUN_RUNNING;
      x->started_ms = loom_clock_mono_ns() / 1000000;
      api_run_wake(r);
    }
    api_unlock();
    return run;
  }
  struct api_persist_sync w;
  api_persist_sync_init(&w);
  api_lock();
  bool skip = r->cancel || r->deleted;
  if (!skip) {
    r->status = API_RUN_RUNNING;
    json_decref(r->updated_at);
    r->updated_at = api_now();
    x->started_ms = loom_clock_mono_ns() / 1000000;
    api_run_wake(r);
    api_persist_run_ack(r, false, &w.ack);
  } else {
    api_persist_barrier(&w.ack); /* nothing to write: only to wait on */
  }
  api_unlock();
  (void)api_persist_sync_wait(&w); /* a failed write is logged; go on */
  return !skip;
}

static void exec_work_cb(void *arg) {
  struct trip *t = arg;
  struct exec *x = t->x;
  struct api_run *r = x->run;
  t->stopped = true;
  if (!mark_running(x)) {
    x->status = LOOM_RUN_CANCELLED;
    return;
  }
  x->events.modes = x->no_events ? 0 : api_run_modes(r);
  x->store = app->store;
  if (r->delete_thread) { /* a new thread: nothing before */
    x->own_store = true;
    x->store =
        api_run_needs_store(r->kwargs) ? loom_engine_memstore_new() : NULL;
    r->recovered = false; /* after a crash: from the input again */
  } else {
    api_run_find_start(r, app->store);
  }
  x->graph = api_graph_get(r->graph_id);
  if (!x->graph) {
    x->status = LOOM_RUN_ERROR;
    loom_error_set(&x->error, LOOM_ERR_NOT_FOUND,
                   "graph '%s' is not registered", r->graph_id);
  } else {
    /* CPU time, not wall time: a run the scheduler preempted on a busy
     * machine cost its thread no more. */
    x->cpu_start_ns = loom_clock_thread_cpu_ns();
    if (!run_engine(x)) {
      t->stopped = false; /* parked: x belongs to the resumes now */
      return;
    }
    if (r->memory_only) /* the runs that may go on a loop */
      api_graph_timed(x->graph,
                      (loom_clock_thread_cpu_ns() - x->cpu_start_ns) / 1000000,
                      x->on_loop);
  }
  engine_finished(x);
}

static void resume_work_cb(void *arg) {
  struct trip *t = arg;
  t->stopped = loom_run_resume(t->x->engine);
  if (t->stopped)
    engine_finished(t->x);
}

/* A thread's interrupts by the id of the task that raised them, as
 * LangGraph keys them (by node for checkpoints older than task ids); as
 * there, every task the run stopped at has its list, empty when it was
 * stopped by interrupt_before/after rather than an interrupt of its own. */
static json_t *thread_interrupts(const json_t *engine_interrupts,
                                 const json_t *next_tasks) {
  json_t *out = json_object();
  size_t i;
  const json_t *it;
  json_array_foreach(next_tasks, i, it) {
    const char *id = json_string_value(json_object_get(it, "id"));
    if (id)
      json_object_set_new(out, id, json_array());
  }
  json_array_foreach(engine_interrupts, i, it) {
    const char *key = json_string_value(json_object_get(it, "task_id"));
    if (!key)
      key = json_string_value(json_object_get(it, "node"));
    json_t *list = json_object_get(out, key ? key : "");
    if (!list)
      json_object_set_new(out, key ? key : "", list = json_array());
    json_array_append_new(list, json_pack("{s:O?, s:O?}", "value",
                                          json_object_get(it, "value"), "id",
                                          json_object_get(it, "id")));
  }
  return out;
}

/* The final status of `arg` (a run, ref held) is in the store: tell the
 * streams and waits. Any thread (see api_persist_ack). */
static void final_saved_cb(void *arg, loom_err err) {
  struct api_run *r = arg;
  (void)err; /* a failed write is logged; the run did finish */
  api_lock();
  api_run_emit(r, "*", "end", json_null());
  if (!r->deleted) /* out of the table, nobody can join it any more */
    api_run_retire(r);
  api_run_unref(r);
  api_unlock();
}

/* Emits `end` once what was queued for the store before is there (the
 * final status, or the run's deletion). Lock held. */
static void end_when_saved_locked(struct api_run *r, bool saved_status,
                                  struct loom_loop *loop) {
  if (r->memory_only) { /* nothing stored to wait for; it leaves the table */
    api_run_emit(r, "*", "end", json_null());
    return;
  }
  api_run_ref(r);
  struct api_persist_ack ack = {loop ? loop : loom_loop_group_at(app->loops, 0),
                                final_saved_cb, r};
  if (saved_status)
    api_persist_run_ack(r, false, &ack);
  else
    api_persist_barrier(&ack);
}

/* A run stopped by the shutdown goes back to pending, untouched otherwise:
 * the next process continues it from its last checkpoint. Lock held. */
static void requeue_locked(struct api_run *r) {
  r->status = API_RUN_PENDING;
  r->started = false;
  api_persist_run(r, false);
}

/* The run failed or timed out: its result is the error, and its streams
 * get an `error` event. Lock held. */
static json_t *error_result_locked(struct exec *x) {
  struct api_run *r = x->run;
  r->status =
      x->error.code == LOOM_ERR_TIMEOUT ? API_RUN_TIMEOUT : API_RUN_ERROR;
  json_t *values = json_pack(
      "{s:{s:s, s:s}}", "__error__", "error", loom_err_name(x->error.code),
      "message",
      x->error.message[0] ? x->error.message : loom_strerror(x->error.code));
  api_run_emit(r, "*", "error",
               json_pack("{s:s, s:s}", "error", loom_err_name(x->error.code),
                         "message", x->error.message));
  return values;
}

/* Sets the run's final status from the engine's and returns its result:
 * the values (with __interrupt__ when interrupted), or __error__. Lock
 * held. */
static json_t *final_result_locked(struct exec *x) {
  struct api_run *r = x->run;
  json_t *values = x->values ? json_incref(x->values) : json_object();
  switch (x->status) {
  case LOOM_RUN_SUCCESS:
    r->status = API_RUN_SUCCESS;
    return values;
  case LOOM_RUN_INTERRUPTED: {
    r->status = API_RUN_INTERRUPTED;
    /* A copy: the values are also the thread's, which hold no
     * __interrupt__ (its interrupts are a field of their own). */
    json_t *result = json_copy(values);
    json_decref(values);
    json_object_set_new(result, "__interrupt__",
                        api_interrupt_list(x->interrupts));
    return result;
  }
  case LOOM_RUN_CANCELLED:
    if (!r->timed_out) {
      r->status = API_RUN_INTERRUPTED;
      return values;
    }
    /* The timeout sweep cancelled it: reported as an error. */
    x->error.code = LOOM_ERR_TIMEOUT;
    snprintf(x->error.message, sizeof x->error.message,
             "the run took longer than LOOM_RUN_TIMEOUT (%.3g s)",
             (double)run_timeout_ms / 1000.0);
    break;
  default:
    break;
  }
  json_decref(values);
  return error_result_locked(x);
}

/* The thread's state after its run `x` ended: values (unless rolled
 * back), interrupts and status. Lock held. */
static void thread_after_run_locked(struct api_thread *t, struct exec *x) {
  struct api_run *r = x->run;
  if (x->values && !r->rollback) {
    json_decref(t->values);
    t->values = json_incref(x->values);
  }
  json_decref(t->interrupts);
  t->interrupts = x->status == LOOM_RUN_INTERRUPTED
                      ? thread_interrupts(x->interrupts, x->next_tasks)
                      : NULL;
  loom_free(t->status);
  /* As LangGraph: a run that failed or timed out leaves its thread in
   * "error". */
  t->status = loom_strdup(
      x->status == LOOM_RUN_INTERRUPTED ? "interrupted"
      : r->status == API_RUN_ERROR || r->status == API_RUN_TIMEOUT ? "error"
                                                                   : "idle");
  json_decref(t->updated_at);
  t->updated_at = api_now();
  api_persist_thread(t);
}

/* Sets the run's final status and result and its thread's state. Lock
 * held. */
static void finish_locked(struct exec *x) {
  struct api_run *r = x->run;
  if (r->requeue && x->status != LOOM_RUN_SUCCESS &&
      x->status != LOOM_RUN_INTERRUPTED) {
    requeue_locked(r);
    return;
  }
  json_t *values = final_result_locked(x);
  json_decref(r->result);
  r->result = values;
  loom_llm_usage_attach(&r->metadata, x->events.usage);
  json_decref(r->updated_at);
  r->updated_at = api_now();
  struct api_thread *t = api_thread_find(r->thread_id);
  if (t)
    thread_after_run_locked(t, x);
  /* `end` (what streams and waits answer on) goes out once the final
   * status, or the run's deletion, is in the store. */
  if (r->rollback)
    api_persist_run_delete(r);
  end_when_saved_locked(r, !r->rollback, x->loop);
}

/* The run `r` ended: its thread is free for the next pending run, or
 * goes with it (a new thread's, or a temporary one). Lock held. */
static void release_thread_locked(struct api_run *r) {
  struct api_thread *t = api_thread_find(r->thread_id);
  if (t && t->active == r)
    t->active = NULL;
  /* Rolled back runs go; so do stateless ones (on_completion), whose
   * streams and waits still hold their references. */
  bool drop = r->delete_thread || (t && t->temporary && !r->stateless);
  if (r->stateless && !drop)
    api_persist_run_delete(r); /* on_completion keep: the thread stays */
  if (r->rollback || r->stateless)
    api_run_remove(r);
  if (t && drop && !api_run_next_pending(t->id)) {
    if (!t->memory_only)
      api_persist_thread_delete(t->id); /* its runs and events go too */
    api_thread_remove(t);
    t = NULL;
  }
  if (t)
    api_executor_kick(t);
}

/* The webhook URL of the finished run `r` (the caller frees it) and in
 * *payload what is posted there: the run with its values; NULL when
 * there is none to call. Lock held; the call is made after. */
static char *webhook_locked(struct api_run *r, json_t **payload) {
  const char *hook =
      api_run_finished(r->status)
          ? json_string_value(json_object_get(r->kwargs, "webhook"))
          : NULL;
  char *url = hook ? loom_strdup(hook) : NULL;
  if (url) {
    *payload = api_run_json(r);
    json_object_set(*payload, "values", r->result ? r->result : json_null());
  }
  return url;
}

static void exec_after_cb(struct loom_loop *loop, void *arg, loom_err st) {
  (void)loop;
  struct trip *trip = arg;
  struct exec *x = trip->x;
  /* Not run by libuv: a first trip finishes the run (as an error), a
   * resume cannot. */
  bool stopped = trip->stopped || (st != LOOM_OK && !trip->resume);
  if (st != LOOM_OK && trip->resume)
    LOOM_WARN("run %s cannot resume: the server is stopping", x->run->id);
  loom_free(trip);
  if (!stopped)
    return; /* parked, or another trip finishes it */
  struct api_run *r = x->run;
  api_lock();
  finish_locked(x);
  release_thread_locked(r);
  json_t *payload = NULL;
  char *url = webhook_locked(r, &payload);
  api_run_unref(r);
  api_unlock();
  if (url)
    api_webhook_send(url, payload);
  loom_free(url);
  if (x->own_store) /* it never ran its engine */
    loom_store_close(x->store);
  json_decref(x->values);
  json_decref(x->interrupts);
  json_decref(x->next_tasks);
  api_run_events_cleanup(&x->events);
  loom_free(x);
}

static void submit(struct exec *x) {
  struct trip *t = LOOM_NEW(struct trip);
  t->x = x;
  if (loom_loop_work(x->loop, exec_work_cb, exec_after_cb, t) != LOOM_OK) {
    LOOM_WARN("run %s not started: the server is stopping", x->run->id);
    api_lock();
    api_run_unref(x->run);
    api_unlock();
    loom_free(t);
    loom_free(x);
  }
}

static void timer_close_cb(uv_handle_t *h) { submit(h->data); }

static void timer_cb(uv_timer_t *timer) {
  uv_close((uv_handle_t *)timer, timer_close_cb);
}

static void delay_cb(struct loom_loop *loop, void *arg) {
  struct exec *x = arg;
  double s =
      json_number_value(json_object_get(x->run->kwargs, "after_seconds"));
  uv_timer_init(loom_loop_uv(loop), &x->timer);
  x->timer.data = x;
  uv_timer_start(&x->timer, timer_cb, (uint64_t)(s * 1000.0), 0);
}

/* The run `r` of `t` starts: the thread is busy with it. Lock held. */
static struct exec *take_locked(struct api_thread *t, struct api_run *r) {
  t->active = r;
  r->started = true;
  loom_free(t->status);
  t->status = loom_strdup("busy");
  api_persist_thread(t);
  api_run_ref(r);
  struct exec *x = LOOM_NEW(struct exec);
  x->run = r;
  /* The loop of the request that made it, so that its answer needs no
   * hop to another thread. */
  x->loop = r->loop ? r->loop : loom_loop_group_next(app->loops);
  return x;
}

void api_executor_run_here(struct api_run *r, bool no_events) {
  api_lock();
  struct api_thread *t = api_thread_find(r->thread_id);
  struct exec *x = NULL;
  double delay = json_number_value(json_object_get(r->kwargs, "after_seconds"));
  if (t && !t->active && !stopping && delay <= 0 &&
      api_run_next_pending(t->id) == r)
    x = take_locked(t, r);
  else if (t)
    api_executor_kick(t); /* the usual way, then */
  api_unlock();
  if (!x)
    return;
  x->no_events = no_events;
  x->on_loop = true;
  struct trip *trip = LOOM_NEW(struct trip);
  trip->x = x;
  exec_work_cb(trip);
  exec_after_cb(x->loop, trip, LOOM_OK);
}

void api_executor_kick(struct api_thread *t) {
  if (t->active || stopping)
    return;
  struct api_run *r = api_run_next_pending(t->id);
  if (!r || r->unsaved)
    return; /* an unsaved run is kicked again once it is stored */
  struct exec *x = take_locked(t, r);
  double delay = json_number_value(json_object_get(r->kwargs, "after_seconds"));
  if (delay > 0 && loom_loop_post(x->loop, delay_cb, x) == LOOM_OK)
    return;
  submit(x);
}

void api_executor_cancel(struct api_run *r, bool rollback) {
  if (api_run_finished(r->status))
    return;
  mark_cancel(r);
  r->rollback = r->rollback || rollback;
  if (r->started) {
    /* A running run sees the flag at its next event; a parked one has
     * none coming: the cancel is posted to it. */
    for (struct exec *x = engines; x; x = x->next)
      if (x->run == r)
        post_cancel_locked(x);
    return;
  }
  /* Still queued: it never runs. Its `end` follows the write. */
  r->status = API_RUN_INTERRUPTED;
  json_decref(r->result);
  r->result = json_object();
  json_decref(r->updated_at);
  r->updated_at = api_now();
  if (rollback)
    api_persist_run_delete(r);
  end_when_saved_locked(r, !rollback, loom_loop_current());
  if (rollback)
    api_run_remove(r);
}

static bool stop_each(struct api_run *r, void *arg) {
  (void)arg;
  if (r->started && !api_run_finished(r->status)) {
    mark_cancel(r);
    r->requeue = true;
  }
  return true;
}

static void sweeper_close_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  (void)arg;
  if (!uv_is_closing((uv_handle_t *)&sweeper))
    uv_close((uv_handle_t *)&sweeper, NULL);
}

void api_executor_stop(void) {
  api_lock();
  stopping = true;
  api_runs_each(stop_each, NULL);
  for (struct exec *x = engines; x; x = x->next)
    post_cancel_locked(x); /* parked runs stop too, and are requeued */
  api_unlock();
  if (run_timeout_ms)
    (void)!loom_loop_post(loom_loop_group_at(app->loops, 0), sweeper_close_cb,
                          NULL);
}

/* ---- LOOM_RUN_TIMEOUT ---- */

/* Cancels the runs that have been running for too long; they end as
 * "timeout". Every tenth of the timeout (at most once a second), on the
 * first loop. */
static void sweep_cb(uv_timer_t *timer) {
  (void)timer;
  uint64_t now = loom_clock_mono_ns() / 1000000;
  api_lock();
  for (struct exec *x = engines; x; x = x->next) {
    struct api_run *r = x->run;
    if (r->cancel || now - x->started_ms < run_timeout_ms)
      continue;
    r->timed_out = true;
    mark_cancel(r);
    post_cancel_locked(x);
  }
  api_unlock();
}

static void sweeper_start_cb(struct loom_loop *loop, void *arg) {
  (void)arg;
  uint64_t period = run_timeout_ms / 10;
  period = period < 10 ? 10 : period > 1000 ? 1000 : period;
  uv_timer_init(loom_loop_uv(loop), &sweeper);
  uv_timer_start(&sweeper, sweep_cb, period, period);
  uv_unref((uv_handle_t *)&sweeper); /* never what keeps the loop alive */
}

void api_executor_init(struct loom_app *a) {
  app = a;
  double s = a->config ? loom_config_run_timeout(a->config) : 0;
  run_timeout_ms = s > 0 ? (uint64_t)(s * 1000.0) : 0;
  if (run_timeout_ms && a->loops)
    (void)!loom_loop_post(loom_loop_group_at(a->loops, 0), sweeper_start_cb,
                          NULL);
}
