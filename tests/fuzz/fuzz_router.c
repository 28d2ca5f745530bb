/*
 * fuzz_router — any request path (as libmicrohttpd hands it over: decoded,
 * so it may hold any byte) against a route table shaped like the API's.
 * The first byte picks the method. A match must be consistent: a found
 * route has its handler and one value per parameter, a parameter value is
 * never empty and never holds a '/', and 405 always names the methods
 * that exist.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void handler_cb(struct loom_http_req *req, void *userdata) {
  (void)req;
  (void)userdata;
}

static const char *const routes[][2] = {
    {"GET", "/healthz"},
    {"GET", "/threads/{thread_id}"},
    {"PATCH", "/threads/{thread_id}"},
    {"GET", "/threads/{thread_id}/state/{checkpoint_id}"},
    {"POST", "/threads/{thread_id}/runs"},
    {"GET", "/threads/{thread_id}/runs/{run_id}/stream"},
    {"POST", "/threads/{thread_id}/runs/{run_id}/cancel"},
    {"POST", "/threads/search"},
    {"POST", "/vectors/upsert"},
    {"GET", "/indexes/{index_name}"},
};

static struct loom_http_router *router(void) {
  static struct loom_http_router *r;
  if (r)
    return r;
  r = loom_http_router_new();
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
    if (loom_http_route_add(r, routes[i][0], routes[i][1], handler_cb, NULL,
                            NULL) != LOOM_OK)
      abort();
  return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const methods[] = {"GET", "POST", "PATCH", "DELETE",
                                        "HEAD"};
  if (size == 0)
    return 0;
  const char *method = methods[data[0] % 5];
  char *path = loom_malloc(size);
  memcpy(path, data + 1, size - 1);
  path[size - 1] = '\0';
  struct loom_http_match m;
  loom_http_router_match(router(), method, path, &m);
  if (m.kind == LOOM_HTTP_MATCH_FOUND) {
    if (!m.handler || !m.pattern || m.nparams > LOOM_HTTP_MAX_PARAMS)
      abort();
    for (size_t i = 0; i < m.nparams; i++)
      if (!m.param_values[i] || !*m.param_values[i] ||
          strchr(m.param_values[i], '/'))
        abort();
  } else if (m.kind == LOOM_HTTP_MATCH_BAD_METHOD && !*m.allow) {
    abort();
  }
  loom_http_match_cleanup(&m);
  loom_free(path);
  return 0;
}
