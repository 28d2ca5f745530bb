/*
 * hnsw — an in-memory HNSW graph index over float32 vectors with string ids
 * and JSON metadata (one index per namespace; the layer above keeps them).
 *
 * Writes: upsert (a known id is replaced: its graph links are repaired and
 * rebuilt), update (values and/or metadata), delete (tombstone + repair of
 * the neighbours' lists; the slot is reused by a later insert).
 * Reads: k-nearest-neighbour search with `ef`, optionally filtered by a
 * compiled metadata filter (`where`: evaluated over a columnar metadata
 * index into a bitset, see vector_meta.h) or by a predicate callback; the
 * walk tests each node against the filter; when the filter matches few
 * items (under `exact_below` of them, or few enough that scanning them is
 * cheaper than a filtered walk) an exact scan over the matching items is
 * done instead, so selective filters still return the true nearest.
 * Optional int8 quantization: the walk uses int8 distances (a quarter of the
 * memory traffic), then the `ef` candidates are re-ranked with exact floats.
 *
 * Concurrency: one writer-preferring rwlock per index. Searches, gets and
 * iteration take it shared and run in parallel; writes take it exclusive.
 * Per-search scratch (visited epochs, heaps) comes from a small pool, so a
 * query allocates nothing once warm. Callbacks run with the lock held and
 * must not call back into the same index's write functions.
 */
#ifndef LOOM_STORES_HNSW_H
#define LOOM_STORES_HNSW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "stores/vector_kernels.h"

#define LOOM_HNSW_MAX_DIM 20000
#define LOOM_HNSW_MAX_ID 512
#define LOOM_HNSW_DEFAULT_EXACT_BELOW 0.05

struct loom_hnsw;
struct loom_filter;

struct loom_hnsw_params {
  uint32_t dim; /* 1..LOOM_HNSW_MAX_DIM */
  enum loom_metric metric;
  uint32_t m;               /* links per node above level 0 (0: 16); 2m at 0 */
  uint32_t ef_construction; /* candidate list while inserting (0: 200) */
  bool quantize;            /* int8 graph walk + exact re-rank */
  uint64_t seed;            /* level generator seed (0: fixed default) */
};

/* Metadata predicate: true when the item with this metadata (may be NULL)
 * should be returned. */
typedef bool (*loom_hnsw_filter_cb)(void *ud, const json_t *metadata);

struct loom_hnsw_query {
  const float *vector;        /* dim floats */
  size_t k;                   /* results wanted */
  size_t ef;                  /* candidate list size (raised to k) */
  loom_hnsw_filter_cb filter; /* NULL: no filter */
  void *filter_ud;
  /* A compiled metadata filter, evaluated once over the index's metadata
   * columns into a bitset (much faster than `filter`; use one or the
   * other). Its exact match count picks exact scan or graph walk. */
  const struct loom_filter *where;
  double exact_below; /* 0: LOOM_HNSW_DEFAULT_EXACT_BELOW */
};

struct loom_hnsw_hit {
  uint32_t slot;  /* internal slot; see loom_hnsw_slot_id */
  float distance; /* smaller is nearer; see loom_hnsw_score */
};

/* One item, seen with the read lock held: all pointers borrow from the
 * index and are valid only during the callback. */
typedef void (*loom_hnsw_item_cb)(void *ud, const char *id, float distance,
                                  const float *values, const json_t *metadata);

/*
 * Creates an empty index. Fails with LOOM_ERR_INVALID (message says which
 * parameter) on a bad dimension or metric. The caller frees with
 * loom_hnsw_free.
 */
loom_err loom_hnsw_new(const struct loom_hnsw_params *p, struct loom_hnsw **out,
                       struct loom_error *e) LOOM_MUST_USE;

/* Frees the index and everything it holds (NULL is fine). */
void loom_hnsw_free(struct loom_hnsw *h);

/* The index's parameters (defaults filled in). */
const struct loom_hnsw_params *loom_hnsw_params(const struct loom_hnsw *h);

/*
 * Inserts `id` or replaces it if present. `values` has dim floats (copied;
 * for cosine they are stored normalised); `metadata` is an object or NULL,
 * and the index takes a new reference (the caller must not change it
 * afterwards). LOOM_ERR_INVALID for an empty/too long id, non-finite values,
 * or an all-zero vector under cosine.
 */
loom_err loom_hnsw_upsert(struct loom_hnsw *h, const char *id,
                          const float *values, json_t *metadata,
                          struct loom_error *e) LOOM_MUST_USE;

/*
 * Changes an existing item: new `values` (NULL keeps them) and/or
 * `set_metadata` merged key by key into its metadata (NULL keeps it).
 * LOOM_ERR_NOT_FOUND when `id` is absent.
 */
loom_err loom_hnsw_update(struct loom_hnsw *h, const char *id,
                          const float *values, const json_t *set_metadata,
                          struct loom_error *e) LOOM_MUST_USE;

/* Deletes `id`; returns true when it was present. */
bool loom_hnsw_delete(struct loom_hnsw *h, const char *id);

/* Deletes every item. */
void loom_hnsw_clear(struct loom_hnsw *h);

/* Number of live (not deleted) items. */
size_t loom_hnsw_count(struct loom_hnsw *h);

/*
 * Fast search: writes up to q->k hits, nearest first, into `out` (room for
 * q->k) and returns how many. Slots are only meaningful until the next
 * write; use loom_hnsw_query to get ids safely under concurrency.
 */
size_t loom_hnsw_search(struct loom_hnsw *h, const struct loom_hnsw_query *q,
                        struct loom_hnsw_hit *out);

/*
 * Search, then calls `cb` for each hit, nearest first, with the read lock
 * still held. Returns the number of hits.
 */
size_t loom_hnsw_query(struct loom_hnsw *h, const struct loom_hnsw_query *q,
                       loom_hnsw_item_cb cb, void *ud);

/*
 * Whether an index with parameters `p` can hold vector `v` (p->dim
 * floats): every value finite, a squared length (in float, as distances
 * use it) within float range and, for cosine, not 0 (nor so small that
 * it underflows in float). LOOM_ERR_INVALID with the reason otherwise.
 */
loom_err loom_hnsw_check_vector(const struct loom_hnsw_params *p,
                                const float *v,
                                struct loom_error *e) LOOM_MUST_USE;

/* Calls `cb` (distance 0) for `id` if present; returns whether it was. */
bool loom_hnsw_get(struct loom_hnsw *h, const char *id, loom_hnsw_item_cb cb,
                   void *ud);

/* Calls `cb` (distance 0) for every live item, in slot order. */
void loom_hnsw_each(struct loom_hnsw *h, loom_hnsw_item_cb cb, void *ud);

/*
 * Copies of the ids of the live items that start with `prefix` and sort
 * after `after` (strcmp; NULL or "": no bound); with `max` non-zero only
 * the `max` smallest of them (a bounded heap: memory for `max` ids, not
 * for every match). Not sorted: the read lock is held only while
 * choosing and copying, so a caller sorts them without holding up
 * writers. *n gets the count; the caller frees each id and the array
 * (NULL when none) with loom_free.
 */
char **loom_hnsw_ids(struct loom_hnsw *h, const char *prefix, const char *after,
                     size_t max, size_t *n);

/* Like loom_hnsw_each for the live items matching `where` (evaluated over
 * the metadata columns; NULL: all); `cb` may be NULL to only count.
 * Returns the number of matches. */
size_t loom_hnsw_each_where(struct loom_hnsw *h,
                            const struct loom_filter *where,
                            loom_hnsw_item_cb cb, void *ud);

/* The id in `slot` (borrowed; valid until the next write), NULL if none. */
const char *loom_hnsw_slot_id(struct loom_hnsw *h, uint32_t slot);

/* Turns a distance into Pinecone's score: cosine similarity, dot product,
 * or squared Euclidean distance. */
float loom_hnsw_score(enum loom_metric metric, float distance);

/* Bytes held by the index (vectors, links, ids; metadata estimated). */
size_t loom_hnsw_memory(struct loom_hnsw *h);

/*
 * Writes a snapshot to `path` (via a temporary file, fsync'd, then renamed
 * into place), stamped with `lsn`. Holds the read lock while writing.
 * LOOM_ERR_IO with the reason on failure.
 */
loom_err loom_hnsw_save(struct loom_hnsw *h, const char *path, uint64_t lsn,
                        struct loom_error *e) LOOM_MUST_USE;

/*
 * Loads a snapshot written by loom_hnsw_save: the file is memory-mapped and
 * the level-0 block (vectors and links) moved into place with one memcpy,
 * so loading costs about one pass over the bytes plus parsing ids and
 * metadata. LOOM_ERR_IO, LOOM_ERR_NOT_FOUND (no file) or LOOM_ERR_PARSE
 * (corrupt file) on failure.
 */
loom_err loom_hnsw_load(const char *path, struct loom_hnsw **out, uint64_t *lsn,
                        struct loom_error *e) LOOM_MUST_USE;

/*
 * Reads only the header of the snapshot at `path` into `p` (dim, metric,
 * m, ef_construction, quantize; seed 0): the shape it was built with,
 * for when the store's config.json is lost. LOOM_ERR_NOT_FOUND, LOOM_ERR_IO
 * or LOOM_ERR_PARSE (not a snapshot header) on failure.
 */
loom_err loom_hnsw_peek(const char *path, struct loom_hnsw_params *p,
                        struct loom_error *e) LOOM_MUST_USE;

#endif
