/*
 * rag_pool — see rag_pool.h: one io/pool.h pool, started on first use
 * under a mutex, so whichever caller comes first starts it.
 */
#include "agents/rag_pool.h"

#include <pthread.h>

#include "io/pool.h"

/* As many as libuv's pool has by default: retrieval's share of the
 * machine when many runs search at once. */
#define RAG_THREADS 4

static struct {
  pthread_mutex_t mu;
  struct loom_pool *pool;
} worker = {.mu = PTHREAD_MUTEX_INITIALIZER};

struct loom_pool *loom_rag_pool(void) {
  pthread_mutex_lock(&worker.mu);
  if (!worker.pool && loom_pool_new("loom-retrieve", RAG_THREADS, &worker.pool))
    worker.pool = NULL;
  struct loom_pool *pool = worker.pool;
  pthread_mutex_unlock(&worker.mu);
  return pool;
}

void loom_rag_pool_shutdown(void) {
  pthread_mutex_lock(&worker.mu);
  struct loom_pool *pool = worker.pool;
  worker.pool = NULL;
  pthread_mutex_unlock(&worker.mu);
  loom_pool_free(pool); /* waits for the work in flight */
}
