/*
 * schema — the versioned migrations, written once for SQLite and
 * PostgreSQL 15.
 *
 * The DDL sticks to what both engines accept: TEXT, INTEGER, BIGINT,
 * composite primary keys, foreign keys with ON DELETE CASCADE,
 * CREATE ... IF NOT EXISTS. The one difference is the type of JSON columns,
 * written `@json` here and translated to TEXT (SQLite) or JSONB
 * (PostgreSQL) by schema_translate. Timestamps are BIGINT milliseconds since
 * the Unix epoch (UTC), formatted by the API layer.
 *
 * Every table holding user data leads with tenant_id, in its columns and in
 * its primary key, so ids chosen by clients (thread ids, assistant ids) can
 * repeat across tenants, and every lookup is tenant-prefixed by the index.
 *
 * A migration is never edited once landed: a change is a new entry at the
 * end of the table, applied by `loom migrate` inside one transaction.
 */
#include <string.h>

#include "core/alloc.h"
#include "stores/internal.h"

static const char v1_ddl[] =
    /* Tenants and who acts inside them. */
    "CREATE TABLE IF NOT EXISTS tenants ("
    " tenant_id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " metadata @json,"
    " created_at BIGINT NOT NULL);"

    "CREATE TABLE IF NOT EXISTS principals ("
    " tenant_id TEXT NOT NULL,"
    " principal_id TEXT NOT NULL,"
    " kind TEXT NOT NULL," /* user | service */
    " external_id TEXT,"   /* e.g. the Clerk user id */
    " email TEXT,"
    " name TEXT,"
    " metadata @json,"
    " created_at BIGINT NOT NULL,"
    " PRIMARY KEY (tenant_id, principal_id));"
    "CREATE INDEX IF NOT EXISTS principals_external"
    " ON principals (external_id);"

    /* API keys: only a hash of the key is kept, plus its first characters
     * so a user can tell keys apart. Looked up by hash before the tenant is
     * known, hence the global unique index. */
    "CREATE TABLE IF NOT EXISTS api_keys ("
    " tenant_id TEXT NOT NULL,"
    " key_id TEXT NOT NULL,"
    " principal_id TEXT,"
    " name TEXT,"
    " prefix TEXT NOT NULL,"
    " key_hash TEXT NOT NULL,"
    " scopes @json,"
    " created_at BIGINT NOT NULL,"
    " last_used_at BIGINT,"
    " expires_at BIGINT,"
    " revoked_at BIGINT,"
    " PRIMARY KEY (tenant_id, key_id));"
    "CREATE UNIQUE INDEX IF NOT EXISTS api_keys_hash ON api_keys (key_hash);"

    /* Assistants: the current row plus every version. */
    "CREATE TABLE IF NOT EXISTS assistants ("
    " tenant_id TEXT NOT NULL,"
    " assistant_id TEXT NOT NULL,"
    " graph_id TEXT NOT NULL,"
    " name TEXT,"
    " description TEXT,"
    " config @json,"
    " context @json,"
    " metadata @json,"
    " version INTEGER NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " PRIMARY KEY (tenant_id, assistant_id));"
    "CREATE INDEX IF NOT EXISTS assistants_graph"
    " ON assistants (tenant_id, graph_id);"
    "CREATE TABLE IF NOT EXISTS assistant_versions ("
    " tenant_id TEXT NOT NULL,"
    " assistant_id TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " graph_id TEXT NOT NULL,"
    " name TEXT,"
    " description TEXT,"
    " config @json,"
    " context @json,"
    " metadata @json,"
    " created_at BIGINT NOT NULL,"
    " PRIMARY KEY (tenant_id, assistant_id, version),"
    " FOREIGN KEY (tenant_id, assistant_id)"
    "  REFERENCES assistants (tenant_id, assistant_id) ON DELETE CASCADE);"

    /* Threads: status idle | busy | interrupted | error. */
    "CREATE TABLE IF NOT EXISTS threads ("
    " tenant_id TEXT NOT NULL,"
    " thread_id TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " metadata @json,"
    " state_values @json,"
    " interrupts @json,"
    " config @json,"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " PRIMARY KEY (tenant_id, thread_id));"
    "CREATE INDEX IF NOT EXISTS threads_updated"
    " ON threads (tenant_id, updated_at);"

    /* Runs: status pending | running | success | error | timeout |
     * interrupted. A worker owns a running run until lease_until. */
    "CREATE TABLE IF NOT EXISTS runs ("
    " tenant_id TEXT NOT NULL,"
    " run_id TEXT NOT NULL,"
    " thread_id TEXT," /* NULL for stateless runs */
    " assistant_id TEXT,"
    " status TEXT NOT NULL,"
    " kwargs @json,"
    " metadata @json,"
    " multitask_strategy TEXT,"
    " error @json,"
    " lease_owner TEXT,"
    " lease_until BIGINT,"
    " attempt INTEGER NOT NULL DEFAULT 0,"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " started_at BIGINT,"
    " finished_at BIGINT,"
    " PRIMARY KEY (tenant_id, run_id),"
    " FOREIGN KEY (tenant_id, thread_id)"
    "  REFERENCES threads (tenant_id, thread_id) ON DELETE CASCADE);"
    "CREATE INDEX IF NOT EXISTS runs_thread"
    " ON runs (tenant_id, thread_id, created_at);"
    "CREATE INDEX IF NOT EXISTS runs_queue ON runs (status, created_at);"

    /* Run events, for replaying a stream to a client that reconnects. */
    "CREATE TABLE IF NOT EXISTS run_events ("
    " tenant_id TEXT NOT NULL,"
    " run_id TEXT NOT NULL,"
    " seq BIGINT NOT NULL,"
    " event TEXT NOT NULL,"
    " data @json,"
    " created_at BIGINT NOT NULL,"
    " PRIMARY KEY (tenant_id, run_id, seq),"
    " FOREIGN KEY (tenant_id, run_id)"
    "  REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE);"

    /* Checkpoints (LangGraph's saver model). The primary key serves both
     * "latest of a thread" and "history newest first": ids sort by time. */
    "CREATE TABLE IF NOT EXISTS checkpoints ("
    " tenant_id TEXT NOT NULL,"
    " thread_id TEXT NOT NULL,"
    " checkpoint_ns TEXT NOT NULL DEFAULT '',"
    " checkpoint_id TEXT NOT NULL,"
    " parent_checkpoint_id TEXT,"
    " checkpoint @json NOT NULL,"
    " metadata @json,"
    " created_at BIGINT NOT NULL,"
    " PRIMARY KEY (tenant_id, thread_id, checkpoint_ns, checkpoint_id));"
    /* One row per (channel, version): unchanged channels are not copied. */
    "CREATE TABLE IF NOT EXISTS checkpoint_blobs ("
    " tenant_id TEXT NOT NULL,"
    " thread_id TEXT NOT NULL,"
    " checkpoint_ns TEXT NOT NULL DEFAULT '',"
    " channel TEXT NOT NULL,"
    " version TEXT NOT NULL,"
    " type TEXT NOT NULL," /* json | empty */
    " value @json,"
    " PRIMARY KEY (tenant_id, thread_id, checkpoint_ns, channel, version));"
    "CREATE TABLE IF NOT EXISTS checkpoint_writes ("
    " tenant_id TEXT NOT NULL,"
    " thread_id TEXT NOT NULL,"
    " checkpoint_ns TEXT NOT NULL DEFAULT '',"
    " checkpoint_id TEXT NOT NULL,"
    " task_id TEXT NOT NULL,"
    " idx INTEGER NOT NULL,"
    " channel TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " value @json,"
    " PRIMARY KEY (tenant_id, thread_id, checkpoint_ns, checkpoint_id,"
    "  task_id, idx));"

    /* Crews and their kickoffs (CrewAI deployment API). */
    "CREATE TABLE IF NOT EXISTS crews ("
    " tenant_id TEXT NOT NULL,"
    " crew_name TEXT NOT NULL,"
    " spec @json NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " PRIMARY KEY (tenant_id, crew_name));"
    "CREATE TABLE IF NOT EXISTS kickoffs ("
    " tenant_id TEXT NOT NULL,"
    " kickoff_id TEXT NOT NULL,"
    " crew_name TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " inputs @json,"
    " result @json,"
    " thread_id TEXT,"
    " run_id TEXT,"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " PRIMARY KEY (tenant_id, kickoff_id));"
    "CREATE INDEX IF NOT EXISTS kickoffs_crew"
    " ON kickoffs (tenant_id, crew_name, created_at);"

    /* Documents for retrieval, split into chunks (vectors live in the
     * index, keyed by vector_id). */
    "CREATE TABLE IF NOT EXISTS documents ("
    " tenant_id TEXT NOT NULL,"
    " document_id TEXT NOT NULL,"
    " collection TEXT NOT NULL DEFAULT '',"
    " source TEXT,"
    " title TEXT,"
    " content_type TEXT,"
    " content_hash TEXT,"
    " metadata @json,"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " PRIMARY KEY (tenant_id, document_id));"
    "CREATE INDEX IF NOT EXISTS documents_collection"
    " ON documents (tenant_id, collection);"
    "CREATE TABLE IF NOT EXISTS chunks ("
    " tenant_id TEXT NOT NULL,"
    " document_id TEXT NOT NULL,"
    " idx INTEGER NOT NULL,"
    " content TEXT NOT NULL,"
    " vector_id TEXT,"
    " metadata @json,"
    " PRIMARY KEY (tenant_id, document_id, idx),"
    " FOREIGN KEY (tenant_id, document_id)"
    "  REFERENCES documents (tenant_id, document_id) ON DELETE CASCADE);"

    /* Agent memories: short-term, long-term and entity, by namespace. */
    "CREATE TABLE IF NOT EXISTS memories ("
    " tenant_id TEXT NOT NULL,"
    " memory_id TEXT NOT NULL,"
    " namespace TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " memory_key TEXT,"
    " content TEXT NOT NULL,"
    " metadata @json,"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " expires_at BIGINT,"
    " PRIMARY KEY (tenant_id, memory_id));"
    "CREATE INDEX IF NOT EXISTS memories_namespace"
    " ON memories (tenant_id, namespace, memory_key);";

/* Keyword search over chunks. SQLite: an FTS5 table (BM25) kept by the
 * document ops; PostgreSQL: a full-text GIN index on the chunks. */
static const char v2_sqlite_ddl[] =
    "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5("
    " content, tenant_id UNINDEXED, collection UNINDEXED,"
    " document_id UNINDEXED, idx UNINDEXED,"
    " tokenize = 'porter unicode61');";
static const char v2_ddl[] = "CREATE INDEX IF NOT EXISTS chunks_fts ON chunks"
                             " USING GIN (to_tsvector('english', content));";

/* Expired memories are found by their expiry (sqlite_purge_memories),
 * not by a scan of the table; the many that never expire stay out. */
static const char v3_ddl[] =
    "CREATE INDEX IF NOT EXISTS memories_expiry"
    " ON memories (tenant_id, expires_at) WHERE expires_at IS NOT NULL;";

static const struct schema_migration migrations[] = {
    {1, "initial schema", v1_ddl, NULL},
    {2, "chunk keyword index", v2_ddl, v2_sqlite_ddl},
    {3, "memory expiry index", v3_ddl, NULL},
};

const struct schema_migration *schema_migrations(size_t *count) {
  *count = sizeof migrations / sizeof migrations[0];
  return migrations;
}

char *schema_translate(const struct schema_migration *m,
                       enum schema_dialect dialect) {
  static const char token[] = "@json";
  const char *type = dialect == SCHEMA_POSTGRES ? "JSONB" : "TEXT";
  const char *ddl =
      dialect == SCHEMA_SQLITE && m->sqlite_ddl ? m->sqlite_ddl : m->ddl;
  size_t n = 0;
  for (const char *p = ddl; (p = strstr(p, token)); p += sizeof token - 1)
    n++;
  size_t len = strlen(ddl) + n * strlen(type) + 1;
  char *out = loom_malloc(len), *w = out;
  const char *p = ddl, *hit;
  while ((hit = strstr(p, token))) {
    memcpy(w, p, (size_t)(hit - p));
    w += hit - p;
    memcpy(w, type, strlen(type));
    w += strlen(type);
    p = hit + sizeof token - 1;
  }
  strcpy(w, p);
  return out;
}
