/*
 * sqlite_assistants — assistants and their versions on SQLite.
 *
 * `assistants` holds the current row, `assistant_versions` every version
 * ever made. Creating writes version 1 to both; an update reads the
 * current row, merges the patch, and writes version max+1 to both, all in
 * one write transaction. Setting the latest version copies that version's
 * fields back into `assistants`. The insert, update and version-insert
 * statements share their parameter numbering so one binder serves all
 * three.
 */
#include "core/alloc.h"
#include "stores/internal.h"

#define AS_COLUMNS                                                             \
  "assistant_id, graph_id, name, description, config, context, metadata,"      \
  " version, created_at, updated_at"

#define VS_COLUMNS                                                             \
  "assistant_id, graph_id, name, description, config, context, metadata,"      \
  " version, created_at"

/* Fields a patch may replace ("metadata" is merged). */
static const char *const patch_keys[] = {"graph_id", "name",    "description",
                                         "config",   "context", NULL};

static const char *const sortable[] = {
    "created_at",   "created_at",   "updated_at", "updated_at",
    "assistant_id", "assistant_id", "graph_id",   "graph_id",
    "name",         "name",         NULL};

static json_t *assistant_row_cb(sqlite3_stmt *st) {
  return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:o}",
                   "assistant_id", col_json_string(st, 0), "graph_id",
                   col_json_string(st, 1), "name", col_json_string(st, 2),
                   "description", col_json_string(st, 3), "config",
                   col_json_object(st, 4), "context", col_json_object(st, 5),
                   "metadata", col_json_object(st, 6), "version",
                   (json_int_t)sqlite3_column_int64(st, 7), "created_at",
                   col_iso_time(st, 8), "updated_at", col_iso_time(st, 9));
}

static json_t *version_row_cb(sqlite3_stmt *st) {
  return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o}",
                   "assistant_id", col_json_string(st, 0), "graph_id",
                   col_json_string(st, 1), "name", col_json_string(st, 2),
                   "description", col_json_string(st, 3), "config",
                   col_json_object(st, 4), "context", col_json_object(st, 5),
                   "metadata", col_json_object(st, 6), "version",
                   (json_int_t)sqlite3_column_int64(st, 7), "created_at",
                   col_iso_time(st, 8));
}

/* ?1 tenant ?2 id ?3 graph ?4 name ?5 description ?6 config ?7 context
 * ?8 metadata ?9 version ?10 now. */
static void bind_assistant(sqlite3_stmt *st, const char *tenant, const char *id,
                           const json_t *row, int version) {
  static const char *const json_keys[] = {"config", "context", "metadata"};
  bind_text(st, 1, tenant);
  bind_text(st, 2, id);
  bind_text(st, 3, json_string_value(json_object_get(row, "graph_id")));
  bind_text(st, 4, json_string_value(json_object_get(row, "name")));
  bind_text(st, 5, json_string_value(json_object_get(row, "description")));
  for (int i = 0; i < 3; i++) {
    json_t *v = json_object_get(row, json_keys[i]);
    if (json_is_object(v))
      bind_json(st, 6 + i, v);
    else
      bind_text(st, 6 + i, "{}");
  }
  sqlite3_bind_int(st, 9, version);
  sqlite3_bind_int64(st, 10, now_ms());
}

/* Reads the current row; LOOM_ERR_NOT_FOUND (with message) when absent. */
static loom_err load(struct sqlite_conn *c, const char *tenant, const char *id,
                     json_t **out, struct loom_error *e) {
  return load_row(c, STMT_AS_GET,
                  "SELECT " AS_COLUMNS " FROM assistants"
                  " WHERE tenant_id = ?1 AND assistant_id = ?2",
                  "assistant", assistant_row_cb, tenant, id, out, e);
}

/* Writes `row` as version `version`: into assistants (insert or update)
 * and into assistant_versions. */
static loom_err write_version(struct sqlite_conn *c, const char *tenant,
                              const char *id, const json_t *row, int version,
                              bool insert, struct loom_error *e) {
  sqlite3_stmt *st = NULL;
  loom_err err =
      insert
          ? conn_stmt(c, STMT_AS_INSERT,
                      "INSERT INTO assistants (tenant_id, " AS_COLUMNS ")"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                      &st, e)
          : conn_stmt(c, STMT_AS_UPDATE,
                      "UPDATE assistants SET graph_id = ?3, name = ?4,"
                      " description = ?5, config = ?6, context = ?7,"
                      " metadata = ?8, version = ?9, updated_at = ?10"
                      " WHERE tenant_id = ?1 AND assistant_id = ?2",
                      &st, e);
  if (err)
    return err;
  bind_assistant(st, tenant, id, row, version);
  if ((err = stmt_exec(c, st, "storing an assistant", e)))
    return err;
  if ((err = conn_stmt(c, STMT_AS_VERSION_INSERT,
                       "INSERT INTO assistant_versions (tenant_id,"
                       " assistant_id, graph_id, name, description, config,"
                       " context, metadata, version, created_at) VALUES"
                       " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                       " ON CONFLICT DO NOTHING",
                       &st, e)))
    return err;
  bind_assistant(st, tenant, id, row, version);
  return stmt_exec(c, st, "storing an assistant version", e);
}

loom_err sqlite_put_assistant(struct loom_store *s, const char *tenant,
                              const json_t *row, enum loom_if_exists ie,
                              json_t **out, struct loom_error *e) {
  *out = NULL;
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  if (!json_is_object(row) || !json_is_string(json_object_get(row, "graph_id")))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "an assistant needs a string 'graph_id'");
  char *id = row_id_or_new(row, "assistant_id");
  json_t *fields = json_deep_copy(row);
  if (!json_is_string(json_object_get(fields, "name")))
    json_object_set(fields, "name", json_object_get(row, "graph_id"));
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  if ((result = conn_acquire(sst, &c, e)))
    goto out;
  if ((result = tx_begin(c, true, e)))
    goto out;
  json_t *existing = NULL;
  result = load(c, tenant, id, &existing, NULL);
  if (result == LOOM_OK) {
    if (ie == LOOM_IF_EXISTS_RAISE) {
      json_decref(existing);
      result = loom_error_set(e, LOOM_ERR_EXISTS,
                              "assistant '%s' already exists", id);
      goto out;
    }
    *out = existing;
  } else if (result == LOOM_ERR_NOT_FOUND) {
    if ((result = write_version(c, tenant, id, fields, 1, true, e)) ||
        (result = load(c, tenant, id, out, e)))
      goto out;
  } else {
    result = loom_error_set(e, result, "reading an assistant");
    goto out;
  }
  result = tx_commit(c, e);
out:
  conn_release(sst, c);
  if (result && *out) {
    json_decref(*out);
    *out = NULL;
  }
  json_decref(fields);
  loom_free(id);
  return result;
}

loom_err sqlite_get_assistant(struct loom_store *s, const char *tenant,
                              const char *id, json_t **out,
                              struct loom_error *e) {
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

static loom_err max_version(struct sqlite_conn *c, const char *tenant,
                            const char *id, int *out, struct loom_error *e) {
  sqlite3_stmt *st = NULL;
  loom_err err = conn_stmt(c, STMT_AS_VERSION_MAX,
                           "SELECT COALESCE(MAX(version), 0) FROM"
                           " assistant_versions WHERE tenant_id = ?1 AND"
                           " assistant_id = ?2",
                           &st, e);
  if (err)
    return err;
  bind_text(st, 1, tenant);
  bind_text(st, 2, id);
  int rc = sqlite3_step(st);
  *out = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? LOOM_OK
                          : db_error(c, rc, "reading assistant versions", e);
}

loom_err sqlite_update_assistant(struct loom_store *s, const char *tenant,
                                 const char *id, const json_t *patch,
                                 json_t **out, struct loom_error *e) {
  *out = NULL;
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  if (!id || !json_is_object(patch))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "updating an assistant needs its id and an object");
  json_t *graph = json_object_get(patch, "graph_id");
  if (graph && !json_is_string(graph))
    return loom_error_set(e, LOOM_ERR_INVALID, "'graph_id' must be a string");
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  json_t *row = NULL;
  int version = 0;
  if ((result = conn_acquire(sst, &c, e)))
    return result;
  if ((result = tx_begin(c, true, e)) ||
      (result = load(c, tenant, id, &row, e)) ||
      (result = max_version(c, tenant, id, &version, e)))
    goto out;
  merge_patch(row, patch, patch_keys);
  if ((result = write_version(c, tenant, id, row, version + 1, false, e)) ||
      (result = load(c, tenant, id, out, e)))
    goto out;
  result = tx_commit(c, e);
out:
  conn_release(sst, c);
  json_decref(row);
  if (result && *out) {
    json_decref(*out);
    *out = NULL;
  }
  return result;
}

loom_err sqlite_set_assistant_version(struct loom_store *s, const char *tenant,
                                      const char *id, int version, json_t **out,
                                      struct loom_error *e) {
  *out = NULL;
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  json_t *row = NULL;
  if ((result = conn_acquire(sst, &c, e)))
    return result;
  if ((result = tx_begin(c, true, e)))
    goto out;
  sqlite3_stmt *st = NULL;
  if ((result = conn_stmt(c, STMT_AS_VERSION_GET,
                          "SELECT " VS_COLUMNS " FROM assistant_versions"
                          " WHERE tenant_id = ?1 AND assistant_id = ?2 AND"
                          " version = ?3",
                          &st, e)))
    goto out;
  bind_text(st, 1, tenant);
  bind_text(st, 2, id);
  sqlite3_bind_int(st, 3, version);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    row = version_row_cb(st);
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    result = loom_error_set(e, LOOM_ERR_NOT_FOUND,
                            "assistant '%s' has no version %d", id, version);
  else if (rc != SQLITE_ROW)
    result = db_error(c, rc, "reading an assistant version", e);
  if (result ||
      (result = write_version(c, tenant, id, row, version, false, e)) ||
      (result = load(c, tenant, id, out, e)))
    goto out;
  result = tx_commit(c, e);
out:
  conn_release(sst, c);
  json_decref(row);
  if (result && *out) {
    json_decref(*out);
    *out = NULL;
  }
  return result;
}

static const struct row_table table = {"assistants",   AS_COLUMNS,
                                       "assistant_id", "graph_id",
                                       sortable,       assistant_row_cb};

/* Search (out set) or count (count set) of a tenant's assistants. */
static loom_err find(struct loom_store *s, const char *tenant,
                     const struct loom_search *q, json_t **out, size_t *count,
                     struct loom_error *e) {
  return find_rows(s, &table, tenant, q, q ? q->graph_id : NULL, out, count, e);
}

loom_err sqlite_search_assistants(struct loom_store *s, const char *tenant,
                                  const struct loom_search *q, json_t **out,
                                  struct loom_error *e) {
  *out = NULL;
  return find(s, tenant, q, out, NULL, e);
}

loom_err sqlite_count_assistants(struct loom_store *s, const char *tenant,
                                 const struct loom_search *q, size_t *out,
                                 struct loom_error *e) {
  *out = 0;
  return find(s, tenant, q, NULL, out, e);
}

loom_err sqlite_list_assistant_versions(struct loom_store *s,
                                        const char *tenant, const char *id,
                                        const struct loom_search *q,
                                        json_t **out, struct loom_error *e) {
  *out = NULL;
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  sqlite3_stmt *st = NULL;
  if ((result = conn_acquire(sst, &c, e)) ||
      (result = conn_stmt(c, STMT_AS_VERSIONS,
                          "SELECT " VS_COLUMNS " FROM assistant_versions"
                          " WHERE tenant_id = ?1 AND assistant_id = ?2"
                          " ORDER BY version DESC",
                          &st, e)))
    goto out;
  bind_text(st, 1, tenant);
  bind_text(st, 2, id);
  result = collect_rows(c, st, version_row_cb, NULL, q, out, NULL, e);
out:
  conn_release(sst, c);
  return result;
}

loom_err sqlite_delete_assistant(struct loom_store *s, const char *tenant,
                                 const char *id, struct loom_error *e) {
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  sqlite3_stmt *st = NULL;
  if ((result = conn_acquire(sst, &c, e)) ||
      (result = conn_stmt(c, STMT_AS_DELETE,
                          "DELETE FROM assistants WHERE tenant_id = ?1 AND"
                          " assistant_id = ?2",
                          &st, e)))
    goto out;
  bind_text(st, 1, tenant);
  bind_text(st, 2, id);
  if ((result = stmt_exec(c, st, "deleting an assistant", e)))
    goto out;
  if (sqlite3_changes(c->db) == 0)
    result =
        loom_error_set(e, LOOM_ERR_NOT_FOUND, "assistant '%s' not found", id);
out:
  conn_release(sst, c);
  return result;
}
