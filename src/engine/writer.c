/*
 * writer — the background thread behind durability "async".
 *
 * In async mode a run hands each checkpoint (and each finished task's
 * writes) to the writer and goes on with the next step while the store
 * works: the blocking store call overlaps the next step's nodes, as
 * LangGraph's async durability does. One writer thread serves the whole
 * process (started on first use, it keeps its store connection warm);
 * jobs run in the order they were queued, so a checkpoint is stored before
 * the writes that belong to it. A run's first error sticks: its later jobs
 * are dropped and the error comes back from its next push or from the
 * drain the run does before it stops (and before it is freed).
 *
 * Shared between threads, under `mu`: the queue, and each run's pending
 * count and sticky error. While a run has jobs queued, only the writer
 * touches its saved_versions and persisted_id; jobs carry their own
 * copies of every JSON value they read.
 */
#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/internal.h"

struct job {
  struct job *next;
  struct loom_run *run;
  json_t *rec;    /* a checkpoint record, or NULL for writes */
  json_t *writes; /* {"checkpoint_id","task_id","writes"} */
};

static struct {
  pthread_once_t once;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  struct job *head, *tail;
} w = {.once = PTHREAD_ONCE_INIT,
       .mu = PTHREAD_MUTEX_INITIALIZER,
       .wake = PTHREAD_COND_INITIALIZER,
       .done = PTHREAD_COND_INITIALIZER};

static void run_job(struct job *j, struct loom_error *e) {
  struct loom_run *r = j->run;
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
  (void)arg;
  pthread_mutex_lock(&w.mu);
  for (;;) {
    while (!w.head)
      pthread_cond_wait(&w.wake, &w.mu);
    struct job *j = w.head;
    w.head = j->next;
    if (!w.head)
      w.tail = NULL;
    bool failed = j->run->writer_err.code != LOOM_OK;
    pthread_mutex_unlock(&w.mu);
    struct loom_error e = {0};
    if (!failed)
      run_job(j, &e);
    json_decref(j->rec), json_decref(j->writes);
    pthread_mutex_lock(&w.mu);
    if (e.code && !j->run->writer_err.code)
      j->run->writer_err = e;
    j->run->writer_pending--;
    pthread_cond_broadcast(&w.done);
    loom_free(j);
  }
  return NULL;
}

static void start_writer(void) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&w.thread, &attr, writer_main, NULL))
    abort(); /* out of threads at start-up: nothing sensible left to do */
  pthread_attr_destroy(&attr);
}

loom_err loom_engine_writer_push(struct loom_run *r, json_t *rec,
                                 json_t *writes, struct loom_error *e) {
  pthread_once(&w.once, start_writer);
  struct job *j = LOOM_NEW(struct job);
  j->run = r;
  j->rec = rec;
  j->writes = writes;
  pthread_mutex_lock(&w.mu);
  if (w.tail)
    w.tail->next = j;
  else
    w.head = j;
  w.tail = j;
  r->writer_pending++;
  struct loom_error err = r->writer_err;
  pthread_cond_signal(&w.wake);
  pthread_mutex_unlock(&w.mu);
  if (err.code && e)
    *e = err;
  return err.code;
}

loom_err loom_engine_writer_drain(struct loom_run *r, struct loom_error *e) {
  pthread_mutex_lock(&w.mu);
  while (r->writer_pending)
    pthread_cond_wait(&w.done, &w.mu);
  struct loom_error err = r->writer_err;
  pthread_mutex_unlock(&w.mu);
  if (err.code && e)
    *e = err;
  return err.code;
}
