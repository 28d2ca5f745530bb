/*
 * bench_models — many concurrent model calls from one process.
 *
 *   bench_models BASE_URL [calls] [loops] [stream]
 *
 * Starts `calls` chat calls at once (spread over `loops` event loops, each
 * with its own HTTP client) against an OpenAI-compatible server at
 * BASE_URL (bench/models/run.sh starts the scripted server answering after
 * 2 s), waits for all of them, and prints one table row: calls, ok,
 * failed, wall seconds, peak RSS, CPU seconds (user + system) of this
 * process.
 */
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "agents/llm_call.h"
#include "core/clock.h"
#include "io/http_client.h"
#include "io/loop.h"

struct per_loop {
  struct loom_loop *loop;
  struct loom_http_client *http;
  struct loom_provider *p;
  int calls;
};

static atomic_int remaining, ok_count, fail_count;
static sem_t all_done;
static json_t *messages;
static bool stream;
static char first_error[512];

static void done_cb(void *ud, struct loom_llm_result *r) {
  (void)ud;
  if (r->err == LOOM_OK)
    atomic_fetch_add(&ok_count, 1);
  else if (atomic_fetch_add(&fail_count, 1) == 0)
    snprintf(first_error, sizeof first_error, "%s", r->error);
  if (atomic_fetch_sub(&remaining, 1) == 1)
    sem_post(&all_done);
}

static void delta_cb(void *ud, const char *t, size_t n) {
  (void)ud;
  (void)t;
  (void)n;
}

static void client_new_cb(struct loom_loop *loop, void *arg) {
  struct per_loop *pl = arg;
  if (loom_http_client_new(loop, 65535, &pl->http) != LOOM_OK)
    abort();
}

static void client_free_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  loom_http_client_free(((struct per_loop *)arg)->http);
}

static void start_cb(struct loom_loop *loop, void *arg) {
  double ts = loom_clock_mono_s();
  struct per_loop *pl = arg;
  struct loom_llm_env env = {.loop = loop, .http = pl->http};
  struct loom_llm_request req = {.messages = messages, .temperature = -1};
  struct loom_llm_call_opts o = {.on_done = done_cb,
                                 .on_delta = stream ? delta_cb : NULL};
  for (int i = 0; i < pl->calls; i++) {
    struct loom_error e;
    if (loom_llm_call_start(&env, pl->p, &req, &o, NULL, &e) != LOOM_OK) {
      fprintf(stderr, "start: %s\n", e.message);
      abort();
    }
  }
  if (getenv("BENCH_DEBUG"))
    fprintf(stderr, "started %d calls in %.3f s\n", pl->calls,
            loom_clock_mono_s() - ts);
}

static double cpu_seconds(const struct rusage *u) {
  return (double)u->ru_utime.tv_sec + (double)u->ru_utime.tv_usec / 1e6 +
         (double)u->ru_stime.tv_sec + (double)u->ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_models BASE_URL [calls] [loops] [stream]\n");
    return 2;
  }
  int calls = argc > 2 ? atoi(argv[2]) : 10000;
  unsigned nloops = argc > 3 ? (unsigned)atoi(argv[3]) : 1;
  stream = argc > 4 && strcmp(argv[4], "stream") == 0;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  loom_http_client_global_init();
  messages = json_pack("[{s:s, s:s}]", "role", "user", "content", "Hello?");
  struct loom_loop_group *g;
  if (loom_loop_group_new(nloops, &g) != LOOM_OK)
    return 1;
  struct per_loop *pls = calloc(nloops, sizeof *pls);
  for (unsigned i = 0; i < nloops; i++) {
    pls[i].loop = loom_loop_group_at(g, i);
    pls[i].p = loom_provider_new(&loom_provider_openai, "bench", "bench-model",
                                 argv[1], "");
    pls[i].p->first_byte_timeout_ms = 30000;
    pls[i].p->connect_timeout_ms = 30000;
    pls[i].p->max_retries = 0;
    pls[i].calls = calls / (int)nloops + (i < (unsigned)calls % nloops);
    if (loom_loop_call(pls[i].loop, client_new_cb, &pls[i]) != LOOM_OK)
      return 1;
  }
  sem_init(&all_done, 0, 0);
  atomic_store(&remaining, calls);
  double t0 = loom_clock_mono_s();
  struct rusage u0, u1;
  getrusage(RUSAGE_SELF, &u0);
  for (unsigned i = 0; i < nloops; i++)
    if (loom_loop_post(pls[i].loop, start_cb, &pls[i]) != LOOM_OK)
      return 1;
  sem_wait(&all_done);
  double wall = loom_clock_mono_s() - t0;
  getrusage(RUSAGE_SELF, &u1);
  printf("%-8d %-6d %-7d %-9.2f %-10.1f %-8.2f %s\n", calls,
         atomic_load(&ok_count), atomic_load(&fail_count), wall,
         (double)u1.ru_maxrss / 1024.0, cpu_seconds(&u1) - cpu_seconds(&u0),
         stream ? "stream" : "json");
  if (first_error[0])
    fprintf(stderr, "first error: %s\n", first_error);
  for (unsigned i = 0; i < nloops; i++) {
    if (loom_loop_call(pls[i].loop, client_free_cb, &pls[i]) != LOOM_OK)
      return 1;
    loom_provider_free(pls[i].p);
  }
  loom_loop_group_free(g);
  free(pls);
  json_decref(messages);
  return atomic_load(&fail_count) ? 1 : 0;
}
