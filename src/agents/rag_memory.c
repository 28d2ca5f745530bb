/*
 * rag_memory — remember, recall, entity lookup, forget (rag_memory.h).
 *
 * Recall ranks in memory: the namespace's recent memories (at most
 * LOOM_MEMORY_RECALL_SCAN) are scored twice — keyword: the sum over the
 * query's distinct words (3+ letters, lower-cased) found in the memory of
 * log(1 + N / df), df counting memories holding the word; vector: cosine
 * of hash embeddings — and the two rankings fused by reciprocal rank
 * (k = 60), as document search does. A memory matching neither side is
 * left out unless the query has no words at all.
 */
#include "agents/rag_memory.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agents/rag.h"
#include "core/alloc.h"
#include "stores/store.h"

#define MAX_TERMS 32
#define TERM_MAX 32

struct scored {
  json_t *row; /* borrowed from the list */
  double kw, vec, fused;
  size_t order;
};

static bool valid_kind(const char *k) {
  return k &&
         (!strcmp(k, LOOM_MEMORY_SHORT_TERM) ||
          !strcmp(k, LOOM_MEMORY_LONG_TERM) || !strcmp(k, LOOM_MEMORY_ENTITY));
}

loom_err loom_memory_remember(struct loom_store *s, const char *tenant,
                              const struct loom_memory *m, json_t **out,
                              struct loom_error *e) {
  if (!valid_kind(m->kind))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "memory kind must be short_term, long_term or "
                          "entity");
  json_t *row = json_pack("{s:s?, s:s, s:s?, s:s?, s:I}", "namespace", m->ns,
                          "kind", m->kind, "content", m->content, "key", m->key,
                          "ttl_ms", (json_int_t)m->ttl_ms);
  if (m->metadata)
    json_object_set(row, "metadata", (json_t *)m->metadata);
  loom_err err = loom_store_put_memory(s, tenant, row, out, e);
  json_decref(row);
  return err;
}

/* Distinct lower-cased words of 3+ letters of `text` into terms. */
static size_t terms_of(const char *text, char terms[][TERM_MAX]) {
  size_t n = 0;
  for (const char *p = text; *p && n < MAX_TERMS;) {
    while (*p && !isalnum((unsigned char)*p))
      p++;
    char w[TERM_MAX];
    size_t len = 0;
    for (; isalnum((unsigned char)*p); p++)
      if (len + 1 < TERM_MAX)
        w[len++] = (char)tolower((unsigned char)*p);
    w[len] = 0;
    bool dup = len < 3;
    for (size_t i = 0; i < n && !dup; i++)
      dup = !strcmp(terms[i], w);
    if (!dup)
      memcpy(terms[n++], w, len + 1);
  }
  return n;
}

static bool contains_word(const char *text, const char *w) {
  size_t n = strlen(w);
  for (const char *p = strcasestr(text, w); p; p = strcasestr(p + 1, w))
    if ((p == text || !isalnum((unsigned char)p[-1])) &&
        !isalnum((unsigned char)p[n]))
      return true;
  return false;
}

static void keyword_scores(struct scored *v, size_t n, const char *query) {
  char terms[MAX_TERMS][TERM_MAX];
  size_t nt = terms_of(query, terms);
  for (size_t t = 0; t < nt; t++) {
    size_t df = 0;
    bool *has = loom_calloc(n ? n : 1, sizeof *has);
    for (size_t i = 0; i < n; i++) {
      const char *c = json_string_value(json_object_get(v[i].row, "content"));
      df += has[i] = contains_word(c ? c : "", terms[t]);
    }
    double idf = df ? log(1.0 + (double)n / (double)df) : 0;
    for (size_t i = 0; i < n; i++)
      v[i].kw += has[i] ? idf : 0;
    loom_free(has);
  }
}

static void vector_scores(struct scored *v, size_t n, const char *query) {
  float q[LOOM_RAG_HASH_DIM], m[LOOM_RAG_HASH_DIM];
  loom_rag_hash_embed(query, strlen(query), LOOM_RAG_HASH_DIM, q);
  for (size_t i = 0; i < n; i++) {
    const char *c = json_string_value(json_object_get(v[i].row, "content"));
    loom_rag_hash_embed(c ? c : "", c ? strlen(c) : 0, LOOM_RAG_HASH_DIM, m);
    double dot = 0;
    for (int d = 0; d < LOOM_RAG_HASH_DIM; d++)
      dot += (double)q[d] * m[d];
    v[i].vec = dot;
  }
}

static int by_kw(const void *a, const void *b) {
  const struct scored *x = a, *y = b;
  return x->kw != y->kw ? (x->kw < y->kw ? 1 : -1)
                        : (x->order > y->order) - (x->order < y->order);
}
static int by_vec(const void *a, const void *b) {
  const struct scored *x = a, *y = b;
  return x->vec != y->vec ? (x->vec < y->vec ? 1 : -1)
                          : (x->order > y->order) - (x->order < y->order);
}
static int by_fused(const void *a, const void *b) {
  const struct scored *x = a, *y = b;
  return x->fused != y->fused ? (x->fused < y->fused ? 1 : -1)
                              : (x->order > y->order) - (x->order < y->order);
}

/* Fuses the two rankings into v[i].fused (0 for a memory neither ranks). */
static void fuse(struct scored *v, size_t n) {
  qsort(v, n, sizeof *v, by_kw);
  for (size_t i = 0; i < n && v[i].kw > 0; i++)
    v[i].fused += 1.0 / (LOOM_RAG_RRF_K + (double)(i + 1));
  qsort(v, n, sizeof *v, by_vec);
  for (size_t i = 0; i < n && v[i].vec > 0.05; i++)
    v[i].fused += 1.0 / (LOOM_RAG_RRF_K + (double)(i + 1));
  qsort(v, n, sizeof *v, by_fused);
}

loom_err loom_memory_recall(struct loom_store *s, const char *tenant,
                            const char *ns, const char *kind, const char *query,
                            size_t k, json_t **out, struct loom_error *e) {
  json_t *rows = NULL;
  loom_err err = loom_store_list_memories(s, tenant, ns, kind, NULL,
                                          LOOM_MEMORY_RECALL_SCAN, &rows, e);
  if (err)
    return err;
  size_t n = json_array_size(rows);
  char terms[MAX_TERMS][TERM_MAX];
  bool any = query && terms_of(query, terms) > 0;
  struct scored *v = loom_calloc(n ? n : 1, sizeof *v);
  for (size_t i = 0; i < n; i++)
    v[i] = (struct scored){.row = json_array_get(rows, i), .order = i};
  if (any) {
    keyword_scores(v, n, query);
    vector_scores(v, n, query);
    fuse(v, n);
  }
  *out = json_array();
  for (size_t i = 0; i < n && i < (k ? k : 5); i++) {
    if (any && v[i].fused <= 0)
      break;
    json_t *r = json_deep_copy(v[i].row);
    json_object_set_new(r, "score", json_real(any ? v[i].fused : 0));
    json_array_append_new(*out, r);
  }
  loom_free(v);
  json_decref(rows);
  return LOOM_OK;
}

loom_err loom_memory_entity(struct loom_store *s, const char *tenant,
                            const char *ns, const char *key, json_t **out,
                            struct loom_error *e) {
  json_t *rows = NULL;
  loom_err err = loom_store_list_memories(s, tenant, ns, LOOM_MEMORY_ENTITY,
                                          key, 1, &rows, e);
  if (err)
    return err;
  if (json_array_size(rows) == 0) {
    json_decref(rows);
    return loom_error_set(e, LOOM_ERR_NOT_FOUND, "no entity '%s' in '%s'",
                          key ? key : "", ns ? ns : "");
  }
  *out = json_incref(json_array_get(rows, 0));
  json_decref(rows);
  return LOOM_OK;
}

loom_err loom_memory_forget(struct loom_store *s, const char *tenant,
                            const char *ns, const char *id,
                            struct loom_error *e) {
  size_t n = 0;
  loom_err err = loom_store_delete_memories(s, tenant, ns, id, &n, e);
  if (!err && id && n == 0)
    err = loom_error_set(e, LOOM_ERR_NOT_FOUND, "no memory '%s'", id);
  return err;
}
