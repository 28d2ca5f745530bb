/*
 * bench_model_server — a minimal OpenAI-compatible chat server in C for
 * bench_models: every POST /v1/chat/completions is suspended and answered
 * after DELAY_MS with a fixed completion (JSON, or an SSE stream with the
 * usage chunk when the request asks for one).
 *
 *   bench_model_server [delay_ms] [loops]      prints "port N"
 *
 * It exists because a one-thread Node.js server accepting 10,000 new
 * connections at once is the bottleneck of the measurement, not the
 * client; the scripted server (tests/llm-server) is the one for tests.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "core/clock.h"
#include "io/http.h"
#include "io/http_server.h"
#include "io/loop.h"
#include "io/router.h"

static uint64_t delay_ms = 2000;

static const char JSON_ANSWER[] =
    "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1,"
    "\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
    "\"assistant\",\"content\":\"Hello from the bench server.\"},"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,"
    "\"completion_tokens\":7,\"total_tokens\":16}}";

static const char SSE_ANSWER[] =
    "data: "
    "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
    "\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" "
    "from the "
    "bench server.\"},\"finish_reason\":null}]}\n\n"
    "data: "
    "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
    "\"stop\"}]}\n\n"
    "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,"
    "\"completion_tokens\":7,\"total_tokens\":16}}\n\n"
    "data: [DONE]\n\n";

struct pending {
  uv_timer_t timer;
  struct loom_http_req *req;
  bool stream;
};

static void closed_cb(uv_handle_t *h) { free(h->data); }

static void wake_cb(uv_timer_t *t) {
  struct pending *p = t->data;
  if (p->stream)
    loom_http_respond_raw(p->req, 200, "text/event-stream", SSE_ANSWER,
                          sizeof SSE_ANSWER - 1);
  else
    loom_http_respond_raw(p->req, 200, "application/json", JSON_ANSWER,
                          sizeof JSON_ANSWER - 1);
  uv_close((uv_handle_t *)t, closed_cb);
}

/* Arrival of the first and last request (loop 0 only counts when one
 * loop runs; enough to see how fast the clients got through). */
static double first_s, last_s;
static unsigned long received;

static void chat(struct loom_http_req *req, void *ud) {
  (void)ud;
  double now = loom_clock_mono_s();
  if (!received++)
    first_s = now;
  last_s = now;
  size_t len;
  const char *body = loom_http_body(req, &len);
  struct pending *p = calloc(1, sizeof *p);
  p->req = req;
  p->stream = body && strstr(body, "\"stream\":true");
  uv_timer_init(loom_loop_uv(loom_http_loop(req)), &p->timer);
  p->timer.data = p;
  uv_timer_start(&p->timer, wake_cb, delay_ms, 0);
  loom_http_suspend(req);
}

int main(int argc, char **argv) {
  delay_ms = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000;
  unsigned nloops = argc > 2 ? (unsigned)atoi(argv[2]) : 1;
  struct loom_http_server_options opt = {.connection_limit = 30000,
                                         .idle_timeout_s = 120};
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  struct loom_error e;
  loom_error_clear(&e);
  struct loom_http_router *router = loom_http_router_new();
  if (loom_http_route_add(router, "POST", "/v1/chat/completions", chat, NULL,
                          &e)) {
    fprintf(stderr, "route: %s\n", e.message);
    return 1;
  }
  struct loom_loop_group *loops;
  if (loom_loop_group_new(nloops, &loops) != LOOM_OK)
    return 1;
  struct loom_http_server *srv;
  if (loom_http_server_new(loops, router, &opt, &srv, &e) != LOOM_OK) {
    fprintf(stderr, "server: %s\n", e.message);
    return 1;
  }
  printf("port %u\n", loom_http_server_port(srv));
  fflush(stdout);
  int sig;
  sigwait(&stop, &sig);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  if (getenv("BENCH_DEBUG"))
    fprintf(stderr, "server: %lu requests arrived over %.3f s; cpu %.2f s\n",
            received, last_s - first_s,
            (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
  loom_http_server_free(srv);
  loom_loop_group_free(loops);
  loom_http_router_free(router);
  return 0;
}
