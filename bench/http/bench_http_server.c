/*
 * bench_http_server — the HTTP stack alone, for bench/http/run.sh:
 * GET /healthz answers {"ok":true}; POST /echo parses the JSON body
 * (loom_http_json_body) and sends it back; GET /sleep?ms=N answers after
 * N ms from a timer (suspended meanwhile, for bench_http_client). Usage:
 *   bench_http_server [port] [loops]      (port 0 = ephemeral)
 * Prints "port N" once listening; stops gracefully on SIGINT/SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/http_server.h"

static void healthz(struct loom_http_req *req, void *ud) {
  (void)ud;
  loom_http_respond_json(req, 200, json_pack("{s:b}", "ok", 1));
}

static void echo(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *body;
  if (loom_http_json_body(req, &body))
    loom_http_respond_json(req, 200, body);
}

static void wake_cb(uv_timer_t *t) {
  loom_http_respond_raw(t->data, 200, "text/plain", "ok", 2);
  uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

static void sleepy(struct loom_http_req *req, void *ud) {
  (void)ud;
  const char *ms = loom_http_query(req, "ms");
  uv_timer_t *t = calloc(1, sizeof *t);
  uv_timer_init(loom_loop_uv(loom_http_loop(req)), t);
  t->data = req;
  uv_timer_start(t, wake_cb, ms ? strtoull(ms, NULL, 10) : 1000, 0);
  loom_http_suspend(req);
}

int main(int argc, char **argv) {
  struct loom_http_server_options opt = {0};
  opt.port = argc > 1 ? (uint16_t)atoi(argv[1]) : 0;
  unsigned nloops = argc > 2 ? (unsigned)atoi(argv[2]) : 1;

  /* Block the stop signals before threads start; main waits for them. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);

  struct loom_error e;
  loom_error_clear(&e);
  struct loom_http_router *router = loom_http_router_new();
  if (loom_http_route_add(router, "GET", "/healthz", healthz, NULL, &e) ||
      loom_http_route_add(router, "POST", "/echo", echo, NULL, &e) ||
      loom_http_route_add(router, "GET", "/sleep", sleepy, NULL, &e)) {
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
  loom_http_server_free(srv);
  loom_loop_group_free(loops);
  loom_http_router_free(router);
  return 0;
}
