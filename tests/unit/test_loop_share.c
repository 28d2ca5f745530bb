/*
 * loop_share: every item runs once, on a loop of the share; a loop that is
 * busy takes none while another is free; an item can be taken back until
 * a loop takes it; freeing the share hands what no loop took to `drop`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>

#include "io/loop_share.h"

struct item {
  struct loom_loop_share_item link; /* first: the callbacks cast back */
  struct loom_loop *ran_on;
  atomic_int runs;
};

static atomic_int total_runs;
static sem_t all_ran;
static int expected_runs;

static void run_cb(struct loom_loop *loop, struct loom_loop_share_item *it) {
  struct item *item = (struct item *)it;
  item->ran_on = loop;
  atomic_fetch_add(&item->runs, 1);
  if (atomic_fetch_add(&total_runs, 1) + 1 == expected_runs)
    sem_post(&all_ran);
}

/* Posted to a loop: holds it until `release` is posted. */
static void block_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  sem_wait(arg);
}

static void start(struct loom_loop **loops, unsigned n, unsigned batch,
                  struct loom_loop_share **s, int expected) {
  for (unsigned i = 0; i < n; i++)
    assert_int_equal(loom_loop_new("share-test", &loops[i]), LOOM_OK);
  assert_int_equal(loom_loop_share_new(loops, n, batch, s), LOOM_OK);
  atomic_store(&total_runs, 0);
  expected_runs = expected;
  sem_init(&all_ran, 0, 0);
}

static void stop(struct loom_loop **loops, unsigned n,
                 struct loom_loop_share *s) {
  loom_loop_share_free(s, NULL, NULL);
  for (unsigned i = 0; i < n; i++)
    loom_loop_free(loops[i]);
  sem_destroy(&all_ran);
}

/* One loop held busy: the other takes every item, each exactly once. */
static void test_free_loop_takes_the_work(void **state) {
  (void)state;
  enum { N = 500 };
  struct loom_loop *loops[2];
  struct loom_loop_share *s;
  start(loops, 2, 8, &s, N);
  sem_t release;
  sem_init(&release, 0, 0);
  assert_int_equal(loom_loop_post(loops[0], block_cb, &release), LOOM_OK);
  static struct item items[N];
  for (int i = 0; i < N; i++)
    assert_int_equal(loom_loop_share_push(s, &items[i].link, run_cb), LOOM_OK);
  sem_wait(&all_ran);
  for (int i = 0; i < N; i++) {
    assert_int_equal(atomic_load(&items[i].runs), 1);
    assert_ptr_equal(items[i].ran_on, loops[1]);
    assert_ptr_equal(items[i].link.taken_by, loops[1]);
  }
  sem_post(&release);
  stop(loops, 2, s);
  sem_destroy(&release);
}

/* Queued behind a busy loop, an item can be taken back and never runs;
 * once run, it cannot. */
static void test_take_back_until_taken(void **state) {
  (void)state;
  struct loom_loop *loops[1];
  struct loom_loop_share *s;
  start(loops, 1, 0, &s, 1);
  sem_t release;
  sem_init(&release, 0, 0);
  assert_int_equal(loom_loop_post(loops[0], block_cb, &release), LOOM_OK);
  struct item kept = {0}, taken_back = {0};
  assert_int_equal(loom_loop_share_push(s, &taken_back.link, run_cb), LOOM_OK);
  assert_int_equal(loom_loop_share_push(s, &kept.link, run_cb), LOOM_OK);
  assert_true(loom_loop_share_take_back(s, &taken_back.link));
  sem_post(&release);
  sem_wait(&all_ran);
  assert_int_equal(atomic_load(&kept.runs), 1);
  assert_false(loom_loop_share_take_back(s, &kept.link));
  assert_ptr_equal(kept.link.taken_by, loops[0]);
  stop(loops, 1, s);
  assert_int_equal(atomic_load(&taken_back.runs), 0);
  sem_destroy(&release);
}

struct freeing {
  struct loom_loop_share *s;
  atomic_int dropped;
};

static void drop_cb(struct loom_loop_share_item *it, void *arg) {
  struct freeing *f = arg;
  assert_null(it->taken_by);
  atomic_fetch_add(&f->dropped, 1);
}

static void *free_share(void *arg) {
  struct freeing *f = arg;
  loom_loop_share_free(f->s, drop_cb, f);
  return NULL;
}

/* Freed while its only loop is busy: the loop's pull takes one batch (one
 * item here), the rest go to drop, and pushes are refused. */
static void test_free_drops_what_no_loop_took(void **state) {
  (void)state;
  struct loom_loop *loop;
  assert_int_equal(loom_loop_new("share-test", &loop), LOOM_OK);
  struct freeing f = {0};
  assert_int_equal(loom_loop_share_new(&loop, 1, 1, &f.s), LOOM_OK);
  atomic_store(&total_runs, 0);
  expected_runs = -1;
  sem_t release;
  sem_init(&release, 0, 0);
  assert_int_equal(loom_loop_post(loop, block_cb, &release), LOOM_OK);
  enum { MAX = 1 << 16 };
  static struct item items[MAX];
  int pushed = 0;
  for (; pushed < 3; pushed++)
    assert_int_equal(loom_loop_share_push(f.s, &items[pushed].link, run_cb),
                     LOOM_OK);
  pthread_t th;
  pthread_create(&th, NULL, free_share, &f);
  /* Pushes succeed until the free has begun; then they are refused. */
  while (pushed < MAX &&
         loom_loop_share_push(f.s, &items[pushed].link, run_cb) == LOOM_OK) {
    pushed++;
    sched_yield();
  }
  assert_true(pushed < MAX);
  sem_post(&release);
  pthread_join(th, NULL);
  assert_int_equal(atomic_load(&total_runs), 1);
  assert_int_equal(atomic_load(&f.dropped), pushed - 1);
  loom_loop_free(loop);
  sem_destroy(&release);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_free_loop_takes_the_work),
      cmocka_unit_test(test_take_back_until_taken),
      cmocka_unit_test(test_free_drops_what_no_loop_took),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
