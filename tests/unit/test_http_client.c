/*
 * The HTTP client against loom's own server: many requests at once, a
 * streamed response, the total timeout, cancellation, the body cap, a
 * refused connection, response headers. Every case runs twice: through
 * loom's own HTTP/1.1 transport (plain http:// by default) and through
 * libcurl (LOOM_HTTP_CLIENT=curl), which must behave alike.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdlib.h>

#include "io/http_call.h"
#include "io/sse.h"
#include "test_http_harness.h"

static struct harness H;
static struct loom_loop *client_loop;
static struct loom_http_client *client;
static bool own_transport; /* the group running: http1.c or libcurl */

/* ---- server side ---- */

static void hello(struct loom_http_req *req, void *ud) {
  (void)ud;
  loom_http_respond_raw(req, 200, "text/plain", "hello", 5);
}

static void echo(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *b;
  if (loom_http_json_body(req, &b))
    loom_http_respond_json(req, 200, b);
}

static void big(struct loom_http_req *req, void *ud) {
  (void)ud;
  size_t n = strtoul(loom_http_query(req, "n"), NULL, 10);
  char *data = loom_calloc(1, n);
  loom_http_respond_raw(req, 200, "application/octet-stream", data, n);
  loom_free(data);
}

static void wake_cb(uv_timer_t *t) {
  loom_http_respond_raw(t->data, 200, "text/plain", "late", 4);
  uv_close((uv_handle_t *)t, (uv_close_cb)loom_free);
}

static void sleepy(struct loom_http_req *req, void *ud) {
  (void)ud;
  uv_timer_t *t = LOOM_NEW(uv_timer_t);
  uv_timer_init(loom_loop_uv(loom_http_loop(req)), t);
  t->data = req;
  uv_timer_start(t, wake_cb, strtoull(loom_http_query(req, "ms"), NULL, 10), 0);
  loom_http_suspend(req);
}

struct feed {
  struct loom_sse *s;
  uv_timer_t t;
  int n;
};

static void feed_closed_cb(uv_handle_t *h) { loom_free(h->data); }

static void feed_tick_cb(uv_timer_t *t) {
  struct feed *f = t->data;
  char data[32];
  snprintf(data, sizeof data, "{\"n\":%d}", ++f->n);
  if (loom_sse_send(f->s, NULL, NULL, data) != LOOM_OK || f->n == 5) {
    loom_sse_close(f->s);
    uv_close((uv_handle_t *)t, feed_closed_cb);
  }
}

static void stream(struct loom_http_req *req, void *ud) {
  (void)ud;
  struct feed *f = LOOM_NEW(struct feed);
  f->s = loom_sse_start(req, NULL);
  uv_timer_init(loom_loop_uv(loom_http_loop(req)), &f->t);
  f->t.data = f;
  uv_timer_start(&f->t, feed_tick_cb, 10, 10);
}

/* ---- client side ---- */

struct result {
  atomic_int done;
  loom_err err;
  long status;
  char body[256];
  size_t body_len;
  char request_id[64];
  char streamed[4096];
  size_t streamed_len;
  int chunks_left; /* on_chunk returns false when this reaches 0 */
  double duration;
};

static void done_cb(const struct loom_http_client_response *r, void *ud) {
  struct result *res = ud;
  res->err = r->err;
  res->status = r->status;
  res->duration = r->duration_s;
  res->body_len = r->body_len;
  snprintf(res->body, sizeof res->body, "%s", r->body);
  const char *id = loom_http_client_header(r->call, "X-Request-Id");
  snprintf(res->request_id, sizeof res->request_id, "%s", id ? id : "");
  atomic_store(&res->done, 1);
}

static bool chunk_cb(const char *data, size_t len, void *ud) {
  struct result *res = ud;
  if (res->streamed_len + len < sizeof res->streamed) {
    memcpy(res->streamed + res->streamed_len, data, len);
    res->streamed_len += len;
  }
  return --res->chunks_left != 0;
}

struct job {
  struct loom_http_client_request req;
  struct loom_http_call *call;
  loom_err err;
};

static void send_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  struct job *j = arg;
  j->err = loom_http_client_send(client, &j->req, &j->call);
  if (j->err == LOOM_OK)
    assert_int_equal(j->call->h1 != NULL, own_transport);
}

static void cancel_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  loom_http_client_cancel(arg);
}

static void send_on_loop(struct job *j) {
  assert_int_equal(loom_loop_call(client_loop, send_cb, j), LOOM_OK);
  assert_int_equal(j->err, LOOM_OK);
}

static void wait_done(struct result *r, double limit_s) {
  double t0 = now_s();
  while (!atomic_load(&r->done) && now_s() - t0 < limit_s)
    sleep_ms(2);
  assert_true(atomic_load(&r->done));
}

static char *url(const char *path) {
  static _Thread_local char buf[256];
  snprintf(buf, sizeof buf, "%s%s", H.base, path);
  return buf;
}

static void new_client_cb(struct loom_loop *loop, void *arg) {
  (void)arg;
  assert_int_equal(loom_http_client_new(loop, 0, &client), LOOM_OK);
}

static void free_client_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  (void)arg;
  loom_http_client_free(client);
}

static int setup(void **state) {
  (void)state;
  harness_route(&H, "GET", "/hello", hello, NULL);
  harness_route(&H, "POST", "/echo", echo, NULL);
  harness_route(&H, "GET", "/big", big, NULL);
  harness_route(&H, "GET", "/sleep", sleepy, NULL);
  harness_route(&H, "GET", "/stream", stream, NULL);
  harness_start(&H, 2, NULL);
  assert_int_equal(loom_loop_new("client", &client_loop), LOOM_OK);
  assert_int_equal(loom_loop_call(client_loop, new_client_cb, NULL), LOOM_OK);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  assert_int_equal(loom_loop_call(client_loop, free_client_cb, NULL), LOOM_OK);
  loom_loop_free(client_loop);
  harness_stop(&H);
  return 0;
}

static void test_many_concurrent_requests(void **state) {
  (void)state;
  enum { N = 1000 };
  struct result *res = loom_calloc(N, sizeof *res);
  struct job *jobs = loom_calloc(N, sizeof *jobs);
  static const char *const hdrs[] = {"Content-Type: application/json", NULL};
  char hello_url[256], echo_url[256];
  snprintf(hello_url, sizeof hello_url, "%s", url("/hello"));
  snprintf(echo_url, sizeof echo_url, "%s", url("/echo"));
  for (int i = 0; i < N; i++) {
    struct loom_http_client_request *r = &jobs[i].req;
    if (i % 2) {
      r->url = hello_url;
    } else {
      r->url = echo_url;
      r->body = "{\"k\":[1,2,3]}";
      r->body_len = strlen(r->body);
      r->headers = hdrs;
    }
    r->on_done = done_cb;
    r->userdata = &res[i];
  }
  for (int i = 0; i < N; i++)
    send_on_loop(&jobs[i]);
  int ok = 0;
  for (int i = 0; i < N; i++) {
    wait_done(&res[i], 30);
    const char *want = i % 2 ? "hello" : "{\"k\":[1,2,3]}";
    ok += res[i].err == LOOM_OK && res[i].status == 200 &&
          strcmp(res[i].body, want) == 0 && strlen(res[i].request_id) == 36;
  }
  assert_int_equal(ok, N);
  loom_free(res);
  loom_free(jobs);
}

static void test_streamed_response(void **state) {
  (void)state;
  struct result res = {.chunks_left = -1};
  struct job j = {.req = {.url = url("/stream"),
                          .on_chunk = chunk_cb,
                          .on_done = done_cb,
                          .userdata = &res}};
  send_on_loop(&j);
  wait_done(&res, 10);
  assert_int_equal(res.err, LOOM_OK);
  assert_int_equal(res.status, 200);
  assert_int_equal(res.body_len, 0);
  res.streamed[res.streamed_len] = 0;
  assert_non_null(strstr(res.streamed, "data: {\"n\":1}\n\n"));
  assert_non_null(strstr(res.streamed, "data: {\"n\":5}\n\n"));
}

static void test_stop_stream_from_chunk_callback(void **state) {
  (void)state;
  struct result res = {.chunks_left = 1};
  struct job j = {.req = {.url = url("/stream"),
                          .on_chunk = chunk_cb,
                          .on_done = done_cb,
                          .userdata = &res}};
  send_on_loop(&j);
  wait_done(&res, 10);
  assert_int_equal(res.err, LOOM_ERR_CANCELLED);
}

static void test_total_timeout(void **state) {
  (void)state;
  struct result res = {0};
  struct job j = {.req = {.url = url("/sleep?ms=3000"),
                          .timeout_s = 0.2,
                          .on_done = done_cb,
                          .userdata = &res}};
  send_on_loop(&j);
  wait_done(&res, 5);
  assert_int_equal(res.err, LOOM_ERR_TIMEOUT);
  assert_true(res.duration >= 0.15 && res.duration < 1.5);
}

static void test_cancel(void **state) {
  (void)state;
  struct result res = {0};
  struct job j = {.req = {.url = url("/sleep?ms=3000"),
                          .on_done = done_cb,
                          .userdata = &res}};
  send_on_loop(&j);
  sleep_ms(100);
  assert_false(atomic_load(&res.done));
  assert_int_equal(loom_loop_call(client_loop, cancel_cb, j.call), LOOM_OK);
  /* on_done ran inside the cancel, on the loop thread. */
  assert_true(atomic_load(&res.done));
  assert_int_equal(res.err, LOOM_ERR_CANCELLED);
}

static void test_body_cap(void **state) {
  (void)state;
  struct result res = {0};
  struct job j = {.req = {.url = url("/big?n=100000"),
                          .max_body = 1000,
                          .on_done = done_cb,
                          .userdata = &res}};
  send_on_loop(&j);
  wait_done(&res, 5);
  assert_int_equal(res.err, LOOM_ERR_TOO_LARGE);
}

static void test_connection_refused(void **state) {
  (void)state;
  struct result res = {0};
  struct job j = {.req = {.url = "http://127.0.0.1:1/",
                          .on_done = done_cb,
                          .userdata = &res}};
  send_on_loop(&j);
  wait_done(&res, 5);
  assert_int_equal(res.err, LOOM_ERR_UPSTREAM);
  assert_int_equal(res.status, 0);
}

static void test_free_cancels_in_flight(void **state) {
  (void)state;
  struct result res = {0};
  struct job j = {.req = {.url = url("/sleep?ms=3000"),
                          .on_done = done_cb,
                          .userdata = &res}};
  send_on_loop(&j);
  sleep_ms(50);
  assert_int_equal(loom_loop_call(client_loop, free_client_cb, NULL), LOOM_OK);
  assert_true(atomic_load(&res.done));
  assert_int_equal(res.err, LOOM_ERR_CANCELLED);
  assert_int_equal(loom_loop_call(client_loop, new_client_cb, NULL), LOOM_OK);
}

/* From inside on_chunk: start another request (deferred until curl
 * returns) and cancel the current one. */
struct chain {
  struct result first, second;
  struct loom_http_call *self;
  struct job next;
  struct job first_job;
  bool started;
};

static bool chain_chunk_cb(const char *data, size_t len, void *ud) {
  (void)data;
  (void)len;
  struct chain *c = ud;
  if (!c->started) {
    c->started = true;
    c->next.req = (struct loom_http_client_request){
        .url = c->next.req.url, .on_done = done_cb, .userdata = &c->second};
    c->next.err = loom_http_client_send(client, &c->next.req, NULL);
    loom_http_client_cancel(c->self);
  }
  return true;
}

static void chain_done_cb(const struct loom_http_client_response *r, void *ud) {
  struct chain *c = ud;
  done_cb(r, &c->first);
}

static void chain_send_cb(struct loom_loop *loop, void *arg) {
  struct chain *c = arg;
  send_cb(loop, &c->first_job);
  c->self = c->first_job.call;
}

static void test_send_and_cancel_from_inside_a_callback(void **state) {
  (void)state;
  struct chain c = {0};
  char hello[256];
  snprintf(hello, sizeof hello, "%s", url("/hello"));
  c.next.req.url = hello;
  c.first_job.req =
      (struct loom_http_client_request){.url = url("/stream"),
                                        .on_chunk = chain_chunk_cb,
                                        .on_done = chain_done_cb,
                                        .userdata = &c};
  assert_int_equal(loom_loop_call(client_loop, chain_send_cb, &c), LOOM_OK);
  assert_int_equal(c.first_job.err, LOOM_OK);
  wait_done(&c.first, 5);
  wait_done(&c.second, 5);
  assert_int_equal(c.next.err, LOOM_OK);
  assert_int_equal(c.first.err, LOOM_ERR_CANCELLED);
  assert_int_equal(c.second.err, LOOM_OK);
  assert_string_equal(c.second.body, "hello");
}

/* ---- response header lines, as curl hands them over ---- */

static void feed(struct loom_http_headers *h, const char *const *lines,
                 size_t n) {
  for (size_t i = 0; i < n; i++)
    loom_http_client_header_line(h, lines[i], strlen(lines[i]));
}

/* A NUL inside a header line must not split it into a second header the
 * server never sent (here a Retry-After that would make an LLM call wait
 * ten minutes). */
static void test_header_with_nul_adds_no_header(void **state) {
  (void)state;
  struct loom_http_headers h;
  loom_http_client_headers_init(&h, 4096);
  static const char line[] = "X-Note: a\0retry-after\0 600\r\n";
  loom_http_client_header_line(&h, line, sizeof line - 1);
  loom_http_client_header_line(&h, "Content-Type: text/plain\r\n", 26);
  assert_null(loom_http_client_header_find(&h, "retry-after"));
  assert_null(loom_http_client_header_find(&h, "x-note"));
  assert_string_equal(loom_http_client_header_find(&h, "content-type"),
                      "text/plain");
  loom_http_client_headers_cleanup(&h);
}

/* Obsolete line folding: a continuation belongs to the header above it;
 * values are trimmed of spaces and tabs at both ends; names are tokens. */
static void test_header_folding_and_trimming(void **state) {
  (void)state;
  struct loom_http_headers h;
  loom_http_client_headers_init(&h, 4096);
  const char *lines[] = {"HTTP/1.1 200 OK\r\n",
                         "X-Long: first\r\n",
                         "   second\t\r\n",
                         "\tthird\r\n",
                         "Retry-After:\t 5 \t\r\n",
                         "Bad Name: x\r\n",
                         " location: https://evil\r\n",
                         "\r\n"};
  feed(&h, lines, sizeof lines / sizeof *lines);
  assert_string_equal(loom_http_client_header_find(&h, "x-long"),
                      "first second third");
  assert_string_equal(loom_http_client_header_find(&h, "RETRY-AFTER"), "5");
  assert_null(loom_http_client_header_find(&h, "bad name"));
  assert_null(loom_http_client_header_find(&h, "location"));
  loom_http_client_headers_cleanup(&h);
}

/* A header over the cap is dropped whole (with its continuations), the
 * ones after it that fit are kept, and a new status line starts over. */
static void test_header_cap_and_new_response(void **state) {
  (void)state;
  struct loom_http_headers h;
  loom_http_client_headers_init(&h, 40);
  const char *lines[] = {"A: 1\r\n",
                         "Big: 0123456789012345678901234567890123\r\n",
                         " more\r\n", "B: 2\r\n"};
  feed(&h, lines, 4);
  assert_string_equal(loom_http_client_header_find(&h, "a"), "1");
  assert_null(loom_http_client_header_find(&h, "big"));
  assert_string_equal(loom_http_client_header_find(&h, "b"), "2");
  assert_true(h.pairs.len <= 40);
  assert_int_equal(h.pairs.data[h.pairs.len], '\0');
  loom_http_client_header_line(&h, "HTTP/2 200\r\n", 12);
  assert_null(loom_http_client_header_find(&h, "a"));
  loom_http_client_headers_cleanup(&h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_many_concurrent_requests),
      cmocka_unit_test(test_streamed_response),
      cmocka_unit_test(test_stop_stream_from_chunk_callback),
      cmocka_unit_test(test_total_timeout),
      cmocka_unit_test(test_cancel),
      cmocka_unit_test(test_body_cap),
      cmocka_unit_test(test_connection_refused),
      cmocka_unit_test(test_free_cancels_in_flight),
      cmocka_unit_test(test_send_and_cancel_from_inside_a_callback),
      cmocka_unit_test(test_header_with_nul_adds_no_header),
      cmocka_unit_test(test_header_folding_and_trimming),
      cmocka_unit_test(test_header_cap_and_new_response),
  };
  own_transport = true;
  int failed = cmocka_run_group_tests_name("http_client, own HTTP/1.1", tests,
                                           setup, teardown);
  setenv("LOOM_HTTP_CLIENT", "curl", 1);
  own_transport = false;
  failed += cmocka_run_group_tests_name("http_client, libcurl", tests, setup,
                                        teardown);
  curl_global_cleanup();
  return failed;
}
