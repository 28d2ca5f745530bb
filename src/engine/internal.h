/*
 * internal — what the engine's modules share and nobody else sees: the run
 * and task structs, and the seams between spec, scheduler, reducers and
 * checkpoints.
 */
#ifndef LOOM_ENGINE_INTERNAL_H
#define LOOM_ENGINE_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "core/err.h"
#include "core/id.h"
#include "engine/doc.h"
#include "engine/engine.h"
#include "engine/spec.h"

#define RUN_MAX_SUBSCRIBERS 8
/* Pending-write channels with engine meaning (never real channels). */
#define W_INTERRUPT "__interrupt__"
#define W_RESUME "__resume__"
#define W_DONE "__done__"
#define W_ERROR "__error__"

enum task_state {
  TASK_READY,       /* created, not started */
  TASK_RUNNING,     /* started, waiting for the kind to finish it */
  TASK_DONE,        /* writes ready */
  TASK_FAILED,      /* error set */
  TASK_INTERRUPTED, /* waiting for a human */
};

struct loom_task {
  struct loom_run *run;
  const struct loom_node *node;
  char id[160];   /* "node:index" */
  json_t *item;   /* fan-out item or NULL */
  json_t *view;   /* state the node reads */
  json_t *resume; /* array of resume values */
  enum task_state state;
  bool cached;       /* finished before a crash: writes from the store */
  json_t *writes;    /* object */
  json_t *interrupt; /* {"id","value","node"} when interrupted */
  struct loom_error err;
  void *kind_state; /* the kind's, while the task runs */
};

/* post.c: continuations posted to a root run from other threads. */
struct posted;
struct mailbox {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* no wake_cb: loom_run_wait sleeps here */
  struct posted *head, *tail;
  bool active;   /* a thread is inside the run, or has been woken to be */
  bool closed;   /* the run stopped: posts are refused */
  bool reported; /* the stop was reported to the owner */
  bool handover; /* the run yielded: the thread inside leaves its posts
                    to the owner's resume (wake_cb) instead of running them */
};

struct subscriber {
  loom_event_cb cb;
  void *arg;
};

struct loom_run {
  const struct loom_graph *g;
  struct loom_store *store;
  char *tenant, *thread_id, *ns, *from_checkpoint;
  json_t *input, *command, *metadata;
  int recursion_limit;
  enum loom_durability durability;
  json_t *before, *after; /* node-name arrays: graph's plus the run's */
  void *user;
  bool no_token_events;
  bool no_checkpoint_events;
  bool no_task_events;
  struct loom_lua *lua; /* NULL until a Lua chunk runs: loom_engine_lua */
  size_t lua_memory;
  uint64_t lua_instructions;
  uint64_t version_seed; /* random per run: version suffixes */

  enum loom_run_status status;
  struct loom_error error;
  json_t *values;         /* channel -> value */
  json_t *versions;       /* channel -> version string */
  json_t *saved_versions; /* channel -> version last written as a blob */
  json_t *next;           /* [{"node", "item"?, "as"?}]: tasks of this step */
  json_t *pending;        /* pending writes of the current checkpoint */
  json_t *interrupts;     /* pending interrupts when INTERRUPTED */
  int step;               /* step number of the current checkpoint */
  int steps_run;
  bool skip_before; /* resuming: do not stop again before these */
  char checkpoint_id[LOOM_ID_LEN + 1];
  char parent_id[LOOM_ID_LEN + 1];
  size_t writer_pending; /* async durability: jobs queued (writer.c) */
  struct loom_error writer_err;
  json_t *queued_versions; /* async: versions handed to the writer */
  json_t *unsaved;         /* exit durability: the checkpoint to write */
  json_t *unsaved_writes;  /* [{checkpoint_id, task_id, writes}] likewise */
  char persisted_id[LOOM_ID_LEN + 1]; /* newest checkpoint in the store */

  struct loom_task *tasks;
  size_t ntasks, nfinished;
  bool dispatching; /* inside the start loop: finishing is recorded */
  bool cancelled;

  struct loom_run **children; /* subgraph runs, freed with this run */
  size_t nchildren;
  struct loom_task *parent_task; /* for a subgraph run */
  struct loom_run *root;         /* this run, or the subgraph's top run */
  void (*wake_cb)(struct loom_run *r, void *arg);
  void *wake_arg;
  bool (*yield_cb)(struct loom_run *r, void *arg);
  struct mailbox mbox; /* used on the root only */

  struct subscriber subs[RUN_MAX_SUBSCRIBERS];
  size_t nsubs;
  void (*done_cb)(struct loom_run *r, void *arg);
  void *done_arg;
};

/* lifecycle.c: the run's sandbox, made (or reused) on first use. */
struct loom_lua *loom_engine_lua(struct loom_run *r);

/* spec.c */
loom_err loom_graph_build(const struct loom_doc *doc, const json_t *root,
                          const char *file, const char *dir, int depth,
                          struct loom_graph **out, struct loom_error *e);
loom_err loom_graph_load_file_depth(const char *path, int depth,
                                    struct loom_graph **out,
                                    struct loom_error *e);

/* kinds.c */
const char *loom_engine_node_kind_names(void);

/* reducers.c: applies `value` to channel `ch` of `values` (new value
 * stored; the old one is never mutated). */
loom_err loom_engine_reduce(struct loom_lua *lua, const struct loom_channel *ch,
                            json_t *values, const json_t *value,
                            struct loom_error *e);
/* Channel values before anything is written: the defaults. */
json_t *loom_engine_initial_values(const struct loom_graph *g);
/* Applies {channel: value} writes in order; `node` names the writer in
 * messages; `seen` (object) tracks replace channels written this step. */
loom_err loom_engine_apply_writes(struct loom_run *r, const char *node,
                                  const json_t *writes, json_t *seen,
                                  struct loom_error *e);

/* edges.c: appends the tasks that follow `node` (run on `values`) to
 * `next`. */
loom_err loom_engine_successors(struct loom_run *r, const char *node,
                                const json_t *values, json_t *next,
                                struct loom_error *e);

/* checkpoint.c */
/* {node: writes} -> {node: [channels]}: metadata names what changed; the
 * values live in the blobs, so a large write is not stored twice. */
json_t *loom_engine_written(const json_t *updates);
loom_err loom_engine_load(struct loom_run *r, struct loom_error *e);
/* load.c: the task LangGraph's input checkpoint waits on. */
#define LOOM_START_TASK "__start__"
/* Whether the run stands at an input checkpoint (its one next task is
 * __start__): its start step is still to be taken. */
bool loom_engine_at_start(const struct loom_run *r);
/* Takes the start step: applies the input kept as the pending writes of
 * __start__:0, finds the first nodes and saves a "loop" checkpoint. */
loom_err loom_engine_start_step(struct loom_run *r, struct loom_error *e);
loom_err loom_engine_save(struct loom_run *r, const char *source,
                          json_t *writes_meta, struct loom_error *e);
loom_err loom_engine_flush(struct loom_run *r, struct loom_error *e);
loom_err loom_engine_write_record(struct loom_run *r, json_t *rec,
                                  struct loom_error *e);

/* writer.c (durability async): jobs run in order on a writer thread. Pass
 * a checkpoint record or a writes job (stolen). Errors stick and come back
 * from later pushes and from drain. */
loom_err loom_engine_writer_push(struct loom_run *r, json_t *rec,
                                 json_t *writes, struct loom_error *e);
loom_err loom_engine_writer_drain(struct loom_run *r, struct loom_error *e);
loom_err loom_engine_put_writes(struct loom_run *r, const char *task_id,
                                json_t *writes, struct loom_error *e);
/* state.c: a checkpoint's next tasks as LangGraph shows them: the node
 * names, and [{id, name, interrupts}] with the ids the scheduler will give
 * them and the interrupts in `pending` no resume answers (also appended to
 * `all_interrupts` when it is not NULL). */
json_t *loom_engine_next_names(const json_t *next);
json_t *loom_engine_next_tasks(const json_t *next, const json_t *pending,
                               json_t *all_interrupts);
/* Deterministic interrupt id from checkpoint, task and ordinal. */
void loom_engine_interrupt_id(const char *checkpoint_id, const char *task_id,
                              size_t n, char out[33]);

/* post.c */
void loom_engine_mailbox_init(struct loom_run *r);
void loom_engine_mailbox_cleanup(struct loom_run *r);
/* The root run stopped: later posts are refused. */
void loom_engine_mailbox_close(struct loom_run *r);
/* A thread enters the run / leaves it after running what was posted
 * meanwhile; leave returns true once, when the run has stopped. */
void loom_engine_mailbox_enter(struct loom_run *r);
bool loom_engine_mailbox_leave(struct loom_run *r);
/* From inside the run: queues fn(arg) for the owner's next resume; the
 * thread inside leaves without running it and calls wake_cb. */
void loom_engine_mailbox_hand_over(struct loom_run *r, loom_run_fn_cb fn,
                                   void *arg);

/* scheduler.c */
void loom_engine_task_finished(struct loom_task *t);
/* Runs steps while the run is RUNNING. */
void loom_engine_drive(struct loom_run *r);
void loom_engine_emit(struct loom_run *r, enum loom_event_type type,
                      const json_t *data);

#endif
