/*
 * fuzz_api — the whole HTTP API as a client sees it: any method, path and
 * body, sent over a real connection to the real routes and handlers (the
 * LangGraph, Pinecone, documents and health surfaces on embedded SQLite,
 * with the example graphs loaded). Whatever the request, the server must
 * answer (no crash, no hang past the timeout) with a status below 500 and,
 * when it says JSON, a body that parses (and is not a bare null).
 *
 * Input: the first byte picks the method; the bytes up to the first
 * newline are the path (bytes a URL cannot carry are percent-encoded),
 * then, each after a tab, request headers ("Host: ...", "x-api-key: ...",
 * "Content-Type: ..."; headers are raw bytes nobody checked for UTF-8);
 * the rest is the body, sent as application/json unless a Content-Type
 * header came. A GET of a stream (.../stream, where Last-Event-ID and
 * stream_mode are read) gets 1 s: joining waits for runs that may
 * never come, so a stream that started (200) and is still open then is
 * cut by the client, as a client may, and that is fine.
 *
 * The server starts on the first input, in this process (so ASan sees its
 * threads), on a free loopback port, with its data in a temporary
 * directory removed at exit.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agents/nodes.h"
#include "api/app.h"
#include "api/routes.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/config.h"
#include "io/http_server.h"
#include "io/loop.h"
#include "stores/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PATH_BYTES 512
#define MAX_HEADERS 8

static struct {
  struct loom_config config;
  struct loom_app app;
  struct loom_http_router *router;
  struct loom_http_server *server;
  char base[64];
  char dir[64];
  CURL *curl;
} S;

static void remove_data_dir(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", S.dir);
  if (system(cmd) != 0)
    fprintf(stderr, "fuzz_api: could not remove %s\n", S.dir);
}

static void die(const char *what, const struct loom_error *e) {
  fprintf(stderr, "fuzz_api: %s: %s\n", what, e ? e->message : "");
  abort();
}

static void start_server(void) {
  snprintf(S.dir, sizeof S.dir, "/tmp/loom-fuzz-api-XXXXXX");
  if (!mkdtemp(S.dir))
    die("mkdtemp", NULL);
  atexit(remove_data_dir);
  setenv("LOOM_DATA_DIR", S.dir, 1);
  setenv("LOOM_GRAPHS", "examples/graphs", 1);
  setenv("LOOM_ADDR", "127.0.0.1:0", 1);
  setenv("LOOM_THREADS", "1", 1);
  setenv("LOOM_LOG_LEVEL", "off", 1);
  struct loom_error e = {0};
  struct loom_http_server_options opt;
  if (loom_config_load(&S.config, &e) ||
      loom_http_server_options_from_config(&S.config, &opt, &e) ||
      loom_store_open(S.config.database_url, S.config.data_dir, &S.app.store,
                      &e) ||
      loom_store_migrate(S.app.store, &e) ||
      loom_loop_group_new(1, &S.app.loops))
    die("set-up", &e);
  S.app.config = &S.config;
  S.app.started_ms = loom_clock_wall_ms();
  S.router = loom_http_router_new();
  if (loom_agents_nodes_register(&S.config, &e) ||
      loom_api_routes_add(S.router, &S.app, &e) ||
      loom_http_server_new(S.app.loops, S.router, &opt, &S.server, &e))
    die("start", &e);
  snprintf(S.base, sizeof S.base, "http://127.0.0.1:%u",
           loom_http_server_port(S.server));
  curl_global_init(CURL_GLOBAL_DEFAULT);
  S.curl = curl_easy_init();
}

static size_t collect_cb(char *p, size_t size, size_t n, void *ud) {
  return loom_buf_append(ud, p, size * n) == LOOM_OK ? size * n : 0;
}

static size_t header_cb(char *p, size_t size, size_t n, void *ud) {
  bool *json = ud;
  if (!strncasecmp(p, "content-type:", 13) && strstr(p, "application/json"))
    *json = true;
  return size * n;
}

/* The path bytes as a URL path: what a URL cannot carry, percent-encoded. */
static void url_of(const uint8_t *p, size_t n, char *out, size_t cap) {
  size_t o = snprintf(out, cap, "%s%s", S.base, n && p[0] == '/' ? "" : "/");
  for (size_t i = 0; i < n && o + 4 < cap; i++) {
    unsigned char c = p[i];
    bool plain = c > 0x20 && c < 0x7f && c != '%' && c != '#' && c != '"' &&
                 c != '<' && c != '>' && c != '\\' && c != '^' && c != '`' &&
                 c != '{' && c != '}' && c != '|';
    o += plain ? (size_t)snprintf(out + o, cap - o, "%c", c)
               : (size_t)snprintf(out + o, cap - o, "%%%02X", c);
  }
}

/* The headers after the path's first tab, one per tab (each NUL-free),
 * then the default Content-Type unless one of them is a Content-Type. */
static struct curl_slist *headers_of(const uint8_t *p, size_t n) {
  struct curl_slist *list = NULL;
  bool typed = false;
  size_t count = 0;
  while (n && count++ < MAX_HEADERS) {
    const uint8_t *tab = memchr(p, '\t', n);
    size_t len = tab ? (size_t)(tab - p) : n;
    char *h = loom_strndup((const char *)p, len);
    typed = typed || !strncasecmp(h, "content-type:", 13);
    if (*h)
      list = curl_slist_append(list, h);
    loom_free(h);
    p += tab ? len + 1 : len;
    n -= tab ? len + 1 : len;
  }
  return typed ? list
               : curl_slist_append(list, "Content-Type: application/json");
}

/* A JSON answer parses, and is not a bare null (a body that failed to
 * build: json_pack refuses a string that is not UTF-8), but where null is
 * the answer: a store item that is not there, as LangGraph says it and its
 * SDK reads it. */
static void check_json(const char *method, const char *url,
                       const struct loom_buf *got, bool null_allowed) {
  json_error_t err;
  json_t *v = json_loadb(got->data, got->len, JSON_DECODE_ANY, &err);
  if (!v) {
    fprintf(stderr, "fuzz_api: %s %s answered bad JSON: %s\n", method, url,
            err.text);
    abort();
  }
  if (json_is_null(v) && !null_allowed) {
    fprintf(stderr, "fuzz_api: %s %s answered null\n", method, url);
    abort();
  }
  json_decref(v);
}

/* Sends one request with the reused handle; the answer's body in `got`,
 * whether it said JSON in `json`. Aborts on a 5xx or no answer (a stream
 * still going after its second is fine: we hung up). */
static void perform(const char *method, const char *url, struct curl_slist *hdr,
                    const uint8_t *body, size_t blen, struct loom_buf *got,
                    bool *json) {
  bool stream = !strcmp(method, "GET") && strstr(url, "/stream");
  CURL *c = S.curl;
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
  if (blen || strcmp(method, "GET")) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)blen);
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, got);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, json);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, stream ? 1000L : 10000L);
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (stream && rc == CURLE_OPERATION_TIMEDOUT && status == 200)
    rc = CURLE_OK;
  if (rc != CURLE_OK || status == 0 || status >= 500) {
    fprintf(stderr, "fuzz_api: %s %s -> %s, status %ld: %.*s\n", method, url,
            curl_easy_strerror(rc), status, (int)got->len,
            got->data ? got->data : "");
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const methods[] = {"GET", "POST", "PATCH", "PUT",
                                        "DELETE"};
  if (size < 1)
    return 0;
  if (!S.server)
    start_server();
  const char *method = methods[data[0] % 5];
  const uint8_t *path = data + 1;
  const uint8_t *nl = memchr(path, '\n', size - 1);
  size_t llen = nl ? (size_t)(nl - path) : size - 1;
  const uint8_t *tab = memchr(path, '\t', llen);
  size_t plen = tab ? (size_t)(tab - path) : llen;
  if (plen > MAX_PATH_BYTES)
    return 0;
  const uint8_t *body = nl ? nl + 1 : data + size;
  char url[MAX_PATH_BYTES * 3 + 64];
  url_of(path, plen, url, sizeof url);
  struct loom_buf got;
  loom_buf_init(&got, 1u << 24);
  bool json = false;
  struct curl_slist *hdr =
      tab ? headers_of(tab + 1, llen - plen - 1)
          : curl_slist_append(NULL, "Content-Type: application/json");
  perform(method, url, hdr, body, (size_t)(data + size - body), &got, &json);
  /* A stream answers text/event-stream; anything that says JSON parses. */
  if (json && got.len)
    check_json(method, url, &got,
               !strcmp(method, "GET") && plen >= 12 &&
                   !memcmp(path, "/store/items", 12));
  curl_slist_free_all(hdr);
  loom_buf_cleanup(&got);
  return 0;
}
