/*
 * pinecone_client — Pinecone's REST API over a blocking libcurl handle
 * (see pinecone_client.h).
 *
 * Every request is JSON in, JSON out, with Api-Key and
 * X-Pinecone-API-Version headers. HTTP errors are mapped to loom errors
 * with Pinecone's message ("error.message" on the control plane,
 * "message" on the data plane) so a user sees what the service said.
 */
#include "stores/pinecone_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"

#define MAX_RESPONSE (16u << 20)
#define API_VERSION "2025-01"

struct loom_pinecone {
  CURL *curl;
  pthread_mutex_t lock; /* one request at a time on the handle */
  char *host;           /* data plane base URL, no trailing slash */
  char *key_header;     /* "Api-Key: ..." */
  uint32_t dim;
  enum loom_metric metric;
};

static size_t write_cb(char *data, size_t size, size_t n, void *ud) {
  struct loom_buf *b = ud;
  return loom_buf_append(b, data, size * n) == LOOM_OK ? size * n : 0;
}

static loom_err status_error(long status, const json_t *body, const char *url,
                             struct loom_error *e) {
  const json_t *err = json_object_get(body, "error");
  const char *msg = json_string_value(json_object_get(err, "message"));
  if (!msg)
    msg = json_string_value(json_object_get(body, "message"));
  if (!msg)
    msg = json_string_value(err);
  loom_err code = status == 404                    ? LOOM_ERR_NOT_FOUND
                  : status == 401                  ? LOOM_ERR_UNAUTHORIZED
                  : status == 403                  ? LOOM_ERR_FORBIDDEN
                  : status == 400 || status == 422 ? LOOM_ERR_INVALID
                                                   : LOOM_ERR_UPSTREAM;
  return loom_error_set(e, code, "pinecone %s: HTTP %ld: %s", url, status,
                        msg ? msg : "no message");
}

/* Sends `body` (NULL: GET) to `url`; `*out` is the parsed answer. */
static loom_err request(struct loom_pinecone *p, const char *url,
                        const json_t *body, json_t **out,
                        struct loom_error *e) {
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  struct loom_buf resp;
  loom_buf_init(&resp, MAX_RESPONSE);
  struct curl_slist *h = NULL;
  h = curl_slist_append(h, p->key_header);
  h = curl_slist_append(h, "X-Pinecone-API-Version: " API_VERSION);
  h = curl_slist_append(h, "Content-Type: application/json");
  h = curl_slist_append(h, "Accept: application/json");
  pthread_mutex_lock(&p->lock);
  CURL *c = p->curl;
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  /* The data plane URL comes from the server's answer: never file:// etc. */
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)LOOM_PINECONE_TIMEOUT_MS);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
  if (text)
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  pthread_mutex_unlock(&p->lock);
  curl_slist_free_all(h);
  free(text);
  loom_err err = LOOM_OK;
  size_t len = 0;
  char *raw = loom_buf_take(&resp, &len);
  json_t *ans = raw && len ? json_loadb(raw, len, 0, NULL) : NULL;
  if (rc != CURLE_OK)
    err = loom_error_set(e,
                         rc == CURLE_OPERATION_TIMEDOUT ? LOOM_ERR_TIMEOUT
                                                        : LOOM_ERR_UPSTREAM,
                         "pinecone %s: %s", url, curl_easy_strerror(rc));
  else if (status < 200 || status >= 300)
    err = status_error(status, ans, url, e);
  else if (!ans)
    err = loom_error_set(e, LOOM_ERR_UPSTREAM,
                         "pinecone %s: the answer is not JSON", url);
  loom_free(raw);
  if (err)
    json_decref(ans);
  else
    *out = ans;
  return err;
}

static bool parse_metric(const char *s, enum loom_metric *m) {
  if (s && !strcmp(s, "cosine"))
    *m = LOOM_METRIC_COSINE;
  else if (s && !strcmp(s, "dotproduct"))
    *m = LOOM_METRIC_DOT;
  else if (s && !strcmp(s, "euclidean"))
    *m = LOOM_METRIC_EUCLIDEAN;
  else
    return false;
  return true;
}

loom_err loom_pinecone_open(const char *base_url, const char *api_key,
                            const char *name, struct loom_pinecone **out,
                            struct loom_error *e) {
  struct loom_pinecone *p = LOOM_NEW(struct loom_pinecone);
  p->curl = curl_easy_init();
  pthread_mutex_init(&p->lock, NULL);
  p->key_header = loom_asprintf("Api-Key: %s", api_key ? api_key : "");
  size_t bl = strlen(base_url);
  while (bl && base_url[bl - 1] == '/')
    bl--;
  char *url = loom_asprintf("%.*s/indexes/%s", (int)bl, base_url, name);
  json_t *d = NULL;
  loom_err err = request(p, url, NULL, &d, e);
  loom_free(url);
  if (err)
    goto out;
  const char *host = json_string_value(json_object_get(d, "host"));
  json_int_t dim = json_integer_value(json_object_get(d, "dimension"));
  const char *scheme = host ? strstr(host, "://") : NULL;
  if (!host || dim <= 0 || dim > LOOM_HNSW_MAX_DIM ||
      !parse_metric(json_string_value(json_object_get(d, "metric")),
                    &p->metric)) {
    err = loom_error_set(e, LOOM_ERR_UPSTREAM,
                         "pinecone index '%s': describe gave no host, "
                         "dimension (1 to %d) or known metric",
                         name, LOOM_HNSW_MAX_DIM);
    goto out;
  }
  if (scheme && strncasecmp(host, "http://", 7) != 0 &&
      strncasecmp(host, "https://", 8) != 0) {
    err = loom_error_set(e, LOOM_ERR_UPSTREAM,
                         "pinecone index '%s': describe gave host '%s', "
                         "not an http(s) address",
                         name, host);
    goto out;
  }
  p->dim = (uint32_t)dim;
  size_t hl = strlen(host);
  while (hl && host[hl - 1] == '/')
    hl--;
  p->host = strstr(host, "://") ? loom_asprintf("%.*s", (int)hl, host)
                                : loom_asprintf("https://%.*s", (int)hl, host);
out:
  json_decref(d);
  if (err) {
    loom_pinecone_close(p);
    return err;
  }
  *out = p;
  return LOOM_OK;
}

void loom_pinecone_close(struct loom_pinecone *p) {
  if (!p)
    return;
  curl_easy_cleanup(p->curl);
  pthread_mutex_destroy(&p->lock);
  loom_free(p->host);
  loom_free(p->key_header);
  loom_free(p);
}

uint32_t loom_pinecone_dim(const struct loom_pinecone *p) { return p->dim; }
enum loom_metric loom_pinecone_metric(const struct loom_pinecone *p) {
  return p->metric;
}

static json_t *values_json(const float *v, uint32_t dim) {
  json_t *a = json_array();
  for (uint32_t i = 0; i < dim; i++)
    json_array_append_new(a, json_real(v[i]));
  return a;
}

/* POSTs `body` (stolen) to host + path, dropping the answer. */
static loom_err post(struct loom_pinecone *p, const char *path, json_t *body,
                     json_t **answer, struct loom_error *e) {
  char *url = loom_asprintf("%s%s", p->host, path);
  json_t *ans = NULL;
  loom_err err = request(p, url, body, &ans, e);
  loom_free(url);
  json_decref(body);
  if (answer && !err)
    *answer = ans;
  else
    json_decref(ans);
  return err;
}

loom_err loom_pinecone_upsert(struct loom_pinecone *p, const char *ns,
                              const struct loom_vrecord *recs, size_t n,
                              struct loom_error *e) {
  loom_err err = LOOM_OK;
  for (size_t at = 0; at < n && !err; at += LOOM_PINECONE_UPSERT_BATCH) {
    json_t *vs = json_array();
    for (size_t i = at; i < n && i < at + LOOM_PINECONE_UPSERT_BATCH; i++) {
      json_t *v = json_pack("{s:s, s:o}", "id", recs[i].id, "values",
                            values_json(recs[i].values, p->dim));
      if (recs[i].metadata)
        json_object_set(v, "metadata", recs[i].metadata);
      json_array_append_new(vs, v);
    }
    err =
        post(p, "/vectors/upsert",
             json_pack("{s:o, s:s}", "vectors", vs, "namespace", ns ? ns : ""),
             NULL, e);
  }
  return err;
}

loom_err loom_pinecone_delete(struct loom_pinecone *p, const char *ns,
                              const char *const *ids, size_t n,
                              struct loom_error *e) {
  loom_err err = LOOM_OK;
  for (size_t at = 0; at < n && !err; at += LOOM_PINECONE_UPSERT_BATCH) {
    json_t *a = json_array();
    for (size_t i = at; i < n && i < at + LOOM_PINECONE_UPSERT_BATCH; i++)
      json_array_append_new(a, json_string(ids[i]));
    err = post(p, "/vectors/delete",
               json_pack("{s:o, s:s}", "ids", a, "namespace", ns ? ns : ""),
               NULL, e);
  }
  return err;
}

/* The first `k` well-formed matches of a query answer (a server may send
 * more than asked, or anything): {"id": string, "score": number or 0,
 * "metadata": object, when one came}. */
static json_t *clean_matches(const json_t *in, size_t k) {
  json_t *out = json_array();
  size_t i;
  json_t *m;
  json_array_foreach(in, i, m) {
    if (json_array_size(out) == k)
      break;
    json_t *id = json_object_get(m, "id");
    json_t *meta = json_object_get(m, "metadata");
    if (!json_is_string(id))
      continue;
    json_t *c = json_pack("{s:O, s:f}", "id", id, "score",
                          json_number_value(json_object_get(m, "score")));
    if (json_is_object(meta))
      json_object_set(c, "metadata", meta);
    json_array_append_new(out, c);
  }
  return out;
}

loom_err loom_pinecone_query(struct loom_pinecone *p, const char *ns,
                             const float *vector, size_t k,
                             const json_t *filter, json_t **matches,
                             struct loom_error *e) {
  json_t *body = json_pack("{s:o, s:I, s:b, s:b, s:s}", "vector",
                           values_json(vector, p->dim), "topK", (json_int_t)k,
                           "includeMetadata", 1, "includeValues", 0,
                           "namespace", ns ? ns : "");
  if (filter)
    json_object_set(body, "filter", (json_t *)filter);
  json_t *ans = NULL;
  loom_err err = post(p, "/query", body, &ans, e);
  if (err)
    return err;
  *matches = clean_matches(json_object_get(ans, "matches"), k);
  json_decref(ans);
  return LOOM_OK;
}
