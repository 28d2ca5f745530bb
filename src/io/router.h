/*
 * router — method + path pattern → handler, with path parameters.
 *
 * Patterns are literal segments and `{name}` parameters:
 * "/threads/{thread_id}/runs/{run_id}". Lookup walks a tree of segments
 * (a literal child is preferred over a parameter child), so its cost is
 * the number of segments, never a regex. A path that matches no pattern is
 * 404; a path whose pattern exists but not for this method is 405 with an
 * `Allow` header listing the methods it has (HEAD is served by GET).
 *
 * Build the router before the server starts; lookups from many loop
 * threads then share it read-only, without a lock.
 */
#ifndef LOOM_IO_ROUTER_H
#define LOOM_IO_ROUTER_H

#include <stddef.h>

#include "core/err.h"
#include "io/http.h"

/* Most parameters one pattern may have. */
#define LOOM_HTTP_MAX_PARAMS 8

struct loom_http_router;

enum loom_http_match_kind {
  LOOM_HTTP_MATCH_FOUND,      /* handler and params are set */
  LOOM_HTTP_MATCH_NOT_FOUND,  /* no pattern matches the path: 404 */
  LOOM_HTTP_MATCH_BAD_METHOD, /* pattern exists, not this method: 405 */
};

struct loom_http_match {
  enum loom_http_match_kind kind;
  loom_http_handler_cb handler;
  void *userdata;
  const char *pattern; /* the route as registered; borrowed from router */
  size_t nparams;
  const char *param_names[LOOM_HTTP_MAX_PARAMS]; /* borrowed from router */
  char *param_values[LOOM_HTTP_MAX_PARAMS];      /* owned copies */
  char allow[64]; /* for BAD_METHOD: "GET, HEAD, POST" */
};

/* An empty router. */
struct loom_http_router *loom_http_router_new(void);

/* Frees the router; no server may still use it. NULL is a no-op. */
void loom_http_router_free(struct loom_http_router *router);

/*
 * Registers `handler` for `method` ("GET", "POST", ...; upper case) on
 * `pattern` (must start with '/'; `{name}` segments are parameters; a
 * trailing '/' is ignored). LOOM_ERR_INVALID for a malformed pattern or
 * more than LOOM_HTTP_MAX_PARAMS parameters, LOOM_ERR_EXISTS when the
 * method + pattern is already taken (or uses different parameter names at
 * the same place as an existing route). Message in `e` (may be NULL).
 */
loom_err loom_http_route_add(struct loom_http_router *router,
                             const char *method, const char *pattern,
                             loom_http_handler_cb handler, void *userdata,
                             struct loom_error *e) LOOM_MUST_USE;

/* One row of a module's route table. */
struct loom_http_route {
  const char *method, *pattern;
  loom_http_handler_cb handler;
};

/* Registers every row of `routes` (n rows) with `userdata`, in order;
 * stops at the first that loom_http_route_add refuses. */
loom_err loom_http_routes_add(struct loom_http_router *router,
                              const struct loom_http_route *routes, size_t n,
                              void *userdata,
                              struct loom_error *e) LOOM_MUST_USE;

/* loom_http_routes_add over a whole array. */
#define LOOM_HTTP_ROUTES_ADD(router, table, userdata, e)                       \
  loom_http_routes_add(router, table, sizeof(table) / sizeof((table)[0]),      \
                       userdata, e)

/*
 * Looks up `method` + `path` (without the query string, as the server
 * passes it: already percent-decoded by libmicrohttpd). Fills `m`;
 * release with loom_http_match_cleanup.
 */
void loom_http_router_match(const struct loom_http_router *router,
                            const char *method, const char *path,
                            struct loom_http_match *m);

/* Frees the parameter values of a match. */
void loom_http_match_cleanup(struct loom_http_match *m);

#endif
