/*
 * pinecone_client — a remote vector index: one Pinecone index used through
 * its REST API (control plane: describe the index; data plane: upsert,
 * query, delete), so a collection's vectors can live in a real Pinecone
 * project instead of the built-in index.
 *
 * Blocking calls (libcurl easy handle, one per client, guarded by a
 * mutex): use it from worker threads, like the rest of retrieval. Every
 * call has a total timeout, every response a size cap. The base URL is the
 * control plane ("https://api.pinecone.io", or loom's own address, which
 * speaks the same API); the index host is taken from describe-index (with
 * https:// added when it has no scheme, as Pinecone's does not).
 */
#ifndef LOOM_STORES_PINECONE_CLIENT_H
#define LOOM_STORES_PINECONE_CLIENT_H

#include <jansson.h>
#include <stdint.h>

#include "core/err.h"
#include "stores/vector_kernels.h"
#include "stores/vector_store.h"

#define LOOM_PINECONE_UPSERT_BATCH 100
#define LOOM_PINECONE_TIMEOUT_MS 30000

struct loom_pinecone;

/*
 * Describes index `name` at `base_url` with `api_key` (sent as Api-Key)
 * and keeps its host, dimension and metric. LOOM_ERR_NOT_FOUND when the
 * index does not exist, LOOM_ERR_UNAUTHORIZED for a refused key,
 * LOOM_ERR_UPSTREAM / LOOM_ERR_TIMEOUT for other failures (message says
 * what the server answered). Free with loom_pinecone_close.
 */
loom_err loom_pinecone_open(const char *base_url, const char *api_key,
                            const char *name, struct loom_pinecone **out,
                            struct loom_error *e) LOOM_MUST_USE;
void loom_pinecone_close(struct loom_pinecone *p);

uint32_t loom_pinecone_dim(const struct loom_pinecone *p);
enum loom_metric loom_pinecone_metric(const struct loom_pinecone *p);

/* Upserts `n` records (values of dim floats) in batches of 100. */
loom_err loom_pinecone_upsert(struct loom_pinecone *p, const char *ns,
                              const struct loom_vrecord *recs, size_t n,
                              struct loom_error *e) LOOM_MUST_USE;

/* Deletes the ids (absent ones are ignored by Pinecone). */
loom_err loom_pinecone_delete(struct loom_pinecone *p, const char *ns,
                              const char *const *ids, size_t n,
                              struct loom_error *e) LOOM_MUST_USE;

/* Top `k` matches of `vector` with metadata; `filter` (may be NULL) in
 * Pinecone's language. `*matches`: the response's array of {"id",
 * "score", "metadata"}, best first (caller owns): at most `k` of them,
 * each with a string id and a number score; "metadata" only when an
 * object came (whatever else the server sent is left out). */
loom_err loom_pinecone_query(struct loom_pinecone *p, const char *ns,
                             const float *vector, size_t k,
                             const json_t *filter, json_t **matches,
                             struct loom_error *e) LOOM_MUST_USE;

#endif
