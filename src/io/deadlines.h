/*
 * deadlines — a min-heap of things that have a deadline, each knowing its
 * own place in it, so that adding, moving and removing one are O(log n)
 * and the earliest is at hand. Embed a struct loom_deadline in whatever
 * has the deadline (container_of gets back to it). One thread owns a heap.
 */
#ifndef LOOM_IO_DEADLINES_H
#define LOOM_IO_DEADLINES_H

#include <stdbool.h>

struct loom_deadline {
  double at;     /* when; the heap's key */
  unsigned slot; /* where in the heap, while queued */
  bool queued;
};

struct loom_deadlines {
  struct loom_deadline **heap; /* earliest first */
  unsigned n, cap;
};

void loom_deadlines_cleanup(struct loom_deadlines *d);

/* Puts `e` in the heap at `at`, or moves it there if it is in already. */
void loom_deadlines_set(struct loom_deadlines *d, struct loom_deadline *e,
                        double at);

/* Takes `e` out; a no-op when it is not in. */
void loom_deadlines_remove(struct loom_deadlines *d, struct loom_deadline *e);

/* The earliest, or NULL when the heap is empty. */
static inline struct loom_deadline *
loom_deadlines_first(const struct loom_deadlines *d) {
  return d->n ? d->heap[0] : 0;
}

#endif
