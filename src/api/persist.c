/*
 * persist — keeps the API's rows (assistants, threads, runs) in the store,
 * and brings them back at start-up.
 *
 * Write-behind with group commit: the tables in memory answer every
 * request; each change also queues a store operation. One writer thread
 * (started with the first write) takes everything queued, in order (a
 * thread is written before its runs, a run before its stream events), and
 * writes it as one store batch: one transaction, one commit, however many
 * requests it serves. The loop threads never wait for the database, and
 * the writer never waits behind engine runs on the worker pool. Every
 * stream event of a run is queued too, so a replay (Last-Event-ID,
 * joining a finished run) works after a restart.
 *
 * Acknowledged writes: what a client is told exists (a new run or thread,
 * a cancel, a run's final status) is queued with an ack; the writer posts
 * the ack to the requester's loop once that batch is committed, and only
 * then is the answer sent (the request stays suspended meanwhile). What a
 * crash can lose is what nobody was told about yet: intermediate row
 * changes and the last few stream events. Graph state itself is written by
 * the engine, step by step.
 *
 * At start-up, api_persist_load() reads the rows back. Runs that were
 * pending go back in the queue; runs that were running when the process
 * died continue from their thread's last checkpoint (no input or command
 * is applied twice), so a crash loses at most the step in flight.
 * Stateless runs in the background are stored with their temporary
 * threads, and deleted with them when they end; after a crash they start
 * again from their input (their checkpoints were in memory), and the
 * leftovers of ones that had ended are deleted. Stateless runs a client
 * waits on or streams (memory_only) are not stored.
 */
#include <pthread.h>
#include <string.h>

#include "api/internal.h"
#include "core/alloc.h"
#include "core/log.h"
#include "io/loop.h"

enum op_kind {
  OP_THREAD_SAVE,
  OP_THREAD_DELETE,
  OP_ASSISTANT_CREATE,
  OP_ASSISTANT_UPDATE,
  OP_ASSISTANT_LATEST,
  OP_ASSISTANT_DELETE,
  OP_RUN_CREATE,
  OP_RUN_STATUS,
  OP_RUN_DELETE,
  OP_RUN_EVENT,
  OP_BARRIER, /* writes nothing: acknowledged once what came before is */
};

struct op {
  enum op_kind kind;
  char *id;
  json_t *row;                /* what to write (a snapshot, owned) */
  struct api_persist_ack ack; /* cb NULL: nobody waits */
  loom_err err;               /* how the write went */
  struct op *next;
};

/* Ops written per batch: bounds how long the write lock is held. */
#define BATCH_MAX 512

static struct loom_app *app;
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;
/* Two lanes: rows (threads, assistants, runs) and stream events. A batch
 * takes the rows lane first, so an acknowledged create never waits behind
 * other runs' events; order still holds where it matters, as an event is
 * queued after its run's row, which is then written by the time the event
 * is taken. */
struct lane {
  struct op *head, *tail;
};
static struct lane row_lane, event_lane;
/* The writer thread, under qlock. */
static pthread_t writer;
static bool writer_running, writer_stop;
static struct op *lane_pop(struct lane *l) {
  struct op *o = l->head;
  if (o) {
    l->head = o->next;
    if (!l->head)
      l->tail = NULL;
  }
  return o;
}

static void lane_push(struct lane *l, struct op *o) {
  if (l->tail)
    l->tail->next = o;
  else
    l->head = o;
  l->tail = o;
}

static loom_err run_op(const struct op *o) {
  struct loom_store *s = app->store;
  struct loom_error e = {0};
  json_t *out = NULL;
  loom_err err = LOOM_OK;
  const char *T = API_TENANT;
  switch (o->kind) {
  case OP_THREAD_SAVE:
    err = loom_store_put_thread(s, T, o->row, LOOM_IF_EXISTS_DO_NOTHING, &out,
                                &e);
    if (!err)
      err = loom_store_update_thread(s, T, o->id, o->row, NULL, &e);
    break;
  case OP_THREAD_DELETE:
    err = loom_store_delete_thread(s, T, o->id, &e);
    break;
  case OP_ASSISTANT_CREATE:
    err = loom_store_put_assistant(s, T, o->row, LOOM_IF_EXISTS_DO_NOTHING,
                                   &out, &e);
    break;
  case OP_ASSISTANT_UPDATE:
    err = loom_store_update_assistant(s, T, o->id, o->row, &out, &e);
    break;
  case OP_ASSISTANT_LATEST:
    err = loom_store_set_assistant_version(
        s, T, o->id,
        (int)json_integer_value(json_object_get(o->row, "version")), &out, &e);
    break;
  case OP_ASSISTANT_DELETE:
    err = loom_store_delete_assistant(s, T, o->id, &e);
    break;
  case OP_RUN_CREATE:
    err = loom_store_put_run(s, T, o->row, &out, &e);
    break;
  case OP_RUN_STATUS:
    err = loom_store_set_run_status(
        s, T, o->id, json_string_value(json_object_get(o->row, "status")), NULL,
        json_object_get(o->row, "error"), &e);
    break;
  case OP_RUN_DELETE:
    err = loom_store_delete_run(s, T, o->id, &e);
    break;
  case OP_RUN_EVENT:
    err = loom_store_append_run_event(
        s, T, o->id, json_string_value(json_object_get(o->row, "event")),
        json_object_get(o->row, "data"), NULL, &e);
    break;
  case OP_BARRIER:
    break;
  }
  json_decref(out);
  if (err && err != LOOM_ERR_NOT_FOUND)
    LOOM_WARN("persist: %s %s: %s",
              o->kind <= OP_THREAD_DELETE      ? "thread"
              : o->kind <= OP_ASSISTANT_DELETE ? "assistant"
                                               : "run",
              o->id, e.message);
  return err;
}

struct ack_post {
  struct api_persist_ack ack;
  loom_err err;
};

static void ack_deliver_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  struct ack_post *p = arg;
  p->ack.cb(p->ack.arg, p->err);
  loom_free(p);
}

/* Hands the outcome of a write to whoever waits for it, on its loop (or
 * here, on the writer, when it has none). */
static void ack_send(const struct api_persist_ack *ack, loom_err err) {
  if (!ack->cb)
    return;
  if (!ack->loop) {
    ack->cb(ack->arg, err);
    return;
  }
  struct ack_post *p = LOOM_NEW(struct ack_post);
  *p = (struct ack_post){*ack, err};
  if (loom_loop_post(ack->loop, ack_deliver_cb, p) != LOOM_OK) {
    loom_free(p);
    ack->cb(ack->arg, LOOM_ERR_UNAVAILABLE); /* see internal.h */
  }
}

/* Takes up to BATCH_MAX ops, rows first. qlock held. */
static struct op *take_batch(void) {
  struct op *head = NULL, **tail = &head;
  for (size_t n = 0; n < BATCH_MAX; n++) {
    struct op *o = lane_pop(&row_lane);
    if (!o)
      o = lane_pop(&event_lane);
    if (!o)
      break;
    o->next = NULL;
    *tail = o;
    tail = &o->next;
  }
  return head;
}

/* Writes a list of ops as one batch, then acknowledges each: with its own
 * outcome, or the commit's failure, which undid them all. */
static void write_batch(struct op *ops) {
  struct loom_error e = {0};
  bool batch = loom_store_batch_begin(app->store, &e) == LOOM_OK;
  if (!batch)
    LOOM_WARN("persist: writing without a batch: %s", e.message);
  for (struct op *o = ops; o; o = o->next)
    o->err = run_op(o);
  loom_err committed =
      batch ? loom_store_batch_end(app->store, true, &e) : LOOM_OK;
  if (committed)
    LOOM_WARN("persist: a batch of writes failed: %s", e.message);
  while (ops) {
    struct op *o = ops;
    ops = o->next;
    ack_send(&o->ack, committed ? committed : o->err);
    loom_free(o->id);
    json_decref(o->row);
    loom_free(o);
  }
}

static void *writer_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&qlock);
  for (;;) {
    struct op *ops = take_batch();
    if (!ops && writer_stop)
      break;
    if (!ops) {
      pthread_cond_wait(&qcond, &qlock);
      continue;
    }
    pthread_mutex_unlock(&qlock);
    write_batch(ops);
    pthread_mutex_lock(&qlock);
  }
  pthread_mutex_unlock(&qlock);
  return NULL;
}

static void enqueue_ack(enum op_kind kind, const char *id, json_t *row,
                        const struct api_persist_ack *ack) {
  if (!app || !app->store) {
    json_decref(row);
    if (ack)
      ack_send(ack, LOOM_OK);
    return;
  }
  struct op *o = LOOM_NEW(struct op);
  *o = (struct op){.kind = kind, .id = loom_strdup(id), .row = row};
  if (ack)
    o->ack = *ack;
  pthread_mutex_lock(&qlock);
  lane_push(kind == OP_RUN_EVENT ? &event_lane : &row_lane, o);
  bool inline_write = false;
  if (writer_stop) {
    inline_write = true; /* after shutdown: write here, at once */
  } else if (!writer_running) {
    writer_running = pthread_create(&writer, NULL, writer_main, NULL) == 0;
    inline_write = !writer_running;
  }
  struct op *ops = inline_write ? take_batch() : NULL;
  pthread_cond_signal(&qcond);
  pthread_mutex_unlock(&qlock);
  if (ops)
    write_batch(ops);
}

static void enqueue(enum op_kind kind, const char *id, json_t *row) {
  enqueue_ack(kind, id, row, NULL);
}

void api_persist_thread_ack(const struct api_thread *t,
                            const struct api_persist_ack *ack) {
  if (t->memory_only) {
    if (ack)
      ack_send(ack, LOOM_OK);
    return;
  }
  enqueue_ack(OP_THREAD_SAVE, t->id, api_thread_json(t), ack);
}

void api_persist_thread(const struct api_thread *t) {
  api_persist_thread_ack(t, NULL);
}

void api_persist_thread_delete(const char *id) {
  enqueue(OP_THREAD_DELETE, id, NULL);
}

void api_persist_assistant(const json_t *row, enum api_persist_how how) {
  const char *id = json_string_value(json_object_get(row, "assistant_id"));
  if (!id)
    return;
  const json_t *md = json_object_get(row, "metadata");
  const char *by = json_string_value(json_object_get(md, "created_by"));
  if (by && !strcmp(by, "system"))
    return; /* made again from the graph at every start */
  static const enum op_kind kinds[] = {OP_ASSISTANT_CREATE, OP_ASSISTANT_UPDATE,
                                       OP_ASSISTANT_LATEST,
                                       OP_ASSISTANT_DELETE};
  enqueue(kinds[how], id, json_deep_copy(row));
}

void api_persist_run_ack(const struct api_run *r, bool created,
                         const struct api_persist_ack *ack) {
  if (r->memory_only) {
    if (ack)
      ack_send(ack, LOOM_OK);
    return;
  }
  if (created) {
    enqueue_ack(OP_RUN_CREATE, r->id, api_run_json(r), ack);
    return;
  }
  json_t *row = json_pack("{s:s}", "status", api_run_status_name(r->status));
  const json_t *err = json_object_get(r->result, "__error__");
  if (err)
    json_object_set(row, "error", (json_t *)err);
  enqueue_ack(OP_RUN_STATUS, r->id, row, ack);
}

void api_persist_run(const struct api_run *r, bool created) {
  api_persist_run_ack(r, created, NULL);
}

void api_persist_event(const struct api_run *r, const char *event,
                       json_t *data) {
  if (!r->memory_only)
    enqueue(OP_RUN_EVENT, r->id,
            json_pack("{s:s, s:O}", "event", event, "data",
                      data ? data : json_null()));
}

void api_persist_barrier(const struct api_persist_ack *ack) {
  enqueue_ack(OP_BARRIER, "", NULL, ack);
}

void api_persist_run_delete(const struct api_run *r) {
  if (!r->memory_only)
    enqueue(OP_RUN_DELETE, r->id, NULL);
}

void api_persist_init(struct loom_app *a) {
  app = a;
  pthread_mutex_lock(&qlock);
  writer_stop = false;
  pthread_mutex_unlock(&qlock);
}

void api_persist_stop(void) {
  pthread_mutex_lock(&qlock);
  writer_stop = true;
  bool join = writer_running;
  writer_running = false;
  pthread_cond_signal(&qcond);
  pthread_mutex_unlock(&qlock);
  if (join)
    pthread_join(writer, NULL);
}

/* ---- waiting for a write on a worker thread ---- */

static void sync_done_cb(void *arg, loom_err err) {
  struct api_persist_sync *w = arg;
  pthread_mutex_lock(&w->lock);
  w->done = true;
  w->err = err;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

void api_persist_sync_init(struct api_persist_sync *w) {
  *w = (struct api_persist_sync){0};
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->cond, NULL);
  w->ack = (struct api_persist_ack){NULL, sync_done_cb, w};
}

loom_err api_persist_sync_wait(struct api_persist_sync *w) {
  pthread_mutex_lock(&w->lock);
  while (!w->done)
    pthread_cond_wait(&w->cond, &w->lock);
  pthread_mutex_unlock(&w->lock);
  pthread_mutex_destroy(&w->lock);
  pthread_cond_destroy(&w->cond);
  return w->err;
}

struct loom_store *api_store(void) {
  return app ? app->store : NULL;
}

/* ---- loading at start-up (single-threaded, before the server serves) ---- */

static void load_versions(const char *id) {
  struct loom_search q = {.limit = LOOM_SEARCH_MAX_LIMIT};
  json_t *vers = NULL;
  if (loom_store_list_assistant_versions(app->store, API_TENANT, id, &q, &vers,
                                         NULL) != LOOM_OK)
    return;
  for (size_t i = json_array_size(vers); i-- > 0;) /* oldest first */
    api_assistant_add_version(id, json_incref(json_array_get(vers, i)));
  json_decref(vers);
}

static void load_assistant(json_t *row) {
  load_versions(json_string_value(json_object_get(row, "assistant_id")));
  api_assistant_put(json_incref(row));
}

/* Whether the store has events of `r`. An unfinished run gets them back
 * in memory, so the ids of the events it emits next go on from there; a
 * finished one leaves them in the store, where replays read them. */
static bool load_events(struct api_run *r, bool finished) {
  long long after = 0;
  for (;;) {
    json_t *rows = NULL;
    if (loom_store_read_run_events(app->store, API_TENANT, r->id, after,
                                   finished ? 1 : 0, &rows, NULL) != LOOM_OK)
      return after > 0;
    size_t i, n = json_array_size(rows);
    json_t *row;
    json_array_foreach(rows, i, row) {
      after = json_integer_value(json_object_get(row, "seq"));
      if (!finished)
        api_run_restore_event(r,
                              json_string_value(json_object_get(row, "event")),
                              json_incref(json_object_get(row, "data")));
    }
    json_decref(rows);
    if (finished && n) {
      r->events_gone = true;
      return true;
    }
    if (finished || n < LOOM_SEARCH_MAX_LIMIT)
      return after > 0;
  }
}

/* A run made by POST /runs (stateless, in the background): its thread
 * goes when it ends. */
static bool is_temporary(const json_t *run_row) {
  return json_is_true(
      json_object_get(json_object_get(run_row, "kwargs"), "temporary"));
}

/* A run row back into the table. Unfinished ones are queued again. */
static void load_run(struct api_thread *t, const json_t *row) {
  struct api_run *r =
      api_run_new(json_string_value(json_object_get(row, "run_id")));
  snprintf(r->thread_id, sizeof r->thread_id, "%s", t->id);
  api_run_attach(t, r);
  const char *aid = json_string_value(json_object_get(row, "assistant_id"));
  snprintf(r->assistant_id, sizeof r->assistant_id, "%s", aid ? aid : "");
  json_t *as = api_assistant_resolve(aid);
  const char *gid = json_string_value(json_object_get(as, "graph_id"));
  r->graph_id = loom_strdup(gid ? gid : t->graph_id ? t->graph_id : "");
  r->kwargs = json_deep_copy(json_object_get(row, "kwargs"));
  if (is_temporary(row)) { /* a stateless run in the background */
    r->stateless = r->delete_thread = true;
    t->temporary = true;
  }
  r->metadata = json_deep_copy(json_object_get(row, "metadata"));
  const char *ms =
      json_string_value(json_object_get(row, "multitask_strategy"));
  r->multitask_strategy = loom_strdup(ms ? ms : "reject");
  json_decref(r->created_at);
  r->created_at = json_deep_copy(json_object_get(row, "created_at"));
  json_decref(r->updated_at);
  r->updated_at = json_deep_copy(json_object_get(row, "updated_at"));
  const char *st = json_string_value(json_object_get(row, "status"));
  static const char *const names[] = {"pending", "running", "success",
                                      "error",   "timeout", "interrupted"};
  for (size_t i = 0; st && i < sizeof names / sizeof names[0]; i++)
    if (!strcmp(st, names[i]))
      r->status = (enum api_run_status)i;
  bool stored = load_events(r, api_run_finished(r->status));
  if (!stored) /* stored before events were */
    api_run_emit(r, "*", "metadata",
                 json_pack("{s:s, s:i}", "run_id", r->id, "attempt", 1));
  if (r->status == API_RUN_RUNNING) {
    r->status = API_RUN_PENDING;
    r->recovered = true; /* continue from the last checkpoint */
  }
  if (api_run_finished(r->status)) {
    const json_t *err = json_object_get(row, "error");
    r->result = err && !json_is_null(err)
                    ? json_pack("{s:O}", "__error__", err)
                    : json_deep_copy(t->values ? t->values : json_null());
    if (!json_is_object(r->result)) {
      json_decref(r->result);
      r->result = json_object();
    }
    if (stored)
      r->ended = true; /* replays read the store (stream.c) */
    else
      api_run_emit(r, "*", "end", json_null());
  }
}

/* The thread of background stateless runs that had all ended when the
 * process stopped: its deletion was not written yet. */
static bool ended_temporary(const json_t *runs) {
  bool temporary = false;
  size_t i;
  json_t *r;
  json_array_foreach(runs, i, r) {
    const char *st = json_string_value(json_object_get(r, "status"));
    if (!st || !strcmp(st, "pending") || !strcmp(st, "running"))
      return false;
    temporary = temporary || is_temporary(r);
  }
  return temporary;
}

static void load_thread(json_t *row) {
  const char *id = json_string_value(json_object_get(row, "thread_id"));
  struct loom_search q = {.limit = LOOM_SEARCH_MAX_LIMIT, .ascending = true};
  json_t *runs = NULL;
  if (loom_store_list_runs(app->store, API_TENANT, id, &q, &runs, NULL) !=
      LOOM_OK)
    runs = json_array();
  if (ended_temporary(runs)) {
    api_persist_thread_delete(id);
    json_decref(runs);
    return;
  }
  json_t *md = json_object_get(row, "metadata");
  struct api_thread *t =
      api_thread_add(id, md ? json_deep_copy(md) : json_object());
  json_decref(t->created_at);
  t->created_at = json_deep_copy(json_object_get(row, "created_at"));
  json_decref(t->updated_at);
  t->updated_at = json_deep_copy(json_object_get(row, "updated_at"));
  const json_t *v = json_object_get(row, "values");
  t->values = json_is_object(v) ? json_deep_copy(v) : NULL;
  v = json_object_get(row, "interrupts");
  t->interrupts =
      json_is_object(v) && json_object_size(v) ? json_deep_copy(v) : NULL;
  v = json_object_get(row, "config");
  t->config = json_is_object(v) ? json_deep_copy(v) : NULL;
  const char *st = json_string_value(json_object_get(row, "status"));
  loom_free(t->status);
  t->status = loom_strdup(st && strcmp(st, "busy") ? st : "idle");
  const char *gid = json_string_value(json_object_get(md, "graph_id"));
  t->graph_id = gid ? loom_strdup(gid) : NULL;
  size_t i;
  json_t *r;
  json_array_foreach(runs, i, r) load_run(t, r);
  json_decref(runs);
  api_executor_kick(t);
}

typedef loom_err (*search_fn)(struct loom_store *s, const char *tenant,
                              const struct loom_search *q, json_t **out,
                              struct loom_error *e);

/* Every row of a table, page by page, oldest first, handed to `each`;
 * how many there were. A failed read is logged and ends the load. */
static size_t load_all(const char *what, search_fn search,
                       void (*each)(json_t *row)) {
  size_t count = 0;
  for (size_t off = 0;; off += LOOM_SEARCH_MAX_LIMIT) {
    struct loom_search q = {
        .limit = LOOM_SEARCH_MAX_LIMIT, .offset = off, .ascending = true};
    json_t *rows = NULL;
    struct loom_error e = {0};
    if (search(app->store, API_TENANT, &q, &rows, &e)) {
      LOOM_WARN("persist: cannot load %s: %s", what, e.message);
      return count;
    }
    size_t i, n = json_array_size(rows);
    json_t *row;
    json_array_foreach(rows, i, row) each(row);
    json_decref(rows);
    count += n;
    if (n < LOOM_SEARCH_MAX_LIMIT)
      return count;
  }
}

void api_persist_load(void) {
  if (!app || !app->store)
    return;
  api_lock();
  size_t na =
      load_all("assistants", loom_store_search_assistants, load_assistant);
  size_t nt = load_all("threads", loom_store_search_threads, load_thread);
  api_unlock();
  if (na || nt)
    LOOM_INFO("loaded %zu assistants and %zu threads", na, nt);
}
