/*
 * parked — the bookkeeping every node kind needs whose task parks its run
 * while the work happens on another thread (a model call on a model loop,
 * a search on retrieval's threads).
 *
 * Embed a struct loom_parked at the start of the job. Two references to
 * start with: the task's and the worker's. When the work is done the
 * worker posts a continuation to the run with loom_parked_post, which
 * posts nothing once the task was cancelled; the continuation, on the
 * run's side, gets the task back from loom_parked_claim (NULL when a
 * cancel came first). The node kind's cancel calls loom_parked_cancel,
 * which detaches the task under the job's mutex, so nothing is posted for
 * it afterwards. The job is freed (its free_cb) with the last reference.
 */
#ifndef LOOM_ENGINE_PARKED_H
#define LOOM_ENGINE_PARKED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "engine/engine.h"

struct loom_parked {
  atomic_int refs;
  pthread_mutex_t mu; /* guards t and cancelled (and whatever the job adds) */
  struct loom_task *t;
  bool cancelled;
  void (*free_cb)(struct loom_parked *p); /* frees the job around it */
};

/* Sets `p` up for task `t` with two references (the task's and the
 * worker's) and makes it the task's state. */
void loom_parked_init(struct loom_parked *p, struct loom_task *t,
                      void (*free_cb)(struct loom_parked *p));

void loom_parked_ref(struct loom_parked *p);
/* Drops a reference; the last destroys the mutex and calls free_cb. */
void loom_parked_unref(struct loom_parked *p);

/* The work could not be handed to the worker: detaches `p` from its task
 * and drops both references (failing the task is the caller's). */
void loom_parked_abandon(struct loom_parked *p);

/*
 * Worker side: posts fn(arg) to the task's run unless the task was
 * cancelled. False when nothing was posted (the reference meant for the
 * continuation is still the caller's).
 */
bool loom_parked_post(struct loom_parked *p, loom_run_fn_cb fn, void *arg);

/*
 * Run side, in the continuation that ends the work: the task, detached
 * from `p` (its state cleared), or NULL when the task was cancelled. The
 * caller then finishes the task (loom_task_done / loom_task_fail).
 */
struct loom_task *loom_parked_claim(struct loom_parked *p);

/*
 * Run side, in the node kind's cancel: marks the job of task `t`
 * cancelled and detaches it; returns the job (the task's reference is now
 * the caller's to drop), or NULL when `t` has none.
 */
struct loom_parked *loom_parked_cancel(struct loom_task *t);

#endif
