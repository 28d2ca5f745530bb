/*
 * rag — retrieval over documents: ingestion (chunk, embed, index) and
 * hybrid search (vector + keyword, fused by reciprocal rank).
 *
 * A collection is one vector index (stores/vector_store.h) plus the
 * documents and chunks rows of the store (stores/store.h), which also hold
 * the keyword index (FTS5/BM25). Each chunk's vector has the id
 * "<document_id>#<idx>" and metadata {"tenant", "document_id", "source",
 * "title", "heading", "chunk", "text", ...the document's metadata}, so
 * Pinecone-API clients of the same index see the text too.
 *
 * Ingestion is idempotent by content: the document id is derived from
 * (collection, source) and its hash from the content and chunking
 * parameters; ingesting an unchanged document does nothing, a changed one
 * replaces its chunks and vectors (stale vectors are deleted).
 *
 * Search: vector hits (the query embedded the same way) and keyword hits,
 * each ranked, are fused with reciprocal rank fusion, score = sum of
 * 1/(60 + rank); a metadata filter (Pinecone's language, stores/filter.h)
 * applies to both. Every query is restricted to the caller's tenant.
 *
 * Threading: the functions block (SQLite, fsync); run them on a worker.
 */
#ifndef LOOM_AGENTS_RAG_H
#define LOOM_AGENTS_RAG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "agents/rag_chunk.h"
#include "core/err.h"

struct loom_store;
struct loom_vstore;
struct loom_pinecone;

#define LOOM_RAG_HASH_DIM 384
#define LOOM_RAG_RRF_K 60
#define LOOM_RAG_MAX_TOP_K 100

/* Turns texts into vectors of `dim` floats. */
struct loom_rag_embedder {
  const char *name; /* "hash", or the model name */
  uint32_t dim;
  /* out: n * dim floats. */
  loom_err (*embed)(void *self, const char *const *texts, size_t n, float *out,
                    struct loom_error *e);
  void *self;
};

/*
 * The built-in `hash` embedder: lower-cased words (minus a few stop
 * words), word bigrams and character trigrams, feature-hashed with a sign
 * into `dim` buckets, L2-normalised. Offline and deterministic.
 */
struct loom_rag_embedder loom_rag_hash_embedder(uint32_t dim);
/* One text through the hash embedder (out: dim floats). */
void loom_rag_hash_embed(const char *text, size_t len, uint32_t dim,
                         float *out);

struct loom_provider;

/*
 * An embedder over a provider's embeddings endpoint (see rag_provider.c).
 * Takes ownership of `p` (freed on failure too). Embeds one probe text to
 * learn the dimension: LOOM_ERR_UPSTREAM etc. when the provider fails.
 * Thread-safe; free with loom_rag_provider_embedder_free. Call
 * loom_http_client_global_init before.
 */
loom_err loom_rag_provider_embedder_new(struct loom_provider *p,
                                        struct loom_rag_embedder **out,
                                        struct loom_error *e) LOOM_MUST_USE;
void loom_rag_provider_embedder_free(struct loom_rag_embedder *em);

/* Where a collection lives; all borrowed, all required but `ns` (and
 * one of `vectors` / `remote`). */
struct loom_rag {
  struct loom_store *store;
  struct loom_vstore *vectors;  /* cosine, dimension = embedder's */
  struct loom_pinecone *remote; /* when set, vectors live in this Pinecone
                                   index instead (`vectors` unused) */
  const struct loom_rag_embedder *embedder;
  const char *tenant;
  const char *collection; /* the index name */
  const char *ns;         /* vector namespace; NULL: "" */
};

struct loom_rag_ingest_opts {
  size_t chunk_size;    /* 0: LOOM_RAG_DEFAULT_CHUNK_SIZE */
  size_t overlap;       /* as given (0: none) */
  bool default_overlap; /* true: LOOM_RAG_DEFAULT_OVERLAP, capped to size/4 */
  enum loom_rag_format format;
  const char *title;      /* NULL: the first heading, else the source */
  const json_t *metadata; /* extra metadata for every chunk; borrowed */
};

struct loom_rag_ingest_result {
  char document_id[33];
  bool unchanged; /* same content already indexed: nothing done */
  size_t chunks;
};

/* Ingests one document read from `source` (a path or URL: its identity). */
loom_err loom_rag_ingest(const struct loom_rag *r, const char *source,
                         const char *data, size_t len,
                         const struct loom_rag_ingest_opts *o,
                         struct loom_rag_ingest_result *res,
                         struct loom_error *e) LOOM_MUST_USE;

/* Removes a document, its chunks and its vectors. */
loom_err loom_rag_delete(const struct loom_rag *r, const char *document_id,
                         struct loom_error *e) LOOM_MUST_USE;

enum loom_rag_mode {
  LOOM_RAG_HYBRID,
  LOOM_RAG_VECTOR,
  LOOM_RAG_KEYWORD,
};

/* "hybrid", "vector", "keyword" -> mode; false for anything else. */
bool loom_rag_mode_parse(const char *s, enum loom_rag_mode *out);

struct loom_rag_query {
  const char *text;
  size_t top_k; /* 0: 5; capped at LOOM_RAG_MAX_TOP_K */
  enum loom_rag_mode mode;
  const json_t *filter; /* Pinecone filter on chunk metadata, or NULL */
};

/*
 * Searches; `*hits` is an array, best first, of {"id", "document_id",
 * "source", "title", "heading", "chunk", "content", "score", "metadata"}.
 * LOOM_ERR_INVALID for a bad filter (message from the filter compiler).
 */
loom_err loom_rag_search(const struct loom_rag *r,
                         const struct loom_rag_query *q, json_t **hits,
                         struct loom_error *e) LOOM_MUST_USE;

#endif
