/*
 * api/internal.h — what the LangGraph-compatible modules of src/api share:
 * the graph registry, the resource tables (assistants, threads, runs and
 * their events), the run executor, and small HTTP helpers. Not for callers
 * outside src/api.
 *
 * Threading. Handlers run on many loop threads and runs execute on the
 * worker pool, so the resource tables are shared: they are guarded by one
 * mutex (api_lock/api_unlock), held only for in-memory work, never across
 * a store call or an engine step. This is the documented exception to
 * "owned by one thread": the tables are small and every operation on them
 * is a hash lookup or a short scan.
 *
 * A run's events are appended to the run (under the lock) by whichever
 * thread executes it; readers (SSE streams, waits, joins) are watchers:
 * each has a loop, and an append posts a wake-up to that loop, where the
 * watcher reads what is new. The event list is what streams read, so a
 * reconnect with Last-Event-ID is just a watcher starting further back;
 * every event is also queued for the store (persist.c), where replays
 * read those no longer in memory (stream.c).
 */
#ifndef LOOM_API_INTERNAL_H
#define LOOM_API_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/app.h"
#include "core/err.h"
#include "core/id.h"
#include "engine/engine.h"
#include "io/http.h"
#include "io/router.h"

struct loom_graph;
struct loom_pool;
struct loom_run;

#define API_TENANT "default"

/* ---- HTTP helpers (util.c) ---- */

/* Answers {"error": code, "message": text, "detail": text}: loom's error
 * shape plus the `detail` field LangGraph clients print. */
void api_fail(struct loom_http_req *req, unsigned status, const char *code,
              const char *fmt, ...) LOOM_PRINTF(4, 5);

/* Answers a loom error with api_fail (status from the code). */
void api_fail_err(struct loom_http_req *req, const struct loom_error *e);

/* A 404 naming the kind of thing and its id. */
void api_not_found(struct loom_http_req *req, const char *what, const char *id);

/* 422 "invalid_request" with a message naming the field. */
loom_err api_invalid(struct loom_error *e, const char *field, const char *what);

/* The current time as RFC 3339 (a new JSON string). */
json_t *api_now(void);

/* Optional typed fields of a body; 422-style errors in `e` naming them.
 * `out` is left alone when the field is absent or null. */
loom_err api_opt_object(const json_t *body, const char *key, json_t **out,
                        struct loom_error *e);
loom_err api_opt_string(const json_t *body, const char *key, const char **out,
                        struct loom_error *e);
loom_err api_opt_int(const json_t *body, const char *key, long long min,
                     long long max, long long *out, struct loom_error *e);
/* A string that must be one of `choices` (NULL-terminated). */
loom_err api_opt_enum(const json_t *body, const char *key,
                      const char *const *choices, const char **out,
                      struct loom_error *e);
/* A string or a list of strings, returned as a new array (or NULL). */
loom_err api_opt_strings(const json_t *body, const char *key, json_t **out,
                         struct loom_error *e);

/* A query argument as an integer within [min, max]; `def` when absent. */
loom_err api_query_int(struct loom_http_req *req, const char *name,
                       long long def, long long min, long long max,
                       long long *out, struct loom_error *e);

/* True when every key of `filter` (object or NULL) equals in `obj`. */
bool api_json_contains(const json_t *obj, const json_t *filter);

/* A checkpoint reference as LangGraph shows it. */
json_t *api_checkpoint_ref(const char *thread_id, const char *checkpoint_id);

/*
 * Runs `work(arg)` on the pool (it may block on the store), then
 * `done(req, arg)` on the request's loop to answer. The request is
 * suspended meanwhile. `arg` belongs to the caller; free it in `done`.
 */
void api_offload(struct loom_http_req *req, void (*work)(void *arg),
                 void (*done)(struct loom_http_req *req, void *arg), void *arg);
/* The same on `pool`'s threads instead of libuv's (io/pool.h says when);
 * `done(NULL, arg)` may then run on a thread of `pool` (the loop stopped). */
void api_offload_to(struct loom_http_req *req, struct loom_pool *pool,
                    void (*work)(void *arg),
                    void (*done)(struct loom_http_req *req, void *arg),
                    void *arg);

/* Auth placeholder (the auth issue makes it real): the request's
 * `x-api-key`, or NULL; read by any handler, never checked yet. */
const char *api_request_key(const struct loom_http_req *req);
/* Passes the caller on to a run as LangGraph does: kw.config.configurable
 * gets the request's user-agent and x-* headers (names lowercased; not
 * x-api-key, x-tenant-id, x-service-key), then langgraph_auth_user {identity,
 * is_authenticated: false, display_name, permissions}, langgraph_auth_user_id
 * and langgraph_auth_permissions, the identity being "api-key:" and a digest of
 * the key (the key itself is never stored). Without a key, those fields are
 * removed (a client cannot claim an identity by writing them). */
void api_auth_configurable(const struct loom_http_req *req, json_t *kw);

/* RFC 4122 version 5 UUID of `name` in `ns` (a UUID string). */
void api_uuid5(const char *ns, const char *name, char out[LOOM_ID_LEN + 1]);

/* ---- graph registry (graphs.c) ---- */

/* A registered graph, shared by the runs using it (reference counted). */
struct api_graph {
  char *id;
  struct loom_graph *graph;
  char *file; /* where it came from; NULL when registered by API */
  int refs;   /* under the api lock */
  /* Whether a stateless wait or stream may run on the request's loop
   * instead of going to the pool and back. Only graphs whose nodes only
   * compute (Lua, interrupts, such subgraphs: no store call, no model
   * call) may; they start UNPROVEN and become QUICK once API_QUICK_RUNS
   * runs in a row on the pool each cost at most API_QUICK_MS of CPU, so a
   * heavy graph never holds a loop to find out. A QUICK graph goes to
   * the pool for good once API_QUICK_RUNS runs in a row on a loop cost
   * more: the loop serves other requests too. (CPU time: a run the
   * scheduler preempted cost the loop no more.) Written under the lock,
   * read atomically without it. */
  enum api_graph_speed {
    API_GRAPH_POOL,
    API_GRAPH_UNPROVEN,
    API_GRAPH_QUICK
  } speed;
  int streak; /* runs in a row counted towards the next change; lock */
};
#define API_QUICK_MS 5
#define API_QUICK_RUNS 3

/* Loads every spec in the colon-separated directories; bad specs are
 * logged and skipped so one typo does not stop the server. */
void api_graphs_load_dirs(struct loom_app *app, const char *dirs);

/* The graph `id` with a reference (release with api_graph_release), or
 * NULL. */
struct api_graph *api_graph_get(const char *id);
void api_graph_release(struct api_graph *g);
/* The graph `id` (borrowed: valid while the lock is held), or NULL. */
struct api_graph *api_graph_find_locked(const char *id);
/* For "not found" messages: the registered graph ids, ", "-separated,
 * then why specs in LOOM_GRAPHS did not load at start, if any, in `out`
 * (cut to `size`). Lock held. */
void api_graph_ids_locked(char *out, size_t size);
/* A stateless run of `g` that never parked cost `ms` of CPU, on a loop
 * (`on_loop`) or on the pool: counts towards its speed (see speed). */
void api_graph_timed(struct api_graph *g, uint64_t ms, bool on_loop);

/* Frees every graph (shutdown; no runs may still be executing). */
void api_graphs_free(void);

/* Graph as {nodes, edges} for drawing; and JSON Schemas of its state. */
json_t *api_graph_drawable(const struct loom_graph *g, bool xray);
json_t *api_graph_state_schema(const struct loom_graph *g);

/* ---- resource tables (tables.c); call with the lock held ---- */

void api_lock(void);
void api_unlock(void);

enum api_run_status {
  API_RUN_PENDING,
  API_RUN_RUNNING,
  API_RUN_SUCCESS,
  API_RUN_ERROR,
  API_RUN_TIMEOUT,
  API_RUN_INTERRUPTED,
};
const char *api_run_status_name(enum api_run_status s);
static inline bool api_run_finished(enum api_run_status s) {
  return s != API_RUN_PENDING && s != API_RUN_RUNNING;
}

/* One stored stream event: its id is its index + 1 in the run. */
struct api_event {
  char *mode;  /* stream mode that selects it ("values", "updates", ...) */
  char *event; /* SSE event name ("values", "updates|ns", "messages") */
  json_t *data;
};

struct api_watch;
/* Called on the watcher's loop after new events or a status change. */
typedef void (*api_watch_cb)(struct api_watch *w);

struct api_watch {
  struct loom_loop *loop;
  api_watch_cb cb;
  void *userdata;
  struct api_run *run;       /* what it watches: a run ... */
  struct api_thread *thread; /* ... or a thread (NULL once deleted) */
  bool queued;               /* a wake-up is posted and not yet delivered */
  bool detached;   /* the owner let go; free when the wake-up arrives */
  bool final_only; /* woken by `end` only (waits): no wake-up per event */
  struct api_watch *next;
};

struct api_run {
  char id[LOOM_ID_LEN + 1];
  char thread_id[LOOM_ID_LEN + 1];
  char assistant_id[LOOM_ID_LEN + 1];
  char *graph_id;
  json_t *kwargs; /* the validated run body (input, command, config ...) */
  json_t *metadata;
  char *multitask_strategy;
  json_t *created_at, *updated_at;
  enum api_run_status status;
  bool stateless;         /* /runs...: the thread is temporary */
  bool delete_thread;     /* stateless with on_completion delete */
  bool cancel;            /* cancellation asked for */
  bool rollback;          /* ... and its effects are to be undone */
  bool deleted;           /* removed from the table; freed on last ref */
  bool started;           /* handed to the executor */
  bool recovered;         /* has checkpoints of its own (a crash or stop
                             cut it): goes on from them, input not re-applied */
  bool requeue;           /* stopped by a shutdown: pending again, resumed
                             by the next process */
  bool unsaved;           /* its row is not in the store yet: the executor
                             waits (the client has no answer either) */
  bool timed_out;         /* cancelled by LOOM_RUN_TIMEOUT: ends "timeout" */
  bool all_modes;         /* makes events in every stream mode (background
                             runs; else only its stream_mode's) */
  bool memory_only;       /* never stored: a stateless run a client waits on
                             or streams (its connection is its durability) */
  struct loom_loop *loop; /* of the request that made it (NULL: loaded) */
  bool ended;             /* the `end` event was emitted */
  bool events_gone;       /* the events before the last one in memory are
                             only in the store (retired, or loaded) */
  char *start_checkpoint; /* thread's latest checkpoint when it started */
  json_t *result;         /* final values (+ __interrupt__ / __error__) */
  struct api_event *events;
  size_t nevents, capevents;
  struct api_watch *watchers;
  int refs;
};

struct api_thread {
  char id[LOOM_ID_LEN + 1];
  json_t *metadata;
  json_t *created_at, *updated_at;
  json_t *values;         /* latest values, or NULL */
  json_t *interrupts;     /* {task_id: [...]} when interrupted */
  json_t *config;         /* its last run's merged config (no identity), or
                             NULL: LangGraph's thread config */
  char *graph_id;         /* the graph of its runs */
  char *status;           /* "idle" | "busy" | "interrupted" | "error" */
  struct api_run *active; /* the run executing or about to */
  struct api_run **runs;  /* its runs in creation order (borrowed; a run
                             leaves the list when it leaves the table) */
  size_t nruns, capruns;
  bool temporary;             /* made for a stateless run */
  bool memory_only;           /* not in the store: the thread of a
                                 memory-only run, or deleted while busy */
  struct api_watch *watchers; /* woken when a run is attached, or at the
                                 thread's deletion */
};

/* Threads. */
struct api_thread *api_thread_find(const char *id);
struct api_thread *api_thread_add(const char *id, json_t *metadata);
void api_thread_remove(struct api_thread *t);
json_t *api_thread_json(const struct api_thread *t);
/* Calls `each` for every thread (stops when it returns false). */
void api_threads_each(bool (*each)(struct api_thread *t, void *arg), void *arg);

/* Assistants are JSON rows: {assistant_id, graph_id, config, context,
 * metadata, name, description, version, created_at, updated_at}. */
json_t *api_assistant_find(const char *id); /* borrowed */
void api_assistant_put(json_t *row);        /* steals */
void api_assistant_remove(const char *id);
/* Every version of an assistant (borrowed array, oldest first). */
json_t *api_assistant_versions(const char *id);
void api_assistant_add_version(const char *id, json_t *row); /* steals */
void api_assistants_each(bool (*each)(json_t *row, void *arg), void *arg);
/* An assistant id or a graph id (its system assistant) → the row. */
json_t *api_assistant_resolve(const char *id_or_graph);
/* Makes the system assistant of a graph (uuid5 of the graph id). */
void api_assistant_ensure_system(const char *graph_id);

/* Runs. */
/* A run added to the table (its reference is the table's); id NULL makes
 * a new one. */
struct api_run *api_run_new(const char *id);
struct api_run *api_run_find(const char *id);
void api_run_ref(struct api_run *r);
void api_run_unref(struct api_run *r);
void api_run_remove(struct api_run *r); /* from the table */
json_t *api_run_json(const struct api_run *r);
void api_runs_each(bool (*each)(struct api_run *r, void *arg), void *arg);
/* Oldest pending run of a thread, or NULL. */
struct api_run *api_run_next_pending(const char *thread_id);
/* Lists the run under its thread (r->thread_id must be set). */
void api_run_attach(struct api_thread *t, struct api_run *r);
/* Calls `each` for the runs of one thread, oldest first. */
void api_thread_runs_each(struct api_thread *t,
                          bool (*each)(struct api_run *r, void *arg),
                          void *arg);

/* Appends an event (data stolen), queues it for the store and wakes the
 * watchers. */
void api_run_emit(struct api_run *r, const char *mode, const char *event,
                  json_t *data);
/* Appends an event read back from the store (data stolen): no store
 * write, no wake-up. */
void api_run_restore_event(struct api_run *r, const char *event, json_t *data);
/* The stream mode of an event name ("updates|ns" → "updates"; metadata,
 * error and end → "*"), written into `buf`. */
const char *api_event_mode(const char *event, char *buf, size_t size);
/* Keeps the stream events of the last API_KEEP_EVENTS_RUNS finished runs
 * whole; older ones keep their ids and their final event, and lose their
 * data (a late Last-Event-ID reconnect then gets `end`). Call when `r`
 * finished. */
#define API_KEEP_EVENTS_RUNS 1000
void api_run_retire(struct api_run *r);

/* Wakes the watchers (status changed). */
void api_run_wake(struct api_run *r);

/* Watchers: `cb` runs on `loop` after each wake-up, and once at the
 * start; with `final_only`, only after the run's `end` (a wait has no use
 * for each event, and each wake-up is a cross-thread post). */
struct api_watch *api_watch_add(struct api_run *r, struct loom_loop *loop,
                                bool final_only, api_watch_cb cb,
                                void *userdata);
/* Watches a thread: `cb` runs on `loop` after a run is attached to it
 * and when it is deleted (then w->thread is NULL), and once at the start. */
struct api_watch *api_thread_watch_add(struct api_thread *t,
                                       struct loom_loop *loop, api_watch_cb cb,
                                       void *userdata);
/* Stops a run or thread watcher; safe while a wake-up is in flight. */
void api_watch_remove(struct api_watch *w);

/* ---- how a run's engine run starts, from its body (run_start.c) ---- */

/* The strings of JSON array `v` (borrowed; NULL for non-strings), in a
 * new array of *n (free it, not them). */
const char **api_string_list(const json_t *v, size_t *n);
/* The body's `durability` (unset: sync; see why there). */
enum loom_durability api_run_durability(const json_t *kwargs);
/* Sets r->start_checkpoint to the thread's latest checkpoint in `store`,
 * and r->recovered when this very run wrote it (before a crash). */
void api_run_find_start(struct api_run *r, struct loom_store *store);
/* As LangGraph's server makes a run from its assistant and thread:
 * kw.config gets the assistant's config keys, then the thread's (its
 * config, thread_config, may be NULL), under the body's; configurable
 * merged key by key in the same order (identity keys only from the body);
 * kw.context the assistant's then the body's ({} at least). Changes kw in
 * place. */
void api_run_merge_config(json_t *kw, const json_t *assistant,
                          const json_t *thread_config);
/* The thread's config after a run made from kw (merged as above): kw's
 * config without its metadata and identity keys (new). */
json_t *api_run_thread_config(const json_t *kw);
/* A run's metadata (new): the assistant's, then the thread's, then the
 * body's (kw.metadata), later keys winning. */
json_t *api_run_merge_metadata(const json_t *assistant,
                               const json_t *thread_metadata, const json_t *kw);
/* Puts the run's ids in r->kwargs.config.configurable, its metadata in
 * kwargs.config.metadata, and LangGraph's temporary, subgraphs and
 * resumable flags in kwargs, as the JS server shows a run. */
void api_run_stamp_kwargs(struct api_run *r);
/* For the run's checkpoints (new): the scalar keys of its configurable
 * that are not LangGraph's own, then its metadata, then its ids. */
json_t *api_run_checkpoint_metadata(const struct api_run *r);
/* The checkpoint the body asks to start from, or NULL for the latest. */
const char *api_run_start_checkpoint_id(const struct api_run *r);
/* Whether a stateless run reads checkpoints back, so needs a store. */
bool api_run_needs_store(const json_t *kw);

/* ---- stream events from engine events (run_events.c) ---- */

struct loom_event;
/* The stream modes `r` makes events for, as bits (every mode for a
 * background run, else those of its stream_mode). */
unsigned api_run_modes(const struct api_run *r);
/* Whether `modes` show model tokens as they come (`custom`, `messages`,
 * `messages-tuple`, `events`); without, a run's model calls answer in one
 * piece. */
bool api_run_modes_want_tokens(unsigned modes);
/* Whether `modes` show checkpoints (`checkpoints`, `debug`). */
bool api_run_modes_want_checkpoints(unsigned modes);
/* Whether `modes` show tasks (`tasks`, `debug`, `events`). */
bool api_run_modes_want_tasks(unsigned modes);
/* What making a run's stream events remembers from one engine event to
 * the next; only the thread running the engine run touches it. */
struct api_run_events {
  unsigned modes;   /* the stream modes made (api_run_modes) */
  json_t *usage;    /* model tokens and cost, summed (agents/llm_usage.h) */
  json_t *partials; /* mode messages: the message ids seen (-> true) */
  bool graph_begun; /* mode events: on_chain_start of the graph sent */
};
/* Frees what `st` holds. */
void api_run_events_cleanup(struct api_run_events *st);

/* ---- messages/partial events: kept as deltas, sent whole (partials.c) ---- */

/* The data a messages/partial event is kept with: the message's id and
 * the text this delta adds (new). */
json_t *api_partial_delta(const char *id, const char *text);
/* A message as messages/partial sends it: [{content: text (len bytes),
 * type: "ai", id, ...}] (new). */
json_t *api_partial_message(const char *id, const char *text, size_t len);
/* What a stream keeps to send messages/partial events whole: each
 * message's text so far. Zeroed to start; one stream, one run. */
struct api_partials {
  json_t *slots;          /* message id -> index in texts */
  struct loom_buf *texts; /* capped at an answer's cap (agents/llm.h) */
  size_t n, cap;
};
void api_partials_cleanup(struct api_partials *p);
/* Adds event `event`'s delta, if it is a kept delta, to its message: for
 * the events a stream walks without sending them. */
void api_partials_feed(struct api_partials *p, const char *event,
                       const json_t *data);
/* The data event `event` is sent with (new): a kept delta is added to its
 * message and becomes the message so far; any other event's data is
 * `data` itself. */
json_t *api_partials_wire(struct api_partials *p, const char *event,
                          const json_t *data);
/* Appends the stream events of engine event `ev` to `r` for the modes in
 * `st` (the api lock is taken to append: call without it); model usage in
 * custom events is summed into st->usage. Returns whether the run is to
 * cancel. */
bool api_run_engine_event(struct api_run *r, struct api_run_events *st,
                          const struct loom_event *ev);
/* Engine interrupts as LangGraph lists them: [{value, id}] (new). */
json_t *api_interrupt_list(const json_t *engine_interrupts);

/* ---- executor (executor.c) ---- */

/* Starts the executor (keeps `app`). */
void api_executor_init(struct loom_app *app);

/* Called after a run was created or a thread became free: starts the next
 * pending run of the thread if none is active. Lock held. */
void api_executor_kick(struct api_thread *t);

/* Runs stateless run `r` (just made, not kicked) to its end, or until it
 * parks or has cost the thread API_QUICK_MS of CPU (then it yields at its
 * next step and goes on on the pool), on the calling loop thread: for
 * quick graphs, where handing it to the pool and back costs more than the
 * run. `no_events`: nobody can read
 * its stream (a wait), so it makes none but metadata and end. Lock NOT
 * held. */
void api_executor_run_here(struct api_run *r, bool no_events);

/* Asks a pending or running run to stop; `rollback` undoes its writes.
 * Lock held. */
void api_executor_cancel(struct api_run *r, bool rollback);

/* Shutdown: starts no more runs and stops the running ones at their next
 * step, leaving them pending for the next process. Lock NOT held. */
void api_executor_stop(void);

/* ---- persistence (persist.c): write-behind of the rows to the store ---- */

enum api_persist_how {
  API_PERSIST_CREATE,
  API_PERSIST_UPDATE, /* the row's changed fields, as a patch */
  API_PERSIST_LATEST, /* the row's version becomes the current one */
  API_PERSIST_DELETE,
};

/* Someone waiting for a write: cb(arg, err) runs on `loop` once the row is
 * in the store (err: how the write went); `loop` NULL: on the writer
 * thread. When the loop is stopping, cb runs on the writing thread with
 * LOOM_ERR_UNAVAILABLE instead: it must then only release what `arg`
 * holds. */
struct api_persist_ack {
  struct loom_loop *loop;
  void (*cb)(void *arg, loom_err err);
  void *arg;
};

/* A thread that may block (a worker) waiting for its writes: pass `ack`
 * to the write (lock held as usual), then wait with the lock released. */
struct api_persist_sync {
  struct api_persist_ack ack;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done;
  loom_err err;
};
void api_persist_sync_init(struct api_persist_sync *w);
/* Returns how the write went; `w` is cleaned up. */
loom_err api_persist_sync_wait(struct api_persist_sync *w);

void api_persist_init(struct loom_app *app);
/* Writes what is queued and stops the writer thread; later writes are
 * made at once by whoever queues them. Call once every loop stopped, before
 * the store closes. */
void api_persist_stop(void);
/* The store the rows go to (NULL when there is none). */
struct loom_store *api_store(void);
/* Loads assistants, threads and runs; queues unfinished runs again. */
void api_persist_load(void);
/* Each queues a snapshot (lock held by the caller where it reads tables). */
void api_persist_thread(const struct api_thread *t);
void api_persist_thread_delete(const char *id);
void api_persist_assistant(const json_t *row, enum api_persist_how how);
void api_persist_run(const struct api_run *r, bool created);
void api_persist_run_delete(const struct api_run *r);
/* The same, acknowledged (see api_persist_ack; `ack` NULL: none). Stateless
 * runs and temporary threads are acknowledged at once. */
void api_persist_thread_ack(const struct api_thread *t,
                            const struct api_persist_ack *ack);
void api_persist_run_ack(const struct api_run *r, bool created,
                         const struct api_persist_ack *ack);
/* Acknowledges (see api_persist_ack) once every row write queued before
 * it is in the store: what makes an answer wait for earlier writes. */
void api_persist_barrier(const struct api_persist_ack *ack);
/* Queues a stream event of a run (data borrowed: a reference is taken). */
void api_persist_event(const struct api_run *r, const char *event,
                       json_t *data);

/* Applies thread-creation supersteps (each update as
 * loom_engine_update_state with its as_node) on the pool, then answers the
 * thread (state.c). Takes the reference on `g`; `steps` is copied. */
void api_thread_supersteps(struct loom_http_req *req, const char *thread_id,
                           struct api_graph *g, const json_t *steps);

/* Webhooks (webhook.c) follow the LOOM_WEBHOOK_* settings of `config`
 * (kept; NULL: the defaults). Call before serving. */
void api_webhook_init(const struct loom_config *config);

/* Checks a run's `webhook` URL before the run is created, without
 * resolving anything: LOOM_ERR_INVALID ("webhook: ...", for a 422) when it
 * is malformed, not http(s), carries credentials, names a host outside
 * LOOM_WEBHOOK_ALLOWED_DOMAINS or an address that is not public (unless
 * LOOM_WEBHOOK_ALLOW_PRIVATE); the message names the setting to change. */
loom_err api_webhook_check(const char *url, struct loom_error *e) LOOM_MUST_USE;

/* POSTs `payload` (stolen: a run, for its run_id in the log) to `url`
 * from the calling loop, after checking the URL again and resolving its
 * host to addresses that are all allowed, which the POST is pinned to. A
 * refusal or failure is logged with the reason; the run is never
 * changed. */
void api_webhook_send(const char *url, json_t *payload);

/* ---- routes of each module ---- */
loom_err api_graph_routes(struct loom_http_router *r, struct loom_app *app,
                          struct loom_error *e);
loom_err api_assistant_routes(struct loom_http_router *r, struct loom_app *app,
                              struct loom_error *e);
loom_err api_thread_routes(struct loom_http_router *r, struct loom_app *app,
                           struct loom_error *e);
loom_err api_state_routes(struct loom_http_router *r, struct loom_app *app,
                          struct loom_error *e);
loom_err api_run_manage_routes(struct loom_http_router *r, struct loom_app *app,
                               struct loom_error *e);
loom_err api_run_routes(struct loom_http_router *r, struct loom_app *app,
                        struct loom_error *e);
/* LangGraph's long-term memory store, /store/... (store_items.c). */
loom_err api_store_routes(struct loom_http_router *r, struct loom_app *app,
                          struct loom_error *e);

/* ---- streaming (stream.c) ---- */

/* Parses stream_mode (string or list) into a new array; default
 * ["values"]. */
loom_err api_stream_modes(const json_t *body, json_t **out,
                          struct loom_error *e);
/* The stream modes a GET names in its query (?stream_mode=a&stream_mode=b),
 * checked as api_stream_modes does; *out stays NULL when it names none
 * (or LangGraph's "run_modes"): the run's own. */
loom_err api_stream_query_modes(struct loom_http_req *req, json_t **out,
                                struct loom_error *e);

/* Answers `req` with an SSE stream of run `r` (ref taken), replaying
 * events after `after_seq`, filtered by `modes` (borrowed; NULL = all). On
 * a disconnect, cancels the run when `cancel_on_disconnect`. Lock NOT
 * held. */
void api_stream_run(struct loom_http_req *req, struct api_run *r,
                    const json_t *modes, size_t after_seq,
                    bool cancel_on_disconnect);

/* Whether a stream with `modes` (NULL: all) shows an event of `mode`
 * named `event` ("*" always; subgraph events "mode|ns" only with
 * `subgraphs`). */
bool api_stream_selected(const json_t *modes, bool subgraphs, const char *mode,
                         const char *event);

/* GET /threads/{thread_id}/stream[?stream_mode=...] with Last-Event-ID
 * (thread_stream.c): the SSE stream of the thread's active run, then of
 * each run after it, as they come, until the client leaves or the thread
 * is deleted (404 when there is none). Event ids are "<run_id>:<n>". */
void api_thread_stream_cb(struct loom_http_req *req, void *ud);

/* Answers `req` with the run's result once it finishes (wait / join). */
void api_wait_run(struct loom_http_req *req, struct api_run *r,
                  bool cancel_on_disconnect);

#endif
