/*
 * http — the handler contract: what a route handler receives and how it
 * answers.
 *
 * A handler runs on the loop thread that owns the connection, once the
 * whole request body has arrived (capped at the server's max_body; a larger
 * body is answered 413 before any handler runs). It answers in one of two
 * ways:
 *
 *  - synchronously: call one loom_http_respond_* before returning;
 *  - asynchronously: call loom_http_suspend(req) and return; answer later
 *    with a loom_http_respond_* on the same loop thread (loom_http_loop).
 *    The request stays valid until answered. From another thread, hand the
 *    answer over with loom_loop_post(loom_http_loop(req), fn, arg) and
 *    respond inside fn. If the answer may come after the server stops,
 *    register loom_http_on_abort(): at shutdown (after the grace period)
 *    the server calls it, answers 503 itself, and the request is gone.
 *
 * A handler that returns without answering or suspending gets a 500 sent
 * for it (and an error in the log). Exactly one answer per request; a
 * second one is ignored with a warning. Every response carries
 * `x-request-id` (a UUIDv7, also set as the log context while handlers
 * run). Error bodies are {"error": CODE, "message": TEXT}.
 *
 * All functions here are for the owning loop thread only; answering from
 * another thread is a bug that aborts with a message rather than racing.
 */
#ifndef LOOM_IO_HTTP_H
#define LOOM_IO_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/id.h"

struct loom_loop;
struct loom_http_req;

/* A route handler; `userdata` is what was given to loom_http_route_add. */
typedef void (*loom_http_handler_cb)(struct loom_http_req *req, void *userdata);

/* Called when the server gives up on a suspended request (shutdown). After
 * it returns the request is invalid; do not answer it. */
typedef void (*loom_http_abort_cb)(struct loom_http_req *req, void *userdata);

/* The client of a suspended request closed its connection. */
typedef void (*loom_http_disconnect_cb)(struct loom_http_req *req,
                                        void *userdata);

/* ---- the request ---- */

/* "GET", "POST", ... as sent (HEAD is served by GET routes). */
const char *loom_http_method(const struct loom_http_req *req);

/* The decoded path without the query string ("/threads/abc/runs"). */
const char *loom_http_path(const struct loom_http_req *req);

/* The matched route pattern ("/threads/{thread_id}/runs"); for metrics
 * labels. Also set for a 405; a 404 reports "(unmatched)". */
const char *loom_http_route(const struct loom_http_req *req);

/* A path parameter by name (`{thread_id}` → "thread_id"); NULL if the
 * route has none of that name. */
const char *loom_http_param(const struct loom_http_req *req, const char *name);

/* A query-string argument, decoded (%XX, and '+' as a space); NULL when
 * absent, "" for `?flag`. The first one when repeated. */
const char *loom_http_query(const struct loom_http_req *req, const char *name);

/* Every value of a repeated query argument (`?ids=a&ids=b`), in order:
 * fills up to `max` pointers and returns how many there are in all. */
size_t loom_http_query_values(const struct loom_http_req *req, const char *name,
                              const char **out, size_t max);

/* A request header, name case-insensitive; NULL when absent. */
const char *loom_http_header(const struct loom_http_req *req, const char *name);

/* Calls cb(name, value, arg) for every request header, in the order
 * received (names as the client spelled them); cb returns false to stop. */
void loom_http_headers_each(const struct loom_http_req *req,
                            bool (*cb)(const char *name, const char *value,
                                       void *arg),
                            void *arg);

/* The request body (NUL-terminated, so text can be used as a string);
 * never NULL ("" when empty). `len` may be NULL. */
const char *loom_http_body(const struct loom_http_req *req, size_t *len);

/* This request's id (UUIDv7, 36 characters), also sent as x-request-id. */
const char *loom_http_request_id(const struct loom_http_req *req);

/* The loop whose thread owns this request. */
struct loom_loop *loom_http_loop(const struct loom_http_req *req);

/* Attaches a pointer for later stages (e.g. the authenticated principal);
 * `free_cb` (may be NULL) runs when the request ends. Replaces and frees a
 * previous one. */
void loom_http_set_context(struct loom_http_req *req, void *ctx,
                           void (*free_cb)(void *ctx));
void *loom_http_context(const struct loom_http_req *req);

/* ---- answering ---- */

/* Adds a response header to the answer about to be given (copied). Call
 * before the respond function. */
void loom_http_header_add(struct loom_http_req *req, const char *name,
                          const char *value);

/* Answers with `body` serialised as JSON (application/json). Steals the
 * reference to `body` (NULL sends "null"). */
void loom_http_respond_json(struct loom_http_req *req, unsigned status,
                            json_t *body);

/* Answers {"error": code, "message": <formatted>} with `status`. */
void loom_http_respond_error(struct loom_http_req *req, unsigned status,
                             const char *code, const char *fmt, ...)
    LOOM_PRINTF(4, 5);

/* Answers a loom error: status from loom_http_status_for(e->code), error
 * code from loom_err_code(), message from e->message (or the code's
 * description when empty). */
void loom_http_respond_err(struct loom_http_req *req,
                           const struct loom_error *e);

/* Answers raw bytes (copied) with the given content type (NULL: none).
 * For 204 and 304 no body is sent, whatever is given. */
void loom_http_respond_raw(struct loom_http_req *req, unsigned status,
                           const char *content_type, const void *data,
                           size_t len);

/* True once the request has been answered (or an SSE stream started). */
bool loom_http_answered(const struct loom_http_req *req);

/* The HTTP status for a loom error code: INVALID 422, PARSE 400,
 * NOT_FOUND 404, EXISTS/CONFLICT/CANCELLED 409, TOO_LARGE 413, LIMIT 429,
 * UNAUTHORIZED 401, FORBIDDEN 403, UNSUPPORTED 501, TIMEOUT 504,
 * UNAVAILABLE 503, UPSTREAM 502, everything else 500. */
unsigned loom_http_status_for(loom_err code);

/* ---- asynchronous answers ---- */

/* Marks the request as answered later. Call before returning from the
 * handler; answer with a loom_http_respond_* on the loop thread. */
void loom_http_suspend(struct loom_http_req *req);

/* For a `before` hook (see http_server.h) that suspended the request to
 * do asynchronous work (e.g. look up an API key): runs the route's handler
 * now, on the loop thread, as if the hook had returned true. */
void loom_http_continue(struct loom_http_req *req);

/* Registers what to call if the server abandons this suspended request
 * at shutdown (see the top of this file). */
void loom_http_on_abort(struct loom_http_req *req, loom_http_abort_cb cb,
                        void *userdata);

/*
 * Asks to hear when the client of this request hangs up while it is
 * suspended (e.g. to cancel the work behind it). The server looks at
 * suspended connections about once a second; `cb` runs at most once, on
 * the loop thread. The request stays valid and still needs an answer,
 * which is then simply dropped; answer promptly to release it.
 */
void loom_http_on_disconnect(struct loom_http_req *req,
                             loom_http_disconnect_cb cb, void *userdata);

/* ---- JSON request bodies ---- */

/*
 * Parses the body as JSON into *out (caller owns it). Returns false when it
 * has already answered the request:
 *  - 415 "unsupported_media_type" when a Content-Type other than
 *    application/json (or any application/<x>+json, parameters such as
 *    charset allowed) is given. A missing Content-Type is accepted, as
 *    clients that omit it nearly always send JSON; note that `curl -d`
 *    sends application/x-www-form-urlencoded, which is refused with a
 *    message saying to use --json or -H 'Content-Type: application/json'.
 *  - 400 "invalid_json" with "invalid JSON at line L, column C: reason".
 * An empty body gives an empty object, so POST endpoints whose fields are
 * all optional work without a body.
 */
bool loom_http_json_body(struct loom_http_req *req, json_t **out);

/* Like loom_http_json_body, and answers 400 "invalid_json" ("request body
 * must be a JSON object") when the value is not an object. */
bool loom_http_json_object(struct loom_http_req *req, json_t **out);

/*
 * The validation behind loom_http_json_body without a request, for tests
 * and fuzzing: content type (may be NULL) plus body. Returns 0 and sets
 * *out on success, otherwise the HTTP status (400/415) with `e` filled.
 */
unsigned loom_http_json_check(const char *content_type, const char *body,
                              size_t len, json_t **out, struct loom_error *e);

#endif
