/*
 * rag_internal — the vector side of a collection, shared by rag.c and
 * rag_search.c: the built-in index (struct loom_rag.vectors) or a remote
 * Pinecone index (struct loom_rag.remote), behind one set of calls.
 */
#ifndef LOOM_AGENTS_RAG_INTERNAL_H
#define LOOM_AGENTS_RAG_INTERNAL_H

#include "agents/rag.h"
#include "stores/filter.h"
#include "stores/vector_store.h"

/* The index's dimension and metric. */
uint32_t rag_vec_dim(const struct loom_rag *r);

/* LOOM_ERR_INVALID when the index dimension differs from the embedder's. */
loom_err rag_vec_check(const struct loom_rag *r, struct loom_error *e);

loom_err rag_vec_upsert(const struct loom_rag *r,
                        const struct loom_vrecord *recs, size_t n,
                        struct loom_error *e);
loom_err rag_vec_delete(const struct loom_rag *r, const char *const *ids,
                        size_t n, struct loom_error *e);

/* Called per hit, nearest first; score: higher is better. */
typedef void (*rag_hit_cb)(void *ud, const char *id, double score,
                           const json_t *metadata);

/* The `k` nearest vectors to `q` passing the filter (`filter` as JSON for
 * the remote side, `f` compiled for the local one). */
loom_err rag_vec_query(const struct loom_rag *r, const float *q, size_t k,
                       const json_t *filter, struct loom_filter *f,
                       rag_hit_cb cb, void *ud, struct loom_error *e);

#endif
