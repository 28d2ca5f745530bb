/*
 * The deadline heap (io/deadlines.h) against a plain array: random adds,
 * moves and removals, after each of which the heap's first is the
 * earliest deadline still in; then everything comes out in order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "io/deadlines.h"

enum { N = 500 };

static struct loom_deadline *earliest(struct loom_deadline *all) {
  struct loom_deadline *best = NULL;
  for (int i = 0; i < N; i++)
    if (all[i].queued && (!best || all[i].at < best->at))
      best = &all[i];
  return best;
}

static void first_is_always_the_earliest(void **state) {
  (void)state;
  struct loom_deadline all[N] = {0};
  struct loom_deadlines d = {0};
  srand(7);
  for (int step = 0; step < 20000; step++) {
    struct loom_deadline *e = &all[rand() % N];
    if (rand() % 4 == 0)
      loom_deadlines_remove(&d, e);
    else
      loom_deadlines_set(&d, e, (double)(rand() % 1000) / 10.0);
    struct loom_deadline *want = earliest(all), *got = loom_deadlines_first(&d);
    assert_true((want == NULL) == (got == NULL));
    if (want)
      assert_true(got->at == want->at);
  }
  double last = -1;
  unsigned left = d.n;
  for (struct loom_deadline *e; (e = loom_deadlines_first(&d));) {
    assert_true(e->at >= last);
    last = e->at;
    loom_deadlines_remove(&d, e);
    assert_false(e->queued);
    left--;
  }
  assert_int_equal(left, 0);
  loom_deadlines_cleanup(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(first_is_always_the_earliest),
  };
  return cmocka_run_group_tests_name("deadlines", tests, NULL, NULL);
}
