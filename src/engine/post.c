/*
 * post — getting back onto a run from other threads, so a run parked on
 * asynchronous work holds no thread.
 *
 * Every root run has a mailbox: a mutex-protected FIFO of continuations
 * (fn, arg). A node kind whose work finishes elsewhere (a model call on
 * the model loop) posts its continuation with loom_task_post; the
 * continuation then calls loom_task_done from the run's side. Calls into a
 * run stay serialized, one thread at a time: `active` is true while a
 * thread is inside the run (loom_run_start, loom_run_resume). A post that
 * finds the run idle marks it active and wakes the owner once through the
 * run's wake_cb; the owner calls loom_run_resume, which runs continuations
 * until the box is empty, then marks the run idle again. Subgraph runs
 * share their root's box (they run on its thread).
 *
 * A run that yields between steps (its owner's yield_cb) hands its
 * continuation over: the thread inside leaves without running it and
 * wakes the owner, as a post to an idle run would, so the rest of the run
 * goes on where the owner resumes it.
 *
 * When a root run stops the box closes (later posts are refused), and the
 * call that drained it last reports the stop to its caller exactly once,
 * so the caller knows when it may free the run. Without a wake_cb the
 * owner blocks in loom_run_wait, woken by a condition variable.
 */
#include <stdlib.h>

#include "core/alloc.h"
#include "engine/internal.h"

struct posted {
  loom_run_fn_cb fn;
  void *arg;
  struct posted *next;
};

void loom_engine_mailbox_init(struct loom_run *r) {
  struct mailbox *m = &r->mbox;
  pthread_mutex_init(&m->mu, NULL);
  pthread_cond_init(&m->cv, NULL);
  /* The creator is "inside" until loom_run_start returns: a post before
   * that (a cancel) waits for start's drain instead of waking anyone. */
  m->active = true;
}

void loom_engine_mailbox_cleanup(struct loom_run *r) {
  struct mailbox *m = &r->mbox;
  while (m->head) { /* refused work: its owner was told it would not run */
    struct posted *p = m->head;
    m->head = p->next;
    loom_free(p);
  }
  pthread_mutex_destroy(&m->mu);
  pthread_cond_destroy(&m->cv);
}

void loom_engine_mailbox_close(struct loom_run *r) {
  if (r->root != r)
    return;
  pthread_mutex_lock(&r->mbox.mu);
  r->mbox.closed = true;
  pthread_cond_broadcast(&r->mbox.cv);
  pthread_mutex_unlock(&r->mbox.mu);
}

void loom_engine_mailbox_enter(struct loom_run *r) {
  pthread_mutex_lock(&r->mbox.mu);
  r->mbox.active = true;
  pthread_mutex_unlock(&r->mbox.mu);
}

void loom_engine_mailbox_hand_over(struct loom_run *r, loom_run_fn_cb fn,
                                   void *arg) {
  struct posted *p = LOOM_NEW(struct posted);
  p->fn = fn;
  p->arg = arg;
  struct mailbox *m = &r->mbox;
  pthread_mutex_lock(&m->mu);
  if (m->tail)
    m->tail->next = p;
  else
    m->head = p;
  m->tail = p;
  m->handover = true;
  pthread_mutex_unlock(&m->mu);
}

/* Pops one continuation, or (box empty) marks the run idle; *stopped is
 * true when the run stopped and this is the first to see it. After a
 * hand-over, pops nothing and sets *wake: the run stays active, for the
 * owner to resume. */
static struct posted *pop_or_leave(struct loom_run *r, bool *stopped,
                                   bool *wake) {
  struct mailbox *m = &r->mbox;
  pthread_mutex_lock(&m->mu);
  if (m->handover) {
    m->handover = false;
    *wake = true;
    pthread_mutex_unlock(&m->mu);
    return NULL;
  }
  struct posted *p = m->head;
  if (p) {
    m->head = p->next;
    if (!m->head)
      m->tail = NULL;
  } else {
    m->active = false;
    *stopped = m->closed && !m->reported;
    m->reported |= m->closed;
  }
  pthread_mutex_unlock(&m->mu);
  return p;
}

bool loom_engine_mailbox_leave(struct loom_run *r) {
  bool stopped = false, wake = false;
  struct posted *p;
  while ((p = pop_or_leave(r, &stopped, &wake))) {
    p->fn(p->arg);
    loom_free(p);
  }
  if (wake) /* the last touch: the owner may resume it at once */
    r->wake_cb(r, r->wake_arg);
  return stopped;
}

loom_err loom_run_post(struct loom_run *r, loom_run_fn_cb fn, void *arg) {
  r = r->root;
  struct mailbox *m = &r->mbox;
  struct posted *p = LOOM_NEW(struct posted);
  p->fn = fn;
  p->arg = arg;
  pthread_mutex_lock(&m->mu);
  if (m->closed) {
    pthread_mutex_unlock(&m->mu);
    loom_free(p);
    return LOOM_ERR_UNAVAILABLE;
  }
  if (m->tail)
    m->tail->next = p;
  else
    m->head = p;
  m->tail = p;
  bool wake = !m->active && r->wake_cb;
  if (wake)
    m->active = true; /* one wake per idle spell: the owner drains it all */
  if (!r->wake_cb)
    pthread_cond_broadcast(&m->cv);
  pthread_mutex_unlock(&m->mu);
  /* Safe after unlocking: the run is active, so nobody frees it before
   * the owner has drained the box. */
  if (wake)
    r->wake_cb(r, r->wake_arg);
  return LOOM_OK;
}

loom_err loom_task_post(struct loom_task *t, loom_run_fn_cb fn, void *arg) {
  return loom_run_post(t->run, fn, arg);
}

bool loom_run_resume(struct loom_run *r) {
  return loom_engine_mailbox_leave(r->root);
}

enum loom_run_status loom_run_wait(struct loom_run *r) {
  struct mailbox *m = &r->mbox;
  for (;;) {
    pthread_mutex_lock(&m->mu);
    while (!m->head && !m->closed && r->status == LOOM_RUN_WAITING)
      pthread_cond_wait(&m->cv, &m->mu);
    struct posted *p = m->head;
    if (p) {
      m->head = p->next;
      if (!m->head)
        m->tail = NULL;
    } else {
      m->reported = true;
    }
    pthread_mutex_unlock(&m->mu);
    if (!p)
      return r->status;
    p->fn(p->arg);
    loom_free(p);
  }
}
