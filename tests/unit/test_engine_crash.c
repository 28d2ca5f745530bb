/*
 * test_engine_crash — kill -9 at random points, over and over.
 *
 * A child process runs an 80-step graph (two parallel nodes, then a join,
 * forty times) on a SQLite file; the parent SIGKILLs it after a random
 * delay and starts another child, which continues the thread from its
 * last checkpoint (and the pending writes of tasks that finished), until
 * one child completes. The final state must equal an uninterrupted run's:
 * the add counter and the append log would show any step's writes applied
 * twice, and the checkpoint chain must hold each step exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine_helpers.h"

static const char *spec =
    "state:\n"
    "  n: {type: integer, reducer: add, default: 0}\n"
    "  log: {reducer: append}\n"
    "nodes:\n"
    "  left:\n"
    "    lua: |\n"
    "      local x = 0 for i = 1, 30000 do x = x + i end\n"
    "      return {log = {'L' .. state.n}, n = 1}\n"
    "  right:\n"
    "    lua: |\n"
    "      local x = 0 for i = 1, 30000 do x = x + i end\n"
    "      return {log = {'R' .. state.n}}\n"
    "  join: {lua: \"return {log = {'J' .. state.n}}\"}\n"
    "edges:\n"
    "  - START -> left\n"
    "  - START -> right\n"
    "  - left -> join\n"
    "  - right -> join\n"
    "  - 'join -> left: n < 40'\n"
    "  - 'join -> right: n < 40'\n";

#define THREAD "crashy"

/* The child: continue the thread, or start it. Exit 0 when done. */
static void child(const char *dir) {
  struct loom_store *store = NULL;
  struct loom_error e = {0};
  if (loom_store_open("", dir, &store, &e) || loom_store_migrate(store, &e))
    _exit(5);
  struct loom_graph *g = load_graph(spec);
  struct loom_checkpoint *cp = NULL;
  bool fresh = store->ops->get_checkpoint(store, "default", THREAD, "", NULL,
                                          &cp, &e) == LOOM_ERR_NOT_FOUND;
  loom_checkpoint_free(cp);
  json_t *in = fresh ? J("{}") : NULL;
  struct loom_run_opts o = {.store = store,
                            .thread_id = THREAD,
                            .input = in,
                            .recursion_limit = 1000};
  enum loom_run_status st = run_graph(g, &o, NULL, NULL, NULL);
  _exit(st == LOOM_RUN_SUCCESS ? 0 : 6);
}

static json_t *reference_values(void) {
  struct loom_graph *g = load_graph(spec);
  json_t *in = J("{}"), *v = NULL;
  struct loom_run_opts o = {.input = in, .recursion_limit = 1000};
  assert_int_equal(run_graph(g, &o, &v, NULL, NULL), LOOM_RUN_SUCCESS);
  json_decref(in);
  loom_graph_free(g);
  return v;
}

/* Walks parent links from the latest checkpoint; counts loop steps. */
static int loop_steps(struct loom_store *store) {
  struct loom_checkpoint *cp = NULL;
  struct loom_error e = {0};
  int steps = 0, last_step = 1 << 30;
  char *id = NULL;
  while (
      !store->ops->get_checkpoint(store, "default", THREAD, "", id, &cp, &e)) {
    int step = (int)json_integer_value(json_object_get(cp->metadata, "step"));
    const char *src =
        json_string_value(json_object_get(cp->metadata, "source"));
    assert_true(step < last_step); /* no step twice on the chain */
    last_step = step;
    steps += !strcmp(src, "loop");
    free(id);
    id = cp->parent_id ? strdup(cp->parent_id) : NULL;
    loom_checkpoint_free(cp);
    cp = NULL;
    if (!id)
      break;
  }
  free(id);
  return steps;
}

static void test_kill_nine_over_and_over(void **st) {
  (void)st;
  char dir[] = "/tmp/loom-crash-XXXXXX";
  assert_non_null(mkdtemp(dir));
  json_t *want = reference_values();
  unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
  int kills = 0, rounds = 0, done = 0;
  while (!done && rounds++ < 400) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
      child(dir);
    /* Widen the window as rounds go by: under sanitizers a child needs
     * longer just to start. */
    usleep(500 + rand_r(&seed) % (12000 + 1000 * (unsigned)rounds));
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      kills++;
    }
    if (WIFEXITED(status)) {
      assert_int_equal(WEXITSTATUS(status), 0);
      done = 1;
    }
  }
  assert_true(done);
  print_message("crash test: %d kills in %d rounds\n", kills, rounds);
  assert_true(kills >= 5); /* the point is the restarts, not their count */
  struct loom_store *store = NULL;
  struct loom_error e = {0};
  assert_int_equal(loom_store_open("", dir, &store, &e), LOOM_OK);
  struct loom_graph *g = load_graph(spec);
  json_t *state = NULL;
  assert_int_equal(
      loom_engine_get_state(store, NULL, g, THREAD, NULL, &state, &e), LOOM_OK);
  assert_true(json_equal(json_object_get(state, "values"), want));
  assert_int_equal(json_array_size(json_object_get(state, "next")), 0);
  assert_int_equal(loop_steps(store), 81); /* the start step, then 80 */
  json_decref(state), json_decref(want);
  loom_graph_free(g);
  loom_store_close(store);
  char cmd[64];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kill_nine_over_and_over),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
