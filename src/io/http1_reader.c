/*
 * http1_reader — reads one HTTP/1.1 response for http1.c, from bytes in
 * whatever pieces the socket gives them, into a loom_http_call: headers
 * to http_call_add_header, body bytes to http_call_take_body.
 *
 * http_parser does the framing (status line, Content-Length, chunked,
 * bodies that run until the connection closes, interim 1xx responses);
 * header names and values may arrive split, so each is gathered before it
 * is handed on. Separate from the connection so that it can be tested and
 * fuzzed without sockets.
 */
#include <string.h>

#include "io/http_call.h"

#define MAX_HEADER_PIECE (16 * 1024) /* a longer name or value is cut */

static void flush_header(struct h1_reader *r) {
  if (r->hname.len)
    http_call_add_header(r->call, r->hname.data, r->hname.len,
                         r->hvalue.data ? r->hvalue.data : "", r->hvalue.len);
  loom_buf_reset(&r->hname);
  loom_buf_reset(&r->hvalue);
  r->in_value = false;
}

/* A response begins (an interim 1xx is followed by the final one): its
 * headers start afresh, as a status line starts them for libcurl. */
static int on_message_begin(http_parser *p) {
  struct h1_reader *r = p->data;
  loom_buf_reset(&r->hname);
  loom_buf_reset(&r->hvalue);
  loom_http_client_header_line(&r->call->resp_headers, "HTTP/1.1", 8);
  return 0;
}

/* A name after a value starts the next header. Past MAX_HEADER_PIECE the
 * rest of a piece is dropped (the append refuses it whole). */
static int on_header_field(http_parser *p, const char *at, size_t len) {
  struct h1_reader *r = p->data;
  if (r->in_value) /* even an empty one: "X-Id:" ends a header too */
    flush_header(r);
  r->in_value = false;
  if (loom_buf_append(&r->hname, at, len) != LOOM_OK)
    r->cut = true;
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  struct h1_reader *r = p->data;
  r->in_value = true;
  if (loom_buf_append(&r->hvalue, at, len) != LOOM_OK)
    r->cut = true;
  return 0;
}

static int on_headers_complete(http_parser *p) {
  struct h1_reader *r = p->data;
  flush_header(r);
  r->status = p->status_code;
  return r->head ? 1 : 0; /* a HEAD response has no body */
}

static int on_body(http_parser *p, const char *at, size_t len) {
  struct h1_reader *r = p->data;
  if (!http_call_take_body(r->call, r->status, at, len)) {
    r->stopped = true;
    return -1;
  }
  return 0;
}

static int on_message_complete(http_parser *p) {
  struct h1_reader *r = p->data;
  flush_header(r); /* a chunked body's last trailer */
  if (p->status_code / 100 == 1)
    return 0;
  r->complete = true;
  http_parser_pause(p, 1); /* whatever follows is not this response's */
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void h1_reader_init(struct h1_reader *r) {
  memset(r, 0, sizeof *r);
  loom_buf_init(&r->hname, MAX_HEADER_PIECE);
  loom_buf_init(&r->hvalue, MAX_HEADER_PIECE);
}

void h1_reader_cleanup(struct h1_reader *r) {
  loom_buf_cleanup(&r->hname);
  loom_buf_cleanup(&r->hvalue);
}

void h1_reader_start(struct h1_reader *r, struct loom_http_call *call,
                     bool head) {
  http_parser_init(&r->parser, HTTP_RESPONSE);
  r->parser.data = r;
  r->call = call;
  r->head = head;
  r->status = 0;
  r->complete = r->stopped = r->cut = r->closed_early = false;
  loom_buf_reset(&r->hname);
  loom_buf_reset(&r->hvalue);
}

enum h1_read h1_reader_feed(struct h1_reader *r, const char *data, size_t n) {
  /* A verdict given stays: bytes after it are not this response's. */
  if (r->stopped)
    return H1_STOPPED;
  if (r->complete)
    return H1_DONE_LEFTOVER;
  if (r->closed_early)
    return H1_BAD;
  size_t used = http_parser_execute(&r->parser, &settings, data, n);
  if (r->stopped)
    return H1_STOPPED;
  if (r->complete)
    return n == 0 || used == n ? H1_DONE : H1_DONE_LEFTOVER;
  enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
  if (e != HPE_OK || r->parser.upgrade) /* nobody asked to switch */
    return H1_BAD;
  r->closed_early = n == 0;
  return n == 0 ? H1_BAD : H1_MORE;
}

bool h1_reader_keep_alive(const struct h1_reader *r) {
  return r->complete && http_should_keep_alive(&r->parser);
}

const char *h1_reader_error(const struct h1_reader *r) {
  enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
  if (r->parser.upgrade)
    return "the server switched protocols unasked";
  return e == HPE_OK || e == HPE_INVALID_EOF_STATE
             ? "the connection closed before the response ended"
             : http_errno_description(e);
}
