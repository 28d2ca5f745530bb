/*
 * pinecone — Pinecone-compatible control and data plane over loom's
 * built-in vector indexes (stores/vector_indexes.h), so Pinecone clients
 * work unchanged with loom's base URL as their controller host.
 *
 * Control plane: POST/GET /indexes, GET/PATCH/DELETE /indexes/{index}.
 * An index's host is http://<Host header>/indexes/{index}; clients keep
 * the path, so the data plane lives under it: /vectors/upsert,
 * /vectors/fetch, /vectors/update, /vectors/delete, /vectors/list, /query,
 * /describe_index_stats (pinecone_data.c).
 *
 * Errors: control plane {"error": {"code", "message"}, "status"}; data
 * plane {"code": <grpc code>, "message", "details": []}, as Pinecone sends.
 * Reads of the control plane run on the loop thread (they only look the
 * index up in the table, never loading its store: an index whose store
 * cannot be opened is described as InitializationFailed). Create, configure and
 * delete write files (and delete waits for the data-plane requests in flight on
 * that index): they run on the worker pool like the data plane (the request's
 * Host header and body are captured on the loop thread, the answer sent back
 * there).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/internal.h"
#include "api/pinecone.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/utf8.h"
#include "stores/vector_indexes.h"

static struct loom_vindexes *indexes;

/* A control-plane error body: {"error": {"code", "message"}, "status"}. */
static json_t *fail_body(unsigned status, const char *msg) {
  const char *code = status == 404   ? "NOT_FOUND"
                     : status == 409 ? "ALREADY_EXISTS"
                     : status == 403 ? "FORBIDDEN"
                     : status == 401 ? "UNAUTHENTICATED"
                     : status == 503 ? "UNAVAILABLE"
                     : status >= 500 ? "INTERNAL"
                                     : "INVALID_ARGUMENT";
  return json_pack("{s:{s:s,s:s},s:i}", "error", "code", code, "message", msg,
                   "status", (int)status);
}

void pc_fail(struct loom_http_req *req, unsigned status, const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  loom_utf8_vformat(msg, sizeof msg, fmt, ap); /* quotes ids, may be cut */
  va_end(ap);
  loom_http_respond_json(req, status, fail_body(status, msg));
}

unsigned pc_status(loom_err code) {
  switch (code) {
  case LOOM_ERR_INVALID:
  case LOOM_ERR_PARSE:
    return 400;
  case LOOM_ERR_NOT_FOUND:
    return 404;
  case LOOM_ERR_EXISTS:
  case LOOM_ERR_CONFLICT:
    return 409;
  case LOOM_ERR_TOO_LARGE:
    return 413;
  case LOOM_ERR_FORBIDDEN:
    return 403;
  case LOOM_ERR_UNAVAILABLE: /* an index whose store cannot be opened */
    return 503;
  default:
    return 500;
  }
}

struct loom_vindexes *pc_indexes(void) {
  return indexes;
}

/* The shape of the index described by `d` into model `m`. Once its
 * config.json is unreadable, the dimension and metric come from info.json
 * (where loom_vindexes_create keeps them too, and loom_vindexes_open puts
 * a snapshot's when it lacks them). The metric is always given: the
 * Python client cannot parse a model without one, so an index whose
 * metric no file records any more is described with Pinecone's default
 * for dense indexes, cosine (it is InitializationFailed anyway). An
 * unknown dimension is left out. */
static void model_shape(json_t *m, const struct loom_vindex_desc *d) {
  json_int_t dim =
      d->has_params ? (json_int_t)d->params.dim
                    : json_integer_value(json_object_get(d->info, "dimension"));
  const char *metric =
      d->has_params ? loom_metric_name(d->params.metric)
                    : json_string_value(json_object_get(d->info, "metric"));
  if (!metric || loom_metric_parse(metric) < 0)
    metric = "cosine";
  json_object_set_new(m, "metric", json_string(metric));
  /* Client 9 reads the shape from the schema field alone, and takes an
   * index without one for one still initializing, whose metric it will
   * not tell: the field is there even when the dimension is unknown. */
  json_t *field =
      json_pack("{s:s,s:s}", "type", "dense_vector", "metric", metric);
  if (dim >= 1 && dim <= LOOM_HNSW_MAX_DIM) {
    json_object_set_new(m, "dimension", json_integer(dim));
    json_object_set_new(field, "dimension", json_integer(dim));
  }
  json_object_set_new(m, "schema",
                      json_pack("{s:{s:o}}", "fields", "_values", field));
}

/* The index model Pinecone clients 6.x to 9.x read, from what is known
 * without loading the index. One whose store could not be opened is
 * InitializationFailed, not ready. */
static json_t *index_model(const char *host, const struct loom_vindex_desc *d) {
  /* Host is a request header, checked by nobody: one that is not UTF-8
   * would make the whole model (a JSON string) fail to build. */
  if (!host || !loom_utf8_valid(host, strlen(host)))
    host = "localhost";
  char *url = loom_asprintf("http://%s/indexes/%s", host, d->name);
  json_t *spec = json_object_get(d->info, "spec");
  json_t *dp = json_object_get(d->info, "deletion_protection");
  spec = spec ? json_incref(spec)
              : json_pack("{s:{s:s,s:s}}", "serverless", "cloud", "aws",
                          "region", "us-east-1");
  dp = dp ? json_incref(dp) : json_string("disabled");
  bool failed = d->error[0] != '\0';
  json_t *m = json_pack(
      "{s:s,s:s,s:s,s:o,s:{s:b,s:s},s:o,s:{s:s,s:s,s:s}}", "name", d->name,
      "host", url, "vector_type", "dense", "spec", spec, "status", "ready",
      !failed, "state", failed ? "InitializationFailed" : "Ready",
      "deletion_protection", dp, "deployment", "deployment_type", "managed",
      "cloud", "aws", "region", "us-east-1");
  model_shape(m, d);
  json_t *tags = json_object_get(d->info, "tags");
  if (tags)
    json_object_set(m, "tags", tags);
  loom_free(url);
  return m;
}

/*
 * The 2026-07 control plane (clients 9.x) describes the vectors as a schema
 * field instead of top-level dimension/metric: {"schema": {"fields":
 * {"_values": {"type": "dense_vector", "dimension": 3, "metric": "cosine"}}}}
 * (sparse indexes use "_sparse_values"). Returns the field that holds the
 * dimension and metric, `body` itself for the classic shape.
 */
static json_t *vector_field(json_t *body, const char **vector_type) {
  json_t *fields = json_object_get(json_object_get(body, "schema"), "fields");
  if (!json_is_object(fields))
    return body;
  if (json_object_get(fields, "_sparse_values"))
    *vector_type = "sparse";
  json_t *dense = json_object_get(fields, "_values");
  return json_is_object(dense) ? dense : body;
}

/* A control-plane write on a pool thread, and its answer. */
struct cp_job {
  void (*run)(struct cp_job *j);
  const char *host, *name, *ctype, *body; /* borrowed from the request */
  size_t body_len;
  unsigned status;
  json_t *reply;        /* NULL: an empty body */
  const char *gen_code; /* a loom error answer (bad JSON body) */
  char *gen_msg;
};

static void cp_fail(struct cp_job *j, unsigned status, const char *fmt, ...)
    LOOM_PRINTF(3, 4);

static void cp_fail(struct cp_job *j, unsigned status, const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  loom_utf8_vformat(msg, sizeof msg, fmt, ap); /* quotes ids, may be cut */
  va_end(ap);
  json_decref(j->reply);
  j->status = status;
  j->reply = fail_body(status, msg);
}

/* The body as an object; NULL with the answer set. */
static json_t *cp_body(struct cp_job *j) {
  json_t *body = NULL;
  struct loom_error e;
  loom_error_clear(&e);
  unsigned st = loom_http_json_check(j->ctype, j->body, j->body_len, &body, &e);
  if (st == 0 && json_is_object(body))
    return body;
  json_decref(body);
  j->status = st ? st : 400;
  j->gen_code = st == 415 ? "unsupported_media_type" : "invalid_json";
  j->gen_msg =
      loom_strdup(st ? e.message : "request body must be a JSON object");
  return NULL;
}

/* Answers with the index model of `name` (`status` when found). */
static void cp_describe(struct cp_job *j, unsigned status) {
  struct loom_vindex_desc d;
  struct loom_error e;
  if (loom_vindexes_describe(indexes, j->name ? j->name : "", &d, &e)) {
    cp_fail(j, pc_status(e.code), "%s", e.message);
    return;
  }
  d.name = j->name;
  j->status = status;
  j->reply = index_model(j->host, &d);
  json_decref(d.info);
}

static void create_index(struct cp_job *j) {
  json_t *body = cp_body(j);
  if (!body)
    return;
  const char *name = json_string_value(json_object_get(body, "name"));
  const char *vt = json_string_value(json_object_get(body, "vector_type"));
  json_t *field = vector_field(body, &vt);
  json_t *dim = json_object_get(field, "dimension");
  const char *metric = json_string_value(json_object_get(field, "metric"));
  json_t *dp = json_object_get(body, "deletion_protection");
  int m = loom_metric_parse(metric ? metric : "cosine");
  if (!name) {
    cp_fail(j, 400, "name is required");
  } else if (!json_is_integer(dim) || json_integer_value(dim) < 1 ||
             json_integer_value(dim) > LOOM_HNSW_MAX_DIM) {
    cp_fail(j, 400, "dimension must be an integer from 1 to %d",
            LOOM_HNSW_MAX_DIM);
  } else if (m < 0) {
    cp_fail(j, 400, "metric must be cosine, dotproduct or euclidean");
  } else if (vt && strcmp(vt, "dense") != 0) {
    cp_fail(j, 400, "only dense indexes are supported");
  } else if (dp && !(json_is_string(dp) &&
                     (!strcmp(json_string_value(dp), "enabled") ||
                      !strcmp(json_string_value(dp), "disabled")))) {
    cp_fail(j, 400, "deletion_protection must be enabled or disabled");
  } else {
    struct loom_vstore_params p = {.dim = (uint32_t)json_integer_value(dim),
                                   .metric = (enum loom_metric)m};
    json_t *info = json_object();
    if (json_object_get(body, "spec"))
      json_object_set(info, "spec", json_object_get(body, "spec"));
    if (dp)
      json_object_set(info, "deletion_protection", dp);
    if (json_is_object(json_object_get(body, "tags")))
      json_object_set(info, "tags", json_object_get(body, "tags"));
    struct loom_error e;
    if (loom_vindexes_create(indexes, name, &p, info, &e) != LOOM_OK) {
      cp_fail(j, pc_status(e.code), "%s", e.message);
    } else {
      j->name = name; /* borrowed from body, which lives until we return */
      cp_describe(j, 201);
      j->name = NULL;
    }
    json_decref(info);
  }
  json_decref(body);
}

struct list_ctx {
  struct loom_http_req *req;
  json_t *arr;
};

static void list_cb(void *ud, const struct loom_vindex_desc *d) {
  struct list_ctx *c = ud;
  json_t *m = index_model(loom_http_header(c->req, "Host"), d);
  /* Pinecone never lists a dense index without a dimension, and a client
   * whose index model requires one would refuse the whole list: such an
   * index (config.json lost, and no other file records its dimension) is
   * left out here; describe and delete still find it. */
  if (!json_object_get(m, "dimension")) {
    LOOM_WARN("index %s: dimension unknown (%s); left out of the list", d->name,
              d->error);
    json_decref(m);
    return;
  }
  json_array_append_new(c->arr, m);
}

static void list_indexes(struct loom_http_req *req, void *ud) {
  (void)ud;
  struct list_ctx c = {req, json_array()};
  loom_vindexes_each(indexes, list_cb, &c);
  loom_http_respond_json(req, 200, json_pack("{s:o}", "indexes", c.arr));
}

static void describe_index(struct loom_http_req *req, void *ud) {
  (void)ud;
  const char *name = loom_http_param(req, "index");
  struct loom_vindex_desc d;
  struct loom_error e;
  if (loom_vindexes_describe(indexes, name, &d, &e)) {
    pc_fail(req, pc_status(e.code), "%s", e.message);
    return;
  }
  d.name = name;
  loom_http_respond_json(req, 200,
                         index_model(loom_http_header(req, "Host"), &d));
  json_decref(d.info);
}

static void delete_index(struct cp_job *j) {
  const char *name = j->name ? j->name : "";
  struct loom_vindex_desc d;
  struct loom_error e;
  if (loom_vindexes_describe(indexes, name, &d, &e)) {
    cp_fail(j, pc_status(e.code), "%s", e.message);
    return;
  }
  const char *dp =
      json_string_value(json_object_get(d.info, "deletion_protection"));
  bool protect = dp && strcmp(dp, "enabled") == 0;
  json_decref(d.info);
  if (protect) {
    cp_fail(j, 403,
            "deletion protection is enabled for index '%s'; disable it with "
            "configure first",
            name);
    return;
  }
  if (loom_vindexes_delete(indexes, name, &e) != LOOM_OK)
    cp_fail(j, pc_status(e.code), "%s", e.message);
  else
    j->status = 202;
}

static void configure_index(struct cp_job *j) {
  const char *name = j->name ? j->name : "";
  json_t *body = cp_body(j);
  if (!body)
    return;
  json_t *info = json_object();
  json_t *dp = json_object_get(body, "deletion_protection");
  json_t *tags = json_object_get(body, "tags");
  struct loom_error e;
  if (dp &&
      !(json_is_string(dp) && (!strcmp(json_string_value(dp), "enabled") ||
                               !strcmp(json_string_value(dp), "disabled")))) {
    cp_fail(j, 400, "deletion_protection must be enabled or disabled");
    goto out;
  }
  if (dp)
    json_object_set(info, "deletion_protection", dp);
  if (json_is_object(tags))
    json_object_set(info, "tags", tags);
  if (loom_vindexes_configure(indexes, name, info, &e) != LOOM_OK) {
    cp_fail(j, pc_status(e.code), "%s", e.message);
    goto out;
  }
  cp_describe(j, 200);
out:
  json_decref(info);
  json_decref(body);
}

static void cp_work_cb(void *arg) {
  struct cp_job *j = arg;
  j->run(j);
}

static void cp_done_cb(struct loom_http_req *req, void *arg) {
  struct cp_job *j = arg;
  if (req && j->gen_code)
    loom_http_respond_error(req, j->status, j->gen_code, "%s", j->gen_msg);
  else if (req && j->reply)
    loom_http_respond_json(req, j->status, j->reply);
  else if (req)
    loom_http_respond_raw(req, j->status, "application/json", "", 0);
  else
    json_decref(j->reply); /* the server is stopping */
  loom_free(j->gen_msg);
  loom_free(j);
}

struct cp_route {
  const char *method, *pattern;
  void (*run)(struct cp_job *j);
};

/* On the loop thread: captures the request into a job for the pool. */
static void cp_handler(struct loom_http_req *req, void *ud) {
  const struct cp_route *r = ud;
  struct cp_job *j = LOOM_NEW(struct cp_job);
  j->run = r->run;
  j->host = loom_http_header(req, "Host");
  j->host = j->host ? j->host : "localhost";
  j->name = loom_http_param(req, "index");
  j->ctype = loom_http_header(req, "Content-Type");
  j->body = loom_http_body(req, &j->body_len);
  api_offload(req, cp_work_cb, cp_done_cb, j);
}

loom_err loom_api_pinecone_routes(struct loom_http_router *router,
                                  struct loom_app *app, struct loom_error *e) {
  if (!indexes) {
    const char *data = app && app->config && app->config->data_dir
                           ? app->config->data_dir
                           : "./data";
    char *dir = loom_asprintf("%s/indexes", data);
    loom_err err = loom_vindexes_open(dir, &indexes, e);
    loom_free(dir);
    if (err)
      return err;
    loom_vindexes_warm(indexes); /* served while they load */
  }
  static const struct cp_route writes[] = {
      {"POST", "/indexes", create_index},
      {"DELETE", "/indexes/{index}", delete_index},
      {"PATCH", "/indexes/{index}", configure_index},
  };
  for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
    loom_err err =
        loom_http_route_add(router, writes[i].method, writes[i].pattern,
                            cp_handler, (void *)&writes[i], e);
    if (err)
      return err;
  }
  loom_err err =
      loom_http_route_add(router, "GET", "/indexes", list_indexes, NULL, e);
  if (!err)
    err = loom_http_route_add(router, "GET", "/indexes/{index}", describe_index,
                              NULL, e);
  if (err)
    return err;
  return pc_data_routes(router, e);
}

void loom_api_pinecone_shutdown(void) {
  loom_api_documents_shutdown();
  loom_vindexes_close(indexes);
  indexes = NULL;
}
