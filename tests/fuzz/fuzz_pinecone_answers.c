/*
 * fuzz_pinecone_answers — what a remote Pinecone (or anything answering
 * at PINECONE_URL) sends back: the describe-index answer loom reads the
 * data plane host, dimension and metric from, the query answer whose
 * matches become search hits, and the answers to upserts and deletes,
 * each with any status. Whatever arrives, opening the index and
 * searching must fail with a message or work (at most top_k hits, each
 * with its id), never crash, leak, hang or go anywhere but that server.
 *
 * The server is a small loopback thread here. Every request goes to it
 * through the proxy variables (so a "host" that names another machine,
 * any scheme, still reaches it, or fails), and it answers by request:
 * GET (describe), POST .../query, anything else (upsert, delete,
 * CONNECT). Input: the first byte picks the describe and query statuses
 * (and 500 for writes when bit 6 is set); then the describe body, a NUL,
 * the query body, a NUL, the body for the rest.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agents/rag.h"
#include "core/alloc.h"
#include "stores/pinecone_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { DESCRIBE, QUERY, OTHER };

static struct {
  pthread_mutex_t lock;
  char *body[3]; /* copies: a connection left behind may be served late */
  size_t len[3];
  int status[3];
  int fd;
} S = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Reads one request (head and Content-Length body); returns which answer. */
static int read_request(int c) {
  char buf[8192];
  size_t got = 0;
  char *end = NULL;
  while (!end && got < sizeof buf - 1) {
    ssize_t n = read(c, buf + got, sizeof buf - 1 - got);
    if (n <= 0)
      return OTHER;
    got += (size_t)n;
    buf[got] = '\0';
    end = strstr(buf, "\r\n\r\n");
  }
  const char *cl = strcasestr(buf, "\r\ncontent-length:");
  size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
  size_t have = end ? got - (size_t)(end + 4 - buf) : 0;
  while (have < want) {
    ssize_t n = read(c, buf, sizeof buf);
    if (n <= 0)
      break;
    have += (size_t)n;
  }
  if (!strncmp(buf, "GET ", 4))
    return DESCRIBE;
  const char *line_end = strstr(buf, "\r\n");
  const char *q = strstr(buf, "/query ");
  return q && q < line_end ? QUERY : OTHER;
}

static void *server_main(void *arg) {
  (void)arg;
  for (;;) {
    int c = accept(S.fd, NULL, NULL);
    if (c < 0)
      continue;
    int which = read_request(c);
    pthread_mutex_lock(&S.lock);
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d Fuzz\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     S.status[which], S.len[which]);
    ssize_t w = write(c, head, (size_t)n);
    if (w == n && S.len[which])
      w = write(c, S.body[which], S.len[which]);
    (void)w;
    pthread_mutex_unlock(&S.lock);
    close(c);
  }
  return NULL;
}

/* Starts the server and points every proxy variable at it. */
static void start(void) {
  S.fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  pthread_t t;
  if (S.fd < 0 || bind(S.fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(S.fd, 64) != 0 ||
      getsockname(S.fd, (struct sockaddr *)&a, &alen) != 0 ||
      pthread_create(&t, NULL, server_main, NULL) != 0)
    abort();
  char proxy[64];
  snprintf(proxy, sizeof proxy, "http://127.0.0.1:%u", ntohs(a.sin_port));
  static const char *const vars[] = {"http_proxy", "https_proxy", "HTTPS_PROXY",
                                     "all_proxy", "ALL_PROXY"};
  for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
    setenv(vars[i], proxy, 1);
  unsetenv("no_proxy");
  unsetenv("NO_PROXY");
}

/* Splits the input into the three answers (copied). */
static void set_answers(const uint8_t *data, size_t size) {
  static const int statuses[] = {200, 200, 200, 201, 400, 401, 404, 500};
  pthread_mutex_lock(&S.lock);
  S.status[DESCRIBE] = statuses[data[0] & 7];
  S.status[QUERY] = statuses[(data[0] >> 3) & 7];
  S.status[OTHER] = data[0] & 0x40 ? 500 : 200;
  const uint8_t *p = data + 1, *end = data + size;
  for (int i = 0; i < 3; i++) {
    const uint8_t *nul = i < 2 ? memchr(p, 0, (size_t)(end - p)) : NULL;
    S.len[i] = nul ? (size_t)(nul - p) : (size_t)(end - p);
    loom_free(S.body[i]);
    S.body[i] = loom_malloc(S.len[i] + 1);
    memcpy(S.body[i], p, S.len[i]);
    p = nul ? nul + 1 : end;
  }
  pthread_mutex_unlock(&S.lock);
}

static void search(struct loom_pinecone *pc) {
  uint32_t dim = loom_pinecone_dim(pc);
  if (dim < 1 || dim > LOOM_HNSW_MAX_DIM)
    abort(); /* opened with a dimension no index has */
  struct loom_rag_embedder emb = loom_rag_hash_embedder(dim);
  struct loom_rag r = {
      .remote = pc, .embedder = &emb, .tenant = "t1", .collection = "kb"};
  struct loom_rag_query q = {
      .text = "fuzz", .top_k = 3, .mode = LOOM_RAG_VECTOR};
  json_t *hits = NULL;
  struct loom_error e;
  if (loom_rag_search(&r, &q, &hits, &e) == LOOM_OK) {
    size_t i;
    json_t *h;
    if (json_array_size(hits) > 3)
      abort();
    json_array_foreach(
        hits, i, h) if (!json_is_string(json_object_get(h, "id"))) abort();
    json_decref(hits);
  }
  float *v = loom_calloc(dim, sizeof *v);
  v[0] = 1;
  struct loom_vrecord rec = {.id = "a", .values = v};
  const char *ids[] = {"a"};
  (void)loom_pinecone_upsert(pc, "", &rec, 1, &e);
  (void)loom_pinecone_delete(pc, "", ids, 1, &e);
  loom_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  if (!S.fd)
    start();
  set_answers(data, size);
  struct loom_pinecone *pc = NULL;
  struct loom_error e = {0};
  if (loom_pinecone_open("http://pinecone.fuzz", "key", "kb", &pc, &e) ==
      LOOM_OK) {
    search(pc);
    loom_pinecone_close(pc);
  } else if (!e.message[0]) {
    abort(); /* a refusal says why */
  }
  return 0;
}
