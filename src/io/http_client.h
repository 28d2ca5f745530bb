/*
 * http_client — asynchronous HTTP requests on libcurl multi, driven by a
 * loom loop.
 *
 * One client per loop. curl's socket callback puts each socket in the
 * client's epoll set (watched by one uv_poll), its timer callback only
 * starts or stops one uv_timer, and both feed curl_multi_socket_action;
 * finished transfers are
 * collected after each action. Requests cost memory, never a thread, so
 * thousands may be in flight (budget file descriptors: see
 * loom_http_server_new for RLIMIT_NOFILE). Every request has a connect and
 * a total timeout, and a capped response body.
 *
 * Everything runs on the client's loop thread: create, send, cancel and
 * free there, and the callbacks run there. From another thread, hand over
 * with loom_loop_post.
 */
#ifndef LOOM_IO_HTTP_CLIENT_H
#define LOOM_IO_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

struct loom_loop;
struct loom_http_client;
struct loom_http_call;

struct loom_http_client_response {
  loom_err err;      /* LOOM_OK when an HTTP response arrived (any status);
                        TIMEOUT, CANCELLED, TOO_LARGE (body over cap),
                        UPSTREAM (connect/TLS/protocol failure) */
  const char *error; /* what went wrong, "" when err is LOOM_OK */
  long status;       /* HTTP status, 0 when none arrived */
  const char *body;  /* NUL-terminated; "" when streamed or none */
  size_t body_len;
  double duration_s;                 /* from send to completion */
  const struct loom_http_call *call; /* for loom_http_client_header() */
};

/*
 * Streaming body callback, for 2xx responses when set (the body is then
 * not accumulated; error responses are still collected into `body`).
 * Return false to abort the transfer (completion with LOOM_ERR_CANCELLED).
 */
typedef bool (*loom_http_chunk_cb)(const char *data, size_t len,
                                   void *userdata);

/* Called exactly once per request, on the loop thread. Everything in
 * `resp` is valid only during the call. */
typedef void (*loom_http_response_cb)(
    const struct loom_http_client_response *resp, void *userdata);

struct loom_http_client_request {
  const char *method;         /* NULL = "GET" ("POST" if a body) */
  const char *url;            /* required */
  const char *const *headers; /* "Name: value" strings, NULL-ended */
  const void *body;           /* copied; may be NULL */
  size_t body_len;
  double connect_timeout_s; /* 0 = 10 */
  double timeout_s;         /* total; 0 = 60 */
  size_t max_body;          /* response cap; 0 = 16 MiB */
  /* "host:port:addr[,addr...]" (IPv6 in brackets): connect to these
   * addresses, without resolving the host again (CURLOPT_RESOLVE; the
   * entry expires like a cached DNS answer), never through a proxy from
   * the environment (it would look the name up itself). NULL: resolve as
   * usual. */
  const char *resolve;
  loom_http_chunk_cb on_chunk;   /* may be NULL */
  loom_http_response_cb on_done; /* required */
  void *userdata;
};

/* Once per process before threads start; loom_http_client_new also calls
 * it (guarded by pthread_once). */
void loom_http_client_global_init(void);

/*
 * A client on `loop` (call on that loop's thread). `max_per_host` limits
 * connections per host (0 = 1024); beyond it requests queue inside curl,
 * and the time queued counts toward their total timeout. Over HTTPS with
 * HTTP/2, one connection carries many requests at once.
 */
loom_err loom_http_client_new(struct loom_loop *loop, unsigned max_per_host,
                              struct loom_http_client **out) LOOM_MUST_USE;

/* Cancels every request in flight (their on_done runs with
 * LOOM_ERR_CANCELLED) and frees the client once its handles closed. On the
 * loop thread, and not from inside one of the client's own callbacks
 * (on_chunk, on_done): from there, free it on a later turn. NULL is a
 * no-op. */
void loom_http_client_free(struct loom_http_client *client);

/*
 * Starts a request. `*out` (may be NULL) is a handle valid until on_done
 * has run, for loom_http_client_cancel. LOOM_ERR_INVALID (no URL, no
 * on_done) — then on_done will not run.
 */
loom_err loom_http_client_send(struct loom_http_client *client,
                               const struct loom_http_client_request *r,
                               struct loom_http_call **out) LOOM_MUST_USE;

/*
 * Cancels a request in flight: its on_done runs with LOOM_ERR_CANCELLED
 * before this returns (from inside its own on_chunk: right after the
 * callback returns). Do not call after on_done ran.
 */
void loom_http_client_cancel(struct loom_http_call *call);

/* A response header of the final response, name case-insensitive; NULL
 * when absent. Valid during on_done. */
const char *loom_http_client_header(const struct loom_http_call *call,
                                    const char *name);

/*
 * The response headers of one call, built from the raw lines curl hands
 * to its header callback (exposed so the parsing can be tested and
 * fuzzed without a server): "name\0value\0" pairs of the final
 * response, in a capped buffer. Caller-owned: _init / _cleanup.
 */
struct loom_http_headers {
  struct loom_buf pairs;
  bool folding; /* the last line stored a header: a continuation extends it */
};

/* Starts an empty set whose pairs may take `max` bytes. */
void loom_http_client_headers_init(struct loom_http_headers *h, size_t max);
void loom_http_client_headers_cleanup(struct loom_http_headers *h);

/*
 * Takes one raw line (`len` bytes, CRLF or not): a status line ("HTTP/")
 * starts a new response and forgets the headers so far; a line starting
 * with a space or tab continues the previous header's value (obsolete
 * folding: joined with one space); "name: value" adds a pair, the value
 * trimmed of spaces and tabs. Ignored: a line holding a NUL or a bare CR
 * or LF inside, a name that is empty or not a token, a line without a
 * colon. A pair (or continuation) that would pass the cap is dropped
 * whole, with its continuations; the transfer goes on.
 */
void loom_http_client_header_line(struct loom_http_headers *h, const char *line,
                                  size_t len);

/* The value of header `name` (case-insensitive; the first when repeated)
 * in `h`, NULL when absent. Valid until the next line or cleanup. */
const char *loom_http_client_header_find(const struct loom_http_headers *h,
                                         const char *name);

/* Requests in flight on this client. */
unsigned loom_http_client_active(const struct loom_http_client *client);

#endif
