/*
 * A real server on an ephemeral port of 127.0.0.1 and a libcurl easy
 * client, shared by the HTTP, SSE and HTTP-client tests. Header-only: each
 * test program includes it once.
 */
#ifndef LOOM_TEST_HTTP_HARNESS_H
#define LOOM_TEST_HTTP_HARNESS_H

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "io/http_client.h"
#include "io/http_server.h"
#include "io/loop.h"
#include "io/router.h"

struct harness {
  struct loom_loop_group *loops;
  struct loom_http_router *router;
  struct loom_http_server *srv;
  char base[64]; /* "http://127.0.0.1:PORT" */
};

static inline void harness_route(struct harness *h, const char *method,
                                 const char *pattern, loom_http_handler_cb cb,
                                 void *ud) {
  if (!h->router)
    h->router = loom_http_router_new();
  struct loom_error e;
  loom_error_clear(&e);
  if (loom_http_route_add(h->router, method, pattern, cb, ud, &e) != LOOM_OK) {
    fprintf(stderr, "route %s %s: %s\n", method, pattern, e.message);
    abort();
  }
}

static inline void harness_start(struct harness *h, unsigned nloops,
                                 const struct loom_http_server_options *opt) {
  loom_http_client_global_init();
  if (loom_loop_group_new(nloops, &h->loops) != LOOM_OK)
    abort();
  struct loom_error e;
  loom_error_clear(&e);
  if (loom_http_server_new(h->loops, h->router, opt, &h->srv, &e) != LOOM_OK) {
    fprintf(stderr, "server: %s\n", e.message);
    abort();
  }
  snprintf(h->base, sizeof h->base, "http://127.0.0.1:%u",
           loom_http_server_port(h->srv));
}

static inline void harness_stop(struct harness *h) {
  loom_http_server_free(h->srv);
  loom_loop_group_free(h->loops);
  loom_http_router_free(h->router);
  memset(h, 0, sizeof *h);
}

struct reply {
  long status;
  struct loom_buf body;
  struct loom_buf headers;
  long connects; /* CURLINFO_NUM_CONNECTS: 0 when a connection was reused */
  double seconds;
};

static inline size_t reply_write_cb(char *p, size_t s, size_t n, void *ud) {
  return loom_buf_append(ud, p, s * n) == LOOM_OK ? s * n : 0;
}

/* A header of the reply (lower-case `name`), copied into `out`. */
static inline const char *reply_header(const struct reply *r, const char *name,
                                       char *out, size_t size) {
  const char *p = r->headers.data;
  size_t nlen = strlen(name);
  while (p && *p) {
    const char *eol = strstr(p, "\r\n");
    if (!eol)
      break;
    if ((size_t)(eol - p) > nlen + 1 && strncasecmp(p, name, nlen) == 0 &&
        p[nlen] == ':') {
      const char *v = p + nlen + 1;
      while (*v == ' ')
        v++;
      snprintf(out, size, "%.*s", (int)(eol - v), v);
      return out;
    }
    p = eol + 2;
  }
  return NULL;
}

static inline void reply_cleanup(struct reply *r) {
  loom_buf_cleanup(&r->body);
  loom_buf_cleanup(&r->headers);
}

/*
 * One request on `easy` (reused across calls for keep-alive; NULL = a
 * fresh handle). `ctype` NULL sends no Content-Type.
 */
static inline void http_do(CURL *easy, const char *method, const char *url,
                           const char *ctype, const char *body, size_t len,
                           struct reply *r) {
  bool own = !easy;
  if (own)
    easy = curl_easy_init();
  memset(r, 0, sizeof *r);
  loom_buf_init(&r->body, 64u << 20);
  loom_buf_init(&r->headers, 1u << 20);
  struct curl_slist *hdrs = curl_slist_append(NULL, "Expect:");
  char ct[256];
  if (ctype) {
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
    hdrs = curl_slist_append(hdrs, ct);
  } else {
    hdrs = curl_slist_append(hdrs, "Content-Type:");
  }
  curl_easy_setopt(easy, CURLOPT_URL, url);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT, 20L);
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, reply_write_cb);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &r->body);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, reply_write_cb);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &r->headers);
  if (body) {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)len);
  } else {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
  }
  if (strcmp(method, "HEAD") == 0)
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  CURLcode rc = curl_easy_perform(easy);
  if (rc != CURLE_OK)
    fprintf(stderr, "curl %s %s: %s\n", method, url, curl_easy_strerror(rc));
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r->status);
  curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &r->connects);
  curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME, &r->seconds);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, NULL);
  curl_easy_setopt(easy, CURLOPT_NOBODY, 0L);
  curl_slist_free_all(hdrs);
  if (own)
    curl_easy_cleanup(easy);
}

static inline double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

#endif
