/*
 * webhook — POSTs a finished run to the run's `webhook` URL, as LangGraph's
 * server does: the run object plus its final `values` (or `error`).
 *
 * Asynchronous on the calling loop: a short-lived HTTP client is made for
 * the call (webhooks are rare next to runs) and freed on a later turn of
 * the loop, after its completion callback has returned. A failure is
 * logged; it never changes the run.
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
  char *url;
  char *body;
};

static void hook_free_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  struct hook *h = arg;
  loom_http_client_free(h->client);
  loom_free(h->url);
  loom_free(h->body);
  loom_free(h);
}

static void hook_done_cb(const struct loom_http_client_response *resp,
                         void *userdata) {
  struct hook *h = userdata;
  if (resp->err || resp->status >= 400)
    LOOM_WARN("webhook %s: %s", h->url,
              resp->err ? resp->error : "the receiver answered an error");
  struct loom_loop *loop = loom_loop_current();
  if (!loop || loom_loop_post(loop, hook_free_cb, h) != LOOM_OK)
    LOOM_WARN("webhook %s: client not freed (loop stopping)", h->url);
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
  if (!loop || loom_http_client_new(loop, 4, &h->client) != LOOM_OK ||
      loom_http_client_send(h->client, &rq, NULL) != LOOM_OK) {
    LOOM_WARN("webhook %s: cannot send", url);
    if (h->client)
      loom_http_client_free(h->client);
    loom_free(h->url);
    loom_free(h->body);
    loom_free(h);
  }
}
