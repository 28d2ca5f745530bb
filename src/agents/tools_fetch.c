/*
 * tools_fetch — the http_fetch built-in: GET a URL for the model.
 *
 * Guarded against server-side request forgery by the io layer's guard
 * (io/ssrf.h): only http and https; the host is resolved on the loop and
 * the fetch is refused when any of its addresses is not public, unless
 * the environment allows private addresses. The connection is then pinned
 * to exactly the addresses checked (CURLOPT_RESOLVE through the io
 * client), so a DNS server that answers differently when curl connects
 * (DNS rebinding) cannot steer the fetch to a private address.
 * Redirects are not followed (the model sees the 3xx and its Location, and
 * a new fetch is guarded again). The body is capped (max_bytes, default
 * 256 KiB: what fits is returned, marked as truncated) and so is the time
 * (env->timeout_s, default 15 s). HTML is reduced to its text.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "agents/tools.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "io/http_client.h"
#include "io/loop.h"
#include "io/ssrf.h"

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
  char *pin; /* "host:port:addr,..." once resolved and checked, or NULL */
};

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

/* The guard's answer: the host's checked addresses, pinned; or a refusal. */
static void resolved_cb(void *ud, const char *pin,
                        const struct loom_error *error) {
  struct fetch *f = ud;
  if (error) {
    char msg[700];
    snprintf(msg, sizeof msg, "Error: %s %s: %s",
             error->code == LOOM_ERR_FORBIDDEN ? "refused to fetch"
                                               : "cannot fetch",
             f->url, error->message);
    finish(f, true, msg);
    return;
  }
  f->pin = pin ? loom_strdup(pin) : NULL;
  send_get(f);
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
  /* A model may put anything in the URL: credentials are its business,
   * the address is loom's. */
  struct loom_ssrf_policy policy = {
      .allow_private = env->allow_private_addresses,
      .allow_credentials = true,
  };
  struct loom_ssrf_target t;
  loom_err err = loom_ssrf_check_url(url, &policy, &t, e);
  if (err == LOOM_ERR_FORBIDDEN) {
    char why[sizeof e->message];
    snprintf(why, sizeof why, "%s", e->message);
    return loom_error_set(e, err, "refused to fetch %s: %s", url, why);
  }
  if (err)
    return err;
  struct fetch *f = LOOM_NEW(struct fetch);
  f->done = done;
  f->ud = ud;
  f->http = env->http;
  f->timeout_s = env->timeout_s > 0 ? env->timeout_s : DEFAULT_TIMEOUT_S;
  f->url = loom_strdup(url);
  loom_buf_init(&f->body, json_is_integer(mb) ? (size_t)json_integer_value(mb)
                                              : DEFAULT_MAX_BYTES);
  err = loom_ssrf_resolve(env->loop, &t, &policy, resolved_cb, f, e);
  if (err)
    fetch_free(f);
  return err;
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
