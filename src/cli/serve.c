/*
 * serve — `loom serve`: configuration → store (migrated) → event loops →
 * routes → HTTP server; then waits for SIGTERM/SIGINT and stops
 * gracefully: no new connections, in-flight requests get the grace period
 * (LOOM_GRACE_SECONDS), then exit 0.
 *
 * Signals are blocked in every thread (the mask is set before any thread
 * starts, and threads inherit it) and taken synchronously with sigwait on
 * the main thread, so no handler runs in the middle of loop code.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/pinecone.h"
#include "api/routes.h"
#include "cli/cli.h"
#include "core/clock.h"
#include "core/log.h"
#include "io/http_client.h"
#include "agents/nodes.h"
#include "io/http_server.h"
#include "obs/metrics.h"
#include "stores/cache.h"

static const char usage[] =
    "usage: loom serve [--addr HOST:PORT] [--data-dir DIR] [--graphs DIRS]\n"
    "                  [--config FILE] [--<setting> VALUE ...]\n"
    "\n"
    "Serves the HTTP API. With no configuration: SQLite under ./data, an\n"
    "in-process cache, on 127.0.0.1:8123.";

static int wait_for_stop_signal(const sigset_t *set) {
  int sig = 0;
  sigwait(set, &sig);
  return sig;
}

struct serve {
  struct loom_config config;
  struct loom_app app;
  struct loom_http_router *router;
  struct loom_http_server *server;
};

/*
 * Settings of the production shape whose backends are not built yet.
 * Accepting them silently would leave a user believing what is not true:
 * LOOM_AUTH=apikey served every request unchecked, REDIS_URL and
 * LOOM_ROLE were ignored. They stop the start, as DATABASE_URL=postgres://
 * does (loom_store_open), except SENTRY_DSN: without it errors still
 * reach the log, so a warning says so.
 */
static loom_err refuse_unbuilt(const struct loom_config *c,
                               struct loom_error *e) {
  if (c->auth && *c->auth && strcmp(c->auth, "none") != 0)
    return loom_error_set(
        e, LOOM_ERR_UNSUPPORTED,
        "LOOM_AUTH=%s: API-key and Clerk authentication are not built yet, "
        "so loom would answer every request unchecked; unset LOOM_AUTH (or "
        "set it to none) and keep loom on a loopback or private address",
        c->auth);
  if (c->role && *c->role && strcmp(c->role, "all") != 0)
    return loom_error_set(
        e, LOOM_ERR_UNSUPPORTED,
        "LOOM_ROLE=%s: separate api and worker processes are not built yet "
        "(they need the PostgreSQL run queue); unset LOOM_ROLE to run "
        "everything in this process",
        c->role);
  struct loom_cache *cache = NULL;
  loom_err err = loom_cache_open(c->redis_url, 0, &cache, e);
  loom_cache_free(cache);
  if (!err && c->sentry_dsn && *c->sentry_dsn)
    LOOM_WARN("SENTRY_DSN is set, but reporting to Sentry is not built yet: "
              "errors go to this log only");
  return err;
}

static loom_err start(struct serve *s, struct loom_error *e) {
  struct loom_config *c = &s->config;
  struct loom_http_server_options opt = {0};
  loom_err err = refuse_unbuilt(c, e);
  if (!err)
    err = loom_http_server_options_from_config(c, &opt, e);
  opt.idle_timeout_s = (unsigned)atoi(c->idle_timeout);
  if (!err)
    err = loom_store_open(c->database_url, c->data_dir, &s->app.store, e);
  if (!err)
    err = loom_store_migrate(s->app.store, e);
  if (!err &&
      (err = loom_loop_group_new((unsigned)atoi(c->threads), &s->app.loops)))
    loom_error_set(e, err, "cannot start the event loops");
  if (err)
    return err;
  s->app.config = c;
  s->app.started_ms = loom_clock_wall_ms();
  /* Model node kinds (llm, agent) must exist before graphs load. */
  if ((err = loom_agents_nodes_register(c, e)))
    return err;
  s->router = loom_http_router_new();
  if ((err = loom_api_routes_add(s->router, &s->app, e)))
    return err;
  if ((err =
           loom_http_server_new(s->app.loops, s->router, &opt, &s->server, e)))
    return err;
  const char *const labels[] = {"method", "route", "status", NULL};
  struct loom_metric *latency = loom_metrics_histogram(
      "http_request_duration_seconds", "HTTP request latency by route.", labels,
      loom_metrics_latency_buckets, loom_metrics_latency_nbuckets);
  loom_http_server_set_done_hook(s->server, loom_api_record_request, latency);
  return LOOM_OK;
}

static void stop(struct serve *s) {
  loom_api_langgraph_stop(); /* running graph runs pause, resumed at start */
  loom_http_server_free(s->server); /* graceful: waits for in-flight work */
  loom_api_pinecone_shutdown();     /* checkpoints the vector indexes */
  loom_loop_group_stop(s->app.loops);
  /* The API's queued writes, before the store closes. Their writer may
   * still acknowledge to a loop: stopped, not freed, it refuses. */
  loom_api_langgraph_shutdown();
  loom_loop_group_free(s->app.loops);
  loom_agents_nodes_shutdown(); /* after the runs stopped */
  loom_http_router_free(s->router);
  loom_store_close(s->app.store);
  loom_config_cleanup(&s->config);
}

int loom_cli_serve(int argc, char **argv) {
  uint64_t t0 = loom_clock_mono_ns();
  struct serve s = {0};
  int rc = loom_cli_load_config(argc, argv, usage, &s.config);
  if (rc >= 0) {
    loom_config_cleanup(&s.config);
    return rc;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  loom_http_client_global_init(); /* libcurl wants this before any thread */

  struct loom_error e = {0};
  if (start(&s, &e) != LOOM_OK) {
    LOOM_ERROR("cannot start: %s",
               e.message[0] ? e.message : loom_strerror(e.code));
    stop(&s);
    return 1;
  }
  loom_log_fields(
      LOOM_LOG_INFO, "ready",
      json_pack("{s:s, s:i, s:s, s:i, s:I}", "addr", s.config.addr, "port",
                (int)loom_http_server_port(s.server), "database",
                loom_store_backend(s.app.store), "loops",
                (int)loom_loop_group_size(s.app.loops), "startup_ms",
                (json_int_t)((loom_clock_mono_ns() - t0) / 1000000)));
  int sig = wait_for_stop_signal(&set);
  LOOM_INFO("%s received: stopping (grace %s s)", strsignal(sig),
            s.config.grace_seconds);
  stop(&s);
  LOOM_INFO("stopped");
  return 0;
}
