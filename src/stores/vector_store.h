/*
 * vector_store — a durable vector index: namespaces of HNSW indexes kept in
 * one directory, surviving restart and kill -9 with no acknowledged write
 * lost.
 *
 * Layout of the directory:
 *   config.json        dimension, metric, m, ef_construction, quantize
 *   wal                write-ahead log: one record per upsert/update/delete,
 *                      each with a sequence number (LSN) and a CRC
 *   ns-<hex>.snap      one snapshot per namespace (hnsw_io), stamped with
 *                      the LSN it includes
 * A write is appended to the WAL, fsync'd (one fsync per batch), applied to
 * the in-memory index, and only then acknowledged. Opening loads every
 * snapshot (memory-mapped) and replays the WAL records newer than each
 * namespace's snapshot; a torn record at the tail (a write that was never
 * acknowledged) is cut off. A checkpoint writes all snapshots and empties
 * the WAL; it runs when the WAL passes wal_max_bytes, and on close.
 *
 * Namespaces: "" and "__default__" are the same namespace (reported as "");
 * names are at most LOOM_VSTORE_MAX_NS bytes.
 * A namespace exists while it holds vectors.
 *
 * Concurrency: writes are serialised by one mutex (WAL order = apply
 * order); queries take only a shared lock on the namespace table plus the
 * index's own read lock, so they run in parallel with each other and with
 * writes to the WAL.
 */
#ifndef LOOM_STORES_VECTOR_STORE_H
#define LOOM_STORES_VECTOR_STORE_H

#include "stores/filter.h"
#include "stores/hnsw.h"

struct loom_vstore;

/* Longest namespace name, in bytes (names become file names). */
#define LOOM_VSTORE_MAX_NS 120

/*
 * What the graph walk reads. INT8 (the default for new stores): int8 copies
 * of the vectors next to the links, then the candidates are re-ranked with
 * the exact floats, so results carry exact distances; on Fashion-MNIST it
 * answers 1.3-1.75x the float walk's queries/s at equal recall, for 25 %
 * more memory. FLOAT: the walk reads the float vectors. Stored in
 * config.json as "quantize" (stores written before the default changed
 * have false there and keep walking floats).
 */
enum loom_vstore_walk { LOOM_VSTORE_WALK_INT8, LOOM_VSTORE_WALK_FLOAT };

struct loom_vstore_params {
  uint32_t dim;
  enum loom_metric metric;
  uint32_t m;                 /* 0: 16 */
  uint32_t ef_construction;   /* 0: 200 */
  enum loom_vstore_walk walk; /* new stores: int8 walk (the default) */
  size_t wal_max_bytes;       /* checkpoint past this (0: 64 MB); not stored */
};

/* One vector to upsert; metadata (object or NULL) is borrowed. */
struct loom_vrecord {
  const char *id;
  const float *values; /* dim floats */
  json_t *metadata;
};

/*
 * Opens the store in `dir`. With `create` non-NULL a missing store is
 * created with those parameters (an existing one keeps its own; its
 * wal_max_bytes is taken from `create`). With `create` NULL the store must
 * exist (LOOM_ERR_NOT_FOUND). LOOM_ERR_IO / LOOM_ERR_PARSE on unreadable or
 * corrupt files. The caller closes with loom_vstore_close.
 */
loom_err loom_vstore_open(const char *dir,
                          const struct loom_vstore_params *create,
                          struct loom_vstore **out,
                          struct loom_error *e) LOOM_MUST_USE;

/*
 * The parameters of the store in `dir`, read from its config.json alone
 * (nothing else is opened or loaded). LOOM_ERR_NOT_FOUND when `dir` holds
 * no store, LOOM_ERR_PARSE when config.json is unreadable or wrong.
 */
loom_err loom_vstore_read_params(const char *dir, struct loom_vstore_params *p,
                                 struct loom_error *e) LOOM_MUST_USE;

/* Checkpoints (best effort) and frees everything (NULL is fine). */
void loom_vstore_close(struct loom_vstore *s);

/* The store's parameters. */
const struct loom_vstore_params *
loom_vstore_params(const struct loom_vstore *s);

/*
 * Upserts `n` records into namespace `ns` as one durable batch: all are
 * validated first (LOOM_ERR_INVALID names the bad record, nothing written),
 * then logged with one fsync, then applied. LOOM_ERR_IO if the log cannot
 * be written (nothing applied).
 */
loom_err loom_vstore_upsert(struct loom_vstore *s, const char *ns,
                            const struct loom_vrecord *recs, size_t n,
                            struct loom_error *e) LOOM_MUST_USE;

/* Durable loom_hnsw_update. LOOM_ERR_NOT_FOUND when the id is absent. */
loom_err loom_vstore_update(struct loom_vstore *s, const char *ns,
                            const char *id, const float *values,
                            const json_t *set_metadata,
                            struct loom_error *e) LOOM_MUST_USE;

/* Durably deletes the given ids (absent ids are ignored). */
loom_err loom_vstore_delete(struct loom_vstore *s, const char *ns,
                            const char *const *ids, size_t n,
                            struct loom_error *e) LOOM_MUST_USE;

/* Durably deletes every vector of `ns` matching `filter`; *deleted counts. */
loom_err loom_vstore_delete_where(struct loom_vstore *s, const char *ns,
                                  const struct loom_filter *filter,
                                  size_t *deleted,
                                  struct loom_error *e) LOOM_MUST_USE;

/* Durably deletes the whole namespace. */
loom_err loom_vstore_delete_all(struct loom_vstore *s, const char *ns,
                                struct loom_error *e) LOOM_MUST_USE;

/* loom_hnsw_query on namespace `ns` (0 hits if it does not exist). */
size_t loom_vstore_query(struct loom_vstore *s, const char *ns,
                         const struct loom_hnsw_query *q, loom_hnsw_item_cb cb,
                         void *ud);

/* loom_hnsw_get on namespace `ns`. */
bool loom_vstore_fetch(struct loom_vstore *s, const char *ns, const char *id,
                       loom_hnsw_item_cb cb, void *ud);

/* loom_hnsw_each on namespace `ns`. */
void loom_vstore_each(struct loom_vstore *s, const char *ns,
                      loom_hnsw_item_cb cb, void *ud);

/* loom_hnsw_ids on namespace `ns` (NULL, *n = 0, if it does not exist). */
char **loom_vstore_ids(struct loom_vstore *s, const char *ns,
                       const char *prefix, const char *after, size_t max,
                       size_t *n);

/* loom_hnsw_each_where on namespace `ns` (0 if it does not exist). */
size_t loom_vstore_each_where(struct loom_vstore *s, const char *ns,
                              const struct loom_filter *where,
                              loom_hnsw_item_cb cb, void *ud);

/* Calls `cb` for every non-empty namespace with its vector count (taken
 * together, reported after the namespace table is released, so `cb` may
 * query the store); returns the total number of vectors. */
size_t loom_vstore_namespaces(struct loom_vstore *s,
                              void (*cb)(void *ud, const char *ns,
                                         size_t count),
                              void *ud);

/* Writes every namespace's snapshot and empties the WAL. */
loom_err loom_vstore_checkpoint(struct loom_vstore *s,
                                struct loom_error *e) LOOM_MUST_USE;

#endif
