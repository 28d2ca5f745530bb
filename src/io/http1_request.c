/*
 * http1_request — the bytes of a request for http1.c: the request line,
 * the caller's headers, Host, Accept and Content-Length when the caller
 * gave none, then the body.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io/http_call.h"

/* Whether the caller's header list names `name` ("Name: value"). */
static bool names(const char *header, const char *name) {
  size_t n = strlen(name);
  return !strncasecmp(header, name, n) && header[n] == ':';
}

/* Appends to an uncapped buffer, which cannot fail (allocation aborts). */
static void put(struct loom_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct loom_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  loom_err e = loom_buf_vappendf(b, fmt, ap);
  va_end(ap);
  (void)e;
}

char *h1_request_text(const struct loom_http_client_request *r,
                      const char *method, const char *target, size_t target_len,
                      const char *host_header, size_t *len) {
  struct loom_buf b;
  loom_buf_init(&b, SIZE_MAX);
  bool host = false, accept = false;
  put(&b, "%s %.*s HTTP/1.1\r\n", method, (int)target_len, target);
  for (const char *const *h = r->headers; h && *h; h++) {
    const char *colon = strchr(*h, ':');
    if (!colon || strpbrk(*h, "\r\n") || names(*h, "content-length"))
      continue;
    host |= names(*h, "host");
    accept |= names(*h, "accept");
    if (colon[strspn(colon + 1, " \t") + 1] != '\0')
      put(&b, "%s\r\n", *h);
  }
  if (!host)
    put(&b, "Host: %s\r\n", host_header);
  if (!accept)
    put(&b, "Accept: */*\r\n");
  if (r->body || !strcmp(method, "POST") || !strcmp(method, "PUT") ||
      !strcmp(method, "PATCH"))
    put(&b, "Content-Length: %zu\r\n", r->body_len);
  put(&b, "\r\n");
  if (r->body && loom_buf_append(&b, r->body, r->body_len) != LOOM_OK)
    abort(); /* uncapped: cannot happen */
  return loom_buf_take(&b, len);
}
