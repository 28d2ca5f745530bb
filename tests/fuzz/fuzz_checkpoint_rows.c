/*
 * fuzz_checkpoint_rows — a thread's checkpoint rows as a damaged SQLite
 * database file may hold them: any column NULL (NOT NULL is only checked
 * on write, and a damaged schema checks nothing), of any storage class
 * (integer, real, text, blob), text that is not JSON or holds NULs.
 * fuzz_checkpoint covers the JSON shapes through the engine's in-memory
 * store; this covers what SQLite hands back. Reading the thread (its
 * latest checkpoint, one by id, its history, its state) and continuing it
 * must fail with a message or work, never crash, leak or hang.
 *
 * The database is made once: migrated, then its checkpoint tables lose
 * their NOT NULL constraints (as a damaged schema would), so that rows
 * can hold what no loom writes. Each input replaces the thread's rows.
 *
 * Input: three counts (checkpoints, blobs, writes, each 0..3), then the
 * rows' columns in order, each a kind byte and its bytes: 0 NULL, 1
 * integer (8 bytes), 2 real (8 bytes), 3 text and 4 blob (u16 length and
 * bytes), 5 the usual value for that column (a checkpoint id, a valid
 * checkpoint document, ...). Checkpoint rows: id, parent id, checkpoint,
 * metadata. Blob rows: channel, version, type, value. Write rows:
 * checkpoint id, task id, idx, channel, type, value.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_scratch.h"

#include "core/alloc.h"
#include "engine/engine.h"
#include "fuzz_approval_graph.h"
#include "stores/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The usual value of each column kind 5 stands for. */
static const char *const USUAL[] = {
    "0190a0b0-0000-7000-8000-000000000002", /* a checkpoint id */
    "{\"v\": 4, \"channel_versions\": {\"draft\": \"00002\", \"log\": "
    "\"00002\", \"topic\": \"00001\"}, \"versions_seen\": {}, \"next\": "
    "[\"review\"]}",
    "{\"source\": \"loop\", \"step\": 1, \"writes\": null}", /* metadata */
    "draft",
    "00002",
    "json",
    "\"about cats\"", /* a blob */
    "task-1",
    "__interrupt__", /* a write */
};
enum {
  U_ID,
  U_CHECKPOINT,
  U_META,
  U_CHANNEL,
  U_VERSION,
  U_TYPE,
  U_VALUE,
  U_TASK,
  U_WCHANNEL
};

static struct {
  struct loom_store *store;
  sqlite3 *db; /* a second connection, for what loom would not write */
  struct loom_graph *graph;
} S;

static void must(int rc) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
    abort();
}

static void setup(void) {
  const char *dir = scratch_dir("cprows");
  struct loom_error e;
  char path[128];
  snprintf(path, sizeof path, "%s/loom.db", dir);
  if (loom_store_open("", dir, &S.store, &e) || loom_store_migrate(S.store, &e))
    abort();
  loom_store_close(S.store);
  must(sqlite3_open(path, &S.db));
  int version = 0;
  sqlite3_stmt *st;
  must(sqlite3_prepare_v2(S.db, "PRAGMA schema_version", -1, &st, NULL));
  if (sqlite3_step(st) == SQLITE_ROW)
    version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  char sql[256];
  snprintf(sql, sizeof sql,
           "PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = "
           "replace(sql, 'NOT NULL', '') WHERE name LIKE 'checkpoint%%';"
           "PRAGMA schema_version = %d; PRAGMA writable_schema = OFF;",
           version + 1);
  must(sqlite3_exec(S.db, sql, NULL, NULL, NULL));
  if (loom_store_open("", dir, &S.store, &e) ||
      loom_graph_load(GRAPH, strlen(GRAPH), "fuzz.yaml", &S.graph, &e))
    abort();
}

struct input {
  const uint8_t *p, *end;
};

static unsigned byte(struct input *in) {
  return in->p < in->end ? *in->p++ : 0;
}

/* Binds column `col` of `st` from the input (kind byte, then bytes). */
static void bind(struct input *in, sqlite3_stmt *st, int col, int usual) {
  unsigned kind = byte(in) % 6;
  size_t left = (size_t)(in->end - in->p), n = 8;
  if (kind == 3 || kind == 4) {
    n = byte(in);
    n |= (size_t)byte(in) << 8;
    left = (size_t)(in->end - in->p);
  }
  if (n > left)
    n = left;
  int64_t i = 0;
  double d = 0;
  switch (kind) {
  case 0:
    sqlite3_bind_null(st, col);
    return;
  case 1:
  case 2:
    memcpy(kind == 1 ? (void *)&i : (void *)&d, in->p, n);
    in->p += n;
    if (kind == 1)
      sqlite3_bind_int64(st, col, i);
    else
      sqlite3_bind_double(st, col, d);
    return;
  case 3:
  case 4:
    if (kind == 3)
      sqlite3_bind_text(st, col, (const char *)in->p, (int)n, SQLITE_TRANSIENT);
    else
      sqlite3_bind_blob(st, col, in->p, (int)n, SQLITE_TRANSIENT);
    in->p += n;
    return;
  default:
    sqlite3_bind_text(st, col, USUAL[usual], -1, SQLITE_STATIC);
  }
}

/* Inserts `count` rows with `sql` (?1 tenant, ?2 thread, then the
 * input's columns, each with its usual value). */
static void insert(struct input *in, unsigned count, const char *sql,
                   const int *usual, int ncols) {
  sqlite3_stmt *st;
  must(sqlite3_prepare_v2(S.db, sql, -1, &st, NULL));
  for (unsigned r = 0; r < count; r++) {
    sqlite3_bind_text(st, 1, "default", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, THREAD, -1, SQLITE_STATIC);
    for (int c = 0; c < ncols; c++)
      bind(in, st, 3 + c, usual[c]);
    sqlite3_step(st); /* a duplicate key is fine */
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
}

static void write_rows(const uint8_t *data, size_t size) {
  struct input in = {data, data + size};
  unsigned nc = byte(&in) % 4, nb = byte(&in) % 4, nw = byte(&in) % 4;
  must(sqlite3_exec(S.db,
                    "BEGIN; DELETE FROM checkpoints; DELETE FROM "
                    "checkpoint_blobs; DELETE FROM checkpoint_writes;",
                    NULL, NULL, NULL));
  static const int cp[] = {U_ID, U_ID, U_CHECKPOINT, U_META};
  insert(&in, nc,
         "INSERT INTO checkpoints (tenant_id, thread_id, checkpoint_ns,"
         " checkpoint_id, parent_checkpoint_id, checkpoint, metadata,"
         " created_at) VALUES (?1, ?2, '', ?3, ?4, ?5, ?6, 1)",
         cp, 4);
  static const int blob[] = {U_CHANNEL, U_VERSION, U_TYPE, U_VALUE};
  insert(&in, nb,
         "INSERT INTO checkpoint_blobs (tenant_id, thread_id, checkpoint_ns,"
         " channel, version, type, value) VALUES (?1, ?2, '', ?3, ?4, ?5, ?6)",
         blob, 4);
  static const int wr[] = {U_ID,       U_TASK, U_VERSION,
                           U_WCHANNEL, U_TYPE, U_VALUE};
  insert(&in, nw,
         "INSERT INTO checkpoint_writes (tenant_id, thread_id, checkpoint_ns,"
         " checkpoint_id, task_id, idx, channel, type, value)"
         " VALUES (?1, ?2, '', ?3, ?4, ?5, ?6, ?7, ?8)",
         wr, 6);
  must(sqlite3_exec(S.db, "COMMIT", NULL, NULL, NULL));
}

static bool list_cb(const struct loom_checkpoint *cp, void *arg) {
  (void)arg;
  free(json_dumps(cp->checkpoint, JSON_COMPACT));
  return true;
}

static void read_thread(void) {
  struct loom_checkpoint *cp = NULL;
  struct loom_error e;
  if (loom_store_get_checkpoint(S.store, "default", THREAD, "", NULL, &cp,
                                &e) == LOOM_OK)
    loom_checkpoint_free(cp);
  cp = NULL;
  if (loom_store_get_checkpoint(S.store, "default", THREAD, "", USUAL[U_ID],
                                &cp, &e) == LOOM_OK)
    loom_checkpoint_free(cp);
  struct loom_checkpoint_query q = {.thread_id = THREAD, .limit = 4};
  (void)loom_store_list_checkpoints(S.store, "default", &q, list_cb, NULL, &e);
  json_t *out = NULL;
  if (loom_engine_get_state(S.store, "default", S.graph, THREAD, NULL, &out,
                            &e) == LOOM_OK)
    json_decref(out);
  out = NULL;
  if (loom_engine_history(S.store, "default", S.graph, THREAD, NULL, 4, &out,
                          &e) == LOOM_OK)
    json_decref(out);
}

static void continue_thread(void) {
  json_t *command = json_pack("{s:{s:b}}", "resume", "approved", 1);
  struct loom_run_opts o = {.store = S.store,
                            .thread_id = THREAD,
                            .command = command,
                            .recursion_limit = 6,
                            .lua_memory = 1 << 20,
                            .lua_instructions = 20000};
  struct loom_run *r = NULL;
  struct loom_error e;
  if (loom_run_new(S.graph, &o, &r, &e) == LOOM_OK)
    loom_run_start(r);
  loom_run_free(r);
  json_decref(command);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!S.store)
    setup();
  write_rows(data, size);
  read_thread();
  continue_thread();
  return 0;
}
