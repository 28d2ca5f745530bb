/*
 * loop_share — work shared by a set of loops: each item is taken by
 * whichever loop gets to it first.
 *
 * Posting each item to a loop chosen up front (round robin) splits work
 * evenly by count, not by the CPU the loops actually get: on a busy
 * machine one loop falls behind while another idles, and the last item
 * waits for the slowest loop. Here items wait in one queue; a loop takes
 * a small batch, starts it, goes back to its own I/O, and comes back for
 * more while any is left. A push wakes one loop that is not already due
 * to pull, and a loop that leaves items behind wakes another, so under
 * load every loop pulls, when quiet a single wake-up serves an item, and
 * work never waits behind a busy loop while another is idle.
 *
 * An item that no loop took yet can be taken back (loom_loop_share_take_back);
 * once taken, it belongs to the loop that took it.
 */
#ifndef LOOM_IO_LOOP_SHARE_H
#define LOOM_IO_LOOP_SHARE_H

#include "io/loop.h"

struct loom_loop_share;
struct loom_loop_share_item;

/* Runs on the loop that took the item. */
typedef void (*loom_loop_share_fn_cb)(struct loom_loop *loop,
                                      struct loom_loop_share_item *item);

/* Embed one in each piece of work; the share owns its fields while the
 * item is queued. */
struct loom_loop_share_item {
  struct loom_loop_share_item *prev, *next;
  loom_loop_share_fn_cb fn;
  struct loom_loop *taken_by; /* set when a loop takes it */
  bool queued;
};

/*
 * A share over `loops[0..n)` (n >= 1; the loops must outlive it), taking
 * at most `batch` items per turn (0 means 32).
 */
loom_err loom_loop_share_new(struct loom_loop *const *loops, unsigned n,
                             unsigned batch,
                             struct loom_loop_share **out) LOOM_MUST_USE;

/*
 * Refuses new items and hands every item still queued to drop(item, arg),
 * on the calling thread, in queue order; then frees the share. Call it
 * before freeing the loops. NULL is a no-op.
 */
void loom_loop_share_free(struct loom_loop_share *s,
                          void (*drop)(struct loom_loop_share_item *item,
                                       void *arg),
                          void *arg);

/*
 * Queues `item`: fn(loop, item) will run on the first of the loops to
 * take it. Callable from any thread. LOOM_ERR_UNAVAILABLE when the share
 * is being freed or no loop can be woken: then nothing will run and the
 * item stays the caller's.
 */
loom_err loom_loop_share_push(struct loom_loop_share *s,
                              struct loom_loop_share_item *item,
                              loom_loop_share_fn_cb fn) LOOM_MUST_USE;

/*
 * Takes `item` back if it is still queued: true, and then it will not run
 * and is the caller's again. False when a loop took it (item->taken_by,
 * which may be read once this returned, says which; its fn has run or is
 * about to) or loom_loop_share_free is dropping it (taken_by is NULL).
 */
bool loom_loop_share_take_back(struct loom_loop_share *s,
                               struct loom_loop_share_item *item);

#endif
