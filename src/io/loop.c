/*
 * loop — a uv_loop_t per thread, a locked post queue woken by uv_async,
 * and thread-pool work reported back on the loop.
 *
 * The queue is a singly linked FIFO under a mutex; uv_async_send coalesces
 * wake-ups, so the async callback drains everything queued so far. A stop
 * is itself a post: it marks the loop stopping (new posts are refused),
 * closes the async handle, and lets uv_run return once the last handle is
 * closed and the last pool work reported back, or, when some handle is
 * still active after a grace period (its owner forgot it), closes what is
 * left with a warning, so a stop never hangs.
 */
#include "io/loop.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"

struct post {
  struct post *next;
  loom_loop_fn_cb fn;
  void *arg;
};

struct loom_loop {
  uv_loop_t uv;
  uv_async_t wake;
  uv_timer_t grace; /* started by the stop; ends a stop that drags on */
  pthread_t thread;
  char name[16];
  unsigned index;
  pthread_mutex_t lock; /* guards head, tail, stopping */
  struct post *head, *tail;
  bool stopping;
  bool joined; /* its thread has ended (loom_loop_stop) */
};

struct loom_loop_group {
  unsigned count;
  atomic_uint next;
  struct loom_loop **loops;
};

struct work {
  uv_work_t req;
  struct loom_loop *loop;
  loom_loop_work_cb work;
  loom_loop_after_cb after;
  void *arg;
};

static _Thread_local struct loom_loop *current;

static void drain(struct loom_loop *loop) {
  pthread_mutex_lock(&loop->lock);
  struct post *p = loop->head;
  loop->head = loop->tail = NULL;
  pthread_mutex_unlock(&loop->lock);
  while (p) {
    struct post *next = p->next;
    p->fn(loop, p->arg);
    loom_free(p);
    p = next;
  }
}

static void wake_cb(uv_async_t *h) { drain(h->data); }

static void close_leftover_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  if (uv_is_closing(h))
    return;
  LOOM_WARN("loop: closing a %s handle still open at shutdown",
            uv_handle_type_name(uv_handle_get_type(h)));
  uv_close(h, NULL);
}

static void *thread_main(void *arg) {
  struct loom_loop *loop = arg;
  current = loop;
  uv_run(&loop->uv, UV_RUN_DEFAULT);
  /* Only the closed async handle kept it alive; run posts that raced. */
  drain(loop);
  uv_close((uv_handle_t *)&loop->grace, NULL);
  if (uv_loop_alive(&loop->uv)) {
    uv_walk(&loop->uv, close_leftover_cb, NULL);
    uv_run(&loop->uv, UV_RUN_DEFAULT);
  }
  current = NULL;
  return NULL;
}

static loom_err start(const char *name, unsigned index,
                      struct loom_loop **out) {
  struct loom_loop *loop = LOOM_NEW(struct loom_loop);
  loop->index = index;
  snprintf(loop->name, sizeof loop->name, "%s", name ? name : "loom-loop");
  pthread_mutex_init(&loop->lock, NULL);
  if (uv_loop_init(&loop->uv) != 0)
    goto fail_mutex;
  if (uv_async_init(&loop->uv, &loop->wake, wake_cb) != 0)
    goto fail_loop;
  loop->wake.data = loop;
  if (pthread_create(&loop->thread, NULL, thread_main, loop) != 0) {
    uv_close((uv_handle_t *)&loop->wake, NULL);
    uv_run(&loop->uv, UV_RUN_DEFAULT);
    goto fail_loop;
  }
  pthread_setname_np(loop->thread, loop->name);
  *out = loop;
  return LOOM_OK;
fail_loop:
  uv_loop_close(&loop->uv);
fail_mutex:
  pthread_mutex_destroy(&loop->lock);
  loom_free(loop);
  *out = NULL;
  return LOOM_ERR_INTERNAL;
}

loom_err loom_loop_new(const char *name, struct loom_loop **out) {
  return start(name, 0, out);
}

/* How long a stopping loop waits for handles still active (a webhook
 * call in flight) before it closes them. */
#define STOP_GRACE_MS 2000

static void grace_cb(uv_timer_t *t) {
  LOOM_WARN("loop %s: handles still active %d ms after the stop",
            ((struct loom_loop *)t->data)->name, STOP_GRACE_MS);
  uv_stop(t->loop);
}

/* The last post. The grace timer does not keep the loop alive (unref):
 * when every other handle closes in time, uv_run returns without it. */
static void stop_cb(struct loom_loop *loop, void *arg) {
  (void)arg;
  uv_close((uv_handle_t *)&loop->wake, NULL);
  uv_timer_init(&loop->uv, &loop->grace);
  loop->grace.data = loop;
  uv_timer_start(&loop->grace, grace_cb, STOP_GRACE_MS, 0);
  uv_unref((uv_handle_t *)&loop->grace);
}

void loom_loop_stop(struct loom_loop *loop) {
  if (!loop || loop->joined)
    return;
  struct post *p = LOOM_NEW(struct post);
  p->fn = stop_cb;
  pthread_mutex_lock(&loop->lock);
  if (loop->tail)
    loop->tail->next = p;
  else
    loop->head = p;
  loop->tail = p;
  loop->stopping = true;
  pthread_mutex_unlock(&loop->lock);
  uv_async_send(&loop->wake);
  pthread_join(loop->thread, NULL);
  loop->joined = true;
}

void loom_loop_free(struct loom_loop *loop) {
  if (!loop)
    return;
  loom_loop_stop(loop);
  if (uv_loop_close(&loop->uv) != 0)
    LOOM_WARN("loop %s: libuv loop still busy at close", loop->name);
  pthread_mutex_destroy(&loop->lock);
  loom_free(loop);
}

loom_err loom_loop_post(struct loom_loop *loop, loom_loop_fn_cb fn, void *arg) {
  struct post *p = LOOM_NEW(struct post);
  p->fn = fn;
  p->arg = arg;
  pthread_mutex_lock(&loop->lock);
  if (loop->stopping) {
    pthread_mutex_unlock(&loop->lock);
    loom_free(p);
    return LOOM_ERR_UNAVAILABLE;
  }
  if (loop->tail)
    loop->tail->next = p;
  else
    loop->head = p;
  loop->tail = p;
  /* Sent under the lock so a concurrent stop cannot close the handle
   * between our check and the send. */
  uv_async_send(&loop->wake);
  pthread_mutex_unlock(&loop->lock);
  return LOOM_OK;
}

struct call {
  loom_loop_fn_cb fn;
  void *arg;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done;
};

static void call_cb(struct loom_loop *loop, void *arg) {
  struct call *c = arg;
  c->fn(loop, c->arg);
  pthread_mutex_lock(&c->lock);
  c->done = true;
  pthread_cond_signal(&c->cond);
  pthread_mutex_unlock(&c->lock);
}

loom_err loom_loop_call(struct loom_loop *loop, loom_loop_fn_cb fn, void *arg) {
  if (loom_loop_is_current(loop)) {
    fn(loop, arg);
    return LOOM_OK;
  }
  struct call c = {.fn = fn, .arg = arg};
  pthread_mutex_init(&c.lock, NULL);
  pthread_cond_init(&c.cond, NULL);
  loom_err err = loom_loop_post(loop, call_cb, &c);
  if (err == LOOM_OK) {
    pthread_mutex_lock(&c.lock);
    while (!c.done)
      pthread_cond_wait(&c.cond, &c.lock);
    pthread_mutex_unlock(&c.lock);
  }
  pthread_cond_destroy(&c.cond);
  pthread_mutex_destroy(&c.lock);
  return err;
}

static void work_cb(uv_work_t *req) {
  struct work *w = req->data;
  w->work(w->arg);
}

static void after_work_cb(uv_work_t *req, int status) {
  struct work *w = req->data;
  w->after(w->loop, w->arg,
           status == UV_ECANCELED ? LOOM_ERR_CANCELLED : LOOM_OK);
  loom_free(w);
}

static void queue_work_cb(struct loom_loop *loop, void *arg) {
  struct work *w = arg;
  w->req.data = w;
  int rc = uv_queue_work(&loop->uv, &w->req, work_cb, after_work_cb);
  if (rc != 0) {
    w->after(loop, w->arg, LOOM_ERR_INTERNAL);
    loom_free(w);
  }
}

loom_err loom_loop_work(struct loom_loop *loop, loom_loop_work_cb work,
                        loom_loop_after_cb after, void *arg) {
  struct work *w = LOOM_NEW(struct work);
  w->loop = loop;
  w->work = work;
  w->after = after;
  w->arg = arg;
  if (loom_loop_is_current(loop)) {
    queue_work_cb(loop, w);
    return LOOM_OK;
  }
  loom_err err = loom_loop_post(loop, queue_work_cb, w);
  if (err)
    loom_free(w);
  return err;
}

uv_loop_t *loom_loop_uv(struct loom_loop *loop) { return &loop->uv; }

struct loom_loop *loom_loop_current(void) {
  return current;
}

bool loom_loop_is_current(const struct loom_loop *loop) {
  return current == loop;
}

unsigned loom_loop_index(const struct loom_loop *loop) { return loop->index; }

loom_err loom_loop_group_new(unsigned count, struct loom_loop_group **out) {
  if (count == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    count = n > 0 ? (unsigned)n : 1;
  }
  struct loom_loop_group *g = LOOM_NEW(struct loom_loop_group);
  g->loops = loom_calloc(count, sizeof *g->loops);
  for (unsigned i = 0; i < count; i++) {
    char name[32];
    snprintf(name, sizeof name, "loom-loop-%u", i);
    loom_err err = start(name, i, &g->loops[i]);
    if (err) {
      g->count = i;
      loom_loop_group_free(g);
      *out = NULL;
      return err;
    }
  }
  g->count = count;
  *out = g;
  return LOOM_OK;
}

void loom_loop_group_stop(struct loom_loop_group *group) {
  for (unsigned i = 0; group && i < group->count; i++)
    loom_loop_stop(group->loops[i]);
}

void loom_loop_group_free(struct loom_loop_group *group) {
  if (!group)
    return;
  for (unsigned i = 0; i < group->count; i++)
    loom_loop_free(group->loops[i]);
  loom_free(group->loops);
  loom_free(group);
}

unsigned loom_loop_group_size(const struct loom_loop_group *group) {
  return group->count;
}

struct loom_loop *loom_loop_group_at(struct loom_loop_group *group,
                                     unsigned i) {
  return group->loops[i];
}

struct loom_loop *loom_loop_group_next(struct loom_loop_group *group) {
  unsigned i = atomic_fetch_add(&group->next, 1);
  return group->loops[i % group->count];
}
