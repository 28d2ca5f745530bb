/*
 * health — the operational endpoints:
 *   GET /healthz  the process is up and serving (no dependencies checked)
 *   GET /readyz   the database answers; 503 otherwise, so a load balancer
 *                 takes the process out of rotation
 *   GET /ok       {"ok": true}: LangGraph's server's health path, for
 *                 load balancers and scripts set up for it
 *   GET /info     version, role and the backends in use
 *   GET /metrics  Prometheus text format 0.0.4
 */
#include <stdio.h>
#include <string.h>

#include "api/routes.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "io/http.h"
#include "obs/metrics.h"

static void healthz_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  loom_http_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static void ok_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  loom_http_respond_json(req, 200, json_pack("{s:b}", "ok", 1));
}

static void readyz_cb(struct loom_http_req *req, void *userdata) {
  struct loom_app *app = userdata;
  /* A ping is one trivial query on a local file; cheap enough to answer on
   * the loop thread. */
  if (loom_store_ping(app->store) != LOOM_OK) {
    loom_http_respond_error(req, 503, "unavailable",
                            "the %s database does not answer",
                            loom_store_backend(app->store));
    return;
  }
  loom_http_respond_json(req, 200,
                         json_pack("{s:s, s:s}", "status", "ready", "database",
                                   loom_store_backend(app->store)));
}

static void info_cb(struct loom_http_req *req, void *userdata) {
  struct loom_app *app = userdata;
  const struct loom_config *c = app->config;
  double uptime = (double)(loom_clock_wall_ms() - app->started_ms) / 1000.0;
  json_t *backends = json_pack(
      "{s:s, s:s, s:s, s:s, s:s}", "database", loom_store_backend(app->store),
      "cache", *c->redis_url ? "redis" : "memory", "vectors", "hnsw", "queue",
      *c->database_url ? "postgres" : "in-process", "events",
      *c->redis_url ? "redis" : "in-process");
  loom_http_respond_json(req, 200,
                         json_pack("{s:s, s:s, s:s, s:o, s:i, s:f}", "name",
                                   "loom", "version", LOOM_VERSION, "role",
                                   c->role, "backends", backends, "loops",
                                   (int)loom_loop_group_size(app->loops),
                                   "uptime_seconds", uptime));
}

static void metrics_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  char *page = loom_metrics_render();
  size_t len = strlen(page);
  loom_http_respond_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8",
                        page, len);
  loom_free(page);
}

void loom_api_record_request(const char *method, const char *route,
                             unsigned status, double duration_s,
                             void *userdata) {
  struct loom_metric *latency = userdata;
  char code[8];
  snprintf(code, sizeof code, "%u", status);
  loom_metric_observe(latency, (const char *const[]){method, route, code},
                      duration_s);
}

loom_err loom_api_health_routes(struct loom_http_router *router,
                                struct loom_app *app, struct loom_error *e) {
  static const struct loom_http_route routes[] = {
      {"GET", "/healthz", healthz_cb}, {"GET", "/readyz", readyz_cb},
      {"GET", "/ok", ok_cb},           {"GET", "/info", info_cb},
      {"GET", "/metrics", metrics_cb},
  };
  return LOOM_HTTP_ROUTES_ADD(router, routes, app, e);
}
