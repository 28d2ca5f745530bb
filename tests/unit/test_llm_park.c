/*
 * test_llm_park — runs parked on model calls hold no thread.
 *
 * A small pool of 4 worker threads owns the runs, as the API executor's
 * pool does: a run starts on a worker, parks on its `llm` node, and the
 * engine's wake_cb queues loom_run_resume on the pool when the model
 * call's continuation is posted back. 200 runs against a server that
 * answers after one second all park before the first answer and finish
 * in about a second (blocking, 4 threads would need 50 s). A parked run
 * is cancelled through loom_run_post: it stops at once and its call is
 * cancelled, or, when no model loop has taken the call yet, taken back
 * unsent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "agents/nodes.h"
#include "core/clock.h"
#include "engine/engine.h"
#include "llm_server_harness.h"
#include "obs/metrics.h"

static struct llm_server srv;

/* ---- a fixed pool of 4 threads ---- */

#define POOL_THREADS 4

struct work {
  void (*fn)(void *arg);
  void *arg;
  struct work *next;
};

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct work *head, *tail;
  bool stop;
  pthread_t threads[POOL_THREADS];
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *pool_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&pool.mu);
  for (;;) {
    while (!pool.head && !pool.stop)
      pthread_cond_wait(&pool.cv, &pool.mu);
    struct work *w = pool.head;
    if (!w)
      break;
    pool.head = w->next;
    if (!pool.head)
      pool.tail = NULL;
    pthread_mutex_unlock(&pool.mu);
    w->fn(w->arg);
    loom_free(w);
    pthread_mutex_lock(&pool.mu);
  }
  pthread_mutex_unlock(&pool.mu);
  return NULL;
}

static void pool_push(void (*fn)(void *), void *arg) {
  struct work *w = LOOM_NEW(struct work);
  w->fn = fn;
  w->arg = arg;
  pthread_mutex_lock(&pool.mu);
  if (pool.tail)
    pool.tail->next = w;
  else
    pool.head = w;
  pool.tail = w;
  pthread_cond_signal(&pool.cv);
  pthread_mutex_unlock(&pool.mu);
}

static bool on_pool_thread(void) {
  for (int i = 0; i < POOL_THREADS; i++)
    if (pthread_equal(pool.threads[i], pthread_self()))
      return true;
  return false;
}

/* ---- runs owned by the pool ---- */

struct prun {
  struct loom_run *run;
  enum loom_run_status status;
  int tokens;
  bool token_off_pool; /* an event reached the subscriber off the pool */
  char answer[64];
};

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int parked;              /* loom_run_start returned WAITING */
  int stopped;             /* runs finished */
  int parked_at_first_end; /* `parked` when the first run finished */
} track = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void run_event_cb(const struct loom_event *ev, void *arg) {
  struct prun *p = arg;
  if (ev->type != LOOM_EVENT_CUSTOM)
    return;
  const char *kind = json_string_value(json_object_get(ev->data, "event"));
  if (kind && !strcmp(kind, "token"))
    p->tokens++;
  p->token_off_pool |= !on_pool_thread();
}

static void run_done_cb(struct loom_run *r, void *arg) {
  struct prun *p = arg;
  p->status = loom_run_status(r);
  const char *a =
      json_string_value(json_object_get(loom_run_values(r), "answer"));
  snprintf(p->answer, sizeof p->answer, "%s", a ? a : "");
}

static void stopped_one(void) {
  pthread_mutex_lock(&track.mu);
  if (!track.stopped++)
    track.parked_at_first_end = track.parked;
  pthread_cond_broadcast(&track.cv);
  pthread_mutex_unlock(&track.mu);
}

static void resume_work(void *arg) {
  struct prun *p = arg;
  if (loom_run_resume(p->run))
    stopped_one();
}

static void wake_cb(struct loom_run *r, void *arg) {
  (void)r;
  pool_push(resume_work, arg);
}

static void start_work(void *arg) {
  struct prun *p = arg;
  enum loom_run_status st = loom_run_start(p->run);
  if (st != LOOM_RUN_WAITING) {
    stopped_one();
    return;
  }
  pthread_mutex_lock(&track.mu);
  track.parked++;
  pthread_cond_broadcast(&track.cv);
  pthread_mutex_unlock(&track.mu);
}

static void wait_for(int *counter, int n) {
  pthread_mutex_lock(&track.mu);
  while (*counter < n)
    pthread_cond_wait(&track.cv, &track.mu);
  pthread_mutex_unlock(&track.mu);
}

static const char *GRAPH = "name: one\n"
                           "state: {q: {type: string}, answer: {}}\n"
                           "nodes:\n"
                           "  ask: {kind: llm, model: scripted/small,"
                           " prompt: '{q}', output: answer}\n"
                           "edges: ['START -> ask', 'ask -> END']\n";

static struct prun *make_runs(const struct loom_graph *g,
                              struct loom_store *store, int n) {
  struct prun *runs = loom_calloc((size_t)n, sizeof *runs);
  memset(&track, 0, sizeof track);
  pthread_mutex_init(&track.mu, NULL);
  pthread_cond_init(&track.cv, NULL);
  json_t *input = json_pack("{s:s}", "q", "Say hello.");
  for (int i = 0; i < n; i++) {
    struct loom_run_opts o = {.store = store,
                              .input = input,
                              .wake_cb = wake_cb,
                              .wake_arg = &runs[i]};
    struct loom_error e = {0};
    assert_int_equal(loom_run_new(g, &o, &runs[i].run, &e), LOOM_OK);
    loom_run_subscribe(runs[i].run, run_event_cb, &runs[i]);
    loom_run_on_done(runs[i].run, run_done_cb, &runs[i]);
  }
  json_decref(input);
  return runs;
}

static void free_runs(struct prun *runs, int n) {
  for (int i = 0; i < n; i++)
    loom_run_free(runs[i].run);
  loom_free(runs);
}

static struct loom_graph *graph(void) {
  struct loom_graph *g = NULL;
  struct loom_error e = {0};
  if (loom_graph_load(GRAPH, strlen(GRAPH), "one.yaml", &g, &e))
    fail_msg("load: %s", e.message);
  return g;
}

static void many_parked_runs_on_four_threads(void **state) {
  (void)state;
  enum { N = 200 };
  llm_server_script(&srv, "[]");
  json_decref(llm_server_control(&srv, "/__default", "{\"delay_ms\":1000}"));
  struct loom_graph *g = graph();
  struct loom_store *store = loom_engine_memstore_new();
  struct prun *runs = make_runs(g, store, N);
  uint64_t t0 = loom_clock_mono_ns();
  for (int i = 0; i < N; i++)
    pool_push(start_work, &runs[i]);
  wait_for(&track.stopped, N);
  double secs = (double)(loom_clock_mono_ns() - t0) / 1e9;
  json_decref(llm_server_control(&srv, "/__default", "{\"delay_ms\":0}"));
  /* Every run was parked, holding no thread, before any answer came. */
  assert_int_equal(track.parked_at_first_end, N);
  /* 200 one-second calls on 4 threads: 50 s if each held its thread. */
  if (secs > 8.0)
    fail_msg("%d runs took %.1f s", N, secs);
  for (int i = 0; i < N; i++) {
    assert_int_equal(runs[i].status, LOOM_RUN_SUCCESS);
    assert_true(runs[i].answer[0] != '\0');
    assert_true(runs[i].tokens >= 1);     /* deltas still reach subscribers */
    assert_false(runs[i].token_off_pool); /* ... on the run's threads */
  }
  free_runs(runs, N);
  loom_store_close(store);
  loom_graph_free(g);
}

static void cancel_cb(void *arg) { loom_run_cancel(arg); }

static double cancelled_calls(void) {
  const char *v[] = {"scripted/small", "cancelled"};
  return loom_metric_value(
      loom_metrics_counter("loom_llm_requests_total", "Model calls by outcome",
                           (const char *const[]){"model", "outcome", NULL}),
      v);
}

static void cancel_a_parked_run(void **state) {
  (void)state;
  llm_server_script(&srv, "[{\"stall_before_headers\": true}]");
  struct loom_graph *g = graph();
  struct loom_store *store = loom_engine_memstore_new();
  struct prun *runs = make_runs(g, store, 1);
  double before = cancelled_calls();
  pool_push(start_work, &runs[0]);
  wait_for(&track.parked, 1);
  /* The server holds the request; wait until it has it. */
  for (int i = 0; i < 200; i++) {
    json_t *reqs = llm_server_requests(&srv);
    size_t n = json_array_size(reqs);
    json_decref(reqs);
    if (n)
      break;
    usleep(10000);
  }
  uint64_t t0 = loom_clock_mono_ns();
  assert_int_equal(loom_run_post(runs[0].run, cancel_cb, runs[0].run), LOOM_OK);
  wait_for(&track.stopped, 1);
  assert_true(loom_clock_mono_ns() - t0 < 2000000000ull);
  assert_int_equal(runs[0].status, LOOM_RUN_CANCELLED);
  /* The call itself was cancelled on the model loop (shortly after). */
  for (int i = 0; i < 200 && cancelled_calls() < before + 1; i++)
    usleep(10000);
  assert_true(cancelled_calls() >= before + 1);
  /* A stopped run refuses posts. */
  assert_int_equal(loom_run_post(runs[0].run, cancel_cb, runs[0].run),
                   LOOM_ERR_UNAVAILABLE);
  free_runs(runs, 1);
  loom_store_close(store);
  loom_graph_free(g);
}

/* An agent whose Lua tool keeps the (only) model loop busy for a while:
 * calls made meanwhile wait in the queue, taken by no loop. */
static const char *BLOCKER =
    "name: blocker\n"
    "state: {q: {type: string}, answer: {}}\n"
    "nodes:\n"
    "  work:\n"
    "    kind: agent\n"
    "    model: scripted/small\n"
    "    prompt: '{q}'\n"
    "    output: answer\n"
    "    tools:\n"
    "      - name: busy\n"
    "        max_instructions: 4000000000\n"
    "        lua: 'local i = 0 while i < 40000000 do i = i + 1 end return i'\n"
    "edges: ['START -> work', 'work -> END']\n";

static size_t requests_seen(void) {
  json_t *reqs = llm_server_requests(&srv);
  size_t n = json_array_size(reqs);
  json_decref(reqs);
  return n;
}

/* Runs cancelled while their calls wait for a model loop (the only one
 * is busy in a Lua tool): they stop at once, their calls are taken back
 * from the queue and never sent (under ASan: no reference lost or
 * dropped twice); the busy run then finishes as usual. */
static void cancel_calls_no_loop_took(void **state) {
  (void)state;
  enum { N = 5 };
  llm_server_script(&srv, "[{\"tool_calls\":[{\"id\":\"b1\",\"name\":"
                          "\"busy\",\"arguments\":\"{}\"}]},"
                          "{\"content\":\"done\"}]");
  struct loom_graph *bg = NULL, *g = graph();
  struct loom_error e = {0};
  if (loom_graph_load(BLOCKER, strlen(BLOCKER), "blocker.yaml", &bg, &e))
    fail_msg("load: %s", e.message);
  struct loom_store *store = loom_engine_memstore_new();
  struct prun *blocker = make_runs(bg, store, 1);
  pool_push(start_work, &blocker[0]);
  for (int i = 0; i < 500 && requests_seen() < 1; i++)
    usleep(10000);
  usleep(100000); /* the answer is in: the loop is inside the tool */
  memset(&track, 0, sizeof track);
  struct prun *runs = make_runs(g, store, N);
  for (int i = 0; i < N; i++)
    pool_push(start_work, &runs[i]);
  wait_for(&track.parked, N);
  for (int i = 0; i < N; i++)
    assert_int_equal(loom_run_post(runs[i].run, cancel_cb, runs[i].run),
                     LOOM_OK);
  wait_for(&track.stopped, N);
  for (int i = 0; i < N; i++)
    assert_int_equal(runs[i].status, LOOM_RUN_CANCELLED);
  assert_int_equal(blocker[0].status, LOOM_RUN_PENDING); /* not done yet */
  assert_int_equal(requests_seen(), 1); /* still only the agent's first */
  for (int i = 0; i < 500 && blocker[0].status != LOOM_RUN_SUCCESS; i++)
    usleep(10000);
  assert_int_equal(blocker[0].status, LOOM_RUN_SUCCESS);
  assert_int_equal(requests_seen(), 2); /* the agent's second, no others */
  free_runs(runs, N);
  free_runs(blocker, 1);
  loom_store_close(store);
  loom_graph_free(g);
  loom_graph_free(bg);
}

static int setup(void **state) {
  (void)state;
  if (!llm_server_start_nodes(&srv))
    return -1;
  for (int i = 0; i < POOL_THREADS; i++)
    pthread_create(&pool.threads[i], NULL, pool_main, NULL);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  pthread_mutex_lock(&pool.mu);
  pool.stop = true;
  pthread_cond_broadcast(&pool.cv);
  pthread_mutex_unlock(&pool.mu);
  for (int i = 0; i < POOL_THREADS; i++)
    pthread_join(pool.threads[i], NULL);
  llm_server_stop_nodes(&srv);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(many_parked_runs_on_four_threads),
      cmocka_unit_test(cancel_a_parked_run),
      cmocka_unit_test(cancel_calls_no_loop_took),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
