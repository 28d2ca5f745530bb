/*
 * fuzz_llm_error — what a model server sends when a call fails: its error
 * body (any shape: OpenAI's, Anthropic's, flat, a bare string, not JSON)
 * and its retry headers (x-should-retry, retry-after-ms, retry-after in
 * seconds or as an HTTP date). Whatever they say, the error fields are
 * NUL-terminated valid UTF-8 within their caps (they end up in run errors,
 * which are JSON), and the wait before the next try is a finite number of
 * seconds between 0 and the 60 s a header may ask for.
 *
 * Input: three lines (retry-after-ms, retry-after, x-should-retry; an
 * empty line is a missing header), then the body. The first byte of the
 * body also picks the HTTP status and how many retries were done.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agents/llm_retry.h"
#include "core/alloc.h"
#include "core/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next line of [*p, end) as a fresh string, or NULL when empty. */
static char *line(const char **p, const char *end) {
  const char *nl = memchr(*p, '\n', (size_t)(end - *p));
  size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
  char *s = n ? loom_strndup(*p, n) : NULL;
  *p += nl ? n + 1 : n;
  return s;
}

static void check_field(const char *s, size_t cap) {
  size_t n = strnlen(s, cap);
  if (n == cap || !loom_utf8_valid(s, n))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const long statuses[] = {0, 400, 408, 409, 429, 500, 503, 529};
  const char *p = (const char *)data, *end = p + size;
  char *ms = line(&p, end), *after = line(&p, end), *should = line(&p, end);
  size_t len = (size_t)(end - p);
  /* An exact copy, so a read past the body is caught. */
  char *body = loom_malloc(len ? len : 1);
  memcpy(body, p, len);
  struct loom_llm_error_info info;
  loom_llm_error_parse(body, len, &info);
  check_field(info.type, sizeof info.type);
  check_field(info.code, sizeof info.code);
  check_field(info.message, sizeof info.message);
  unsigned pick = len ? (unsigned char)body[0] : 0;
  (void)loom_llm_should_retry(statuses[pick % 8], should, &info);
  double d = loom_llm_retry_delay(ms, after, (int)(pick % 40) - 1, 1.7e9 + pick,
                                  (pick % 100) / 100.0);
  if (!isfinite(d) || d < 0 || d > 60)
    abort();
  loom_free(body);
  loom_free(ms);
  loom_free(after);
  loom_free(should);
  return 0;
}
