/*
 * bench_http_client — N concurrent requests from one loom_http_client
 * (one loop, curl multi) to URL; prints how long they took all together,
 * how many succeeded, and the process's peak memory. Usage:
 *   bench_http_client URL [N]
 * e.g. against bench_http_server's GET /sleep?ms=1000 (1 s per request).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "io/http_client.h"
#include "io/loop.h"

struct run {
  const char *url;
  int n;
  struct loom_http_client *client;
  atomic_int done, ok;
  double *durations; /* written on the loop thread only */
  char first_error[256];
};

static void done_cb(const struct loom_http_client_response *r, void *ud) {
  struct run *run = ud;
  run->durations[atomic_load(&run->done)] = r->duration_s;
  if (r->err == LOOM_OK && r->status == 200)
    atomic_fetch_add(&run->ok, 1);
  else if (!run->first_error[0])
    snprintf(run->first_error, sizeof run->first_error, "%s (status %ld)",
             r->error, r->status);
  atomic_fetch_add(&run->done, 1);
}

static void start_cb(struct loom_loop *loop, void *arg) {
  struct run *run = arg;
  if (loom_http_client_new(loop, 100000, &run->client) != LOOM_OK)
    abort();
  for (int i = 0; i < run->n; i++) {
    struct loom_http_client_request r = {
        .url = run->url, .timeout_s = 60, .on_done = done_cb, .userdata = run};
    if (loom_http_client_send(run->client, &r, NULL) != LOOM_OK)
      abort();
  }
}

static void stop_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  struct run *run = arg;
  loom_http_client_free(run->client);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_http_client URL [N]\n");
    return 2;
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  static struct run run;
  run.url = argv[1];
  run.n = argc > 2 ? atoi(argv[2]) : 10000;
  run.durations = calloc((size_t)run.n, sizeof *run.durations);
  loom_http_client_global_init();
  struct loom_loop *loop;
  if (loom_loop_new("bench-client", &loop) != LOOM_OK)
    return 1;
  double t0 = now_s();
  if (loom_loop_call(loop, start_cb, &run) != LOOM_OK)
    return 1;
  while (atomic_load(&run.done) < run.n)
    usleep(1000);
  double took = now_s() - t0;
  if (loom_loop_call(loop, stop_cb, &run) != LOOM_OK)
    return 1;
  loom_loop_free(loop);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  qsort(run.durations, (size_t)run.n, sizeof *run.durations, cmp_double);
  printf("%d requests, %d ok, %.2f s all together, per request p50 %.3f s "
         "p99 %.3f s max %.3f s, peak RSS %.0f MB%s%s\n",
         run.n, atomic_load(&run.ok), took, run.durations[run.n / 2],
         run.durations[run.n * 99 / 100], run.durations[run.n - 1],
         ru.ru_maxrss / 1024.0, run.first_error[0] ? ", first error: " : "",
         run.first_error);
  free(run.durations);
  return atomic_load(&run.ok) == run.n ? 0 : 1;
}
