/*
 * bench_model_server — a minimal OpenAI-compatible chat server in C for
 * bench_models: every POST is answered after DELAY_MS with a fixed
 * completion (JSON, or an SSE stream with the usage chunk when the request
 * body says "stream":true).
 *
 *   bench_model_server [delay_ms] [loops]      prints "port N"
 *
 * Plain libuv, one loop per thread, all accepting on one port
 * (SO_REUSEPORT): an HTTP/1.1 reader that knows Content-Length and
 * keep-alive and nothing else. It exists so that the server is not what a
 * 10,000-connection measurement measures: a one-thread Node.js server was
 * the bottleneck, and a general server (libmicrohttpd, which zeroes a
 * 32 KiB pool per connection) cost more CPU than the client under test on
 * a 2-core machine. The scripted server (tests/llm-server) is the one for
 * tests.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "core/clock.h"

#define MAX_REQUEST (64 * 1024)
#define MAX_LOOPS 16

static uint64_t delay_ms = 2000;

static const char JSON_ANSWER[] =
    "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1,"
    "\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
    "\"assistant\",\"content\":\"Hello from the bench server.\"},"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,"
    "\"completion_tokens\":7,\"total_tokens\":16}}";

static const char SSE_ANSWER[] =
    "data: "
    "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
    "\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" "
    "from the "
    "bench server.\"},\"finish_reason\":null}]}\n\n"
    "data: "
    "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
    "\"stop\"}]}\n\n"
    "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,"
    "\"completion_tokens\":7,\"total_tokens\":16}}\n\n"
    "data: [DONE]\n\n";

static char json_reply[1024], sse_reply[2048];
static size_t json_len, sse_len;

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_write_t wr;
  char buf[MAX_REQUEST];
  size_t len;
  size_t need;  /* header + body bytes of the request being read; 0: unknown */
  bool waiting; /* a request is answered when the timer fires */
  bool stream;
  int handles; /* open uv handles; freed when both closed */
};

/* Stats across loops (first/last arrival, count), under a lock. */
static pthread_mutex_t stats_mu = PTHREAD_MUTEX_INITIALIZER;
static double first_s, last_s;
static unsigned long received;

static void conn_closed_cb(uv_handle_t *h) {
  struct conn *c = h->data;
  if (--c->handles == 0)
    free(c);
}

static void conn_close(struct conn *c) {
  if (uv_is_closing((uv_handle_t *)&c->tcp))
    return;
  uv_close((uv_handle_t *)&c->timer, conn_closed_cb);
  uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
}

static void parse(struct conn *c);

static void written_cb(uv_write_t *w, int status) {
  struct conn *c = w->data;
  if (status < 0) {
    conn_close(c);
    return;
  }
  /* Keep-alive: a pipelined next request may already be buffered. */
  memmove(c->buf, c->buf + c->need, c->len - c->need);
  c->len -= c->need;
  c->need = 0;
  c->waiting = false;
  parse(c);
}

static void answer_cb(uv_timer_t *t) {
  struct conn *c = t->data;
  uv_buf_t b = c->stream ? uv_buf_init(sse_reply, (unsigned)sse_len)
                         : uv_buf_init(json_reply, (unsigned)json_len);
  c->wr.data = c;
  if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, written_cb) < 0)
    conn_close(c);
}

/* A whole request in the buffer: answer it after the delay. */
static void parse(struct conn *c) {
  if (c->waiting)
    return;
  if (!c->need) {
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end)
      return;
    size_t head = (size_t)(end - c->buf) + 4;
    size_t body = 0;
    for (char *p = c->buf; p < end; p++)
      if ((*p == '\n') && !strncasecmp(p + 1, "content-length:", 15))
        body = strtoul(p + 16, NULL, 10);
    c->need = head + body;
    if (c->need > sizeof c->buf) {
      conn_close(c);
      return;
    }
  }
  if (c->len < c->need)
    return;
  c->stream = memmem(c->buf, c->need, "\"stream\":true", 13) != NULL;
  c->waiting = true;
  double now = loom_clock_mono_s();
  pthread_mutex_lock(&stats_mu);
  if (!received++)
    first_s = now;
  last_s = now;
  pthread_mutex_unlock(&stats_mu);
  uv_timer_start(&c->timer, answer_cb, delay_ms, 0);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)hint;
  struct conn *c = h->data;
  *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  (void)b;
  struct conn *c = s->data;
  if (n < 0 || (n == 0 && c->len == sizeof c->buf)) {
    conn_close(c);
    return;
  }
  c->len += (size_t)n;
  parse(c);
}

static void accept_cb(uv_stream_t *server, int status) {
  if (status < 0)
    return;
  struct conn *c = calloc(1, sizeof *c);
  uv_tcp_init(server->loop, &c->tcp);
  uv_timer_init(server->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles = 2;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 ||
      uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) < 0)
    conn_close(c);
}

struct server_loop {
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_async_t stop;
  pthread_t thread;
};

static void walk_close_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, h->data ? conn_closed_cb : NULL);
}

static void stop_cb(uv_async_t *a) { uv_walk(a->loop, walk_close_cb, NULL); }

static void *loop_main(void *arg) {
  struct server_loop *sl = arg;
  uv_run(&sl->loop, UV_RUN_DEFAULT);
  return NULL;
}

/* A listening socket on 127.0.0.1:port shared by all loops. */
static int listen_on(struct server_loop *sl, int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)*port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
    return -1;
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  *port = ntohs(a.sin_port);
  uv_tcp_init(&sl->loop, &sl->listener);
  sl->listener.data = NULL;
  if (uv_tcp_open(&sl->listener, fd) < 0 ||
      uv_listen((uv_stream_t *)&sl->listener, 65535, accept_cb) < 0)
    return -1;
  return 0;
}

int main(int argc, char **argv) {
  delay_ms = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000;
  int nloops = argc > 2 ? atoi(argv[2]) : 1;
  nloops = nloops < 1 ? 1 : nloops > MAX_LOOPS ? MAX_LOOPS : nloops;
  json_len = (size_t)snprintf(json_reply, sizeof json_reply,
                              "HTTP/1.1 200 OK\r\nContent-Type: "
                              "application/json\r\nContent-Length: %zu\r\n\r\n"
                              "%s",
                              sizeof JSON_ANSWER - 1, JSON_ANSWER);
  sse_len = (size_t)snprintf(sse_reply, sizeof sse_reply,
                             "HTTP/1.1 200 OK\r\nContent-Type: "
                             "text/event-stream\r\nContent-Length: %zu\r\n\r\n"
                             "%s",
                             sizeof SSE_ANSWER - 1, SSE_ANSWER);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  struct server_loop *loops = calloc((size_t)nloops, sizeof *loops);
  int port = 0;
  for (int i = 0; i < nloops; i++) {
    uv_loop_init(&loops[i].loop);
    uv_async_init(&loops[i].loop, &loops[i].stop, stop_cb);
    if (listen_on(&loops[i], &port) < 0) {
      fprintf(stderr, "bench_model_server: cannot listen\n");
      return 1;
    }
  }
  for (int i = 0; i < nloops; i++)
    pthread_create(&loops[i].thread, NULL, loop_main, &loops[i]);
  printf("port %d\n", port);
  fflush(stdout);
  int sig;
  sigwait(&stop, &sig);
  for (int i = 0; i < nloops; i++) {
    uv_async_send(&loops[i].stop);
    pthread_join(loops[i].thread, NULL);
    uv_loop_close(&loops[i].loop);
  }
  free(loops);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  if (getenv("BENCH_DEBUG"))
    fprintf(stderr,
            "server: %lu requests arrived over %.3f s (from mono %.3f); cpu "
            "%.2f s\n",
            received, last_s - first_s, first_s,
            (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
  return 0;
}
