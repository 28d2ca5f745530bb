/*
 * llm_call — one model call in flight on an event loop.
 *
 * A call is a small state machine owned by one loop (the loop of the HTTP
 * client it uses); it costs memory, never a thread, so thousands can be in
 * flight at once. It builds the request once through the provider's ops,
 * sends it with the loop's HTTP client, and either joins the SSE stream
 * (text deltas go to on_delta as they arrive) or parses the whole answer.
 *
 * Timeouts: connect (provider->connect_timeout_ms), the first byte of the
 * answer (first_byte_timeout_ms), silence in the middle of a stream
 * (idle_timeout_ms) and the whole attempt (timeout_ms).
 *
 * Retries follow llm_retry.h (x-should-retry, 408/409/429/5xx/529,
 * retry-after-ms / retry-after, backoff with jitter, never
 * insufficient_quota), at most provider->max_retries times, and never once
 * a delta has been delivered (the caller would see text twice). An error
 * in the middle of a stream fails the call with LOOM_ERR_UPSTREAM.
 *
 * Every finished call adds to the metrics loom_llm_requests_total{model,
 * outcome}, loom_llm_tokens_total{model,kind}, loom_llm_cost_usd_total
 * {model}, loom_llm_retries_total{model} and the histogram
 * loom_llm_request_duration_seconds{model}.
 */
#ifndef LOOM_AGENTS_LLM_CALL_H
#define LOOM_AGENTS_LLM_CALL_H

#include <stdbool.h>
#include <stdint.h>

#include "agents/llm.h"
#include "agents/llm_cost.h"
#include "agents/provider.h"
#include "core/err.h"

struct loom_loop;
struct loom_http_client;
struct loom_llm_call;
struct loom_cache;

/* Where calls run: a loop and that loop's HTTP client. */
struct loom_llm_env {
  struct loom_loop *loop;
  struct loom_http_client *http;
  const struct loom_llm_prices *prices; /* may be NULL: cost stays 0 */
};

struct loom_llm_result {
  loom_err err;      /* LOOM_OK, TIMEOUT, CANCELLED, UPSTREAM (server
                        error, bad answer, error mid-stream), LIMIT (429
                        after retries or insufficient_quota),
                        UNAUTHORIZED, FORBIDDEN, NOT_FOUND, INVALID (4xx
                        about the request) */
  const char *error; /* message for logs and users, "" on success */
  long status;       /* last HTTP status, 0 when none */
  int attempts;      /* requests sent, retries included */
  double duration_s; /* from start to finish, waits included */
  const char *model; /* the provider label ("openai/gpt-4o-mini") */
  double cost_usd;   /* from the price table; 0 when unknown */
  bool priced;       /* the model had a price */
  bool cached;       /* answered from the exact-request cache (no
                        request sent, cost 0, attempts 0) */
  /* Chat calls: the answer (err == LOOM_OK). The callback may move it out
   * (copy the struct, then zero it); otherwise it is cleaned up after. */
  struct loom_llm_response response;
  /* Embedding calls: the vectors, same ownership rule. */
  struct loom_embeddings embeddings;
};

/* Runs exactly once per started call, on the loop. */
typedef void (*loom_llm_done_cb)(void *ud, struct loom_llm_result *res);

struct loom_llm_call_opts {
  loom_llm_delta_cb on_delta; /* text as it streams; NULL: no streaming */
  loom_llm_done_cb on_done;   /* required */
  void *ud;                   /* passed to both */
  bool stream;                /* stream even without on_delta */
  /* Exact-request cache (llm_cache.h), opt-in: NULL for none. A hit is
   * answered on the next loop iteration, its text as one delta. */
  struct loom_cache *cache;
  uint64_t cache_ttl_ms; /* 0: no expiry */
};

/*
 * Starts a chat call (on env->loop's thread). `p` and `req` are only read
 * during this call (the request is built at once). LOOM_ERR_INVALID with a
 * message when the request cannot be built; then on_done will not run.
 * `*out` (may be NULL) is valid until on_done has run.
 */
loom_err loom_llm_call_start(const struct loom_llm_env *env,
                             const struct loom_provider *p,
                             const struct loom_llm_request *req,
                             const struct loom_llm_call_opts *o,
                             struct loom_llm_call **out,
                             struct loom_error *e) LOOM_MUST_USE;

/*
 * Starts an embeddings call for `inputs` (array of strings); `dims` 0 for
 * the model's size; base64 asks for the packed encoding (smaller on the
 * wire). LOOM_ERR_UNSUPPORTED when the provider has no embeddings.
 */
loom_err loom_llm_embed_start(const struct loom_llm_env *env,
                              const struct loom_provider *p,
                              const json_t *inputs, long dims, bool base64,
                              const struct loom_llm_call_opts *o,
                              struct loom_llm_call **out,
                              struct loom_error *e) LOOM_MUST_USE;

/*
 * Cancels a call: on_done runs with LOOM_ERR_CANCELLED before this returns,
 * or, when called from inside on_delta, right after on_delta returns. Do
 * not call after on_done ran.
 */
void loom_llm_call_cancel(struct loom_llm_call *call);

#endif
