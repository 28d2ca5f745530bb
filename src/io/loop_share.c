/*
 * loop_share — one doubly linked FIFO under a mutex (so a queued item can
 * be taken back in O(1)) and, per loop, a flag saying a pull is already
 * posted there, so a loop is never woken twice for the same work. A push
 * wakes a loop that has no pull posted, if there is one.
 */
#include "io/loop_share.h"

#include <pthread.h>
#include <stdbool.h>

#include "core/alloc.h"

#define DEFAULT_BATCH 32

struct member {
  struct loom_loop_share *share;
  struct loom_loop *loop;
  bool pull_posted; /* under share->lock */
};

struct loom_loop_share {
  pthread_mutex_t lock; /* guards the queue, pull_posted, closing */
  struct loom_loop_share_item *head, *tail;
  bool closing;
  unsigned batch;
  unsigned next_wake; /* where the search for a loop to wake starts */
  unsigned n;
  struct member *members;
};

static void unlink_item(struct loom_loop_share *s,
                        struct loom_loop_share_item *it) {
  if (it->prev)
    it->prev->next = it->next;
  else
    s->head = it->next;
  if (it->next)
    it->next->prev = it->prev;
  else
    s->tail = it->prev;
  it->prev = it->next = NULL;
}

static void pull_cb(struct loom_loop *loop, void *arg);

/* Under the lock: posts a pull to one loop other than `skip` (may be
 * NULL) that has none posted, round robin from the last one woken. False
 * when none could be. */
static bool wake_one_locked(struct loom_loop_share *s,
                            const struct member *skip) {
  for (unsigned k = 0; k < s->n; k++) {
    struct member *m = &s->members[(s->next_wake + k) % s->n];
    if (m == skip || m->pull_posted)
      continue;
    if (loom_loop_post(m->loop, pull_cb, m) != LOOM_OK)
      continue; /* stopping: another may still take the work */
    m->pull_posted = true;
    s->next_wake = (unsigned)(m - s->members) + 1;
    return true;
  }
  return false;
}

/* On a member's loop: takes up to a batch, asks for another turn (and
 * another loop's help) while work is left, then runs what it took. */
static void pull_cb(struct loom_loop *loop, void *arg) {
  struct member *m = arg;
  struct loom_loop_share *s = m->share;
  struct loom_loop_share_item *taken = NULL, **end = &taken;
  pthread_mutex_lock(&s->lock);
  m->pull_posted = false;
  for (unsigned i = 0; i < s->batch && s->head; i++) {
    struct loom_loop_share_item *it = s->head;
    unlink_item(s, it);
    it->queued = false;
    it->taken_by = loop;
    *end = it;
    end = &it->next;
  }
  if (s->head && !s->closing) {
    m->pull_posted = loom_loop_post(loop, pull_cb, m) == LOOM_OK;
    wake_one_locked(s, m);
  }
  pthread_mutex_unlock(&s->lock);
  while (taken) {
    struct loom_loop_share_item *it = taken;
    taken = it->next;
    it->next = NULL;
    it->fn(loop, it);
  }
}

loom_err loom_loop_share_new(struct loom_loop *const *loops, unsigned n,
                             unsigned batch, struct loom_loop_share **out) {
  *out = NULL;
  if (!n)
    return LOOM_ERR_INVALID;
  struct loom_loop_share *s = LOOM_NEW(struct loom_loop_share);
  pthread_mutex_init(&s->lock, NULL);
  s->batch = batch ? batch : DEFAULT_BATCH;
  s->n = n;
  s->members = loom_calloc(n, sizeof *s->members);
  for (unsigned i = 0; i < n; i++)
    s->members[i] = (struct member){.share = s, .loop = loops[i]};
  *out = s;
  return LOOM_OK;
}

static void noop_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  (void)arg;
}

void loom_loop_share_free(struct loom_loop_share *s,
                          void (*drop)(struct loom_loop_share_item *item,
                                       void *arg),
                          void *arg) {
  if (!s)
    return;
  pthread_mutex_lock(&s->lock);
  s->closing = true; /* no more pushes, no pull posts another */
  pthread_mutex_unlock(&s->lock);
  /* A loop runs its posts in order (and all of them before it stops), so
   * once a call went through, no pull of this share is left there. */
  for (unsigned i = 0; i < s->n; i++)
    (void)!loom_loop_call(s->members[i].loop, noop_cb, NULL);
  for (;;) {
    pthread_mutex_lock(&s->lock);
    struct loom_loop_share_item *it = s->head;
    if (it) {
      unlink_item(s, it);
      it->queued = false;
    }
    pthread_mutex_unlock(&s->lock);
    if (!it)
      break;
    if (drop)
      drop(it, arg);
  }
  pthread_mutex_destroy(&s->lock);
  loom_free(s->members);
  loom_free(s);
}

loom_err loom_loop_share_push(struct loom_loop_share *s,
                              struct loom_loop_share_item *item,
                              loom_loop_share_fn_cb fn) {
  item->fn = fn;
  item->taken_by = NULL;
  item->queued = false; /* until it is in the list: a refused item is not */
  pthread_mutex_lock(&s->lock);
  if (s->closing) {
    pthread_mutex_unlock(&s->lock);
    return LOOM_ERR_UNAVAILABLE;
  }
  item->queued = true;
  item->next = NULL;
  item->prev = s->tail;
  if (s->tail)
    s->tail->next = item;
  else
    s->head = item;
  s->tail = item;
  /* A loop that has a pull posted may be busy for a while: wake one that
   * has none, if any, so work never waits behind it while another idles. */
  bool pulling = wake_one_locked(s, NULL);
  for (unsigned i = 0; i < s->n && !pulling; i++)
    pulling = s->members[i].pull_posted;
  if (!pulling) {
    unlink_item(s, item);
    item->queued = false;
    pthread_mutex_unlock(&s->lock);
    return LOOM_ERR_UNAVAILABLE;
  }
  pthread_mutex_unlock(&s->lock);
  return LOOM_OK;
}

bool loom_loop_share_take_back(struct loom_loop_share *s,
                               struct loom_loop_share_item *item) {
  pthread_mutex_lock(&s->lock);
  bool queued = item->queued;
  if (queued) {
    unlink_item(s, item);
    item->queued = false;
  }
  pthread_mutex_unlock(&s->lock);
  return queued;
}
