/*
 * routes — the one place that lists every HTTP surface loom serves. Each
 * api module exposes `loom_api_<module>_routes(router, app, e)`; this
 * module calls them all, so adding a surface is one line here.
 */
#ifndef LOOM_API_ROUTES_H
#define LOOM_API_ROUTES_H

#include "api/app.h"
#include "core/err.h"
#include "io/router.h"

/* Registers every route. Fails only on a programming error (a clash). */
loom_err loom_api_routes_add(struct loom_http_router *router,
                             struct loom_app *app,
                             struct loom_error *e) LOOM_MUST_USE;

/* Health, readiness, info and metrics (src/api/health.c). */
loom_err loom_api_health_routes(struct loom_http_router *router,
                                struct loom_app *app,
                                struct loom_error *e) LOOM_MUST_USE;

/* Documents and hybrid search under the vector indexes, and the retrieve
 * node kind and tool (src/api/documents.c); before langgraph, so graphs
 * with retrieve nodes load. */
loom_err loom_api_documents_routes(struct loom_http_router *router,
                                   struct loom_app *app,
                                   struct loom_error *e) LOOM_MUST_USE;

/* The LangGraph-compatible API: graphs, assistants, threads, runs, streams
 * (src/api/langgraph.c). Also loads LOOM_GRAPHS and starts the executor. */
loom_err loom_api_langgraph_routes(struct loom_http_router *router,
                                   struct loom_app *app,
                                   struct loom_error *e) LOOM_MUST_USE;

/* Surfaces clients expect that are not built yet (crews' kickoff API,
 * LangGraph crons): 404 saying so and what to use meanwhile
 * (src/api/unbuilt.c). */
loom_err loom_api_unbuilt_routes(struct loom_http_router *router,
                                 struct loom_app *app,
                                 struct loom_error *e) LOOM_MUST_USE;

/* Before the HTTP server and the loops stop: runs in progress stop at
 * their next step and stay pending, so the next start continues them. */
void loom_api_langgraph_stop(void);

/* After the loops stopped, before the store closes: writes what the API
 * still has queued for the store and stops its writer thread. */
void loom_api_langgraph_shutdown(void);

/*
 * Records http_request_duration_seconds{method,route,status}; installed as
 * the HTTP server's done hook.
 */
void loom_api_record_request(const char *method, const char *route,
                             unsigned status, double duration_s,
                             void *userdata);

#endif
