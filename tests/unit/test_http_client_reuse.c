/*
 * The HTTP client's connection reuse, counted where it shows: at a small
 * HTTP/1.1 server that counts the connections it accepts. Sequential
 * requests share one keep-alive connection; a burst takes new ones (no
 * idle connection can exist, so no search for one) and at most 256 of
 * them stay open for reuse; the next burst reuses those 256.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "core/alloc.h"
#include "io/http_client.h"
#include "io/loop.h"

/* ---- a counting server: answers once `hold` requests are waiting ---- */

struct sconn {
  uv_tcp_t tcp;
  uv_write_t wr;
  char buf[4096];
  size_t len;
  struct sconn *next_waiting;
  struct sconn *prev, *next; /* all open connections */
};

static struct {
  struct loom_loop *loop;
  uv_tcp_t listener;
  int port;
  atomic_int accepted;
  int hold; /* answer when this many requests wait */
  int nwaiting;
  struct sconn *waiting;
  struct sconn *conns;
} S;

static const char REPLY[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

static void sconn_closed_cb(uv_handle_t *h) { loom_free(h->data); }

static void sconn_close(struct sconn *c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    S.conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  uv_close((uv_handle_t *)&c->tcp, sconn_closed_cb);
}

static void written_cb(uv_write_t *w, int status) {
  (void)w;
  (void)status;
}

static void release_all(void) {
  while (S.waiting) {
    struct sconn *c = S.waiting;
    S.waiting = c->next_waiting;
    uv_buf_t b = uv_buf_init((char *)REPLY, sizeof REPLY - 1);
    (void)uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, written_cb);
  }
  S.nwaiting = 0;
}

static void salloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)hint;
  struct sconn *c = h->data;
  *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len - 1));
}

static void sread_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  (void)b;
  struct sconn *c = s->data;
  if (n < 0) {
    sconn_close(c);
    return;
  }
  c->len += (size_t)n;
  c->buf[c->len] = '\0';
  if (!strstr(c->buf, "\r\n\r\n"))
    return;
  c->len = 0; /* GET: no body */
  c->next_waiting = S.waiting;
  S.waiting = c;
  if (++S.nwaiting >= S.hold)
    release_all();
}

static void accept_cb(uv_stream_t *server, int status) {
  if (status < 0)
    return;
  struct sconn *c = LOOM_NEW(struct sconn);
  uv_tcp_init(server->loop, &c->tcp);
  c->tcp.data = c;
  c->next = S.conns;
  if (S.conns)
    S.conns->prev = c;
  S.conns = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0 &&
      uv_read_start((uv_stream_t *)&c->tcp, salloc_cb, sread_cb) == 0)
    atomic_fetch_add(&S.accepted, 1);
  else
    sconn_close(c);
}

static void listen_cb(struct loom_loop *loop, void *arg) {
  (void)arg;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_init(loom_loop_uv(loop), &S.listener);
  S.listener.data = NULL;
  assert_int_equal(uv_tcp_bind(&S.listener, (struct sockaddr *)&a, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&S.listener, 4096, accept_cb), 0);
  int len = sizeof a;
  uv_tcp_getsockname(&S.listener, (struct sockaddr *)&a, &len);
  S.port = ntohs(a.sin_port);
}

static void stop_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  (void)arg;
  while (S.conns)
    sconn_close(S.conns);
  uv_close((uv_handle_t *)&S.listener, NULL);
}

static void set_hold_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  S.hold = *(int *)arg;
}

/* ---- client side ---- */

static struct loom_loop *client_loop;
static struct loom_http_client *client;
static atomic_int done_ok, done_all;
static char url[64];

static void done_cb(const struct loom_http_client_response *r, void *ud) {
  (void)ud;
  if (r->err == LOOM_OK && r->status == 200)
    atomic_fetch_add(&done_ok, 1);
  atomic_fetch_add(&done_all, 1);
}

static void send_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  int n = *(int *)arg;
  for (int i = 0; i < n; i++) {
    struct loom_http_client_request r = {
        .url = url, .on_done = done_cb, .timeout_s = 20};
    assert_int_equal(loom_http_client_send(client, &r, NULL), LOOM_OK);
  }
}

/* Sends n requests at once (answered when all n arrived); returns how
 * many new connections the server accepted for them. */
static int burst(int n) {
  int before = atomic_load(&S.accepted);
  atomic_store(&done_ok, 0);
  atomic_store(&done_all, 0);
  assert_int_equal(loom_loop_call(S.loop, set_hold_cb, &n), LOOM_OK);
  assert_int_equal(loom_loop_call(client_loop, send_cb, &n), LOOM_OK);
  for (int i = 0; i < 2000 && atomic_load(&done_all) < n; i++)
    usleep(5000);
  assert_int_equal(atomic_load(&done_ok), n);
  usleep(20000); /* curl hands finished connections back to its cache */
  return atomic_load(&S.accepted) - before;
}

static void client_new_cb(struct loom_loop *loop, void *arg) {
  (void)arg;
  assert_int_equal(loom_http_client_new(loop, 0, &client), LOOM_OK);
}

static void client_free_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  (void)arg;
  loom_http_client_free(client);
}

static void sequential_requests_share_a_connection(void **state) {
  (void)state;
  for (int i = 0; i < 5; i++)
    burst(1);
  assert_int_equal(atomic_load(&S.accepted), 1);
}

static void bursts_keep_at_most_256_for_reuse(void **state) {
  (void)state;
  /* One idle connection from before: 299 new ones. */
  assert_int_equal(burst(300), 299);
  /* 256 of them were kept: the next burst needs 44 more. */
  assert_int_equal(burst(300), 44);
}

static int setup(void **state) {
  (void)state;
  loom_http_client_global_init();
  if (loom_loop_new("reuse-srv", &S.loop) != LOOM_OK ||
      loom_loop_call(S.loop, listen_cb, NULL) != LOOM_OK ||
      loom_loop_new("reuse-cli", &client_loop) != LOOM_OK ||
      loom_loop_call(client_loop, client_new_cb, NULL) != LOOM_OK)
    return -1;
  snprintf(url, sizeof url, "http://127.0.0.1:%d/x", S.port);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  if (loom_loop_call(client_loop, client_free_cb, NULL) != LOOM_OK ||
      loom_loop_call(S.loop, stop_cb, NULL) != LOOM_OK)
    return -1;
  loom_loop_free(client_loop);
  loom_loop_free(S.loop);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sequential_requests_share_a_connection),
      cmocka_unit_test(bursts_keep_at_most_256_for_reuse),
  };
  return cmocka_run_group_tests_name("http_client_reuse", tests, setup,
                                     teardown);
}
