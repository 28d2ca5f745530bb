/*
 * SSE streams as a client sees them: framing of multi-line data, keep-alive
 * comments while quiet, 200 streams at once on one loop, and the producer
 * hearing about a client that went away.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdlib.h>

#include "io/sse.h"
#include "test_http_harness.h"

static struct harness H;
static atomic_int disconnects;
static atomic_int producers_done;

struct producer {
  struct loom_sse *stream;
  uv_timer_t timer;
  int sent, total;
};

static void producer_free_cb(uv_handle_t *h) { loom_free(h->data); }

static void producer_end(struct producer *p) {
  uv_timer_stop(&p->timer);
  loom_sse_close(p->stream);
  p->stream = NULL;
  uv_close((uv_handle_t *)&p->timer, producer_free_cb);
  atomic_fetch_add(&producers_done, 1);
}

static void gone_cb(struct loom_sse *s, void *ud) {
  (void)s;
  atomic_fetch_add(&disconnects, 1);
  producer_end(ud);
}

static void tick_cb(uv_timer_t *t) {
  struct producer *p = t->data;
  char id[16], data[64];
  snprintf(id, sizeof id, "%d", ++p->sent);
  snprintf(data, sizeof data, "line one %d\nline two\r\nline three", p->sent);
  assert_int_equal(loom_sse_send(p->stream, "tick", id, data), LOOM_OK);
  if (p->total > 0 && p->sent >= p->total)
    producer_end(p);
}

/* GET /events?n=N&ms=M&ka=K: N events M ms apart (N = 0: forever). */
static void events(struct loom_http_req *req, void *ud) {
  (void)ud;
  const char *n = loom_http_query(req, "n");
  const char *ms = loom_http_query(req, "ms");
  const char *ka = loom_http_query(req, "ka");
  struct producer *p = LOOM_NEW(struct producer);
  p->total = n ? atoi(n) : 3;
  struct loom_sse_options o = {.keepalive_s = ka ? atof(ka) : 15,
                               .on_disconnect = gone_cb,
                               .userdata = p};
  loom_http_header_add(req, "X-Stream", "1");
  p->stream = loom_sse_start(req, &o);
  assert_int_equal(loom_sse_send(p->stream, "bad\nname", NULL, "x"),
                   LOOM_ERR_INVALID);
  uv_timer_init(loom_loop_uv(loom_sse_loop(p->stream)), &p->timer);
  p->timer.data = p;
  uint64_t every = ms ? strtoull(ms, NULL, 10) : 20;
  uv_timer_start(&p->timer, tick_cb, every, every);
}

static int setup(void **state) {
  (void)state;
  harness_route(&H, "GET", "/events", events, NULL);
  harness_start(&H, 1, NULL);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  harness_stop(&H);
  return 0;
}

static void test_events_and_keepalives(void **state) {
  (void)state;
  char u[256];
  snprintf(u, sizeof u, "%s/events?n=2&ms=250&ka=0.05", H.base);
  struct reply r;
  http_do(NULL, "GET", u, NULL, NULL, 0, &r);
  assert_int_equal(r.status, 200);
  char v[128];
  assert_non_null(reply_header(&r, "content-type", v, sizeof v));
  assert_string_equal(v, "text/event-stream");
  assert_non_null(reply_header(&r, "x-stream", v, sizeof v));
  assert_non_null(reply_header(&r, "x-request-id", v, sizeof v));
  const char *want = "event: tick\nid: 1\ndata: line one 1\ndata: line two\n"
                     "data: line three\n\n";
  assert_non_null(strstr(r.body.data, want));
  assert_non_null(strstr(r.body.data, "event: tick\nid: 2\n"));
  /* 250 ms gaps with a 50 ms keep-alive: comments between the events. */
  assert_non_null(strstr(r.body.data, ": keep-alive\n\n"));
  assert_true(r.seconds >= 0.45);
  reply_cleanup(&r);
}

static void test_200_concurrent_streams(void **state) {
  (void)state;
  enum { N = 200 };
  CURLM *m = curl_multi_init();
  CURL *easy[N];
  struct loom_buf body[N];
  char u[256];
  snprintf(u, sizeof u, "%s/events?n=3&ms=30", H.base);
  for (int i = 0; i < N; i++) {
    easy[i] = curl_easy_init();
    loom_buf_init(&body[i], 1 << 16);
    curl_easy_setopt(easy[i], CURLOPT_URL, u);
    curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, reply_write_cb);
    curl_easy_setopt(easy[i], CURLOPT_WRITEDATA, &body[i]);
    curl_easy_setopt(easy[i], CURLOPT_TIMEOUT, 20L);
    curl_multi_add_handle(m, easy[i]);
  }
  int running = N;
  double t0 = now_s();
  while (running) {
    curl_multi_perform(m, &running);
    curl_multi_poll(m, NULL, 0, 50, NULL);
  }
  double took = now_s() - t0;
  int ok = 0;
  for (int i = 0; i < N; i++) {
    long status = 0;
    curl_easy_getinfo(easy[i], CURLINFO_RESPONSE_CODE, &status);
    int events = 0;
    for (const char *p = body[i].data; p && (p = strstr(p, "event: tick")); p++)
      events++;
    ok += status == 200 && events == 3;
    curl_multi_remove_handle(m, easy[i]);
    curl_easy_cleanup(easy[i]);
    loom_buf_cleanup(&body[i]);
  }
  curl_multi_cleanup(m);
  assert_int_equal(ok, N);
  assert_true(took < 10);
}

static size_t stop_after_first_cb(char *p, size_t s, size_t n, void *ud) {
  (void)ud;
  return memmem(p, s * n, "event: tick", 11) ? 0 : s * n;
}

static void test_disconnect_reaches_producer(void **state) {
  (void)state;
  int before = atomic_load(&disconnects);
  char u[256];
  snprintf(u, sizeof u, "%s/events?n=0&ms=20&ka=0.05", H.base);
  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, u);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, stop_after_first_cb);
  assert_int_equal(curl_easy_perform(e), CURLE_WRITE_ERROR);
  curl_easy_cleanup(e); /* closes the socket */
  double t0 = now_s();
  while (atomic_load(&disconnects) == before && now_s() - t0 < 5)
    sleep_ms(10);
  assert_int_equal(atomic_load(&disconnects), before + 1);
  assert_true(now_s() - t0 < 2);
}

static void test_disconnect_seen_without_keepalive(void **state) {
  (void)state;
  int before = atomic_load(&disconnects);
  char u[256];
  /* One event, then quiet: keep-alives only every 15 s. */
  snprintf(u, sizeof u, "%s/events?n=0&ms=100000&ka=15", H.base);
  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, u);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 300L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, stop_after_first_cb);
  assert_int_equal(curl_easy_perform(e), CURLE_OPERATION_TIMEDOUT);
  curl_easy_cleanup(e);
  double t0 = now_s();
  while (atomic_load(&disconnects) == before && now_s() - t0 < 5)
    sleep_ms(10);
  assert_int_equal(atomic_load(&disconnects), before + 1);
  assert_true(now_s() - t0 < 2.5);
}

static void test_stop_ends_open_streams(void **state) {
  (void)state;
  struct harness h = {0};
  harness_route(&h, "GET", "/events", events, NULL);
  struct loom_http_server_options opt = {.grace_seconds = 0.1};
  harness_start(&h, 1, &opt);
  int before = atomic_load(&disconnects);
  char u[256];
  snprintf(u, sizeof u, "%s/events?n=0&ms=50", h.base);
  CURLM *m = curl_multi_init();
  CURL *e = curl_easy_init();
  struct loom_buf body;
  loom_buf_init(&body, 1 << 20);
  curl_easy_setopt(e, CURLOPT_URL, u);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, reply_write_cb);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
  curl_multi_add_handle(m, e);
  int running = 1;
  double t0 = now_s();
  while (!strstr(body.data ? body.data : "", "id: 2") && now_s() - t0 < 5) {
    curl_multi_perform(m, &running);
    curl_multi_poll(m, NULL, 0, 10, NULL);
  }
  loom_http_server_stop(h.srv); /* the client is idle meanwhile: fine */
  while (running && now_s() - t0 < 10) {
    curl_multi_perform(m, &running);
    curl_multi_poll(m, NULL, 0, 10, NULL);
  }
  assert_int_equal(running, 0);
  assert_int_equal(atomic_load(&disconnects), before + 1);
  curl_multi_remove_handle(m, e);
  curl_easy_cleanup(e);
  curl_multi_cleanup(m);
  loom_buf_cleanup(&body);
  harness_stop(&h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_events_and_keepalives),
      cmocka_unit_test(test_200_concurrent_streams),
      cmocka_unit_test(test_disconnect_reaches_producer),
      cmocka_unit_test(test_disconnect_seen_without_keepalive),
  };
  const struct CMUnitTest alone[] = {
      cmocka_unit_test(test_stop_ends_open_streams),
  };
  int failed = cmocka_run_group_tests_name("sse", tests, setup, teardown);
  failed += cmocka_run_group_tests_name("sse_stop", alone, NULL, NULL);
  curl_global_cleanup();
  return failed;
}
