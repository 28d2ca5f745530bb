/*
 * Event loops: posts from other threads run in order on the loop's thread,
 * blocking work runs off the loop and reports back on it, and a group
 * stops cleanly with work still queued. Worker pools of loom's own do the
 * same off libuv's pool, and finish what is queued when freed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "io/loop.h"
#include "io/pool.h"

struct counter {
  struct loom_loop *expect;
  atomic_int n;
  int order_errors;
  int last;
};

struct item {
  struct counter *c;
  int seq;
};

static void post_cb(struct loom_loop *loop, void *arg) {
  struct item *it = arg;
  if (!loom_loop_is_current(loop) || loop != it->c->expect)
    it->c->order_errors++;
  if (it->seq != it->c->last + 1)
    it->c->order_errors++;
  it->c->last = it->seq;
  atomic_fetch_add(&it->c->n, 1);
}

static void test_posts_run_in_order_on_loop(void **state) {
  (void)state;
  struct loom_loop *loop;
  assert_int_equal(loom_loop_new("t", &loop), LOOM_OK);
  assert_null(loom_loop_current());
  struct counter c = {.expect = loop};
  enum { N = 10000 };
  static struct item items[N];
  for (int i = 0; i < N; i++) {
    items[i] = (struct item){&c, i + 1};
    assert_int_equal(loom_loop_post(loop, post_cb, &items[i]), LOOM_OK);
  }
  loom_loop_free(loop); /* runs what is queued, then stops */
  assert_int_equal(atomic_load(&c.n), N);
  assert_int_equal(c.order_errors, 0);
}

/* A stopped loop has run what was posted before and refuses what comes
 * after, yet is still there to refuse it: a writer thread acknowledging
 * to a loop during shutdown must not touch freed memory. */
static void test_stopped_loop_refuses_until_freed(void **state) {
  (void)state;
  struct loom_loop_group *group;
  assert_int_equal(loom_loop_group_new(2, &group), LOOM_OK);
  struct loom_loop *loop = loom_loop_group_at(group, 1);
  struct counter c = {.expect = loop};
  struct item first = {&c, 1}, late = {&c, 2};
  assert_int_equal(loom_loop_post(loop, post_cb, &first), LOOM_OK);
  loom_loop_group_stop(group);
  assert_int_equal(atomic_load(&c.n), 1);
  assert_int_equal(loom_loop_post(loop, post_cb, &late), LOOM_ERR_UNAVAILABLE);
  loom_loop_group_stop(group); /* again: nothing */
  loom_loop_group_free(group);
  assert_int_equal(atomic_load(&c.n), 1);
}

struct job {
  pthread_t worker;
  pthread_t after_thread;
  struct loom_loop *after_loop;
  loom_err status;
  atomic_int done;
};

static void work_cb(void *arg) {
  struct job *j = arg;
  j->worker = pthread_self();
  usleep(20000); /* blocking is fine here */
}

static void after_cb(struct loom_loop *loop, void *arg, loom_err status) {
  struct job *j = arg;
  j->after_loop = loom_loop_current();
  j->after_thread = pthread_self();
  j->status = status;
  (void)loop;
  atomic_store(&j->done, 1);
}

static void test_work_reports_back_on_loop(void **state) {
  (void)state;
  struct loom_loop_group *g;
  assert_int_equal(loom_loop_group_new(2, &g), LOOM_OK);
  assert_int_equal(loom_loop_group_size(g), 2);
  struct loom_loop *loop = loom_loop_group_at(g, 1);
  assert_int_equal(loom_loop_index(loop), 1);
  enum { N = 16 };
  struct job jobs[N] = {0};
  for (int i = 0; i < N; i++)
    assert_int_equal(loom_loop_work(loop, work_cb, after_cb, &jobs[i]),
                     LOOM_OK);
  loom_loop_group_free(g); /* waits for the pool work to report back */
  for (int i = 0; i < N; i++) {
    assert_int_equal(atomic_load(&jobs[i].done), 1);
    assert_int_equal(jobs[i].status, LOOM_OK);
    assert_ptr_equal(jobs[i].after_loop, loop);
    assert_false(pthread_equal(jobs[i].worker, jobs[i].after_thread));
  }
}

static void record_cb(struct loom_loop *loop, void *arg) {
  *(struct loom_loop **)arg = loom_loop_current();
  (void)loop;
}

static void test_call_waits_and_round_robin(void **state) {
  (void)state;
  struct loom_loop_group *g;
  assert_int_equal(loom_loop_group_new(3, &g), LOOM_OK);
  struct loom_loop *seen = NULL;
  assert_int_equal(loom_loop_call(loom_loop_group_at(g, 2), record_cb, &seen),
                   LOOM_OK);
  assert_ptr_equal(seen, loom_loop_group_at(g, 2));
  struct loom_loop *a = loom_loop_group_next(g), *b = loom_loop_group_next(g),
                   *c = loom_loop_group_next(g), *d = loom_loop_group_next(g);
  assert_true(a != b && b != c && a != c);
  assert_ptr_equal(a, d);
  loom_loop_group_free(g);
}

/* Work on a loom_pool: on one of its threads, never libuv's (a job that
 * waits for a job of libuv's pool finishes with that pool cut to nothing
 * free); `after` on the loop; all of it done by the time the pool is freed;
 * with no loop, `after` on the worker right after the work. */
static void test_pool_work_reports_back(void **state) {
  (void)state;
  struct loom_loop *loop;
  struct loom_pool *pool;
  assert_int_equal(loom_loop_new("pool-test", &loop), LOOM_OK);
  assert_int_equal(loom_pool_new("pool-test", 2, &pool), LOOM_OK);
  enum { N = 8 };
  struct job jobs[N] = {0}, bare = {0};
  for (int i = 0; i < N; i++)
    assert_int_equal(loom_pool_work(pool, loop, work_cb, after_cb, &jobs[i]),
                     LOOM_OK);
  assert_int_equal(loom_pool_work(pool, NULL, work_cb, after_cb, &bare),
                   LOOM_OK);
  loom_pool_free(pool); /* the queued work runs first */
  loom_loop_free(loop); /* the posted `after`s run first */
  for (int i = 0; i < N; i++) {
    assert_int_equal(atomic_load(&jobs[i].done), 1);
    assert_int_equal(jobs[i].status, LOOM_OK);
    assert_ptr_equal(jobs[i].after_loop, loop);
    assert_false(pthread_equal(jobs[i].worker, jobs[i].after_thread));
  }
  assert_int_equal(atomic_load(&bare.done), 1);
  assert_null(bare.after_loop);
  assert_true(pthread_equal(bare.worker, bare.after_thread));
}

static void tick_cb(uv_timer_t *t) { (void)t; }

/* Its owner forgets it: a repeating timer stays active on the loop. */
static void leak_timer_cb(struct loom_loop *loop, void *arg) {
  uv_timer_t *t = arg;
  uv_timer_init(loom_loop_uv(loop), t);
  uv_timer_start(t, tick_cb, 10, 10);
}

static void *free_loop(void *arg) {
  loom_loop_free(arg);
  return NULL;
}

/* A handle left open by its owner does not keep the loop from stopping:
 * it is closed (with a warning) and loom_loop_free returns. */
static void test_free_closes_a_forgotten_handle(void **state) {
  (void)state;
  struct loom_loop *loop;
  assert_int_equal(loom_loop_new("leak-test", &loop), LOOM_OK);
  static uv_timer_t forgotten;
  assert_int_equal(loom_loop_call(loop, leak_timer_cb, &forgotten), LOOM_OK);
  pthread_t th;
  pthread_create(&th, NULL, free_loop, loop);
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 5;
  assert_int_equal(pthread_timedjoin_np(th, NULL, &deadline), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_posts_run_in_order_on_loop),
      cmocka_unit_test(test_stopped_loop_refuses_until_freed),
      cmocka_unit_test(test_work_reports_back_on_loop),
      cmocka_unit_test(test_call_waits_and_round_robin),
      cmocka_unit_test(test_pool_work_reports_back),
      cmocka_unit_test(test_free_closes_a_forgotten_handle),
  };
  return cmocka_run_group_tests_name("loop", tests, NULL, NULL);
}
