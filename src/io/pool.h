/*
 * pool — a set of worker threads of its own, for blocking work that must
 * not wait behind (or hold) libuv's shared thread pool.
 *
 * libuv has one thread pool per process (UV_THREADPOOL_SIZE, 4 by
 * default); loom_loop_work and the HTTP handlers that offload use it.
 * Work that may itself wait for one of those handlers — a search or an
 * upsert through LOOM_PINECONE_URL pointing at this very server — would
 * hold a pool thread while the request it waits for needs one: with every
 * thread so held, nothing moves until the call times out. Such work runs on
 * a loom_pool instead.
 *
 * Work is taken in the order it was queued by whichever thread is free.
 * When it is done, `after` runs on the loop given with it (posted there),
 * or on the worker thread itself when no loop was given.
 */
#ifndef LOOM_IO_POOL_H
#define LOOM_IO_POOL_H

#include "io/loop.h"

struct loom_pool;

/*
 * Starts `threads` (at least 1) worker threads named `name` (at most 15
 * characters). LOOM_ERR_INTERNAL if a thread cannot start; nothing is
 * left running then.
 */
loom_err loom_pool_new(const char *name, unsigned threads,
                       struct loom_pool **out) LOOM_MUST_USE;

/*
 * Lets the threads finish everything queued (each `after` runs as
 * loom_pool_work says), then joins them. NULL is a no-op. New work is
 * refused from the moment it is called.
 */
void loom_pool_free(struct loom_pool *pool);

/*
 * Queues work(arg) on the pool, then after(loop, arg, status): on `loop`'s
 * thread with LOOM_OK; when `loop` is NULL, on the worker thread right
 * after the work; when `loop` is stopping by then, on the worker thread
 * with LOOM_ERR_UNAVAILABLE (then `after` may only free what `arg` holds).
 * `loop` must outlive the work: free the pool before the loops it reports
 * to. LOOM_ERR_UNAVAILABLE when the pool is stopping: nothing will run,
 * and `arg` stays the caller's.
 */
loom_err loom_pool_work(struct loom_pool *pool, struct loom_loop *loop,
                        loom_loop_work_cb work, loom_loop_after_cb after,
                        void *arg) LOOM_MUST_USE;

#endif
