/*
 * sqlite_threads — threads on SQLite.
 *
 * A thread row carries what the API shows about a thread between runs:
 * status, metadata, the latest state values and interrupts (kept in step
 * by the engine through update_thread, so a GET never has to assemble a
 * checkpoint). Insert and update share their parameter numbering so one
 * binder serves both. Deleting a thread cascades to its runs and their
 * events (foreign keys) and removes its checkpoints in the same
 * transaction.
 */
#include <string.h>

#include "core/alloc.h"
#include "stores/internal.h"

#define TH_COLUMNS                                                             \
  "thread_id, status, metadata, state_values, interrupts, config,"             \
  " created_at, updated_at"

static const char *const patch_keys[] = {"status", "values", "interrupts",
                                         "config", NULL};

static const char *const sortable[] = {"created_at", "created_at", "updated_at",
                                       "updated_at", "thread_id",  "thread_id",
                                       "status",     "status",     NULL};

static json_t *thread_row_cb(sqlite3_stmt *st) {
  return json_pack(
      "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "thread_id",
      col_json_string(st, 0), "status", col_json_string(st, 1), "metadata",
      col_json_object(st, 2), "values", col_json_or_null(st, 3), "interrupts",
      col_json_object(st, 4), "config", col_json_object(st, 5), "created_at",
      col_iso_time(st, 6), "updated_at", col_iso_time(st, 7));
}

static bool valid_status(const char *s) {
  static const char *const ok[] = {"idle", "busy", "interrupted", "error"};
  for (size_t i = 0; s && i < sizeof ok / sizeof ok[0]; i++)
    if (strcmp(s, ok[i]) == 0)
      return true;
  return false;
}

/* Checks the fields a caller may set. */
static loom_err check_fields(const json_t *row, struct loom_error *e) {
  json_t *status = json_object_get(row, "status");
  if (status && !valid_status(json_string_value(status)))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "thread 'status' must be idle, busy, interrupted "
                          "or error");
  json_t *meta = json_object_get(row, "metadata");
  if (meta && !json_is_object(meta) && !json_is_null(meta))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "thread 'metadata' must be an object");
  return LOOM_OK;
}

/* ?1 tenant ?2 id ?3 status ?4 metadata ?5 values ?6 interrupts ?7 config
 * ?8 now. */
static void bind_thread(sqlite3_stmt *st, const char *tenant, const char *id,
                        const json_t *row) {
  static const char *const objects[] = {"metadata", NULL, "interrupts",
                                        "config"};
  const char *status = json_string_value(json_object_get(row, "status"));
  bind_text(st, 1, tenant);
  bind_text(st, 2, id);
  bind_text(st, 3, status ? status : "idle");
  for (int i = 0; i < 4; i++) {
    json_t *v = json_object_get(row, objects[i] ? objects[i] : "values");
    if (!objects[i])
      bind_json(st, 4 + i, json_is_null(v) ? NULL : v);
    else if (json_is_object(v))
      bind_json(st, 4 + i, v);
    else
      bind_text(st, 4 + i, "{}");
  }
  sqlite3_bind_int64(st, 8, now_ms());
}

static loom_err load(struct sqlite_conn *c, const char *tenant, const char *id,
                     json_t **out, struct loom_error *e) {
  return load_row(c, STMT_TH_GET,
                  "SELECT " TH_COLUMNS " FROM threads"
                  " WHERE tenant_id = ?1 AND thread_id = ?2",
                  "thread", thread_row_cb, tenant, id, out, e);
}

loom_err sqlite_put_thread(struct loom_store *s, const char *tenant,
                           const json_t *row, enum loom_if_exists ie,
                           json_t **out, struct loom_error *e) {
  *out = NULL;
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  if (row && !json_is_object(row))
    return loom_error_set(e, LOOM_ERR_INVALID, "a thread must be an object");
  if ((result = check_fields(row, e)))
    return result;
  char *id = row_id_or_new(row, "thread_id");
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  if ((result = conn_acquire(sst, &c, e)) || (result = tx_begin(c, true, e)))
    goto out;
  result = load(c, tenant, id, out, NULL);
  if (result == LOOM_OK && ie == LOOM_IF_EXISTS_RAISE) {
    result =
        loom_error_set(e, LOOM_ERR_EXISTS, "thread '%s' already exists", id);
    goto out;
  }
  if (result == LOOM_ERR_NOT_FOUND) {
    sqlite3_stmt *st = NULL;
    if ((result = conn_stmt(c, STMT_TH_INSERT,
                            "INSERT INTO threads (tenant_id, " TH_COLUMNS ")"
                            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                            &st, e)))
      goto out;
    bind_thread(st, tenant, id, row);
    if ((result = stmt_exec(c, st, "creating a thread", e)) ||
        (result = load(c, tenant, id, out, e)))
      goto out;
  } else if (result) {
    result = loom_error_set(e, result, "reading a thread");
    goto out;
  }
  result = tx_commit(c, e);
out:
  conn_release(sst, c);
  if (result && *out) {
    json_decref(*out);
    *out = NULL;
  }
  loom_free(id);
  return result;
}

loom_err sqlite_get_thread(struct loom_store *s, const char *tenant,
                           const char *id, json_t **out, struct loom_error *e) {
  *out = NULL;
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  if ((result = conn_acquire(sst, &c, e)))
    return result;
  result = load(c, tenant, id, out, e);
  conn_release(sst, c);
  return result;
}

loom_err sqlite_update_thread(struct loom_store *s, const char *tenant,
                              const char *id, const json_t *patch, json_t **out,
                              struct loom_error *e) {
  if (out)
    *out = NULL;
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  if (!id || !json_is_object(patch))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "updating a thread needs its id and an object");
  if ((result = check_fields(patch, e)))
    return result;
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  json_t *row = NULL;
  sqlite3_stmt *st = NULL;
  if ((result = conn_acquire(sst, &c, e)) || (result = tx_begin(c, true, e)) ||
      (result = load(c, tenant, id, &row, e)))
    goto out;
  merge_patch(row, patch, patch_keys);
  if ((result = conn_stmt(c, STMT_TH_UPDATE,
                          "UPDATE threads SET status = ?3, metadata = ?4,"
                          " state_values = ?5, interrupts = ?6, config = ?7,"
                          " updated_at = ?8"
                          " WHERE tenant_id = ?1 AND thread_id = ?2",
                          &st, e)))
    goto out;
  bind_thread(st, tenant, id, row);
  if ((result = stmt_exec(c, st, "updating a thread", e)))
    goto out;
  if (out && (result = load(c, tenant, id, out, e)))
    goto out;
  result = tx_commit(c, e);
out:
  conn_release(sst, c);
  json_decref(row);
  if (result && out && *out) {
    json_decref(*out);
    *out = NULL;
  }
  return result;
}

static const struct row_table table = {"threads", TH_COLUMNS, "thread_id",
                                       "status",  sortable,   thread_row_cb};

/* Search (out set) or count (count set) of a tenant's threads. */
static loom_err find(struct loom_store *s, const char *tenant,
                     const struct loom_search *q, json_t **out, size_t *count,
                     struct loom_error *e) {
  return find_rows(s, &table, tenant, q, q ? q->status : NULL, out, count, e);
}

loom_err sqlite_search_threads(struct loom_store *s, const char *tenant,
                               const struct loom_search *q, json_t **out,
                               struct loom_error *e) {
  *out = NULL;
  return find(s, tenant, q, out, NULL, e);
}

loom_err sqlite_count_threads(struct loom_store *s, const char *tenant,
                              const struct loom_search *q, size_t *out,
                              struct loom_error *e) {
  *out = 0;
  return find(s, tenant, q, NULL, out, e);
}

loom_err sqlite_delete_thread(struct loom_store *s, const char *tenant,
                              const char *id, struct loom_error *e) {
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  sqlite3_stmt *st = NULL;
  if ((result = conn_acquire(sst, &c, e)) || (result = tx_begin(c, true, e)) ||
      (result = conn_stmt(c, STMT_TH_DELETE,
                          "DELETE FROM threads WHERE tenant_id = ?1 AND"
                          " thread_id = ?2",
                          &st, e)))
    goto out;
  bind_text(st, 1, tenant);
  bind_text(st, 2, id);
  if ((result = stmt_exec(c, st, "deleting a thread", e)))
    goto out;
  if (sqlite3_changes(c->db) == 0) {
    result = loom_error_set(e, LOOM_ERR_NOT_FOUND, "thread '%s' not found", id);
    goto out;
  }
  if ((result = sqlite_delete_checkpoints_in(c, tenant, id, e)))
    goto out;
  result = tx_commit(c, e);
out:
  conn_release(sst, c);
  return result;
}
