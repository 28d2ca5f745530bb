/*
 * vector_indexes — the named vector indexes of one loom: a directory with
 * one vector store (vector_store.h) per index, plus each index's
 * descriptive settings (deletion protection, tags, and its dimension and
 * metric once more, for when config.json is lost) in info.json.
 *
 * Lazy: opening lists the index directories and reads each one's
 * config.json and info.json only; an index's store is loaded the first
 * time a request acquires it, once (concurrent first requests wait for
 * that one load, not for the table), and a store that cannot be loaded
 * fails the requests for that index alone. After a failed load the
 * requests within a backoff window (LOOM_VINDEX_RETRY_MIN_MS, doubling
 * per consecutive failure up to LOOM_VINDEX_RETRY_MAX_MS) fail at once
 * with the kept reason, without reading the files; the first after it
 * tries again (so fixing the files needs no restart, only the window's
 * wait). Describing and listing never load anything.
 *
 * A name that is not in the table is looked for on disk before it is
 * called absent: an index another process made since the table was
 * listed (loom ingest beside loom serve) is listed then, unloaded, and
 * used like any other. A name found absent is not looked for again
 * within LOOM_VINDEX_RESCAN_MS (up to LOOM_VINDEX_MISSES names are
 * remembered), so an index made on disk may take that long to be seen
 * by a table that was just asked for it. Listing (loom_vindexes_each)
 * lists the directories made since the last listing first (DIR's
 * modification time says whether there are any).
 *
 * Concurrency: an rwlock over the table, held only to look an index up
 * or change the table. loom_vindexes_acquire pins the index (a count)
 * until loom_vindexes_release, so an index cannot be deleted while a
 * request uses it, yet requests never hold the table: creating an index
 * never waits for them, and deleting one waits only for the requests
 * using (or loading) that index.
 */
#ifndef LOOM_STORES_VECTOR_INDEXES_H
#define LOOM_STORES_VECTOR_INDEXES_H

#include "stores/vector_store.h"

#define LOOM_VINDEX_MAX_NAME 45
/* The backoff after a failed load: the first window, and its cap. */
#define LOOM_VINDEX_RETRY_MIN_MS 1000u
#define LOOM_VINDEX_RETRY_MAX_MS 60000u
/* How long a name found absent on disk is not looked for again, and how
 * many such names are remembered. */
#define LOOM_VINDEX_RESCAN_MS 1000u
#define LOOM_VINDEX_MISSES 32

struct loom_vindexes;

/* Opens (creating) `dir` and lists the indexes in it, reading each one's
 * config.json and info.json; no store is loaded (see acquire). A
 * directory whose config.json is unreadable is listed, failed. */
loom_err loom_vindexes_open(const char *dir, struct loom_vindexes **out,
                            struct loom_error *e) LOOM_MUST_USE;

/* Replaces the monotonic nanosecond clock the load backoff reads (NULL:
 * loom_clock_mono_ns again), so tests can step time; call it before the
 * first acquire or warm. */
void loom_vindexes_set_clock(struct loom_vindexes *r, uint64_t (*now_ns)(void));

/* Marks the table as one command's (loom ingest, loom search, loom run),
 * which ends rather than retries: a failed load's message then says why,
 * without the "(next attempt in N s)" meant for a long-running server. */
void loom_vindexes_set_one_shot(struct loom_vindexes *r);

/* Checkpoints and closes every index (NULL is fine). */
void loom_vindexes_close(struct loom_vindexes *r);

/*
 * Creates index `name` (lower-case letters, digits and '-', 1 to 45
 * characters) with `p` and the settings object `info` (may be NULL;
 * borrowed; "dimension" and "metric" are added from `p`). LOOM_ERR_INVALID for
 * a bad name or parameters (message says which), LOOM_ERR_EXISTS when taken.
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
 * Starts loading every index on a thread of its own, one after the other,
 * so a server's first requests rarely wait for a load (a load holds the
 * thread that waits for it, and libuv's pool has few). Once per table;
 * loom_vindexes_close stops it between two indexes and joins it.
 */
void loom_vindexes_warm(struct loom_vindexes *r);

/*
 * The store of index `name`, pinned, loaded first if this is its first
 * use (the table is not held meanwhile: other indexes keep serving).
 * NULL when absent or being deleted (LOOM_ERR_NOT_FOUND in `e`), or when
 * its store cannot be loaded (LOOM_ERR_UNAVAILABLE, "index 'NAME' could
 * not be opened: why (next attempt in N s)", without the parenthesis in a
 * one-shot table: the first acquire after the backoff window tries again,
 * those within it do not). `info` (may be NULL)
 * receives a new reference to the index's settings object (json_decref
 * it; configure replaces the object, never edits it). `e` may be NULL.
 * Pair every non-NULL result with loom_vindexes_release(r, s).
 */
struct loom_vstore *loom_vindexes_acquire(struct loom_vindexes *r,
                                          const char *name, json_t **info,
                                          struct loom_error *e);
/* Unpins `s` (a store loom_vindexes_acquire returned). */
void loom_vindexes_release(struct loom_vindexes *r, struct loom_vstore *s);

/* What is known of an index without loading it. */
struct loom_vindex_desc {
  const char *name;
  bool has_params; /* false: config.json is unreadable (see error) */
  struct loom_vstore_params params;
  json_t *info;         /* settings: see the function that filled it */
  bool loaded;          /* its store is in memory */
  char error[400];      /* "" or why the last load failed */
  uint64_t retry_in_ms; /* with error: when a request may load it again */
};

/* Describes index `name` without loading it. d->info is a new reference
 * (json_decref it); d->name is NULL. LOOM_ERR_NOT_FOUND when absent. */
loom_err loom_vindexes_describe(struct loom_vindexes *r, const char *name,
                                struct loom_vindex_desc *d,
                                struct loom_error *e) LOOM_MUST_USE;

/* Calls `cb` for each index, in creation order, with the table shared
 * (`cb` must not call into the table: a waiting writer would block it);
 * nothing is loaded. Indexes other processes made on disk since are
 * listed first. `d` and its info are borrowed for the call. */
void loom_vindexes_each(struct loom_vindexes *r,
                        void (*cb)(void *ud, const struct loom_vindex_desc *d),
                        void *ud);

#endif
