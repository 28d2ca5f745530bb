/*
 * sse — an event stream is a capped output buffer plus a content reader.
 *
 * The reader hands MHD what is buffered; with nothing buffered it suspends
 * the connection and returns 0 (returning 0 without suspending would make
 * MHD spin). Sends and keep-alive ticks append to the buffer and resume a
 * suspended reader; the daemon's idle handle then runs MHD, which calls the
 * reader again. When a write fails MHD ends the request; the completion
 * callback reaches loom_io_sse_conn_gone, which tells the producer.
 *
 * The stream has two holders: the producer (until loom_sse_close) and the
 * connection (until the request completes). The last one to let go closes
 * the keep-alive timer, whose close callback frees the stream.
 */
#include "io/sse.h"

#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "io/internal.h"
#include "io/loop.h"

#define SSE_BLOCK (16 * 1024) /* most bytes MHD asks for per read */

struct loom_sse {
  struct loom_http_req *req; /* NULL once the connection is gone */
  struct loom_loop *loop;
  char request_id[LOOM_ID_LEN + 1];
  struct loom_buf out; /* queued text; [sent, len) not yet read */
  size_t sent;
  size_t max_pending;
  uv_timer_t keepalive;
  bool quiet; /* nothing queued since the last tick */
  bool reader_suspended;
  bool producer_closed;
  bool server_closed;
  bool told; /* on_disconnect has run */
  int holders;
  loom_sse_disconnect_cb on_disconnect;
  void *userdata;
};

static void freed_cb(uv_handle_t *h) {
  struct loom_sse *s = h->data;
  loom_buf_cleanup(&s->out);
  loom_free(s);
}

static void release(struct loom_sse *s) {
  if (--s->holders == 0)
    uv_close((uv_handle_t *)&s->keepalive, freed_cb);
}

/* Wakes a reader that suspended for lack of data. */
static void wake(struct loom_sse *s) {
  if (s->reader_suspended && s->req) {
    s->reader_suspended = false;
    loom_io_resume(s->req);
  }
}

static ssize_t reader_cb(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos;
  struct loom_sse *s = cls;
  size_t pending = s->out.len - s->sent;
  if (pending) {
    size_t n = pending < max ? pending : max;
    memcpy(buf, s->out.data + s->sent, n);
    s->sent += n;
    if (s->sent == s->out.len) {
      loom_buf_reset(&s->out);
      s->sent = 0;
    }
    return (ssize_t)n;
  }
  if (s->producer_closed || s->server_closed || !s->req)
    return MHD_CONTENT_READER_END_OF_STREAM;
  s->reader_suspended = true;
  s->req->mhd_suspended = true;
  MHD_suspend_connection(s->req->conn);
  return 0;
}

static void keepalive_cb(uv_timer_t *t) {
  struct loom_sse *s = t->data;
  if (s->quiet && loom_sse_comment(s, "keep-alive") != LOOM_OK)
    return;
  s->quiet = true;
}

struct loom_sse *loom_sse_start(struct loom_http_req *req,
                                const struct loom_sse_options *opt) {
  struct loom_sse_options o = {0};
  if (opt)
    o = *opt;
  struct loom_sse *s = LOOM_NEW(struct loom_sse);
  s->req = req;
  s->loop = loom_http_loop(req);
  memcpy(s->request_id, req->id, sizeof s->request_id);
  s->max_pending = o.max_pending ? o.max_pending : 8u << 20;
  loom_buf_init(&s->out, s->max_pending + SSE_BLOCK);
  s->on_disconnect = o.on_disconnect;
  s->userdata = o.userdata;
  s->holders = 2;
  s->quiet = true;
  double ka = o.keepalive_s > 0 ? o.keepalive_s : 15;
  uv_timer_init(loom_loop_uv(s->loop), &s->keepalive);
  s->keepalive.data = s;
  uint64_t ms = (uint64_t)(ka * 1e3);
  uv_timer_start(&s->keepalive, keepalive_cb, ms ? ms : 1, ms ? ms : 1);

  req->sse = s;
  /* Streams stay open for as long as the producer wants; a dead client
   * shows when a keep-alive cannot be written. */
  MHD_set_connection_option(req->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
  struct MHD_Response *resp = MHD_create_response_from_callback(
      MHD_SIZE_UNKNOWN, SSE_BLOCK, reader_cb, s, NULL);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          "text/event-stream");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  MHD_add_response_header(resp, "X-Accel-Buffering", "no");
  loom_io_answer(req, 200, resp);
  return s;
}

/* Appends an event built in `ev`, all or nothing. */
static loom_err enqueue(struct loom_sse *s, const struct loom_buf *ev) {
  if (!s->req || s->producer_closed || s->server_closed)
    return LOOM_ERR_CANCELLED;
  if (s->out.len - s->sent + ev->len > s->max_pending)
    return LOOM_ERR_LIMIT;
  if (s->sent) {
    memmove(s->out.data, s->out.data + s->sent, s->out.len - s->sent);
    s->out.len -= s->sent;
    s->sent = 0;
  }
  if (loom_buf_append(&s->out, ev->data, ev->len) != LOOM_OK)
    return LOOM_ERR_LIMIT;
  s->quiet = false;
  wake(s);
  return LOOM_OK;
}

static bool has_break(const char *s) { return s && strpbrk(s, "\r\n"); }

loom_err loom_sse_send(struct loom_sse *stream, const char *event,
                       const char *id, const char *data) {
  if (has_break(event) || has_break(id))
    return LOOM_ERR_INVALID;
  struct loom_buf ev;
  loom_buf_init(&ev, stream->max_pending + 1);
  loom_err err = LOOM_OK;
  if (event)
    err = loom_buf_appendf(&ev, "event: %s\n", event);
  if (!err && id)
    err = loom_buf_appendf(&ev, "id: %s\n", id);
  const char *p = data ? data : "";
  while (!err) {
    size_t len = strcspn(p, "\r\n");
    err = loom_buf_append_str(&ev, "data: ");
    if (!err)
      err = loom_buf_append(&ev, p, len);
    if (!err)
      err = loom_buf_append(&ev, "\n", 1);
    p += len;
    if (!*p)
      break;
    p += (p[0] == '\r' && p[1] == '\n') ? 2 : 1;
  }
  if (!err)
    err = loom_buf_append(&ev, "\n", 1);
  err = err ? LOOM_ERR_LIMIT : enqueue(stream, &ev);
  loom_buf_cleanup(&ev);
  return err;
}

loom_err loom_sse_send_json(struct loom_sse *stream, const char *event,
                            const char *id, const json_t *value) {
  char *text = loom_json_dump(value);
  loom_err err = loom_sse_send(stream, event, id, text);
  loom_free(text);
  return err;
}

loom_err loom_sse_comment(struct loom_sse *stream, const char *text) {
  if (has_break(text))
    return LOOM_ERR_INVALID;
  struct loom_buf ev;
  loom_buf_init(&ev, stream->max_pending + 1);
  loom_err err = loom_buf_appendf(&ev, ": %s\n\n", text);
  err = err ? LOOM_ERR_LIMIT : enqueue(stream, &ev);
  loom_buf_cleanup(&ev);
  return err;
}

bool loom_sse_is_open(const struct loom_sse *stream) {
  return stream->req && !stream->producer_closed && !stream->server_closed;
}

struct loom_loop *loom_sse_loop(const struct loom_sse *stream) {
  return stream->loop;
}

const char *loom_sse_request_id(const struct loom_sse *stream) {
  return stream->request_id;
}

void loom_sse_close(struct loom_sse *stream) {
  if (stream->producer_closed)
    return;
  stream->producer_closed = true;
  uv_timer_stop(&stream->keepalive);
  wake(stream); /* the reader ends the stream once the buffer is drained */
  release(stream);
}

/* Tells the producer once that its client is gone. */
static void tell(struct loom_sse *s) {
  if (s->told || s->producer_closed)
    return;
  s->told = true;
  if (s->on_disconnect)
    s->on_disconnect(s, s->userdata);
}

void loom_io_sse_conn_gone(struct loom_sse *stream) {
  stream->req->sse = NULL;
  stream->req = NULL;
  uv_timer_stop(&stream->keepalive);
  tell(stream);
  release(stream);
}

void loom_io_sse_peer_closed(struct loom_sse *stream) {
  /* Ends the response now (the reader sees server_closed); the producer
   * hears it first, so its sends fail from here on. */
  stream->server_closed = true;
  uv_timer_stop(&stream->keepalive);
  struct loom_http_req *req = stream->req;
  tell(stream);
  if (req && req->sse == stream)
    wake(stream);
}

void loom_io_sse_server_close(struct loom_sse *stream) {
  stream->server_closed = true;
  wake(stream);
}
