/*
 * sqlite_memories — agent memories on SQLite (the memories table of schema
 * v1).
 *
 * A memory with a key is unique per (tenant, namespace, kind, key): storing
 * it again replaces the content in place, keeping its id and created_at
 * (an entity's facts are updated, not piled up). Expired memories are
 * never listed; they are removed on the next write to their namespace,
 * or by purge_memories, which finds them by their expiry (an index of
 * the memories that have one) whatever their namespace.
 * Ranking for recall happens above the store (agents/rag_memory.c), so
 * this stays plain SQL that PostgreSQL runs unchanged. search and the
 * namespace listing serve the LangGraph store API (api/store_items.c),
 * which keeps its items here under a kind of their own.
 */
#include <string.h>

#include "core/alloc.h"
#include "core/id.h"
#include "stores/internal.h"

#define MEM_COLUMNS                                                            \
  "memory_id, namespace, kind, memory_key, content, metadata, created_at,"     \
  " updated_at, expires_at"

static json_t *memory_row_cb(sqlite3_stmt *st) {
  json_t *exp = sqlite3_column_type(st, 8) == SQLITE_NULL ? json_null()
                                                          : col_iso_time(st, 8);
  return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "memory_id",
                   col_json_string(st, 0), "namespace", col_json_string(st, 1),
                   "kind", col_json_string(st, 2), "key",
                   col_json_string(st, 3), "content", col_json_string(st, 4),
                   "metadata", col_json_object(st, 5), "created_at",
                   col_iso_time(st, 6), "updated_at", col_iso_time(st, 7),
                   "expires_at", exp);
}

static loom_err check_memory(const json_t *row, struct loom_error *e) {
  static const char *const req[] = {"namespace", "kind", "content"};
  for (size_t i = 0; i < 3; i++)
    if (!json_is_string(json_object_get(row, req[i])))
      return loom_error_set(e, LOOM_ERR_INVALID,
                            "a memory needs '%s' (a string)", req[i]);
  json_t *key = json_object_get(row, "key");
  json_t *meta = json_object_get(row, "metadata");
  json_t *ttl = json_object_get(row, "ttl_ms");
  if ((key && !json_is_string(key) && !json_is_null(key)) ||
      (meta && !json_is_object(meta) && !json_is_null(meta)) ||
      (ttl && (!json_is_integer(ttl) || json_integer_value(ttl) < 0)))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "memory 'key' must be a string, 'metadata' an "
                          "object, 'ttl_ms' a non-negative integer");
  return LOOM_OK;
}

/* The id of the keyed memory, or a new one; `*exists` says which. */
static loom_err memory_id(struct sqlite_conn *c, const char *tenant,
                          const json_t *row, char id[LOOM_ID_LEN + 1],
                          struct loom_error *e) {
  const char *key = json_string_value(json_object_get(row, "key"));
  loom_id_new(id);
  if (!key)
    return LOOM_OK;
  sqlite3_stmt *st = NULL;
  loom_err err = conn_stmt_sql(c,
                               "SELECT memory_id FROM memories WHERE"
                               " tenant_id = ?1 AND namespace = ?2 AND"
                               " kind = ?3 AND memory_key = ?4",
                               &st, e);
  if (err)
    return err;
  bind_text(st, 1, tenant);
  bind_text(st, 2, json_string_value(json_object_get(row, "namespace")));
  bind_text(st, 3, json_string_value(json_object_get(row, "kind")));
  bind_text(st, 4, key);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    snprintf(id, LOOM_ID_LEN + 1, "%s", sqlite3_column_text(st, 0));
  sqlite3_reset(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE
             ? LOOM_OK
             : db_error(c, rc, "looking up a memory", e);
}

static loom_err write_memory(struct sqlite_conn *c, const char *tenant,
                             const json_t *row, const char *id,
                             struct loom_error *e) {
  static const char *const purge =
      "DELETE FROM memories WHERE tenant_id = ?1 AND namespace = ?2"
      " AND expires_at IS NOT NULL AND expires_at <= ?3";
  sqlite3_stmt *st = NULL;
  sqlite3_int64 now = now_ms();
  const char *ns = json_string_value(json_object_get(row, "namespace"));
  loom_err err = conn_stmt_sql(c, purge, &st, e);
  if (err)
    return err;
  bind_text(st, 1, tenant);
  bind_text(st, 2, ns);
  sqlite3_bind_int64(st, 3, now);
  if ((err = stmt_exec(c, st, "purging expired memories", e)) ||
      (err = conn_stmt_sql(
           c,
           "INSERT INTO memories (tenant_id, memory_id, namespace, kind,"
           " memory_key, content, metadata, created_at, updated_at,"
           " expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)"
           " ON CONFLICT (tenant_id, memory_id) DO UPDATE SET"
           " content = ?6, metadata = ?7, updated_at = ?8, expires_at = ?9",
           &st, e)))
    return err;
  json_t *meta = json_object_get(row, "metadata");
  json_t *ttl = json_object_get(row, "ttl_ms");
  bind_text(st, 1, tenant);
  bind_text(st, 2, id);
  bind_text(st, 3, ns);
  bind_text(st, 4, json_string_value(json_object_get(row, "kind")));
  bind_text(st, 5, json_string_value(json_object_get(row, "key")));
  bind_text(st, 6, json_string_value(json_object_get(row, "content")));
  bind_json(st, 7, json_is_object(meta) ? meta : NULL);
  sqlite3_bind_int64(st, 8, now);
  if (json_integer_value(ttl) > 0)
    sqlite3_bind_int64(st, 9, now + (sqlite3_int64)json_integer_value(ttl));
  else
    sqlite3_bind_null(st, 9);
  return stmt_exec(c, st, "storing a memory", e);
}

static loom_err read_memories(struct sqlite_conn *c, sqlite3_stmt *st,
                              json_t **out, struct loom_error *e) {
  json_t *rows = json_array();
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    json_array_append_new(rows, memory_row_cb(st));
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    json_decref(rows);
    return db_error(c, rc, "reading memories", e);
  }
  *out = rows;
  return LOOM_OK;
}

loom_err sqlite_put_memory(struct loom_store *s, const char *tenant,
                           const json_t *row, json_t **out,
                           struct loom_error *e) {
  loom_err result = store_check_tenant(tenant, e);
  if (result || (result = check_memory(row, e)))
    return result;
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  char id[LOOM_ID_LEN + 1];
  sqlite3_stmt *st = NULL;
  json_t *rows = NULL;
  if ((result = conn_acquire(sst, &c, e)))
    return result;
  if ((result = tx_begin(c, true, e)) ||
      (result = memory_id(c, tenant, row, id, e)) ||
      (result = write_memory(c, tenant, row, id, e)) ||
      (result = tx_commit(c, e)))
    goto out;
  if (out &&
      !(result = conn_stmt_sql(c,
                               "SELECT " MEM_COLUMNS " FROM memories WHERE"
                               " tenant_id = ?1 AND memory_id = ?2",
                               &st, e))) {
    bind_text(st, 1, tenant);
    bind_text(st, 2, id);
    if (!(result = read_memories(c, st, &rows, e)))
      *out = json_incref(json_array_get(rows, 0));
    json_decref(rows);
  }
out:
  conn_release(sst, c);
  return result;
}

loom_err sqlite_list_memories(struct loom_store *s, const char *tenant,
                              const char *ns, const char *kind, const char *key,
                              size_t limit, json_t **out,
                              struct loom_error *e) {
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  sqlite3_stmt *st = NULL;
  if ((result = conn_acquire(sst, &c, e)) ||
      (result = conn_stmt_sql(
           c,
           "SELECT " MEM_COLUMNS " FROM memories WHERE tenant_id = ?1"
           " AND namespace = ?2 AND (?3 IS NULL OR kind = ?3)"
           " AND (?4 IS NULL OR memory_key = ?4)"
           " AND (expires_at IS NULL OR expires_at > ?5)"
           " ORDER BY updated_at DESC, memory_id DESC LIMIT ?6",
           &st, e)))
    goto out;
  bind_text(st, 1, tenant);
  bind_text(st, 2, ns ? ns : "");
  bind_text(st, 3, kind);
  bind_text(st, 4, key);
  sqlite3_bind_int64(st, 5, now_ms());
  sqlite3_bind_int64(st, 6,
                     (sqlite3_int64)(limit && limit < LOOM_SEARCH_MAX_LIMIT
                                         ? limit
                                         : LOOM_SEARCH_MAX_LIMIT));
  result = read_memories(c, st, out, e);
out:
  conn_release(sst, c);
  return result;
}

loom_err sqlite_delete_memories(struct loom_store *s, const char *tenant,
                                const char *ns, const char *id, size_t *deleted,
                                struct loom_error *e) {
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  sqlite3_stmt *st = NULL;
  if ((result = conn_acquire(sst, &c, e)) ||
      (result = conn_stmt_sql(c,
                              "DELETE FROM memories WHERE tenant_id = ?1"
                              " AND namespace = ?2"
                              " AND (?3 IS NULL OR memory_id = ?3)",
                              &st, e)))
    goto out;
  bind_text(st, 1, tenant);
  bind_text(st, 2, ns ? ns : "");
  bind_text(st, 3, id);
  if (!(result = stmt_exec(c, st, "deleting memories", e)) && deleted)
    *deleted = (size_t)sqlite3_changes(c->db);
out:
  conn_release(sst, c);
  return result;
}

/* `?p` names the prefix: the namespace is it, or lies under it. */
#define UNDER_PREFIX(p)                                                        \
  " AND (" p " = '' OR namespace = " p " OR substr(namespace, 1,"              \
  " length(" p ") + 1) = " p " || '.')"

/* Steps `st` keeping rows as search_memories says. */
static loom_err collect_kept(struct sqlite_conn *c, sqlite3_stmt *st,
                             bool (*keep)(void *ud, json_t *row), void *ud,
                             size_t offset, size_t limit, json_t **out,
                             struct loom_error *e) {
  json_t *rows = json_array();
  int rc = SQLITE_DONE;
  while (json_array_size(rows) < limit &&
         (rc = sqlite3_step(st)) == SQLITE_ROW) {
    json_t *row = memory_row_cb(st);
    if (keep && !keep(ud, row))
      json_decref(row);
    else if (offset) {
      offset--;
      json_decref(row);
    } else
      json_array_append_new(rows, row);
  }
  if (json_array_size(rows) == limit)
    rc = SQLITE_DONE;
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    json_decref(rows);
    return db_error(c, rc, "searching memories", e);
  }
  *out = rows;
  return LOOM_OK;
}

loom_err sqlite_search_memories(struct loom_store *s, const char *tenant,
                                const char *kind, const char *prefix,
                                bool (*keep)(void *ud, json_t *row), void *ud,
                                size_t offset, size_t limit, json_t **out,
                                struct loom_error *e) {
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  sqlite3_stmt *st = NULL;
  if ((result = conn_acquire(sst, &c, e)) ||
      (result = conn_stmt_sql(
           c,
           "SELECT " MEM_COLUMNS " FROM memories WHERE tenant_id = ?1"
           " AND kind = ?2" UNDER_PREFIX(
               "?3") " AND (expires_at IS NULL OR expires_at > ?4)"
                     " ORDER BY updated_at DESC, namespace, memory_key",
           &st, e)))
    goto out;
  bind_text(st, 1, tenant);
  bind_text(st, 2, kind);
  bind_text(st, 3, prefix ? prefix : "");
  sqlite3_bind_int64(st, 4, now_ms());
  result = collect_kept(
      c, st, keep, ud, offset,
      limit && limit < LOOM_SEARCH_MAX_LIMIT ? limit : LOOM_SEARCH_MAX_LIMIT,
      out, e);
out:
  conn_release(sst, c);
  return result;
}

loom_err sqlite_list_memory_namespaces(struct loom_store *s, const char *tenant,
                                       const char *kind, const char *prefix,
                                       size_t limit, json_t **out,
                                       struct loom_error *e) {
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  sqlite3_stmt *st = NULL;
  if ((result = conn_acquire(sst, &c, e)) ||
      (result = conn_stmt_sql(
           c,
           "SELECT DISTINCT namespace FROM memories WHERE tenant_id = ?1"
           " AND kind = ?2" UNDER_PREFIX(
               "?3") " AND (expires_at IS NULL OR expires_at > ?4)"
                     " ORDER BY namespace LIMIT ?5",
           &st, e)))
    goto out;
  bind_text(st, 1, tenant);
  bind_text(st, 2, kind);
  bind_text(st, 3, prefix ? prefix : "");
  sqlite3_bind_int64(st, 4, now_ms());
  sqlite3_bind_int64(st, 5,
                     (sqlite3_int64)(limit && limit < LOOM_MEMORY_MAX_NAMESPACES
                                         ? limit
                                         : LOOM_MEMORY_MAX_NAMESPACES));
  json_t *names = json_array();
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    json_array_append_new(names, col_json_string(st, 0));
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    json_decref(names);
    result = db_error(c, rc, "listing memory namespaces", e);
  } else
    *out = names;
out:
  conn_release(sst, c);
  return result;
}

loom_err sqlite_touch_memory(struct loom_store *s, const char *tenant,
                             const char *id, long long ttl_ms,
                             struct loom_error *e) {
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  sqlite3_stmt *st = NULL;
  if ((result = conn_acquire(sst, &c, e)) ||
      (result = conn_stmt_sql(c,
                              "UPDATE memories SET expires_at = ?3 + ?4"
                              " WHERE tenant_id = ?1 AND memory_id = ?2"
                              " AND expires_at IS NOT NULL"
                              " AND expires_at > ?3",
                              &st, e)))
    goto out;
  bind_text(st, 1, tenant);
  bind_text(st, 2, id);
  sqlite3_bind_int64(st, 3, now_ms());
  sqlite3_bind_int64(st, 4, (sqlite3_int64)ttl_ms);
  result = stmt_exec(c, st, "refreshing a memory's expiry", e);
out:
  conn_release(sst, c);
  return result;
}

/* The earliest expiry ahead of `now` among memories of `kind` (NULL: any),
 * or 0. */
static loom_err next_expiry(struct sqlite_conn *c, const char *tenant,
                            const char *kind, sqlite3_int64 now,
                            long long *next_ms, struct loom_error *e) {
  sqlite3_stmt *st = NULL;
  loom_err err = conn_stmt_sql(c,
                               "SELECT min(expires_at) FROM memories"
                               " WHERE tenant_id = ?1 AND expires_at > ?2"
                               " AND (?3 IS NULL OR kind = ?3)",
                               &st, e);
  if (err)
    return err;
  bind_text(st, 1, tenant);
  sqlite3_bind_int64(st, 2, now);
  bind_text(st, 3, kind);
  int rc = sqlite3_step(st);
  *next_ms = rc == SQLITE_ROW ? (long long)sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? LOOM_OK
                          : db_error(c, rc, "finding the next expiry", e);
}

loom_err sqlite_purge_memories(struct loom_store *s, const char *tenant,
                               const char *kind, size_t limit, size_t *deleted,
                               long long *next_ms, struct loom_error *e) {
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  sqlite3_stmt *st = NULL;
  sqlite3_int64 now = now_ms();
  *deleted = 0;
  /* By memories_expiry: the rows that expired, not the table. */
  if ((result = conn_acquire(sst, &c, e)) ||
      (result = conn_stmt_sql(
           c,
           "DELETE FROM memories WHERE tenant_id = ?1 AND memory_id IN"
           " (SELECT memory_id FROM memories WHERE tenant_id = ?1"
           " AND expires_at IS NOT NULL AND expires_at <= ?2"
           " AND (?3 IS NULL OR kind = ?3) ORDER BY expires_at LIMIT ?4)",
           &st, e)))
    goto out;
  bind_text(st, 1, tenant);
  sqlite3_bind_int64(st, 2, now);
  bind_text(st, 3, kind);
  sqlite3_bind_int64(st, 4, (sqlite3_int64)limit);
  if ((result = stmt_exec(c, st, "deleting expired memories", e)))
    goto out;
  *deleted = (size_t)sqlite3_changes(c->db);
  if (next_ms)
    result = next_expiry(c, tenant, kind, now, next_ms, e);
out:
  conn_release(sst, c);
  return result;
}
