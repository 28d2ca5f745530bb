/*
 * engine — runs graphs: super-steps, checkpoints, interrupts, time travel.
 *
 * A run executes a loaded graph (spec.h) on the one thread that owns it
 * (for the API: the loop or worker that took the run). Each
 * super-step runs every triggered task, applies their writes through the
 * channels' reducers in task order (node name, then fan-out index), writes
 * a checkpoint through the store, and tells subscribers. Tasks come from
 * node kinds: native plug-ins registered by name. A kind may finish a task
 * inside `start` or later (an LLM call waiting on the network): the run is
 * then parked, holding no thread, until the kind calls loom_task_done from
 * the loop that owns the run; the step continues inside that call. Work
 * finished on another thread gets back to the run with loom_task_post:
 * the engine wakes the run's owner (opts.wake_cb), which calls
 * loom_run_resume where the run may block; calls into one run are
 * always serialized (see post.c).
 *
 * Checkpoints follow LangGraph's saver model (see stores/store.h): each
 * records the channel versions, the tasks of the next step, and metadata
 * {source, step, writes}; finished tasks' writes are stored as pending
 * writes at once, so after a crash only the unfinished tasks run again.
 *
 * Threading: a run and its tasks belong to one thread. Graphs and node
 * kinds are shared and immutable. Store calls block (SQLite); the API
 * layer runs runs on a worker that may block.
 */
#ifndef LOOM_ENGINE_ENGINE_H
#define LOOM_ENGINE_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/id.h"
#include "engine/spec.h"
#include "stores/store.h"

#define LOOM_ENGINE_DEFAULT_RECURSION_LIMIT 25

struct loom_run;
struct loom_task;
struct loom_lua;

/* ---- node kinds (the plug-in interface) ---- */

struct loom_node_kind {
  const char *name; /* "lua", "llm", ...: the key that selects it in YAML */
  /*
   * Checks the node's config at load time (node->config is its mapping)
   * and may store prepared data in node->kind_data. `dir` is the spec's
   * directory for relative paths; `depth` the subgraph nesting. Returns
   * LOOM_ERR_INVALID with a message naming the field. May be NULL.
   */
  loom_err (*compile)(struct loom_node *node, const char *dir, int depth,
                      struct loom_error *e);
  /*
   * Starts one task. The kind must finish it exactly once, now or later
   * from the run's thread, with loom_task_done, loom_task_fail or
   * loom_task_interrupt.
   */
  void (*start)(struct loom_task *t);
  /* Abandons a started, unfinished task (run cancelled): afterwards the
   * kind must never finish it (the task is freed). May be NULL. */
  void (*cancel)(struct loom_task *t);
  /* Frees node->kind_data. May be NULL. */
  void (*free_data)(void *kind_data);
};

/*
 * Adds a kind to the process-wide registry. Call at start-up, before any
 * graph loads (not thread-safe against loads). LOOM_ERR_EXISTS when the
 * name is taken. The struct is borrowed for the life of the process.
 */
loom_err
loom_engine_node_kind_register(const struct loom_node_kind *kind) LOOM_MUST_USE;

/* The kind registered under `name` (built-ins: lua, interrupt, subgraph). */
const struct loom_node_kind *loom_engine_node_kind(const char *name);

/* ---- what a node kind sees of its task ---- */

const struct loom_node *loom_task_node(const struct loom_task *t);
/* "node:index" within the step; stable across retries of the step. */
const char *loom_task_id(const struct loom_task *t);
/* The state the node reads: channel values at the start of the step,
 * plus the fan-out item under its `as` name. Borrowed. */
const json_t *loom_task_state(const struct loom_task *t);
/* Fan-out item, or NULL. Borrowed. */
const json_t *loom_task_item(const struct loom_task *t);
/* Values given by Command{resume} to this task's interrupts, in order. */
size_t loom_task_resume_count(const struct loom_task *t);
const json_t *loom_task_resume(const struct loom_task *t, size_t i);
/* The run's Lua sandbox, the run, and the opaque pointer from run opts. */
struct loom_lua *loom_task_lua(struct loom_task *t);
struct loom_run *loom_task_run(struct loom_task *t);
void *loom_task_user(const struct loom_task *t);
/* Whether the run wants token deltas as events (loom_run_opts). */
bool loom_task_wants_tokens(const struct loom_task *t);
/* Sends a `custom` event to the run's subscribers (value borrowed). */
void loom_task_emit(struct loom_task *t, const json_t *value);

/* A pointer the kind keeps with a started task (its work in flight, for
 * `cancel`); NULL until set. */
void loom_task_set_state(struct loom_task *t, void *state);
void *loom_task_get_state(const struct loom_task *t);

typedef void (*loom_run_fn_cb)(void *arg);

/*
 * Runs fn(arg) later on the run's side: from any thread, e.g. the loop
 * where a model call finished. fn runs serialized with every other call
 * into the run (it may call loom_task_done). LOOM_ERR_UNAVAILABLE when
 * the run has stopped: then fn will not run. A kind must not post for a
 * task after its `cancel` returned (hold a lock shared with the cancel
 * around this call).
 */
loom_err loom_task_post(struct loom_task *t, loom_run_fn_cb fn,
                        void *arg) LOOM_MUST_USE;

/* Finishes with `writes` ({channel: value}; stolen; NULL = no writes). */
void loom_task_done(struct loom_task *t, json_t *writes);
/* Finishes with an error; the run fails with this message. */
void loom_task_fail(struct loom_task *t, loom_err code, const char *fmt, ...)
    LOOM_PRINTF(3, 4);
/* Stops for a human; `value` (stolen) is the payload shown to them. */
void loom_task_interrupt(struct loom_task *t, json_t *value);

/* ---- runs ---- */

enum loom_durability {
  LOOM_DURABILITY_SYNC,  /* every checkpoint written before the next step */
  LOOM_DURABILITY_ASYNC, /* written by a writer thread while the next step
                            runs; all written before the run stops */
  LOOM_DURABILITY_EXIT,  /* only the last checkpoint, when the run stops */
};

enum loom_run_status {
  LOOM_RUN_PENDING,     /* created, not started */
  LOOM_RUN_RUNNING,     /* executing a step */
  LOOM_RUN_WAITING,     /* parked on asynchronous tasks */
  LOOM_RUN_INTERRUPTED, /* stopped for a human; resume with a command */
  LOOM_RUN_SUCCESS,     /* nothing left to run */
  LOOM_RUN_ERROR,       /* failed; see loom_run_error */
  LOOM_RUN_CANCELLED,   /* loom_run_cancel */
};

struct loom_run_opts {
  struct loom_store *store; /* NULL: no checkpoints at all */
  const char *tenant;       /* NULL: "default" */
  const char *thread_id;    /* NULL: a new id */
  const char *ns;           /* NULL: "" (root graph) */
  /* Start from this checkpoint instead of the thread's latest (replay
   * from an older point makes a new branch). */
  const char *checkpoint_id;
  /* New input: written through the reducers, then the graph starts at
   * START. NULL: continue the thread where it stopped (after a crash, an
   * interrupt, or a fork). Borrowed. */
  const json_t *input;
  /* {"resume": value | {interrupt_id: value}, "update": {channel: value},
   * "goto": node | [node]}; borrowed; NULL for none. */
  const json_t *command;
  int recursion_limit; /* 0: 25; steps this run may take */
  enum loom_durability durability;
  /* Per-run additions to the graph's interrupt_before/after ("*": all). */
  const char *const *interrupt_before;
  size_t ninterrupt_before;
  const char *const *interrupt_after;
  size_t ninterrupt_after;
  size_t lua_memory;         /* 0: default */
  uint64_t lua_instructions; /* 0: default */
  void *user;                /* handed to node kinds (loop, clients) */
  /* Nobody listens for token-by-token output (no `messages` stream): node
   * kinds may ask a model for its answer in one piece, which costs the
   * server and loom less than a stream of deltas. */
  bool no_token_events;
  /* Nobody reads checkpoint events (no `checkpoints` or `debug` stream):
   * a run without a store then builds no checkpoint at all. */
  bool no_checkpoint_events;
  /* Nobody reads task events (no `tasks` or `debug` stream): the run
   * builds none (LOOM_EVENT_TASKS, LOOM_EVENT_TASK_RESULT). */
  bool no_task_events;
  /* Extra keys for every checkpoint's metadata (graph id, run id, ...);
   * borrowed. */
  const json_t *metadata;
  /* How a parked run gets its thread back: when work is posted to the
   * idle run (loom_task_post, loom_run_post), wake_cb(run, wake_arg) is
   * called once, on the posting thread; it must arrange for
   * loom_run_resume(run) to be called soon on a thread that may block
   * (store calls), e.g. queue it on a worker pool. Not called again until
   * that resume has drained the run. NULL: the owner blocks in
   * loom_run_wait instead. */
  void (*wake_cb)(struct loom_run *r, void *arg);
  void *wake_arg;
  /* Asked between two steps of the top run, on the thread running it:
   * true hands the run over, parked, to its owner (wake_cb is called, so
   * the rest runs wherever the owner resumes it). For a run started on a
   * thread that must not be held long, such as an HTTP loop. Needs
   * wake_cb; NULL: never. */
  bool (*yield_cb)(struct loom_run *r, void *arg);
};

enum loom_event_type {
  LOOM_EVENT_VALUES,      /* data: full state at the start, after a step */
  LOOM_EVENT_UPDATES,     /* data: {node: writes} of a step */
  LOOM_EVENT_TASKS,       /* data: [{id, name, cached, input}] starting */
  LOOM_EVENT_TASK_RESULT, /* data: {id, name, result|error|interrupts} */
  LOOM_EVENT_CHECKPOINT,  /* data: {checkpoint_id, parent_id, metadata,
                             values, next: [names], tasks} */
  LOOM_EVENT_CUSTOM,      /* data: what a node emitted */
  LOOM_EVENT_INTERRUPT,   /* data: [{id, value, node, task_id}] pending */
  LOOM_EVENT_ERROR,       /* data: {code, message} */
  LOOM_EVENT_END,         /* data: {status, values}; the last event */
};

struct loom_event {
  enum loom_event_type type;
  int step;
  const char *ns;
  /* Borrowed for the callback's duration: the run goes on changing what
   * it points into (its values), so a subscriber that keeps any part
   * keeps a deep copy, never a reference. */
  const json_t *data;
};

typedef void (*loom_event_cb)(const struct loom_event *ev, void *arg);

/* "values", "updates", ... as the LangGraph API names stream modes. */
const char *loom_event_name(enum loom_event_type type);

/*
 * Prepares a run (nothing executes yet). Strings in `opts` are copied;
 * the graph and store are borrowed and must outlive the run. Fails with
 * LOOM_ERR_INVALID for bad options (a command without a store, ...).
 */
loom_err loom_run_new(const struct loom_graph *g,
                      const struct loom_run_opts *opts, struct loom_run **out,
                      struct loom_error *e) LOOM_MUST_USE;

/* Adds an event subscriber; call before loom_run_start. Up to 8. */
void loom_run_subscribe(struct loom_run *r, loom_event_cb cb, void *arg);

/* Called once when the run stops (success, interrupt, error, cancel),
 * from whatever call finished it. */
void loom_run_on_done(struct loom_run *r,
                      void (*done_cb)(struct loom_run *r, void *arg),
                      void *arg);

/*
 * Loads the checkpoint, applies input or command, and runs steps until
 * the run stops or parks on asynchronous tasks. Returns the status then.
 * LOOM_RUN_WAITING (parked) means the run belongs to its continuations:
 * it may already be resuming on another thread, and it stops in a later
 * loom_run_resume (or loom_run_wait); do not touch it meanwhile except
 * through loom_run_post. Any other status: the run has stopped.
 */
enum loom_run_status loom_run_start(struct loom_run *r);

/*
 * Runs what was posted to a parked run (call it after wake_cb asked, on
 * the thread it chose). Returns true exactly once over the run's life,
 * from the call in which the run stopped (done_cb has run): the caller
 * may then free it. False: still parked; touch nothing more.
 */
bool loom_run_resume(struct loom_run *r);

/*
 * For owners without a loop (no wake_cb: the CLI, tests): after
 * loom_run_start returned LOOM_RUN_WAITING, runs posted continuations on
 * the calling thread until the run stops, and returns its final status.
 * Only for runs whose asynchronous kinds finish through loom_task_post.
 */
enum loom_run_status loom_run_wait(struct loom_run *r);

/*
 * Runs fn(arg) on the run's side, serialized with the run (as
 * loom_task_post does): how another thread reaches a parked run, e.g. to
 * cancel it. LOOM_ERR_UNAVAILABLE once the run has stopped (fn will not
 * run). The run must not be freed during this call.
 */
loom_err loom_run_post(struct loom_run *r, loom_run_fn_cb fn,
                       void *arg) LOOM_MUST_USE;

/* Stops at the next opportunity; started tasks are cancelled. Call on the
 * run's side (inside an event callback, or through loom_run_post). */
void loom_run_cancel(struct loom_run *r);

enum loom_run_status loom_run_status(const struct loom_run *r);
const char *loom_run_status_name(enum loom_run_status s);
/* Current channel values (borrowed). */
const json_t *loom_run_values(const struct loom_run *r);
/* Pending interrupts [{id, value, node}] when interrupted (borrowed). */
const json_t *loom_run_interrupts(const struct loom_run *r);
/* The tasks of the step the run would take next, as a checkpoint lists
 * them: [{id, name, interrupts: [], item}] (new). When interrupted, the
 * step an interrupt_before stopped, the one after an interrupt_after, or
 * the one whose nodes interrupted (its interrupts are in
 * loom_run_interrupts, keyed by these ids). */
json_t *loom_run_next_tasks(const struct loom_run *r);
/* Error when status is ERROR. */
const struct loom_error *loom_run_error(const struct loom_run *r);
const char *loom_run_thread_id(const struct loom_run *r);
/* Latest checkpoint id of the run ("" before the first). */
const char *loom_run_checkpoint_id(const struct loom_run *r);
/* Steps executed by this run. */
int loom_run_steps(const struct loom_run *r);

void loom_run_free(struct loom_run *r);

/* ---- state and time travel (blocking store calls) ---- */

/*
 * State of a thread at a checkpoint (NULL: latest): {"values", "next":
 * [node...], "tasks": [{id, name, interrupts}], "interrupts": [...],
 * "checkpoint_id", "parent_checkpoint_id", "metadata", "created_at"}.
 * LOOM_ERR_NOT_FOUND for an unknown thread or checkpoint.
 */
loom_err loom_engine_get_state(struct loom_store *store, const char *tenant,
                               const struct loom_graph *g,
                               const char *thread_id, const char *checkpoint_id,
                               json_t **out,
                               struct loom_error *e) LOOM_MUST_USE;

/* States newest first (same shape as get_state), at most `limit` (0: all),
 * older than `before_id` when given. */
loom_err loom_engine_history(struct loom_store *store, const char *tenant,
                             const struct loom_graph *g, const char *thread_id,
                             const char *before_id, size_t limit, json_t **out,
                             struct loom_error *e) LOOM_MUST_USE;

/*
 * Writes `values` ({channel: value}) through the reducers as if node
 * `as_node` (NULL: the thread's last writer, else START) wrote them, on
 * top of checkpoint `checkpoint_id` (NULL: latest), and saves a new
 * checkpoint (source "update") whose next tasks follow as_node's edges.
 * From an older checkpoint this makes a new branch. New id in `out_id`.
 */
loom_err loom_engine_update_state(struct loom_store *store, const char *tenant,
                                  const struct loom_graph *g,
                                  const char *thread_id,
                                  const char *checkpoint_id,
                                  const json_t *values, const char *as_node,
                                  char out_id[LOOM_ID_LEN + 1],
                                  struct loom_error *e) LOOM_MUST_USE;

/*
 * Copies checkpoint `checkpoint_id` as the thread's newest (source
 * "fork", parent = that checkpoint): continuing the thread (a run with no
 * input) replays from there on a new branch.
 */
loom_err loom_engine_fork(struct loom_store *store, const char *tenant,
                          const char *thread_id, const char *checkpoint_id,
                          char out_id[LOOM_ID_LEN + 1],
                          struct loom_error *e) LOOM_MUST_USE;

/* An in-memory store (checkpoints only), like LangGraph's MemorySaver:
 * for tests, benchmarks and runs that need no durability. Thread-safe. */
struct loom_store *loom_engine_memstore_new(void);

#endif
