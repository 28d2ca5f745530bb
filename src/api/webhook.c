/*
 * webhook — POSTs a finished run to the run's `webhook` URL, as LangGraph's
 * server does: the run object plus its final `values` (or `error`).
 *
 * Asynchronous on the calling loop: a short-lived HTTP client is made for
 * the call (webhooks are rare next to runs) and freed on a later turn of
 * the loop, after its completion callback has returned, by a zero timer
 * of the hook's own: a post would be refused while the loop stops, and a
 * client left open kept the loop from ever stopping. A failure is logged;
 * it never changes the run.
 */
#include <string.h>

#include "api/internal.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "io/http_client.h"
#include "io/loop.h"

struct hook {
  struct loom_http_client *client;
  uv_timer_t free_later; /* frees the client outside its own callback */
  char *url;
  char *body;
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
    LOOM_WARN("webhook %s: %s", h->url,
              resp->err ? resp->error : "the receiver answered an error");
  uv_timer_start(&h->free_later, free_later_cb, 0, 0);
}

void api_webhook_send(const char *url, json_t *payload) {
  struct loom_loop *loop = loom_loop_current();
  struct hook *h = LOOM_NEW(struct hook);
  h->url = loom_strdup(url);
  h->body = loom_json_dump(payload);
  json_decref(payload);
  static const char *const headers[] = {"Content-Type: application/json", NULL};
  struct loom_http_client_request rq = {
      .method = "POST",
      .url = h->url,
      .headers = headers,
      .body = h->body,
      .body_len = strlen(h->body),
      .timeout_s = 10,
      .on_done = hook_done_cb,
      .userdata = h,
  };
  if (!loop || loom_http_client_new(loop, 4, &h->client) != LOOM_OK) {
    LOOM_WARN("webhook %s: cannot send", url);
    hook_free(h);
    return;
  }
  uv_timer_init(loom_loop_uv(loop), &h->free_later);
  h->free_later.data = h;
  if (loom_http_client_send(h->client, &rq, NULL) != LOOM_OK) {
    LOOM_WARN("webhook %s: cannot send", url);
    uv_timer_start(&h->free_later, free_later_cb, 0, 0);
  }
}
