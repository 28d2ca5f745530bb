/*
 * fuzz_http_headers — the response header lines a server sends, as curl
 * hands them to the HTTP client one by one (status lines of interim and
 * final responses, "name: value" lines, folded continuations, trailers),
 * through the capped header set that LLM calls and web fetches look up
 * (retry-after, content-type, location). Whatever arrives, the set must
 * hold only well-formed pairs (a token name; a value trimmed, one line),
 * stay under its cap, and find every name it holds.
 *
 * Input: the first byte sets the cap (16 to 1036 bytes, so it is often
 * reached); the rest is split into lines after each '\n'.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io/http_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_pairs(const struct loom_http_headers *h) {
  const struct loom_buf *b = &h->pairs;
  if (b->len > b->max || (b->data && b->data[b->len]))
    abort();
  const char *p = b->data, *end = p ? p + b->len : NULL;
  while (p && p < end) {
    const char *value = p + strlen(p) + 1;
    if (value >= end || !*p || strcspn(p, " \t\r\n:") != strlen(p))
      abort(); /* a pair without value, or a name that is no token */
    size_t vlen = strlen(value);
    if (value + vlen >= end || strpbrk(value, "\r\n") ||
        (vlen && (strchr(" \t", value[0]) || strchr(" \t", value[vlen - 1]))))
      abort(); /* a value running off the set, or not trimmed */
    const char *found = loom_http_client_header_find(h, p);
    if (!found || found > value)
      abort(); /* the first pair of a name is the one found */
    if (strcasecmp(found - strlen(p) - 1, p) != 0)
      abort();
    p = value + vlen + 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  struct loom_http_headers h;
  loom_http_client_headers_init(&h, 16 + (size_t)data[0] * 4);
  const char *line = (const char *)data + 1, *end = (const char *)data + size;
  while (line < end) {
    const char *nl = memchr(line, '\n', (size_t)(end - line));
    size_t len = nl ? (size_t)(nl - line) + 1 : (size_t)(end - line);
    loom_http_client_header_line(&h, line, len);
    check_pairs(&h);
    line += len;
  }
  (void)loom_http_client_header_find(&h, "retry-after");
  (void)loom_http_client_header_find(&h, "");
  loom_http_client_headers_cleanup(&h);
  return 0;
}
