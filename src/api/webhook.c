/*
 * webhook — POSTs a finished run to the run's `webhook` URL, as LangGraph's
 * server does: the run object plus its final `values` (or `error`).
 *
 * Guarded against server-side request forgery by the io layer's guard
 * (io/ssrf.h), as http_fetch is: a client names the URL, loom makes the
 * request from inside the network. When the run is created the URL is
 * checked without resolving anything (a 422 names what is wrong and the
 * setting that would allow it); when it is sent, the URL is checked again
 * (the settings or a stored run may have changed), the host is resolved on
 * the loop, every address must be allowed, and the POST is pinned to
 * exactly those addresses, so a second DNS answer cannot move it. The
 * policy follows LangGraph's webhook URL policy where it fits loom's flat
 * settings: LOOM_WEBHOOK_ALLOWED_DOMAINS (exact hosts, "*.domain" for
 * subdomains), LOOM_WEBHOOK_REQUIRE_HTTPS, and LOOM_WEBHOOK_ALLOW_PRIVATE
 * for receivers on loopback or private networks (off by default).
 *
 * Asynchronous on the calling loop: a short-lived HTTP client is made for
 * the call (webhooks are rare next to runs) and freed on a later turn of
 * the loop, after its completion callback has returned, by a zero timer
 * of the hook's own: a post would be refused while the loop stops, and a
 * client left open kept the loop from ever stopping. A refusal or a
 * failure is logged with its reason; it never changes the run.
 */
#include <stdio.h>
#include <string.h>

#include "api/internal.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "io/http_client.h"
#include "io/loop.h"
#include "io/ssrf.h"

/* Read-only once serving; NULL: the defaults. */
static const struct loom_config *settings;

void api_webhook_init(const struct loom_config *config) { settings = config; }

static struct loom_ssrf_policy policy(void) {
  const struct loom_config *c = settings;
  return (struct loom_ssrf_policy){
      .allow_private = c && loom_config_flag(c->webhook_allow_private),
      .require_https = c && loom_config_flag(c->webhook_require_https),
      .allowed_hosts = c ? c->webhook_allowed_domains : NULL,
      .private_setting = "LOOM_WEBHOOK_ALLOW_PRIVATE=true",
      .https_setting = "LOOM_WEBHOOK_REQUIRE_HTTPS=false",
      .hosts_setting = "LOOM_WEBHOOK_ALLOWED_DOMAINS",
  };
}

loom_err api_webhook_check(const char *url, struct loom_error *e) {
  struct loom_ssrf_policy p = policy();
  struct loom_ssrf_target t;
  struct loom_error why;
  loom_error_clear(&why);
  if (loom_ssrf_check_url(url, &p, &t, &why) == LOOM_OK)
    return LOOM_OK;
  return api_invalid(e, "webhook", why.message);
}

struct hook {
  struct loom_http_client *client;
  uv_timer_t free_later; /* frees the client outside its own callback */
  char *url;
  char *body;
  char run_id[LOOM_ID_LEN + 1]; /* for the log */
};

static void hook_free(struct hook *h) {
  loom_free(h->url);
  loom_free(h->body);
  loom_free(h);
}

static void hook_closed_cb(uv_handle_t *t) { hook_free(t->data); }

static void free_later_cb(uv_timer_t *t) {
  struct hook *h = t->data;
  loom_http_client_free(h->client);
  uv_close((uv_handle_t *)t, hook_closed_cb);
}

static void hook_done_cb(const struct loom_http_client_response *resp,
                         void *userdata) {
  struct hook *h = userdata;
  if (resp->err || resp->status >= 400)
    LOOM_WARN("webhook of run %s to %s: %s", h->run_id, h->url,
              resp->err ? resp->error : "the receiver answered an error");
  uv_timer_start(&h->free_later, free_later_cb, 0, 0);
}

/* The host's addresses passed (pinned in `pin`, NULL for an address):
 * POST. */
static void post(struct hook *h, const char *pin) {
  static const char *const headers[] = {"Content-Type: application/json", NULL};
  struct loom_http_client_request rq = {
      .method = "POST",
      .url = h->url,
      .headers = headers,
      .body = h->body,
      .body_len = strlen(h->body),
      .timeout_s = 10,
      .resolve = pin,
      .on_done = hook_done_cb,
      .userdata = h,
  };
  struct loom_loop *loop = loom_loop_current();
  if (!loop || loom_http_client_new(loop, 4, &h->client) != LOOM_OK) {
    LOOM_WARN("webhook of run %s: cannot send", h->run_id);
    hook_free(h);
    return;
  }
  uv_timer_init(loom_loop_uv(loop), &h->free_later);
  h->free_later.data = h;
  if (loom_http_client_send(h->client, &rq, NULL) != LOOM_OK) {
    LOOM_WARN("webhook of run %s: cannot send", h->run_id);
    uv_timer_start(&h->free_later, free_later_cb, 0, 0);
  }
}

static void resolved_cb(void *ud, const char *pin,
                        const struct loom_error *error) {
  struct hook *h = ud;
  if (error) {
    LOOM_WARN("webhook of run %s %s: %s", h->run_id,
              error->code == LOOM_ERR_FORBIDDEN ? "refused" : "not sent",
              error->message);
    hook_free(h);
    return;
  }
  post(h, pin);
}

void api_webhook_send(const char *url, json_t *payload) {
  struct hook *h = LOOM_NEW(struct hook);
  const char *id = json_string_value(json_object_get(payload, "run_id"));
  snprintf(h->run_id, sizeof h->run_id, "%s", id ? id : "?");
  struct loom_ssrf_policy p = policy();
  struct loom_ssrf_target t;
  struct loom_error e;
  loom_error_clear(&e);
  loom_err err = loom_ssrf_check_url(url, &p, &t, &e);
  if (err) {
    LOOM_WARN("webhook of run %s refused: %s", h->run_id, e.message);
    json_decref(payload);
    hook_free(h);
    return;
  }
  h->url = loom_strdup(url);
  h->body = loom_json_dump(payload);
  json_decref(payload);
  struct loom_loop *loop = loom_loop_current();
  if (!loop)
    err = loom_error_set(&e, LOOM_ERR_UNAVAILABLE, "no event loop here");
  else
    err = loom_ssrf_resolve(loop, &t, &p, resolved_cb, h, &e);
  if (err) { /* resolved_cb did not run */
    LOOM_WARN("webhook of run %s: cannot send: %s", h->run_id, e.message);
    hook_free(h);
  }
}
