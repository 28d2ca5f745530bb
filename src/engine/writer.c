/*
 * writer — the background thread behind durability "async".
 *
 * In async mode a run hands each checkpoint (and each finished task's
 * writes) to a writer thread and goes on with the next step while the
 * store works: the blocking store call overlaps the next step's nodes, as
 * LangGraph's async durability does. Jobs run in order, so a checkpoint is
 * stored before the writes that belong to it. The first error sticks: later
 * jobs are dropped and the error comes back from the next push or from
 * the drain the run does before it stops. The thread starts with the
 * first job and ends with the run.
 *
 * Shared between the run's thread and the writer: the job list, the
 * sticky error and the busy flag, under `mu`. The writer alone touches
 * the run's saved_versions and persisted_id while the thread is alive
 * (the run's thread only reads them after draining).
 */
#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/internal.h"

struct job {
  struct job *next;
  json_t *rec;     /* a checkpoint record, or NULL for writes */
  json_t *writes;  /* {"checkpoint_id","task_id","writes"} */
};

struct loom_engine_writer {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t wake, idle;
  struct job *head, *tail;
  bool busy, stopping;
  struct loom_error err;
  struct loom_run *run;
};

static void run_job(struct loom_engine_writer *w, struct job *j,
                    struct loom_error *e) {
  struct loom_run *r = w->run;
  if (j->rec) {
    (void)loom_engine_write_record(r, j->rec, e);
    return;
  }
  const json_t *x = j->writes;
  (void)r->store->ops->put_writes(
      r->store, r->tenant, r->thread_id, r->ns,
      json_string_value(json_object_get(x, "checkpoint_id")),
      json_string_value(json_object_get(x, "task_id")),
      json_object_get(x, "writes"), e);
}

static void *writer_main(void *arg) {
  struct loom_engine_writer *w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->head && !w->stopping)
      pthread_cond_wait(&w->wake, &w->mu);
    if (!w->head)
      break;
    struct job *j = w->head;
    w->head = j->next;
    if (!w->head)
      w->tail = NULL;
    bool failed = w->err.code != LOOM_OK;
    w->busy = true;
    pthread_mutex_unlock(&w->mu);
    struct loom_error e = {0};
    if (!failed)
      run_job(w, j, &e);
    json_decref(j->rec), json_decref(j->writes);
    loom_free(j);
    pthread_mutex_lock(&w->mu);
    if (e.code && !w->err.code)
      w->err = e;
    w->busy = false;
    if (!w->head)
      pthread_cond_broadcast(&w->idle);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

static struct loom_engine_writer *writer_of(struct loom_run *r) {
  if (r->writer)
    return r->writer;
  struct loom_engine_writer *w = LOOM_NEW(struct loom_engine_writer);
  w->run = r;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->wake, NULL);
  pthread_cond_init(&w->idle, NULL);
  if (pthread_create(&w->thread, NULL, writer_main, w))
    abort(); /* out of threads: nothing sensible left to do */
  r->writer = w;
  return w;
}

loom_err loom_engine_writer_push(struct loom_run *r, json_t *rec,
                                 json_t *writes, struct loom_error *e) {
  struct loom_engine_writer *w = writer_of(r);
  struct job *j = LOOM_NEW(struct job);
  j->rec = rec;
  j->writes = writes;
  pthread_mutex_lock(&w->mu);
  if (w->tail)
    w->tail->next = j;
  else
    w->head = j;
  w->tail = j;
  struct loom_error err = w->err;
  pthread_cond_signal(&w->wake);
  pthread_mutex_unlock(&w->mu);
  if (err.code && e)
    *e = err;
  return err.code;
}

loom_err loom_engine_writer_drain(struct loom_run *r, struct loom_error *e) {
  struct loom_engine_writer *w = r->writer;
  if (!w)
    return LOOM_OK;
  pthread_mutex_lock(&w->mu);
  while (w->head || w->busy)
    pthread_cond_wait(&w->idle, &w->mu);
  struct loom_error err = w->err;
  pthread_mutex_unlock(&w->mu);
  if (err.code && e)
    *e = err;
  return err.code;
}

void loom_engine_writer_free(struct loom_run *r) {
  struct loom_engine_writer *w = r->writer;
  if (!w)
    return;
  pthread_mutex_lock(&w->mu);
  w->stopping = true;
  pthread_cond_signal(&w->wake);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->wake);
  pthread_cond_destroy(&w->idle);
  loom_free(w);
  r->writer = NULL;
}
