/*
 * http_server — libmicrohttpd driven by loom's libuv loops.
 *
 * One MHD daemon per loop of a group, all listening on the same address
 * with SO_REUSEPORT, so the kernel spreads connections over the loops.
 * Each daemon runs in MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME mode with
 * no thread of its own: its epoll fd is watched by a uv_poll, and every
 * MHD_run is followed by re-arming a uv_timer from MHD_get_timeout (see
 * "Verified on this machine" in DESIGN.md). Handlers therefore run on the
 * loop threads; long requests (SSE, waits) are suspended, costing memory
 * and never a thread.
 *
 * Per request: an id (UUIDv7, `x-request-id`), the body read into a capped
 * buffer (413 when over max_body, after draining it so keep-alive
 * survives; a declared Content-Length over twice the cap, or cap + 1 MiB,
 * is refused at once and the connection closed), routing (404, 405 + Allow),
 * the optional `before` hook, then the handler (see io/http.h for the
 * contract). After every response the `done` hook gets method, route pattern,
 * status and duration.
 */
#ifndef LOOM_IO_HTTP_SERVER_H
#define LOOM_IO_HTTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "io/http.h"
#include "io/loop.h"
#include "io/router.h"

struct loom_http_server;

struct loom_http_server_options {
  char host[128];            /* address to bind; "" = "127.0.0.1" */
  uint16_t port;             /* 0 = an ephemeral port (see _port()) */
  size_t max_body;           /* largest request body; 0 = 10 MiB */
  unsigned connection_limit; /* per loop; 0 = 10000 */
  unsigned idle_timeout_s;   /* idle/stalled connection timeout; 0 = 60 */
  double grace_seconds;      /* in-flight wait at stop; 0 = 10, <0 = none */
};

/*
 * Options from the configuration: LOOM_ADDR ("host:port", "[v6]:port" or
 * ":port"), LOOM_MAX_BODY, LOOM_GRACE_SECONDS; the rest default.
 * LOOM_ERR_INVALID with a message for a malformed address.
 */
loom_err
loom_http_server_options_from_config(const struct loom_config *c,
                                     struct loom_http_server_options *opt,
                                     struct loom_error *e) LOOM_MUST_USE;

/* Called after every response: for request metrics, access logs. Runs on
 * the loop thread; `route` is the pattern or "(unmatched)". */
typedef void (*loom_http_done_cb)(const char *method, const char *route,
                                  unsigned status, double duration_s,
                                  void *userdata);

/* Called after routing, before the handler. Return true to go on to the
 * handler; return false after answering (e.g. 401) or suspending the
 * request yourself. */
typedef bool (*loom_http_before_cb)(struct loom_http_req *req, void *userdata);

/*
 * Raises RLIMIT_NOFILE to its hard limit and starts listening on every loop
 * of `loops`, routing through `router` (borrowed: keep it alive and
 * unchanged until the server is freed). Fails with LOOM_ERR_IO (message in
 * `e`, e.g. the port is taken) and leaves nothing running. Call from a
 * thread that is not one of the group's loops.
 */
loom_err loom_http_server_new(struct loom_loop_group *loops,
                              const struct loom_http_router *router,
                              const struct loom_http_server_options *opt,
                              struct loom_http_server **out,
                              struct loom_error *e) LOOM_MUST_USE;

/* The port actually bound (useful with port 0). */
uint16_t loom_http_server_port(const struct loom_http_server *srv);

/* Set the hooks right after _new, before the first request can matter
 * (they are read by loop threads without a lock). NULL removes. */
void loom_http_server_set_done_hook(struct loom_http_server *srv,
                                    loom_http_done_cb cb, void *userdata);
void loom_http_server_set_before_hook(struct loom_http_server *srv,
                                      loom_http_before_cb cb, void *userdata);

/* Requests in flight right now, over all loops (approximate). */
unsigned loom_http_server_in_flight(const struct loom_http_server *srv);

/*
 * Graceful stop; blocks until done. Stops accepting at once; requests in
 * flight get up to grace_seconds to finish (responses meanwhile carry
 * `Connection: close`); then suspended requests are abandoned (abort
 * callbacks, 503) and SSE streams closed (their producers see
 * on_disconnect); then the daemons stop. Idempotent. Not from a loop
 * thread of the server's group.
 */
void loom_http_server_stop(struct loom_http_server *srv);

/* Stops (if not yet stopped) and frees the server. NULL is a no-op. */
void loom_http_server_free(struct loom_http_server *srv);

#endif
