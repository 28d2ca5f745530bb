/*
 * provider — the LLM provider interface and how a model string picks one.
 *
 * A provider is a struct of function pointers (the ops) plus where to
 * reach it (base URL, key, wire model id). The HTTP providers only
 * translate: chat_build turns a loom_llm_request into the bytes to send,
 * chat_parse / stream_event turn what came back into a loom_llm_response.
 * Sending, timeouts, retries and cancellation belong to llm_call.h, so the
 * translations are pure functions tested against exact JSON. A provider
 * that answers without the network (offline) sets `local` instead.
 *
 * Model strings: "openai/gpt-4o-mini" (OPENAI_API_KEY, OPENAI_BASE_URL),
 * "anthropic/claude-3-5-haiku-latest" (ANTHROPIC_API_KEY,
 * ANTHROPIC_BASE_URL), "<endpoint>/<model>" for a named self-hosted server,
 * and "offline/extractive". Named endpoints come from LOOM_ENDPOINTS:
 * comma-separated `name=url` (OpenAI-compatible) or `name=anthropic+url`;
 * the key, if the server wants one, from LOOM_ENDPOINT_<NAME>_KEY. With no
 * model string the default is LOOM_MODEL, else the first configured of
 * openai/gpt-4o-mini and anthropic/claude-3-5-haiku-latest, and only when
 * nothing is configured at all, offline/extractive: the offline provider
 * is never picked silently when a real one is configured.
 */
#ifndef LOOM_AGENTS_PROVIDER_H
#define LOOM_AGENTS_PROVIDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "agents/llm.h"
#include "agents/sse_parse.h"
#include "core/config.h"
#include "core/err.h"

#define LOOM_HTTP_SPEC_MAX_HEADERS 8

/* One HTTP request to make: always POST of a JSON body. */
struct loom_http_spec {
  char *url;
  char *headers[LOOM_HTTP_SPEC_MAX_HEADERS]; /* "Name: value" */
  size_t n_headers;
  char *body; /* NUL-terminated JSON */
  size_t body_len;
};

void loom_http_spec_cleanup(struct loom_http_spec *s);

struct loom_provider;

struct loom_provider_ops {
  const char *kind; /* "openai", "anthropic", "offline" */

  /* The request for a chat call; LOOM_ERR_INVALID (message in e) when the
   * messages or tools are malformed. */
  loom_err (*chat_build)(const struct loom_provider *p,
                         const struct loom_llm_request *req,
                         struct loom_http_spec *out, struct loom_error *e);

  /* A complete (non-streamed) 2xx answer into `out` (caller cleans up). */
  loom_err (*chat_parse)(const char *body, size_t len,
                         struct loom_llm_response *out, struct loom_error *e);

  /* One SSE event of a streamed answer into the accumulator. An error
   * event is LOOM_ERR_UPSTREAM with the server's message; sets acc->done
   * at the stream's end marker. */
  loom_err (*stream_event)(struct loom_llm_acc *acc,
                           const struct loom_sse_event *ev,
                           struct loom_error *e);

  /* Embeddings (NULL when the provider has none): `inputs` is an array of
   * strings; `dims` 0 leaves the model's size; base64 asks for the packed
   * encoding. */
  loom_err (*embed_build)(const struct loom_provider *p, const json_t *inputs,
                          long dims, bool base64, struct loom_http_spec *out,
                          struct loom_error *e);
  loom_err (*embed_parse)(const char *body, size_t len,
                          struct loom_embeddings *out, struct loom_error *e);

  /* Providers without a server answer here, synchronously, into `acc`
   * (NULL for HTTP providers). */
  loom_err (*local)(const struct loom_provider *p,
                    const struct loom_llm_request *req,
                    struct loom_llm_acc *acc, struct loom_error *e);
};

struct loom_provider {
  const struct loom_provider_ops *ops;
  char *name;      /* prefix of the model string: openai, anthropic, ... */
  char *model;     /* wire model id */
  char *label;     /* the whole model string, for logs, metrics and prices */
  char *base_url;  /* no trailing slash */
  char *api_key;   /* "" when none */
  bool official;   /* the vendor's own host (affects a few field names) */
  int max_retries; /* default 2, as the official SDKs */
  long connect_timeout_ms;    /* default 10 s */
  long first_byte_timeout_ms; /* default 60 s: headers must come by then */
  long idle_timeout_ms;       /* default 60 s without a byte mid-stream */
  long timeout_ms;            /* default 600 s for the whole call */
};

extern const struct loom_provider_ops loom_provider_openai;
extern const struct loom_provider_ops loom_provider_anthropic;
extern const struct loom_provider_ops loom_provider_offline;

/* The configured providers and named endpoints. */
struct loom_providers;

/*
 * Reads keys and base URLs from `cfg` and named endpoints from the
 * LOOM_ENDPOINTS environment variable. LOOM_ERR_INVALID when an endpoint
 * entry is malformed (message in e). Free with loom_providers_free.
 */
loom_err loom_providers_new(const struct loom_config *cfg,
                            struct loom_providers **out,
                            struct loom_error *e) LOOM_MUST_USE;

/* Adds (or replaces) a named endpoint; `kind` is "openai" or "anthropic". */
loom_err loom_providers_add_endpoint(struct loom_providers *ps,
                                     const char *name, const char *kind,
                                     const char *base_url, const char *api_key,
                                     struct loom_error *e) LOOM_MUST_USE;

void loom_providers_free(struct loom_providers *ps);

/* The model string used when a node or agent names none. */
const char *loom_providers_default_model(const struct loom_providers *ps);

/*
 * LOOM_MODEL must name a model this configuration can call: what runs
 * graphs checks it once at start, so a malformed one (or one whose key is
 * missing) stops the program with the setting's name, instead of `loom
 * serve` starting fine and every model node of every run failing later.
 * Not part of loom_providers_new: a command that only embeds (ingest,
 * search) has no use for LOOM_MODEL and must not fail on it.
 */
loom_err loom_providers_check_default(const struct loom_providers *ps,
                                      struct loom_error *e) LOOM_MUST_USE;

/*
 * A provider for `model` ("prefix/model-id"; NULL or "" = the default).
 * LOOM_ERR_NOT_FOUND for an unknown prefix, LOOM_ERR_INVALID when the
 * provider is not configured (say which variable to set). The caller
 * frees the result with loom_provider_free.
 */
loom_err loom_providers_resolve(const struct loom_providers *ps,
                                const char *model, struct loom_provider **out,
                                struct loom_error *e) LOOM_MUST_USE;

/* A provider made directly (tests, plug-ins); strings are copied. */
struct loom_provider *loom_provider_new(const struct loom_provider_ops *ops,
                                        const char *name, const char *model,
                                        const char *base_url,
                                        const char *api_key);

void loom_provider_free(struct loom_provider *p);

/* Internal to the providers: neutral-message helpers shared by them. */
loom_err loom_provider_spec_json(struct loom_http_spec *out, const char *url,
                                 json_t *body);
void loom_provider_spec_header(struct loom_http_spec *out, const char *fmt, ...)
    LOOM_PRINTF(2, 3);

/*
 * The role of neutral message `i` (system, user, assistant or tool; a tool
 * message must carry a tool_call_id). NULL with LOOM_ERR_INVALID and the
 * reason in e when the message has no role, another role, or a tool
 * message has no tool_call_id. The string belongs to `m`.
 */
const char *loom_provider_message_role(const json_t *m, size_t i,
                                       struct loom_error *e);

/*
 * A new object describing `tool` on the wire: its name, its description
 * when it has one, and its parameters schema under `schema_key` (an empty
 * object schema when the tool takes none).
 */
json_t *loom_provider_tool_fn(const json_t *tool, const char *schema_key);

/*
 * Reads one parsed non-streamed answer into `acc`: text, tool calls,
 * finish reason and usage. Returns LOOM_ERR_UPSTREAM with the reason in e
 * when the answer lacks its required shape; any other error is the
 * accumulator's, reported by the caller as a too-large answer.
 */
typedef loom_err (*loom_provider_answer_cb)(const json_t *root,
                                            struct loom_llm_acc *acc,
                                            struct loom_error *e);

/*
 * A complete answer `body` into `out` (caller cleans up): parses it, lets
 * fill_cb read the provider's fields, takes the id and model from the top
 * level. LOOM_ERR_PARSE for bad JSON, fill_cb's LOOM_ERR_UPSTREAM, or the
 * accumulator's error ("answer too large"); `out` is untouched on error.
 */
loom_err loom_provider_chat_parse(const char *body, size_t len,
                                  loom_provider_answer_cb fill_cb,
                                  struct loom_llm_response *out,
                                  struct loom_error *e);

#endif
