/*
 * http1 — loom's own HTTP/1.1 transport for plain http:// origins: the
 * self-hosted model servers (vLLM, Ollama, llama.cpp) and the local
 * services loom talks to, where thousands of calls may be in flight.
 *
 * Why not libcurl here: per call libcurl allocated ~22 KiB (a 5 KiB easy
 * handle, a 16 KiB receive buffer, its connection), made about 21 system
 * calls against the 7 a connection needs, and spent as much CPU in its own
 * code as the kernel spent on the connection. A call here is one small
 * struct, one connection struct and the request text. libcurl still
 * carries HTTPS (TLS, HTTP/2), proxies and requests pinned to checked
 * addresses (http_fetch).
 *
 * How. Per origin ("host:port"): the resolved addresses (IP literals need
 * no lookup; names go through uv_getaddrinfo once and are kept for 60 s),
 * the idle keep-alive connections (newest first, at most HTTP_KEEP_MAX), and
 * the calls waiting for a connection (at most max_per_origin open; the
 * time waiting counts toward a call's total timeout). A call takes an idle
 * connection or opens one, trying the addresses in order until one
 * accepts; writes the request in one uv_write; and parses the response
 * with http_parser (Content-Length, chunked, read-until-close, interim
 * 1xx). Headers and body go to http_call.h's shared functions, so callers
 * see what the libcurl transport gives them. A reused connection that the
 * server closed before sending a byte is retried once on a fresh one: the
 * server may close an idle connection at any moment.
 *
 * Timeouts: one uv_timer over all calls, which sit in a min-heap by
 * deadline (the connect deadline while connecting, then the total one);
 * the timer is re-armed only when the earliest changes. A failure found
 * while starting a call is reported from the timer too, so on_done never
 * runs inside loom_http_client_send.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/utf8.h"
#include "io/deadlines.h"
#include "io/http_call.h"
#include "io/loop.h"

#define DNS_TTL_S 60.0       /* how long a name's addresses are used */
#define READ_BUF (64 * 1024) /* one per transport: reads parse at once */
#define KEEPALIVE_IDLE_S 60  /* TCP keep-alive, as libcurl sets it */

struct h1_origin {
  struct h1_origin *next;
  char *host; /* brackets stripped */
  char *host_header;
  unsigned port;
  struct sockaddr_storage *addrs;
  unsigned naddrs;
  double addrs_until; /* monotonic seconds; INFINITY for IP literals */
  bool resolving;
  bool pumping, pump_again; /* pump() is running; asked to look again */
  struct h1_conn *idle;     /* newest first */
  unsigned nidle;
  unsigned open; /* connections open: connecting, busy or idle */
  struct h1_call *wait_head, *wait_tail;
};

struct h1_call {
  struct loom_http_call *call;
  struct loom_http1 *h1;
  struct h1_origin *origin;
  struct h1_conn *conn;
  struct h1_call *wnext; /* the origin's wait queue */
  char *request;
  size_t request_len;
  struct loom_deadline due; /* of the current phase */
  double total_deadline;
  double connect_timeout_s, timeout_s;
  size_t received; /* response bytes */
  unsigned next_addr;
  bool waiting;    /* in the wait queue */
  bool connecting; /* the deadline is the connect one */
  bool head;       /* HEAD: the response has no body */
  bool fresh;      /* must not take an idle connection (a retry) */
  bool retried;
  loom_err fail_err; /* reported from the timer when set */
  char *fail_msg;
};

struct h1_conn {
  uv_tcp_t tcp;
  uv_connect_t connect;
  struct h1_reader reader;
  struct loom_http1 *h1;
  struct h1_origin *origin;
  struct h1_call *call;                  /* NULL while idle */
  struct h1_conn *next_idle, *prev_idle; /* while parked */
  unsigned gen; /* counts the calls it carried: writes name theirs */
  bool unsent;  /* part of the request still waits in libuv */
  bool served;  /* carried a whole response before: may be stale */
  bool parked;  /* in its origin's idle list */
  bool closing;
};

struct h1_write {
  uv_write_t req;
  struct h1_conn *conn;
  unsigned gen;
};

struct loom_http1 {
  struct loom_http_client *client;
  uv_loop_t *uv;
  uv_timer_t timer;
  struct loom_deadlines due; /* the calls' deadlines */
  struct h1_origin *origins;
  unsigned max_per_origin;
  int open_handles; /* timer, connections, lookups */
  bool freeing;
  char rbuf[READ_BUF];
};

static void timer_cb(uv_timer_t *t);
static void connect_next(struct h1_call *hc);
static void dispatch(struct h1_call *hc);
static void pump(struct h1_origin *o);

/* ---- lifetime of the transport ---- */

static void origins_free(struct loom_http1 *h1) {
  while (h1->origins) {
    struct h1_origin *o = h1->origins;
    h1->origins = o->next;
    loom_free(o->host);
    loom_free(o->host_header);
    loom_free(o->addrs);
    loom_free(o);
  }
}

static void handle_gone(struct loom_http1 *h1) {
  if (--h1->open_handles == 0 && h1->freeing) {
    origins_free(h1);
    loom_deadlines_cleanup(&h1->due);
    loom_free(h1);
  }
}

static void timer_closed_cb(uv_handle_t *h) { handle_gone(h->data); }

/* ---- deadlines (io/deadlines.h): the timer follows the earliest ---- */

static struct h1_call *call_of(struct loom_deadline *due) {
  return (struct h1_call *)((char *)due - offsetof(struct h1_call, due));
}

static void arm(struct loom_http1 *h1) {
  if (h1->freeing)
    return;
  struct loom_deadline *first = loom_deadlines_first(&h1->due);
  if (!first) {
    uv_timer_stop(&h1->timer);
    return;
  }
  double ms = ceil((first->at - loom_clock_mono_s()) * 1e3);
  uv_timer_start(&h1->timer, timer_cb, ms > 0 ? (uint64_t)ms : 0, 0);
}

static void untime(struct h1_call *hc) {
  bool was_first = loom_deadlines_first(&hc->h1->due) == &hc->due;
  loom_deadlines_remove(&hc->h1->due, &hc->due);
  if (was_first)
    arm(hc->h1);
}

/* (Re)places `hc` under `deadline`; the timer is re-armed only when the
 * earliest deadline changes. */
static void time_at(struct h1_call *hc, double deadline) {
  struct loom_deadlines *d = &hc->h1->due;
  struct loom_deadline *first = loom_deadlines_first(d);
  double was = first ? first->at : INFINITY;
  loom_deadlines_set(d, &hc->due, deadline);
  if (loom_deadlines_first(d)->at != was)
    arm(hc->h1);
}

/* ---- connections ---- */

static void conn_closed_cb(uv_handle_t *h) {
  struct h1_conn *conn = h->data;
  struct loom_http1 *h1 = conn->h1;
  h1_reader_cleanup(&conn->reader);
  loom_free(conn);
  handle_gone(h1);
}

static void unpark(struct h1_conn *conn) {
  struct h1_origin *o = conn->origin;
  if (!conn->parked)
    return;
  if (conn->prev_idle)
    conn->prev_idle->next_idle = conn->next_idle;
  else
    o->idle = conn->next_idle;
  if (conn->next_idle)
    conn->next_idle->prev_idle = conn->prev_idle;
  conn->next_idle = conn->prev_idle = NULL;
  conn->parked = false;
  o->nidle--;
}

/* Closes `conn` (detaching its call, if any); a waiting call may take the
 * slot it frees. */
static void conn_close(struct h1_conn *conn) {
  if (conn->closing)
    return;
  conn->closing = true;
  if (conn->call) {
    conn->call->conn = NULL;
    conn->call = NULL;
  } else {
    unpark(conn);
  }
  conn->origin->open--;
  uv_close((uv_handle_t *)&conn->tcp, conn_closed_cb);
  pump(conn->origin);
}

/* A finished exchange leaves the connection idle, for the next call. */
static void park(struct h1_conn *conn) {
  struct h1_origin *o = conn->origin;
  conn->call->conn = NULL;
  conn->call = NULL;
  if (o->nidle >= HTTP_KEEP_MAX || conn->h1->freeing) {
    conn_close(conn);
    return;
  }
  conn->served = true;
  conn->parked = true;
  conn->next_idle = o->idle;
  if (o->idle)
    o->idle->prev_idle = conn;
  o->idle = conn;
  o->nidle++;
  pump(o);
}

/* ---- finishing a call ---- */

static void unwait(struct h1_call *hc) {
  struct h1_origin *o = hc->origin;
  if (!hc->waiting)
    return;
  struct h1_call *prev = NULL;
  for (struct h1_call *w = o->wait_head; w; prev = w, w = w->wnext)
    if (w == hc) {
      if (prev)
        prev->wnext = hc->wnext;
      else
        o->wait_head = hc->wnext;
      if (o->wait_tail == hc)
        o->wait_tail = prev;
      break;
    }
  hc->wnext = NULL;
  hc->waiting = false;
}

/* Takes `hc` out of the wait queue and off its connection (closed: its
 * response was under way); the status seen so far, if any. */
static long detach(struct h1_call *hc) {
  long status = hc->conn ? hc->conn->reader.status : 0;
  unwait(hc);
  if (hc->conn)
    conn_close(hc->conn);
  return status;
}

/* Messages may quote a URL or a server's words: kept valid UTF-8, since
 * they end up in JSON. */
static void fail_now(struct h1_call *hc, loom_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_now(struct h1_call *hc, loom_err err, const char *fmt, ...) {
  long status = detach(hc);
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  loom_utf8_vformat(msg, sizeof msg, fmt, ap);
  va_end(ap);
  http_call_finish(hc->call, err, status, msg);
}

/* A failure found where on_done must not run yet (inside
 * loom_http_client_send): reported from the timer, on a later turn. */
static void fail_later(struct h1_call *hc, loom_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_later(struct h1_call *hc, loom_err err, const char *fmt, ...) {
  detach(hc);
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  loom_utf8_vformat(msg, sizeof msg, fmt, ap);
  va_end(ap);
  loom_free(hc->fail_msg);
  hc->fail_msg = loom_strdup(msg);
  hc->fail_err = err;
  time_at(hc, 0);
}

/* The final response is parsed: the connection is kept when the server
 * allows it and nothing is left over; then the caller hears. */
static void finish_response(struct h1_conn *conn, bool reusable) {
  struct h1_call *hc = conn->call;
  long status = conn->reader.status;
  if (reusable && !conn->unsent && h1_reader_keep_alive(&conn->reader))
    park(conn);
  else
    conn_close(conn);
  http_call_finish(hc->call, LOOM_OK, status, "");
}

static void expire(struct h1_call *hc, double now) {
  if (hc->fail_msg) {
    char *msg = hc->fail_msg;
    hc->fail_msg = NULL;
    fail_now(hc, hc->fail_err, "%s", msg);
    loom_free(msg);
  } else if (hc->connecting && hc->next_addr < hc->origin->naddrs &&
             now < hc->total_deadline) {
    conn_close(hc->conn); /* this address does not answer: the next one */
    connect_next(hc);
  } else if (hc->connecting) {
    fail_now(hc, LOOM_ERR_TIMEOUT,
             "Connection timed out after %.0f milliseconds",
             (now - hc->call->start_s) * 1e3);
  } else {
    fail_now(hc, LOOM_ERR_TIMEOUT,
             "Operation timed out after %.0f milliseconds with %zu bytes "
             "received",
             (now - hc->call->start_s) * 1e3, hc->received);
  }
}

static void timer_cb(uv_timer_t *t) {
  struct loom_http1 *h1 = t->data;
  double now = loom_clock_mono_s();
  /* 1 ms of slack: the timer's resolution */
  struct loom_deadline *first;
  while (!h1->freeing && (first = loom_deadlines_first(&h1->due)) &&
         first->at <= now + 1e-3) {
    struct h1_call *hc = call_of(first);
    loom_deadlines_remove(&h1->due, first);
    expire(hc, now);
  }
  arm(h1);
}

/* ---- the response ---- */

static void feed(struct h1_conn *conn, const char *data, size_t n) {
  struct h1_call *hc = conn->call;
  hc->received += n;
  switch (h1_reader_feed(&conn->reader, data, n)) {
  case H1_MORE:
    return;
  case H1_DONE:
    finish_response(conn, n > 0);
    return;
  case H1_DONE_LEFTOVER:
    finish_response(conn, false);
    return;
  case H1_STOPPED: /* stopped, cancelled or over the cap: the call says */
    fail_now(hc, LOOM_ERR_CANCELLED, "request cancelled");
    return;
  case H1_BAD:
    if (!hc->received)
      fail_now(hc, LOOM_ERR_UPSTREAM, "Empty reply from server");
    else
      fail_now(hc, LOOM_ERR_UPSTREAM, "bad HTTP response from %s: %s",
               hc->origin->host_header, h1_reader_error(&conn->reader));
    return;
  }
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)hint;
  struct h1_conn *conn = h->data;
  *b = uv_buf_init(conn->h1->rbuf, READ_BUF);
}

static void retry_fresh(struct h1_call *hc);

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  struct h1_conn *conn = s->data;
  struct h1_call *hc = conn->call;
  if (n == 0)
    return;
  if (!hc) { /* idle: the server closed it (or talks out of turn) */
    conn_close(conn);
    return;
  }
  if (n > 0) {
    feed(conn, b->base, (size_t)n);
    return;
  }
  if (conn->served && hc->received == 0 && !hc->retried) {
    retry_fresh(hc);
    return;
  }
  if (n != UV_EOF) {
    fail_now(hc, LOOM_ERR_UPSTREAM, "Recv failure: %s", uv_strerror((int)n));
    return;
  }
  feed(conn, NULL, 0); /* ends a body that runs until the close */
}

/* ---- the request ---- */

static void write_cb(uv_write_t *req, int status) {
  struct h1_write *w = req->data;
  struct h1_conn *conn = w->conn;
  if (conn->gen == w->gen && conn->call && !conn->closing) {
    struct h1_call *hc = conn->call;
    if (status == 0)
      conn->unsent = false;
    else if (status != UV_ECANCELED && conn->served && !hc->received &&
             !hc->retried)
      retry_fresh(hc); /* the server dropped it while idle */
    else if (status != UV_ECANCELED)
      fail_now(hc, LOOM_ERR_UPSTREAM, "Send failure: %s", uv_strerror(status));
  }
  loom_free(w);
}

static void write_request(struct h1_conn *conn, struct h1_call *hc) {
  conn->call = hc;
  hc->conn = conn;
  conn->gen++;
  h1_reader_start(&conn->reader, hc->call, hc->head);
  hc->connecting = false;
  time_at(hc, hc->total_deadline);
  struct h1_write *w = LOOM_NEW(struct h1_write);
  w->conn = conn;
  w->gen = conn->gen;
  w->req.data = w;
  uv_buf_t b = uv_buf_init(hc->request, (unsigned)hc->request_len);
  int rc = uv_write(&w->req, (uv_stream_t *)&conn->tcp, &b, 1, write_cb);
  if (rc < 0) {
    loom_free(w);
    fail_later(hc, LOOM_ERR_UPSTREAM, "Send failure: %s", uv_strerror(rc));
    return;
  }
  conn->unsent = uv_stream_get_write_queue_size((uv_stream_t *)&conn->tcp) > 0;
}

static void connect_cb(uv_connect_t *req, int status) {
  struct h1_conn *conn = req->data;
  if (status == UV_ECANCELED || conn->closing)
    return; /* closed while connecting: its call already heard */
  struct h1_call *hc = conn->call;
  if (status < 0) {
    conn_close(conn);
    if (hc->next_addr < hc->origin->naddrs) {
      connect_next(hc);
      return;
    }
    fail_now(hc, LOOM_ERR_UPSTREAM, "Failed to connect to %s port %u: %s",
             hc->origin->host, hc->origin->port, uv_strerror(status));
    return;
  }
  uv_tcp_nodelay(&conn->tcp, 1);
  uv_tcp_keepalive(&conn->tcp, 1, KEEPALIVE_IDLE_S);
  uv_read_start((uv_stream_t *)&conn->tcp, alloc_cb, read_cb);
  write_request(conn, hc);
}

/* Opens a connection to the call's next address. */
static void connect_next(struct h1_call *hc) {
  struct loom_http1 *h1 = hc->h1;
  struct h1_origin *o = hc->origin;
  while (hc->next_addr < o->naddrs) {
    struct h1_conn *conn = LOOM_NEW(struct h1_conn);
    conn->h1 = h1;
    conn->origin = o;
    h1_reader_init(&conn->reader);
    uv_tcp_init(h1->uv, &conn->tcp);
    conn->tcp.data = conn;
    conn->connect.data = conn;
    h1->open_handles++;
    o->open++;
    conn->call = hc;
    hc->conn = conn;
    hc->connecting = true;
    time_at(hc, fmin(hc->total_deadline,
                     loom_clock_mono_s() + hc->connect_timeout_s));
    const struct sockaddr *sa =
        (const struct sockaddr *)&o->addrs[hc->next_addr++];
    int rc = uv_tcp_connect(&conn->connect, &conn->tcp, sa, connect_cb);
    if (rc == 0)
      return;
    conn_close(conn);
    if (hc->next_addr >= o->naddrs)
      fail_later(hc, LOOM_ERR_UPSTREAM, "Failed to connect to %s port %u: %s",
                 o->host, o->port, uv_strerror(rc));
  }
}

/* ---- origins, lookups, dispatch ---- */

static bool addrs_fresh(const struct h1_origin *o) {
  return o->naddrs && loom_clock_mono_s() < o->addrs_until;
}

/* Whether the call at the head of the queue can go now: on an idle
 * connection (not for a retry), or on a new one under the cap (a retry at
 * the cap makes room by closing an idle one). */
static bool can_go(const struct h1_origin *o, const struct h1_call *hc) {
  if (o->idle && !hc->fresh)
    return true;
  return (o->open < hc->h1->max_per_origin || o->idle) && addrs_fresh(o);
}

struct lookup {
  uv_getaddrinfo_t req;
  struct loom_http1 *h1;
  struct h1_origin *origin;
};

static void lookup_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  struct lookup *lk = req->data;
  struct loom_http1 *h1 = lk->h1;
  struct h1_origin *o = lk->origin;
  loom_free(lk);
  if (!h1->freeing) {
    o->resolving = false;
    unsigned n = 0;
    for (struct addrinfo *a = status == 0 ? res : NULL; a; a = a->ai_next)
      n += a->ai_family == AF_INET || a->ai_family == AF_INET6;
    loom_free(o->addrs);
    o->addrs = n ? loom_calloc(n, sizeof *o->addrs) : NULL;
    o->naddrs = 0;
    for (struct addrinfo *a = status == 0 ? res : NULL; a; a = a->ai_next)
      if (a->ai_family == AF_INET || a->ai_family == AF_INET6)
        memcpy(&o->addrs[o->naddrs++], a->ai_addr, a->ai_addrlen);
    o->addrs_until = loom_clock_mono_s() + DNS_TTL_S;
    if (!o->naddrs)
      while (o->wait_head)
        fail_later(o->wait_head, LOOM_ERR_UPSTREAM,
                   "Could not resolve host: %s", o->host);
    pump(o);
  }
  uv_freeaddrinfo(res);
  handle_gone(h1);
}

static void resolve(struct h1_origin *o, struct loom_http1 *h1) {
  if (o->resolving)
    return;
  struct lookup *lk = LOOM_NEW(struct lookup);
  lk->h1 = h1;
  lk->origin = o;
  lk->req.data = lk;
  char port[8];
  snprintf(port, sizeof port, "%u", o->port);
  /* AI_ADDRCONFIG: no IPv6 addresses on a host without IPv6 */
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_ADDRCONFIG};
  int rc = uv_getaddrinfo(h1->uv, &lk->req, lookup_cb, o->host, port, &hints);
  if (rc < 0) {
    loom_free(lk);
    while (o->wait_head)
      fail_later(o->wait_head, LOOM_ERR_UPSTREAM,
                 "Could not resolve host: %s (%s)", o->host, uv_strerror(rc));
    return;
  }
  o->resolving = true;
  h1->open_handles++;
}

/* Sends `hc` on an idle connection or a new one, or queues it. */
static void dispatch(struct h1_call *hc) {
  struct h1_origin *o = hc->origin;
  if (o->idle && !hc->fresh) {
    struct h1_conn *conn = o->idle;
    unpark(conn);
    write_request(conn, hc);
    return;
  }
  if (addrs_fresh(o) && o->idle && o->open >= hc->h1->max_per_origin)
    conn_close(o->idle); /* a retry at the cap: an idle one makes room */
  if (o->open < hc->h1->max_per_origin && addrs_fresh(o)) {
    hc->next_addr = 0;
    connect_next(hc);
    return;
  }
  hc->waiting = true;
  if (o->wait_tail)
    o->wait_tail->wnext = hc;
  else
    o->wait_head = hc;
  o->wait_tail = hc;
  if (!addrs_fresh(o))
    resolve(o, hc->h1);
}

/* Starts the waiting calls that can go. Not re-entered: a connection
 * closed while it runs (a connect refused at once) only asks it to look
 * again, so a long queue never turns into deep recursion. */
static void pump(struct h1_origin *o) {
  if (o->pumping) {
    o->pump_again = true;
    return;
  }
  o->pumping = true;
  do {
    o->pump_again = false;
    while (o->wait_head && !o->wait_head->h1->freeing &&
           can_go(o, o->wait_head)) {
      struct h1_call *hc = o->wait_head;
      unwait(hc);
      dispatch(hc);
    }
    /* the addresses went stale while calls waited for a slot */
    if (o->wait_head && !o->wait_head->h1->freeing && !addrs_fresh(o))
      resolve(o, o->wait_head->h1);
  } while (o->pump_again);
  o->pumping = false;
}

static void retry_fresh(struct h1_call *hc) {
  conn_close(hc->conn);
  hc->retried = true;
  hc->fresh = true;
  dispatch(hc);
}

static struct h1_origin *origin_for(struct loom_http1 *h1, const char *host,
                                    size_t host_len, unsigned port) {
  for (struct h1_origin *o = h1->origins; o; o = o->next)
    if (o->port == port && !strncasecmp(o->host, host, host_len) &&
        !o->host[host_len])
      return o;
  struct h1_origin *o = LOOM_NEW(struct h1_origin);
  o->host = loom_malloc(host_len + 1);
  memcpy(o->host, host, host_len);
  o->host[host_len] = '\0';
  o->port = port;
  bool v6 = memchr(host, ':', host_len) != NULL;
  o->host_header = port == 80
                       ? loom_asprintf(v6 ? "[%s]" : "%s", o->host)
                       : loom_asprintf(v6 ? "[%s]:%u" : "%s:%u", o->host, port);
  struct sockaddr_storage sa;
  if (uv_ip4_addr(o->host, (int)port, (struct sockaddr_in *)&sa) == 0 ||
      uv_ip6_addr(o->host, (int)port, (struct sockaddr_in6 *)&sa) == 0) {
    o->addrs = loom_malloc(sizeof sa);
    memcpy(o->addrs, &sa, sizeof sa);
    o->naddrs = 1;
    o->addrs_until = INFINITY; /* an IP literal: nothing to look up */
  }
  o->next = h1->origins;
  h1->origins = o;
  return o;
}

void loom_http1_start(struct loom_http1 *h1, struct loom_http_call *call,
                      const struct loom_http_client_request *r) {
  struct h1_call *hc = LOOM_NEW(struct h1_call);
  hc->call = call;
  hc->h1 = h1;
  call->h1 = hc;
  hc->connect_timeout_s = r->connect_timeout_s > 0 ? r->connect_timeout_s : 10;
  hc->timeout_s = r->timeout_s > 0 ? r->timeout_s : 60;
  hc->total_deadline = call->start_s + hc->timeout_s;
  struct http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(r->url, strlen(r->url), 0, &u) != 0 ||
      !(u.field_set & (1 << UF_HOST))) {
    hc->origin = NULL;
    fail_later(hc, LOOM_ERR_UPSTREAM, "URL using bad/illegal format: %s",
               r->url);
    return;
  }
  unsigned port = u.field_set & (1 << UF_PORT) ? u.port : 80;
  hc->origin = origin_for(h1, r->url + u.field_data[UF_HOST].off,
                          u.field_data[UF_HOST].len, port);
  const char *method = r->method ? r->method : r->body ? "POST" : "GET";
  hc->head = !strcmp(method, "HEAD");
  /* the target: path and query, up to the fragment */
  const char *target = "/";
  size_t target_len = 1;
  int first = u.field_set & (1 << UF_PATH)    ? UF_PATH
              : u.field_set & (1 << UF_QUERY) ? UF_QUERY
                                              : -1;
  if (first >= 0) {
    size_t end = u.field_set & (1 << UF_QUERY)
                     ? u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len
                     : u.field_data[UF_PATH].off + u.field_data[UF_PATH].len;
    target = r->url + u.field_data[first].off - (first == UF_QUERY);
    target_len = end - (size_t)(target - r->url);
  }
  char *with_slash = NULL; /* "http://h?x=1" asks for "/?x=1" */
  if (first == UF_QUERY) {
    with_slash = loom_asprintf("/%.*s", (int)target_len, target);
    target = with_slash;
    target_len++;
  }
  hc->request = h1_request_text(r, method, target, target_len,
                                hc->origin->host_header, &hc->request_len);
  loom_free(with_slash);
  time_at(hc, hc->total_deadline);
  dispatch(hc);
}

void loom_http1_release(struct loom_http_call *call) {
  struct h1_call *hc = call->h1;
  if (!hc)
    return;
  untime(hc);
  if (hc->origin)
    unwait(hc);
  if (hc->conn)
    conn_close(hc->conn);
  loom_free(hc->request);
  loom_free(hc->fail_msg);
  loom_free(hc);
  call->h1 = NULL;
}

bool loom_http1_takes(const struct loom_http_client_request *r) {
  if (strncasecmp(r->url, "http://", 7) != 0 || r->resolve)
    return false;
  const char *authority = r->url + 7;
  /* credentials in the URL: libcurl turns them into Basic auth */
  return !memchr(authority, '@', strcspn(authority, "/?#"));
}

struct loom_http1 *loom_http1_new(struct loom_http_client *client,
                                  unsigned max_per_origin) {
  /* LOOM_HTTP_CLIENT=curl (core/config.h validates it): libcurl for all,
   * should a server not get on with this client. */
  const char *choice = getenv("LOOM_HTTP_CLIENT");
  if (choice && !strcmp(choice, "curl"))
    return NULL;
  /* A proxy in the environment: libcurl honours it (and no_proxy). */
  static const char *const proxies[] = {"http_proxy", "HTTP_PROXY", "all_proxy",
                                        "ALL_PROXY"};
  for (size_t i = 0; i < sizeof proxies / sizeof *proxies; i++) {
    const char *v = getenv(proxies[i]);
    if (v && *v)
      return NULL;
  }
  struct loom_http1 *h1 = LOOM_NEW(struct loom_http1);
  h1->client = client;
  h1->uv = loom_loop_uv(client->loop);
  h1->max_per_origin = max_per_origin ? max_per_origin : 1024;
  uv_timer_init(h1->uv, &h1->timer);
  h1->timer.data = h1;
  h1->open_handles = 1;
  return h1;
}

void loom_http1_free(struct loom_http1 *h1) {
  if (!h1)
    return;
  h1->freeing = true;
  for (struct h1_origin *o = h1->origins; o; o = o->next)
    while (o->idle)
      conn_close(o->idle);
  uv_timer_stop(&h1->timer);
  uv_close((uv_handle_t *)&h1->timer, timer_closed_cb);
}
