/*
 * stores/internal.h — helpers shared by the storage backends; not for
 * callers outside src/stores.
 *
 * The SQLite backend keeps a small pool of connections (struct sqlite_conn).
 * An operation borrows one for its duration (conn_acquire/conn_release), so
 * a connection is only ever used by one thread at a time and the store as a
 * whole is thread-safe. A connection caches its prepared statements by
 * number (enum stmt_id), prepared on first use.
 */
#ifndef LOOM_STORES_INTERNAL_H
#define LOOM_STORES_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "stores/store.h"

/* ---- schema (schema.c): backend-neutral migrations ---- */

enum schema_dialect {
  SCHEMA_SQLITE,
  SCHEMA_POSTGRES,
};

struct schema_migration {
  int version;
  const char *name;
  const char *ddl; /* statements separated by ';', JSON columns typed @json */
  const char *sqlite_ddl; /* NULL: ddl; else SQLite's own (e.g. FTS5) */
};

/* The migrations in order; `*count` receives how many. */
const struct schema_migration *schema_migrations(size_t *count);

/* The DDL of `m` for `dialect` (@json -> TEXT or JSONB); loom_free it. */
char *schema_translate(const struct schema_migration *m,
                       enum schema_dialect dialect);

/* ---- shared helpers (store.c) ---- */

/* True when every key of `filter` (an object or NULL) is present in `obj`
 * with an equal value. */
bool store_json_contains(const json_t *obj, const json_t *filter);

/* True when `row` passes the search's JSON filters: "metadata" and
 * "values" contain q's, and its `id_key` field is in q->ids when set. */
bool store_row_matches(const json_t *row, const struct loom_search *q,
                       const char *id_key);

/* Fills `e` with LOOM_ERR_INVALID when `tenant` is NULL or empty. */
loom_err store_check_tenant(const char *tenant, struct loom_error *e);

/* ---- SQLite backend ---- */

/* Cached statements, one per query the backend makes. */
enum stmt_id {
  STMT_BEGIN,
  STMT_BEGIN_IMMEDIATE,
  STMT_COMMIT,
  STMT_ROLLBACK,
  STMT_SAVEPOINT, /* a call inside a batch (store_sqlite.c) */
  STMT_RELEASE,
  STMT_ROLLBACK_TO,
  /* checkpoints */
  STMT_CP_INSERT,
  STMT_CP_BLOB_INSERT,
  STMT_CP_LATEST,
  STMT_CP_BY_ID,
  STMT_CP_BLOB_GET,
  STMT_CP_WRITES_GET,
  STMT_CP_LIST,
  STMT_CP_LIST_BEFORE,
  STMT_CP_WRITE_INSERT,
  STMT_CP_DEL_WRITES,
  STMT_CP_DEL_BLOBS,
  STMT_CP_DEL,
  STMT_CP_COPY,
  STMT_CP_COPY_BLOBS,
  STMT_CP_COPY_WRITES,
  /* assistants */
  STMT_AS_GET,
  STMT_AS_INSERT,
  STMT_AS_UPDATE,
  STMT_AS_VERSION_INSERT,
  STMT_AS_VERSION_MAX,
  STMT_AS_VERSION_GET,
  STMT_AS_VERSIONS,
  STMT_AS_DELETE,
  /* threads */
  STMT_TH_GET,
  STMT_TH_INSERT,
  STMT_TH_UPDATE,
  STMT_TH_DELETE,
  /* runs and their events */
  STMT_RUN_GET,
  STMT_RUN_INSERT,
  STMT_RUN_LIST,
  STMT_RUN_SET_STATUS,
  STMT_RUN_DELETE,
  STMT_RUN_CLAIM_PICK,
  STMT_RUN_CLAIM_TAKE,
  STMT_RUN_RENEW,
  STMT_RUN_EXISTS,
  STMT_EV_APPEND,
  STMT_EV_READ,
  STMT__COUNT
};

/* Statements whose text varies (a search's ORDER BY) are cached by text,
 * a few per connection, the oldest replaced first. */
#define DYN_STMT_MAX 16

struct sqlite_conn {
  sqlite3 *db;
  sqlite3_stmt *stmts[STMT__COUNT];
  struct {
    char *sql;
    sqlite3_stmt *stmt;
  } dyn[DYN_STMT_MAX];
  unsigned dyn_next;
  struct sqlite_conn *next; /* in the idle list */
  bool batch;               /* holds a batch: calls nest as savepoints */
  int savepoints;           /* open savepoints of calls inside the batch */
};

struct sqlite_store {
  struct loom_store base;
  char *path;
  /* The one lock of the backend: guards the idle list, held only to push
   * or pop a connection, never during a query. */
  pthread_mutex_t lock;
  struct sqlite_conn *idle;
  size_t nidle;
  /* The WAL checkpointer (store_sqlite.c), under ckpt_lock. */
  pthread_mutex_t ckpt_lock;
  pthread_cond_t ckpt_cond;
  pthread_t ckpt_thread;
  bool ckpt_running, ckpt_wanted, ckpt_stop;
};

static inline struct sqlite_store *sqlite_of(struct loom_store *s) {
  return (struct sqlite_store *)s;
}

/* Borrows a connection (an idle one, else a newly opened one). */
loom_err conn_acquire(struct sqlite_store *st, struct sqlite_conn **out,
                      struct loom_error *e);
/* Returns it to the pool; rolls back a transaction left open. */
void conn_release(struct sqlite_store *st, struct sqlite_conn *c);

/* The statement cached in slot `id`, prepared from `sql` on first use
 * (each slot always gets the same text), reset and unbound, ready to bind. */
loom_err conn_stmt(struct sqlite_conn *c, enum stmt_id id, const char *sql,
                   sqlite3_stmt **out, struct loom_error *e);

/* Like conn_stmt for SQL built at run time, cached by its text. */
loom_err conn_stmt_sql(struct sqlite_conn *c, const char *sql,
                       sqlite3_stmt **out, struct loom_error *e);

/* Transactions: BEGIN (deferred, for reads), BEGIN IMMEDIATE (for writes,
 * so the busy timeout applies instead of failing on upgrade), COMMIT,
 * ROLLBACK (never fails: used on error paths). */
loom_err tx_begin(struct sqlite_conn *c, bool write, struct loom_error *e);
loom_err tx_commit(struct sqlite_conn *c, struct loom_error *e);
void tx_rollback(struct sqlite_conn *c);

/* Maps the connection's last error to a loom_err with a message that says
 * what was being done. */
loom_err db_error(struct sqlite_conn *c, int rc, const char *what,
                  struct loom_error *e);

/* Steps a statement that returns no rows (or ignores them); resets it. */
loom_err stmt_exec(struct sqlite_conn *c, sqlite3_stmt *stmt, const char *what,
                   struct loom_error *e);

/* Binding: NULL strings and JSON bind SQL NULL. */
void bind_text(sqlite3_stmt *stmt, int idx, const char *s);
void bind_json(sqlite3_stmt *stmt, int idx, const json_t *v);

/* Reading: a fresh copy of a text column (NULL for SQL NULL); a JSON
 * column parsed (NULL for SQL NULL or, which cannot happen for values we
 * wrote, malformed text). */
char *col_strdup(sqlite3_stmt *stmt, int idx);
json_t *col_json(sqlite3_stmt *stmt, int idx);
/* A JSON column, or a new empty object when it is NULL. */
json_t *col_json_object(sqlite3_stmt *stmt, int idx);
/* A JSON column, or JSON null when it is SQL NULL. */
json_t *col_json_or_null(sqlite3_stmt *stmt, int idx);
/* A millisecond timestamp column as the API's RFC 3339 string. */
json_t *col_iso_time(sqlite3_stmt *stmt, int idx);
/* A text column as a JSON string, or JSON null. */
json_t *col_json_string(sqlite3_stmt *stmt, int idx);

/* Current wall time in ms, as bound to timestamp columns. */
sqlite3_int64 now_ms(void);

/* The limit a search asks for, defaulted and capped. */
size_t search_limit(const struct loom_search *q);

/* Steps a bound statement, builds a row per result with `row_cb`, keeps
 * those that pass store_row_matches (`id_key`: the row's id field), and
 * applies the search's offset and limit: `*out` is the array. With `out`
 * NULL, counts every match into `*count` instead, without paging. */
loom_err collect_rows(struct sqlite_conn *c, sqlite3_stmt *st,
                      json_t *(*row_cb)(sqlite3_stmt *st), const char *id_key,
                      const struct loom_search *q, json_t **out, size_t *count,
                      struct loom_error *e);

/*
 * Reads the one row of a tenant that `sql` (prepared once as `stmt`, with
 * ?1 the tenant and ?2 the id) selects, built by `row_cb`. NOT_FOUND says
 * "<noun> '<id>' not found"; other failures are "reading a <noun>".
 */
loom_err load_row(struct sqlite_conn *c, enum stmt_id stmt, const char *sql,
                  const char *noun, json_t *(*row_cb)(sqlite3_stmt *st),
                  const char *tenant, const char *id, json_t **out,
                  struct loom_error *e);

/* One table as find_rows reads it. */
struct row_table {
  const char *name;            /* "assistants" */
  const char *columns;         /* the SELECT list that row_cb reads */
  const char *id_key;          /* id column (and row field): the tie-break */
  const char *filter_column;   /* compared with find_rows' filter_value */
  const char *const *sortable; /* for sort_column */
  json_t *(*row_cb)(sqlite3_stmt *st);
};

/* Search (`out` set) or count (`count` set) of a tenant's rows of `t`,
 * sorted as `q` asks; `filter_value` (may be NULL: no filter) must equal
 * the table's filter column. Paging and row filters as collect_rows. */
loom_err find_rows(struct loom_store *s, const struct row_table *t,
                   const char *tenant, const struct loom_search *q,
                   const char *filter_value, json_t **out, size_t *count,
                   struct loom_error *e);

/* Looks `sort_by` up in `allowed` (pairs of API field, SQL column, NULL
 * terminated); NULL sort_by is created_at. LOOM_ERR_INVALID otherwise. */
loom_err sort_column(const char *sort_by, const char *const *allowed,
                     const char **column, struct loom_error *e);

/* Merges `patch` into `row` ("metadata" merged key by key, `keys` listed
 * replace when present in patch). */
void merge_patch(json_t *row, const json_t *patch, const char *const *keys);

/* Copies a string field of `row` or, when absent, a fresh UUIDv7. */
char *row_id_or_new(const json_t *row, const char *key);

/* Backend entry points, one file per concept. */
loom_err sqlite_store_open(const char *path, struct loom_store **out,
                           struct loom_error *e);

/* sqlite_checkpoints.c */
loom_err sqlite_put_checkpoint(struct loom_store *s, const char *tenant,
                               const struct loom_checkpoint *cp,
                               const struct loom_blob *blobs, size_t nblobs,
                               struct loom_error *e);
loom_err sqlite_get_checkpoint(struct loom_store *s, const char *tenant,
                               const char *thread_id, const char *ns,
                               const char *id, struct loom_checkpoint **out,
                               struct loom_error *e);
loom_err sqlite_list_checkpoints(struct loom_store *s, const char *tenant,
                                 const struct loom_checkpoint_query *q,
                                 bool (*each)(const struct loom_checkpoint *cp,
                                              void *arg),
                                 void *arg, struct loom_error *e);
loom_err sqlite_put_writes(struct loom_store *s, const char *tenant,
                           const char *thread_id, const char *ns,
                           const char *checkpoint_id, const char *task_id,
                           const json_t *writes, struct loom_error *e);
loom_err sqlite_delete_thread_checkpoints(struct loom_store *s,
                                          const char *tenant,
                                          const char *thread_id,
                                          struct loom_error *e);
loom_err sqlite_copy_thread_checkpoints(struct loom_store *s,
                                        const char *tenant,
                                        const char *from_thread,
                                        const char *to_thread,
                                        struct loom_error *e);
/* delete_thread_checkpoints inside the caller's write transaction. */
loom_err sqlite_delete_checkpoints_in(struct sqlite_conn *c, const char *tenant,
                                      const char *thread_id,
                                      struct loom_error *e);

/* sqlite_assistants.c */
loom_err sqlite_put_assistant(struct loom_store *s, const char *tenant,
                              const json_t *row, enum loom_if_exists ie,
                              json_t **out, struct loom_error *e);
loom_err sqlite_get_assistant(struct loom_store *s, const char *tenant,
                              const char *id, json_t **out,
                              struct loom_error *e);
loom_err sqlite_update_assistant(struct loom_store *s, const char *tenant,
                                 const char *id, const json_t *patch,
                                 json_t **out, struct loom_error *e);
loom_err sqlite_set_assistant_version(struct loom_store *s, const char *tenant,
                                      const char *id, int version, json_t **out,
                                      struct loom_error *e);
loom_err sqlite_search_assistants(struct loom_store *s, const char *tenant,
                                  const struct loom_search *q, json_t **out,
                                  struct loom_error *e);
loom_err sqlite_count_assistants(struct loom_store *s, const char *tenant,
                                 const struct loom_search *q, size_t *out,
                                 struct loom_error *e);
loom_err sqlite_list_assistant_versions(struct loom_store *s,
                                        const char *tenant, const char *id,
                                        const struct loom_search *q,
                                        json_t **out, struct loom_error *e);
loom_err sqlite_delete_assistant(struct loom_store *s, const char *tenant,
                                 const char *id, struct loom_error *e);

/* sqlite_threads.c */
loom_err sqlite_put_thread(struct loom_store *s, const char *tenant,
                           const json_t *row, enum loom_if_exists ie,
                           json_t **out, struct loom_error *e);
loom_err sqlite_get_thread(struct loom_store *s, const char *tenant,
                           const char *id, json_t **out, struct loom_error *e);
loom_err sqlite_update_thread(struct loom_store *s, const char *tenant,
                              const char *id, const json_t *patch, json_t **out,
                              struct loom_error *e);
loom_err sqlite_search_threads(struct loom_store *s, const char *tenant,
                               const struct loom_search *q, json_t **out,
                               struct loom_error *e);
loom_err sqlite_count_threads(struct loom_store *s, const char *tenant,
                              const struct loom_search *q, size_t *out,
                              struct loom_error *e);
loom_err sqlite_delete_thread(struct loom_store *s, const char *tenant,
                              const char *id, struct loom_error *e);

/* sqlite_runs.c */
loom_err sqlite_put_run(struct loom_store *s, const char *tenant,
                        const json_t *row, json_t **out, struct loom_error *e);
loom_err sqlite_get_run(struct loom_store *s, const char *tenant,
                        const char *run_id, json_t **out, struct loom_error *e);
loom_err sqlite_list_runs(struct loom_store *s, const char *tenant,
                          const char *thread_id, const struct loom_search *q,
                          json_t **out, struct loom_error *e);
loom_err sqlite_set_run_status(struct loom_store *s, const char *tenant,
                               const char *run_id, const char *status,
                               const char *expect, const json_t *error,
                               struct loom_error *e);
loom_err sqlite_delete_run(struct loom_store *s, const char *tenant,
                           const char *run_id, struct loom_error *e);
loom_err sqlite_claim_run(struct loom_store *s, const char *worker,
                          long long lease_ms, json_t **out,
                          struct loom_error *e);
loom_err sqlite_renew_run_lease(struct loom_store *s, const char *tenant,
                                const char *run_id, const char *worker,
                                long long lease_ms, struct loom_error *e);
loom_err sqlite_append_run_event(struct loom_store *s, const char *tenant,
                                 const char *run_id, const char *event,
                                 const json_t *data, long long *seq,
                                 struct loom_error *e);
loom_err sqlite_read_run_events(struct loom_store *s, const char *tenant,
                                const char *run_id, long long after_seq,
                                size_t limit, json_t **out,
                                struct loom_error *e);
/* documents and chunks (sqlite_documents.c) */
loom_err sqlite_put_document(struct loom_store *s, const char *tenant,
                             const struct loom_document *doc,
                             const struct loom_chunk *chunks, size_t n,
                             struct loom_error *e);
loom_err sqlite_get_document(struct loom_store *s, const char *tenant,
                             const char *id, json_t **out,
                             struct loom_error *e);
loom_err sqlite_list_documents(struct loom_store *s, const char *tenant,
                               const char *collection, json_t **out,
                               struct loom_error *e);
loom_err sqlite_delete_document(struct loom_store *s, const char *tenant,
                                const char *id, json_t **vector_ids,
                                struct loom_error *e);
loom_err sqlite_search_chunks(struct loom_store *s, const char *tenant,
                              const char *collection, const char *query,
                              size_t limit, json_t **out, struct loom_error *e);
/* agent memories (sqlite_memories.c) */
loom_err sqlite_put_memory(struct loom_store *s, const char *tenant,
                           const json_t *row, json_t **out,
                           struct loom_error *e);
loom_err sqlite_list_memories(struct loom_store *s, const char *tenant,
                              const char *ns, const char *kind, const char *key,
                              size_t limit, json_t **out, struct loom_error *e);
loom_err sqlite_delete_memories(struct loom_store *s, const char *tenant,
                                const char *ns, const char *id, size_t *deleted,
                                struct loom_error *e);
loom_err sqlite_search_memories(struct loom_store *s, const char *tenant,
                                const char *kind, const char *prefix,
                                bool (*keep)(void *ud, json_t *row), void *ud,
                                size_t offset, size_t limit, json_t **out,
                                struct loom_error *e);
loom_err sqlite_list_memory_namespaces(struct loom_store *s, const char *tenant,
                                       const char *kind, const char *prefix,
                                       size_t limit, json_t **out,
                                       struct loom_error *e);
loom_err sqlite_touch_memory(struct loom_store *s, const char *tenant,
                             const char *id, long long ttl_ms,
                             struct loom_error *e);
loom_err sqlite_purge_memories(struct loom_store *s, const char *tenant,
                               const char *kind, size_t limit, size_t *deleted,
                               long long *next_ms, struct loom_error *e);

#endif
