/*
 * store_sqlite — the embedded storage backend: one SQLite file in WAL mode.
 *
 * Threads: a small pool of connections. Each call borrows one connection
 * for its duration and gives it back, so a connection is used by one thread
 * at a time (opened with SQLITE_OPEN_NOMUTEX) and calls from many threads
 * run in parallel (WAL: readers never block, one writer at a time). When no
 * connection is idle a new one is opened rather than waiting, so a callback
 * that calls the store again cannot deadlock; at most POOL_IDLE_MAX idle
 * connections are kept. The only lock guards the idle list.
 *
 * Every connection: busy_timeout (writers queue instead of failing),
 * synchronous=NORMAL (a commit survives the process dying; it is on disk
 * at the next WAL checkpoint, safe against corruption), foreign_keys=ON.
 *
 * WAL checkpoints run on a thread of their own. SQLite's default runs one
 * inside the commit that grows the WAL past 1,000 pages, fsync included,
 * so that commit (a client's create, say) takes milliseconds instead of
 * microseconds. Here a WAL hook only wakes the checkpointer, which runs a
 * PASSIVE checkpoint (it never blocks writers or readers) on its own
 * connection. Writes use BEGIN IMMEDIATE so the busy
 * timeout applies (a deferred transaction that upgrades to a write fails
 * at once with SQLITE_BUSY). Statements are prepared once per connection
 * and cached by slot (enum stmt_id).
 *
 * Group commit (batch_begin/batch_end): the calling thread keeps one
 * connection with an open write transaction; conn_acquire hands that
 * connection to every call the thread makes meanwhile, and their own
 * transactions become savepoints, so each call still fails alone while
 * all of them share one commit (one WAL append, one lock round).
 *
 * The queries themselves live in one file per concept: sqlite_checkpoints.c,
 * sqlite_assistants.c, sqlite_threads.c, sqlite_runs.c.
 */
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "stores/internal.h"

#define POOL_IDLE_MAX 8
#define BUSY_TIMEOUT_MS 5000

/* ---- connections ---- */

static void conn_close(struct sqlite_conn *c) {
  for (int i = 0; i < STMT__COUNT; i++)
    sqlite3_finalize(c->stmts[i]);
  for (int i = 0; i < DYN_STMT_MAX; i++) {
    sqlite3_finalize(c->dyn[i].stmt);
    loom_free(c->dyn[i].sql);
  }
  sqlite3_close(c->db);
  loom_free(c);
}

#define WAL_CHECKPOINT_PAGES 1000

/* After each commit, on the committing thread: ask for a checkpoint. */
static int wal_hook_cb(void *arg, sqlite3 *db, const char *name, int pages) {
  (void)db;
  (void)name;
  struct sqlite_store *st = arg;
  if (pages < WAL_CHECKPOINT_PAGES)
    return SQLITE_OK;
  pthread_mutex_lock(&st->ckpt_lock);
  st->ckpt_wanted = true;
  pthread_cond_signal(&st->ckpt_cond);
  pthread_mutex_unlock(&st->ckpt_lock);
  return SQLITE_OK;
}

static loom_err conn_open(struct sqlite_store *st, struct sqlite_conn **out,
                          struct loom_error *e) {
  const char *path = st->path;
  struct sqlite_conn *c = LOOM_NEW(struct sqlite_conn);
  loom_err result = LOOM_OK;
  int rc = sqlite3_open_v2(
      path, &c->db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    result =
        loom_error_set(e, LOOM_ERR_IO, "cannot open database '%s': %s", path,
                       c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
    goto out;
  }
  sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
  sqlite3_extended_result_codes(c->db, 1);
  rc = sqlite3_exec(c->db,
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA foreign_keys=ON;",
                    NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    result = db_error(c, rc, "configuring the database connection", e);
  else if (st->ckpt_running) /* else SQLite checkpoints as it commits */
    sqlite3_wal_hook(c->db, wal_hook_cb, st); /* replaces autocheckpoint */
out:
  if (result) {
    conn_close(c);
    c = NULL;
  }
  *out = c;
  return result;
}

/* The batch of the calling thread (at most one, on one store). */
static _Thread_local struct sqlite_conn *batch_conn;
static _Thread_local struct sqlite_store *batch_store;

loom_err conn_acquire(struct sqlite_store *st, struct sqlite_conn **out,
                      struct loom_error *e) {
  if (batch_conn && batch_store == st) {
    *out = batch_conn;
    return LOOM_OK;
  }
  pthread_mutex_lock(&st->lock);
  struct sqlite_conn *c = st->idle;
  if (c) {
    st->idle = c->next;
    st->nidle--;
  }
  pthread_mutex_unlock(&st->lock);
  if (c) {
    c->next = NULL;
    *out = c;
    return LOOM_OK;
  }
  return conn_open(st, out, e);
}

void conn_release(struct sqlite_store *st, struct sqlite_conn *c) {
  if (!c)
    return;
  if (c->batch) { /* stays with its batch; undo a call that failed */
    while (c->savepoints > 0)
      tx_rollback(c);
    return;
  }
  if (!sqlite3_get_autocommit(c->db))
    tx_rollback(c);
  pthread_mutex_lock(&st->lock);
  bool keep = st->nidle < POOL_IDLE_MAX;
  if (keep) {
    c->next = st->idle;
    st->idle = c;
    st->nidle++;
  }
  pthread_mutex_unlock(&st->lock);
  if (!keep)
    conn_close(c);
}

loom_err conn_stmt(struct sqlite_conn *c, enum stmt_id id, const char *sql,
                   sqlite3_stmt **out, struct loom_error *e) {
  sqlite3_stmt *stmt = c->stmts[id];
  if (!stmt) {
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                &stmt, NULL);
    if (rc != SQLITE_OK)
      return db_error(c, rc, "preparing a query", e);
    c->stmts[id] = stmt;
  }
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  *out = stmt;
  return LOOM_OK;
}

loom_err conn_stmt_sql(struct sqlite_conn *c, const char *sql,
                       sqlite3_stmt **out, struct loom_error *e) {
  for (int i = 0; i < DYN_STMT_MAX; i++) {
    if (c->dyn[i].sql && strcmp(c->dyn[i].sql, sql) == 0) {
      sqlite3_reset(c->dyn[i].stmt);
      sqlite3_clear_bindings(c->dyn[i].stmt);
      *out = c->dyn[i].stmt;
      return LOOM_OK;
    }
  }
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt,
                              NULL);
  if (rc != SQLITE_OK)
    return db_error(c, rc, "preparing a query", e);
  unsigned slot = c->dyn_next++ % DYN_STMT_MAX;
  sqlite3_finalize(c->dyn[slot].stmt);
  loom_free(c->dyn[slot].sql);
  c->dyn[slot].sql = loom_strdup(sql);
  c->dyn[slot].stmt = stmt;
  *out = stmt;
  return LOOM_OK;
}

/* ---- errors, transactions, binding ---- */

loom_err db_error(struct sqlite_conn *c, int rc, const char *what,
                  struct loom_error *e) {
  const char *msg = sqlite3_errmsg(c->db);
  switch (rc) {
  case SQLITE_CONSTRAINT_PRIMARYKEY:
  case SQLITE_CONSTRAINT_UNIQUE:
    return loom_error_set(e, LOOM_ERR_EXISTS, "%s: already exists (%s)", what,
                          msg);
  case SQLITE_CONSTRAINT_FOREIGNKEY:
    return loom_error_set(e, LOOM_ERR_NOT_FOUND,
                          "%s: a row it refers to does not exist", what);
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return loom_error_set(e, LOOM_ERR_UNAVAILABLE,
                          "%s: the database stayed busy for %d ms", what,
                          BUSY_TIMEOUT_MS);
  default:
    break;
  }
  if ((rc & 0xff) == SQLITE_CONSTRAINT)
    return loom_error_set(e, LOOM_ERR_INVALID, "%s: %s", what, msg);
  return loom_error_set(e, LOOM_ERR_DB, "%s: %s", what, msg);
}

loom_err stmt_exec(struct sqlite_conn *c, sqlite3_stmt *stmt, const char *what,
                   struct loom_error *e) {
  int rc = sqlite3_step(stmt);
  loom_err result = LOOM_OK;
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    result = db_error(c, rc, what, e);
  sqlite3_reset(stmt);
  return result;
}

loom_err tx_begin(struct sqlite_conn *c, bool write, struct loom_error *e) {
  sqlite3_stmt *stmt = NULL;
  loom_err err;
  if (c->batch)
    err = conn_stmt(c, STMT_SAVEPOINT, "SAVEPOINT call", &stmt, e);
  else if (write)
    err = conn_stmt(c, STMT_BEGIN_IMMEDIATE, "BEGIN IMMEDIATE", &stmt, e);
  else
    err = conn_stmt(c, STMT_BEGIN, "BEGIN", &stmt, e);
  if (!err)
    err = stmt_exec(c, stmt, "starting a transaction", e);
  if (!err && c->batch)
    c->savepoints++;
  return err;
}

loom_err tx_commit(struct sqlite_conn *c, struct loom_error *e) {
  sqlite3_stmt *stmt = NULL;
  loom_err err = c->batch && c->savepoints > 0
                     ? conn_stmt(c, STMT_RELEASE, "RELEASE call", &stmt, e)
                     : conn_stmt(c, STMT_COMMIT, "COMMIT", &stmt, e);
  if (!err)
    err = stmt_exec(c, stmt, "committing", e);
  if (!err && c->batch && c->savepoints > 0)
    c->savepoints--;
  return err;
}

void tx_rollback(struct sqlite_conn *c) {
  if (sqlite3_get_autocommit(c->db))
    return;
  sqlite3_stmt *stmt = NULL;
  if (c->batch && c->savepoints > 0) {
    /* Undo the call's savepoint, keep the batch's transaction. */
    if (conn_stmt(c, STMT_ROLLBACK_TO, "ROLLBACK TO call", &stmt, NULL) ==
        LOOM_OK)
      (void)stmt_exec(c, stmt, "rolling back a call", NULL);
    if (conn_stmt(c, STMT_RELEASE, "RELEASE call", &stmt, NULL) == LOOM_OK)
      (void)stmt_exec(c, stmt, "rolling back a call", NULL);
    c->savepoints--;
    return;
  }
  if (conn_stmt(c, STMT_ROLLBACK, "ROLLBACK", &stmt, NULL) == LOOM_OK)
    (void)stmt_exec(c, stmt, "rolling back", NULL);
}

/* ---- group commit ---- */

static loom_err sqlite_batch_begin(struct loom_store *s, struct loom_error *e) {
  struct sqlite_store *st = sqlite_of(s);
  if (batch_conn)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "a batch is already open on this thread");
  struct sqlite_conn *c = NULL;
  loom_err err = conn_acquire(st, &c, e);
  if (!err && (err = tx_begin(c, true, e)))
    conn_release(st, c);
  if (err)
    return err;
  c->batch = true;
  c->savepoints = 0;
  batch_conn = c;
  batch_store = st;
  return LOOM_OK;
}

static loom_err sqlite_batch_end(struct loom_store *s, bool commit,
                                 struct loom_error *e) {
  struct sqlite_store *st = sqlite_of(s);
  struct sqlite_conn *c = batch_conn;
  if (!c || batch_store != st)
    return loom_error_set(e, LOOM_ERR_INVALID, "no batch is open");
  batch_conn = NULL;
  batch_store = NULL;
  c->batch = false;
  c->savepoints = 0;
  loom_err err = commit ? tx_commit(c, e) : LOOM_OK;
  conn_release(st, c); /* rolls back what was not committed */
  return err;
}

void bind_text(sqlite3_stmt *stmt, int idx, const char *s) {
  if (s)
    sqlite3_bind_text(stmt, idx, s, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(stmt, idx);
}

void bind_json(sqlite3_stmt *stmt, int idx, const json_t *v) {
  char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  if (text)
    sqlite3_bind_text(stmt, idx, text, -1, free); /* jansson uses malloc */
  else
    sqlite3_bind_null(stmt, idx);
}

char *col_strdup(sqlite3_stmt *stmt, int idx) {
  const unsigned char *s = sqlite3_column_text(stmt, idx);
  return s ? loom_strdup((const char *)s) : NULL;
}

json_t *col_json(sqlite3_stmt *stmt, int idx) {
  const void *s = sqlite3_column_text(stmt, idx);
  if (!s)
    return NULL;
  return json_loadb(s, (size_t)sqlite3_column_bytes(stmt, idx),
                    JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
}

json_t *col_json_object(sqlite3_stmt *stmt, int idx) {
  json_t *v = col_json(stmt, idx);
  return v ? v : json_object();
}

json_t *col_json_or_null(sqlite3_stmt *stmt, int idx) {
  json_t *v = col_json(stmt, idx);
  return v ? v : json_null();
}

json_t *col_json_string(sqlite3_stmt *stmt, int idx) {
  const unsigned char *s = sqlite3_column_text(stmt, idx);
  return s ? json_string((const char *)s) : json_null();
}

sqlite3_int64 now_ms(void) { return (sqlite3_int64)loom_clock_wall_ms(); }

loom_err collect_rows(struct sqlite_conn *c, sqlite3_stmt *st,
                      json_t *(*row_cb)(sqlite3_stmt *st), const char *id_key,
                      const struct loom_search *q, json_t **out, size_t *count,
                      struct loom_error *e) {
  static const struct loom_search none = {0};
  q = q ? q : &none;
  size_t offset = out ? q->offset : 0, matched = 0;
  size_t stop = out ? offset + search_limit(q) : SIZE_MAX;
  json_t *rows = out ? json_array() : NULL;
  int rc = SQLITE_DONE;
  while (matched < stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    json_t *row = row_cb(st);
    if (store_row_matches(row, q, id_key) && matched++ >= offset && rows)
      json_array_append(rows, row);
    json_decref(row);
  }
  if (matched >= stop)
    rc = SQLITE_DONE;
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    json_decref(rows);
    return db_error(c, rc, "searching", e);
  }
  if (out)
    *out = rows;
  else
    *count = matched;
  return LOOM_OK;
}

loom_err load_row(struct sqlite_conn *c, enum stmt_id stmt, const char *sql,
                  const char *noun, json_t *(*row_cb)(sqlite3_stmt *st),
                  const char *tenant, const char *id, json_t **out,
                  struct loom_error *e) {
  sqlite3_stmt *st = NULL;
  *out = NULL;
  loom_err err = conn_stmt(c, stmt, sql, &st, e);
  if (err)
    return err;
  bind_text(st, 1, tenant);
  bind_text(st, 2, id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *out = row_cb(st);
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    return loom_error_set(e, LOOM_ERR_NOT_FOUND, "%s '%s' not found", noun, id);
  if (rc == SQLITE_ROW)
    return LOOM_OK;
  char what[64];
  snprintf(what, sizeof what, "reading a %s", noun);
  return db_error(c, rc, what, e);
}

loom_err find_rows(struct loom_store *s, const struct row_table *t,
                   const char *tenant, const struct loom_search *q,
                   const char *filter_value, json_t **out, size_t *count,
                   struct loom_error *e) {
  static const struct loom_search none = {0};
  q = q ? q : &none;
  const char *column;
  loom_err result = store_check_tenant(tenant, e);
  if (result || (result = sort_column(q->sort_by, t->sortable, &column, e)))
    return result;
  const char *dir = q->ascending ? "ASC" : "DESC";
  char *sql = loom_asprintf("SELECT %s FROM %s WHERE tenant_id = ?1 AND"
                            " (?2 IS NULL OR %s = ?2)"
                            " ORDER BY %s %s, %s %s",
                            t->columns, t->name, t->filter_column, column, dir,
                            t->id_key, dir);
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  sqlite3_stmt *st = NULL;
  if ((result = conn_acquire(sst, &c, e)) ||
      (result = conn_stmt_sql(c, sql, &st, e)))
    goto out;
  bind_text(st, 1, tenant);
  bind_text(st, 2, filter_value);
  result = collect_rows(c, st, t->row_cb, t->id_key, q, out, count, e);
out:
  conn_release(sst, c);
  loom_free(sql);
  return result;
}

json_t *col_iso_time(sqlite3_stmt *stmt, int idx) {
  if (sqlite3_column_type(stmt, idx) == SQLITE_NULL)
    return json_null();
  char iso[33];
  return json_string(
      loom_clock_format_iso((uint64_t)sqlite3_column_int64(stmt, idx), iso));
}

/* ---- schema ---- */

static loom_err read_version(struct sqlite_conn *c, int *out,
                             struct loom_error *e) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(
      c->db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1,
      &stmt, NULL);
  if (rc != SQLITE_OK) {
    /* No table yet: a fresh database. */
    sqlite3_finalize(stmt);
    *out = 0;
    return LOOM_OK;
  }
  rc = sqlite3_step(stmt);
  loom_err result = LOOM_OK;
  if (rc == SQLITE_ROW)
    *out = sqlite3_column_int(stmt, 0);
  else
    result = db_error(c, rc, "reading the schema version", e);
  sqlite3_finalize(stmt);
  return result;
}

static loom_err apply_migration(struct sqlite_conn *c,
                                const struct schema_migration *m,
                                struct loom_error *e) {
  char *ddl = schema_translate(m, SCHEMA_SQLITE);
  loom_err result = LOOM_OK;
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_exec(c->db, ddl, NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    result = db_error(c, rc, "applying a schema migration", e);
    goto out;
  }
  rc = sqlite3_prepare_v2(c->db,
                          "INSERT INTO schema_migrations (version, name, "
                          "applied_at) VALUES (?1, ?2, ?3)",
                          -1, &stmt, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_int(stmt, 1, m->version);
    bind_text(stmt, 2, m->name);
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)loom_clock_wall_ms());
    rc = sqlite3_step(stmt);
  }
  if (rc != SQLITE_DONE)
    result = db_error(c, rc, "recording a schema migration", e);
out:
  sqlite3_finalize(stmt);
  loom_free(ddl);
  return result;
}

/* Applies, in one transaction, every migration newer than the database. */
static loom_err sqlite_migrate(struct loom_store *s, struct loom_error *e) {
  struct sqlite_store *st = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  loom_err result = conn_acquire(st, &c, e);
  if (result)
    return result;
  if ((result = tx_begin(c, true, e)))
    goto out;
  int rc = sqlite3_exec(c->db,
                        "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                        " applied_at BIGINT NOT NULL)",
                        NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    result = db_error(c, rc, "creating the migrations table", e);
    goto out;
  }
  int current = 0;
  if ((result = read_version(c, &current, e)))
    goto out;
  size_t count;
  const struct schema_migration *ms = schema_migrations(&count);
  if (current > ms[count - 1].version) {
    result = loom_error_set(e, LOOM_ERR_UNSUPPORTED,
                            "the database schema is version %d, newer than "
                            "this loom knows (%d): upgrade loom",
                            current, ms[count - 1].version);
    goto out;
  }
  for (size_t i = 0; i < count; i++)
    if (ms[i].version > current && (result = apply_migration(c, &ms[i], e)))
      goto out;
  result = tx_commit(c, e);
out:
  if (result)
    tx_rollback(c);
  conn_release(st, c);
  return result;
}

static loom_err sqlite_schema_version(struct loom_store *s, int *out) {
  struct sqlite_store *st = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  loom_err result = conn_acquire(st, &c, NULL);
  if (result)
    return result;
  result = read_version(c, out, NULL);
  conn_release(st, c);
  return result;
}

static loom_err sqlite_ping(struct loom_store *s) {
  struct sqlite_store *st = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  loom_err result = conn_acquire(st, &c, NULL);
  if (result)
    return result;
  int rc = sqlite3_exec(c->db, "SELECT 1", NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    result = db_error(c, rc, "ping", NULL);
  conn_release(st, c);
  return result;
}

/* ---- the WAL checkpointer ---- */

static void *checkpointer_main(void *arg) {
  struct sqlite_store *st = arg;
  struct sqlite_conn *c = NULL;
  pthread_mutex_lock(&st->ckpt_lock);
  for (;;) {
    while (!st->ckpt_wanted && !st->ckpt_stop)
      pthread_cond_wait(&st->ckpt_cond, &st->ckpt_lock);
    if (st->ckpt_stop)
      break;
    st->ckpt_wanted = false;
    pthread_mutex_unlock(&st->ckpt_lock);
    if (c || conn_open(st, &c, NULL) == LOOM_OK)
      (void)sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                      NULL, NULL);
    pthread_mutex_lock(&st->ckpt_lock);
  }
  pthread_mutex_unlock(&st->ckpt_lock);
  if (c)
    conn_close(c);
  return NULL;
}

static void sqlite_close(struct loom_store *s) {
  struct sqlite_store *st = sqlite_of(s);
  pthread_mutex_lock(&st->ckpt_lock);
  st->ckpt_stop = true;
  pthread_cond_signal(&st->ckpt_cond);
  pthread_mutex_unlock(&st->ckpt_lock);
  if (st->ckpt_running)
    pthread_join(st->ckpt_thread, NULL);
  pthread_mutex_destroy(&st->ckpt_lock);
  pthread_cond_destroy(&st->ckpt_cond);
  while (st->idle) {
    struct sqlite_conn *c = st->idle;
    st->idle = c->next;
    conn_close(c);
  }
  pthread_mutex_destroy(&st->lock);
  loom_free(st->path);
  loom_free(st);
}

static const struct loom_store_ops sqlite_ops = {
    .name = "sqlite",
    .migrate = sqlite_migrate,
    .schema_version = sqlite_schema_version,
    .ping = sqlite_ping,
    .put_checkpoint = sqlite_put_checkpoint,
    .get_checkpoint = sqlite_get_checkpoint,
    .list_checkpoints = sqlite_list_checkpoints,
    .put_writes = sqlite_put_writes,
    .delete_thread_checkpoints = sqlite_delete_thread_checkpoints,
    .put_assistant = sqlite_put_assistant,
    .get_assistant = sqlite_get_assistant,
    .update_assistant = sqlite_update_assistant,
    .set_assistant_version = sqlite_set_assistant_version,
    .search_assistants = sqlite_search_assistants,
    .count_assistants = sqlite_count_assistants,
    .list_assistant_versions = sqlite_list_assistant_versions,
    .delete_assistant = sqlite_delete_assistant,
    .put_thread = sqlite_put_thread,
    .get_thread = sqlite_get_thread,
    .update_thread = sqlite_update_thread,
    .search_threads = sqlite_search_threads,
    .count_threads = sqlite_count_threads,
    .delete_thread = sqlite_delete_thread,
    .put_run = sqlite_put_run,
    .get_run = sqlite_get_run,
    .list_runs = sqlite_list_runs,
    .set_run_status = sqlite_set_run_status,
    .delete_run = sqlite_delete_run,
    .claim_run = sqlite_claim_run,
    .renew_run_lease = sqlite_renew_run_lease,
    .append_run_event = sqlite_append_run_event,
    .read_run_events = sqlite_read_run_events,
    .copy_thread_checkpoints = sqlite_copy_thread_checkpoints,
    .put_document = sqlite_put_document,
    .get_document = sqlite_get_document,
    .list_documents = sqlite_list_documents,
    .delete_document = sqlite_delete_document,
    .search_chunks = sqlite_search_chunks,
    .put_memory = sqlite_put_memory,
    .list_memories = sqlite_list_memories,
    .delete_memories = sqlite_delete_memories,
    .search_memories = sqlite_search_memories,
    .list_memory_namespaces = sqlite_list_memory_namespaces,
    .touch_memory = sqlite_touch_memory,
    .purge_memories = sqlite_purge_memories,
    .batch_begin = sqlite_batch_begin,
    .batch_end = sqlite_batch_end,
    .close = sqlite_close,
};

loom_err sqlite_store_open(const char *path, struct loom_store **out,
                           struct loom_error *e) {
  struct sqlite_store *st = LOOM_NEW(struct sqlite_store);
  st->base.ops = &sqlite_ops;
  st->path = loom_strdup(path);
  pthread_mutex_init(&st->lock, NULL);
  pthread_mutex_init(&st->ckpt_lock, NULL);
  pthread_cond_init(&st->ckpt_cond, NULL);
  st->ckpt_running =
      pthread_create(&st->ckpt_thread, NULL, checkpointer_main, st) == 0;
  /* Open one connection now so a bad path fails here, not on first use. */
  struct sqlite_conn *c = NULL;
  loom_err err = conn_acquire(st, &c, e);
  if (err) {
    sqlite_close(&st->base);
    *out = NULL;
    return err;
  }
  conn_release(st, c);
  *out = &st->base;
  return LOOM_OK;
}
