/*
 * rag_vectors — a collection's vectors, local or remote (rag_internal.h).
 *
 * The local side is the built-in vector store; the remote side a Pinecone
 * index through its REST API (stores/pinecone_client.h), for collections
 * whose vectors live in a Pinecone project. The keyword side and the
 * documents rows stay in loom's database either way.
 */
#include "agents/rag_internal.h"
#include "stores/pinecone_client.h"

static const char *ns_of(const struct loom_rag *r) {
  return r->ns ? r->ns : "";
}

uint32_t rag_vec_dim(const struct loom_rag *r) {
  return r->remote ? loom_pinecone_dim(r->remote)
                   : loom_vstore_params(r->vectors)->dim;
}

loom_err rag_vec_check(const struct loom_rag *r, struct loom_error *e) {
  if (rag_vec_dim(r) == r->embedder->dim)
    return LOOM_OK;
  return loom_error_set(e, LOOM_ERR_INVALID,
                        "index dimension %u does not match the %s "
                        "embedder's %u",
                        rag_vec_dim(r), r->embedder->name, r->embedder->dim);
}

loom_err rag_vec_upsert(const struct loom_rag *r,
                        const struct loom_vrecord *recs, size_t n,
                        struct loom_error *e) {
  if (r->remote)
    return loom_pinecone_upsert(r->remote, ns_of(r), recs, n, e);
  return loom_vstore_upsert(r->vectors, ns_of(r), recs, n, e);
}

loom_err rag_vec_delete(const struct loom_rag *r, const char *const *ids,
                        size_t n, struct loom_error *e) {
  if (r->remote)
    return loom_pinecone_delete(r->remote, ns_of(r), ids, n, e);
  return loom_vstore_delete(r->vectors, ns_of(r), ids, n, e);
}

struct local_ctx {
  rag_hit_cb cb;
  void *ud;
  enum loom_metric metric;
};

static void local_hit_cb(void *ud, const char *id, float distance,
                         const float *values, const json_t *metadata) {
  (void)values;
  struct local_ctx *c = ud;
  c->cb(c->ud, id, loom_hnsw_score(c->metric, distance), metadata);
}

static loom_err remote_query(const struct loom_rag *r, const float *q, size_t k,
                             const json_t *filter, rag_hit_cb cb, void *ud,
                             struct loom_error *e) {
  json_t *matches = NULL;
  loom_err err =
      loom_pinecone_query(r->remote, ns_of(r), q, k, filter, &matches, e);
  if (err)
    return err;
  size_t i;
  json_t *m;
  json_array_foreach(matches, i, m) {
    const char *id = json_string_value(json_object_get(m, "id"));
    if (id)
      cb(ud, id, json_number_value(json_object_get(m, "score")),
         json_object_get(m, "metadata"));
  }
  json_decref(matches);
  return LOOM_OK;
}

loom_err rag_vec_query(const struct loom_rag *r, const float *q, size_t k,
                       const json_t *filter, struct loom_filter *f,
                       rag_hit_cb cb, void *ud, struct loom_error *e) {
  if (r->remote)
    return remote_query(r, q, k, filter, cb, ud, e);
  struct loom_hnsw_query hq = {.vector = q, .k = k, .ef = k * 2, .where = f};
  struct local_ctx c = {cb, ud, loom_vstore_params(r->vectors)->metric};
  loom_vstore_query(r->vectors, ns_of(r), &hq, local_hit_cb, &c);
  return LOOM_OK;
}
