/*
 * llm_call — the state machine of one model call on a loop.
 *
 * One uv_timer per call serves every wait: the first-byte and idle
 * timeouts while an attempt is in flight, the pause before a retry, and
 * the next-tick answer of a local provider. The call is freed in the
 * timer's close callback, after on_done ran.
 */
#include "agents/llm_call.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "agents/llm_cache.h"
#include "agents/llm_retry.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/id.h"
#include "io/http_client.h"
#include "io/loop.h"
#include "obs/metrics.h"
#include "stores/cache.h"

#define MAX_SSE_EVENT (4u << 20)
#define MAX_BODY (32u << 20)

enum state {
  ST_SENDING, /* an HTTP attempt in flight; the timer guards silence */
  ST_WAITING, /* the timer runs down to the next attempt */
  ST_LOCAL,   /* a local provider's answer goes out on the timer */
  ST_CACHED,  /* a cached answer goes out on the timer */
  ST_DONE,    /* on_done ran; the timer is closing */
};

enum kind { KIND_CHAT, KIND_EMBED };

struct loom_llm_call {
  enum state state;
  enum kind kind;
  struct loom_llm_env env;
  const struct loom_provider_ops *ops;
  char *label;
  long first_byte_ms, idle_ms, total_ms, connect_ms;
  int max_retries;
  struct loom_llm_call_opts opts;
  bool stream;
  struct loom_http_spec spec;
  const char *headers[LOOM_HTTP_SPEC_MAX_HEADERS + 1];
  struct loom_http_call *http_call;
  struct loom_sse_parser sse;
  struct loom_llm_acc acc;
  uv_timer_t timer;
  int attempts;
  bool delivered; /* a delta reached the caller: no more retries */
  bool cancel_req;
  loom_err fail; /* set inside callbacks: stream error or timeout */
  char fail_msg[900];
  struct loom_llm_response answer; /* parsed non-streamed answer */
  bool has_answer;
  char *cache_key; /* when the caller asked for the cache */
  bool cached;     /* answered from it */
  struct loom_embeddings cached_emb;
  double start_s;
};

/* ---- finishing ---- */

static void closed_cb(uv_handle_t *h) {
  struct loom_llm_call *c = h->data;
  loom_free(c);
}

static const char *outcome(loom_err err) {
  return err ? loom_err_code(err) : "ok";
}

static void record_metrics(const struct loom_llm_result *r) {
  static const char *const model_l[] = {"model", NULL};
  static const char *const outcome_l[] = {"model", "outcome", NULL};
  static const char *const kind_l[] = {"model", "kind", NULL};
  const char *m[] = {r->model};
  const char *mo[] = {r->model, outcome(r->err)};
  loom_metric_inc(loom_metrics_counter("loom_llm_requests_total",
                                       "Model calls by outcome", outcome_l),
                  mo, 1);
  loom_metric_observe(
      loom_metrics_histogram("loom_llm_request_duration_seconds",
                             "Model call latency, retries included", model_l,
                             loom_metrics_latency_buckets,
                             loom_metrics_latency_nbuckets),
      m, r->duration_s);
  if (r->attempts > 1)
    loom_metric_inc(loom_metrics_counter("loom_llm_retries_total",
                                         "Model call retries", model_l),
                    m, r->attempts - 1);
  if (r->err)
    return;
  struct loom_metric *tok = loom_metrics_counter(
      "loom_llm_tokens_total", "Tokens by model and kind", kind_l);
  const char *p[] = {r->model, "prompt"}, *cpl[] = {r->model, "completion"};
  loom_metric_inc(tok, p,
                  (double)r->response.usage.prompt_tokens +
                      (double)r->embeddings.prompt_tokens);
  loom_metric_inc(tok, cpl, (double)r->response.usage.completion_tokens);
  loom_metric_inc(loom_metrics_counter("loom_llm_cost_usd_total",
                                       "Cost of model calls in USD", model_l),
                  m, r->cost_usd);
}

static void store_in_cache(struct loom_llm_call *c,
                           const struct loom_llm_result *r) {
  json_t *v = c->kind == KIND_CHAT
                  ? loom_llm_cache_pack(&r->response)
                  : loom_llm_cache_pack_embeddings(&r->embeddings);
  /* A cache is an optimisation: a failure to store changes nothing. */
  (void)!loom_cache_set_json(c->opts.cache, c->cache_key, v,
                             c->opts.cache_ttl_ms);
  json_decref(v);
}

/* Runs on_done once and starts freeing the call. `em` (may be NULL) holds
 * the vectors of an embeddings call; they move into the result. */
static void finish_with(struct loom_llm_call *c, loom_err err, const char *msg,
                        long status, struct loom_embeddings *em) {
  if (c->state == ST_DONE)
    return;
  c->state = ST_DONE;
  uv_timer_stop(&c->timer);
  struct loom_llm_result r = {.err = err,
                              .error = msg ? msg : "",
                              .status = status,
                              .attempts = c->attempts,
                              .model = c->label};
  if (!err && c->has_answer)
    r.response = c->answer; /* a whole (non-streamed) answer */
  else if (!err && c->kind == KIND_CHAT)
    loom_llm_acc_take(&c->acc, &r.response);
  else if (c->has_answer)
    loom_llm_response_cleanup(&c->answer);
  if (em)
    r.embeddings = *em;
  r.duration_s = loom_clock_mono_s() - c->start_s;
  r.cached = c->cached;
  if (!err && c->cache_key && !c->cached)
    store_in_cache(c, &r);
  if (!err && c->env.prices && !c->cached) {
    struct loom_llm_usage u = r.response.usage;
    u.prompt_tokens += r.embeddings.prompt_tokens;
    r.priced = loom_llm_cost(c->env.prices, c->label, &u, &r.cost_usd);
  }
  record_metrics(&r);
  c->opts.on_done(c->opts.ud, &r);
  loom_llm_response_cleanup(&r.response);
  loom_embeddings_cleanup(&r.embeddings);
  if (em != &c->cached_emb) /* a cached answer that was not delivered */
    loom_embeddings_cleanup(&c->cached_emb);
  loom_llm_acc_cleanup(&c->acc);
  loom_sse_cleanup(&c->sse);
  loom_http_spec_cleanup(&c->spec);
  loom_free(c->label);
  loom_free(c->cache_key);
  uv_close((uv_handle_t *)&c->timer, closed_cb);
}

static void finish(struct loom_llm_call *c, loom_err err, const char *msg,
                   long status) {
  finish_with(c, err, msg, status, NULL);
}

/* ---- one attempt ---- */

static void send_attempt(struct loom_llm_call *c);
static void timer_cb(uv_timer_t *t);

static void delta_cb(void *ud, const char *text, size_t len) {
  struct loom_llm_call *c = ud;
  c->delivered = true;
  if (c->opts.on_delta && !c->cancel_req)
    c->opts.on_delta(c->opts.ud, text, len);
}

static loom_err event_cb(void *ud, const struct loom_sse_event *ev) {
  struct loom_llm_call *c = ud;
  struct loom_error e = {0};
  loom_err err = c->ops->stream_event(&c->acc, ev, &e);
  if (err) {
    c->fail = err;
    snprintf(c->fail_msg, sizeof c->fail_msg, "%s: %s", c->label, e.message);
  }
  return err;
}

static bool chunk_cb(const char *data, size_t len, void *ud) {
  struct loom_llm_call *c = ud;
  uv_timer_start(&c->timer, timer_cb, (uint64_t)c->idle_ms, 0);
  loom_err err = loom_sse_feed(&c->sse, data, len);
  if (err && !c->fail) {
    c->fail = err;
    snprintf(c->fail_msg, sizeof c->fail_msg, "%s: malformed stream (%s)",
             c->label, loom_strerror(err));
  }
  return !err && !c->cancel_req;
}

/* Schedules another attempt if the rules allow; false when they do not. */
static bool maybe_retry(struct loom_llm_call *c, long status,
                        const struct loom_http_call *hc,
                        const struct loom_llm_error_info *info) {
  const char *should =
      hc ? loom_http_client_header(hc, "x-should-retry") : NULL;
  if (c->delivered || c->attempts > c->max_retries ||
      !loom_llm_should_retry(status, should, info))
    return false;
  uint32_t r;
  loom_random_bytes(&r, sizeof r);
  double delay = loom_llm_retry_delay(
      hc ? loom_http_client_header(hc, "retry-after-ms") : NULL,
      hc ? loom_http_client_header(hc, "retry-after") : NULL, c->attempts - 1,
      (double)loom_clock_wall_ms() / 1000.0, r / 4294967296.0);
  c->state = ST_WAITING;
  uv_timer_start(&c->timer, timer_cb, (uint64_t)llround(delay * 1000.0), 0);
  return true;
}

static loom_err status_err(long status) {
  switch (status) {
  case 400:
  case 413:
  case 422:
    return LOOM_ERR_INVALID;
  case 401:
    return LOOM_ERR_UNAUTHORIZED;
  case 403:
    return LOOM_ERR_FORBIDDEN;
  case 404:
    return LOOM_ERR_NOT_FOUND;
  case 429:
    return LOOM_ERR_LIMIT;
  default:
    return LOOM_ERR_UPSTREAM;
  }
}

static void on_error_status(struct loom_llm_call *c,
                            const struct loom_http_client_response *resp) {
  struct loom_llm_error_info info;
  loom_llm_error_parse(resp->body, resp->body_len, &info);
  if (maybe_retry(c, resp->status, resp->call, &info))
    return;
  char msg[1024];
  snprintf(msg, sizeof msg, "%s: HTTP %ld%s%s%s%s: %s", c->label, resp->status,
           info.type[0] ? " " : "", info.type,
           info.code[0] && strcmp(info.code, info.type) ? " " : "",
           info.code[0] && strcmp(info.code, info.type) ? info.code : "",
           info.message);
  finish(c, status_err(resp->status), msg, resp->status);
}

static void on_success(struct loom_llm_call *c,
                       const struct loom_http_client_response *resp) {
  struct loom_error e = {0};
  loom_err err = LOOM_OK;
  char msg[1024] = "";
  if (c->kind == KIND_EMBED) {
    struct loom_embeddings em;
    err = c->ops->embed_parse(resp->body, resp->body_len, &em, &e);
    if (!err) {
      finish_with(c, LOOM_OK, NULL, resp->status, &em);
      return;
    }
  } else if (c->stream) {
    err = loom_sse_finish(&c->sse);
    if (err && c->fail)
      snprintf(msg, sizeof msg, "%s", c->fail_msg);
    else if (!err && !c->acc.done && !c->acc.finish_reason)
      err = loom_error_set(&e, LOOM_ERR_UPSTREAM,
                           "the stream ended before the answer was complete");
  } else {
    err = c->ops->chat_parse(resp->body, resp->body_len, &c->answer, &e);
    c->has_answer = !err;
    if (!err && c->opts.on_delta && c->answer.content[0])
      c->opts.on_delta(c->opts.ud, c->answer.content,
                       strlen(c->answer.content));
  }
  if (err && !msg[0])
    snprintf(msg, sizeof msg, "%s: %s", c->label, e.message);
  finish(c, err ? LOOM_ERR_UPSTREAM : LOOM_OK, msg, resp->status);
}

static void http_done_cb(const struct loom_http_client_response *resp,
                         void *ud) {
  struct loom_llm_call *c = ud;
  c->http_call = NULL;
  uv_timer_stop(&c->timer);
  char msg[1024];
  if (c->cancel_req) {
    snprintf(msg, sizeof msg, "%s: cancelled", c->label);
    finish(c, LOOM_ERR_CANCELLED, msg, resp->status);
  } else if (c->fail == LOOM_ERR_TIMEOUT || (resp->err && !c->fail)) {
    loom_err err = c->fail ? c->fail : resp->err;
    snprintf(msg, sizeof msg, "%s", c->fail ? c->fail_msg : resp->error);
    if (err == LOOM_ERR_TOO_LARGE || !maybe_retry(c, 0, NULL, NULL)) {
      char full[1400];
      snprintf(full, sizeof full, "%s%s%s", c->fail ? "" : c->label,
               c->fail ? "" : ": ", msg);
      finish(c, err, full, resp->status);
    }
  } else if (c->fail) {
    finish(c, c->fail, c->fail_msg, resp->status);
  } else if (resp->status >= 200 && resp->status < 300) {
    on_success(c, resp);
  } else {
    on_error_status(c, resp);
  }
}

static void send_attempt(struct loom_llm_call *c) {
  c->state = ST_SENDING;
  c->attempts++;
  c->fail = LOOM_OK;
  loom_llm_acc_cleanup(&c->acc);
  loom_llm_acc_init(&c->acc, delta_cb, c);
  loom_sse_cleanup(&c->sse);
  loom_sse_init(&c->sse, MAX_SSE_EVENT, event_cb, c);
  struct loom_http_client_request r = {
      .method = "POST",
      .url = c->spec.url,
      .headers = c->headers,
      .body = c->spec.body,
      .body_len = c->spec.body_len,
      .connect_timeout_s = (double)c->connect_ms / 1000.0,
      .timeout_s = (double)c->total_ms / 1000.0,
      .max_body = MAX_BODY,
      .on_chunk = c->stream ? chunk_cb : NULL,
      .on_done = http_done_cb,
      .userdata = c,
  };
  uv_timer_start(&c->timer, timer_cb, (uint64_t)c->first_byte_ms, 0);
  if (loom_http_client_send(c->env.http, &r, &c->http_call) != LOOM_OK)
    finish(c, LOOM_ERR_INTERNAL, "cannot start the HTTP request", 0);
}

static void timer_cb(uv_timer_t *t) {
  struct loom_llm_call *c = t->data;
  switch (c->state) {
  case ST_SENDING:
    c->fail = LOOM_ERR_TIMEOUT;
    snprintf(c->fail_msg, sizeof c->fail_msg,
             "%s: no answer within the %s timeout", c->label,
             c->acc.content.len || c->acc.n_calls || c->acc.id ? "idle"
                                                               : "first-byte");
    if (c->http_call)
      loom_http_client_cancel(c->http_call); /* runs http_done_cb */
    break;
  case ST_WAITING:
    send_attempt(c);
    break;
  case ST_LOCAL:
    if (c->opts.on_delta && c->acc.content.len)
      c->opts.on_delta(c->opts.ud, c->acc.content.data, c->acc.content.len);
    finish(c, LOOM_OK, NULL, 0);
    break;
  case ST_CACHED:
    if (c->kind == KIND_EMBED) {
      finish_with(c, LOOM_OK, NULL, 200, &c->cached_emb);
      break;
    }
    if (c->opts.on_delta && c->answer.content[0])
      c->opts.on_delta(c->opts.ud, c->answer.content,
                       strlen(c->answer.content));
    finish(c, LOOM_OK, NULL, 200);
    break;
  case ST_DONE:
    break;
  }
}

/* ---- starting and cancelling ---- */

static struct loom_llm_call *call_new(const struct loom_llm_env *env,
                                      const struct loom_provider *p,
                                      const struct loom_llm_call_opts *o) {
  struct loom_llm_call *c = LOOM_NEW(struct loom_llm_call);
  c->env = *env;
  c->ops = p->ops;
  c->label = loom_strdup(p->label);
  c->connect_ms = p->connect_timeout_ms;
  c->first_byte_ms = p->first_byte_timeout_ms;
  c->idle_ms = p->idle_timeout_ms;
  c->total_ms = p->timeout_ms;
  c->max_retries = p->max_retries;
  c->opts = *o;
  c->start_s = loom_clock_mono_s();
  loom_llm_acc_init(&c->acc, delta_cb, c);
  loom_sse_init(&c->sse, MAX_SSE_EVENT, event_cb, c);
  uv_timer_init(loom_loop_uv(env->loop), &c->timer);
  c->timer.data = c;
  return c;
}

/* Frees a call that never started (no callback will run). */
static void call_abort(struct loom_llm_call *c) {
  loom_free(c->cache_key);
  loom_llm_acc_cleanup(&c->acc);
  loom_sse_cleanup(&c->sse);
  loom_http_spec_cleanup(&c->spec);
  loom_free(c->label);
  uv_close((uv_handle_t *)&c->timer, closed_cb);
}

/* A cached answer for this exact request, if the caller wants the cache
 * and it has one: then the call is answered on the next loop iteration. */
static bool from_cache(struct loom_llm_call *c) {
  c->cache_key =
      loom_llm_cache_key(c->kind == KIND_CHAT ? "llm" : "emb", c->spec.url,
                         c->spec.body, c->spec.body_len);
  json_t *v = NULL;
  if (loom_cache_get_json(c->opts.cache, c->cache_key, &v) != LOOM_OK)
    return false;
  bool ok = c->kind == KIND_CHAT
                ? loom_llm_cache_unpack(v, &c->answer)
                : loom_llm_cache_unpack_embeddings(v, &c->cached_emb);
  json_decref(v);
  if (!ok)
    return false;
  c->has_answer = c->kind == KIND_CHAT;
  c->cached = true;
  c->state = ST_CACHED;
  uv_timer_start(&c->timer, timer_cb, 0, 0);
  return true;
}

static void launch(struct loom_llm_call *c, struct loom_llm_call **out) {
  for (size_t i = 0; i < c->spec.n_headers; i++)
    c->headers[i] = c->spec.headers[i];
  c->headers[c->spec.n_headers] = NULL;
  if (out)
    *out = c;
  if (c->opts.cache && from_cache(c))
    return;
  send_attempt(c);
}

loom_err loom_llm_call_start(const struct loom_llm_env *env,
                             const struct loom_provider *p,
                             const struct loom_llm_request *req,
                             const struct loom_llm_call_opts *o,
                             struct loom_llm_call **out, struct loom_error *e) {
  if (!o->on_done)
    return loom_error_set(e, LOOM_ERR_INVALID, "on_done is required");
  struct loom_llm_call *c = call_new(env, p, o);
  c->kind = KIND_CHAT;
  c->stream = o->stream || o->on_delta;
  if (p->ops->local) { /* answers now, delivered on the next tick */
    loom_llm_acc_cleanup(&c->acc);
    loom_llm_acc_init(&c->acc, NULL, NULL);
    loom_err err = p->ops->local(p, req, &c->acc, e);
    if (err) {
      call_abort(c);
      return err;
    }
    c->attempts = 1;
    c->state = ST_LOCAL;
    if (out)
      *out = c;
    uv_timer_start(&c->timer, timer_cb, 0, 0);
    return LOOM_OK;
  }
  struct loom_llm_request wire = *req;
  wire.stream = c->stream;
  loom_err err = p->ops->chat_build(p, &wire, &c->spec, e);
  if (err) {
    call_abort(c);
    return err;
  }
  launch(c, out);
  return LOOM_OK;
}

loom_err loom_llm_embed_start(const struct loom_llm_env *env,
                              const struct loom_provider *p,
                              const json_t *inputs, long dims, bool base64,
                              const struct loom_llm_call_opts *o,
                              struct loom_llm_call **out,
                              struct loom_error *e) {
  if (!o->on_done)
    return loom_error_set(e, LOOM_ERR_INVALID, "on_done is required");
  if (!p->ops->embed_build)
    return loom_error_set(e, LOOM_ERR_UNSUPPORTED,
                          "%s has no embeddings endpoint", p->label);
  struct loom_llm_call *c = call_new(env, p, o);
  c->kind = KIND_EMBED;
  loom_err err = p->ops->embed_build(p, inputs, dims, base64, &c->spec, e);
  if (err) {
    call_abort(c);
    return err;
  }
  launch(c, out);
  return LOOM_OK;
}

void loom_llm_call_cancel(struct loom_llm_call *c) {
  if (c->state == ST_DONE)
    return;
  c->cancel_req = true;
  if (c->state == ST_SENDING && c->http_call) {
    loom_http_client_cancel(c->http_call); /* runs http_done_cb (maybe later) */
    return;
  }
  char msg[300];
  snprintf(msg, sizeof msg, "%s: cancelled", c->label);
  finish(c, LOOM_ERR_CANCELLED, msg, 0);
}
