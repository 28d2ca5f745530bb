/*
 * routes — registers every api module's routes.
 */
#include "api/routes.h"

#include "api/pinecone.h"

loom_err loom_api_routes_add(struct loom_http_router *router,
                             struct loom_app *app, struct loom_error *e) {
  loom_err err = loom_api_health_routes(router, app, e);
  if (!err)
    err = loom_api_documents_routes(router, app, e);
  if (!err)
    err = loom_api_langgraph_routes(router, app, e);
  if (!err)
    err = loom_api_pinecone_routes(router, app, e);
  if (!err)
    err = loom_api_unbuilt_routes(router, app, e);
  return err;
}
