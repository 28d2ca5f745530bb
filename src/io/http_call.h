/*
 * http_call — what the HTTP client's two transports share: the call and
 * client objects, and how a call takes in a response and finishes.
 *
 * http_client.c owns the public API and the libcurl transport (HTTPS,
 * proxies, pinned addresses); http1.c is loom's own HTTP/1.1 transport
 * for plain http:// origins, which costs a fraction of libcurl's CPU and
 * memory per call (see http1.c). Both hand response headers, body bytes
 * and the end of a call to the functions below, so a caller sees the same
 * behaviour whichever transport carried its request.
 */
#ifndef LOOM_IO_HTTP_CALL_H
#define LOOM_IO_HTTP_CALL_H

#include <curl/curl.h>
#include <http_parser.h>
#include <uv.h>

#include "core/buf.h"
#include "io/http_client.h"

#define HTTP_CALL_MAX_HEADER_BYTES (64 * 1024)
/* Idle keep-alive connections kept per HTTP/1 origin, by either transport
 * (http_client.c says why a burst must not keep them all). */
#define HTTP_KEEP_MAX 256

struct origin;
struct loom_http1;
struct h1_conn;

struct loom_http_call {
  struct loom_http_client *client;
  struct loom_http_call *prev, *next;
  struct loom_buf body;                  /* response body (non-streamed) */
  struct loom_http_headers resp_headers; /* of the final response */
  loom_http_chunk_cb on_chunk;
  loom_http_response_cb on_done;
  void *userdata;
  double start_s;
  bool cancelled;
  bool too_large;
  bool in_callback; /* inside on_chunk: a cancel waits until it returns */
  /* Own transport (http1.c); unused when `easy` is set. */
  struct h1_call *h1;
  /* libcurl transport */
  struct origin *origin;
  CURL *easy;
  struct curl_slist *headers;
  struct curl_slist *resolve; /* the pinned address, or NULL */
  char error[CURL_ERROR_SIZE];
  bool added;        /* in the multi handle */
  bool forbid_reuse; /* its connection closes when done */
};

struct loom_http_client {
  struct loom_loop *loop;
  CURLM *multi;
  uv_timer_t timer;
  int epfd;           /* curl's sockets */
  uv_poll_t epoll_ev; /* epfd readable: some socket is ready */
  int open_handles;   /* timer and epoll_ev; freed when both closed */
  struct loom_http_call *calls;
  struct origin *origins;
  struct loom_http1 *h1; /* NULL: every request goes through libcurl */
  unsigned max_conns;
  unsigned active;
  int in_curl;   /* depth of calls into curl */
  bool deferred; /* a cancel or add waits for settle() */
};

/* A response header ("name", "value" as received): into
 * call->resp_headers through loom_http_client_header_line, as libcurl's
 * header lines go. */
void http_call_add_header(struct loom_http_call *call, const char *name,
                          size_t name_len, const char *value, size_t value_len);

/*
 * Body bytes of a response with `status`: to on_chunk for a 2xx when the
 * caller streams, otherwise into call->body. False: stop the transfer
 * (on_chunk said stop or cancelled the call, or the body passed its cap).
 */
bool http_call_take_body(struct loom_http_call *call, long status,
                         const char *data, size_t len);

/*
 * Finishes the call: on_done runs with `err` (LOOM_OK: a response with
 * `status` arrived; CANCELLED and TOO_LARGE are taken from the call's own
 * flags) and `error` ("" or what went wrong), then the call is unlinked
 * and freed, with what its transport still holds.
 */
void http_call_finish(struct loom_http_call *call, loom_err err, long status,
                      const char *error);

/* ---- the own transport (http1.c, http1_reader.c) ---- */

/* One response being read into a call. */
struct h1_reader {
  http_parser parser;
  struct loom_http_call *call;
  struct loom_buf hname, hvalue; /* the header being read */
  long status;
  bool head;         /* answering a HEAD request: no body */
  bool complete;     /* the final response has ended */
  bool stopped;      /* the call refused body bytes (stop, cancel, cap) */
  bool cut;          /* a header name or value was too long and was cut */
  bool closed_early; /* the peer closed before the response ended */
  bool in_value;     /* a header's value has begun (it may be empty) */
};

enum h1_read {
  H1_MORE,          /* the response goes on */
  H1_DONE,          /* it ended with the bytes given */
  H1_DONE_LEFTOVER, /* it ended and bytes followed it */
  H1_STOPPED,       /* the call refused body bytes */
  H1_BAD,           /* not HTTP, or closed before its end: h1_reader_error */
};

void h1_reader_init(struct h1_reader *r);
void h1_reader_cleanup(struct h1_reader *r);

/* Gets ready for the response to a new request of `call`. */
void h1_reader_start(struct h1_reader *r, struct loom_http_call *call,
                     bool head);

/* Reads the next `n` bytes; n == 0 says the peer closed the connection
 * (which ends a body that runs until then). */
enum h1_read h1_reader_feed(struct h1_reader *r, const char *data, size_t n);

/* Whether the connection may carry another request after this response. */
bool h1_reader_keep_alive(const struct h1_reader *r);

/* What was wrong, after H1_BAD. */
const char *h1_reader_error(const struct h1_reader *r);

/*
 * The request text of `r` (http1_request.c): "METHOD target HTTP/1.1",
 * the caller's headers (one holding a CR or LF would forge others and is
 * left out; "Name:" with no value only removes a header, as libcurl reads
 * it; Content-Length is always loom's), Host, Accept and Content-Length
 * unless given, a blank line, the body. Allocated; its length in *len.
 */
char *h1_request_text(const struct loom_http_client_request *r,
                      const char *method, const char *target, size_t target_len,
                      const char *host_header, size_t *len);

/* State for plain http:// requests on the client's loop; NULL when a
 * proxy is configured in the environment (libcurl honours it). */
struct loom_http1 *loom_http1_new(struct loom_http_client *client,
                                  unsigned max_per_origin);

/* Whether `r` can go through the own transport: plain http://, no
 * credentials in the URL, no pinned address. */
bool loom_http1_takes(const struct loom_http_client_request *r);

/* Starts `call` (linked in, with its buffers ready). */
void loom_http1_start(struct loom_http1 *h1, struct loom_http_call *call,
                      const struct loom_http_client_request *r);

/* Drops what the transport holds for `call` (closing its connection if a
 * response was under way); called by http_call_finish. */
void loom_http1_release(struct loom_http_call *call);

/* Closes idle connections and frees the transport once its handles have
 * closed. Every call must have finished. */
void loom_http1_free(struct loom_http1 *h1);

#endif
