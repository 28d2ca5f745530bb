/*
 * sqlite_runs — runs, the run queue and run events on SQLite.
 *
 * The queue is the runs table itself. claim_run, inside one BEGIN
 * IMMEDIATE transaction (so claimers from any process are serialised by
 * SQLite's write lock), picks the oldest run that is pending, or running
 * with an expired lease, and whose thread has no other run with a live
 * lease; then marks it running under the caller's lease. PostgreSQL does
 * the same pick with FOR UPDATE SKIP LOCKED, so workers never wait on each
 * other. Workers renew the lease while they work; a run whose worker died
 * is picked up again once its lease runs out, attempt counting up.
 *
 * Run events get seq = last seq of the run + 1 in the insert itself, so a
 * client replaying "events after N" sees every event once and in order.
 */
#include <string.h>

#include "core/alloc.h"
#include "stores/internal.h"

#define RUN_COLUMNS                                                            \
  "run_id, thread_id, assistant_id, status, kwargs, metadata,"                 \
  " multitask_strategy, error, attempt, created_at, updated_at, started_at,"   \
  " finished_at"

#define FINAL_STATUSES "('success', 'error', 'timeout', 'interrupted')"

static json_t *run_row_cb(sqlite3_stmt *st) {
  return json_pack(
      "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:o}",
      "run_id", col_json_string(st, 0), "thread_id", col_json_string(st, 1),
      "assistant_id", col_json_string(st, 2), "status", col_json_string(st, 3),
      "kwargs", col_json_object(st, 4), "metadata", col_json_object(st, 5),
      "multitask_strategy", col_json_string(st, 6), "error",
      col_json_or_null(st, 7), "attempt",
      (json_int_t)sqlite3_column_int64(st, 8), "created_at",
      col_iso_time(st, 9), "updated_at", col_iso_time(st, 10), "started_at",
      col_iso_time(st, 11), "finished_at", col_iso_time(st, 12));
}

static bool valid_status(const char *s) {
  static const char *const ok[] = {"pending", "running", "success",
                                   "error",   "timeout", "interrupted"};
  for (size_t i = 0; s && i < sizeof ok / sizeof ok[0]; i++)
    if (strcmp(s, ok[i]) == 0)
      return true;
  return false;
}

static loom_err load(struct sqlite_conn *c, const char *tenant, const char *id,
                     json_t **out, struct loom_error *e) {
  return load_row(c, STMT_RUN_GET,
                  "SELECT " RUN_COLUMNS " FROM runs"
                  " WHERE tenant_id = ?1 AND run_id = ?2",
                  "run", run_row_cb, tenant, id, out, e);
}

/* Runs `fn` on a pooled connection, inside a write transaction when
 * `write`, committing when it succeeds. */
static loom_err with_conn(struct loom_store *s, const char *tenant, bool write,
                          loom_err (*fn)(struct sqlite_conn *c, void *arg,
                                         struct loom_error *e),
                          void *arg, struct loom_error *e) {
  loom_err result = tenant ? store_check_tenant(tenant, e) : LOOM_OK;
  if (result)
    return result;
  struct sqlite_store *sst = sqlite_of(s);
  struct sqlite_conn *c = NULL;
  if ((result = conn_acquire(sst, &c, e)))
    return result;
  if ((!write || !(result = tx_begin(c, true, e))) &&
      !(result = fn(c, arg, e)) && write)
    result = tx_commit(c, e);
  conn_release(sst, c);
  return result;
}

struct put_args {
  const char *tenant;
  const json_t *row;
  json_t **out;
};

static loom_err put_cb(struct sqlite_conn *c, void *arg, struct loom_error *e) {
  struct put_args *a = arg;
  const json_t *row = a->row;
  const char *status = json_string_value(json_object_get(row, "status"));
  const char *strategy =
      json_string_value(json_object_get(row, "multitask_strategy"));
  char *id = row_id_or_new(row, "run_id");
  sqlite3_stmt *st = NULL;
  loom_err err = conn_stmt(
      c, STMT_RUN_INSERT,
      "INSERT INTO runs (tenant_id, run_id, thread_id, assistant_id, status,"
      " kwargs, metadata, multitask_strategy, attempt, created_at,"
      " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?9)",
      &st, e);
  if (err)
    goto out;
  bind_text(st, 1, a->tenant);
  bind_text(st, 2, id);
  bind_text(st, 3, json_string_value(json_object_get(row, "thread_id")));
  bind_text(st, 4, json_string_value(json_object_get(row, "assistant_id")));
  bind_text(st, 5, status ? status : "pending");
  for (int i = 0; i < 2; i++) {
    json_t *v = json_object_get(row, i ? "metadata" : "kwargs");
    if (json_is_object(v))
      bind_json(st, 6 + i, v);
    else
      bind_text(st, 6 + i, "{}");
  }
  bind_text(st, 8, strategy ? strategy : "reject");
  sqlite3_bind_int64(st, 9, now_ms());
  err = stmt_exec(c, st, "creating a run", e);
  if (err == LOOM_ERR_NOT_FOUND)
    err = loom_error_set(e, err, "thread '%s' not found",
                         json_string_value(json_object_get(row, "thread_id")));
  if (!err)
    err = load(c, a->tenant, id, a->out, e);
out:
  loom_free(id);
  return err;
}

loom_err sqlite_put_run(struct loom_store *s, const char *tenant,
                        const json_t *row, json_t **out, struct loom_error *e) {
  *out = NULL;
  if (!json_is_object(row))
    return loom_error_set(e, LOOM_ERR_INVALID, "a run must be an object");
  json_t *status = json_object_get(row, "status");
  if (status && !valid_status(json_string_value(status)))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "run 'status' must be pending, running, success, "
                          "error, timeout or interrupted");
  struct put_args a = {tenant, row, out};
  loom_err err = with_conn(s, tenant, true, put_cb, &a, e);
  if (err && *out) {
    json_decref(*out);
    *out = NULL;
  }
  return err;
}

struct get_args {
  const char *tenant, *id;
  json_t **out;
};

static loom_err get_cb(struct sqlite_conn *c, void *arg, struct loom_error *e) {
  struct get_args *a = arg;
  return load(c, a->tenant, a->id, a->out, e);
}

loom_err sqlite_get_run(struct loom_store *s, const char *tenant,
                        const char *run_id, json_t **out,
                        struct loom_error *e) {
  *out = NULL;
  struct get_args a = {tenant, run_id, out};
  return with_conn(s, tenant, false, get_cb, &a, e);
}

struct list_args {
  const char *tenant, *thread_id;
  const struct loom_search *q;
  json_t **out;
};

static loom_err list_cb(struct sqlite_conn *c, void *arg,
                        struct loom_error *e) {
  struct list_args *a = arg;
  sqlite3_stmt *st = NULL;
  loom_err err = conn_stmt(c, STMT_RUN_LIST,
                           "SELECT " RUN_COLUMNS " FROM runs"
                           " WHERE tenant_id = ?1 AND thread_id = ?2 AND"
                           " (?3 IS NULL OR status = ?3)"
                           " ORDER BY created_at DESC, run_id DESC",
                           &st, e);
  if (err)
    return err;
  bind_text(st, 1, a->tenant);
  bind_text(st, 2, a->thread_id);
  bind_text(st, 3, a->q ? a->q->status : NULL);
  return collect_rows(c, st, run_row_cb, "run_id", a->q, a->out, NULL, e);
}

loom_err sqlite_list_runs(struct loom_store *s, const char *tenant,
                          const char *thread_id, const struct loom_search *q,
                          json_t **out, struct loom_error *e) {
  *out = NULL;
  if (!thread_id)
    return loom_error_set(e, LOOM_ERR_INVALID, "a thread id is required");
  struct list_args a = {tenant, thread_id, q, out};
  return with_conn(s, tenant, false, list_cb, &a, e);
}

struct status_args {
  const char *tenant, *id, *status, *expect;
  const json_t *error;
};

static loom_err status_cb(struct sqlite_conn *c, void *arg,
                          struct loom_error *e) {
  struct status_args *a = arg;
  sqlite3_stmt *st = NULL;
  loom_err err = conn_stmt(
      c, STMT_RUN_SET_STATUS,
      "UPDATE runs SET status = ?3, error = COALESCE(?4, error),"
      " updated_at = ?5,"
      " finished_at = CASE WHEN ?3 IN " FINAL_STATUSES
      " THEN ?5 ELSE finished_at END,"
      " lease_owner = CASE WHEN ?3 IN " FINAL_STATUSES
      " THEN NULL ELSE lease_owner END,"
      " lease_until = CASE WHEN ?3 IN " FINAL_STATUSES
      " THEN NULL ELSE lease_until END"
      " WHERE tenant_id = ?1 AND run_id = ?2 AND (?6 IS NULL OR status = ?6)",
      &st, e);
  if (err)
    return err;
  bind_text(st, 1, a->tenant);
  bind_text(st, 2, a->id);
  bind_text(st, 3, a->status);
  bind_json(st, 4, a->error);
  sqlite3_bind_int64(st, 5, now_ms());
  bind_text(st, 6, a->expect);
  if ((err = stmt_exec(c, st, "updating a run", e)))
    return err;
  if (sqlite3_changes(c->db) > 0)
    return LOOM_OK;
  json_t *row = NULL;
  if ((err = load(c, a->tenant, a->id, &row, e)))
    return err;
  err = loom_error_set(e, LOOM_ERR_CONFLICT, "run '%s' is %s, not %s", a->id,
                       json_string_value(json_object_get(row, "status")),
                       a->expect);
  json_decref(row);
  return err;
}

loom_err sqlite_set_run_status(struct loom_store *s, const char *tenant,
                               const char *run_id, const char *status,
                               const char *expect, const json_t *error,
                               struct loom_error *e) {
  if (!valid_status(status) || (expect && !valid_status(expect)))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "run status must be pending, running, success, "
                          "error, timeout or interrupted");
  struct status_args a = {tenant, run_id, status, expect, error};
  return with_conn(s, tenant, true, status_cb, &a, e);
}

static loom_err delete_cb(struct sqlite_conn *c, void *arg,
                          struct loom_error *e) {
  struct get_args *a = arg;
  sqlite3_stmt *st = NULL;
  loom_err err = conn_stmt(c, STMT_RUN_DELETE,
                           "DELETE FROM runs WHERE tenant_id = ?1 AND"
                           " run_id = ?2",
                           &st, e);
  if (err)
    return err;
  bind_text(st, 1, a->tenant);
  bind_text(st, 2, a->id);
  if ((err = stmt_exec(c, st, "deleting a run", e)))
    return err;
  if (sqlite3_changes(c->db) == 0)
    return loom_error_set(e, LOOM_ERR_NOT_FOUND, "run '%s' not found", a->id);
  return LOOM_OK;
}

loom_err sqlite_delete_run(struct loom_store *s, const char *tenant,
                           const char *run_id, struct loom_error *e) {
  struct get_args a = {tenant, run_id, NULL};
  return with_conn(s, tenant, true, delete_cb, &a, e);
}

struct claim_args {
  const char *worker;
  long long lease_ms;
  json_t **out;
};

static loom_err claim_cb(struct sqlite_conn *c, void *arg,
                         struct loom_error *e) {
  struct claim_args *a = arg;
  sqlite3_int64 now = now_ms();
  sqlite3_stmt *st = NULL;
  loom_err err = conn_stmt(
      c, STMT_RUN_CLAIM_PICK,
      "SELECT r.tenant_id, r.run_id FROM runs r"
      " WHERE (r.status = 'pending' OR"
      "  (r.status = 'running' AND r.lease_until < ?1))"
      " AND NOT EXISTS (SELECT 1 FROM runs o WHERE o.tenant_id = r.tenant_id"
      "  AND o.thread_id = r.thread_id AND o.run_id <> r.run_id"
      "  AND o.status = 'running' AND o.lease_until >= ?1)"
      " ORDER BY r.created_at, r.run_id LIMIT 1",
      &st, e);
  if (err)
    return err;
  sqlite3_bind_int64(st, 1, now);
  int rc = sqlite3_step(st);
  char *tenant = rc == SQLITE_ROW ? col_strdup(st, 0) : NULL;
  char *id = rc == SQLITE_ROW ? col_strdup(st, 1) : NULL;
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    return loom_error_set(e, LOOM_ERR_NOT_FOUND, "no run is ready");
  if (rc != SQLITE_ROW)
    return db_error(c, rc, "picking a run", e);
  if ((err = conn_stmt(c, STMT_RUN_CLAIM_TAKE,
                       "UPDATE runs SET status = 'running', lease_owner = ?3,"
                       " lease_until = ?4, attempt = attempt + 1,"
                       " started_at = COALESCE(started_at, ?5),"
                       " updated_at = ?5"
                       " WHERE tenant_id = ?1 AND run_id = ?2",
                       &st, e)))
    goto out;
  bind_text(st, 1, tenant);
  bind_text(st, 2, id);
  bind_text(st, 3, a->worker);
  sqlite3_bind_int64(st, 4, now + a->lease_ms);
  sqlite3_bind_int64(st, 5, now);
  if ((err = stmt_exec(c, st, "claiming a run", e)) ||
      (err = load(c, tenant, id, a->out, e)))
    goto out;
  json_object_set_new(*a->out, "tenant_id", json_string(tenant));
out:
  loom_free(tenant);
  loom_free(id);
  return err;
}

loom_err sqlite_claim_run(struct loom_store *s, const char *worker,
                          long long lease_ms, json_t **out,
                          struct loom_error *e) {
  *out = NULL;
  if (!worker || !*worker || lease_ms <= 0)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "claiming a run needs a worker id and a lease");
  struct claim_args a = {worker, lease_ms, out};
  loom_err err = with_conn(s, NULL, true, claim_cb, &a, e);
  if (err && *out) {
    json_decref(*out);
    *out = NULL;
  }
  return err;
}

struct renew_args {
  const char *tenant, *id, *worker;
  long long lease_ms;
};

static loom_err renew_cb(struct sqlite_conn *c, void *arg,
                         struct loom_error *e) {
  struct renew_args *a = arg;
  sqlite3_stmt *st = NULL;
  loom_err err = conn_stmt(c, STMT_RUN_RENEW,
                           "UPDATE runs SET lease_until = ?4, updated_at = ?5"
                           " WHERE tenant_id = ?1 AND run_id = ?2 AND"
                           " lease_owner = ?3 AND status = 'running'",
                           &st, e);
  if (err)
    return err;
  sqlite3_int64 now = now_ms();
  bind_text(st, 1, a->tenant);
  bind_text(st, 2, a->id);
  bind_text(st, 3, a->worker);
  sqlite3_bind_int64(st, 4, now + a->lease_ms);
  sqlite3_bind_int64(st, 5, now);
  if ((err = stmt_exec(c, st, "renewing a lease", e)))
    return err;
  if (sqlite3_changes(c->db) == 0)
    return loom_error_set(e, LOOM_ERR_CONFLICT,
                          "worker '%s' no longer holds run '%s'", a->worker,
                          a->id);
  return LOOM_OK;
}

loom_err sqlite_renew_run_lease(struct loom_store *s, const char *tenant,
                                const char *run_id, const char *worker,
                                long long lease_ms, struct loom_error *e) {
  struct renew_args a = {tenant, run_id, worker, lease_ms};
  return with_conn(s, tenant, true, renew_cb, &a, e);
}

struct event_args {
  const char *tenant, *id, *event;
  const json_t *data;
  long long *seq;
};

static loom_err append_cb(struct sqlite_conn *c, void *arg,
                          struct loom_error *e) {
  struct event_args *a = arg;
  sqlite3_stmt *st = NULL;
  loom_err err = conn_stmt(
      c, STMT_EV_APPEND,
      "INSERT INTO run_events (tenant_id, run_id, seq, event, data,"
      " created_at) SELECT ?1, ?2, COALESCE(MAX(seq), 0) + 1, ?3, ?4, ?5"
      " FROM run_events WHERE tenant_id = ?1 AND run_id = ?2"
      " RETURNING seq",
      &st, e);
  if (err)
    return err;
  bind_text(st, 1, a->tenant);
  bind_text(st, 2, a->id);
  bind_text(st, 3, a->event);
  bind_json(st, 4, a->data ? a->data : json_null());
  sqlite3_bind_int64(st, 5, now_ms());
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW && a->seq)
    *a->seq = sqlite3_column_int64(st, 0);
  if (rc == SQLITE_ROW)
    rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    err = db_error(c, rc, "storing a run event", e);
    if (err == LOOM_ERR_NOT_FOUND)
      err = loom_error_set(e, err, "run '%s' not found", a->id);
  }
  return err;
}

loom_err sqlite_append_run_event(struct loom_store *s, const char *tenant,
                                 const char *run_id, const char *event,
                                 const json_t *data, long long *seq,
                                 struct loom_error *e) {
  if (!run_id || !event)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "a run event needs a run id and an event name");
  struct event_args a = {tenant, run_id, event, data, seq};
  return with_conn(s, tenant, true, append_cb, &a, e);
}

struct read_args {
  const char *tenant, *id;
  long long after;
  size_t limit;
  json_t **out;
};

static loom_err read_cb(struct sqlite_conn *c, void *arg,
                        struct loom_error *e) {
  struct read_args *a = arg;
  sqlite3_stmt *st = NULL;
  loom_err err = conn_stmt(c, STMT_EV_READ,
                           "SELECT seq, event, data FROM run_events"
                           " WHERE tenant_id = ?1 AND run_id = ?2 AND"
                           " seq > ?3 ORDER BY seq LIMIT ?4",
                           &st, e);
  if (err)
    return err;
  bind_text(st, 1, a->tenant);
  bind_text(st, 2, a->id);
  sqlite3_bind_int64(st, 3, a->after);
  sqlite3_bind_int64(st, 4, (sqlite3_int64)a->limit);
  json_t *events = json_array();
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    json_array_append_new(events,
                          json_pack("{s:I, s:o, s:o}", "seq",
                                    (json_int_t)sqlite3_column_int64(st, 0),
                                    "event", col_json_string(st, 1), "data",
                                    col_json_or_null(st, 2)));
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    json_decref(events);
    return db_error(c, rc, "reading run events", e);
  }
  *a->out = events;
  return LOOM_OK;
}

loom_err sqlite_read_run_events(struct loom_store *s, const char *tenant,
                                const char *run_id, long long after_seq,
                                size_t limit, json_t **out,
                                struct loom_error *e) {
  *out = NULL;
  if (limit == 0 || limit > LOOM_SEARCH_MAX_LIMIT)
    limit = LOOM_SEARCH_MAX_LIMIT;
  struct read_args a = {tenant, run_id, after_seq, limit, out};
  return with_conn(s, tenant, false, read_cb, &a, e);
}
