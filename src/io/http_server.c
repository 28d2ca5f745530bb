/*
 * http_server — one MHD daemon per loop, driven from libuv.
 *
 * Driving (all on the loop thread): a uv_poll on MHD's epoll fd and a
 * uv_timer both call drive(), which runs MHD once and re-arms the timer
 * from MHD_get_timeout (a zero timeout means leftover work: MHD's sockets
 * are edge-triggered inside). A resume does not wake the loop, so every
 * resume starts a self-stopping uv_idle that calls drive() on the next
 * iteration; many resumes in one tick share one run. drive() is never
 * called from inside an MHD callback.
 *
 * A request: the first access-handler call creates the loom_http_req;
 * body chunks go into a capped buffer (past the cap they are drained and
 * dropped); the call with no more data routes and runs the handler, and
 * queues its answer in that same (second or later) call, so keep-alive
 * works. A handler that suspended gets its connection suspended; the answer
 * resumes it, MHD calls the access handler again, and the answer is queued.
 * The completion callback reports to the done hook and frees the request.
 *
 * Stop: quiesce (stop accepting), wait for live requests up to the grace
 * period, abandon the rest (abort callbacks, 503, SSE closed), wait a
 * moment for those answers to leave, close the poll on the epoll fd, then
 * MHD_stop_daemon, then close the uv handles.
 */
#include "io/http_server.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/utf8.h"
#include "io/internal.h"

#define FINAL_WAIT_MS 500 /* after abandoning: time for the 503s to leave */
#define WATCH_MS 1000     /* how often suspended clients are checked */

struct loom_http_server {
  const struct loom_http_router *router;
  struct loom_http_server_options opt;
  struct sockaddr_storage addr;
  socklen_t addr_len;
  bool ipv6;
  uint16_t port;
  unsigned ndaemons;
  struct io_daemon *daemons;
  loom_http_done_cb done_cb;
  void *done_ud;
  loom_http_before_cb before_cb;
  void *before_ud;
  atomic_uint in_flight;
  char keep_alive[32];  /* "timeout=N", the Keep-Alive response header */
  pthread_mutex_t lock; /* guards finished */
  pthread_cond_t cond;
  unsigned finished; /* daemons fully stopped */
  bool stopped;
};

static void drive(struct io_daemon *d);
static void idle_cb(uv_idle_t *h);
static void grace_cb(uv_timer_t *t);

/* ---- requests ---- */

static struct loom_http_req *req_new(struct io_daemon *d,
                                     struct MHD_Connection *conn,
                                     const char *url, const char *method) {
  struct loom_http_req *req = LOOM_NEW(struct loom_http_req);
  req->d = d;
  req->conn = conn;
  req->url = url;
  snprintf(req->method, sizeof req->method, "%s", method);
  req->start_s = loom_clock_mono_s();
  loom_id_new(req->id);
  loom_buf_init(&req->body, d->srv->opt.max_body);
  req->next = d->reqs;
  if (d->reqs)
    d->reqs->prev = req;
  d->reqs = req;
  d->live++;
  atomic_fetch_add(&d->srv->in_flight, 1);
  return req;
}

void loom_io_req_free(struct loom_http_req *req) {
  struct io_daemon *d = req->d;
  if (req->prev)
    req->prev->next = req->next;
  else
    d->reqs = req->next;
  if (req->next)
    req->next->prev = req->prev;
  d->live--;
  atomic_fetch_sub(&d->srv->in_flight, 1);
  loom_http_match_cleanup(&req->match);
  loom_buf_cleanup(&req->body);
  for (struct io_header *h = req->headers, *next; h; h = next) {
    next = h->next;
    loom_free(h->name);
    loom_free(h->value);
    loom_free(h);
  }
  if (req->ctx && req->ctx_free)
    req->ctx_free(req->ctx);
  if (req->response)
    MHD_destroy_response(req->response);
  loom_free(req);
}

void loom_io_schedule_run(struct io_daemon *d) {
  if (d->started && !d->finished && !uv_is_active((uv_handle_t *)&d->idle))
    uv_idle_start(&d->idle, idle_cb);
}

void loom_io_resume(struct loom_http_req *req) {
  if (!req->mhd_suspended)
    return;
  req->mhd_suspended = false;
  MHD_resume_connection(req->conn);
  loom_io_schedule_run(req->d);
}

void loom_io_answer(struct loom_http_req *req, unsigned status,
                    struct MHD_Response *resp) {
  if (!loom_loop_is_current(req->d->loop)) {
    /* A data race on MHD's connection otherwise: fail loudly. */
    LOOM_ERROR("http: request %s answered off its loop thread; hand the "
               "answer over with loom_loop_post(loom_http_loop(req), ...)",
               req->id);
    abort();
  }
  if (req->answered) {
    LOOM_WARN("http: second answer to request %s ignored", req->id);
    MHD_destroy_response(resp);
    return;
  }
  req->answered = true;
  req->status = status;
  MHD_add_response_header(resp, "x-request-id", req->id);
  /* Tells keep-alive clients (undici, browsers) when idle connections are
   * closed here, so they retire one before reusing it as it closes. */
  if (!req->d->stopping)
    MHD_add_response_header(resp, "Keep-Alive", req->d->srv->keep_alive);
  for (struct io_header *h = req->headers; h; h = h->next)
    MHD_add_response_header(resp, h->name, h->value);
  if (req->d->stopping)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  req->response = resp;
  loom_io_resume(req);
}

static void take_body(struct loom_http_req *req, const char *data, size_t len) {
  if (req->too_large)
    return;
  if (loom_buf_append(&req->body, data, len) != LOOM_OK) {
    req->too_large = true;
    loom_buf_cleanup(&req->body);
  }
}

static enum MHD_Result utf8_arg_cb(void *cls, enum MHD_ValueKind kind,
                                   const char *key, const char *value) {
  (void)kind;
  bool *ok = cls;
  *ok = loom_utf8_valid(key, strlen(key)) &&
        (!value || loom_utf8_valid(value, strlen(value)));
  return *ok ? MHD_YES : MHD_NO;
}

/* Whether the decoded path and query are UTF-8: handlers put them in JSON
 * answers and rows, which must be. */
static bool url_is_utf8(const struct loom_http_req *req) {
  bool ok = loom_utf8_valid(req->url, strlen(req->url));
  if (ok)
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, utf8_arg_cb,
                              &ok);
  return ok;
}

/* Routing, the before hook and the handler; runs once per request. */
static void handle(struct loom_http_req *req) {
  struct loom_http_server *srv = req->d->srv;
  req->handled = true;
  loom_http_router_match(srv->router, req->method, req->url, &req->match);
  loom_log_context_set(req->id, NULL);
  if (!url_is_utf8(req)) {
    loom_http_respond_error(req, 400, "invalid_request",
                            "the URL's path or query is not valid UTF-8 "
                            "(percent-encoded bytes included)");
  } else if (req->too_large) {
    loom_http_respond_error(req, 413, "too_large",
                            "request body is larger than the limit of %zu "
                            "bytes",
                            srv->opt.max_body);
  } else if (req->match.kind == LOOM_HTTP_MATCH_NOT_FOUND) {
    loom_http_respond_error(req, 404, "not_found", "no route for %s %s",
                            req->method, req->url);
  } else if (req->match.kind == LOOM_HTTP_MATCH_BAD_METHOD) {
    loom_http_header_add(req, MHD_HTTP_HEADER_ALLOW, req->match.allow);
    loom_http_respond_error(req, 405, "method_not_allowed",
                            "%s is not allowed on %s (allowed: %s)",
                            req->method, req->url, req->match.allow);
  } else if (!srv->before_cb || srv->before_cb(req, srv->before_ud)) {
    req->in_handler = true;
    req->match.handler(req, req->match.userdata);
    req->in_handler = false;
  }
  loom_log_context_set(NULL, NULL);
}

/* A declared body far over the cap is refused before it is read; up to
 * this much is drained instead, so the connection can be kept. */
static bool declared_too_large(struct loom_http_req *req) {
  const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (!cl)
    return false;
  size_t max = req->d->srv->opt.max_body;
  size_t drain_limit = max + (max < (1u << 20) ? (1u << 20) : max);
  char *end;
  unsigned long long n = strtoull(cl, &end, 10);
  return end != cl && n > drain_limit;
}

static enum MHD_Result queue(struct loom_http_req *req) {
  enum MHD_Result ret =
      MHD_queue_response(req->conn, req->status, req->response);
  MHD_destroy_response(req->response);
  req->response = NULL;
  return ret;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls) {
  (void)version;
  struct io_daemon *d = cls;
  struct loom_http_req *req = *con_cls;
  if (!req) {
    *con_cls = req = req_new(d, conn, url, method);
    if (!declared_too_large(req))
      return MHD_YES;
    /* Answering on this first call makes MHD close the connection
     * instead of reading a body we would only throw away. */
    req->too_large = true;
    handle(req);
    return queue(req);
  }
  if (*upload_size) {
    take_body(req, upload, *upload_size);
    *upload_size = 0;
    return MHD_YES;
  }
  if (!req->handled)
    handle(req);
  if (req->response)
    return queue(req);
  if (req->want_suspend) {
    if (!req->mhd_suspended) {
      req->mhd_suspended = true;
      MHD_suspend_connection(conn);
    }
    return MHD_YES;
  }
  LOOM_ERROR("http: handler for %s %s returned without answering", req->method,
             loom_http_route(req));
  loom_http_respond_error(req, 500, "internal",
                          "the handler did not answer this request");
  return queue(req);
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)conn;
  (void)toe;
  struct io_daemon *d = cls;
  struct loom_http_req *req = *con_cls;
  if (!req)
    return;
  *con_cls = NULL;
  struct loom_http_server *srv = d->srv;
  if (req->answered && srv->done_cb)
    srv->done_cb(req->method, loom_http_route(req), req->status,
                 loom_clock_mono_s() - req->start_s, srv->done_ud);
  if (req->sse)
    loom_io_sse_conn_gone(req->sse);
  loom_io_req_free(req);
  if (d->stopping && d->live == 0 && !d->finished)
    uv_timer_start(&d->grace, grace_cb, 0, 0);
}

/* ---- noticing hang-ups of suspended clients ---- */

/* MHD does not watch suspended sockets; peek at them ourselves. A FIN
 * reads as 0, a reset as an error; pipelined bytes mean alive. */
static bool peer_closed(struct MHD_Connection *conn) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (!ci)
    return false;
  char byte;
  ssize_t n = recv(ci->connect_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 ||
         (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void watch_cb(uv_timer_t *t) {
  struct io_daemon *d = t->data;
  for (struct loom_http_req *req = d->reqs, *next; req; req = next) {
    next = req->next;
    if (!req->mhd_suspended || req->hung_up)
      continue;
    if (!req->sse && !req->disconnect_cb)
      continue;
    if (!peer_closed(req->conn))
      continue;
    req->hung_up = true;
    if (req->sse)
      loom_io_sse_peer_closed(req->sse);
    else
      req->disconnect_cb(req, req->disconnect_ud);
  }
}

/* ---- driving MHD from the loop ---- */

static void timer_cb(uv_timer_t *t) { drive(t->data); }

static void idle_cb(uv_idle_t *h) {
  uv_idle_stop(h);
  drive(h->data);
}

static void poll_cb(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  drive(h->data);
}

static void drive(struct io_daemon *d) {
  if (!d->mhd || d->finished)
    return;
  MHD_run(d->mhd);
  MHD_UNSIGNED_LONG_LONG ms;
  if (MHD_get_timeout(d->mhd, &ms) == MHD_YES)
    uv_timer_start(&d->timer, timer_cb, ms, 0);
  else
    uv_timer_stop(&d->timer);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void log_cb(void *cls, const char *fmt, va_list ap) {
  struct io_daemon *d = cls;
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t len = strlen(msg);
  while (len && msg[len - 1] == '\n')
    msg[--len] = 0;
  /* Once running, its messages are about single clients going away. */
  if (!d->started) {
    loom_error_set(&d->start_error, LOOM_ERR_IO, "%s", msg);
    LOOM_WARN("libmicrohttpd: %s", msg);
  } else {
    LOOM_DEBUG("libmicrohttpd: %s", msg);
  }
}
#pragma GCC diagnostic pop

static struct MHD_Daemon *start_mhd(struct io_daemon *d) {
  struct loom_http_server *srv = d->srv;
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (srv->ipv6)
    flags |= MHD_USE_IPv6;
  struct sockaddr_storage addr = srv->addr;
  uint16_t port = htons(srv->port);
  if (addr.ss_family == AF_INET6)
    ((struct sockaddr_in6 *)&addr)->sin6_port = port;
  else
    ((struct sockaddr_in *)&addr)->sin_port = port;
  return MHD_start_daemon(
      flags, 0, NULL, NULL, access_cb, d, MHD_OPTION_EXTERNAL_LOGGER, log_cb, d,
      MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
      MHD_OPTION_CONNECTION_LIMIT, srv->opt.connection_limit,
      MHD_OPTION_CONNECTION_TIMEOUT, srv->opt.idle_timeout_s,
      MHD_OPTION_NOTIFY_COMPLETED, completed_cb, d,
      MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u, MHD_OPTION_END);
}

/* On the loop thread: start the daemon and wire it to the loop. */
static void attach_cb(struct loom_loop *loop, void *arg) {
  struct io_daemon *d = arg;
  uv_loop_t *uv = loom_loop_uv(loop);
  d->mhd = start_mhd(d);
  if (!d->mhd) {
    if (!d->start_error.code)
      loom_error_set(&d->start_error, LOOM_ERR_IO, "cannot listen on port %u",
                     d->srv->port);
    return;
  }
  if (d->srv->port == 0)
    d->srv->port = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
  int fd = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_EPOLL_FD)->epoll_fd;
  uv_poll_init(uv, &d->poll, fd);
  uv_timer_init(uv, &d->timer);
  uv_timer_init(uv, &d->grace);
  uv_timer_init(uv, &d->watch);
  uv_idle_init(uv, &d->idle);
  d->poll.data = d->timer.data = d->grace.data = d->idle.data = d;
  d->watch.data = d;
  d->open_handles = 5;
  d->started = true;
  uv_poll_start(&d->poll, UV_READABLE, poll_cb);
  uv_timer_start(&d->watch, watch_cb, WATCH_MS, WATCH_MS);
  drive(d);
}

/* ---- stopping ---- */

static void closed_cb(uv_handle_t *h) {
  struct io_daemon *d = h->data;
  if (--d->open_handles > 0)
    return;
  struct loom_http_server *srv = d->srv;
  pthread_mutex_lock(&srv->lock);
  srv->finished++;
  pthread_cond_broadcast(&srv->cond);
  pthread_mutex_unlock(&srv->lock);
}

/* Gives up on everything still waiting for an answer. */
static void abandon(struct io_daemon *d) {
  for (struct loom_http_req *req = d->reqs, *next; req; req = next) {
    next = req->next;
    if (req->sse) {
      loom_io_sse_server_close(req->sse);
    } else if (req->want_suspend && !req->answered) {
      if (req->abort_cb)
        req->abort_cb(req, req->abort_ud);
      loom_http_respond_error(req, 503, "unavailable",
                              "the server is shutting down");
    }
  }
}

static void finish(struct io_daemon *d) {
  abandon(d);
  d->finished = true;
  uv_timer_stop(&d->timer);
  uv_timer_stop(&d->grace);
  uv_timer_stop(&d->watch);
  uv_idle_stop(&d->idle);
  /* The poll goes before the epoll fd it watches. */
  uv_close((uv_handle_t *)&d->poll, closed_cb);
  MHD_stop_daemon(d->mhd);
  d->mhd = NULL;
  uv_close((uv_handle_t *)&d->timer, closed_cb);
  uv_close((uv_handle_t *)&d->grace, closed_cb);
  uv_close((uv_handle_t *)&d->idle, closed_cb);
  uv_close((uv_handle_t *)&d->watch, closed_cb);
}

static void grace_cb(uv_timer_t *t) {
  struct io_daemon *d = t->data;
  if (d->finished)
    return;
  if (d->live == 0 || d->abandoned) {
    finish(d);
    return;
  }
  d->abandoned = true;
  abandon(d);
  uv_timer_start(&d->grace, grace_cb, FINAL_WAIT_MS, 0);
}

static void begin_stop_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  struct io_daemon *d = arg;
  d->stopping = true;
  MHD_socket s = MHD_quiesce_daemon(d->mhd);
  if (s != MHD_INVALID_SOCKET)
    close(s);
  double grace = d->srv->opt.grace_seconds;
  if (d->live == 0)
    finish(d);
  else
    uv_timer_start(&d->grace, grace_cb, grace > 0 ? (uint64_t)(grace * 1e3) : 0,
                   0);
}

void loom_http_server_stop(struct loom_http_server *srv) {
  if (srv->stopped)
    return;
  srv->stopped = true;
  unsigned expected = 0;
  for (unsigned i = 0; i < srv->ndaemons; i++) {
    struct io_daemon *d = &srv->daemons[i];
    if (!d->started)
      continue;
    if (loom_loop_post(d->loop, begin_stop_cb, d) == LOOM_OK)
      expected++;
    else
      LOOM_ERROR("http: loop of daemon %u already stopped", i);
  }
  pthread_mutex_lock(&srv->lock);
  while (srv->finished < expected)
    pthread_cond_wait(&srv->cond, &srv->lock);
  pthread_mutex_unlock(&srv->lock);
}

void loom_http_server_free(struct loom_http_server *srv) {
  if (!srv)
    return;
  loom_http_server_stop(srv);
  pthread_cond_destroy(&srv->cond);
  pthread_mutex_destroy(&srv->lock);
  loom_free(srv->daemons);
  loom_free(srv);
}

/* ---- starting ---- */

static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      LOOM_WARN("http: cannot raise the open-file limit");
  }
}

static loom_err resolve(struct loom_http_server *srv, const char *host,
                        struct loom_error *e) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc != 0 || !res)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "cannot resolve address '%s': %s", host,
                          gai_strerror(rc));
  memcpy(&srv->addr, res->ai_addr, res->ai_addrlen);
  srv->addr_len = res->ai_addrlen;
  srv->ipv6 = res->ai_family == AF_INET6;
  freeaddrinfo(res);
  return LOOM_OK;
}

/* What a failed bind of `host:port` means to whoever started loom. */
static loom_err bind_error(const struct loom_http_server *srv, int err,
                           struct loom_error *e) {
  const char *host = srv->opt.host;
  unsigned port = srv->port;
  if (err == EADDRINUSE)
    return loom_error_set(
        e, LOOM_ERR_IO,
        "cannot listen on %s:%u: the address is already in use (another "
        "loom serve, or another program, is listening there); stop it, or "
        "pick another address with --addr HOST:PORT (LOOM_ADDR)",
        host, port);
  if (err == EACCES)
    return loom_error_set(e, LOOM_ERR_IO,
                          "cannot listen on %s:%u: permission denied (ports "
                          "below 1024 need root); pick another with --addr "
                          "HOST:PORT (LOOM_ADDR)",
                          host, port);
  if (err == EADDRNOTAVAIL)
    return loom_error_set(e, LOOM_ERR_IO,
                          "cannot listen on %s:%u: %s is not an address of "
                          "this machine; use 127.0.0.1 or 0.0.0.0 in --addr "
                          "(LOOM_ADDR)",
                          host, port, host);
  return loom_error_set(e, LOOM_ERR_IO, "cannot listen on %s:%u: %s", host,
                        port, strerror(err));
}

/*
 * Fails when something already listens on the configured port. The
 * daemons bind with SO_REUSEPORT (one per loop), which the kernel lets
 * every socket of the same user share: a second `loom serve` on the port
 * would start "ready" and silently take half of the first one's
 * connections. A probe bound without SO_REUSEPORT conflicts with any
 * listener, and SO_REUSEADDR keeps the TIME_WAIT connections of a server
 * that just stopped from failing a restart. Closed again before the
 * daemons bind; port 0 (any free port) needs no probe.
 */
static loom_err check_port_free(const struct loom_http_server *srv,
                                struct loom_error *e) {
  if (srv->port == 0)
    return LOOM_OK;
  struct sockaddr_storage addr = srv->addr;
  if (addr.ss_family == AF_INET6)
    ((struct sockaddr_in6 *)&addr)->sin6_port = htons(srv->port);
  else
    ((struct sockaddr_in *)&addr)->sin_port = htons(srv->port);
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return bind_error(srv, errno, e);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  loom_err err = LOOM_OK;
  if (bind(fd, (struct sockaddr *)&addr, srv->addr_len) != 0)
    err = bind_error(srv, errno, e);
  close(fd);
  return err;
}

static void apply_defaults(struct loom_http_server_options *o) {
  if (!o->host[0])
    snprintf(o->host, sizeof o->host, "127.0.0.1");
  if (!o->max_body)
    o->max_body = 10u << 20;
  if (!o->connection_limit)
    o->connection_limit = 10000;
  if (!o->idle_timeout_s)
    o->idle_timeout_s = 60;
  if (o->grace_seconds == 0)
    o->grace_seconds = 10;
}

loom_err loom_http_server_new(struct loom_loop_group *loops,
                              const struct loom_http_router *router,
                              const struct loom_http_server_options *opt,
                              struct loom_http_server **out,
                              struct loom_error *e) {
  *out = NULL;
  struct loom_http_server *srv = LOOM_NEW(struct loom_http_server);
  srv->router = router;
  if (opt)
    srv->opt = *opt;
  apply_defaults(&srv->opt);
  snprintf(srv->keep_alive, sizeof srv->keep_alive, "timeout=%u",
           srv->opt.idle_timeout_s);
  srv->port = srv->opt.port;
  pthread_mutex_init(&srv->lock, NULL);
  pthread_cond_init(&srv->cond, NULL);
  srv->ndaemons = loom_loop_group_size(loops);
  srv->daemons = loom_calloc(srv->ndaemons, sizeof *srv->daemons);
  loom_err err = resolve(srv, srv->opt.host, e);
  if (!err)
    err = check_port_free(srv, e);
  if (err)
    goto out;
  raise_nofile();
  for (unsigned i = 0; i < srv->ndaemons; i++) {
    struct io_daemon *d = &srv->daemons[i];
    d->srv = srv;
    d->loop = loom_loop_group_at(loops, i);
    err = loom_loop_call(d->loop, attach_cb, d);
    if (!err && !d->started)
      err = loom_error_set(e, d->start_error.code, "cannot listen on %s:%u: %s",
                           srv->opt.host, srv->port, d->start_error.message);
    if (err)
      goto out;
  }
  *out = srv;
out:
  if (err)
    loom_http_server_free(srv);
  return err;
}

uint16_t loom_http_server_port(const struct loom_http_server *srv) {
  return srv->port;
}

void loom_http_server_set_done_hook(struct loom_http_server *srv,
                                    loom_http_done_cb cb, void *userdata) {
  srv->done_cb = cb;
  srv->done_ud = userdata;
}

void loom_http_server_set_before_hook(struct loom_http_server *srv,
                                      loom_http_before_cb cb, void *userdata) {
  srv->before_cb = cb;
  srv->before_ud = userdata;
}

unsigned loom_http_server_in_flight(const struct loom_http_server *srv) {
  return atomic_load(&((struct loom_http_server *)srv)->in_flight);
}

loom_err
loom_http_server_options_from_config(const struct loom_config *c,
                                     struct loom_http_server_options *opt,
                                     struct loom_error *e) {
  memset(opt, 0, sizeof *opt);
  const char *addr = c->addr ? c->addr : "";
  const char *colon = strrchr(addr, ':');
  if (!colon)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "LOOM_ADDR '%s' must be host:port", addr);
  const char *host = addr;
  size_t host_len = (size_t)(colon - addr);
  if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
    host++;
    host_len -= 2;
  }
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || end == colon + 1 || port < 0 || port > 65535 ||
      host_len >= sizeof opt->host)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "LOOM_ADDR '%s' must be host:port with a port "
                          "from 0 to 65535",
                          addr);
  if (host_len)
    snprintf(opt->host, sizeof opt->host, "%.*s", (int)host_len, host);
  else
    snprintf(opt->host, sizeof opt->host, "0.0.0.0");
  opt->port = (uint16_t)port;
  opt->max_body = loom_config_max_body(c);
  opt->grace_seconds = loom_config_grace_seconds(c);
  if (opt->grace_seconds == 0)
    opt->grace_seconds = -1;
  return LOOM_OK;
}
