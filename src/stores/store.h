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
 *
 * Assistants, threads, runs and run events are JSON rows shaped like the
 * LangGraph Platform API's objects (field names and values as the API
 * returns them; timestamps are RFC 3339 strings), so the HTTP layer can
 * answer with a row as it comes out. Each op is one statement or one
 * transaction, so a PostgreSQL backend implements the same ops unchanged.
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
  json_t *checkpoint;     /* {"v":1,"ts":..,"channel_versions":{..},
                             "versions_seen":{..}, ...}: no values */
  json_t *metadata;       /* {"source":"loop","step":3,...} */
  json_t *values;         /* channel -> value at channel_versions (get only) */
  json_t *pending_writes; /* [{"task_id","channel","value","idx"}...] */
};

/* Filters for listing checkpoints, newest first. Unset fields are NULL/0. */
struct loom_checkpoint_query {
  const char *thread_id;         /* required */
  const char *ns;                /* NULL: root namespace "" */
  const char *before_id;         /* only checkpoints older than this id */
  const json_t *metadata_filter; /* every key must equal */
  size_t limit;                  /* 0: no limit */
};

/* What to do when a row with the given id exists (LangGraph's if_exists). */
enum loom_if_exists {
  LOOM_IF_EXISTS_RAISE,      /* fail with LOOM_ERR_EXISTS */
  LOOM_IF_EXISTS_DO_NOTHING, /* hand back the stored row unchanged */
};

#define LOOM_SEARCH_DEFAULT_LIMIT 10
#define LOOM_SEARCH_MAX_LIMIT 1000
/* Most distinct namespaces list_memory_namespaces hands out at once. */
#define LOOM_MEMORY_MAX_NAMESPACES 100000

/*
 * Filters and paging for searches of assistants, threads and runs. Unset
 * fields are NULL/0; a field that does not apply to a search is ignored.
 * JSON filters match when every top-level key of the filter is present in
 * the row's object with an equal value.
 */
struct loom_search {
  const json_t *metadata; /* on the row's "metadata" */
  const json_t *values;   /* threads: on the thread's "values" */
  const json_t *ids;      /* assistants, threads: array of ids to keep */
  const char *graph_id;   /* assistants */
  const char *status;     /* threads, runs */
  /* A field of the row to sort by: "created_at" (default), "updated_at",
   * or the row's id field; assistants also "graph_id" and "name", threads
   * "status". Anything else is LOOM_ERR_INVALID. */
  const char *sort_by;
  bool ascending; /* false (default): newest / largest first */
  size_t limit;   /* 0: LOOM_SEARCH_DEFAULT_LIMIT; capped at MAX */
  size_t offset;
};

/*
 * Documents and their chunks, for retrieval (agents/rag.h). A document
 * belongs to a collection (the vector index it was ingested into) and is
 * replaced whole: its chunks are the text units that are embedded and
 * keyword-indexed (SQLite: FTS5 with BM25).
 */
struct loom_document {
  const char *document_id;  /* required; unique per tenant */
  const char *collection;   /* NULL: "" */
  const char *source;       /* path or URL it came from (may be NULL) */
  const char *title;        /* may be NULL */
  const char *content_type; /* "text/markdown", ... (may be NULL) */
  const char *content_hash; /* hex digest of the raw content (may be NULL) */
  const json_t *metadata;   /* object or NULL; borrowed */
};

struct loom_chunk {
  const char *content;    /* required */
  const char *vector_id;  /* id of its vector in the index (may be NULL) */
  const json_t *metadata; /* object or NULL; borrowed */
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

  /*
   * Assistants: {"assistant_id", "graph_id", "name", "description",
   * "config", "context", "metadata", "version", "created_at",
   * "updated_at"}. Every change makes a new version; the row is the
   * current one.
   */
  /* Creates an assistant at version 1 from `row` (graph_id required;
   * assistant_id generated when absent; config, context, metadata default
   * to {}). `*out` is the stored row. */
  loom_err (*put_assistant)(struct loom_store *s, const char *tenant,
                            const json_t *row, enum loom_if_exists if_exists,
                            json_t **out, struct loom_error *e);
  loom_err (*get_assistant)(struct loom_store *s, const char *tenant,
                            const char *assistant_id, json_t **out,
                            struct loom_error *e);
  /* New version from `patch`: graph_id, name, description, config and
   * context replace when given, metadata is merged key by key. */
  loom_err (*update_assistant)(struct loom_store *s, const char *tenant,
                               const char *assistant_id, const json_t *patch,
                               json_t **out, struct loom_error *e);
  /* Makes an existing version the current one (LangGraph "set latest"). */
  loom_err (*set_assistant_version)(struct loom_store *s, const char *tenant,
                                    const char *assistant_id, int version,
                                    json_t **out, struct loom_error *e);
  /* `*out`: array of rows (uses metadata, graph_id, ids, sort, paging). */
  loom_err (*search_assistants)(struct loom_store *s, const char *tenant,
                                const struct loom_search *q, json_t **out,
                                struct loom_error *e);
  /* How many assistants match (uses metadata, graph_id, ids). */
  loom_err (*count_assistants)(struct loom_store *s, const char *tenant,
                               const struct loom_search *q, size_t *out,
                               struct loom_error *e);
  /* `*out`: array of versions newest first (uses metadata, paging). */
  loom_err (*list_assistant_versions)(struct loom_store *s, const char *tenant,
                                      const char *assistant_id,
                                      const struct loom_search *q, json_t **out,
                                      struct loom_error *e);
  /* Removes the assistant and its versions; LOOM_ERR_NOT_FOUND if none. */
  loom_err (*delete_assistant)(struct loom_store *s, const char *tenant,
                               const char *assistant_id, struct loom_error *e);

  /*
   * Threads: {"thread_id", "status", "metadata", "values", "interrupts",
   * "config", "created_at", "updated_at"}; status is idle, busy,
   * interrupted or error.
   */
  /* Creates a thread (thread_id generated when absent; status "idle"). */
  loom_err (*put_thread)(struct loom_store *s, const char *tenant,
                         const json_t *row, enum loom_if_exists if_exists,
                         json_t **out, struct loom_error *e);
  loom_err (*get_thread)(struct loom_store *s, const char *tenant,
                         const char *thread_id, json_t **out,
                         struct loom_error *e);
  /* status, values, interrupts and config replace when given; metadata is
   * merged key by key. `out` may be NULL. */
  loom_err (*update_thread)(struct loom_store *s, const char *tenant,
                            const char *thread_id, const json_t *patch,
                            json_t **out, struct loom_error *e);
  /* Uses metadata, values, ids, status, sort, paging. */
  loom_err (*search_threads)(struct loom_store *s, const char *tenant,
                             const struct loom_search *q, json_t **out,
                             struct loom_error *e);
  /* How many threads match (uses metadata, values, ids, status). */
  loom_err (*count_threads)(struct loom_store *s, const char *tenant,
                            const struct loom_search *q, size_t *out,
                            struct loom_error *e);
  /* Removes the thread, its runs and events, and its checkpoints. */
  loom_err (*delete_thread)(struct loom_store *s, const char *tenant,
                            const char *thread_id, struct loom_error *e);

  /*
   * Runs: {"run_id", "thread_id", "assistant_id", "status", "kwargs",
   * "metadata", "multitask_strategy", "error", "attempt", "created_at",
   * "updated_at", "started_at", "finished_at"}; status is pending, running,
   * success, error, timeout or interrupted. Runs of a thread are executed
   * one at a time, oldest first.
   */
  /* Inserts a run (run_id generated when absent; status "pending").
   * thread_id, when given, must name an existing thread of the tenant
   * (LOOM_ERR_NOT_FOUND otherwise). */
  loom_err (*put_run)(struct loom_store *s, const char *tenant,
                      const json_t *row, json_t **out, struct loom_error *e);
  loom_err (*get_run)(struct loom_store *s, const char *tenant,
                      const char *run_id, json_t **out, struct loom_error *e);
  /* Runs of a thread, newest first (uses status, paging). */
  loom_err (*list_runs)(struct loom_store *s, const char *tenant,
                        const char *thread_id, const struct loom_search *q,
                        json_t **out, struct loom_error *e);
  /* Sets the status, only if the current one is `expect` (NULL: any) —
   * LOOM_ERR_CONFLICT otherwise, e.g. cancelling a run that already
   * finished. `error` (may be NULL) is stored with it. A final status
   * clears the lease and sets finished_at. */
  loom_err (*set_run_status)(struct loom_store *s, const char *tenant,
                             const char *run_id, const char *status,
                             const char *expect, const json_t *error,
                             struct loom_error *e);
  loom_err (*delete_run)(struct loom_store *s, const char *tenant,
                         const char *run_id, struct loom_error *e);
  /*
   * The queue: atomically takes the oldest run, of any tenant, that is
   * pending, or running with an expired lease (its worker died), and whose
   * thread has no other run holding a live lease. The run becomes
   * "running", owned by `worker` until now + lease_ms, attempt + 1. `*out`
   * is its row plus "tenant_id"; LOOM_ERR_NOT_FOUND when nothing is ready.
   * (PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED.)
   */
  loom_err (*claim_run)(struct loom_store *s, const char *worker,
                        long long lease_ms, json_t **out, struct loom_error *e);
  /* Extends the lease of a run `worker` holds; LOOM_ERR_CONFLICT when it
   * lost it (expired and taken, or finished). */
  loom_err (*renew_run_lease)(struct loom_store *s, const char *tenant,
                              const char *run_id, const char *worker,
                              long long lease_ms, struct loom_error *e);

  /* Run events, for stream replay. Appends with the next seq of the run
   * (1, 2, ...), returned in `*seq` (may be NULL). */
  loom_err (*append_run_event)(struct loom_store *s, const char *tenant,
                               const char *run_id, const char *event,
                               const json_t *data, long long *seq,
                               struct loom_error *e);
  /* `*out`: array of {"seq", "event", "data"} with seq > after_seq, in
   * order, at most `limit` (0: LOOM_SEARCH_MAX_LIMIT). */
  loom_err (*read_run_events)(struct loom_store *s, const char *tenant,
                              const char *run_id, long long after_seq,
                              size_t limit, json_t **out, struct loom_error *e);

  /* Copies every checkpoint, blob and pending write of `from_thread` (all
   * namespaces) to `to_thread`, keeping ids (LangGraph's thread copy).
   * Rows `to_thread` already has are kept. */
  loom_err (*copy_thread_checkpoints)(struct loom_store *s, const char *tenant,
                                      const char *from_thread,
                                      const char *to_thread,
                                      struct loom_error *e);

  /*
   * Documents (see struct loom_document). Rows come out as {"document_id",
   * "collection", "source", "title", "content_type", "content_hash",
   * "metadata", "chunks" (count), "created_at", "updated_at"}.
   */
  /* Inserts or replaces the document and all its chunks (idx 0..n-1) in
   * one transaction, keeping created_at of a replaced one. */
  loom_err (*put_document)(struct loom_store *s, const char *tenant,
                           const struct loom_document *doc,
                           const struct loom_chunk *chunks, size_t nchunks,
                           struct loom_error *e);
  /* LOOM_ERR_NOT_FOUND when absent. */
  loom_err (*get_document)(struct loom_store *s, const char *tenant,
                           const char *document_id, json_t **out,
                           struct loom_error *e);
  /* Documents of a collection (NULL: all), oldest first. */
  loom_err (*list_documents)(struct loom_store *s, const char *tenant,
                             const char *collection, json_t **out,
                             struct loom_error *e);
  /* Removes the document and its chunks; `*vector_ids` (when not NULL)
   * receives an array of the vector ids its chunks had, for the caller to
   * delete from the vector index. LOOM_ERR_NOT_FOUND when absent. */
  loom_err (*delete_document)(struct loom_store *s, const char *tenant,
                              const char *document_id, json_t **vector_ids,
                              struct loom_error *e);
  /* Keyword search over the chunks of a collection: `query` is plain text
   * (its words are matched, any of them; ranking by BM25). `*out` is an
   * array, best first, of at most `limit` {"document_id", "idx",
   * "content", "vector_id", "metadata", "score"} (higher score better). */
  loom_err (*search_chunks)(struct loom_store *s, const char *tenant,
                            const char *collection, const char *query,
                            size_t limit, json_t **out, struct loom_error *e);

  /*
   * Agent memories (agents/rag_memory.h): rows {"memory_id", "namespace",
   * "kind", "key", "content", "metadata", "created_at", "updated_at",
   * "expires_at"} (expires_at null when it never expires).
   */
  /* Stores {"namespace", "kind", "content", "key"?, "metadata"?,
   * "ttl_ms"?}: with a key, the memory of that (namespace, kind, key) is
   * replaced (same memory_id); without, a new one is added. `*out` (may
   * be NULL) is the stored row. */
  loom_err (*put_memory)(struct loom_store *s, const char *tenant,
                         const json_t *row, json_t **out, struct loom_error *e);
  /* Unexpired memories of a namespace, newest first, at most `limit`
   * (0: LOOM_SEARCH_MAX_LIMIT); kind and key NULL match any. */
  loom_err (*list_memories)(struct loom_store *s, const char *tenant,
                            const char *ns, const char *kind, const char *key,
                            size_t limit, json_t **out, struct loom_error *e);
  /* Deletes memory `id` of the namespace, or all of it when id is NULL;
   * `*deleted` (may be NULL) counts. */
  loom_err (*delete_memories)(struct loom_store *s, const char *tenant,
                              const char *ns, const char *id, size_t *deleted,
                              struct loom_error *e);
  /* Unexpired memories of `kind` whose namespace is `prefix` or lies
   * under it (`prefix` "." more; "" is every namespace), most recently
   * updated first (ties by namespace, then key). Each row goes to `keep`
   * (NULL keeps all), which may add fields to it; of those kept, the
   * first `offset` are skipped and at most `limit` (0:
   * LOOM_SEARCH_MAX_LIMIT) make the array `*out`. */
  loom_err (*search_memories)(struct loom_store *s, const char *tenant,
                              const char *kind, const char *prefix,
                              bool (*keep)(void *ud, json_t *row), void *ud,
                              size_t offset, size_t limit, json_t **out,
                              struct loom_error *e);
  /* The distinct namespaces (strings, bytewise order) of unexpired
   * memories of `kind` at or under `prefix` (as search_memories), at most
   * `limit` (0: LOOM_MEMORY_MAX_NAMESPACES). */
  loom_err (*list_memory_namespaces)(struct loom_store *s, const char *tenant,
                                     const char *kind, const char *prefix,
                                     size_t limit, json_t **out,
                                     struct loom_error *e);
  /* Moves the expiry of memory `id`, when it has one and has not passed,
   * to `ttl_ms` from now (updated_at stays). Absent or expired: LOOM_OK,
   * nothing changes. */
  loom_err (*touch_memory)(struct loom_store *s, const char *tenant,
                           const char *id, long long ttl_ms,
                           struct loom_error *e);
  /* Deletes at most `limit` memories of `kind` (NULL: any) whose expiry
   * has passed, the longest expired first, whatever their namespace;
   * `*deleted` counts them. `*next_ms` (may be NULL) receives the
   * earliest expiry still ahead among the rest (ms since the epoch; 0:
   * none), when the next call has something to do. */
  loom_err (*purge_memories)(struct loom_store *s, const char *tenant,
                             const char *kind, size_t limit, size_t *deleted,
                             long long *next_ms, struct loom_error *e);

  /* Group commit. Between batch_begin and batch_end, every call made by
   * the calling thread joins one transaction (each call still succeeds or
   * fails on its own, as a savepoint); batch_end commits them together
   * (`commit` false: rolls all back) and fails when the commit does, in
   * which case none of them happened. Other threads' calls are not in it
   * (they wait for its write lock like for any writer). NULL: calls commit
   * one by one. */
  loom_err (*batch_begin)(struct loom_store *s, struct loom_error *e);
  loom_err (*batch_end)(struct loom_store *s, bool commit,
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
static inline loom_err loom_store_put_checkpoint(
    struct loom_store *s, const char *tenant, const struct loom_checkpoint *cp,
    const struct loom_blob *blobs, size_t nblobs, struct loom_error *e) {
  return s->ops->put_checkpoint(s, tenant, cp, blobs, nblobs, e);
}
static inline loom_err
loom_store_get_checkpoint(struct loom_store *s, const char *tenant,
                          const char *thread_id, const char *ns, const char *id,
                          struct loom_checkpoint **out, struct loom_error *e) {
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

/* Assistants, threads, runs, run events: see the ops above. */
/*
 * LOOM_ERR_UNSUPPORTED with a message naming the backend and `op`: what
 * the wrappers below return when a backend leaves an op NULL (e.g. a
 * checkpoint-only test store).
 */
loom_err loom_store_unsupported(const struct loom_store *s, const char *op,
                                struct loom_error *e);

#define LOOM_STORE_CALL(op, e, ...)                                            \
  (s->ops->op ? s->ops->op(s, __VA_ARGS__) : loom_store_unsupported(s, #op, e))
static inline loom_err
loom_store_put_assistant(struct loom_store *s, const char *tenant,
                         const json_t *row, enum loom_if_exists ie,
                         json_t **out, struct loom_error *e) {
  return LOOM_STORE_CALL(put_assistant, e, tenant, row, ie, out, e);
}
static inline loom_err loom_store_get_assistant(struct loom_store *s,
                                                const char *tenant,
                                                const char *id, json_t **out,
                                                struct loom_error *e) {
  return LOOM_STORE_CALL(get_assistant, e, tenant, id, out, e);
}
static inline loom_err
loom_store_update_assistant(struct loom_store *s, const char *tenant,
                            const char *id, const json_t *patch, json_t **out,
                            struct loom_error *e) {
  return LOOM_STORE_CALL(update_assistant, e, tenant, id, patch, out, e);
}
static inline loom_err
loom_store_set_assistant_version(struct loom_store *s, const char *tenant,
                                 const char *id, int version, json_t **out,
                                 struct loom_error *e) {
  return LOOM_STORE_CALL(set_assistant_version, e, tenant, id, version, out, e);
}
static inline loom_err loom_store_search_assistants(struct loom_store *s,
                                                    const char *tenant,
                                                    const struct loom_search *q,
                                                    json_t **out,
                                                    struct loom_error *e) {
  return LOOM_STORE_CALL(search_assistants, e, tenant, q, out, e);
}
static inline loom_err loom_store_count_assistants(struct loom_store *s,
                                                   const char *tenant,
                                                   const struct loom_search *q,
                                                   size_t *out,
                                                   struct loom_error *e) {
  return LOOM_STORE_CALL(count_assistants, e, tenant, q, out, e);
}
static inline loom_err
loom_store_list_assistant_versions(struct loom_store *s, const char *tenant,
                                   const char *id, const struct loom_search *q,
                                   json_t **out, struct loom_error *e) {
  return LOOM_STORE_CALL(list_assistant_versions, e, tenant, id, q, out, e);
}
static inline loom_err loom_store_delete_assistant(struct loom_store *s,
                                                   const char *tenant,
                                                   const char *id,
                                                   struct loom_error *e) {
  return LOOM_STORE_CALL(delete_assistant, e, tenant, id, e);
}
static inline loom_err
loom_store_put_thread(struct loom_store *s, const char *tenant,
                      const json_t *row, enum loom_if_exists ie, json_t **out,
                      struct loom_error *e) {
  return LOOM_STORE_CALL(put_thread, e, tenant, row, ie, out, e);
}
static inline loom_err loom_store_get_thread(struct loom_store *s,
                                             const char *tenant, const char *id,
                                             json_t **out,
                                             struct loom_error *e) {
  return LOOM_STORE_CALL(get_thread, e, tenant, id, out, e);
}
static inline loom_err
loom_store_update_thread(struct loom_store *s, const char *tenant,
                         const char *id, const json_t *patch, json_t **out,
                         struct loom_error *e) {
  return LOOM_STORE_CALL(update_thread, e, tenant, id, patch, out, e);
}
static inline loom_err loom_store_search_threads(struct loom_store *s,
                                                 const char *tenant,
                                                 const struct loom_search *q,
                                                 json_t **out,
                                                 struct loom_error *e) {
  return LOOM_STORE_CALL(search_threads, e, tenant, q, out, e);
}
static inline loom_err loom_store_count_threads(struct loom_store *s,
                                                const char *tenant,
                                                const struct loom_search *q,
                                                size_t *out,
                                                struct loom_error *e) {
  return LOOM_STORE_CALL(count_threads, e, tenant, q, out, e);
}
static inline loom_err loom_store_delete_thread(struct loom_store *s,
                                                const char *tenant,
                                                const char *id,
                                                struct loom_error *e) {
  return LOOM_STORE_CALL(delete_thread, e, tenant, id, e);
}
static inline loom_err loom_store_put_run(struct loom_store *s,
                                          const char *tenant, const json_t *row,
                                          json_t **out, struct loom_error *e) {
  return LOOM_STORE_CALL(put_run, e, tenant, row, out, e);
}
static inline loom_err loom_store_get_run(struct loom_store *s,
                                          const char *tenant,
                                          const char *run_id, json_t **out,
                                          struct loom_error *e) {
  return LOOM_STORE_CALL(get_run, e, tenant, run_id, out, e);
}
static inline loom_err
loom_store_list_runs(struct loom_store *s, const char *tenant,
                     const char *thread_id, const struct loom_search *q,
                     json_t **out, struct loom_error *e) {
  return LOOM_STORE_CALL(list_runs, e, tenant, thread_id, q, out, e);
}
static inline loom_err
loom_store_set_run_status(struct loom_store *s, const char *tenant,
                          const char *run_id, const char *status,
                          const char *expect, const json_t *error,
                          struct loom_error *e) {
  return LOOM_STORE_CALL(set_run_status, e, tenant, run_id, status, expect,
                         error, e);
}
static inline loom_err loom_store_delete_run(struct loom_store *s,
                                             const char *tenant,
                                             const char *run_id,
                                             struct loom_error *e) {
  return LOOM_STORE_CALL(delete_run, e, tenant, run_id, e);
}
static inline loom_err loom_store_claim_run(struct loom_store *s,
                                            const char *worker,
                                            long long lease_ms, json_t **out,
                                            struct loom_error *e) {
  return LOOM_STORE_CALL(claim_run, e, worker, lease_ms, out, e);
}
static inline loom_err
loom_store_renew_run_lease(struct loom_store *s, const char *tenant,
                           const char *run_id, const char *worker,
                           long long lease_ms, struct loom_error *e) {
  return LOOM_STORE_CALL(renew_run_lease, e, tenant, run_id, worker, lease_ms,
                         e);
}
static inline loom_err
loom_store_append_run_event(struct loom_store *s, const char *tenant,
                            const char *run_id, const char *event,
                            const json_t *data, long long *seq,
                            struct loom_error *e) {
  return LOOM_STORE_CALL(append_run_event, e, tenant, run_id, event, data, seq,
                         e);
}
static inline loom_err
loom_store_read_run_events(struct loom_store *s, const char *tenant,
                           const char *run_id, long long after_seq,
                           size_t limit, json_t **out, struct loom_error *e) {
  return LOOM_STORE_CALL(read_run_events, e, tenant, run_id, after_seq, limit,
                         out, e);
}
/* Group commit (see batch_begin above); without backend support each call
 * commits by itself and these succeed. */
static inline loom_err loom_store_batch_begin(struct loom_store *s,
                                              struct loom_error *e) {
  return s->ops->batch_begin ? s->ops->batch_begin(s, e) : LOOM_OK;
}
static inline loom_err loom_store_batch_end(struct loom_store *s, bool commit,
                                            struct loom_error *e) {
  return s->ops->batch_end ? s->ops->batch_end(s, commit, e) : LOOM_OK;
}
static inline loom_err loom_store_copy_thread_checkpoints(
    struct loom_store *s, const char *tenant, const char *from_thread,
    const char *to_thread, struct loom_error *e) {
  return LOOM_STORE_CALL(copy_thread_checkpoints, e, tenant, from_thread,
                         to_thread, e);
}
static inline loom_err loom_store_put_document(struct loom_store *s,
                                               const char *tenant,
                                               const struct loom_document *doc,
                                               const struct loom_chunk *chunks,
                                               size_t n, struct loom_error *e) {
  return LOOM_STORE_CALL(put_document, e, tenant, doc, chunks, n, e);
}
static inline loom_err loom_store_get_document(struct loom_store *s,
                                               const char *tenant,
                                               const char *id, json_t **out,
                                               struct loom_error *e) {
  return LOOM_STORE_CALL(get_document, e, tenant, id, out, e);
}
static inline loom_err loom_store_list_documents(struct loom_store *s,
                                                 const char *tenant,
                                                 const char *collection,
                                                 json_t **out,
                                                 struct loom_error *e) {
  return LOOM_STORE_CALL(list_documents, e, tenant, collection, out, e);
}
static inline loom_err loom_store_delete_document(struct loom_store *s,
                                                  const char *tenant,
                                                  const char *id,
                                                  json_t **vector_ids,
                                                  struct loom_error *e) {
  return LOOM_STORE_CALL(delete_document, e, tenant, id, vector_ids, e);
}
static inline loom_err
loom_store_search_chunks(struct loom_store *s, const char *tenant,
                         const char *collection, const char *query,
                         size_t limit, json_t **out, struct loom_error *e) {
  return LOOM_STORE_CALL(search_chunks, e, tenant, collection, query, limit,
                         out, e);
}
static inline loom_err loom_store_put_memory(struct loom_store *s,
                                             const char *tenant,
                                             const json_t *row, json_t **out,
                                             struct loom_error *e) {
  return LOOM_STORE_CALL(put_memory, e, tenant, row, out, e);
}
static inline loom_err
loom_store_list_memories(struct loom_store *s, const char *tenant,
                         const char *ns, const char *kind, const char *key,
                         size_t limit, json_t **out, struct loom_error *e) {
  return LOOM_STORE_CALL(list_memories, e, tenant, ns, kind, key, limit, out,
                         e);
}
static inline loom_err
loom_store_delete_memories(struct loom_store *s, const char *tenant,
                           const char *ns, const char *id, size_t *deleted,
                           struct loom_error *e) {
  return LOOM_STORE_CALL(delete_memories, e, tenant, ns, id, deleted, e);
}
static inline loom_err loom_store_search_memories(
    struct loom_store *s, const char *tenant, const char *kind,
    const char *prefix, bool (*keep)(void *ud, json_t *row), void *ud,
    size_t offset, size_t limit, json_t **out, struct loom_error *e) {
  return LOOM_STORE_CALL(search_memories, e, tenant, kind, prefix, keep, ud,
                         offset, limit, out, e);
}
static inline loom_err loom_store_list_memory_namespaces(
    struct loom_store *s, const char *tenant, const char *kind,
    const char *prefix, size_t limit, json_t **out, struct loom_error *e) {
  return LOOM_STORE_CALL(list_memory_namespaces, e, tenant, kind, prefix, limit,
                         out, e);
}
static inline loom_err loom_store_touch_memory(struct loom_store *s,
                                               const char *tenant,
                                               const char *id, long long ttl_ms,
                                               struct loom_error *e) {
  return LOOM_STORE_CALL(touch_memory, e, tenant, id, ttl_ms, e);
}
static inline loom_err
loom_store_purge_memories(struct loom_store *s, const char *tenant,
                          const char *kind, size_t limit, size_t *deleted,
                          long long *next_ms, struct loom_error *e) {
  return LOOM_STORE_CALL(purge_memories, e, tenant, kind, limit, deleted,
                         next_ms, e);
}
#undef LOOM_STORE_CALL

/* Frees a checkpoint handed out by get/list and everything it holds;
 * NULL is fine. */
void loom_checkpoint_free(struct loom_checkpoint *cp);

#endif
