/*
 * parked — see parked.h. The mutex orders a worker's post against a
 * cancel: a post under it sees `cancelled`, so after loom_parked_cancel
 * returns nothing more is posted for the task.
 */
#include "engine/parked.h"

void loom_parked_init(struct loom_parked *p, struct loom_task *t,
                      void (*free_cb)(struct loom_parked *p)) {
  atomic_init(&p->refs, 2);
  pthread_mutex_init(&p->mu, NULL);
  p->t = t;
  p->cancelled = false;
  p->free_cb = free_cb;
  loom_task_set_state(t, p);
}

void loom_parked_ref(struct loom_parked *p) { atomic_fetch_add(&p->refs, 1); }

void loom_parked_unref(struct loom_parked *p) {
  if (atomic_fetch_sub(&p->refs, 1) != 1)
    return;
  pthread_mutex_destroy(&p->mu);
  p->free_cb(p);
}

void loom_parked_abandon(struct loom_parked *p) {
  loom_task_set_state(p->t, NULL);
  loom_parked_unref(p); /* the worker's */
  loom_parked_unref(p); /* the task's */
}

bool loom_parked_post(struct loom_parked *p, loom_run_fn_cb fn, void *arg) {
  pthread_mutex_lock(&p->mu);
  bool posted = !p->cancelled && loom_task_post(p->t, fn, arg) == LOOM_OK;
  pthread_mutex_unlock(&p->mu);
  return posted;
}

struct loom_task *loom_parked_claim(struct loom_parked *p) {
  pthread_mutex_lock(&p->mu);
  struct loom_task *t = p->cancelled ? NULL : p->t;
  p->t = NULL;
  pthread_mutex_unlock(&p->mu);
  if (t)
    loom_task_set_state(t, NULL);
  return t;
}

struct loom_parked *loom_parked_cancel(struct loom_task *t) {
  struct loom_parked *p = loom_task_get_state(t);
  if (!p)
    return NULL;
  loom_task_set_state(t, NULL);
  pthread_mutex_lock(&p->mu);
  p->cancelled = true;
  p->t = NULL;
  pthread_mutex_unlock(&p->mu);
  return p;
}
