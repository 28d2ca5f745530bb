/*
 * deadlines — the binary min-heap behind deadlines.h: an array of
 * pointers, each entry keeping its index up to date as it moves.
 */
#include "io/deadlines.h"

#include "core/alloc.h"

static bool earlier(const struct loom_deadlines *d, unsigned a, unsigned b) {
  return d->heap[a]->at < d->heap[b]->at;
}

static void swap_at(struct loom_deadlines *d, unsigned a, unsigned b) {
  struct loom_deadline *t = d->heap[a];
  d->heap[a] = d->heap[b];
  d->heap[b] = t;
  d->heap[a]->slot = a;
  d->heap[b]->slot = b;
}

/* Moves the entry at `i` up or down to where its deadline belongs. */
static void sift(struct loom_deadlines *d, unsigned i) {
  while (i > 0 && earlier(d, i, (i - 1) / 2)) {
    swap_at(d, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
  for (;;) {
    unsigned l = 2 * i + 1, r = l + 1, m = i;
    if (l < d->n && earlier(d, l, m))
      m = l;
    if (r < d->n && earlier(d, r, m))
      m = r;
    if (m == i)
      return;
    swap_at(d, i, m);
    i = m;
  }
}

void loom_deadlines_cleanup(struct loom_deadlines *d) {
  for (unsigned i = 0; i < d->n; i++)
    d->heap[i]->queued = false;
  loom_free(d->heap);
  d->heap = NULL;
  d->n = d->cap = 0;
}

void loom_deadlines_remove(struct loom_deadlines *d, struct loom_deadline *e) {
  if (!e->queued)
    return;
  unsigned i = e->slot, last = --d->n;
  if (i != last) {
    d->heap[i] = d->heap[last];
    d->heap[i]->slot = i;
    sift(d, i);
  }
  e->queued = false;
}

void loom_deadlines_set(struct loom_deadlines *d, struct loom_deadline *e,
                        double at) {
  if (e->queued) {
    e->at = at;
    sift(d, e->slot);
    return;
  }
  if (d->n == d->cap) {
    d->cap = d->cap ? 2 * d->cap : 64;
    d->heap = loom_realloc(d->heap, d->cap * sizeof *d->heap);
  }
  e->at = at;
  e->slot = d->n++;
  e->queued = true;
  d->heap[e->slot] = e;
  sift(d, e->slot);
}
