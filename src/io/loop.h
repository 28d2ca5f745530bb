/*
 * loop — libuv event loops, each owned by one thread.
 *
 * A loom_loop is a uv_loop_t running on its own thread. Everything a loop
 * owns (uv handles, MHD daemons, curl multi handles, suspended requests) is
 * touched only by that thread. Other threads hand work to it with
 * loom_loop_post(): a mutex-protected queue drained by a uv_async handle.
 * Blocking work (SQLite, big JSON, index builds) goes to libuv's thread
 * pool with loom_loop_work(); its result comes back on the loop thread.
 *
 * A loom_loop_group is the usual shape: one loop per core. The HTTP server
 * runs one MHD daemon per loop of a group.
 *
 * Shutdown: free what lives on a loop first (HTTP server, clients, SSE
 * streams), then loom_loop_free / loom_loop_group_free. Freeing closes the
 * async handle, runs the posts already queued, waits for pool work to
 * finish and report back, and joins the thread. A handle still open at that
 * point is closed with a warning in the log, so shutdown never hangs.
 */
#ifndef LOOM_IO_LOOP_H
#define LOOM_IO_LOOP_H

#include <stdbool.h>
#include <uv.h>

#include "core/err.h"

struct loom_loop;
struct loom_loop_group;

/* Runs on the loop's thread. */
typedef void (*loom_loop_fn_cb)(struct loom_loop *loop, void *arg);

/* Runs on a thread of libuv's pool: may block, must not touch the loop. */
typedef void (*loom_loop_work_cb)(void *arg);

/*
 * Runs on the loop's thread after the work: `status` is LOOM_OK when
 * `work` ran, LOOM_ERR_INTERNAL if libuv refused to queue it (then `work`
 * did not run).
 */
typedef void (*loom_loop_after_cb)(struct loom_loop *loop, void *arg,
                                   loom_err status);

/*
 * Starts one loop on a new thread named `name` (at most 15 characters;
 * NULL gives "loom-loop"). LOOM_ERR_INTERNAL if the thread cannot start.
 */
loom_err loom_loop_new(const char *name, struct loom_loop **out) LOOM_MUST_USE;

/*
 * Stops the loop and joins its thread (see the shutdown note above): what
 * was posted before runs, later posts are refused (LOOM_ERR_UNAVAILABLE).
 * The loop itself stays valid until loom_loop_free, so threads that may
 * still post to it (a writer's acknowledgements) can be stopped after it.
 * Call from any thread except the loop's own; a second call is a no-op.
 */
void loom_loop_stop(struct loom_loop *loop);

/* Stops the loop if it runs, then frees it. NULL is a no-op. */
void loom_loop_free(struct loom_loop *loop);

/*
 * Schedules fn(loop, arg) on the loop's thread; callable from any thread,
 * including the loop's own (then it runs on a later iteration, never
 * inside this call). Posts run in order. LOOM_ERR_UNAVAILABLE once the loop
 * is stopping: then fn will not run and `arg` stays the caller's.
 */
loom_err loom_loop_post(struct loom_loop *loop, loom_loop_fn_cb fn,
                        void *arg) LOOM_MUST_USE;

/*
 * Runs fn(loop, arg) on the loop's thread and waits until it returned.
 * Called on the loop's own thread it simply calls fn. For set-up and
 * tear-down, not for hot paths. LOOM_ERR_UNAVAILABLE if the loop stopped.
 */
loom_err loom_loop_call(struct loom_loop *loop, loom_loop_fn_cb fn,
                        void *arg) LOOM_MUST_USE;

/*
 * Runs work(arg) on libuv's thread pool, then after(loop, arg, status) on
 * the loop's thread. Callable from any thread. `arg` belongs to the caller
 * until `after` ran. LOOM_ERR_UNAVAILABLE once the loop is stopping.
 */
loom_err loom_loop_work(struct loom_loop *loop, loom_loop_work_cb work,
                        loom_loop_after_cb after, void *arg) LOOM_MUST_USE;

/* The libuv loop, for creating handles on the loop's thread. */
uv_loop_t *loom_loop_uv(struct loom_loop *loop);

/* The loop whose thread is calling, or NULL on any other thread. */
struct loom_loop *loom_loop_current(void);

/* True when called on `loop`'s own thread. */
bool loom_loop_is_current(const struct loom_loop *loop);

/* The loop's index in its group (0 for a loop made by loom_loop_new). */
unsigned loom_loop_index(const struct loom_loop *loop);

/*
 * Starts `count` loops (0 = one per online CPU) on threads named
 * "loom-loop-<i>". Fails like loom_loop_new; nothing is left running.
 */
loom_err loom_loop_group_new(unsigned count,
                             struct loom_loop_group **out) LOOM_MUST_USE;

/* Stops every loop of the group (loom_loop_stop); NULL is a no-op. */
void loom_loop_group_stop(struct loom_loop_group *group);

/* Stops and frees every loop of the group; NULL is a no-op. */
void loom_loop_group_free(struct loom_loop_group *group);

unsigned loom_loop_group_size(const struct loom_loop_group *group);

/* Loop number i (0 <= i < size). */
struct loom_loop *loom_loop_group_at(struct loom_loop_group *group, unsigned i);

/* Picks a loop round-robin, for spreading work that may run anywhere. */
struct loom_loop *loom_loop_group_next(struct loom_loop_group *group);

#endif
