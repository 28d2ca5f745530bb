/*
 * pinecone_data — Pinecone's data plane under /indexes/{index}: upsert,
 * query (by vector or id), fetch, update, delete (ids / all / filter),
 * describe_index_stats and list (prefix + pagination).
 *
 * Limits, with errors saying which: request body <= 2 MB, <= 1,000 vectors
 * per upsert, topK <= 10,000, metadata <= 40 KB per vector, values must
 * match the index dimension. Metadata values are strings, numbers,
 * booleans or lists of strings. Errors: {"code": <gRPC code>, "message",
 * "details": []} with the HTTP status Pinecone uses.
 *
 * Threads: every handler runs on libuv's worker pool (api_offload), so a
 * big upsert or a slow query never stalls the event loop. What a handler
 * needs from the request (path parameter, query values, body bytes) is
 * captured on the loop thread into a dp_job (borrowed: the request stays
 * valid while suspended); the pool thread pins the index, works,
 * releases it and builds the answer; the loop thread only sends it. Work
 * that needs no index (list's sort) runs after the release. No lock is
 * held across the hop back to the loop, and the pool thread never waits
 * for the loop.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "api/pinecone.h"
#include "core/alloc.h"
#include "core/utf8.h"
#include "stores/vector_indexes.h"

#define PC_MAX_BODY (2u << 20)
#define PC_MAX_UPSERT 1000
#define PC_MAX_TOPK 10000
#define PC_MAX_META (40u << 10)
#define PC_MAX_FETCH 1000

struct dp_route;

/* One request's work on a pool thread, and its answer. */
struct dp_job {
  const struct dp_route *route;
  const char *index; /* path parameter */
  const char *ctype; /* Content-Type header, may be NULL */
  const char *body;  /* borrowed from the suspended request */
  size_t body_len;
  const char *ns, *limit, *prefix, *token; /* query values, may be NULL */
  const char *ids[PC_MAX_FETCH];
  size_t nids;
  unsigned status;
  json_t *reply;        /* Pinecone-shaped answer, or */
  const char *gen_code; /* a loom error answer (bad JSON body) */
  char *gen_msg;
  char **listed; /* list: the page's ids (+1) copied out, and how many */
  size_t nlisted;
  unsigned retry_after; /* with a 503: seconds until the index is retried */
};

static void dp_fail(struct dp_job *j, unsigned status, const char *fmt, ...)
    LOOM_PRINTF(3, 4);

static void dp_fail(struct dp_job *j, unsigned status, const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  loom_utf8_vformat(msg, sizeof msg, fmt, ap); /* quotes ids, may be cut */
  va_end(ap);
  int grpc = status == 404   ? 5  /* NOT_FOUND */
             : status == 409 ? 6  /* ALREADY_EXISTS */
             : status == 503 ? 14 /* UNAVAILABLE */
             : status >= 500 ? 13 /* INTERNAL */
                             : 3; /* INVALID_ARGUMENT */
  if (j->reply)
    json_decref(j->reply);
  j->status = status;
  j->reply =
      json_pack("{s:i,s:s,s:[]}", "code", grpc, "message", msg, "details");
}

static void respond(struct dp_job *j, unsigned status, json_t *reply) {
  if (j->reply)
    json_decref(j->reply);
  j->status = status;
  j->reply = reply;
}

/* The index of the request, pinned (loaded on its first use); answers
 * 404 if absent, 503 saying why if its store cannot be opened (the index
 * exists but cannot serve until its files are fixed), with Retry-After
 * set to the end of loom's backoff window: asking sooner gets the same
 * answer. */
static struct loom_vstore *acquire(struct dp_job *j) {
  struct loom_error e;
  const char *name = j->index ? j->index : "";
  struct loom_vstore *s = loom_vindexes_acquire(pc_indexes(), name, NULL, &e);
  if (s)
    return s;
  dp_fail(j, pc_status(e.code), "%s", e.message);
  struct loom_vindex_desc d;
  if (e.code == LOOM_ERR_UNAVAILABLE &&
      loom_vindexes_describe(pc_indexes(), name, &d, NULL) == LOOM_OK) {
    j->retry_after = (unsigned)((d.retry_in_ms + 999) / 1000);
    json_decref(d.info);
  }
  return NULL;
}

static void release(struct loom_vstore *s) {
  loom_vindexes_release(pc_indexes(), s);
}

/* The body as an object, within the size limit; NULL if answered. */
static json_t *body_object(struct dp_job *j) {
  if (j->body_len > PC_MAX_BODY) {
    dp_fail(j, 400,
            "request size %zu bytes exceeds the maximum of %u "
            "bytes (2 MB)",
            j->body_len, PC_MAX_BODY);
    return NULL;
  }
  json_t *body = NULL;
  struct loom_error e;
  loom_error_clear(&e);
  unsigned status =
      loom_http_json_check(j->ctype, j->body, j->body_len, &body, &e);
  if (status == 0 && json_is_object(body))
    return body;
  json_decref(body);
  j->status = status ? status : 400;
  j->gen_code = status == 415 ? "unsupported_media_type" : "invalid_json";
  j->gen_msg =
      loom_strdup(status ? e.message : "request body must be a JSON object");
  return NULL;
}

static const char *ns_of(const json_t *body) {
  const char *ns = json_string_value(json_object_get(body, "namespace"));
  return ns ? ns : "";
}

/* `arr` as dim floats into `out`; false with a message in `err`. */
static bool parse_values(const json_t *arr, uint32_t dim, float *out, char *err,
                         size_t errlen, const char *what) {
  if (!json_is_array(arr)) {
    snprintf(err, errlen, "%s: values must be an array of numbers", what);
    return false;
  }
  if (json_array_size(arr) != dim) {
    snprintf(err, errlen,
             "%s: vector dimension %zu does not match the dimension of the "
             "index %u",
             what, json_array_size(arr), dim);
    return false;
  }
  for (uint32_t i = 0; i < dim; i++) {
    json_t *v = json_array_get(arr, i);
    if (!json_is_number(v)) {
      snprintf(err, errlen, "%s: value %u is not a number", what, i);
      return false;
    }
    out[i] = (float)json_number_value(v);
  }
  return true;
}

static bool check_metadata(const json_t *meta, char *err, size_t errlen,
                           const char *what) {
  if (!json_is_object(meta)) {
    snprintf(err, errlen, "%s: metadata must be an object", what);
    return false;
  }
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)meta, k, v) {
    bool ok = json_is_string(v) || json_is_number(v) || json_is_boolean(v);
    if (json_is_array(v)) {
      ok = true;
      size_t i;
      json_t *x;
      json_array_foreach(v, i, x) ok = ok && json_is_string(x);
    }
    if (!ok) {
      snprintf(err, errlen,
               "%s: metadata field '%s' must be a string, number, boolean "
               "or list of strings",
               what, k);
      return false;
    }
  }
  char *text = json_dumps(meta, JSON_COMPACT);
  size_t n = text ? strlen(text) : 0;
  free(text);
  if (n > PC_MAX_META) {
    snprintf(err, errlen,
             "%s: metadata size is %zu bytes, over the limit "
             "of %u bytes per vector",
             what, n, PC_MAX_META);
    return false;
  }
  return true;
}

static void upsert(struct dp_job *j, struct loom_vstore *s,
                   const json_t *body) {
  uint32_t dim = loom_vstore_params(s)->dim;
  json_t *vectors = json_object_get(body, "vectors");
  size_t n = json_array_size(vectors);
  char err[640] = "";
  if (!json_is_array(vectors) || n == 0)
    snprintf(err, sizeof err, "vectors must be a non-empty array");
  else if (n > PC_MAX_UPSERT)
    snprintf(err, sizeof err, "%zu vectors in one upsert; the limit is %d", n,
             PC_MAX_UPSERT);
  float *values = loom_malloc(n * dim * sizeof(float) + 1);
  struct loom_vrecord *recs = loom_calloc(n + 1, sizeof *recs);
  for (size_t i = 0; !err[0] && i < n; i++) {
    json_t *v = json_array_get(vectors, i);
    json_t *meta = json_object_get(v, "metadata");
    char what[64];
    snprintf(what, sizeof what, "vectors[%zu]", i);
    recs[i].id = json_string_value(json_object_get(v, "id"));
    if (!recs[i].id) {
      snprintf(err, sizeof err, "%s: id must be a string", what);
      break;
    }
    json_t *sp = json_object_get(v, "sparseValues");
    if (sp && !json_is_null(sp)) {
      snprintf(err, sizeof err, "%s: sparse values are not supported", what);
      break;
    }
    if (!parse_values(json_object_get(v, "values"), dim, values + i * dim, err,
                      sizeof err, what))
      break;
    recs[i].values = values + i * dim;
    if (meta && !json_is_null(meta)) {
      if (!check_metadata(meta, err, sizeof err, what))
        break;
      recs[i].metadata = meta;
    }
  }
  struct loom_error e;
  if (err[0])
    dp_fail(j, 400, "%s", err);
  else if (loom_vstore_upsert(s, ns_of(body), recs, n, &e) != LOOM_OK)
    dp_fail(j, pc_status(e.code), "%s", e.message);
  else
    respond(j, 200, json_pack("{s:i}", "upsertedCount", (int)n));
  loom_free(values);
  loom_free(recs);
}

struct match_ctx {
  json_t *matches;
  enum loom_metric metric;
  bool values, metadata;
  uint32_t dim;
};

static json_t *floats(const float *v, uint32_t dim) {
  json_t *a = json_array();
  for (uint32_t i = 0; i < dim; i++)
    json_array_append_new(a, json_real(v[i]));
  return a;
}

static void match_cb(void *ud, const char *id, float d, const float *values,
                     const json_t *meta) {
  struct match_ctx *c = ud;
  json_t *m = json_pack("{s:s,s:f}", "id", id, "score",
                        (double)loom_hnsw_score(c->metric, d));
  json_object_set_new(m, "values",
                      c->values ? floats(values, c->dim) : json_array());
  if (c->metadata && meta)
    json_object_set_new(m, "metadata", json_deep_copy(meta));
  json_array_append_new(c->matches, m);
}

static void copy_cb(void *ud, const char *id, float d, const float *values,
                    const json_t *meta) {
  (void)id, (void)d, (void)meta;
  struct match_ctx *c = ud;
  memcpy((float *)c->matches, values, c->dim * sizeof(float));
}

static void query(struct dp_job *j, struct loom_vstore *s, const json_t *body) {
  const struct loom_vstore_params *p = loom_vstore_params(s);
  json_t *topk = json_object_get(body, "topK");
  json_t *vec = json_object_get(body, "vector");
  const char *id = json_string_value(json_object_get(body, "id"));
  json_t *fj = json_object_get(body, "filter");
  const char *ns = ns_of(body);
  float *q = loom_malloc(p->dim * sizeof(float));
  struct loom_filter *filter = NULL;
  struct loom_error e;
  char err[640] = "";
  if (!json_is_integer(topk) || json_integer_value(topk) < 1 ||
      json_integer_value(topk) > PC_MAX_TOPK)
    snprintf(err, sizeof err, "topK must be an integer from 1 to %d",
             PC_MAX_TOPK);
  else if ((vec && !json_is_null(vec)) == (id != NULL))
    snprintf(err, sizeof err, "give exactly one of vector and id");
  else if (vec && !json_is_null(vec))
    parse_values(vec, p->dim, q, err, sizeof err, "vector");
  if (!err[0] && fj && !json_is_null(fj) &&
      loom_filter_compile(fj, &filter, &e) != LOOM_OK)
    snprintf(err, sizeof err, "filter: %s", e.message);
  if (err[0]) {
    dp_fail(j, 400, "%s", err);
    goto out;
  }
  struct match_ctx c = {json_array(), p->metric,
                        json_is_true(json_object_get(body, "includeValues")),
                        json_is_true(json_object_get(body, "includeMetadata")),
                        p->dim};
  bool have = true;
  if (id) {
    struct match_ctx cp = {(json_t *)q, p->metric, false, false, p->dim};
    have = loom_vstore_fetch(s, ns, id, copy_cb, &cp);
  }
  if (have) {
    size_t k = (size_t)json_integer_value(topk);
    struct loom_hnsw_query hq = {
        .vector = q, .k = k, .ef = k < 100 ? 100 : k, .where = filter};
    loom_vstore_query(s, ns, &hq, match_cb, &c);
  }
  respond(j, 200,
          json_pack("{s:[],s:o,s:s,s:{s:i}}", "results", "matches", c.matches,
                    "namespace", ns, "usage", "readUnits", 5));
out:
  loom_filter_free(filter);
  loom_free(q);
}

static void fetch_cb(void *ud, const char *id, float d, const float *values,
                     const json_t *meta) {
  (void)d;
  struct match_ctx *c = ud;
  json_t *v =
      json_pack("{s:s,s:o}", "id", id, "values", floats(values, c->dim));
  if (meta)
    json_object_set_new(v, "metadata", json_deep_copy(meta));
  json_object_set_new(c->matches, id, v);
}

static void fetch(struct dp_job *j, struct loom_vstore *s, const json_t *body) {
  (void)body;
  const char **ids = j->ids;
  size_t n = j->nids;
  const char *ns = j->ns ? j->ns : "";
  if (n == 0 || n > PC_MAX_FETCH) {
    dp_fail(j, 400, "give 1 to %d ids (?ids=a&ids=b)", PC_MAX_FETCH);
  } else {
    struct match_ctx c = {json_object(), 0, true, true,
                          loom_vstore_params(s)->dim};
    for (size_t i = 0; i < n; i++)
      loom_vstore_fetch(s, ns, ids[i], fetch_cb, &c);
    respond(j, 200,
            json_pack("{s:o,s:s,s:{s:i}}", "vectors", c.matches, "namespace",
                      ns, "usage", "readUnits", 1));
  }
}

static void update(struct dp_job *j, struct loom_vstore *s,
                   const json_t *body) {
  uint32_t dim = loom_vstore_params(s)->dim;
  const char *id = json_string_value(json_object_get(body, "id"));
  json_t *vals = json_object_get(body, "values");
  json_t *meta = json_object_get(body, "setMetadata");
  float *v = loom_malloc(dim * sizeof(float));
  char err[640] = "";
  struct loom_error e;
  if (!id)
    snprintf(err, sizeof err, "id must be a string");
  else if (vals && !json_is_null(vals))
    parse_values(vals, dim, v, err, sizeof err, "values");
  if (!err[0] && meta && !json_is_null(meta))
    check_metadata(meta, err, sizeof err, "setMetadata");
  if (err[0])
    dp_fail(j, 400, "%s", err);
  else if (loom_vstore_update(
               s, ns_of(body), id, vals && !json_is_null(vals) ? v : NULL,
               meta && !json_is_null(meta) ? meta : NULL, &e) != LOOM_OK)
    dp_fail(j, pc_status(e.code), "%s", e.message);
  else
    respond(j, 200, json_object());
  loom_free(v);
}

static void delete_vectors(struct dp_job *j, struct loom_vstore *s,
                           const json_t *body) {
  json_t *ids = json_object_get(body, "ids");
  json_t *fj = json_object_get(body, "filter");
  bool all = json_is_true(json_object_get(body, "deleteAll"));
  int given = (ids != NULL && !json_is_null(ids)) + all +
              (fj != NULL && !json_is_null(fj));
  const char *ns = ns_of(body);
  struct loom_error e;
  loom_err rc = LOOM_OK;
  if (given != 1) {
    dp_fail(j, 400, "give exactly one of ids, deleteAll and filter");
    return;
  }
  if (all) {
    rc = loom_vstore_delete_all(s, ns, &e);
  } else if (fj && !json_is_null(fj)) {
    struct loom_filter *f;
    if (loom_filter_compile(fj, &f, &e) != LOOM_OK) {
      dp_fail(j, 400, "filter: %s", e.message);
      return;
    }
    rc = loom_vstore_delete_where(s, ns, f, NULL, &e);
    loom_filter_free(f);
  } else {
    size_t n = json_array_size(ids);
    const char **v = loom_calloc(n + 1, sizeof *v);
    bool ok = json_is_array(ids) && n <= PC_MAX_FETCH;
    for (size_t i = 0; ok && i < n; i++)
      ok = (v[i] = json_string_value(json_array_get(ids, i))) != NULL;
    if (!ok) {
      loom_free(v);
      dp_fail(j, 400, "ids must be an array of at most %d strings",
              PC_MAX_FETCH);
      return;
    }
    rc = loom_vstore_delete(s, ns, v, n, &e);
    loom_free(v);
  }
  if (rc)
    dp_fail(j, pc_status(e.code), "%s", e.message);
  else
    respond(j, 200, json_object());
}

struct stats_ctx {
  json_t *namespaces;
  struct loom_vstore *s;
  struct loom_filter *filter;
  size_t total;
};

static void ns_cb(void *ud, const char *ns, size_t count) {
  struct stats_ctx *c = ud;
  if (c->filter)
    count = loom_vstore_each_where(c->s, ns, c->filter, NULL, NULL);
  c->total += count;
  json_object_set_new(c->namespaces, ns[0] ? ns : "__default__",
                      json_pack("{s:I}", "vectorCount", (json_int_t)count));
}

static void stats(struct dp_job *j, struct loom_vstore *s, const json_t *body) {
  struct stats_ctx c = {json_object(), s, NULL, 0};
  json_t *fj = json_object_get(body, "filter");
  struct loom_error e;
  if (fj && !json_is_null(fj) &&
      loom_filter_compile(fj, &c.filter, &e) != LOOM_OK) {
    dp_fail(j, 400, "filter: %s", e.message);
    json_decref(c.namespaces);
  } else {
    loom_vstore_namespaces(s, ns_cb, &c);
    const struct loom_vstore_params *p = loom_vstore_params(s);
    respond(j, 200,
            json_pack("{s:o,s:i,s:f,s:I,s:s,s:s}", "namespaces", c.namespaces,
                      "dimension", (int)p->dim, "indexFullness", 0.0,
                      "totalVectorCount", (json_int_t)c.total, "metric",
                      loom_metric_name(p->metric), "vectorType", "dense"));
  }
  loom_filter_free(c.filter);
}

static int cmp_ids(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* With the index pinned: copies the limit + 1 smallest ids after the
 * pagination token that start with the prefix (one page, and whether
 * there is another), not every match; the index's lock is held only
 * while choosing and copying them. */
static void list_ids(struct dp_job *j, struct loom_vstore *s,
                     const json_t *body) {
  (void)body;
  long limit = j->limit ? strtol(j->limit, NULL, 10) : 100;
  if (limit < 1 || limit > 100) {
    dp_fail(j, 400, "limit must be from 1 to 100");
    return;
  }
  j->listed = loom_vstore_ids(s, j->ns ? j->ns : "", j->prefix, j->token,
                              (size_t)limit + 1, &j->nlisted);
}

/* With the index released: sorts the copied ids and answers the page
 * (the limit + 1st, when there is one, only says another page follows). */
static void list_answer(struct dp_job *j) {
  char **ids = j->listed;
  size_t n = j->nlisted;
  long limit = j->limit ? strtol(j->limit, NULL, 10) : 100;
  if (j->gen_code || j->reply) /* already answered (an error) */
    goto out;
  if (n)
    qsort(ids, n, sizeof *ids, cmp_ids);
  json_t *vectors = json_array();
  size_t take = n < (size_t)limit ? n : (size_t)limit;
  for (size_t i = 0; i < take; i++)
    json_array_append_new(vectors, json_pack("{s:s}", "id", ids[i]));
  json_t *out = json_pack("{s:o,s:s,s:{s:i}}", "vectors", vectors, "namespace",
                          j->ns ? j->ns : "", "usage", "readUnits", 1);
  if (take < n)
    json_object_set_new(out, "pagination",
                        json_pack("{s:s}", "next", ids[take - 1]));
  respond(j, 200, out);
out:
  for (size_t i = 0; i < n; i++)
    loom_free(ids[i]);
  loom_free(ids);
  j->listed = NULL;
}

struct dp_route {
  const char *method, *pattern;
  bool body; /* the handler reads a JSON object body */
  void (*run)(struct dp_job *j, struct loom_vstore *s, const json_t *body);
  /* May be NULL: the rest of the work, once the index is released. */
  void (*after)(struct dp_job *j);
};

/* What every handler starts and ends with: the body parsed (when its
 * route takes one), the index pinned; both answer the errors. The
 * route's `after` runs once the index is released. */
static void job_work_cb(void *arg) {
  struct dp_job *j = arg;
  json_t *body = NULL;
  if (j->route->body && !(body = body_object(j)))
    return;
  struct loom_vstore *s = acquire(j);
  if (s) {
    j->route->run(j, s, body);
    release(s);
    if (j->route->after)
      j->route->after(j);
  }
  json_decref(body);
}

static void job_done_cb(struct loom_http_req *req, void *arg) {
  struct dp_job *j = arg;
  if (req && j->status == 503) {
    char secs[16];
    snprintf(secs, sizeof secs, "%u", j->retry_after ? j->retry_after : 1);
    loom_http_header_add(req, "Retry-After", secs);
  }
  if (req && j->gen_code)
    loom_http_respond_error(req, j->status, j->gen_code, "%s", j->gen_msg);
  else if (req && j->reply)
    loom_http_respond_json(req, j->status, j->reply);
  else if (j->reply) /* the server is stopping: nobody to answer */
    json_decref(j->reply);
  if (req && !j->gen_code && !j->reply)
    loom_http_respond_error(req, 500, "internal", "no answer was built");
  loom_free(j->gen_msg);
  loom_free(j);
}

/* On the loop thread: captures the request into a job for the pool. */
static void dp_handler(struct loom_http_req *req, void *ud) {
  const struct dp_route *r = ud;
  struct dp_job *j = LOOM_NEW(struct dp_job);
  j->route = r;
  j->index = loom_http_param(req, "index");
  j->ctype = loom_http_header(req, "Content-Type");
  j->body = loom_http_body(req, &j->body_len);
  j->ns = loom_http_query(req, "namespace");
  j->limit = loom_http_query(req, "limit");
  j->prefix = loom_http_query(req, "prefix");
  j->token = loom_http_query(req, "paginationToken");
  j->nids = loom_http_query_values(req, "ids", j->ids, PC_MAX_FETCH);
  api_offload(req, job_work_cb, job_done_cb, j);
}

loom_err pc_data_routes(struct loom_http_router *router, struct loom_error *e) {
  static const struct dp_route routes[] = {
      {"POST", "/indexes/{index}/vectors/upsert", true, upsert, NULL},
      {"POST", "/indexes/{index}/query", true, query, NULL},
      {"GET", "/indexes/{index}/vectors/fetch", false, fetch, NULL},
      {"POST", "/indexes/{index}/vectors/update", true, update, NULL},
      {"POST", "/indexes/{index}/vectors/delete", true, delete_vectors, NULL},
      {"POST", "/indexes/{index}/describe_index_stats", true, stats, NULL},
      {"GET", "/indexes/{index}/describe_index_stats", true, stats, NULL},
      {"GET", "/indexes/{index}/vectors/list", false, list_ids, list_answer},
  };
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    loom_err err =
        loom_http_route_add(router, routes[i].method, routes[i].pattern,
                            dp_handler, (void *)&routes[i], e);
    if (err)
      return err;
  }
  return LOOM_OK;
}
