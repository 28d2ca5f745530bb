/*
 * util — helpers shared by the LangGraph-compatible routes: error answers
 * in the shape LangGraph clients print, typed validation of optional body
 * fields (every failure names the field), the offload of blocking work to
 * the pool, and UUIDv5 for the system assistants.
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/internal.h"
#include "core/alloc.h"
#include "core/utf8.h"
#include "core/clock.h"
#include "core/log.h"
#include "io/loop.h"
#include "io/pool.h"

void api_fail(struct loom_http_req *req, unsigned status, const char *code,
              const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  /* It quotes ids from the path: the cap can cut a character in half, and
   * json_pack then builds nothing (the answer was a bare null). */
  loom_utf8_vformat(msg, sizeof msg, fmt, ap);
  va_end(ap);
  loom_http_respond_json(req, status,
                         json_pack("{s:s, s:s, s:s}", "error", code, "message",
                                   msg, "detail", msg));
}

void api_fail_err(struct loom_http_req *req, const struct loom_error *e) {
  unsigned status = loom_http_status_for(e->code);
  const char *code =
      e->code == LOOM_ERR_INVALID ? "invalid_request" : loom_err_code(e->code);
  api_fail(req, status, code, "%s",
           e->message[0] ? e->message : loom_strerror(e->code));
}

void api_not_found(struct loom_http_req *req, const char *what,
                   const char *id) {
  api_fail(req, 404, "not_found", "%s '%s' not found", what, id ? id : "");
}

loom_err api_invalid(struct loom_error *e, const char *field,
                     const char *what) {
  return loom_error_set(e, LOOM_ERR_INVALID, "%s: %s", field, what);
}

json_t *api_now(void) {
  /* A run asks several times within the same millisecond: format once. */
  static _Thread_local uint64_t last_ms;
  static _Thread_local char text[33];
  uint64_t ms = loom_clock_wall_ms();
  if (ms != last_ms || !text[0]) {
    loom_clock_format_iso(ms, text);
    last_ms = ms;
  }
  return json_string(text);
}

static const json_t *field(const json_t *body, const char *key) {
  const json_t *v = json_object_get(body, key);
  return json_is_null(v) ? NULL : v;
}

loom_err api_opt_object(const json_t *body, const char *key, json_t **out,
                        struct loom_error *e) {
  const json_t *v = field(body, key);
  if (!v)
    return LOOM_OK;
  if (!json_is_object(v))
    return api_invalid(e, key, "must be an object");
  *out = (json_t *)v;
  return LOOM_OK;
}

loom_err api_opt_string(const json_t *body, const char *key, const char **out,
                        struct loom_error *e) {
  const json_t *v = field(body, key);
  if (!v)
    return LOOM_OK;
  if (!json_is_string(v))
    return api_invalid(e, key, "must be a string");
  *out = json_string_value(v);
  return LOOM_OK;
}

loom_err api_opt_int(const json_t *body, const char *key, long long min,
                     long long max, long long *out, struct loom_error *e) {
  const json_t *v = field(body, key);
  if (!v)
    return LOOM_OK;
  double d = json_is_number(v) ? json_number_value(v) : 0.5;
  if (!json_is_number(v) || d != (double)(long long)d)
    return api_invalid(e, key, "must be an integer");
  if ((long long)d < min || (long long)d > max)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "%s: must be between %lld and %lld", key, min, max);
  *out = (long long)d;
  return LOOM_OK;
}

loom_err api_opt_enum(const json_t *body, const char *key,
                      const char *const *choices, const char **out,
                      struct loom_error *e) {
  const char *s = NULL;
  if (api_opt_string(body, key, &s, e))
    return LOOM_ERR_INVALID;
  if (!s)
    return LOOM_OK;
  char list[256] = "";
  for (size_t i = 0; choices[i]; i++) {
    if (!strcmp(s, choices[i])) {
      *out = choices[i];
      return LOOM_OK;
    }
    size_t n = strlen(list);
    snprintf(list + n, sizeof list - n, "%s'%s'", i ? ", " : "", choices[i]);
  }
  return loom_error_set(e, LOOM_ERR_INVALID, "%s: must be one of %s (got '%s')",
                        key, list, s);
}

loom_err api_opt_strings(const json_t *body, const char *key, json_t **out,
                         struct loom_error *e) {
  const json_t *v = field(body, key);
  if (!v)
    return LOOM_OK;
  if (json_is_string(v)) {
    *out = json_pack("[O]", v);
    return LOOM_OK;
  }
  if (!json_is_array(v))
    return api_invalid(e, key, "must be a string or a list of strings");
  size_t i;
  const json_t *item;
  json_array_foreach(v, i, item) {
    if (!json_is_string(item))
      return api_invalid(e, key, "must be a string or a list of strings");
  }
  *out = json_deep_copy(v);
  return LOOM_OK;
}

loom_err api_query_int(struct loom_http_req *req, const char *name,
                       long long def, long long min, long long max,
                       long long *out, struct loom_error *e) {
  const char *s = loom_http_query(req, name);
  *out = def;
  if (!s || !*s)
    return LOOM_OK;
  char *end = NULL;
  long long v = strtoll(s, &end, 10);
  if (*end || v < min || v > max)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "%s: must be an integer between %lld and %lld", name,
                          min, max);
  *out = v;
  return LOOM_OK;
}

bool api_json_contains(const json_t *obj, const json_t *filter) {
  if (!filter || !json_is_object(filter))
    return true;
  const char *k;
  const json_t *want;
  json_object_foreach((json_t *)filter, k, want) {
    const json_t *have = json_object_get(obj, k);
    if (!have)
      return false;
    if (json_is_object(want) && json_is_object(have)) {
      if (!api_json_contains(have, want))
        return false;
    } else if (!json_equal(have, want)) {
      return false;
    }
  }
  return true;
}

json_t *api_checkpoint_ref(const char *thread_id, const char *checkpoint_id) {
  if (!checkpoint_id || !*checkpoint_id)
    return json_null();
  return json_pack("{s:s, s:s, s:s, s:n}", "thread_id", thread_id,
                   "checkpoint_ns", "", "checkpoint_id", checkpoint_id,
                   "checkpoint_map");
}

/* ---- offload ---- */

struct offload {
  struct loom_http_req *req;
  void (*work)(void *arg);
  void (*done)(struct loom_http_req *req, void *arg);
  void *arg;
};

static void offload_work_cb(void *arg) {
  struct offload *o = arg;
  o->work(o->arg);
}

static void offload_after_cb(struct loom_loop *loop, void *arg,
                             loom_err status) {
  (void)loop;
  struct offload *o = arg;
  if (status == LOOM_OK)
    o->done(o->req, o->arg);
  else
    /* The loop is stopping; the server answers 503 itself at shutdown. */
    o->done(NULL, o->arg);
  loom_free(o);
}

void api_offload(struct loom_http_req *req, void (*work)(void *arg),
                 void (*done)(struct loom_http_req *req, void *arg),
                 void *arg) {
  api_offload_to(req, NULL, work, done, arg);
}

void api_offload_to(struct loom_http_req *req, struct loom_pool *pool,
                    void (*work)(void *arg),
                    void (*done)(struct loom_http_req *req, void *arg),
                    void *arg) {
  struct offload *o = LOOM_NEW(struct offload);
  *o = (struct offload){req, work, done, arg};
  loom_http_suspend(req);
  struct loom_loop *loop = loom_http_loop(req);
  if ((pool ? loom_pool_work(pool, loop, offload_work_cb, offload_after_cb, o)
            : loom_loop_work(loop, offload_work_cb, offload_after_cb, o)) !=
      LOOM_OK) {
    loom_free(o);
    api_fail(req, 503, "unavailable", "the server is stopping");
    done(NULL, arg);
  }
}

/* ---- UUIDv5 ---- */

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return 0;
}

void api_uuid5(const char *ns, const char *name, char out[LOOM_ID_LEN + 1]) {
  unsigned char nsb[16] = {0};
  for (size_t i = 0, j = 0; ns[i] && j < 32; i++) {
    if (ns[i] == '-')
      continue;
    nsb[j / 2] |= (unsigned char)(hexval(ns[i]) << ((j % 2) ? 0 : 4));
    j++;
  }
  size_t nlen = strlen(name);
  unsigned char *msg = loom_malloc(sizeof nsb + nlen);
  memcpy(msg, nsb, sizeof nsb);
  memcpy(msg + sizeof nsb, name, nlen);
  unsigned char h[EVP_MAX_MD_SIZE];
  unsigned int hlen = 0;
  EVP_Digest(msg, sizeof nsb + nlen, h, &hlen, EVP_sha1(), NULL);
  loom_free(msg);
  h[6] = (unsigned char)((h[6] & 0x0f) | 0x50);
  h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
  snprintf(
      out, LOOM_ID_LEN + 1,
      "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
      h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11],
      h[12], h[13], h[14], h[15]);
}

/* ---- auth placeholder ---- */

const char *api_request_key(const struct loom_http_req *req) {
  const char *key = loom_http_header(req, "x-api-key");
  return key && *key ? key : NULL;
}

/* "api-key:" and the first 16 hex digits of the key's SHA-256: who sent
 * it, without keeping the secret anywhere. */
static void key_identity(const char *key, char out[32]) {
  unsigned char h[EVP_MAX_MD_SIZE];
  unsigned int hlen = 0;
  EVP_Digest(key, strlen(key), h, &hlen, EVP_sha256(), NULL);
  snprintf(out, 32, "api-key:%02x%02x%02x%02x%02x%02x%02x%02x", h[0], h[1],
           h[2], h[3], h[4], h[5], h[6], h[7]);
}

/* A header LangGraph's server copies into a run's configurable: x-*
 * and user-agent, but not those that carry secrets or tenancy. What it
 * copies is kept in checkpoint metadata and shown to anyone reading the
 * thread, so besides loom's own key and tenant headers, any name that
 * looks like a credential stays out: proxies in front of loom add
 * x-forwarded-access-token, x-amzn-oidc-data, x-goog-iap-jwt-assertion. */
static bool copied_header(const char *name) {
  static const char *const never[] = {"x-api-key", "x-tenant-id",
                                      "x-service-key"};
  static const char *const secretish[] = {
      "token", "auth", "key",       "secret",   "cookie",  "assertion",
      "oidc",  "jwt",  "signature", "password", "session", "credential"};
  if (!strcasecmp(name, "user-agent"))
    return true;
  if (strncasecmp(name, "x-", 2))
    return false;
  for (size_t i = 0; i < sizeof never / sizeof *never; i++)
    if (!strcasecmp(name, never[i]))
      return false;
  for (size_t i = 0; i < sizeof secretish / sizeof *secretish; i++)
    if (strcasestr(name, secretish[i]))
      return false;
  return true;
}

static bool copy_header_cb(const char *name, const char *value, void *arg) {
  if (!copied_header(name))
    return true;
  char *key = loom_strdup(name), *text = loom_strdup(value);
  for (char *p = key; *p; p++)
    *p = (char)tolower((unsigned char)*p);
  loom_utf8_scrub(key, strlen(key)); /* a header need not be UTF-8 */
  loom_utf8_scrub(text, strlen(text));
  json_object_set_new(arg, key, json_string(text));
  loom_free(key);
  loom_free(text);
  return true;
}

void api_auth_configurable(const struct loom_http_req *req, json_t *kw) {
  json_t *config = json_object_get(kw, "config");
  if (!json_is_object(config))
    json_object_set_new(kw, "config", config = json_object());
  json_t *conf = json_object_get(config, "configurable");
  if (!json_is_object(conf))
    json_object_set_new(config, "configurable", conf = json_object());
  loom_http_headers_each(req, copy_header_cb, conf);
  /* What a client writes there itself is not an identity. */
  json_object_del(conf, "langgraph_auth_user");
  json_object_del(conf, "langgraph_auth_user_id");
  json_object_del(conf, "langgraph_auth_permissions");
  const char *key = api_request_key(req);
  if (!key)
    return;
  char id[32];
  key_identity(key, id);
  json_object_set_new(conf, "langgraph_auth_user",
                      json_pack("{s:s, s:b, s:s, s:[]}", "identity", id,
                                "is_authenticated", 0, "display_name", id,
                                "permissions"));
  json_object_set_new(conf, "langgraph_auth_user_id", json_string(id));
  json_object_set_new(conf, "langgraph_auth_permissions", json_array());
}
