/*
 * loom's own HTTP/1.1 client transport (io/http1.c) against a scripted
 * server that writes exact bytes: the request loom sends, chunked bodies
 * in small pieces, a body that runs until the close, an interim 100, a
 * keep-alive connection the server dropped, garbage and cut responses,
 * HEAD, names that need a lookup, and the per-origin connection limit.
 * The common behaviour of both transports is in test_http_client.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/http_call.h"
#include "test_http_harness.h"

/* ---- the scripted server: one thread per connection ---- */

/* Answers the nth request (0-based) on a connection; false closes it. */
typedef bool (*answer_fn)(int fd, int nth);

static struct {
  int fd, port;
  pthread_t thread;
  atomic_bool stop;
  answer_fn answer;
  atomic_int accepted, open, max_open;
  pthread_mutex_t mu;
  char request[8192]; /* the last request, as received */
} S = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void say(int fd, const char *text) {
  ssize_t n = write(fd, text, strlen(text));
  (void)n;
}

/* Reads one request (headers, then Content-Length bytes); false at EOF. */
static bool read_request(int fd) {
  char buf[8192];
  size_t len = 0;
  char *end = NULL;
  while (!(end = memmem(buf, len, "\r\n\r\n", 4)) && len < sizeof buf - 1) {
    ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
    if (n <= 0)
      return false;
    len += (size_t)n;
  }
  buf[len] = '\0';
  const char *cl = strcasestr(buf, "\r\ncontent-length:");
  size_t want = (size_t)(end - buf) + 4 + (cl ? strtoul(cl + 17, NULL, 10) : 0);
  while (len < want && len < sizeof buf - 1) {
    ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
    if (n <= 0)
      return false;
    len += (size_t)n;
  }
  buf[len] = '\0';
  pthread_mutex_lock(&S.mu);
  memcpy(S.request, buf, len + 1);
  pthread_mutex_unlock(&S.mu);
  return true;
}

static void *conn_main(void *arg) {
  int fd = (int)(intptr_t)arg;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int now = atomic_fetch_add(&S.open, 1) + 1;
  for (int m = atomic_load(&S.max_open); now > m;)
    if (atomic_compare_exchange_weak(&S.max_open, &m, now))
      break;
  for (int nth = 0; read_request(fd) && S.answer(fd, nth); nth++)
    ;
  atomic_fetch_sub(&S.open, 1);
  close(fd);
  return NULL;
}

static void *accept_main(void *arg) {
  (void)arg;
  while (!atomic_load(&S.stop)) {
    struct pollfd p = {.fd = S.fd, .events = POLLIN};
    if (poll(&p, 1, 20) <= 0)
      continue;
    int fd = accept(S.fd, NULL, NULL);
    if (fd < 0)
      continue;
    atomic_fetch_add(&S.accepted, 1);
    pthread_t t;
    pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd);
    pthread_detach(t);
  }
  return NULL;
}

static void server_start(void) {
  S.fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  assert_int_equal(bind(S.fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(S.fd, 128), 0);
  getsockname(S.fd, (struct sockaddr *)&a, &alen);
  S.port = ntohs(a.sin_port);
  pthread_create(&S.thread, NULL, accept_main, NULL);
}

static void server_stop(void) {
  atomic_store(&S.stop, true);
  pthread_join(S.thread, NULL);
  close(S.fd);
}

/* ---- answers ---- */

static bool ok_keep(int fd, int nth) {
  (void)nth;
  say(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  return true;
}

/* Chunked, written a few bytes at a time, with a header split too. */
static bool chunked_in_pieces(int fd, int nth) {
  (void)nth;
  static const char text[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                             "X-Trace:   spaced out  \r\n\r\n"
                             "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  for (size_t i = 0; i < sizeof text - 1; i += 3) {
    ssize_t n =
        write(fd, text + i, i + 3 < sizeof text - 1 ? 3 : sizeof text - 1 - i);
    (void)n;
    usleep(300);
  }
  return true;
}

/* An empty header value, then the header it must not swallow. */
static bool empty_value(int fd, int nth) {
  (void)nth;
  say(fd, "HTTP/1.1 200 OK\r\nX-Interim:\r\nX-Final: yes\r\n"
          "Content-Length: 2\r\n\r\nok");
  return true;
}

static bool until_close(int fd, int nth) {
  (void)nth;
  say(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it");
  return false;
}

static bool interim_then_final(int fd, int nth) {
  (void)nth;
  say(fd, "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Final: yes\r\n\r\nok");
  return true;
}

/* Answers the first request, then drops the connection when the next one
 * arrives, without a byte: a keep-alive connection the server gave up. */
static bool drops_second(int fd, int nth) {
  if (nth > 0)
    return false;
  return ok_keep(fd, nth);
}

static bool garbage(int fd, int nth) {
  (void)nth;
  say(fd, "hello there\r\n\r\n");
  return false;
}

static bool cut_short(int fd, int nth) {
  (void)nth;
  say(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
  return false;
}

static bool head_answer(int fd, int nth) {
  (void)nth;
  say(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
  return true;
}

static bool slow_ok(int fd, int nth) {
  usleep(100 * 1000);
  return ok_keep(fd, nth);
}

/* ---- the client ---- */

static struct loom_loop *loop;
static struct loom_http_client *client;
static unsigned max_per_host;

struct result {
  atomic_int done;
  loom_err err;
  long status;
  char body[256];
  char error[256];
  char trace[64], interim[8], final[8];
};

static void done_cb(const struct loom_http_client_response *r, void *ud) {
  struct result *res = ud;
  res->err = r->err;
  res->status = r->status;
  snprintf(res->body, sizeof res->body, "%s", r->body);
  snprintf(res->error, sizeof res->error, "%s", r->error);
  const char *h = loom_http_client_header(r->call, "x-trace");
  snprintf(res->trace, sizeof res->trace, "%s", h ? h : "");
  h = loom_http_client_header(r->call, "X-Interim");
  snprintf(res->interim, sizeof res->interim, "%s", h ? h : "");
  h = loom_http_client_header(r->call, "X-Final");
  snprintf(res->final, sizeof res->final, "%s", h ? h : "");
  atomic_store(&res->done, 1);
}

struct job {
  struct loom_http_client_request req;
  struct result res;
  loom_err err;
  bool own_transport; /* the call went through http1.c */
};

static void send_cb(struct loom_loop *l, void *arg) {
  (void)l;
  struct job *j = arg;
  struct loom_http_call *call;
  j->req.on_done = done_cb;
  j->req.userdata = &j->res;
  j->err = loom_http_client_send(client, &j->req, &call);
  j->own_transport = j->err == LOOM_OK && call->h1 != NULL;
}

static void send_job(struct job *j) {
  assert_int_equal(loom_loop_call(loop, send_cb, j), LOOM_OK);
  assert_int_equal(j->err, LOOM_OK);
  assert_true(j->own_transport);
}

static void wait_job(struct job *j) {
  double t0 = now_s();
  while (!atomic_load(&j->res.done) && now_s() - t0 < 10)
    sleep_ms(2);
  assert_true(atomic_load(&j->res.done));
}

static void run(struct job *j) {
  send_job(j);
  wait_job(j);
}

static char *url(const char *path) {
  static char buf[256];
  snprintf(buf, sizeof buf, "http://127.0.0.1:%d%s", S.port, path);
  return buf;
}

static void new_client_cb(struct loom_loop *l, void *arg) {
  (void)arg;
  assert_int_equal(loom_http_client_new(l, max_per_host, &client), LOOM_OK);
}

static void free_client_cb(struct loom_loop *l, void *arg) {
  (void)l;
  (void)arg;
  loom_http_client_free(client);
}

static int setup(void **state) {
  (void)state;
  atomic_store(&S.accepted, 0);
  atomic_store(&S.max_open, 0);
  return loom_loop_call(loop, new_client_cb, NULL) == LOOM_OK ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  return loom_loop_call(loop, free_client_cb, NULL) == LOOM_OK ? 0 : -1;
}

/* ---- tests ---- */

static void sends_a_well_formed_request(void **state) {
  (void)state;
  S.answer = ok_keep;
  static const char *const headers[] = {
      "Content-Type: application/json", "Authorization: Bearer k",
      "X-Forged: a\r\nX-Evil: b", /* would forge a header: left out */
      "Expect:",                  /* "Name:" only removes a header */
      NULL};
  struct job j = {.req = {.url = url("/v1/chat?x=1#frag"),
                          .headers = headers,
                          .body = "{\"a\":1}",
                          .body_len = 7}};
  run(&j);
  assert_int_equal(j.res.err, LOOM_OK);
  char host[64];
  snprintf(host, sizeof host, "\r\nHost: 127.0.0.1:%d\r\n", S.port);
  static const char line[] = "POST /v1/chat?x=1 HTTP/1.1\r\n";
  assert_true(!strncmp(S.request, line, sizeof line - 1));
  assert_non_null(strstr(S.request, host));
  assert_non_null(strstr(S.request, "\r\nContent-Type: application/json\r\n"));
  assert_non_null(strstr(S.request, "\r\nAuthorization: Bearer k\r\n"));
  assert_non_null(strstr(S.request, "\r\nContent-Length: 7\r\n"));
  assert_null(strstr(S.request, "X-Evil"));
  assert_null(strstr(S.request, "Expect"));
  assert_non_null(strstr(S.request, "\r\n\r\n{\"a\":1}"));
}

static void reads_chunked_bodies_in_pieces(void **state) {
  (void)state;
  S.answer = chunked_in_pieces;
  struct job j = {.req = {.url = url("/")}};
  run(&j);
  assert_int_equal(j.res.err, LOOM_OK);
  assert_int_equal(j.res.status, 200);
  assert_string_equal(j.res.body, "hello world");
  assert_string_equal(j.res.trace, "spaced out");
}

static void keeps_headers_after_an_empty_one(void **state) {
  (void)state;
  S.answer = empty_value;
  struct job j = {.req = {.url = url("/")}};
  run(&j);
  assert_int_equal(j.res.err, LOOM_OK);
  assert_string_equal(j.res.final, "yes");
  assert_string_equal(j.res.body, "ok");
}

static void asks_for_the_root_when_a_url_has_only_a_query(void **state) {
  (void)state;
  S.answer = ok_keep;
  char u[64];
  snprintf(u, sizeof u, "http://127.0.0.1:%d?x=1", S.port);
  struct job j = {.req = {.url = u}};
  run(&j);
  assert_int_equal(j.res.err, LOOM_OK);
  static const char line[] = "GET /?x=1 HTTP/1.1\r\n";
  assert_true(!strncmp(S.request, line, sizeof line - 1));
}

static void reads_a_body_that_runs_until_the_close(void **state) {
  (void)state;
  S.answer = until_close;
  struct job j = {.req = {.url = url("/")}};
  run(&j);
  assert_int_equal(j.res.err, LOOM_OK);
  assert_string_equal(j.res.body, "all of it");
}

static void skips_an_interim_response(void **state) {
  (void)state;
  S.answer = interim_then_final;
  struct job j = {.req = {.url = url("/")}};
  run(&j);
  assert_int_equal(j.res.status, 200);
  assert_string_equal(j.res.body, "ok");
  assert_string_equal(j.res.final, "yes");
  assert_string_equal(j.res.interim, ""); /* only the final's headers */
}

static void sequential_calls_share_a_connection(void **state) {
  (void)state;
  S.answer = ok_keep;
  for (int i = 0; i < 5; i++) {
    struct job j = {.req = {.url = url("/")}};
    run(&j);
    assert_string_equal(j.res.body, "ok");
  }
  assert_int_equal(atomic_load(&S.accepted), 1);
}

static void
retries_once_when_the_server_dropped_an_idle_connection(void **state) {
  (void)state;
  S.answer = drops_second;
  struct job first = {.req = {.url = url("/")}};
  run(&first);
  struct job second = {.req = {.url = url("/")}};
  run(&second);
  assert_int_equal(second.res.err, LOOM_OK);
  assert_string_equal(second.res.body, "ok");
  assert_int_equal(atomic_load(&S.accepted), 2);
}

static void refuses_garbage_and_cut_responses(void **state) {
  (void)state;
  S.answer = garbage;
  struct job bad = {.req = {.url = url("/")}};
  run(&bad);
  assert_int_equal(bad.res.err, LOOM_ERR_UPSTREAM);
  assert_non_null(strstr(bad.res.error, "bad HTTP response"));
  S.answer = cut_short;
  struct job cut = {.req = {.url = url("/")}};
  run(&cut);
  assert_int_equal(cut.res.err, LOOM_ERR_UPSTREAM);
  assert_int_equal(cut.res.status, 200);
  assert_non_null(strstr(cut.res.error, "closed before the response ended"));
}

static void head_responses_have_no_body(void **state) {
  (void)state;
  S.answer = head_answer;
  struct job j = {.req = {.url = url("/"), .method = "HEAD", .timeout_s = 2}};
  run(&j);
  assert_int_equal(j.res.err, LOOM_OK);
  assert_int_equal(j.res.status, 200);
}

static void looks_names_up_and_tries_each_address(void **state) {
  (void)state;
  /* "localhost" may resolve to ::1 first; the server listens on
   * 127.0.0.1 only, so that address must be tried next. */
  S.answer = ok_keep;
  char u[64];
  snprintf(u, sizeof u, "http://localhost:%d/", S.port);
  struct job j = {.req = {.url = u}};
  run(&j);
  assert_int_equal(j.res.err, LOOM_OK);
  struct job none = {.req = {.url = "http://no-such-host.invalid/"}};
  run(&none);
  assert_int_equal(none.res.err, LOOM_ERR_UPSTREAM);
  assert_non_null(strstr(none.res.error, "Could not resolve host"));
}

static void keeps_to_the_connection_limit(void **state) {
  (void)state;
  S.answer = slow_ok;
  enum { N = 8 };
  struct job *jobs = loom_calloc(N, sizeof *jobs);
  for (int i = 0; i < N; i++) {
    jobs[i].req.url = loom_strdup(url("/"));
    send_job(&jobs[i]);
  }
  for (int i = 0; i < N; i++) {
    wait_job(&jobs[i]);
    assert_string_equal(jobs[i].res.body, "ok");
    loom_free((char *)jobs[i].req.url);
  }
  assert_int_equal(atomic_load(&S.max_open), 2); /* max_per_host */
  loom_free(jobs);
}

int main(void) {
  server_start();
  assert_int_equal(loom_loop_new("client", &loop), LOOM_OK);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(sends_a_well_formed_request, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(reads_chunked_bodies_in_pieces, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(reads_a_body_that_runs_until_the_close,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(keeps_headers_after_an_empty_one, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          asks_for_the_root_when_a_url_has_only_a_query, setup, teardown),
      cmocka_unit_test_setup_teardown(skips_an_interim_response, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(sequential_calls_share_a_connection,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          retries_once_when_the_server_dropped_an_idle_connection, setup,
          teardown),
      cmocka_unit_test_setup_teardown(refuses_garbage_and_cut_responses, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(head_responses_have_no_body, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(looks_names_up_and_tries_each_address,
                                      setup, teardown),
  };
  int failed = cmocka_run_group_tests_name("http1", tests, NULL, NULL);
  max_per_host = 2;
  const struct CMUnitTest limited[] = {cmocka_unit_test_setup_teardown(
      keeps_to_the_connection_limit, setup, teardown)};
  failed += cmocka_run_group_tests_name("http1 limited", limited, NULL, NULL);
  loom_loop_free(loop);
  server_stop();
  curl_global_cleanup();
  return failed;
}
