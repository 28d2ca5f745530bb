/*
 * config — settings from the environment, an optional file, and flags.
 *
 * Precedence, lowest first: built-in defaults, the file named by
 * LOOM_CONFIG (lines of NAME=value, '#' comments; the same names as the
 * environment), the environment, then command-line flags applied by the
 * CLI through loom_config_set(). Defaults make `loom serve` work with
 * nothing set: embedded SQLite under ./data, in-process cache.
 */
#ifndef LOOM_CORE_CONFIG_H
#define LOOM_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* X(field, ENV_NAME, default, description): all settings are strings. */
#define LOOM_CONFIG_MAP(X)                                                     \
  X(addr, LOOM_ADDR, "127.0.0.1:8123", "host:port to listen on")               \
  X(data_dir, LOOM_DATA_DIR, "./data",                                         \
    "directory for the database and indexes")                                  \
  X(graphs, LOOM_GRAPHS, "", "colon-separated directories of graph specs")     \
  X(auth, LOOM_AUTH, "none",                                                   \
    "authentication: none, apikey or clerk (these two not built yet)")         \
  X(role, LOOM_ROLE, "all",                                                    \
    "process role: all, api or worker (these two not built yet)")              \
  X(log_level, LOOM_LOG_LEVEL, "info", "debug, info, warn, error or off")      \
  X(max_body, LOOM_MAX_BODY, "10485760", "largest request body in bytes")      \
  X(grace_seconds, LOOM_GRACE_SECONDS, "10", "shutdown grace period")          \
  X(idle_timeout, LOOM_IDLE_TIMEOUT, "60",                                     \
    "seconds before an idle or stalled connection is closed")                  \
  X(threads, LOOM_THREADS, "0", "event loops to run (0 = one per core)")       \
  X(run_timeout, LOOM_RUN_TIMEOUT, "0",                                        \
    "seconds a graph run may take before it ends as timeout (0 = no limit)")   \
  X(webhook_allow_private, LOOM_WEBHOOK_ALLOW_PRIVATE, "false",                \
    "true: run webhooks may go to loopback, private and link-local addresses") \
  X(webhook_require_https, LOOM_WEBHOOK_REQUIRE_HTTPS, "false",                \
    "true: run webhooks must be https:// URLs")                                \
  X(webhook_allowed_domains, LOOM_WEBHOOK_ALLOWED_DOMAINS, "",                 \
    "comma-separated hosts run webhooks may go to; *.example.com matches its " \
    "subdomains (empty: any public host)")                                     \
  X(database_url, DATABASE_URL, "",                                            \
    "postgres://... (not built yet; empty: embedded SQLite)")                  \
  X(redis_url, REDIS_URL, "",                                                  \
    "redis://... (not built yet; empty: in-process cache)")                    \
  X(openai_api_key, OPENAI_API_KEY, "", "key for OpenAI-compatible servers")   \
  X(openai_base_url, OPENAI_BASE_URL, "https://api.openai.com/v1",             \
    "base URL of the OpenAI-compatible server")                                \
  X(anthropic_api_key, ANTHROPIC_API_KEY, "", "key for Anthropic")             \
  X(anthropic_base_url, ANTHROPIC_BASE_URL, "https://api.anthropic.com",       \
    "base URL of the Anthropic server")                                        \
  X(model, LOOM_MODEL, "", "default model, e.g. openai/gpt-4o-mini")           \
  X(endpoints, LOOM_ENDPOINTS, "",                                             \
    "self-hosted model servers: NAME=URL or NAME=anthropic+URL, comma-"        \
    "separated (key in LOOM_ENDPOINT_<NAME>_KEY)")                             \
  X(llm_loops, LOOM_LLM_LOOPS, "1", "event loops for model calls (1..16)")     \
  X(llm_max_connections, LOOM_LLM_MAX_CONNECTIONS, "16384",                    \
    "connections per model server host")                                       \
  X(http_client, LOOM_HTTP_CLIENT, "auto",                                     \
    "outbound HTTP: auto (loom's own HTTP/1.1 client for plain http://, "      \
    "libcurl for https and proxies) or curl (libcurl for all)")                \
  X(llm_prices, LOOM_LLM_PRICES, "",                                           \
    "model prices added to the built-in table: JSON, or a file holding it")    \
  X(embed_model, LOOM_EMBED_MODEL, "",                                         \
    "embeddings for documents and retrieve (empty: built-in hash)")            \
  X(pinecone_url, LOOM_PINECONE_URL, "",                                       \
    "Pinecone control plane holding the document indexes (empty: local)")      \
  X(pinecone_api_key, PINECONE_API_KEY, "", "key for LOOM_PINECONE_URL")       \
  X(tools_file, LOOM_TOOLS_FILE, "",                                           \
    "a tool file of Lua tools every graph may use")                            \
  X(tool_plugins, LOOM_TOOL_PLUGINS, "",                                       \
    "colon-separated C tool plug-ins (shared objects) to load")                \
  X(clerk_jwt_key, CLERK_JWT_KEY, "", "PEM public key for Clerk tokens")       \
  X(clerk_jwks_url, CLERK_JWKS_URL, "", "JWKS URL for Clerk tokens")           \
  X(clerk_authorized_parties, CLERK_AUTHORIZED_PARTIES, "",                    \
    "comma-separated allowed azp values")                                      \
  X(sentry_dsn, SENTRY_DSN, "", "where errors are reported (not built yet)")   \
  X(sentry_traces_sample_rate, SENTRY_TRACES_SAMPLE_RATE, "0.1",               \
    "share of traces sent to Sentry")

struct loom_config {
#define LOOM_CONFIG_FIELD(field, env, def, desc) char *field;
  LOOM_CONFIG_MAP(LOOM_CONFIG_FIELD)
#undef LOOM_CONFIG_FIELD
};

/*
 * Fills `c` from defaults, the LOOM_CONFIG file if set, and the
 * environment. Fails with LOOM_ERR_INVALID (message in `e`) when the file
 * cannot be read or names an unknown setting, or a value is malformed.
 * Release with loom_config_cleanup, also after a failure.
 */
loom_err loom_config_load(struct loom_config *c,
                          struct loom_error *e) LOOM_MUST_USE;

/* Loads settings from a NAME=value file on top of what `c` has. */
loom_err loom_config_load_file(struct loom_config *c, const char *path,
                               struct loom_error *e) LOOM_MUST_USE;

/*
 * Sets one setting by its environment name ("LOOM_ADDR") or field name
 * ("addr"). LOOM_ERR_NOT_FOUND for an unknown name.
 */
loom_err loom_config_set(struct loom_config *c, const char *name,
                         const char *value) LOOM_MUST_USE;

/*
 * The setting an unknown `name` most likely meant: the environment name
 * or field name within one edit of it, two when its name past "LOOM_" is
 * 8 characters or more ("LOOM_GRAPH" → "LOOM_GRAPHS", "data_dri" →
 * "data_dir"), in that form; NULL when none is that near.
 */
const char *loom_config_suggest(const char *name);

/* Checks the values that must be numbers, true/false, or from a fixed
 * set. */
loom_err loom_config_validate(const struct loom_config *c,
                              struct loom_error *e) LOOM_MUST_USE;

/* Typed views of numeric settings (already validated). */
size_t loom_config_max_body(const struct loom_config *c);
/* LOOM_RUN_TIMEOUT in seconds (0: none). */
double loom_config_run_timeout(const struct loom_config *c);

double loom_config_grace_seconds(const struct loom_config *c);

/* A yes/no setting's value (already validated): true for "true" or "1". */
bool loom_config_flag(const char *value);

/* Prints every setting with its environment name and description. */
void loom_config_print_help(void);

void loom_config_cleanup(struct loom_config *c);

#endif
