/*
 * sqlite_checkpoints — LangGraph-style checkpoints on SQLite.
 *
 * A checkpoint row holds the checkpoint document (channel_versions,
 * versions_seen, ...) and metadata, never channel values. Values live in
 * checkpoint_blobs, one row per (thread, ns, channel, version), inserted
 * with ON CONFLICT DO NOTHING: the engine passes only the channels that
 * changed, and a version already stored is never written again. Reading a
 * checkpoint looks up, for each channel in its channel_versions, the blob
 * at that version (a primary-key lookup each) and attaches the pending
 * writes recorded against it, all inside one read transaction so the view
 * is consistent.
 */
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/json.h"
#include "stores/internal.h"

#define CP_COLUMNS "checkpoint_id, parent_checkpoint_id, checkpoint, metadata"

static loom_err insert_blob(struct sqlite_conn *c, const char *tenant,
                            const char *thread_id, const char *ns,
                            const struct loom_blob *b, struct loom_error *e) {
  if (!b->channel || !b->version)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "every blob needs a channel and a version");
  sqlite3_stmt *st = NULL;
  loom_err err = conn_stmt(
      c, STMT_CP_BLOB_INSERT,
      "INSERT INTO checkpoint_blobs (tenant_id, thread_id, checkpoint_ns,"
      " channel, version, type, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
      " ON CONFLICT DO NOTHING",
      &st, e);
  if (err)
    return err;
  bind_text(st, 1, tenant);
  bind_text(st, 2, thread_id);
  bind_text(st, 3, ns);
  bind_text(st, 4, b->channel);
  bind_text(st, 5, b->version);
  bind_text(st, 6, b->value ? "json" : "empty");
  bind_json(st, 7, b->value);
  return stmt_exec(c, st, "storing a channel value", e);
}

static loom_err insert_checkpoint(struct sqlite_conn *c, const char *tenant,
                                  const struct loom_checkpoint *cp,
                                  const char *ns, struct loom_error *e) {
  sqlite3_stmt *st = NULL;
  loom_err err = conn_stmt(
      c, STMT_CP_INSERT,
      "INSERT INTO checkpoints (tenant_id, thread_id, checkpoint_ns,"
      " checkpoint_id, parent_checkpoint_id, checkpoint, metadata,"
      " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
      " ON CONFLICT (tenant_id, thread_id, checkpoint_ns, checkpoint_id)"
      " DO UPDATE SET checkpoint = excluded.checkpoint,"
      " metadata = excluded.metadata",
      &st, e);
  if (err)
    return err;
  bind_text(st, 1, tenant);
  bind_text(st, 2, cp->thread_id);
  bind_text(st, 3, ns);
  bind_text(st, 4, cp->id);
  bind_text(st, 5, cp->parent_id);
  bind_json(st, 6, cp->checkpoint);
  if (cp->metadata)
    bind_json(st, 7, cp->metadata);
  else
    bind_text(st, 7, "{}");
  sqlite3_bind_int64(st, 8, (sqlite3_int64)loom_clock_wall_ms());
  return stmt_exec(c, st, "storing a checkpoint", e);
}

loom_err sqlite_put_checkpoint(struct loom_store *s, const char *tenant,
                               const struct loom_checkpoint *cp,
                               const struct loom_blob *blobs, size_t nblobs,
                               struct loom_error *e) {
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  if (!cp || !cp->thread_id || !cp->id || !json_is_object(cp->checkpoint))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "a checkpoint needs a thread id, an id and a "
                          "checkpoint object");
  const char *ns = cp->ns ? cp->ns : "";
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  if ((result = conn_acquire(sst, &c, e)))
    return result;
  if ((result = tx_begin(c, true, e)))
    goto out;
  for (size_t i = 0; i < nblobs; i++)
    if ((result = insert_blob(c, tenant, cp->thread_id, ns, &blobs[i], e)))
      goto out;
  if ((result = insert_checkpoint(c, tenant, cp, ns, e)))
    goto out;
  result = tx_commit(c, e);
out:
  conn_release(sst, c); /* rolls back on failure */
  return result;
}

/* Builds a checkpoint from a row of CP_COLUMNS. */
static struct loom_checkpoint *
row_checkpoint(sqlite3_stmt *st, const char *thread_id, const char *ns) {
  struct loom_checkpoint *cp = LOOM_NEW(struct loom_checkpoint);
  cp->thread_id = loom_strdup(thread_id);
  cp->ns = loom_strdup(ns);
  cp->id = col_strdup(st, 0);
  cp->parent_id = col_strdup(st, 1);
  cp->checkpoint = col_json(st, 2);
  if (!cp->checkpoint)
    cp->checkpoint = json_object();
  cp->metadata = col_json(st, 3);
  if (!cp->metadata)
    cp->metadata = json_object();
  return cp;
}

/* Fills cp->values from the blobs at cp's channel_versions. */
static loom_err load_values(struct sqlite_conn *c, const char *tenant,
                            struct loom_checkpoint *cp, struct loom_error *e) {
  cp->values = json_object();
  json_t *versions = json_object_get(cp->checkpoint, "channel_versions");
  const char *channel;
  json_t *version;
  json_object_foreach(versions, channel, version) {
    /* Versions are strings by contract; accept numbers from older
     * writers by formatting them the same way. */
    char *vtext = json_is_string(version)
                      ? loom_strdup(json_string_value(version))
                      : loom_json_dump(version);
    sqlite3_stmt *st = NULL;
    loom_err err = conn_stmt(
        c, STMT_CP_BLOB_GET,
        "SELECT type, value FROM checkpoint_blobs WHERE tenant_id = ?1 AND"
        " thread_id = ?2 AND checkpoint_ns = ?3 AND channel = ?4 AND"
        " version = ?5",
        &st, e);
    if (err) {
      loom_free(vtext);
      return err;
    }
    bind_text(st, 1, tenant);
    bind_text(st, 2, cp->thread_id);
    bind_text(st, 3, cp->ns);
    bind_text(st, 4, channel);
    bind_text(st, 5, vtext);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      const char *type = (const char *)sqlite3_column_text(st, 0);
      json_t *value = col_json(st, 1);
      if (type && strcmp(type, "json") == 0 && value)
        json_object_set_new(cp->values, channel, value);
      else
        json_decref(value);
    }
    sqlite3_reset(st);
    loom_free(vtext);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
      return db_error(c, rc, "reading a channel value", e);
  }
  return LOOM_OK;
}

/* Fills cp->pending_writes, ordered by task then index. */
static loom_err load_writes(struct sqlite_conn *c, const char *tenant,
                            struct loom_checkpoint *cp, struct loom_error *e) {
  sqlite3_stmt *st = NULL;
  loom_err err = conn_stmt(
      c, STMT_CP_WRITES_GET,
      "SELECT task_id, channel, value, idx FROM checkpoint_writes"
      " WHERE tenant_id = ?1 AND thread_id = ?2 AND checkpoint_ns = ?3 AND"
      " checkpoint_id = ?4 ORDER BY task_id, idx",
      &st, e);
  if (err)
    return err;
  bind_text(st, 1, tenant);
  bind_text(st, 2, cp->thread_id);
  bind_text(st, 3, cp->ns);
  bind_text(st, 4, cp->id);
  cp->pending_writes = json_array();
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    json_t *value = col_json(st, 2);
    json_array_append_new(cp->pending_writes,
                          json_pack("{s:s, s:s, s:o, s:I}", "task_id",
                                    (const char *)sqlite3_column_text(st, 0),
                                    "channel",
                                    (const char *)sqlite3_column_text(st, 1),
                                    "value", value ? value : json_null(), "idx",
                                    (json_int_t)sqlite3_column_int64(st, 3)));
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return db_error(c, rc, "reading pending writes", e);
  return LOOM_OK;
}

/* Reads the checkpoint row (by id, or the latest when id is NULL). */
static loom_err read_row(struct sqlite_conn *c, const char *tenant,
                         const char *thread_id, const char *ns, const char *id,
                         struct loom_checkpoint **out, struct loom_error *e) {
  sqlite3_stmt *st = NULL;
  loom_err err =
      id ? conn_stmt(c, STMT_CP_BY_ID,
                     "SELECT " CP_COLUMNS " FROM checkpoints"
                     " WHERE tenant_id = ?1 AND thread_id = ?2 AND"
                     " checkpoint_ns = ?3 AND checkpoint_id = ?4",
                     &st, e)
         : conn_stmt(c, STMT_CP_LATEST,
                     "SELECT " CP_COLUMNS " FROM checkpoints"
                     " WHERE tenant_id = ?1 AND thread_id = ?2 AND"
                     " checkpoint_ns = ?3 ORDER BY checkpoint_id DESC LIMIT 1",
                     &st, e);
  if (err)
    return err;
  bind_text(st, 1, tenant);
  bind_text(st, 2, thread_id);
  bind_text(st, 3, ns);
  if (id)
    bind_text(st, 4, id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *out = row_checkpoint(st, thread_id, ns);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW)
    return LOOM_OK;
  if (rc != SQLITE_DONE)
    return db_error(c, rc, "reading a checkpoint", e);
  if (id)
    return loom_error_set(e, LOOM_ERR_NOT_FOUND,
                          "checkpoint '%s' not found in thread '%s'", id,
                          thread_id);
  return loom_error_set(e, LOOM_ERR_NOT_FOUND, "thread '%s' has no checkpoint",
                        thread_id);
}

loom_err sqlite_get_checkpoint(struct loom_store *s, const char *tenant,
                               const char *thread_id, const char *ns,
                               const char *id, struct loom_checkpoint **out,
                               struct loom_error *e) {
  *out = NULL;
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  if (!thread_id)
    return loom_error_set(e, LOOM_ERR_INVALID, "a thread id is required");
  ns = ns ? ns : "";
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  struct loom_checkpoint *cp = NULL;
  if ((result = conn_acquire(sst, &c, e)))
    return result;
  /* One read transaction: the row, its blobs and writes agree. */
  if ((result = tx_begin(c, false, e)) ||
      (result = read_row(c, tenant, thread_id, ns, id, &cp, e)) ||
      (result = load_values(c, tenant, cp, e)) ||
      (result = load_writes(c, tenant, cp, e)))
    goto out;
  result = tx_commit(c, e);
out:
  conn_release(sst, c);
  if (result)
    loom_checkpoint_free(cp);
  else
    *out = cp;
  return result;
}

/* The listing statement, newest first: all of a thread's checkpoints in
 * a namespace, or those before q->before_id. */
static loom_err list_stmt(struct sqlite_conn *c,
                          const struct loom_checkpoint_query *q,
                          sqlite3_stmt **st, struct loom_error *e) {
  return q->before_id
             ? conn_stmt(c, STMT_CP_LIST_BEFORE,
                         "SELECT " CP_COLUMNS " FROM checkpoints"
                         " WHERE tenant_id = ?1 AND thread_id = ?2 AND"
                         " checkpoint_ns = ?3 AND checkpoint_id < ?4"
                         " ORDER BY checkpoint_id DESC",
                         st, e)
             : conn_stmt(c, STMT_CP_LIST,
                         "SELECT " CP_COLUMNS " FROM checkpoints"
                         " WHERE tenant_id = ?1 AND thread_id = ?2 AND"
                         " checkpoint_ns = ?3 ORDER BY checkpoint_id DESC",
                         st, e);
}

/* Steps `st`, handing each row that matches q's metadata filter to
 * `each` until it says stop or q->limit matched; returns SQLITE_DONE then,
 * or the code of the step that failed. */
static int each_match(sqlite3_stmt *st, const struct loom_checkpoint_query *q,
                      const char *ns,
                      bool (*each)(const struct loom_checkpoint *cp, void *arg),
                      void *arg) {
  size_t seen = 0;
  int rc;
  /* The filter runs here rather than in SQL so both backends agree on
   * JSON equality; the limit counts matches. */
  while ((q->limit == 0 || seen < q->limit) &&
         (rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct loom_checkpoint *cp = row_checkpoint(st, q->thread_id, ns);
    bool more = true;
    if (store_json_contains(cp->metadata, q->metadata_filter)) {
      seen++;
      more = each(cp, arg);
    }
    loom_checkpoint_free(cp);
    if (!more)
      return SQLITE_DONE;
  }
  if (q->limit != 0 && seen >= q->limit)
    rc = SQLITE_DONE;
  return rc;
}

loom_err sqlite_list_checkpoints(struct loom_store *s, const char *tenant,
                                 const struct loom_checkpoint_query *q,
                                 bool (*each)(const struct loom_checkpoint *cp,
                                              void *arg),
                                 void *arg, struct loom_error *e) {
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  if (!q || !q->thread_id || !each)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "listing checkpoints needs a thread id");
  const char *ns = q->ns ? q->ns : "";
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  if ((result = conn_acquire(sst, &c, e)))
    return result;
  sqlite3_stmt *st = NULL;
  if ((result = list_stmt(c, q, &st, e)))
    goto out;
  bind_text(st, 1, tenant);
  bind_text(st, 2, q->thread_id);
  bind_text(st, 3, ns);
  if (q->before_id)
    bind_text(st, 4, q->before_id);
  int rc = each_match(st, q, ns, each, arg);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    result = db_error(c, rc, "listing checkpoints", e);
out:
  conn_release(sst, c);
  return result;
}

static loom_err insert_write(struct sqlite_conn *c, const char *tenant,
                             const char *const key[4], size_t idx,
                             const json_t *w, struct loom_error *e) {
  const char *channel = json_string_value(json_object_get(w, "channel"));
  json_t *value = json_object_get(w, "value");
  if (!json_is_object(w) || !channel)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "write %zu must be an object with a string "
                          "'channel' and a 'value'",
                          idx);
  sqlite3_stmt *st = NULL;
  loom_err err = conn_stmt(
      c, STMT_CP_WRITE_INSERT,
      "INSERT INTO checkpoint_writes (tenant_id, thread_id, checkpoint_ns,"
      " checkpoint_id, task_id, idx, channel, type, value)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'json', ?8)"
      " ON CONFLICT DO NOTHING",
      &st, e);
  if (err)
    return err;
  bind_text(st, 1, tenant);
  for (int i = 0; i < 4; i++)
    bind_text(st, 2 + i, key[i]);
  sqlite3_bind_int64(st, 6, (sqlite3_int64)idx);
  bind_text(st, 7, channel);
  bind_json(st, 8, value ? value : json_null());
  return stmt_exec(c, st, "storing a pending write", e);
}

loom_err sqlite_put_writes(struct loom_store *s, const char *tenant,
                           const char *thread_id, const char *ns,
                           const char *checkpoint_id, const char *task_id,
                           const json_t *writes, struct loom_error *e) {
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  if (!thread_id || !checkpoint_id || !task_id || !json_is_array(writes))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "pending writes need a thread id, a checkpoint "
                          "id, a task id and an array of writes");
  const char *key[4] = {thread_id, ns ? ns : "", checkpoint_id, task_id};
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  if ((result = conn_acquire(sst, &c, e)))
    return result;
  if ((result = tx_begin(c, true, e)))
    goto out;
  for (size_t i = 0; i < json_array_size(writes); i++)
    if ((result =
             insert_write(c, tenant, key, i, json_array_get(writes, i), e)))
      goto out;
  result = tx_commit(c, e);
out:
  conn_release(sst, c);
  return result;
}

loom_err sqlite_delete_checkpoints_in(struct sqlite_conn *c, const char *tenant,
                                      const char *thread_id,
                                      struct loom_error *e) {
  static const char *const sql[3] = {
      "DELETE FROM checkpoint_writes WHERE tenant_id = ?1 AND thread_id = ?2",
      "DELETE FROM checkpoint_blobs WHERE tenant_id = ?1 AND thread_id = ?2",
      "DELETE FROM checkpoints WHERE tenant_id = ?1 AND thread_id = ?2",
  };
  static const enum stmt_id ids[3] = {STMT_CP_DEL_WRITES, STMT_CP_DEL_BLOBS,
                                      STMT_CP_DEL};
  for (int i = 0; i < 3; i++) {
    sqlite3_stmt *st = NULL;
    loom_err err = conn_stmt(c, ids[i], sql[i], &st, e);
    if (err)
      return err;
    bind_text(st, 1, tenant);
    bind_text(st, 2, thread_id);
    if ((err = stmt_exec(c, st, "deleting a thread's checkpoints", e)))
      return err;
  }
  return LOOM_OK;
}

loom_err sqlite_delete_thread_checkpoints(struct loom_store *s,
                                          const char *tenant,
                                          const char *thread_id,
                                          struct loom_error *e) {
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  if (!thread_id)
    return loom_error_set(e, LOOM_ERR_INVALID, "a thread id is required");
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  if ((result = conn_acquire(sst, &c, e)))
    return result;
  if ((result = tx_begin(c, true, e)) ||
      (result = sqlite_delete_checkpoints_in(c, tenant, thread_id, e)))
    goto out;
  result = tx_commit(c, e);
out:
  conn_release(sst, c);
  return result;
}

loom_err sqlite_copy_thread_checkpoints(struct loom_store *s,
                                        const char *tenant,
                                        const char *from_thread,
                                        const char *to_thread,
                                        struct loom_error *e) {
  static const char *const sql[3] = {
      "INSERT INTO checkpoints (tenant_id, thread_id, checkpoint_ns,"
      " checkpoint_id, parent_checkpoint_id, checkpoint, metadata,"
      " created_at) SELECT tenant_id, ?3, checkpoint_ns, checkpoint_id,"
      " parent_checkpoint_id, checkpoint, metadata, created_at"
      " FROM checkpoints WHERE tenant_id = ?1 AND thread_id = ?2"
      " ON CONFLICT DO NOTHING",
      "INSERT INTO checkpoint_blobs (tenant_id, thread_id, checkpoint_ns,"
      " channel, version, type, value) SELECT tenant_id, ?3, checkpoint_ns,"
      " channel, version, type, value FROM checkpoint_blobs"
      " WHERE tenant_id = ?1 AND thread_id = ?2 ON CONFLICT DO NOTHING",
      "INSERT INTO checkpoint_writes (tenant_id, thread_id, checkpoint_ns,"
      " checkpoint_id, task_id, idx, channel, type, value)"
      " SELECT tenant_id, ?3, checkpoint_ns, checkpoint_id, task_id, idx,"
      " channel, type, value FROM checkpoint_writes"
      " WHERE tenant_id = ?1 AND thread_id = ?2 ON CONFLICT DO NOTHING",
  };
  static const enum stmt_id ids[3] = {STMT_CP_COPY, STMT_CP_COPY_BLOBS,
                                      STMT_CP_COPY_WRITES};
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  if (!from_thread || !to_thread)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "copying checkpoints needs both thread ids");
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  if ((result = conn_acquire(sst, &c, e)) || (result = tx_begin(c, true, e)))
    goto out;
  for (int i = 0; i < 3; i++) {
    sqlite3_stmt *st = NULL;
    if ((result = conn_stmt(c, ids[i], sql[i], &st, e)))
      goto out;
    bind_text(st, 1, tenant);
    bind_text(st, 2, from_thread);
    bind_text(st, 3, to_thread);
    if ((result = stmt_exec(c, st, "copying a thread's checkpoints", e)))
      goto out;
  }
  result = tx_commit(c, e);
out:
  conn_release(sst, c);
  return result;
}
