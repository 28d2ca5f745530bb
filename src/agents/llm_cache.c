/*
 * llm_cache — keys (SHA-256 over URL and body) and the JSON shapes of
 * cached answers: {"content","tool_calls":[{id,name,arguments}],
 * "finish_reason","model","id","usage":[prompt,completion]} and
 * {"dims","vectors":[[...]...],"prompt_tokens"}.
 */
#include "agents/llm_cache.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

char *loom_llm_cache_key(const char *prefix, const char *url, const char *body,
                         size_t body_len) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  EVP_DigestUpdate(ctx, url, strlen(url));
  EVP_DigestUpdate(ctx, "\n", 1);
  EVP_DigestUpdate(ctx, body, body_len);
  EVP_DigestFinal_ex(ctx, md, &n);
  EVP_MD_CTX_free(ctx);
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  for (unsigned i = 0; i < n; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return loom_asprintf("%s:%s", prefix, hex);
}

json_t *loom_llm_cache_pack(const struct loom_llm_response *r) {
  json_t *calls = json_array();
  for (size_t i = 0; i < r->n_calls; i++)
    json_array_append_new(
        calls, json_pack("{s:s, s:s, s:s}", "id", r->calls[i].id, "name",
                         r->calls[i].name, "arguments", r->calls[i].arguments));
  return json_pack("{s:s, s:o, s:s?, s:s?, s:s?, s:[I,I]}", "content",
                   r->content ? r->content : "", "tool_calls", calls,
                   "finish_reason", r->finish_reason, "model", r->model, "id",
                   r->id, "usage", (json_int_t)r->usage.prompt_tokens,
                   (json_int_t)r->usage.completion_tokens);
}

/* A token count as stored: a non-negative integer, else 0. */
static long count(const json_t *v) {
  json_int_t n = json_integer_value(v);
  return n > 0 && n <= LONG_MAX ? (long)n : 0;
}

static char *dup_or_null(const json_t *v) {
  return json_is_string(v) ? loom_strdup(json_string_value(v)) : NULL;
}

bool loom_llm_cache_unpack(const json_t *v, struct loom_llm_response *out) {
  memset(out, 0, sizeof *out);
  const json_t *content = json_object_get(v, "content");
  const json_t *calls = json_object_get(v, "tool_calls");
  if (!json_is_string(content) || !json_is_array(calls))
    return false;
  out->content = loom_strdup(json_string_value(content));
  out->n_calls = json_array_size(calls);
  out->calls =
      out->n_calls ? loom_calloc(out->n_calls, sizeof *out->calls) : NULL;
  for (size_t i = 0; i < out->n_calls; i++) {
    const json_t *c = json_array_get(calls, i);
    const char *id = json_string_value(json_object_get(c, "id"));
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *args = json_string_value(json_object_get(c, "arguments"));
    out->calls[i].id = loom_strdup(id ? id : "");
    out->calls[i].name = loom_strdup(name ? name : "");
    out->calls[i].arguments = loom_strdup(args ? args : "{}");
  }
  out->finish_reason = dup_or_null(json_object_get(v, "finish_reason"));
  if (!out->finish_reason)
    out->finish_reason = loom_strdup("stop");
  out->model = dup_or_null(json_object_get(v, "model"));
  out->id = dup_or_null(json_object_get(v, "id"));
  const json_t *u = json_object_get(v, "usage");
  out->usage.prompt_tokens = count(json_array_get(u, 0));
  out->usage.completion_tokens = count(json_array_get(u, 1));
  return true;
}

json_t *loom_llm_cache_pack_embeddings(const struct loom_embeddings *em) {
  json_t *rows = json_array();
  for (size_t i = 0; i < em->n; i++) {
    json_t *row = json_array();
    for (size_t j = 0; j < em->dims; j++)
      json_array_append_new(row, json_real(em->data[i * em->dims + j]));
    json_array_append_new(rows, row);
  }
  return json_pack("{s:I, s:o, s:I}", "dims", (json_int_t)em->dims, "vectors",
                   rows, "prompt_tokens", (json_int_t)em->prompt_tokens);
}

/* A row of `dims` numbers that all fit in a float. */
static bool row_fits(const json_t *row, size_t dims) {
  if (json_array_size(row) != dims)
    return false;
  for (size_t j = 0; j < dims; j++) {
    const json_t *x = json_array_get(row, j);
    if (!json_is_number(x) || !(fabs(json_number_value(x)) <= FLT_MAX))
      return false;
  }
  return true;
}

bool loom_llm_cache_unpack_embeddings(const json_t *v,
                                      struct loom_embeddings *out) {
  memset(out, 0, sizeof *out);
  const json_t *rows = json_object_get(v, "vectors");
  size_t dims = (size_t)json_integer_value(json_object_get(v, "dims"));
  size_t n = json_array_size(rows);
  if (!n || !dims || dims > (1u << 16))
    return false;
  /* Every row is checked before n * dims floats are allocated: an entry
   * of a few kilobytes ("dims": 65536 and many empty rows) must not cost
   * gigabytes. */
  for (size_t i = 0; i < n; i++)
    if (!row_fits(json_array_get(rows, i), dims))
      return false;
  out->data = loom_calloc(n * dims, sizeof(float));
  for (size_t i = 0; i < n; i++) {
    const json_t *row = json_array_get(rows, i);
    for (size_t j = 0; j < dims; j++)
      out->data[i * dims + j] =
          (float)json_number_value(json_array_get(row, j));
  }
  out->n = n;
  out->dims = dims;
  out->prompt_tokens = count(json_object_get(v, "prompt_tokens"));
  return true;
}
