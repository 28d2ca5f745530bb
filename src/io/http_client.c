/*
 * http_client — curl multi wired to a libuv loop.
 *
 * curl tells us which sockets to watch (socket_cb) and when to call back
 * (timer_cb: only starts or stops one uv_timer). The sockets go into the
 * client's own epoll set (add on first use, modify, delete on REMOVE; a
 * mark set with curl_multi_assign says which are in), watched by one
 * uv_poll: when it is readable, ready sockets are read in batches. A
 * uv_poll per socket cost two epoll_ctl calls per change of interest
 * (libuv deletes and re-adds), an ioctl, and a handle to allocate and
 * close per connection. Readiness and timer expiry both call
 * curl_multi_socket_action, after which finished transfers are collected
 * with curl_multi_info_read and reported.
 *
 * libcurl forbids removing or adding handles from inside its callbacks.
 * A cancel or send made from there (e.g. from on_chunk) is deferred: it is
 * carried out right after curl returns (settle()).
 *
 * Connection reuse at scale. libcurl 7.88 walks its connection list for
 * a host (i) on every new transfer, looking for an idle connection, and
 * (ii) on every removal of a transfer whose connection went back to the
 * cache, looking for that connection; with 10,000 HTTP/1 calls in flight
 * to one host that is 10^8 steps. So each client tracks, per origin, the
 * calls in flight and the idle keep-alive connections curl should hold
 * (counted as HTTP/1 responses complete): with none idle, a transfer asks
 * for a fresh connection (CURLOPT_FRESH_CONNECT: no walk), and once
 * HTTP_KEEP_MAX connections are busy or idle, further ones close when done
 * (CURLOPT_FORBID_REUSE: not kept, no walk on removal). Below that, and
 * for origins that may multiplex (HTTPS until a response shows HTTP/1),
 * keep-alive works as usual, so TLS and HTTP/2 connections are reused.
 * The cache may hold max_per_host connections (CURLMOPT_MAXCONNECTS);
 * past its default (4 per transfer) curl walks it on every return.
 */
#include "io/http_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "io/http_call.h"
#include "io/loop.h"

/* Ready sockets taken from the epoll set per epoll_wait. */
#define READY_BATCH 256

/* Per origin ("scheme://host:port"): what reuse can find there. */
struct origin {
  char *key;
  unsigned idle;     /* keep-alive connections curl should hold idle */
  unsigned inflight; /* calls started and not completed */
  bool h1;           /* speaks HTTP/1 only: a busy connection is no use */
  struct origin *next;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

void loom_http_client_global_init(void) {
  pthread_once(&global_once, global_init_once);
}

/* ---- finishing a call ---- */

static void call_free(struct loom_http_call *call) {
  struct loom_http_client *c = call->client;
  if (call->prev)
    call->prev->next = call->next;
  else
    c->calls = call->next;
  if (call->next)
    call->next->prev = call->prev;
  c->active--;
  if (call->easy) {
    if (call->added)
      curl_multi_remove_handle(c->multi, call->easy);
    call->origin->inflight--;
    curl_easy_cleanup(call->easy);
  } else {
    loom_http1_release(call);
  }
  curl_slist_free_all(call->headers);
  curl_slist_free_all(call->resolve);
  loom_buf_cleanup(&call->body);
  loom_http_client_headers_cleanup(&call->resp_headers);
  loom_free(call);
}

void http_call_finish(struct loom_http_call *call, loom_err err, long status,
                      const char *error) {
  struct loom_http_client_response r = {
      .err = err, .error = error, .status = status, .call = call};
  char msg[64];
  if (call->cancelled) {
    r.err = LOOM_ERR_CANCELLED;
    r.error = "request cancelled";
  } else if (call->too_large) {
    r.err = LOOM_ERR_TOO_LARGE;
    snprintf(msg, sizeof msg, "response body larger than %zu bytes",
             call->body.max);
    r.error = msg;
  }
  r.body = call->body.data ? call->body.data : "";
  r.body_len = call->body.len;
  r.duration_s = loom_clock_mono_s() - call->start_s;
  call->on_done(&r, call->userdata);
  call_free(call);
}

/* The transfer ended well: over HTTP/1 its connection goes back to curl's
 * cache, idle, unless the server closes it. */
static void note_connection(struct loom_http_call *call) {
  struct origin *o = call->origin;
  long ver = 0;
  curl_easy_getinfo(call->easy, CURLINFO_HTTP_VERSION, &ver);
  o->h1 = ver == CURL_HTTP_VERSION_1_0 || ver == CURL_HTTP_VERSION_1_1;
  const char *conn = loom_http_client_header(call, "connection");
  if (o->h1 && ver == CURL_HTTP_VERSION_1_1 && !call->forbid_reuse &&
      !(conn && strcasestr(conn, "close")) && o->idle < HTTP_KEEP_MAX)
    o->idle++;
}

static void complete(struct loom_http_call *call, CURLcode rc) {
  struct loom_http_client *c = call->client;
  if (call->added)
    curl_multi_remove_handle(c->multi, call->easy);
  if (call->added && rc == CURLE_OK && !call->cancelled)
    note_connection(call);
  call->added = false;
  long status = 0;
  curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
  char msg[CURL_ERROR_SIZE + 64] = "";
  loom_err err = LOOM_OK;
  if (rc != CURLE_OK) {
    err = rc == CURLE_OPERATION_TIMEDOUT ? LOOM_ERR_TIMEOUT : LOOM_ERR_UPSTREAM;
    snprintf(msg, sizeof msg, "%s",
             call->error[0] ? call->error : curl_easy_strerror(rc));
  }
  http_call_finish(call, err, status, msg);
}

static void settle(struct loom_http_client *c);

static void collect(struct loom_http_client *c) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(c->multi, &left))) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    struct loom_http_call *call;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
    complete(call, msg->data.result);
  }
  settle(c);
}

static void action(struct loom_http_client *c, curl_socket_t fd, int flags) {
  int running;
  c->in_curl++;
  curl_multi_socket_action(c->multi, fd, flags, &running);
  c->in_curl--;
  collect(c);
}

/* Carries out cancels and adds requested from inside curl callbacks. */
static void settle(struct loom_http_client *c) {
  if (!c->deferred || c->in_curl)
    return;
  c->deferred = false;
  for (struct loom_http_call *call = c->calls, *next; call; call = next) {
    next = call->next;
    if (!call->easy)
      continue; /* the own transport defers nothing */
    if (call->cancelled) {
      complete(call, CURLE_ABORTED_BY_CALLBACK);
    } else if (!call->added) {
      call->added = curl_multi_add_handle(c->multi, call->easy) == CURLM_OK;
      if (!call->added) {
        snprintf(call->error, sizeof call->error, "cannot start the request");
        complete(call, CURLE_FAILED_INIT);
      }
    }
  }
}

/* ---- curl ↔ libuv ---- */

static void epoll_cb(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  struct loom_http_client *c = h->data;
  struct epoll_event ready[READY_BATCH];
  int n = epoll_wait(c->epfd, ready, READY_BATCH, 0);
  for (int i = 0; i < n; i++) {
    uint32_t ev = ready[i].events;
    int flags = 0;
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
      flags |= CURL_CSELECT_IN;
    if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
      flags |= CURL_CSELECT_OUT;
    action(c, ready[i].data.fd, flags);
  }
}

/* The mark curl_multi_assign keeps for a socket in the epoll set. */
static char in_set;

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
                     void *socketp) {
  (void)easy;
  struct loom_http_client *c = userp;
  if (what == CURL_POLL_REMOVE) {
    if (socketp) {
      epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
      curl_multi_assign(c->multi, fd, NULL);
    }
    return 0;
  }
  struct epoll_event ev = {.data.fd = fd};
  if (what & CURL_POLL_IN)
    ev.events |= EPOLLIN;
  if (what & CURL_POLL_OUT)
    ev.events |= EPOLLOUT;
  if (epoll_ctl(c->epfd, socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev))
    return -1;
  if (!socketp)
    curl_multi_assign(c->multi, fd, &in_set);
  return 0;
}

static void timeout_cb(uv_timer_t *t) {
  action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  struct loom_http_client *c = userp;
  if (timeout_ms < 0)
    uv_timer_stop(&c->timer);
  else
    uv_timer_start(&c->timer, timeout_cb, (uint64_t)timeout_ms, 0);
  return 0;
}

/* ---- transfer callbacks ---- */

bool http_call_take_body(struct loom_http_call *call, long status,
                         const char *data, size_t len) {
  if (call->cancelled)
    return false;
  if (call->on_chunk && status >= 200 && status < 300) {
    call->in_callback = true;
    bool go_on = call->on_chunk(data, len, call->userdata);
    call->in_callback = false;
    if (!go_on)
      call->cancelled = true;
    return !call->cancelled;
  }
  if (loom_buf_append(&call->body, data, len) != LOOM_OK) {
    call->too_large = true;
    return false;
  }
  return true;
}

static size_t write_cb(char *data, size_t size, size_t n, void *userp) {
  struct loom_http_call *call = userp;
  long status = 0;
  curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
  return http_call_take_body(call, status, data, size * n) ? size * n : 0;
}

void http_call_add_header(struct loom_http_call *call, const char *name,
                          size_t name_len, const char *value,
                          size_t value_len) {
  /* As one line, so that it passes the checks libcurl's lines pass. */
  char small[512];
  size_t len = name_len + 1 + value_len;
  char *line = len <= sizeof small ? small : loom_malloc(len);
  memcpy(line, name, name_len);
  line[name_len] = ':';
  memcpy(line + name_len + 1, value, value_len);
  loom_http_client_header_line(&call->resp_headers, line, len);
  if (line != small)
    loom_free(line);
}

static size_t header_cb(char *line, size_t size, size_t n, void *userp) {
  struct loom_http_call *call = userp;
  loom_http_client_header_line(&call->resp_headers, line, size * n);
  return size * n;
}

const char *loom_http_client_header(const struct loom_http_call *call,
                                    const char *name) {
  return loom_http_client_header_find(&call->resp_headers, name);
}

/* ---- response headers ---- */

void loom_http_client_headers_init(struct loom_http_headers *h, size_t max) {
  loom_buf_init(&h->pairs, max);
  h->folding = false;
}

void loom_http_client_headers_cleanup(struct loom_http_headers *h) {
  loom_buf_cleanup(&h->pairs);
  h->folding = false;
}

/* A character of an RFC 9110 token (a field name). */
static bool is_tchar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

struct piece {
  const char *s;
  size_t len;
};

/* Writes the pieces from `at` (<= b->len) on, or, when that would pass
 * the cap, leaves the buffer as it was (and terminated). */
static bool put_at(struct loom_buf *b, size_t at, const struct piece *p,
                   size_t n) {
  size_t before = b->len;
  char saved = b->data ? b->data[at] : 0;
  b->len = at;
  for (size_t i = 0; i < n; i++)
    if (loom_buf_append(b, p[i].s, p[i].len) != LOOM_OK) {
      b->len = before;
      if (b->data) {
        b->data[at] = saved;
        b->data[before] = 0;
      }
      return false;
    }
  return true;
}

void loom_http_client_header_line(struct loom_http_headers *h, const char *line,
                                  size_t len) {
  struct loom_buf *b = &h->pairs;
  bool continues = h->folding;
  h->folding = false;
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
    loom_buf_reset(b); /* a new (final?) response */
    return;
  }
  /* A NUL would split a pair in two (a header the server did not send);
   * a bare CR or LF is no line at all. */
  if (!len || memchr(line, '\0', len) || memchr(line, '\r', len) ||
      memchr(line, '\n', len))
    return;
  bool continuation = is_ows(line[0]);
  const char *colon = continuation ? line : memchr(line, ':', len);
  if (!colon || (!continuation && colon == line))
    return;
  for (const char *c = line; c < colon; c++)
    if (!is_tchar(*c))
      return;
  const char *v = continuation ? line : colon + 1, *end = line + len;
  while (v < end && is_ows(*v))
    v++;
  while (end > v && is_ows(end[-1]))
    end--;
  struct piece value = {v, (size_t)(end - v)}, nul = {"", 1};
  if (continuation) {
    if (!continues || !value.len) {
      h->folding = continues;
      return;
    }
    size_t at = b->len - 1; /* the last value's terminator */
    bool empty = at == 0 || b->data[at - 1] == '\0';
    struct piece p[] = {{" ", empty ? 0 : 1}, value, nul};
    h->folding = put_at(b, at, p, 3);
    return;
  }
  struct piece p[] = {{line, (size_t)(colon - line)}, nul, value, nul};
  h->folding = put_at(b, b->len, p, 4);
}

const char *loom_http_client_header_find(const struct loom_http_headers *h,
                                         const char *name) {
  const char *p = h->pairs.data;
  const char *end = p ? p + h->pairs.len : NULL;
  while (p && p < end) {
    const char *value = p + strlen(p) + 1;
    if (value >= end)
      break;
    if (strcasecmp(p, name) == 0)
      return value;
    p = value + strlen(value) + 1;
  }
  return NULL;
}

/* ---- public ---- */

loom_err loom_http_client_new(struct loom_loop *loop, unsigned max_per_host,
                              struct loom_http_client **out) {
  loom_http_client_global_init();
  struct loom_http_client *c = LOOM_NEW(struct loom_http_client);
  c->loop = loop;
  c->multi = curl_multi_init();
  if (!c->multi) {
    loom_free(c);
    *out = NULL;
    return LOOM_ERR_INTERNAL;
  }
  c->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (c->epfd < 0 ||
      uv_poll_init(loom_loop_uv(loop), &c->epoll_ev, c->epfd) != 0) {
    if (c->epfd >= 0)
      close(c->epfd);
    curl_multi_cleanup(c->multi);
    loom_free(c);
    *out = NULL;
    return LOOM_ERR_INTERNAL;
  }
  c->epoll_ev.data = c;
  uv_poll_start(&c->epoll_ev, UV_READABLE, epoll_cb);
  uv_timer_init(loom_loop_uv(loop), &c->timer);
  c->timer.data = c;
  c->open_handles = 2;
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  c->max_conns = max_per_host ? max_per_host : 1024;
  curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                    (long)c->max_conns);
  curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->max_conns);
  c->h1 = loom_http1_new(c, c->max_conns);
  *out = c;
  return LOOM_OK;
}

static void client_closed_cb(uv_handle_t *h) {
  struct loom_http_client *c = h->data;
  if (--c->open_handles == 0)
    loom_free(c);
}

void loom_http_client_free(struct loom_http_client *c) {
  if (!c)
    return;
  while (c->calls) {
    c->calls->cancelled = true;
    if (c->calls->easy)
      complete(c->calls, CURLE_ABORTED_BY_CALLBACK);
    else
      http_call_finish(c->calls, LOOM_ERR_CANCELLED, 0, "");
  }
  loom_http1_free(c->h1);
  curl_multi_cleanup(c->multi);
  uv_close((uv_handle_t *)&c->epoll_ev, client_closed_cb); /* stops it */
  close(c->epfd);
  while (c->origins) {
    struct origin *o = c->origins;
    c->origins = o->next;
    loom_free(o->key);
    loom_free(o);
  }
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, client_closed_cb);
}

static void set_method(CURL *easy, const char *method, bool has_body) {
  if (!method)
    method = has_body ? "POST" : "GET";
  if (strcmp(method, "GET") == 0 && !has_body)
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  else if (strcmp(method, "HEAD") == 0)
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  else if (strcmp(method, "POST") != 0)
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
  if (strcmp(method, "POST") == 0 && !has_body)
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, 0L);
}

/* The origin of `url` (made on first use); plain http:// is HTTP/1. */
static struct origin *origin_of(struct loom_http_client *c, const char *url) {
  const char *host = strstr(url, "://");
  size_t len =
      host ? (size_t)(host + 3 - url) + strcspn(host + 3, "/?#") : strlen(url);
  for (struct origin *o = c->origins; o; o = o->next)
    if (!strncmp(o->key, url, len) && !o->key[len])
      return o;
  struct origin *o = LOOM_NEW(struct origin);
  o->key = loom_malloc(len + 1);
  memcpy(o->key, url, len);
  o->key[len] = '\0';
  o->h1 = !strncasecmp(url, "http://", 7);
  o->next = c->origins;
  c->origins = o;
  return o;
}

/* Reuse only when curl may hold an idle connection to the origin (or the
 * origin may multiplex); otherwise a fresh one, without the search. */
static void choose_connection(struct loom_http_call *call, CURL *e) {
  struct origin *o = call->origin;
  if (o->h1 && o->inflight + o->idle >= HTTP_KEEP_MAX) {
    call->forbid_reuse = true;
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  }
  o->inflight++;
  if (o->idle)
    o->idle--;
  else if (o->h1)
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
}

/* True when the request can only connect to one address: its host is an
 * IP address, or it is pinned to one. Happy eyeballs then has nothing to
 * race, yet libcurl 7.88 wakes every transfer once when its delay (200 ms)
 * runs out, to poll the socket: a wakeup and a syscall per call, which
 * with 10,000 calls starting at once lands in the middle of the ramp. */
static bool single_address(const struct loom_http_client_request *r) {
  if (r->resolve)
    return !strchr(r->resolve, ',');
  const char *h = strstr(r->url, "://");
  if (!h)
    return false;
  h += 3;
  size_t n = strcspn(h, "/?#");
  const char *at = memchr(h, '@', n);
  if (at)
    h = at + 1;
  if (h[0] == '[')
    return true; /* an IPv6 literal */
  char host[INET_ADDRSTRLEN];
  size_t len = strcspn(h, ":/?#");
  if (len >= sizeof host)
    return false;
  memcpy(host, h, len);
  host[len] = '\0';
  struct in_addr a;
  return inet_pton(AF_INET, host, &a) == 1;
}

static CURL *make_easy(struct loom_http_call *call,
                       const struct loom_http_client_request *r) {
  CURL *e = curl_easy_init();
  double ct = r->connect_timeout_s > 0 ? r->connect_timeout_s : 10;
  double tt = r->timeout_s > 0 ? r->timeout_s : 60;
  curl_easy_setopt(e, CURLOPT_URL, r->url);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PRIVATE, call);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->error);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(ct * 1e3));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(tt * 1e3));
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  if (single_address(r)) /* no second address family to race */
    curl_easy_setopt(e, CURLOPT_HAPPY_EYEBALLS_TIMEOUT_MS, (long)(tt * 1e3));
  bool has_body = r->body != NULL;
  if (has_body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, r->body);
  }
  set_method(e, r->method, has_body);
  /* No "Expect: 100-continue" round trip before large bodies. */
  call->headers = curl_slist_append(NULL, "Expect:");
  for (const char *const *h = r->headers; h && *h; h++)
    call->headers = curl_slist_append(call->headers, *h);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers);
  if (r->resolve) {
    /* "+": a timed entry in the multi's shared DNS cache, not a permanent
     * one that other requests to the host would keep using. */
    char *entry = loom_asprintf("+%s", r->resolve);
    call->resolve = curl_slist_append(NULL, entry);
    loom_free(entry);
    curl_easy_setopt(e, CURLOPT_RESOLVE, call->resolve);
    /* A proxy would look the name up again itself, past the check. */
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
  }
  return e;
}

loom_err loom_http_client_send(struct loom_http_client *c,
                               const struct loom_http_client_request *r,
                               struct loom_http_call **out) {
  if (out)
    *out = NULL;
  if (!r->url || !r->on_done)
    return LOOM_ERR_INVALID;
  struct loom_http_call *call = LOOM_NEW(struct loom_http_call);
  call->client = c;
  call->on_chunk = r->on_chunk;
  call->on_done = r->on_done;
  call->userdata = r->userdata;
  call->start_s = loom_clock_mono_s();
  loom_buf_init(&call->body, r->max_body ? r->max_body : 16u << 20);
  loom_http_client_headers_init(&call->resp_headers,
                                HTTP_CALL_MAX_HEADER_BYTES);
  call->next = c->calls;
  if (c->calls)
    c->calls->prev = call;
  c->calls = call;
  c->active++;
  if (out)
    *out = call;
  if (c->h1 && loom_http1_takes(r)) {
    loom_http1_start(c->h1, call, r);
    return LOOM_OK;
  }
  call->origin = origin_of(c, r->url);
  call->easy = make_easy(call, r);
  choose_connection(call, call->easy);
  if (c->in_curl) {
    c->deferred = true; /* added by settle() once curl returns */
    return LOOM_OK;
  }
  call->added = curl_multi_add_handle(c->multi, call->easy) == CURLM_OK;
  if (!call->added) {
    if (out)
      *out = NULL;
    call_free(call);
    return LOOM_ERR_INTERNAL;
  }
  return LOOM_OK;
}

void loom_http_client_cancel(struct loom_http_call *call) {
  struct loom_http_client *c = call->client;
  call->cancelled = true;
  if (!call->easy) { /* own transport: inside on_chunk it stops on return */
    if (!call->in_callback)
      http_call_finish(call, LOOM_ERR_CANCELLED, 0, "");
    return;
  }
  if (c->in_curl) {
    c->deferred = true;
    return;
  }
  complete(call, CURLE_ABORTED_BY_CALLBACK);
}

unsigned loom_http_client_active(const struct loom_http_client *client) {
  return client->active;
}
