/*
 * http — the request accessors and answers of the handler contract.
 *
 * An answer builds an MHD response and hands it to loom_io_answer(), which
 * queues it when the access handler returns (synchronous answer) or
 * resumes the suspended connection so MHD calls the access handler again
 * and queues it then (asynchronous answer). JSON bodies are checked by
 * loom_http_json_check(), shared with the fuzz target.
 */
#include "io/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "core/utf8.h"
#include "io/internal.h"

const char *loom_http_method(const struct loom_http_req *req) {
  return req->method;
}

const char *loom_http_path(const struct loom_http_req *req) { return req->url; }

const char *loom_http_route(const struct loom_http_req *req) {
  return req->match.pattern ? req->match.pattern : "(unmatched)";
}

const char *loom_http_param(const struct loom_http_req *req, const char *name) {
  for (size_t i = 0; i < req->match.nparams; i++)
    if (strcmp(req->match.param_names[i], name) == 0)
      return req->match.param_values[i];
  return NULL;
}

const char *loom_http_query(const struct loom_http_req *req, const char *name) {
  const char *value = NULL;
  size_t len = 0;
  if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name,
                                    strlen(name), &value, &len) != MHD_YES)
    return NULL;
  return value ? value : "";
}

struct query_values {
  const char *name;
  const char **out;
  size_t max, count;
};

static enum MHD_Result query_value_cb(void *cls, enum MHD_ValueKind kind,
                                      const char *key, const char *value) {
  (void)kind;
  struct query_values *q = cls;
  if (key && strcmp(key, q->name) == 0) {
    if (q->count < q->max)
      q->out[q->count] = value ? value : "";
    q->count++;
  }
  return MHD_YES;
}

size_t loom_http_query_values(const struct loom_http_req *req, const char *name,
                              const char **out, size_t max) {
  struct query_values q = {.name = name, .out = out, .max = max};
  MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_value_cb,
                            &q);
  return q.count;
}

const char *loom_http_header(const struct loom_http_req *req,
                             const char *name) {
  return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

struct headers_each {
  bool (*cb)(const char *name, const char *value, void *arg);
  void *arg;
};

static enum MHD_Result header_each_cb(void *cls, enum MHD_ValueKind kind,
                                      const char *key, const char *value) {
  (void)kind;
  struct headers_each *h = cls;
  return h->cb(key, value ? value : "", h->arg) ? MHD_YES : MHD_NO;
}

void loom_http_headers_each(const struct loom_http_req *req,
                            bool (*cb)(const char *name, const char *value,
                                       void *arg),
                            void *arg) {
  struct headers_each h = {cb, arg};
  MHD_get_connection_values(req->conn, MHD_HEADER_KIND, header_each_cb, &h);
}

const char *loom_http_body(const struct loom_http_req *req, size_t *len) {
  if (len)
    *len = req->body.len;
  return req->body.data ? req->body.data : "";
}

const char *loom_http_request_id(const struct loom_http_req *req) {
  return req->id;
}

struct loom_loop *loom_http_loop(const struct loom_http_req *req) {
  return req->d->loop;
}

void loom_http_set_context(struct loom_http_req *req, void *ctx,
                           void (*free_cb)(void *ctx)) {
  if (req->ctx && req->ctx_free)
    req->ctx_free(req->ctx);
  req->ctx = ctx;
  req->ctx_free = free_cb;
}

void *loom_http_context(const struct loom_http_req *req) { return req->ctx; }

void loom_http_header_add(struct loom_http_req *req, const char *name,
                          const char *value) {
  struct io_header *h = LOOM_NEW(struct io_header);
  h->name = loom_strdup(name);
  h->value = loom_strdup(value);
  struct io_header **tail = &req->headers;
  while (*tail)
    tail = &(*tail)->next;
  *tail = h;
}

bool loom_http_answered(const struct loom_http_req *req) {
  return req->answered;
}

void loom_http_respond_raw(struct loom_http_req *req, unsigned status,
                           const char *content_type, const void *data,
                           size_t len) {
  if (status == 204 || status == 304)
    len = 0;
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
  if (content_type)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  loom_io_answer(req, status, resp);
}

/* Sends `text` (taken, loom_free'd by MHD when sent) as JSON. */
static void respond_text(struct loom_http_req *req, unsigned status,
                         char *text) {
  struct MHD_Response *resp;
  if (status == 204 || status == 304) {
    loom_free(text);
    resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
  } else {
    resp = MHD_create_response_from_buffer_with_free_callback(strlen(text),
                                                              text, loom_free);
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          "application/json");
  loom_io_answer(req, status, resp);
}

void loom_http_respond_json(struct loom_http_req *req, unsigned status,
                            json_t *body) {
  char *text = body ? loom_json_dump(body) : loom_strdup("null");
  json_decref(body);
  respond_text(req, status, text);
}

void loom_http_respond_error(struct loom_http_req *req, unsigned status,
                             const char *code, const char *fmt, ...) {
  char message[1024];
  va_list ap;
  va_start(ap, fmt);
  /* It may quote a header (not checked for UTF-8) or be cut mid-character
   * by the cap; json_string refuses either and the message would be lost. */
  loom_utf8_vformat(message, sizeof message, fmt, ap);
  va_end(ap);
  json_t *body = json_object();
  json_object_set_new(body, "error", json_string(code));
  json_object_set_new(body, "message", json_string(message));
  loom_http_respond_json(req, status, body);
}

unsigned loom_http_status_for(loom_err code) {
  switch (code) {
  case LOOM_OK:
    return 200;
  case LOOM_ERR_INVALID:
    return 422;
  case LOOM_ERR_PARSE:
    return 400;
  case LOOM_ERR_NOT_FOUND:
    return 404;
  case LOOM_ERR_EXISTS:
  case LOOM_ERR_CONFLICT:
  case LOOM_ERR_CANCELLED:
    return 409;
  case LOOM_ERR_TOO_LARGE:
    return 413;
  case LOOM_ERR_LIMIT:
    return 429;
  case LOOM_ERR_UNAUTHORIZED:
    return 401;
  case LOOM_ERR_FORBIDDEN:
    return 403;
  case LOOM_ERR_UNSUPPORTED:
    return 501;
  case LOOM_ERR_TIMEOUT:
    return 504;
  case LOOM_ERR_UNAVAILABLE:
    return 503;
  case LOOM_ERR_UPSTREAM:
    return 502;
  default:
    return 500;
  }
}

void loom_http_respond_err(struct loom_http_req *req,
                           const struct loom_error *e) {
  const char *msg = e->message[0] ? e->message : loom_strerror(e->code);
  loom_http_respond_error(req, loom_http_status_for(e->code),
                          loom_err_code(e->code), "%s", msg);
}

void loom_http_suspend(struct loom_http_req *req) {
  if (req->answered)
    return;
  req->want_suspend = true;
}

void loom_http_continue(struct loom_http_req *req) {
  if (req->answered || req->match.kind != LOOM_HTTP_MATCH_FOUND)
    return;
  req->want_suspend = false;
  req->in_handler = true;
  loom_log_context_set(req->id, NULL);
  req->match.handler(req, req->match.userdata);
  loom_log_context_set(NULL, NULL);
  req->in_handler = false;
  if (!req->answered && !req->want_suspend) {
    LOOM_ERROR("http: handler for %s %s returned without answering",
               req->method, loom_http_route(req));
    loom_http_respond_error(req, 500, "internal",
                            "the handler did not answer this request");
  }
}

void loom_http_on_disconnect(struct loom_http_req *req,
                             loom_http_disconnect_cb cb, void *userdata) {
  req->disconnect_cb = cb;
  req->disconnect_ud = userdata;
}

void loom_http_on_abort(struct loom_http_req *req, loom_http_abort_cb cb,
                        void *userdata) {
  req->abort_cb = cb;
  req->abort_ud = userdata;
}

/* application/json or application/<anything>+json, parameters allowed. */
static bool is_json_type(const char *ct) {
  while (*ct == ' ' || *ct == '\t')
    ct++;
  size_t len = strcspn(ct, "; \t");
  if (len == 16 && strncasecmp(ct, "application/json", 16) == 0)
    return true;
  return len > 17 && strncasecmp(ct, "application/", 12) == 0 &&
         strncasecmp(ct + len - 5, "+json", 5) == 0;
}

unsigned loom_http_json_check(const char *content_type, const char *body,
                              size_t len, json_t **out, struct loom_error *e) {
  *out = NULL;
  if (content_type && *content_type && !is_json_type(content_type)) {
    loom_error_set(e, LOOM_ERR_UNSUPPORTED,
                   "request body must be JSON, got Content-Type '%.100s'; "
                   "send 'Content-Type: application/json' (curl: --json or "
                   "-H 'Content-Type: application/json')",
                   content_type);
    return 415;
  }
  if (len == 0) {
    *out = json_object();
    return 0;
  }
  *out = loom_json_parse(body, len, e);
  return *out ? 0 : 400;
}

bool loom_http_json_body(struct loom_http_req *req, json_t **out) {
  struct loom_error e;
  loom_error_clear(&e);
  size_t len;
  const char *body = loom_http_body(req, &len);
  unsigned status = loom_http_json_check(
      loom_http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE), body, len, out, &e);
  if (status == 0)
    return true;
  loom_http_respond_error(
      req, status, status == 415 ? "unsupported_media_type" : "invalid_json",
      "%s", e.message);
  return false;
}

bool loom_http_json_object(struct loom_http_req *req, json_t **out) {
  if (!loom_http_json_body(req, out))
    return false;
  if (json_is_object(*out))
    return true;
  json_decref(*out);
  *out = NULL;
  loom_http_respond_error(req, 400, "invalid_json",
                          "request body must be a JSON object");
  return false;
}
