/*
 * vector_indexes — the named vector indexes of one loom: a directory with
 * one vector store (vector_store.h) per index, plus each index's
 * descriptive settings (deletion protection, tags) in info.json.
 *
 * Concurrency: an rwlock over the table, held only to look an index up
 * or change the table. loom_vindexes_acquire pins the index (a count)
 * until loom_vindexes_release, so an index cannot be deleted while a
 * request uses it, yet requests never hold the table: creating an index
 * never waits for them, and deleting one waits only for the requests
 * using that index.
 */
#ifndef LOOM_STORES_VECTOR_INDEXES_H
#define LOOM_STORES_VECTOR_INDEXES_H

#include "stores/vector_store.h"

#define LOOM_VINDEX_MAX_NAME 45

struct loom_vindexes;

/* Opens (creating) `dir` and every index in it. */
loom_err loom_vindexes_open(const char *dir, struct loom_vindexes **out,
                            struct loom_error *e) LOOM_MUST_USE;

/* Checkpoints and closes every index (NULL is fine). */
void loom_vindexes_close(struct loom_vindexes *r);

/*
 * Creates index `name` (lower-case letters, digits and '-', 1 to 45
 * characters) with `p` and the settings object `info` (may be NULL;
 * borrowed). LOOM_ERR_INVALID for a bad name or parameters (message says
 * which), LOOM_ERR_EXISTS when taken.
 */
loom_err loom_vindexes_create(struct loom_vindexes *r, const char *name,
                              const struct loom_vstore_params *p,
                              const json_t *info,
                              struct loom_error *e) LOOM_MUST_USE;

/* Deletes index `name` and its files, once the requests that pinned it
 * have released it (new ones no longer find it). LOOM_ERR_NOT_FOUND when
 * absent. */
loom_err loom_vindexes_delete(struct loom_vindexes *r, const char *name,
                              struct loom_error *e) LOOM_MUST_USE;

/* Merges `info` keys into the index's settings, durably. */
loom_err loom_vindexes_configure(struct loom_vindexes *r, const char *name,
                                 const json_t *info,
                                 struct loom_error *e) LOOM_MUST_USE;

/*
 * The store of index `name`, pinned, or NULL when absent (or being
 * deleted). `info` (may be NULL) receives a new reference to the index's
 * settings object (json_decref it; configure replaces the object, never
 * edits it). Pair every non-NULL result with loom_vindexes_release(r, s).
 */
struct loom_vstore *loom_vindexes_acquire(struct loom_vindexes *r,
                                          const char *name, json_t **info);
/* Unpins `s` (a store loom_vindexes_acquire returned). */
void loom_vindexes_release(struct loom_vindexes *r, struct loom_vstore *s);

/* Calls `cb` for each index, in creation order, with the table shared
 * (`cb` must not call into the table: a waiting writer would block it). */
void loom_vindexes_each(struct loom_vindexes *r,
                        void (*cb)(void *ud, const char *name,
                                   struct loom_vstore *s, const json_t *info),
                        void *ud);

#endif
