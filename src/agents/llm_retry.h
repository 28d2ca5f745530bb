/*
 * llm_retry — when a failed model call is tried again, and after how long.
 *
 * The rules are the official OpenAI and Anthropic SDKs': a server's
 * `x-should-retry: true|false` decides first; otherwise 408, 409, 429 and
 * every 5xx (Anthropic's 529 "overloaded" included) are retried, as are
 * connection failures and timeouts. loom adds one exception: a 429 whose
 * error is `insufficient_quota` (the account is out of credit) is never
 * retried. The wait is `retry-after-ms`, else `retry-after` in seconds or
 * as an HTTP date, when that is between 0 and 60 s; otherwise exponential
 * backoff from 0.5 s doubling up to 8 s, less up to 25% jitter.
 *
 * Error bodies come in several shapes and all are understood: OpenAI's
 * {"error":{"message","type","code"}}, the flat {"object":"error",
 * "message","type","code"} of some self-hosted servers, Anthropic's
 * {"type":"error","error":{"type","message"}}, and {"error":"text"}.
 */
#ifndef LOOM_AGENTS_LLM_RETRY_H
#define LOOM_AGENTS_LLM_RETRY_H

#include <stdbool.h>
#include <stddef.h>

/* What an error body said, as far as it said anything. */
struct loom_llm_error_info {
  char type[64];     /* "rate_limit_error", "insufficient_quota", ... */
  char code[64];     /* OpenAI's code (string or number), "" if none */
  char message[400]; /* the server's message, or the body's start */
};

/* Reads an error body of any known shape; never fails (unknown shapes
 * give the first bytes of the body as the message). The fields are valid
 * UTF-8 whatever the body held (bytes that are not become '?'). */
void loom_llm_error_parse(const char *body, size_t len,
                          struct loom_llm_error_info *out);

/*
 * Whether a call that ended with HTTP `status` (0: no response — network
 * failure or timeout) should be tried again. `x_should_retry` is that
 * header's value or NULL; `info` may be NULL.
 */
bool loom_llm_should_retry(long status, const char *x_should_retry,
                           const struct loom_llm_error_info *info);

/*
 * Seconds to wait before retry number `retries_done + 1`. The header
 * values may be NULL. `now_s` is the wall clock in seconds (for HTTP
 * dates); `rand01` a uniform number in [0,1) for the jitter.
 */
double loom_llm_retry_delay(const char *retry_after_ms, const char *retry_after,
                            int retries_done, double now_s, double rand01);

#endif
