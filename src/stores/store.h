/*
 * store — the storage interface: one struct of function pointers, chosen at
 * start-up from the configuration (SQLite embedded, PostgreSQL later).
 * Callers use the loom_store_* wrappers and never test which backend they
 * have.
 *
 * Contract for every backend:
 *  - Calls are blocking and thread-safe (a backend keeps its own connection
 *    per thread or a pool). Event-loop code runs slow ones on the worker
 *    pool.
 *  - Every row that belongs to a user carries its tenant, and every call
 *    takes the tenant and filters by it: one tenant never sees another's
 *    rows, even with a guessed id.
 *  - JSON values passed in are borrowed; JSON values handed out are new
 *    references owned by the caller.
 *
 * Checkpoints follow LangGraph's saver model: a checkpoint records, per
 * channel, the version current at that point; values live in blobs keyed
 * by (thread, namespace, channel, version), so a channel that did not
 * change between steps is never stored again. Pending writes are the
 * outputs of tasks of the step after a checkpoint that finished before a
 * crash; on resume only the unfinished tasks run again.
 */
#ifndef LOOM_STORES_STORE_H
#define LOOM_STORES_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

struct loom_store;

/* One channel value at one version. */
struct loom_blob {
  const char *channel;
  const char *version; /* opaque, sortable string chosen by the engine */
  json_t *value;       /* borrowed; NULL means "channel emptied" */
};

/* A checkpoint as stored. Filled by get/list; free with
 * loom_checkpoint_free. */
struct loom_checkpoint {
  char *thread_id;
  char *ns;        /* "" for the root graph, "node:task" paths for subgraphs */
  char *id;        /* time-sortable (loom_id_new) */
  char *parent_id; /* NULL for the first checkpoint of a thread */
  json_t *checkpoint; /* {"v":1,"ts":..,"channel_versions":{..},
                         "versions_seen":{..}, ...}: no values */
  json_t *metadata;   /* {"source":"loop","step":3,...} */
  json_t *values;     /* channel -> value at channel_versions (get only) */
  json_t *pending_writes; /* [{"task_id","channel","value","idx"}...] */
};

/* Filters for listing checkpoints, newest first. Unset fields are NULL/0. */
struct loom_checkpoint_query {
  const char *thread_id; /* required */
  const char *ns;        /* NULL: root namespace "" */
  const char *before_id; /* only checkpoints older than this id */
  const json_t *metadata_filter; /* every key must equal */
  size_t limit;          /* 0: no limit */
};

struct loom_store_ops {
  const char *name; /* "sqlite", "postgres" */

  /* Schema. */
  loom_err (*migrate)(struct loom_store *s, struct loom_error *e);
  loom_err (*schema_version)(struct loom_store *s, int *out);
  loom_err (*ping)(struct loom_store *s);

  /* Checkpoints. */
  /* Stores `cp` (upsert by (thread, ns, id)) and the given blobs, one row
   * per (channel, version); a version already stored is kept as it was,
   * so pass only the channels that changed. cp->values and
   * cp->pending_writes are ignored. LOOM_ERR_INVALID without a thread id,
   * an id or a checkpoint object. */
  loom_err (*put_checkpoint)(struct loom_store *s, const char *tenant,
                             const struct loom_checkpoint *cp,
                             const struct loom_blob *blobs, size_t nblobs,
                             struct loom_error *e);
  /* id NULL: the latest checkpoint of (thread, ns). LOOM_ERR_NOT_FOUND
   * when there is none. Fills values and pending_writes. */
  loom_err (*get_checkpoint)(struct loom_store *s, const char *tenant,
                             const char *thread_id, const char *ns,
                             const char *id, struct loom_checkpoint **out,
                             struct loom_error *e);
  /* Calls `each` per checkpoint, newest first, without values; stops early
   * when it returns false. */
  loom_err (*list_checkpoints)(struct loom_store *s, const char *tenant,
                               const struct loom_checkpoint_query *q,
                               bool (*each)(const struct loom_checkpoint *cp,
                                            void *arg),
                               void *arg, struct loom_error *e);
  /* writes: JSON array of {"channel": str, "value": any}; idempotent per
   * (checkpoint, task_id, idx), so a replayed task does not add twice. */
  loom_err (*put_writes)(struct loom_store *s, const char *tenant,
                         const char *thread_id, const char *ns,
                         const char *checkpoint_id, const char *task_id,
                         const json_t *writes, struct loom_error *e);
  /* Removes every checkpoint, blob and write of a thread (all namespaces). */
  loom_err (*delete_thread_checkpoints)(struct loom_store *s,
                                        const char *tenant,
                                        const char *thread_id,
                                        struct loom_error *e);

  void (*close)(struct loom_store *s);
};

struct loom_store {
  const struct loom_store_ops *ops;
};

/*
 * Opens the store the configuration names: `database_url` empty means
 * SQLite at `<data_dir>/loom.db`. Runs no migrations; call
 * loom_store_migrate. Free with loom_store_close.
 */
loom_err loom_store_open(const char *database_url, const char *data_dir,
                         struct loom_store **out,
                         struct loom_error *e) LOOM_MUST_USE;

static inline void loom_store_close(struct loom_store *s) {
  if (s)
    s->ops->close(s);
}
static inline const char *loom_store_backend(const struct loom_store *s) {
  return s->ops->name;
}
static inline loom_err loom_store_migrate(struct loom_store *s,
                                          struct loom_error *e) {
  return s->ops->migrate(s, e);
}
static inline loom_err loom_store_schema_version(struct loom_store *s,
                                                 int *out) {
  return s->ops->schema_version(s, out);
}
static inline loom_err loom_store_ping(struct loom_store *s) {
  return s->ops->ping(s);
}

/* Checkpoints: see the contracts on the ops above. */
static inline loom_err
loom_store_put_checkpoint(struct loom_store *s, const char *tenant,
                          const struct loom_checkpoint *cp,
                          const struct loom_blob *blobs, size_t nblobs,
                          struct loom_error *e) {
  return s->ops->put_checkpoint(s, tenant, cp, blobs, nblobs, e);
}
static inline loom_err
loom_store_get_checkpoint(struct loom_store *s, const char *tenant,
                          const char *thread_id, const char *ns,
                          const char *id, struct loom_checkpoint **out,
                          struct loom_error *e) {
  return s->ops->get_checkpoint(s, tenant, thread_id, ns, id, out, e);
}
static inline loom_err loom_store_list_checkpoints(
    struct loom_store *s, const char *tenant,
    const struct loom_checkpoint_query *q,
    bool (*each)(const struct loom_checkpoint *cp, void *arg), void *arg,
    struct loom_error *e) {
  return s->ops->list_checkpoints(s, tenant, q, each, arg, e);
}
static inline loom_err
loom_store_put_writes(struct loom_store *s, const char *tenant,
                      const char *thread_id, const char *ns,
                      const char *checkpoint_id, const char *task_id,
                      const json_t *writes, struct loom_error *e) {
  return s->ops->put_writes(s, tenant, thread_id, ns, checkpoint_id, task_id,
                            writes, e);
}
static inline loom_err
loom_store_delete_thread_checkpoints(struct loom_store *s, const char *tenant,
                                     const char *thread_id,
                                     struct loom_error *e) {
  return s->ops->delete_thread_checkpoints(s, tenant, thread_id, e);
}

/* Frees a checkpoint handed out by get/list and everything it holds;
 * NULL is fine. */
void loom_checkpoint_free(struct loom_checkpoint *cp);

#endif
