/*
 * langgraph — the LangGraph-compatible agent server API: graphs,
 * assistants, threads, state, runs, streaming and the store. Loads the graphs
 * of LOOM_GRAPHS, loads the stored rows, starts the run executor (runs
 * interrupted by a restart continue) and registers every route of the
 * modules in this folder (docs/api.md lists them).
 */
#include "api/internal.h"
#include "api/routes.h"

loom_err loom_api_langgraph_routes(struct loom_http_router *router,
                                   struct loom_app *app, struct loom_error *e) {
  api_executor_init(app);
  api_webhook_init(app->config);
  api_persist_init(app);
  api_graphs_load_dirs(app, app->config ? app->config->graphs : NULL);
  api_persist_load();
  loom_err err = api_graph_routes(router, app, e);
  if (!err)
    err = api_assistant_routes(router, app, e);
  if (!err)
    err = api_thread_routes(router, app, e);
  if (!err)
    err = api_state_routes(router, app, e);
  if (!err)
    err = api_run_routes(router, app, e);
  if (!err)
    err = api_store_routes(router, app, e);
  return err;
}

void loom_api_langgraph_stop(void) { api_executor_stop(); }

void loom_api_langgraph_shutdown(void) { api_persist_stop(); }
