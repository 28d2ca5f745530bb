/*
 * rag_search — hybrid search: vector hits and keyword (BM25) hits fused by
 * reciprocal rank fusion.
 *
 * Each side returns up to max(4 * top_k, 20) candidates, already filtered
 * by tenant and by the caller's metadata filter (the vector side inside
 * the graph search, the keyword side on the chunk rows' metadata, which
 * are the vectors' metadata). A hit's fused score is the sum over the
 * sides that found it of 1 / (60 + rank), rank counted from 1; ties keep
 * the vector side's order. Vector-only and keyword-only modes report the
 * side's own score (cosine similarity, or negated BM25).
 */
#include <stdlib.h>
#include <string.h>

#include "agents/rag.h"
#include "agents/rag_internal.h"
#include "core/alloc.h"
#include "stores/filter.h"
#include "stores/store.h"
#include "stores/vector_store.h"

#define CANDIDATE_FACTOR 4
#define MIN_CANDIDATES 20

struct cand {
  json_t *meta; /* owned */
  char *id;
  double score;  /* fused or side score */
  double vscore; /* the vector side's own score */
  size_t order;  /* first-seen order, for stable ties */
};

struct cands {
  struct cand *v;
  size_t n, cap;
};

static struct cand *find_or_add(struct cands *c, const char *id,
                                const json_t *meta) {
  for (size_t i = 0; i < c->n; i++)
    if (!strcmp(c->v[i].id, id))
      return &c->v[i];
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 32;
    c->v = loom_realloc(c->v, c->cap * sizeof *c->v);
  }
  struct cand *x = &c->v[c->n];
  *x = (struct cand){
      .meta = json_deep_copy(meta), .id = loom_strdup(id), .order = c->n};
  c->n++;
  return x;
}

struct vctx {
  struct cands *c;
  size_t rank;
  bool fuse;
};

static void vector_hit_cb(void *ud, const char *id, double score,
                          const json_t *metadata) {
  struct vctx *v = ud;
  struct cand *x = find_or_add(v->c, id, metadata);
  v->rank++;
  x->vscore = score;
  x->score += v->fuse ? 1.0 / (LOOM_RAG_RRF_K + (double)v->rank) : score;
}

/* {"$and": [{"tenant": T}, filter]}: as JSON in `*json` and compiled in
 * `*out`; LOOM_ERR_INVALID on a bad filter. */
static loom_err tenant_filter(const struct loom_rag *r, const json_t *filter,
                              json_t **json, struct loom_filter **out,
                              struct loom_error *e) {
  json_t *all =
      json_pack("{s:[{s:{s:s}}]}", "$and", "tenant", "$eq", r->tenant);
  if (filter && !(json_is_object(filter) && json_object_size(filter) == 0))
    json_array_append(json_object_get(all, "$and"), (json_t *)filter);
  loom_err err = loom_filter_compile(all, out, e);
  if (err)
    json_decref(all);
  else
    *json = all;
  return err;
}

static loom_err vector_side(const struct loom_rag *r, const char *text,
                            size_t k, const json_t *fj, struct loom_filter *f,
                            bool fuse, struct cands *c, struct loom_error *e) {
  uint32_t dim = r->embedder->dim;
  float *q = loom_calloc(dim, sizeof *q);
  const char *texts[] = {text};
  loom_err err = r->embedder->embed(r->embedder->self, texts, 1, q, e);
  struct vctx v = {c, 0, fuse};
  if (!err)
    err = rag_vec_query(r, q, k, fj, f, vector_hit_cb, &v, e);
  loom_free(q);
  return err;
}

static loom_err keyword_side(const struct loom_rag *r, const char *text,
                             size_t k, struct loom_filter *f, bool fuse,
                             struct cands *c, struct loom_error *e) {
  json_t *rows = NULL;
  /* Ask for more than k: the filter may drop some. */
  loom_err err = loom_store_search_chunks(r->store, r->tenant, r->collection,
                                          text, k * 2, &rows, e);
  if (err)
    return err;
  size_t rank = 0, i;
  json_t *row;
  json_array_foreach(rows, i, row) {
    json_t *meta = json_object_get(row, "metadata");
    const char *id = json_string_value(json_object_get(row, "vector_id"));
    if (!id || !loom_filter_match(f, meta))
      continue;
    if (++rank > k)
      break;
    struct cand *x = find_or_add(c, id, meta);
    double bm = json_real_value(json_object_get(row, "score"));
    x->score += fuse ? 1.0 / (LOOM_RAG_RRF_K + (double)rank) : bm;
  }
  json_decref(rows);
  return LOOM_OK;
}

static int by_score(const void *a, const void *b) {
  const struct cand *x = a, *y = b;
  if (x->score != y->score)
    return x->score < y->score ? 1 : -1;
  return x->order < y->order ? -1 : x->order > y->order;
}

static json_t *hit_json(const struct cand *x) {
  const json_t *m = x->meta;
  json_t *h = json_pack("{s:s, s:f}", "id", x->id, "score", x->score);
  static const char *const copy[] = {"document_id", "source", "title",
                                     "heading", "chunk"};
  for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++) {
    json_t *v = json_object_get(m, copy[i]);
    json_object_set(h, copy[i], v ? v : json_null());
  }
  json_t *text = json_object_get(m, "text");
  json_object_set_new(h, "content", text ? json_incref(text) : json_string(""));
  json_t *rest = json_deep_copy(m);
  json_object_del(rest, "text");
  json_object_del(rest, "tenant");
  json_object_set_new(h, "metadata", rest);
  return h;
}

loom_err loom_rag_search(const struct loom_rag *r,
                         const struct loom_rag_query *q, json_t **hits,
                         struct loom_error *e) {
  size_t top = q->top_k ? q->top_k : 5;
  if (top > LOOM_RAG_MAX_TOP_K)
    top = LOOM_RAG_MAX_TOP_K;
  size_t k = top * CANDIDATE_FACTOR;
  if (k < MIN_CANDIDATES)
    k = MIN_CANDIDATES;
  struct loom_filter *f = NULL;
  json_t *fj = NULL;
  loom_err err = rag_vec_check(r, e);
  if (!err)
    err = tenant_filter(r, q->filter, &fj, &f, e);
  if (err)
    return err;
  struct cands c = {0};
  bool fuse = q->mode == LOOM_RAG_HYBRID;
  const char *text = q->text ? q->text : "";
  if (q->mode != LOOM_RAG_KEYWORD)
    err = vector_side(r, text, k, fj, f, fuse, &c, e);
  if (!err && q->mode != LOOM_RAG_VECTOR)
    err = keyword_side(r, text, k, f, fuse, &c, e);
  if (!err) {
    if (c.n)
      qsort(c.v, c.n, sizeof *c.v, by_score);
    *hits = json_array();
    for (size_t i = 0; i < c.n && i < top; i++)
      json_array_append_new(*hits, hit_json(&c.v[i]));
  }
  for (size_t i = 0; i < c.n; i++) {
    json_decref(c.v[i].meta);
    loom_free(c.v[i].id);
  }
  loom_free(c.v);
  loom_filter_free(f);
  json_decref(fj);
  return err;
}
