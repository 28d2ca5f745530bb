/*
 * unbuilt — the routes of surfaces clients expect that loom does not serve
 * yet: CrewAI's per-crew kickoff API and LangGraph's crons.
 * They answer 404 `not_implemented` saying so and what to use meanwhile;
 * the plain "no route for POST /runs/crons" read like a wrong base URL or
 * a typo. 404, not 501: clients retry 5xx answers (the LangGraph SDK
 * does, with backoff), and nothing here will work on a retry.
 */
#include "api/routes.h"
#include "io/http.h"

static void crews_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  loom_http_respond_error(
      req, 404, "not_implemented",
      "crews (CrewAI's agents.yaml/tasks.yaml and kickoff API) are not built "
      "yet; write the crew's steps as a graph (examples/graphs/research.yaml "
      "is one) and run it with POST /runs/wait or /threads/{id}/runs");
}

static void crons_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  loom_http_respond_error(req, 404, "not_implemented",
                          "crons (scheduled runs) are not built yet; start "
                          "runs from your own scheduler with POST /runs or "
                          "/threads/{thread_id}/runs");
}

loom_err loom_api_unbuilt_routes(struct loom_http_router *router,
                                 struct loom_app *app, struct loom_error *e) {
  static const struct loom_http_route routes[] = {
      {"POST", "/crews/{crew}/kickoff", crews_cb},
      {"GET", "/crews/{crew}/status/{kickoff_id}", crews_cb},
      {"GET", "/crews/{crew}/inputs", crews_cb},
      {"POST", "/crews/{crew}/resume", crews_cb},
      {"POST", "/runs/crons", crons_cb},
      {"POST", "/runs/crons/search", crons_cb},
      {"POST", "/runs/crons/count", crons_cb},
      {"PATCH", "/runs/crons/{cron_id}", crons_cb},
      {"DELETE", "/runs/crons/{cron_id}", crons_cb},
      {"POST", "/threads/{thread_id}/runs/crons", crons_cb},
  };
  return LOOM_HTTP_ROUTES_ADD(router, routes, app, e);
}
