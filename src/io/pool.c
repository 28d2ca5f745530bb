/*
 * pool — worker threads over one FIFO of jobs under a mutex; a condition
 * variable wakes an idle thread per job. A job done posts its `after` to
 * its loop (a small trampoline carries the status). Stopping marks the
 * pool so new jobs are refused, wakes every thread, and each leaves once
 * the queue is empty.
 */
#include "io/pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/alloc.h"

struct job {
  struct job *next;
  struct loom_loop *loop;
  loom_loop_work_cb work;
  loom_loop_after_cb after;
  void *arg;
};

struct loom_pool {
  pthread_mutex_t lock; /* guards head, tail, stopping */
  pthread_cond_t wake;
  struct job *head, *tail;
  bool stopping;
  unsigned nthreads;
  pthread_t *threads;
};

/* On the job's loop: the work is done. */
static void after_cb(struct loom_loop *loop, void *arg) {
  struct job *j = arg;
  j->after(loop, j->arg, LOOM_OK);
  loom_free(j);
}

static void run(struct job *j) {
  j->work(j->arg);
  if (j->loop && loom_loop_post(j->loop, after_cb, j) == LOOM_OK)
    return;
  j->after(j->loop, j->arg, j->loop ? LOOM_ERR_UNAVAILABLE : LOOM_OK);
  loom_free(j);
}

static void *thread_main(void *arg) {
  struct loom_pool *p = arg;
  pthread_mutex_lock(&p->lock);
  for (;;) {
    while (!p->head && !p->stopping)
      pthread_cond_wait(&p->wake, &p->lock);
    struct job *j = p->head;
    if (!j)
      break; /* stopping, and nothing left */
    p->head = j->next;
    if (!p->head)
      p->tail = NULL;
    pthread_mutex_unlock(&p->lock);
    run(j);
    pthread_mutex_lock(&p->lock);
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

static void stop_and_join(struct loom_pool *p, unsigned started) {
  pthread_mutex_lock(&p->lock);
  p->stopping = true;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);
  for (unsigned i = 0; i < started; i++)
    pthread_join(p->threads[i], NULL);
  pthread_cond_destroy(&p->wake);
  pthread_mutex_destroy(&p->lock);
  loom_free(p->threads);
  loom_free(p);
}

loom_err loom_pool_new(const char *name, unsigned threads,
                       struct loom_pool **out) {
  struct loom_pool *p = LOOM_NEW(struct loom_pool);
  p->nthreads = threads ? threads : 1;
  p->threads = loom_calloc(p->nthreads, sizeof *p->threads);
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->wake, NULL);
  char tname[16];
  snprintf(tname, sizeof tname, "%s", name ? name : "loom-pool");
  for (unsigned i = 0; i < p->nthreads; i++) {
    if (pthread_create(&p->threads[i], NULL, thread_main, p)) {
      stop_and_join(p, i);
      *out = NULL;
      return LOOM_ERR_INTERNAL;
    }
    pthread_setname_np(p->threads[i], tname);
  }
  *out = p;
  return LOOM_OK;
}

void loom_pool_free(struct loom_pool *pool) {
  if (pool)
    stop_and_join(pool, pool->nthreads);
}

loom_err loom_pool_work(struct loom_pool *pool, struct loom_loop *loop,
                        loom_loop_work_cb work, loom_loop_after_cb after,
                        void *arg) {
  struct job *j = LOOM_NEW(struct job);
  *j = (struct job){.loop = loop, .work = work, .after = after, .arg = arg};
  pthread_mutex_lock(&pool->lock);
  bool refused = pool->stopping;
  if (!refused) {
    if (pool->tail)
      pool->tail->next = j;
    else
      pool->head = j;
    pool->tail = j;
    pthread_cond_signal(&pool->wake);
  }
  pthread_mutex_unlock(&pool->lock);
  if (refused) {
    loom_free(j);
    return LOOM_ERR_UNAVAILABLE;
  }
  return LOOM_OK;
}
