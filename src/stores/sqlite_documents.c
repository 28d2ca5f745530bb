/*
 * sqlite_documents — documents, chunks and their keyword index on SQLite.
 *
 * A document is replaced whole: put_document deletes its chunks and their
 * FTS5 rows, then inserts the new ones, in one write transaction, so a
 * reader never sees half a document. The FTS5 table (chunks_fts, schema
 * v2) is kept by these ops, not by triggers, because it also carries the
 * collection, which the chunks table does not. A keyword query is plain
 * text: its words become quoted FTS5 terms joined by OR (so no user input
 * is ever parsed as FTS5 syntax), ranked by bm25() (lower is better; the
 * score handed out is its negation, so higher is better everywhere).
 */
#include <ctype.h>
#include <string.h>

#include "core/alloc.h"
#include "stores/internal.h"

/* Terms kept from one query; more are ignored (a query is a question,
 * not a document). */
#define FTS_MAX_TERMS 64
#define FTS_MAX_TERM 64

#define DOC_COLUMNS                                                            \
  "d.document_id, d.collection, d.source, d.title, d.content_type,"            \
  " d.content_hash, d.metadata, d.created_at, d.updated_at,"                   \
  " (SELECT COUNT(*) FROM chunks c WHERE c.tenant_id = d.tenant_id"            \
  "  AND c.document_id = d.document_id)"

static json_t *doc_row_cb(sqlite3_stmt *st) {
  return json_pack(
      "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I}", "document_id",
      col_json_string(st, 0), "collection", col_json_string(st, 1), "source",
      col_json_string(st, 2), "title", col_json_string(st, 3), "content_type",
      col_json_string(st, 4), "content_hash", col_json_string(st, 5),
      "metadata", col_json_object(st, 6), "created_at", col_iso_time(st, 7),
      "updated_at", col_iso_time(st, 8), "chunks",
      (json_int_t)sqlite3_column_int64(st, 9));
}

/* Deletes the chunks and FTS rows of a document (inside a transaction). */
static loom_err drop_chunks(struct sqlite_conn *c, const char *tenant,
                            const char *id, struct loom_error *e) {
  static const char *const sql[] = {
      "DELETE FROM chunks_fts WHERE tenant_id = ?1 AND document_id = ?2",
      "DELETE FROM chunks WHERE tenant_id = ?1 AND document_id = ?2"};
  for (size_t i = 0; i < 2; i++) {
    sqlite3_stmt *st = NULL;
    loom_err err = conn_stmt_sql(c, sql[i], &st, e);
    if (err)
      return err;
    bind_text(st, 1, tenant);
    bind_text(st, 2, id);
    if ((err = stmt_exec(c, st, "deleting a document's chunks", e)))
      return err;
  }
  return LOOM_OK;
}

static loom_err upsert_doc_row(struct sqlite_conn *c, const char *tenant,
                               const struct loom_document *d,
                               struct loom_error *e) {
  sqlite3_stmt *st = NULL;
  loom_err err = conn_stmt_sql(
      c,
      "INSERT INTO documents (tenant_id, document_id, collection, source,"
      " title, content_type, content_hash, metadata, created_at, updated_at)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)"
      " ON CONFLICT (tenant_id, document_id) DO UPDATE SET"
      " collection = ?3, source = ?4, title = ?5, content_type = ?6,"
      " content_hash = ?7, metadata = ?8, updated_at = ?9",
      &st, e);
  if (err)
    return err;
  bind_text(st, 1, tenant);
  bind_text(st, 2, d->document_id);
  bind_text(st, 3, d->collection ? d->collection : "");
  bind_text(st, 4, d->source);
  bind_text(st, 5, d->title);
  bind_text(st, 6, d->content_type);
  bind_text(st, 7, d->content_hash);
  bind_json(st, 8, json_is_object(d->metadata) ? d->metadata : NULL);
  sqlite3_bind_int64(st, 9, now_ms());
  return stmt_exec(c, st, "storing a document", e);
}

static loom_err insert_chunk(struct sqlite_conn *c, const char *tenant,
                             const struct loom_document *d, size_t idx,
                             const struct loom_chunk *ch,
                             struct loom_error *e) {
  sqlite3_stmt *st = NULL;
  loom_err err = conn_stmt_sql(
      c,
      "INSERT INTO chunks (tenant_id, document_id, idx, content, vector_id,"
      " metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
      &st, e);
  if (err)
    return err;
  bind_text(st, 1, tenant);
  bind_text(st, 2, d->document_id);
  sqlite3_bind_int64(st, 3, (sqlite3_int64)idx);
  bind_text(st, 4, ch->content);
  bind_text(st, 5, ch->vector_id);
  bind_json(st, 6, json_is_object(ch->metadata) ? ch->metadata : NULL);
  if ((err = stmt_exec(c, st, "storing a chunk", e)))
    return err;
  if ((err = conn_stmt_sql(c,
                           "INSERT INTO chunks_fts (content, tenant_id,"
                           " collection, document_id, idx)"
                           " VALUES (?1, ?2, ?3, ?4, ?5)",
                           &st, e)))
    return err;
  bind_text(st, 1, ch->content);
  bind_text(st, 2, tenant);
  bind_text(st, 3, d->collection ? d->collection : "");
  bind_text(st, 4, d->document_id);
  sqlite3_bind_int64(st, 5, (sqlite3_int64)idx);
  return stmt_exec(c, st, "indexing a chunk", e);
}

loom_err sqlite_put_document(struct loom_store *s, const char *tenant,
                             const struct loom_document *doc,
                             const struct loom_chunk *chunks, size_t n,
                             struct loom_error *e) {
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  if (!doc || !doc->document_id || !*doc->document_id)
    return loom_error_set(e, LOOM_ERR_INVALID, "a document needs an id");
  for (size_t i = 0; i < n; i++)
    if (!chunks[i].content)
      return loom_error_set(e, LOOM_ERR_INVALID, "chunk %zu has no content", i);
  struct sqlite_store *st = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  if ((result = conn_acquire(st, &c, e)))
    return result;
  if ((result = tx_begin(c, true, e)))
    goto out;
  if ((result = upsert_doc_row(c, tenant, doc, e)) ||
      (result = drop_chunks(c, tenant, doc->document_id, e)))
    goto out;
  for (size_t i = 0; i < n && !result; i++)
    result = insert_chunk(c, tenant, doc, i, &chunks[i], e);
  if (!result)
    result = tx_commit(c, e);
out:
  conn_release(st, c); /* rolls back on error */
  return result;
}

/* Runs a document select bound with ?1 tenant ?2 key; `*out` is the array
 * of rows. */
static loom_err select_docs(struct loom_store *s, const char *tenant,
                            const char *sql, const char *key, json_t **out,
                            struct loom_error *e) {
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  struct sqlite_store *st = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  if ((result = conn_acquire(st, &c, e)))
    return result;
  sqlite3_stmt *stmt = NULL;
  if ((result = conn_stmt_sql(c, sql, &stmt, e)))
    goto out;
  bind_text(stmt, 1, tenant);
  bind_text(stmt, 2, key);
  json_t *rows = json_array();
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
    json_array_append_new(rows, doc_row_cb(stmt));
  if (rc != SQLITE_DONE) {
    json_decref(rows);
    result = db_error(c, rc, "reading documents", e);
  } else {
    *out = rows;
  }
  sqlite3_reset(stmt);
out:
  conn_release(st, c);
  return result;
}

loom_err sqlite_get_document(struct loom_store *s, const char *tenant,
                             const char *id, json_t **out,
                             struct loom_error *e) {
  json_t *rows = NULL;
  loom_err err = select_docs(s, tenant,
                             "SELECT " DOC_COLUMNS " FROM documents d"
                             " WHERE d.tenant_id = ?1 AND d.document_id = ?2",
                             id, &rows, e);
  if (err)
    return err;
  if (json_array_size(rows) == 0) {
    json_decref(rows);
    return loom_error_set(e, LOOM_ERR_NOT_FOUND, "no document '%s'",
                          id ? id : "");
  }
  *out = json_incref(json_array_get(rows, 0));
  json_decref(rows);
  return LOOM_OK;
}

loom_err sqlite_list_documents(struct loom_store *s, const char *tenant,
                               const char *collection, json_t **out,
                               struct loom_error *e) {
  return select_docs(s, tenant,
                     "SELECT " DOC_COLUMNS " FROM documents d"
                     " WHERE d.tenant_id = ?1"
                     " AND (?2 IS NULL OR d.collection = ?2)"
                     " ORDER BY d.created_at, d.document_id",
                     collection, out, e);
}

/* The vector ids of a document's chunks, in order. */
static loom_err chunk_vector_ids(struct sqlite_conn *c, const char *tenant,
                                 const char *id, json_t *ids,
                                 struct loom_error *e) {
  sqlite3_stmt *st = NULL;
  loom_err err = conn_stmt_sql(c,
                               "SELECT vector_id FROM chunks WHERE"
                               " tenant_id = ?1 AND document_id = ?2"
                               " AND vector_id IS NOT NULL ORDER BY idx",
                               &st, e);
  if (err)
    return err;
  bind_text(st, 1, tenant);
  bind_text(st, 2, id);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    json_array_append_new(ids, col_json_string(st, 0));
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? LOOM_OK : db_error(c, rc, "reading chunks", e);
}

loom_err sqlite_delete_document(struct loom_store *s, const char *tenant,
                                const char *id, json_t **vector_ids,
                                struct loom_error *e) {
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  struct sqlite_store *st = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  json_t *ids = json_array();
  if ((result = conn_acquire(st, &c, e)))
    goto out;
  sqlite3_stmt *del;
  if ((result = tx_begin(c, true, e)) ||
      (result = chunk_vector_ids(c, tenant, id, ids, e)) ||
      (result = drop_chunks(c, tenant, id, e)) ||
      (result = conn_stmt_sql(c,
                              "DELETE FROM documents WHERE tenant_id = ?1"
                              " AND document_id = ?2",
                              &del, e)))
    goto out;
  bind_text(del, 1, tenant);
  bind_text(del, 2, id);
  if ((result = stmt_exec(c, del, "deleting a document", e)))
    goto out;
  if (sqlite3_changes(c->db) == 0) {
    result =
        loom_error_set(e, LOOM_ERR_NOT_FOUND, "no document '%s'", id ? id : "");
    goto out;
  }
  if ((result = tx_commit(c, e)))
    goto out;
  if (vector_ids)
    *vector_ids = json_incref(ids);
out:
  if (c)
    conn_release(st, c);
  json_decref(ids);
  return result;
}

/* `text`'s words as a safe FTS5 query: "w1" OR "w2" ...; NULL when it has
 * no word. Words are runs of letters and digits (any non-ASCII byte
 * counts as a letter, so UTF-8 words stay whole). */
static char *fts_query(const char *text) {
  char *out = loom_malloc(FTS_MAX_TERMS * (FTS_MAX_TERM + 6) + 1), *w = out;
  size_t terms = 0;
  for (const char *p = text; *p && terms < FTS_MAX_TERMS;) {
    while (*p && !isalnum((unsigned char)*p) && !((unsigned char)*p & 0x80))
      p++;
    const char *word = p;
    while (*p && (isalnum((unsigned char)*p) || ((unsigned char)*p & 0x80)))
      p++;
    size_t len = (size_t)(p - word);
    if (len == 0)
      continue;
    if (len > FTS_MAX_TERM)
      len = FTS_MAX_TERM;
    if (terms++) {
      memcpy(w, " OR ", 4);
      w += 4;
    }
    *w++ = '"';
    memcpy(w, word, len);
    w += len;
    *w++ = '"';
  }
  *w = 0;
  if (terms == 0) {
    loom_free(out);
    return NULL;
  }
  return out;
}

static json_t *hit_row_cb(sqlite3_stmt *st) {
  return json_pack(
      "{s:o, s:I, s:o, s:o, s:o, s:f}", "document_id", col_json_string(st, 0),
      "idx", (json_int_t)sqlite3_column_int64(st, 1), "content",
      col_json_string(st, 2), "vector_id", col_json_string(st, 3), "metadata",
      col_json_object(st, 4), "score", -sqlite3_column_double(st, 5));
}

loom_err sqlite_search_chunks(struct loom_store *s, const char *tenant,
                              const char *collection, const char *query,
                              size_t limit, json_t **out,
                              struct loom_error *e) {
  loom_err result = store_check_tenant(tenant, e);
  if (result)
    return result;
  char *match = fts_query(query ? query : "");
  if (!match) {
    *out = json_array();
    return LOOM_OK;
  }
  struct sqlite_store *st = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  sqlite3_stmt *stmt = NULL;
  if ((result = conn_acquire(st, &c, e)) ||
      (result = conn_stmt_sql(
           c,
           /* Rank inside the FTS table first, then join only the top
            * rows: several times faster than joining every match. */
           "SELECT f.document_id, f.idx, c.content, c.vector_id, c.metadata,"
           " f.rank FROM (SELECT tenant_id, document_id, idx, rank"
           " FROM chunks_fts WHERE chunks_fts MATCH ?1"
           " AND tenant_id = ?2 AND collection = ?3"
           " ORDER BY rank LIMIT ?4) f JOIN chunks c"
           " ON c.tenant_id = f.tenant_id AND c.document_id = f.document_id"
           " AND c.idx = f.idx ORDER BY f.rank",
           &stmt, e)))
    goto out;
  bind_text(stmt, 1, match);
  bind_text(stmt, 2, tenant);
  bind_text(stmt, 3, collection ? collection : "");
  sqlite3_bind_int64(stmt, 4, (sqlite3_int64)(limit ? limit : 10));
  json_t *rows = json_array();
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
    json_array_append_new(rows, hit_row_cb(stmt));
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) {
    json_decref(rows);
    result = db_error(c, rc, "searching chunks", e);
  } else {
    *out = rows;
  }
out:
  if (c)
    conn_release(st, c);
  loom_free(match);
  return result;
}
