/*
 * tools_fetch — the http_fetch built-in: GET a URL for the model.
 *
 * Guarded against server-side request forgery: only http and https; the
 * host is resolved on the loop (uv_getaddrinfo, never blocking it) and the
 * fetch is refused when any of its addresses is not public (see
 * tools_guard.c), unless the environment allows private addresses. The
 * connection is then pinned to exactly the addresses checked
 * (CURLOPT_RESOLVE through the io client), so a DNS server that answers
 * differently when curl connects (DNS rebinding) cannot steer the fetch
 * to a private address.
 * Redirects are not followed (the model sees the 3xx and its Location, and
 * a new fetch is guarded again). The body is capped (max_bytes, default
 * 256 KiB: what fits is returned, marked as truncated) and so is the time
 * (env->timeout_s, default 15 s). HTML is reduced to its text.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "agents/tools.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "io/http_client.h"
#include "io/loop.h"

#define DEFAULT_MAX_BYTES (256u << 10)
#define DEFAULT_TIMEOUT_S 15.0

struct fetch {
  loom_tool_done_cb done;
  void *ud;
  struct loom_http_client *http;
  double timeout_s;
  char *url;
  struct loom_buf body;
  bool truncated;
  uv_getaddrinfo_t gai;
  char host[256], port[16]; /* of the URL, host without brackets */
  char *pin;                /* "host:port:addr,..." once resolved and checked */
  bool allow_private;
};

static loom_tools_resolve_fn test_resolver;

void loom_tools_set_resolver(loom_tools_resolve_fn fn) { test_resolver = fn; }

static void fetch_free(struct fetch *f) {
  loom_free(f->url);
  loom_free(f->pin);
  loom_buf_cleanup(&f->body);
  loom_free(f);
}

static void finish(struct fetch *f, bool is_error, const char *text) {
  f->done(f->ud, is_error, text);
  fetch_free(f);
}

/* Text of an HTML document: tags dropped, script/style skipped, runs of
 * whitespace collapsed. Good enough for a model to read. */
void loom_tools_html_text(const char *s, size_t n, struct loom_buf *out) {
  bool space = true;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '<') {
      bool skip = (n - i > 7 && strncasecmp(s + i, "<script", 7) == 0) ||
                  (n - i > 6 && strncasecmp(s + i, "<style", 6) == 0);
      const char *close =
          skip ? (s[i + 2] == 'c' || s[i + 2] == 'C' ? "</script" : "</style")
               : ">";
      const char *end = NULL;
      size_t clen = strlen(close);
      for (size_t j = i + 1; j + clen <= n && !end; j++)
        if (strncasecmp(s + j, close, clen) == 0)
          end = s + j;
      if (!end)
        break;
      i = (size_t)(end - s);
      while (i < n && s[i] != '>')
        i++;
      if (!space && loom_buf_append(out, " ", 1))
        return;
      space = true;
      continue;
    }
    bool ws = s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t';
    if (ws && space)
      continue;
    if (loom_buf_append(out, ws ? " " : s + i, 1))
      return;
    space = ws;
  }
}

static bool chunk_cb(const char *data, size_t len, void *ud) {
  struct fetch *f = ud;
  size_t room = f->body.max - f->body.len;
  if (len > room) {
    (void)!loom_buf_append(&f->body, data, room);
    f->truncated = true;
    return false; /* enough: stop the transfer */
  }
  return loom_buf_append(&f->body, data, len) == LOOM_OK;
}

static void http_done_cb(const struct loom_http_client_response *r, void *ud) {
  struct fetch *f = ud;
  if (r->err && !(r->err == LOOM_ERR_CANCELLED && f->truncated)) {
    char msg[700];
    snprintf(msg, sizeof msg, "Error: fetching %s failed: %s", f->url,
             r->error);
    finish(f, true, msg);
    return;
  }
  const char *type = loom_http_client_header(r->call, "content-type");
  const char *loc = loom_http_client_header(r->call, "location");
  const char *body = f->body.len ? f->body.data : r->body;
  size_t len = f->body.len ? f->body.len : r->body_len;
  if (len > f->body.max)
    len = f->body.max;
  struct loom_buf out;
  loom_buf_init(&out, f->body.max + 1024);
  /* The cap leaves room for the status line, so these cannot fail. */
  (void)!loom_buf_appendf(&out, "HTTP %ld%s%s%s%s%s\n\n", r->status,
                          type ? ", " : "", type ? type : "",
                          loc ? ", Location: " : "", loc ? loc : "",
                          f->truncated ? ", truncated" : "");
  if (type && strcasestr(type, "html"))
    loom_tools_html_text(body, len, &out);
  else
    (void)!loom_buf_append(&out, body, len);
  finish(f, r->status >= 400, out.data ? out.data : "");
  loom_buf_cleanup(&out);
}

static void send_get(struct fetch *f) {
  static const char *const headers[] = {
      "Accept: text/html, text/plain;q=0.9, application/json;q=0.9, */*;q=0.5",
      "User-Agent: loom-http_fetch", NULL};
  struct loom_http_client_request r = {.method = "GET",
                                       .url = f->url,
                                       .headers = headers,
                                       .timeout_s = f->timeout_s,
                                       .connect_timeout_s = f->timeout_s,
                                       .max_body = f->body.max,
                                       .resolve = f->pin,
                                       .on_chunk = chunk_cb,
                                       .on_done = http_done_cb,
                                       .userdata = f};
  if (loom_http_client_send(f->http, &r, NULL) != LOOM_OK)
    finish(f, true, "Error: cannot start the request");
}

/* Checks scheme and host; fills `host` (without brackets) and `port`. */
static loom_err parse_url(const char *url, char *host, size_t host_cap,
                          char *port, size_t port_cap, struct loom_error *e) {
  CURLU *u = curl_url();
  char *scheme = NULL, *h = NULL, *p = NULL;
  loom_err err = LOOM_OK;
  if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
    err = loom_error_set(e, LOOM_ERR_INVALID, "'%s' is not a valid URL", url);
    goto out;
  }
  if (strcasecmp(scheme, "http") && strcasecmp(scheme, "https")) {
    err = loom_error_set(e, LOOM_ERR_INVALID,
                         "only http and https URLs can be fetched");
    goto out;
  }
  if (curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK) {
    err = loom_error_set(e, LOOM_ERR_INVALID, "'%s' has no host", url);
    goto out;
  }
  curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT);
  size_t n = strlen(h);
  if (n >= 2 && h[0] == '[')
    snprintf(host, host_cap, "%.*s", (int)(n - 2), h + 1);
  else
    snprintf(host, host_cap, "%s", h);
  snprintf(port, port_cap, "%s", p ? p : "80");
out:
  curl_free(scheme);
  curl_free(h);
  curl_free(p);
  curl_url_cleanup(u);
  return err;
}

/* "host:port:a1,a2,...", the CURLOPT_RESOLVE form of `res` (IPv6 in
 * brackets); addresses past the cap are left out. */
static char *pin_of(const char *host, const char *port,
                    const struct addrinfo *res) {
  struct loom_buf b;
  loom_buf_init(&b, 2048);
  loom_err err = loom_buf_appendf(&b, "%s:%s:", host, port);
  for (const struct addrinfo *a = res; a && !err; a = a->ai_next) {
    char ip[INET6_ADDRSTRLEN];
    bool v6 = a->ai_family == AF_INET6;
    const void *bin =
        v6 ? (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr
           : (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr;
    if (!inet_ntop(a->ai_family, bin, ip, sizeof ip))
      continue;
    err = loom_buf_appendf(&b, "%s%s%s%s", a == res ? "" : ",", v6 ? "[" : "",
                           ip, v6 ? "]" : "");
  }
  return loom_buf_take(&b, NULL);
}

/* The host's addresses are known: check them, pin them, fetch. */
static void resolved(struct fetch *f, int status, struct addrinfo *res) {
  char msg[600];
  if (status < 0 || !res) {
    snprintf(msg, sizeof msg, "Error: cannot resolve the host of %s: %s",
             f->url, status < 0 ? uv_strerror(status) : "no address");
    uv_freeaddrinfo(res);
    finish(f, true, msg);
    return;
  }
  bool ok = true;
  for (struct addrinfo *a = res; a && ok; a = a->ai_next)
    ok = f->allow_private || loom_tools_address_is_public(a->ai_addr);
  if (ok)
    f->pin = pin_of(f->host, f->port, res);
  uv_freeaddrinfo(res);
  if (!ok) {
    snprintf(msg, sizeof msg,
             "Error: refused to fetch %s: the host resolves "
             "to a private, loopback or link-local address",
             f->url);
    finish(f, true, msg);
    return;
  }
  send_get(f);
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  struct fetch *f = req->data;
  resolved(f, status, res);
}

static loom_err fetch_start(void *self, const struct loom_tool_env *env,
                            const json_t *args, loom_tool_done_cb done,
                            void *ud, struct loom_error *e) {
  (void)self;
  const char *url = json_string_value(json_object_get(args, "url"));
  json_t *mb = json_object_get(args, "max_bytes");
  if (!env || !env->http || !env->loop)
    return loom_error_set(e, LOOM_ERR_UNAVAILABLE,
                          "http_fetch is not available here");
  char host[256], port[16];
  loom_err err = parse_url(url, host, sizeof host, port, sizeof port, e);
  if (err)
    return err;
  struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6};
  struct sockaddr_in sa4 = {.sin_family = AF_INET};
  bool literal = false, public_ip = true;
  if (inet_pton(AF_INET, host, &sa4.sin_addr) == 1) {
    literal = true;
    public_ip = loom_tools_address_is_public((struct sockaddr *)&sa4);
  } else if (inet_pton(AF_INET6, host, &sa6.sin6_addr) == 1) {
    literal = true;
    public_ip = loom_tools_address_is_public((struct sockaddr *)&sa6);
  }
  if (!env->allow_private_addresses && !public_ip)
    return loom_error_set(e, LOOM_ERR_FORBIDDEN,
                          "refused to fetch %s: private, loopback and "
                          "link-local addresses are not allowed",
                          url);
  struct fetch *f = LOOM_NEW(struct fetch);
  f->done = done;
  f->ud = ud;
  f->http = env->http;
  f->timeout_s = env->timeout_s > 0 ? env->timeout_s : DEFAULT_TIMEOUT_S;
  f->url = loom_strdup(url);
  loom_buf_init(&f->body, json_is_integer(mb) ? (size_t)json_integer_value(mb)
                                              : DEFAULT_MAX_BYTES);
  f->allow_private = env->allow_private_addresses;
  snprintf(f->host, sizeof f->host, "%s", host);
  snprintf(f->port, sizeof f->port, "%s", port);
  if (literal) { /* nothing to resolve, nothing to rebind */
    send_get(f);
    return LOOM_OK;
  }
  if (test_resolver) {
    struct addrinfo *res = NULL;
    int status = test_resolver(host, port, &res);
    resolved(f, status, res);
    return LOOM_OK;
  }
  f->gai.data = f;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  int rc = uv_getaddrinfo(loom_loop_uv(env->loop), &f->gai, gai_cb, host, port,
                          &hints);
  if (rc < 0) {
    fetch_free(f);
    return loom_error_set(e, LOOM_ERR_IO, "cannot resolve %s: %s", host,
                          uv_strerror(rc));
  }
  return LOOM_OK;
}

/* Registers http_fetch (called by loom_tools_add_builtins). */
loom_err loom_tools_add_fetch(struct loom_tools *r, struct loom_error *e) {
  static const struct loom_tool fetch = {
      .name = "http_fetch",
      .description =
          "Fetches a web page or document over HTTP(S) with GET and "
          "returns its status, type and text (HTML reduced to text).",
      .parameters = "{\"type\":\"object\",\"properties\":{\"url\":{\"type\":"
                    "\"string\",\"description\":\"http:// or https:// URL\"},"
                    "\"max_bytes\":{\"type\":\"integer\",\"minimum\":1,"
                    "\"maximum\":1048576}},\"required\":[\"url\"],"
                    "\"additionalProperties\":false}",
      .start = fetch_start,
  };
  return loom_tools_add(r, &fetch, e);
}
