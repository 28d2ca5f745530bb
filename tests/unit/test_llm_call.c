/*
 * test_llm_call — model calls over the event loop against the scripted
 * model server: the exact requests loom sends, streaming with deltas,
 * retries as the SDKs do them, timeouts, cancellation, mid-stream errors,
 * embeddings, cost, and the offline provider.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agents/llm_call.h"
#include "stores/cache.h"
#include "llm_server_harness.h"

static struct llm_server srv;
static struct loom_llm_prices *prices;

struct outcome {
  sem_t done;
  loom_err err;
  char error[1024];
  int attempts;
  long status;
  double cost;
  double seconds;
  bool cached;
  char deltas[4096];
  int n_deltas;
  struct loom_llm_response resp;
  struct loom_embeddings emb;
  struct loom_llm_call *call;
};

static void on_delta(void *ud, const char *text, size_t len) {
  struct outcome *o = ud;
  strncat(o->deltas, text, len);
  o->n_deltas++;
}

static void on_done(void *ud, struct loom_llm_result *r) {
  struct outcome *o = ud;
  o->err = r->err;
  snprintf(o->error, sizeof o->error, "%s", r->error);
  o->attempts = r->attempts;
  o->status = r->status;
  o->cost = r->cost_usd;
  o->seconds = r->duration_s;
  o->cached = r->cached;
  o->resp = r->response; /* moved out */
  memset(&r->response, 0, sizeof r->response);
  o->emb = r->embeddings;
  memset(&r->embeddings, 0, sizeof r->embeddings);
  sem_post(&o->done);
}

struct job {
  struct loom_provider *p;
  struct loom_llm_request *req;
  json_t *inputs;
  bool base64;
  bool stream;
  struct outcome *o;
  loom_err start_err;
  struct loom_cache *cache;
};

static void start_cb(struct loom_loop *loop, void *arg) {
  struct job *j = arg;
  struct loom_llm_env env = {.loop = loop, .http = srv.http, .prices = prices};
  struct loom_llm_call_opts opts = {.on_delta = j->stream ? on_delta : NULL,
                                    .on_done = on_done,
                                    .ud = j->o,
                                    .cache = j->cache};
  struct loom_error e;
  if (j->inputs)
    j->start_err = loom_llm_embed_start(&env, j->p, j->inputs, 0, j->base64,
                                        &opts, &j->o->call, &e);
  else
    j->start_err =
        loom_llm_call_start(&env, j->p, j->req, &opts, &j->o->call, &e);
}

static void cancel_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  loom_llm_call_cancel(((struct outcome *)arg)->call);
}

static struct loom_provider *openai(void) {
  struct loom_provider *p = llm_server_openai(&srv, "gpt-4o-mini", "sk-test");
  p->first_byte_timeout_ms = 3000;
  p->idle_timeout_ms = 3000;
  return p;
}

static struct loom_provider *anthropic(void) {
  struct loom_provider *p =
      loom_provider_new(&loom_provider_anthropic, "anthropic",
                        "claude-3-5-haiku-latest", srv.base, "sk-ant");
  return p;
}

/* Starts a call on the loop and waits for its outcome. */
static void run(struct loom_provider *p, struct loom_llm_request *req,
                bool stream, struct outcome *o) {
  memset(o, 0, sizeof *o);
  struct job j = {.p = p, .req = req, .stream = stream, .o = o};
  assert_true(llm_server_call_wait(&srv, start_cb, &j, &o->done, &j.start_err));
}

static void outcome_cleanup(struct outcome *o) {
  loom_llm_response_cleanup(&o->resp);
  loom_embeddings_cleanup(&o->emb);
}

static json_t *messages(void) {
  return json_pack("[{s:s, s:s}, {s:s, s:s}]", "role", "system", "content",
                   "Be brief.", "role", "user", "content", "Hi?");
}

static json_t *nth_request(size_t i) {
  json_t *all = llm_server_requests(&srv);
  json_t *r = json_incref(json_array_get(all, i));
  json_decref(all);
  return r;
}

static size_t request_count(void) {
  json_t *all = llm_server_requests(&srv);
  size_t n = json_array_size(all);
  json_decref(all);
  return n;
}

static void openai_exact_request_and_answer(void **state) {
  (void)state;
  llm_server_script(&srv,
                    "[{\"content\":\"Hello there.\",\"usage\":"
                    "{\"prompt_tokens\":1000,\"completion_tokens\":2000}}]");
  struct loom_provider *p = openai();
  json_t *msgs = messages();
  struct loom_llm_request req = {.messages = msgs, .temperature = 0};
  struct outcome o;
  run(p, &req, false, &o);
  assert_int_equal(o.err, LOOM_OK);
  assert_string_equal(o.resp.content, "Hello there.");
  assert_int_equal(o.resp.usage.prompt_tokens, 1000);
  assert_int_equal(o.resp.usage.completion_tokens, 2000);
  /* gpt-4o-mini: 0.15 in + 0.60 out per million tokens */
  assert_true(o.cost > 0.001349 && o.cost < 0.001351);
  json_t *r = nth_request(0);
  assert_string_equal(json_string_value(json_object_get(r, "path")),
                      "/v1/chat/completions");
  assert_string_equal(
      json_string_value(json_object_get(r, "body")),
      "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\","
      "\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":"
      "\"Hi?\"}],\"temperature\":0.0}");
  json_t *h = json_object_get(r, "headers");
  assert_string_equal(json_string_value(json_object_get(h, "authorization")),
                      "Bearer sk-test");
  assert_string_equal(json_string_value(json_object_get(h, "content-type")),
                      "application/json");
  json_decref(r);
  json_decref(msgs);
  outcome_cleanup(&o);
  loom_provider_free(p);
}

static void openai_stream_deltas_and_tool_fragments(void **state) {
  (void)state;
  llm_server_script(
      &srv,
      "[{\"content\":\"Let me look.\",\"content_chunk\":3,\"arg_chunk\":4,"
      "\"tool_calls\":[{\"id\":\"call_1\",\"name\":\"get_weather\","
      "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"},{\"id\":\"call_2\","
      "\"name\":\"get_time\",\"arguments\":\"{\\\"tz\\\":\\\"CET\\\"}\"}]},"
      "{\"omit_index\":true,\"tool_calls\":[{\"id\":\"a\",\"name\":\"f\","
      "\"arguments\":\"{\\\"q\\\":\\\"xyz\\\"}\"},{\"id\":\"b\",\"name\":\"g\","
      "\"arguments\":\"{}\"}]}]");
  struct loom_provider *p = openai();
  json_t *msgs = messages();
  struct loom_llm_request req = {.messages = msgs, .temperature = -1};
  struct outcome o;
  run(p, &req, true, &o);
  assert_int_equal(o.err, LOOM_OK);
  assert_string_equal(o.deltas, "Let me look.");
  assert_int_equal(o.n_deltas, 4); /* "Let", " me", " lo", "ok." */
  assert_int_equal(o.resp.n_calls, 2);
  assert_string_equal(o.resp.calls[0].arguments, "{\"city\":\"Paris\"}");
  assert_string_equal(o.resp.calls[1].name, "get_time");
  assert_string_equal(o.resp.calls[1].arguments, "{\"tz\":\"CET\"}");
  assert_string_equal(o.resp.finish_reason, "tool_calls");
  assert_int_equal(o.resp.usage.completion_tokens, 12); /* the usage chunk */
  json_t *r = nth_request(0);
  json_t *body = json_object_get(r, "json");
  assert_true(json_is_true(json_object_get(body, "stream")));
  assert_true(json_is_true(json_object_get(
      json_object_get(body, "stream_options"), "include_usage")));
  json_decref(r);
  outcome_cleanup(&o);
  /* A server that omits the index. */
  run(p, &req, true, &o);
  assert_int_equal(o.err, LOOM_OK);
  assert_int_equal(o.resp.n_calls, 2);
  assert_string_equal(o.resp.calls[0].arguments, "{\"q\":\"xyz\"}");
  assert_string_equal(o.resp.calls[1].id, "b");
  assert_string_equal(o.resp.calls[1].arguments, "{}");
  outcome_cleanup(&o);
  json_decref(msgs);
  loom_provider_free(p);
}

static void anthropic_stream_and_request(void **state) {
  (void)state;
  llm_server_script(
      &srv, "[{\"content\":[{\"type\":\"text\",\"text\":\"Checking\"},"
            "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"calc\","
            "\"input\":{\"expression\":\"2+2\"}}]}]");
  struct loom_provider *p = anthropic();
  json_t *msgs = messages();
  struct loom_llm_request req = {
      .messages = msgs, .temperature = -1, .max_tokens = 256};
  struct outcome o;
  run(p, &req, true, &o);
  assert_int_equal(o.err, LOOM_OK);
  assert_string_equal(o.deltas, "Checking");
  assert_int_equal(o.resp.n_calls, 1);
  assert_string_equal(o.resp.calls[0].id, "toolu_1");
  assert_string_equal(o.resp.calls[0].arguments, "{\"expression\":\"2+2\"}");
  assert_int_equal(o.resp.usage.prompt_tokens, 25);
  assert_int_equal(o.resp.usage.completion_tokens, 15);
  json_t *r = nth_request(0);
  assert_string_equal(json_string_value(json_object_get(r, "path")),
                      "/v1/messages");
  assert_string_equal(
      json_string_value(json_object_get(r, "body")),
      "{\"model\":\"claude-3-5-haiku-latest\",\"max_tokens\":256,"
      "\"system\":\"Be brief.\",\"messages\":[{\"role\":\"user\","
      "\"content\":\"Hi?\"}],\"stream\":true}");
  json_t *h = json_object_get(r, "headers");
  assert_string_equal(json_string_value(json_object_get(h, "x-api-key")),
                      "sk-ant");
  assert_string_equal(
      json_string_value(json_object_get(h, "anthropic-version")), "2023-06-01");
  json_decref(r);
  outcome_cleanup(&o);
  json_decref(msgs);
  loom_provider_free(p);
}

static void retries_follow_the_sdks(void **state) {
  (void)state;
  struct loom_provider *p = openai();
  json_t *msgs = messages();
  struct loom_llm_request req = {.messages = msgs, .temperature = -1};
  struct outcome o;
  /* 429 with retry-after-ms, then 500, then success: three attempts. */
  llm_server_script(
      &srv,
      "[{\"kind\":\"error\",\"status\":429,\"headers\":"
      "{\"retry-after-ms\":\"50\"},\"error\":{\"message\":\"slow down\","
      "\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}},"
      "{\"kind\":\"error\",\"status\":500,\"headers\":{\"retry-after\":\"0\"}},"
      "{\"content\":\"finally\"}]");
  run(p, &req, false, &o);
  assert_int_equal(o.err, LOOM_OK);
  assert_int_equal(o.attempts, 3);
  assert_string_equal(o.resp.content, "finally");
  assert_int_equal(request_count(), 3);
  outcome_cleanup(&o);
  /* retry-after in seconds is obeyed. */
  llm_server_script(&srv, "[{\"kind\":\"error\",\"status\":429,\"headers\":"
                          "{\"retry-after\":\"1\"}},{\"content\":\"ok\"}]");
  run(p, &req, false, &o);
  assert_int_equal(o.err, LOOM_OK);
  assert_true(o.seconds >= 0.95);
  outcome_cleanup(&o);
  /* insufficient_quota is never retried. */
  llm_server_script(
      &srv,
      "[{\"kind\":\"error\",\"status\":429,\"error\":{\"message\":"
      "\"You exceeded your current quota\",\"type\":\"insufficient_quota\","
      "\"param\":null,\"code\":\"insufficient_quota\"}}]");
  run(p, &req, false, &o);
  assert_int_equal(o.err, LOOM_ERR_LIMIT);
  assert_int_equal(o.attempts, 1);
  assert_non_null(strstr(o.error, "HTTP 429 insufficient_quota: You exceeded"));
  outcome_cleanup(&o);
  /* x-should-retry: false beats the 503; true makes a 400 retried. */
  llm_server_script(&srv, "[{\"kind\":\"error\",\"status\":503,\"headers\":"
                          "{\"x-should-retry\":\"false\"}}]");
  run(p, &req, false, &o);
  assert_int_equal(o.err, LOOM_ERR_UPSTREAM);
  assert_int_equal(o.attempts, 1);
  outcome_cleanup(&o);
  llm_server_script(&srv,
                    "[{\"kind\":\"error\",\"status\":400,\"headers\":"
                    "{\"x-should-retry\":\"true\",\"retry-after-ms\":\"10\"}},"
                    "{\"content\":\"ok\"}]");
  run(p, &req, false, &o);
  assert_int_equal(o.err, LOOM_OK);
  assert_int_equal(o.attempts, 2);
  outcome_cleanup(&o);
  /* Gives up after max_retries (2): three 500s. */
  llm_server_script(&srv, "[{\"kind\":\"error\",\"status\":500,\"headers\":{"
                          "\"retry-after-ms\":\"1\"}},"
                          "{\"kind\":\"error\",\"status\":500,\"headers\":{"
                          "\"retry-after-ms\":\"1\"}},"
                          "{\"kind\":\"error\",\"status\":500,\"headers\":{"
                          "\"retry-after-ms\":\"1\"}},"
                          "{\"content\":\"never\"}]");
  run(p, &req, false, &o);
  assert_int_equal(o.err, LOOM_ERR_UPSTREAM);
  assert_int_equal(o.attempts, 3);
  outcome_cleanup(&o);
  /* A flat error body from a self-hosted server; 404 is final. */
  llm_server_script(
      &srv,
      "[{\"kind\":\"error\",\"status\":404,\"body\":{\"object\":\"error\","
      "\"message\":\"The model `x` does not exist.\",\"type\":"
      "\"NotFoundError\",\"param\":null,\"code\":404}}]");
  run(p, &req, false, &o);
  assert_int_equal(o.err, LOOM_ERR_NOT_FOUND);
  assert_non_null(strstr(o.error, "The model `x` does not exist."));
  outcome_cleanup(&o);
  json_decref(msgs);
  loom_provider_free(p);
}

static void anthropic_overloaded_then_success(void **state) {
  (void)state;
  llm_server_script(
      &srv,
      "[{\"kind\":\"error\",\"status\":529,\"headers\":"
      "{\"retry-after-ms\":\"20\"},\"body\":{\"type\":\"error\",\"error\":"
      "{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}},{}]");
  struct loom_provider *p = anthropic();
  json_t *msgs = messages();
  struct loom_llm_request req = {.messages = msgs, .temperature = -1};
  struct outcome o;
  run(p, &req, true, &o);
  assert_int_equal(o.err, LOOM_OK);
  assert_int_equal(o.attempts, 2);
  assert_string_equal(o.deltas, "Hello from the scripted server.");
  outcome_cleanup(&o);
  json_decref(msgs);
  loom_provider_free(p);
}

static void stream_failures(void **state) {
  (void)state;
  struct loom_provider *p = openai();
  json_t *msgs = messages();
  struct loom_llm_request req = {.messages = msgs, .temperature = -1};
  struct outcome o;
  /* An error event after two chunks: the call fails, nothing retried. */
  llm_server_script(&srv, "[{\"content\":\"Hello world\",\"error_after\":2}]");
  run(p, &req, true, &o);
  assert_int_equal(o.err, LOOM_ERR_UPSTREAM);
  assert_non_null(strstr(o.error, "The server had an error"));
  assert_string_equal(o.deltas, "Hell");
  assert_int_equal(o.attempts, 1);
  outcome_cleanup(&o);
  /* Anthropic's error event. */
  struct loom_provider *a = anthropic();
  llm_server_script(&srv, "[{\"error_after\":3}]");
  run(a, &req, true, &o);
  assert_int_equal(o.err, LOOM_ERR_UPSTREAM);
  assert_non_null(strstr(o.error, "Overloaded (overloaded_error)"));
  outcome_cleanup(&o);
  loom_provider_free(a);
  /* A stream that stalls after text: idle timeout, no retry. */
  p->idle_timeout_ms = 300;
  llm_server_script(&srv, "[{\"content\":\"Hello world\",\"stall_after\":2}]");
  run(p, &req, true, &o);
  assert_int_equal(o.err, LOOM_ERR_TIMEOUT);
  assert_non_null(strstr(o.error, "idle timeout"));
  assert_int_equal(o.attempts, 1);
  assert_true(o.seconds < 2.0);
  outcome_cleanup(&o);
  /* No first byte in time: retried (nothing was delivered), then fails. */
  p->first_byte_timeout_ms = 200;
  p->max_retries = 1;
  llm_server_script(&srv, "[{\"delay_ms\":1500},{\"delay_ms\":1500}]");
  run(p, &req, true, &o);
  assert_int_equal(o.err, LOOM_ERR_TIMEOUT);
  assert_non_null(strstr(o.error, "first-byte timeout"));
  assert_int_equal(o.attempts, 2);
  outcome_cleanup(&o);
  json_decref(msgs);
  loom_provider_free(p);
}

static void cancel_stops_a_call(void **state) {
  (void)state;
  llm_server_script(&srv, "[{\"delay_ms\":5000}]");
  struct loom_provider *p = openai();
  json_t *msgs = messages();
  struct loom_llm_request req = {.messages = msgs, .temperature = -1};
  struct outcome o;
  memset(&o, 0, sizeof o);
  sem_init(&o.done, 0, 0);
  struct job j = {.p = p, .req = &req, .stream = true, .o = &o};
  assert_int_equal(loom_loop_call(srv.loop, start_cb, &j), LOOM_OK);
  usleep(100 * 1000);
  assert_int_equal(loom_loop_call(srv.loop, cancel_cb, &o), LOOM_OK);
  sem_wait(&o.done);
  assert_int_equal(o.err, LOOM_ERR_CANCELLED);
  assert_true(o.seconds < 1.0);
  sem_destroy(&o.done);
  outcome_cleanup(&o);
  json_decref(msgs);
  loom_provider_free(p);
}

static void embeddings_both_encodings(void **state) {
  (void)state;
  llm_server_script(&srv,
                    "[{\"vectors\":[[0.5,-1,2]]},{\"vectors\":[[0.5,-1,2]]}]");
  struct loom_provider *p =
      llm_server_openai(&srv, "text-embedding-3-small", "k");
  json_t *inputs = json_pack("[s]", "hello");
  for (int b64 = 0; b64 <= 1; b64++) {
    struct outcome o;
    memset(&o, 0, sizeof o);
    struct job j = {.p = p, .inputs = inputs, .base64 = b64, .o = &o};
    assert_true(
        llm_server_call_wait(&srv, start_cb, &j, &o.done, &j.start_err));
    assert_int_equal(o.err, LOOM_OK);
    assert_int_equal(o.emb.n, 1);
    assert_int_equal(o.emb.dims, 3);
    assert_true(o.emb.data[0] == 0.5f && o.emb.data[1] == -1.0f &&
                o.emb.data[2] == 2.0f);
    outcome_cleanup(&o);
  }
  json_t *r = nth_request(1);
  assert_string_equal(
      json_string_value(json_object_get(r, "body")),
      "{\"model\":\"text-embedding-3-small\",\"input\":[\"hello\"],"
      "\"encoding_format\":\"base64\"}");
  json_decref(r);
  json_decref(inputs);
  loom_provider_free(p);
}

static void run_cached(struct loom_provider *p, struct loom_llm_request *req,
                       json_t *inputs, struct loom_cache *cache,
                       struct outcome *o) {
  memset(o, 0, sizeof *o);
  struct job j = {.p = p,
                  .req = req,
                  .inputs = inputs,
                  .stream = true,
                  .o = o,
                  .cache = cache};
  assert_true(llm_server_call_wait(&srv, start_cb, &j, &o->done, &j.start_err));
}

static void exact_request_cache(void **state) {
  (void)state;
  llm_server_script(&srv,
                    "[{\"content\":\"cached words\"},{\"content\":\"other\"}]");
  struct loom_cache *cache = loom_cache_memory_new(1 << 20);
  struct loom_provider *p = openai();
  json_t *msgs = messages();
  struct loom_llm_request req = {.messages = msgs, .temperature = 0};
  struct outcome o;
  run_cached(p, &req, NULL, cache, &o);
  assert_int_equal(o.err, LOOM_OK);
  assert_false(o.cached);
  outcome_cleanup(&o);
  run_cached(p, &req, NULL, cache, &o); /* same request: from the cache */
  assert_int_equal(o.err, LOOM_OK);
  assert_true(o.cached);
  assert_int_equal(o.attempts, 0);
  assert_true(o.cost == 0);
  assert_string_equal(o.resp.content, "cached words");
  assert_string_equal(o.deltas, "cached words");
  assert_int_equal(o.resp.usage.completion_tokens, 12);
  outcome_cleanup(&o);
  assert_int_equal(request_count(), 1);
  req.temperature = 0.5; /* another request: a miss */
  run_cached(p, &req, NULL, cache, &o);
  assert_false(o.cached);
  assert_string_equal(o.resp.content, "other");
  outcome_cleanup(&o);
  assert_int_equal(request_count(), 2);
  /* Embeddings too. */
  json_t *inputs = json_pack("[s]", "hello");
  run_cached(p, NULL, inputs, cache, &o);
  assert_false(o.cached);
  float first = o.emb.data[0];
  outcome_cleanup(&o);
  run_cached(p, NULL, inputs, cache, &o);
  assert_true(o.cached);
  assert_int_equal(o.emb.dims, 8);
  assert_true(o.emb.data[0] == first);
  outcome_cleanup(&o);
  assert_int_equal(request_count(), 3);
  json_decref(inputs);
  json_decref(msgs);
  loom_provider_free(p);
  loom_cache_free(cache);
}

/* After tools whose results share no word with the question (a date, a
 * tool's JSON), the offline answer is those results, failed calls left
 * out, instead of "The given context does not answer this." */
static void offline_answers_with_tool_results(void **state) {
  (void)state;
  struct loom_provider *p = loom_provider_new(&loom_provider_offline, "offline",
                                              "extractive", "", "");
  json_t *msgs = json_pack(
      "[{s:s, s:s}, {s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s, s:b}]", "role",
      "system", "content", "You are careful.", "role", "user", "content",
      "Which weekday?", "role", "tool", "name", "current_time", "content",
      "2026-11-26T07:43:16Z (Thursday)", "role", "tool", "name", "calculator",
      "content", "Error: unknown name", "is_error", 1);
  struct loom_llm_request req = {.messages = msgs, .temperature = -1};
  struct outcome o;
  run(p, &req, true, &o);
  assert_int_equal(o.err, LOOM_OK);
  assert_string_equal(o.resp.content,
                      "[offline extractive answer: no model is configured] "
                      "The tools returned: 2026-11-26T07:43:16Z (Thursday)");
  outcome_cleanup(&o);
  json_decref(msgs);
  loom_provider_free(p);
}

static void offline_provider_is_labelled(void **state) {
  (void)state;
  struct loom_provider *p = loom_provider_new(&loom_provider_offline, "offline",
                                              "extractive", "", "");
  /* The instructions share "France" with the question: not an answer. */
  json_t *msgs =
      json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "role", "system",
                "content", "Answer questions about France from the notes.",
                "role", "user", "content",
                "Paris is the capital of France. The Loire is a long river. "
                "Lyon is known for food.",
                "role", "user", "content", "What is the capital of France?");
  json_t *tools =
      json_pack("[{s:s, s:s, s:{s:s, s:{s:{s:s}}, s:[s]}}]", "name", "search",
                "description", "Search", "parameters", "type", "object",
                "properties", "q", "type", "string", "required", "q");
  struct loom_llm_request req = {
      .messages = msgs, .tools = tools, .temperature = -1};
  struct outcome o;
  run(p, &req, true, &o);
  assert_int_equal(o.err, LOOM_OK);
  assert_int_equal(o.resp.n_calls, 1); /* declared tools first, in order */
  assert_string_equal(o.resp.calls[0].name, "search");
  assert_string_equal(o.resp.calls[0].arguments,
                      "{\"q\":\"What is the capital of France?\"}");
  assert_string_equal(o.resp.model, "offline/extractive");
  /* After the tool ran: the answer is extracted, and says what it is. */
  json_t *m = loom_llm_response_message(&o.resp);
  json_array_append_new(msgs, m);
  json_array_append_new(msgs,
                        json_pack("{s:s, s:s, s:s}", "role", "tool",
                                  "tool_call_id", o.resp.calls[0].id, "content",
                                  "France has 68 million people."));
  outcome_cleanup(&o);
  run(p, &req, true, &o);
  assert_int_equal(o.resp.n_calls, 0);
  assert_string_equal(
      o.resp.content,
      "[offline extractive answer: no model is configured] "
      "Paris is the capital of France. France has 68 million people.");
  assert_string_equal(o.deltas, o.resp.content);
  outcome_cleanup(&o);
  json_decref(msgs);
  json_decref(tools);
  loom_provider_free(p);
}

/* The offline answer to an llm node's request (system prompt, prompt). */
static char *offline_answer(const char *system, const char *prompt) {
  struct loom_provider *p = loom_provider_new(&loom_provider_offline, "offline",
                                              "extractive", "", "");
  json_t *msgs =
      json_pack("[{s:s, s:s}, {s:s, s:s}]", "role", "system", "content", system,
                "role", "user", "content", prompt);
  struct loom_llm_request req = {.messages = msgs, .temperature = -1};
  struct outcome o;
  run(p, &req, true, &o);
  assert_int_equal(o.err, LOOM_OK);
  char *answer = strdup(o.resp.content);
  outcome_cleanup(&o);
  json_decref(msgs);
  loom_provider_free(p);
  return answer;
}

/* An llm node's prompt carries its material ("Question: ... Findings:
 * ..."): the offline answer is drawn from it, never from the node's
 * system prompt, even one that shares the question's words (it used to
 * answer "Say what the findings establish ..." and "You write short,
 * plain briefs."); an earlier offline answer quoted in the prompt loses
 * its label. A system prompt is still an answer when it is all the
 * context there is (context given as a system prompt). */
static void offline_answers_from_the_prompt_not_instructions(void **state) {
  (void)state;
#define OFF "[offline extractive answer: no model is configured] "
  static const struct {
    const char *system, *prompt, *want;
  } cases[] = {
      {"You are an analyst. Say what the findings establish and what they "
       "leave open.",
       "Question: What do the findings establish?\n\nFindings: Owls hunt at "
       "night. They sleep by day.",
       OFF "Findings: Owls hunt at night."},
      {"You write short, plain briefs.",
       "Write a brief answering: what day is it?\n\nAnalysis: " OFF
       "The tools returned: 2026-11-26 (Thursday)",
       OFF "Analysis: The tools returned: 2026-11-26 (Thursday)"},
      {"Owls hunt at night. They sleep by day.", "When do owls hunt?",
       OFF "Owls hunt at night."},
      {"You are careful. Answer briefly.", "When do owls hunt?",
       OFF "The given context does not answer this."},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *got = offline_answer(cases[i].system, cases[i].prompt);
    assert_string_equal(got, cases[i].want);
    free(got);
  }
#undef OFF
}

static int setup(void **state) {
  (void)state;
  if (!llm_server_start(&srv, NULL)) {
    fprintf(stderr, "node is needed for the scripted model server\n");
    return -1;
  }
  prices = loom_llm_prices_new();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  llm_server_stop(&srv);
  loom_llm_prices_free(prices);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(openai_exact_request_and_answer),
      cmocka_unit_test(openai_stream_deltas_and_tool_fragments),
      cmocka_unit_test(anthropic_stream_and_request),
      cmocka_unit_test(retries_follow_the_sdks),
      cmocka_unit_test(anthropic_overloaded_then_success),
      cmocka_unit_test(stream_failures),
      cmocka_unit_test(cancel_stops_a_call),
      cmocka_unit_test(embeddings_both_encodings),
      cmocka_unit_test(exact_request_cache),
      cmocka_unit_test(offline_provider_is_labelled),
      cmocka_unit_test(offline_answers_with_tool_results),
      cmocka_unit_test(offline_answers_from_the_prompt_not_instructions),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
