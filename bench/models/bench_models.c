/*
 * bench_models — many concurrent graph runs, each parked on one model call.
 *
 *   bench_models BASE_URL [runs] [loops] [stream|json]
 *
 * Loads a one-node graph whose `llm` node asks the OpenAI-compatible
 * server at BASE_URL (bench/models/run.sh starts one that answers after
 * 2 s), then starts `runs` engine runs at once, in memory (no store: like
 * a LangGraph.js graph without a checkpointer), spread over `loops`
 * event loops that own them. Each run parks on its model call, which runs
 * on one of `loops` model loops (LOOM_LLM_LOOPS), and is resumed on its
 * own loop when the answer is posted back. `stream` (the default): the
 * node streams, so token events reach a subscriber as they come; `json`:
 * the runs say no one wants token events, so the node asks for the answer
 * in one piece (what the LangGraph.js side does). Prints one table row: runs,
 * ok, failed, wall seconds, peak RSS, CPU seconds (user + system) of this
 * process.
 */
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "agents/nodes.h"
#include "core/clock.h"
#include "core/config.h"
#include "engine/engine.h"
#include "io/loop.h"

static const char GRAPH[] = "name: bench\n"
                            "state: {question: {type: string}, answer: {}}\n"
                            "nodes:\n"
                            "  llm: {kind: llm, model: bench/bench-model,"
                            " prompt: '{question}', output: answer}\n"
                            "edges: ['START -> llm', 'llm -> END']\n";

struct brun {
  struct loom_run *run;
  struct loom_loop *loop; /* owns the run */
  int tokens;
  double started, ended; /* monotonic seconds */
};

struct per_loop {
  struct loom_loop *loop;
  struct brun *runs;
  int n;
};

static const struct loom_graph *graph;
static json_t *input;
static atomic_int remaining, ok_count, fail_count, token_runs;
static sem_t all_done;
static bool streamed = true;
static char first_error[1024];

static void event_cb(const struct loom_event *ev, void *arg) {
  struct brun *b = arg;
  if (ev->type == LOOM_EVENT_CUSTOM &&
      !strcmp(json_string_value(json_object_get(ev->data, "event")) ?: "",
              "token"))
    b->tokens++;
}

static void finished(struct brun *b) {
  const json_t *answer = json_object_get(loom_run_values(b->run), "answer");
  if (loom_run_status(b->run) == LOOM_RUN_SUCCESS && json_is_string(answer)) {
    atomic_fetch_add(&ok_count, 1);
  } else if (atomic_fetch_add(&fail_count, 1) == 0) {
    snprintf(first_error, sizeof first_error, "%s: %s",
             loom_run_status_name(loom_run_status(b->run)),
             loom_run_error(b->run)->message);
  }
  if (b->tokens)
    atomic_fetch_add(&token_runs, 1);
  b->ended = loom_clock_mono_s();
  loom_run_free(b->run);
  b->run = NULL;
  if (atomic_fetch_sub(&remaining, 1) == 1)
    sem_post(&all_done);
}

static void resume_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  struct brun *b = arg;
  if (loom_run_resume(b->run))
    finished(b);
}

/* The model loop posted to a parked run: continue it on its own loop. */
static void wake_cb(struct loom_run *r, void *arg) {
  (void)r;
  struct brun *b = arg;
  if (loom_loop_post(b->loop, resume_cb, b) != LOOM_OK)
    abort();
}

static void start_cb(struct loom_loop *loop, void *arg) {
  struct per_loop *pl = arg;
  for (int i = 0; i < pl->n; i++) {
    struct brun *b = &pl->runs[i];
    b->loop = loop;
    b->started = loom_clock_mono_s();
    struct loom_run_opts o = {.input = input,
                              .wake_cb = wake_cb,
                              .wake_arg = b,
                              .no_token_events = !streamed,
                              .no_checkpoint_events = true};
    struct loom_error e = {0};
    if (loom_run_new(graph, &o, &b->run, &e)) {
      fprintf(stderr, "run: %s\n", e.message);
      abort();
    }
    loom_run_subscribe(b->run, event_cb, b);
    if (loom_run_start(b->run) != LOOM_RUN_WAITING)
      finished(b); /* stopped at once: an error */
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* BENCH_DEBUG: when runs started and how long each took, to stderr. */
static void print_latencies(const struct brun *all, int n, double t0) {
  double *lat = calloc((size_t)n, sizeof *lat);
  double last_start = 0;
  for (int i = 0; i < n; i++) {
    lat[i] = all[i].ended - all[i].started;
    if (all[i].started - t0 > last_start)
      last_start = all[i].started - t0;
  }
  qsort(lat, (size_t)n, sizeof *lat, cmp_double);
  fprintf(stderr,
          "t0 mono %.3f; all started after %.3f s; run latency p50 %.3f p90 "
          "%.3f p99 %.3f "
          "max %.3f s\n",
          t0, last_start, lat[n / 2], lat[n * 9 / 10], lat[n * 99 / 100],
          lat[n - 1]);
  free(lat);
}

static double cpu_seconds(const struct rusage *u) {
  return (double)u->ru_utime.tv_sec + (double)u->ru_utime.tv_usec / 1e6 +
         (double)u->ru_stime.tv_sec + (double)u->ru_stime.tv_usec / 1e6;
}

static struct loom_graph *setup(const char *base, unsigned nloops) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  char endpoints[512];
  snprintf(endpoints, sizeof endpoints, "bench=%s", base);
  setenv("LOOM_ENDPOINTS", endpoints, 1);
  char n[16];
  snprintf(n, sizeof n, "%u", nloops);
  setenv("LOOM_LLM_LOOPS", n, 1);
  struct loom_config cfg = {0};
  struct loom_error e = {0};
  struct loom_graph *g = NULL;
  if (loom_config_load(&cfg, &e) || loom_agents_nodes_register(&cfg, &e) ||
      loom_graph_load(GRAPH, sizeof GRAPH - 1, "bench.yaml", &g, &e)) {
    fprintf(stderr, "bench_models: %s\n", e.message);
    exit(1);
  }
  loom_config_cleanup(&cfg);
  return g;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr,
            "usage: bench_models BASE_URL [runs] [loops] [stream|json]\n");
    return 2;
  }
  int runs = argc > 2 ? atoi(argv[2]) : 10000;
  unsigned nloops = argc > 3 ? (unsigned)atoi(argv[3]) : 1;
  streamed = argc <= 4 || strcmp(argv[4], "json") != 0;
  struct loom_graph *g = setup(argv[1], nloops);
  graph = g;
  input = json_pack("{s:s}", "question", "Hello?");
  struct loom_loop_group *group;
  if (loom_loop_group_new(nloops, &group) != LOOM_OK)
    return 1;
  struct brun *all = calloc((size_t)runs, sizeof *all);
  struct per_loop *pls = calloc(nloops, sizeof *pls);
  for (unsigned i = 0, at = 0; i < nloops; i++) {
    pls[i].loop = loom_loop_group_at(group, i);
    pls[i].n = runs / (int)nloops + (i < (unsigned)runs % nloops);
    pls[i].runs = all + at;
    at += (unsigned)pls[i].n;
  }
  sem_init(&all_done, 0, 0);
  atomic_store(&remaining, runs);
  double t0 = loom_clock_mono_s();
  struct rusage u0, u1;
  getrusage(RUSAGE_SELF, &u0);
  for (unsigned i = 0; i < nloops; i++)
    if (loom_loop_post(pls[i].loop, start_cb, &pls[i]) != LOOM_OK)
      return 1;
  sem_wait(&all_done);
  double wall = loom_clock_mono_s() - t0;
  getrusage(RUSAGE_SELF, &u1);
  printf("%-8d %-6d %-7d %-9.2f %-10.1f %-8.2f runs (llm node, %s; "
         "%d with token events)\n",
         runs, atomic_load(&ok_count), atomic_load(&fail_count), wall,
         (double)u1.ru_maxrss / 1024.0, cpu_seconds(&u1) - cpu_seconds(&u0),
         streamed ? "streamed" : "json", atomic_load(&token_runs));
  if (first_error[0])
    fprintf(stderr, "first error: %s\n", first_error);
  if (getenv("BENCH_DEBUG"))
    print_latencies(all, runs, t0);
  loom_loop_group_free(group);
  loom_agents_nodes_shutdown();
  loom_graph_free(g);
  json_decref(input);
  free(all);
  free(pls);
  return atomic_load(&fail_count) ? 1 : 0;
}
