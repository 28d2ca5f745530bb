/*
 * bench_models_floor — the machine's floor for bench_models: the same
 * number of chat requests at once against the same server, sent with raw
 * non-blocking sockets and nothing else (no HTTP library, no engine, no
 * JSON), one epoll loop per thread.
 *
 *   bench_models_floor BASE_URL [calls] [threads]
 *
 * BASE_URL is http://127.0.0.1:PORT/v1 as for bench_models. Each call is
 * one connection: socket, connect, one POST of a fixed chat request, read
 * the answer to its Content-Length, close. What is left between this row
 * and loom's is what loom (libcurl, the engine, the model layer) adds on
 * top of the kernel's TCP work, which on a 2-core machine shared with the
 * server bounds how fast 10,000 requests can go out at all. Prints one
 * row in bench_models' columns.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"

#define OPEN_SLICE 64 /* connections opened between two epoll_waits */
#define ANSWER_MAX 4096

/* What a call keeps: its answer is read into its thread's buffer, and
 * only the first bytes (for the header) are kept, so the RSS column
 * counts about what a connection costs, not a buffer per call. */
#define HEAD_KEEP 512

struct call {
  int fd;
  bool sent;
  size_t got, need; /* need: header + Content-Length, once known */
  char head[HEAD_KEEP];
};

static struct sockaddr_in server;
static char request[1024];
static size_t request_len;
static atomic_int ok_count, fail_count;

/* Bytes of the whole answer once its header is in, else 0. */
static size_t answer_size(const struct call *c) {
  size_t kept = c->got < HEAD_KEEP ? c->got : HEAD_KEEP;
  const char *end = memmem(c->head, kept, "\r\n\r\n", 4);
  if (!end)
    return 0;
  size_t body = 0;
  for (const char *p = c->head; p < end; p++)
    if (*p == '\n' && !strncasecmp(p + 1, "content-length:", 15))
      body = strtoul(p + 16, NULL, 10);
  return (size_t)(end - c->head) + 4 + body;
}

static void finish(int ep, struct call *c, bool ok, int *left) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  atomic_fetch_add(ok ? &ok_count : &fail_count, 1);
  (*left)--;
}

static bool open_call(int ep, struct call *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (c->fd < 0 || (connect(c->fd, (struct sockaddr *)&server, sizeof server) &&
                    errno != EINPROGRESS))
    return false;
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
  return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == 0;
}

/* One readiness event: send the request once writable, then read. */
static bool step(int ep, struct call *c, int *left) {
  if (!c->sent) {
    if (send(c->fd, request, request_len, 0) != (ssize_t)request_len)
      return false;
    c->sent = true;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == 0;
  }
  static _Thread_local char buf[ANSWER_MAX];
  ssize_t n = recv(c->fd, buf, sizeof buf, 0);
  if (n <= 0)
    return false;
  if (c->got < HEAD_KEEP)
    memcpy(c->head + c->got, buf,
           (size_t)n < HEAD_KEEP - c->got ? (size_t)n : HEAD_KEEP - c->got);
  c->got += (size_t)n;
  if (!c->need)
    c->need = answer_size(c);
  if (c->need && c->got >= c->need)
    finish(ep, c, true, left);
  return true;
}

static void *worker(void *arg) {
  int n = *(int *)arg, opened = 0, left = n;
  struct call *calls = calloc((size_t)n, sizeof *calls);
  int ep = epoll_create1(0);
  struct epoll_event evs[256];
  while (left > 0) {
    for (int k = 0; k < OPEN_SLICE && opened < n; k++, opened++)
      if (!open_call(ep, &calls[opened]))
        finish(ep, &calls[opened], false, &left);
    int ready = epoll_wait(ep, evs, 256, opened < n ? 0 : 5000);
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0 && opened == n) {
      atomic_fetch_add(&fail_count, left); /* nothing for 5 s */
      break;
    }
    for (int i = 0; i < ready; i++) {
      struct call *c = evs[i].data.ptr;
      if (!step(ep, c, &left))
        finish(ep, c, false, &left);
    }
  }
  close(ep);
  free(calls);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_models_floor BASE_URL [calls] [threads]\n");
    return 2;
  }
  int port;
  if (sscanf(argv[1], "http://127.0.0.1:%d", &port) != 1) {
    fprintf(stderr, "bench_models_floor: BASE_URL must be "
                    "http://127.0.0.1:PORT/...\n");
    return 2;
  }
  int calls = argc > 2 ? atoi(argv[2]) : 10000;
  int threads = argc > 3 ? atoi(argv[3]) : 1;
  if (calls < 1 || threads < 1 || threads > 64)
    return 2;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  server = (struct sockaddr_in){.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  static const char body[] =
      "{\"model\":\"bench-model\",\"messages\":[{\"role\":\"user\","
      "\"content\":\"Hello?\"}]}";
  request_len = (size_t)snprintf(
      request, sizeof request,
      "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
      port, sizeof body - 1, body);
  pthread_t th[64];
  int share[64];
  double t0 = loom_clock_mono_s();
  for (int i = 0; i < threads; i++) {
    share[i] = calls / threads + (i < calls % threads);
    pthread_create(&th[i], NULL, worker, &share[i]);
  }
  for (int i = 0; i < threads; i++)
    pthread_join(th[i], NULL);
  double wall = loom_clock_mono_s() - t0;
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  double cpu = (double)u.ru_utime.tv_sec + (double)u.ru_stime.tv_sec +
               (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  printf("%-8d %-6d %-7d %-9.2f %-10.1f %-8.2f raw sockets, no HTTP "
         "library (the machine's floor)\n",
         calls, atomic_load(&ok_count), atomic_load(&fail_count), wall,
         (double)u.ru_maxrss / 1024.0, cpu);
  return atomic_load(&fail_count) ? 1 : 0;
}
