/*
 * sse — Server-Sent Events on a suspended HTTP connection.
 *
 * loom_sse_start() answers a request with `200 text/event-stream` whose
 * body is produced by a content reader: it copies whatever has been queued
 * with loom_sse_send(), and when nothing is queued it suspends the
 * connection (never returning 0 without suspending, which would spin the
 * loop); the next send or keep-alive resumes it. So thousands of streams
 * cost a buffer each, never a thread.
 *
 * A keep-alive comment (": keep-alive") goes out when the stream has been
 * quiet for `keepalive_s`. A client that went away is noticed within about
 * a second (the server peeks at suspended connections) or when a write
 * fails; the producer's on_disconnect callback then runs once, and it
 * decides whether the run behind the stream is cancelled or keeps going.
 *
 * Ownership: the producer holds the stream from loom_sse_start() until it
 * calls loom_sse_close() — exactly once, also after on_disconnect (the
 * callback may call it itself). All calls on the loop thread that owns the
 * request (loom_sse_loop); other threads hand over with loom_loop_post.
 */
#ifndef LOOM_IO_SSE_H
#define LOOM_IO_SSE_H

#include <jansson.h>
#include <stdbool.h>

#include "core/err.h"
#include "io/http.h"

struct loom_sse;
struct loom_loop;

/* The client went away (or the server is stopping). Sends fail from now
 * on; the producer still calls loom_sse_close. */
typedef void (*loom_sse_disconnect_cb)(struct loom_sse *stream, void *userdata);

struct loom_sse_options {
  double keepalive_s; /* quiet time before ": keep-alive"; 0 = 15 */
  size_t max_pending; /* queued bytes not yet sent; 0 = 8 MiB */
  loom_sse_disconnect_cb on_disconnect; /* may be NULL */
  void *userdata;
};

/*
 * Answers `req` (which must not be answered yet; it may be suspended) with
 * an event stream: Content-Type text/event-stream, Cache-Control no-cache,
 * X-Accel-Buffering no, plus any headers added with loom_http_header_add.
 * After this call use the stream, not `req`. `opt` may be NULL. Never
 * fails.
 */
struct loom_sse *loom_sse_start(struct loom_http_req *req,
                                const struct loom_sse_options *opt);

/*
 * Queues one event: "event: <event>\n" (if non-NULL), "id: <id>\n" (if
 * non-NULL), one "data: " line per line of `data` (split at \n, \r\n or
 * \r), then a blank line. Fails with LOOM_ERR_INVALID when `event` or
 * `id` contains a line break, LOOM_ERR_CANCELLED after a disconnect or
 * close, LOOM_ERR_LIMIT when the client is so slow that max_pending bytes
 * are waiting (the event is dropped; the stream stays open).
 */
loom_err loom_sse_send(struct loom_sse *stream, const char *event,
                       const char *id, const char *data) LOOM_MUST_USE;

/* loom_sse_send with `data` = the compact JSON of `value` (borrowed). */
loom_err loom_sse_send_json(struct loom_sse *stream, const char *event,
                            const char *id, const json_t *value) LOOM_MUST_USE;

/* Queues a comment line (": text"), e.g. for tests of proxies. */
loom_err loom_sse_comment(struct loom_sse *stream,
                          const char *text) LOOM_MUST_USE;

/* True until the client went away or the stream was closed. */
bool loom_sse_is_open(const struct loom_sse *stream);

/* The loop that owns the stream. */
struct loom_loop *loom_sse_loop(const struct loom_sse *stream);

/* The request id of the stream's request (valid until close). */
const char *loom_sse_request_id(const struct loom_sse *stream);

/*
 * Ends the stream after what is queued has been sent, and releases the
 * producer's hold: `stream` is invalid after this call. on_disconnect is
 * not called for a close.
 */
void loom_sse_close(struct loom_sse *stream);

#endif
