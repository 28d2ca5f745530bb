/*
 * The scripted model server (tests/llm-server/server.mjs) started from a
 * test, plus a loom loop with an HTTP client to call it from. Header-only:
 * each test program includes it once.
 *
 * llm_server_start_nodes also registers the model node kinds with the
 * server as the "scripted" endpoint, for tests that run graphs.
 *
 * The server is a node child process with a pipe on its stdin: when the
 * test exits (or crashes), the pipe closes and the server exits too.
 */
#ifndef LOOM_TEST_LLM_SERVER_HARNESS_H
#define LOOM_TEST_LLM_SERVER_HARNESS_H

#include <curl/curl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "agents/nodes.h"
#include "agents/provider.h"
#include "core/config.h"
#include "core/json.h"
#include "io/http_client.h"
#include "io/loop.h"

struct llm_server {
  pid_t pid;
  int stdin_fd;
  unsigned port;
  char base[64]; /* http://127.0.0.1:PORT */
  struct loom_loop *loop;
  struct loom_http_client *http;
};

static void llm_server_client_new_cb(struct loom_loop *loop, void *arg) {
  struct llm_server *s = arg;
  if (loom_http_client_new(loop, 0, &s->http) != LOOM_OK)
    abort();
}

static void llm_server_client_free_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  loom_http_client_free(((struct llm_server *)arg)->http);
}

/* Starts node on a free port; returns false when node is missing. */
static inline bool llm_server_start(struct llm_server *s, const char *extra) {
  memset(s, 0, sizeof *s);
  const char *src = getenv("LOOM_SOURCE_DIR");
  char script[4096];
  snprintf(script, sizeof script, "%s/tests/llm-server/server.mjs",
           src ? src : ".");
  int in[2], out[2];
  if (pipe(in) || pipe(out))
    abort();
  s->pid = fork();
  if (s->pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[1]);
    close(out[0]);
    if (extra)
      execlp("node", "node", script, "--exit-with-stdin", extra, (char *)NULL);
    else
      execlp("node", "node", script, "--exit-with-stdin", (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  s->stdin_fd = in[1];
  FILE *f = fdopen(out[0], "r");
  char line[128] = "";
  if (!fgets(line, sizeof line, f) || sscanf(line, "PORT %u", &s->port) != 1) {
    fclose(f);
    return false;
  }
  fclose(f);
  snprintf(s->base, sizeof s->base, "http://127.0.0.1:%u", s->port);
  loom_http_client_global_init();
  if (loom_loop_new("llm-test", &s->loop) != LOOM_OK ||
      loom_loop_call(s->loop, llm_server_client_new_cb, s) != LOOM_OK)
    abort();
  return true;
}

static inline void llm_server_stop(struct llm_server *s) {
  if (s->loop) {
    if (loom_loop_call(s->loop, llm_server_client_free_cb, s) != LOOM_OK)
      abort();
    loom_loop_free(s->loop);
  }
  if (s->pid > 0) {
    close(s->stdin_fd);
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
  }
  memset(s, 0, sizeof *s);
}

/*
 * Starts the server and registers the model node kinds (llm, agent, ...)
 * with it as the endpoint "scripted" (LOOM_ENDPOINTS=scripted=<base>/v1),
 * so a graph's `model: scripted/<id>` reaches it. Other LOOM_* settings the
 * test wants (prices, ...) must be in the environment before the call.
 * Returns false (the reason on stderr) when node is missing or the
 * registration fails; undo with llm_server_stop_nodes.
 */
static inline bool llm_server_start_nodes(struct llm_server *s) {
  if (!llm_server_start(s, NULL))
    return false;
  char list[128];
  snprintf(list, sizeof list, "scripted=%s/v1", s->base);
  setenv("LOOM_ENDPOINTS", list, 1);
  struct loom_config cfg = {0};
  struct loom_error e = {0};
  bool ok = loom_config_load(&cfg, &e) == LOOM_OK &&
            loom_agents_nodes_register(&cfg, &e) == LOOM_OK;
  if (!ok)
    fprintf(stderr, "register: %s\n", e.message);
  loom_config_cleanup(&cfg);
  return ok;
}

static inline void llm_server_stop_nodes(struct llm_server *s) {
  loom_agents_nodes_shutdown();
  llm_server_stop(s);
}

/* An OpenAI provider for `model` whose base URL is the server's /v1, with
 * `key` as its API key. Free with loom_provider_free. */
static inline struct loom_provider *
llm_server_openai(const struct llm_server *s, const char *model,
                  const char *key) {
  char url[128];
  snprintf(url, sizeof url, "%s/v1", s->base);
  return loom_provider_new(&loom_provider_openai, "openai", model, url, key);
}

/*
 * Runs start_cb(loop, arg) on the server's loop and waits until `done` is
 * posted by whatever callback the start set up (a call's on_done, ...).
 * `start_err`, when not NULL, is where start_cb records whether it
 * started: anything but LOOM_OK returns false at once, without waiting.
 */
static inline bool llm_server_call_wait(struct llm_server *s,
                                        loom_loop_fn_cb start_cb, void *arg,
                                        sem_t *done,
                                        const loom_err *start_err) {
  sem_init(done, 0, 0);
  bool ok = loom_loop_call(s->loop, start_cb, arg) == LOOM_OK &&
            (!start_err || *start_err == LOOM_OK);
  if (ok)
    sem_wait(done);
  sem_destroy(done);
  return ok;
}

static size_t llm_server_write_cb(char *p, size_t sz, size_t n, void *ud) {
  return loom_buf_append(ud, p, sz * n) == LOOM_OK ? sz * n : 0;
}

/* A blocking request to a control endpoint; returns the parsed body. */
static inline json_t *llm_server_control(struct llm_server *s, const char *path,
                                         const char *body) {
  CURL *c = curl_easy_init();
  char url[256];
  snprintf(url, sizeof url, "%s%s", s->base, path);
  struct loom_buf out;
  loom_buf_init(&out, 64u << 20);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, llm_server_write_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
  if (body)
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  if (curl_easy_perform(c) != CURLE_OK)
    abort();
  curl_easy_cleanup(c);
  json_t *v = json_loadb(out.data ? out.data : "null", out.len, 0, NULL);
  loom_buf_cleanup(&out);
  return v;
}

/* Queues scripted responses (a JSON array of specs) after a reset. */
static inline void llm_server_script(struct llm_server *s, const char *specs) {
  json_decref(llm_server_control(s, "/__reset", "{}"));
  json_decref(llm_server_control(s, "/__script", specs));
}

/* The requests the server received, as a JSON array. */
static inline json_t *llm_server_requests(struct llm_server *s) {
  return llm_server_control(s, "/__requests", NULL);
}

#endif
