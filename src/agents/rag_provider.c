/*
 * rag_provider — an embedder backed by a model provider's embeddings
 * endpoint (OpenAI-compatible: OpenAI, vLLM, llama.cpp, Ollama).
 *
 * Retrieval calls embedders synchronously from worker threads, while
 * provider calls are non-blocking requests on an event loop. The embedder
 * therefore owns a small loop with its own HTTP client: a call posts a
 * batch to the loop (at most BATCH texts per request) and waits on a
 * condition variable until the request's callback stores the vectors.
 * Calls from several threads are serialised by `call_lock`, one batch in
 * flight at a time. The dimension is learned at creation by embedding one
 * probe text, so an index can be created to match before any document.
 */
#include <pthread.h>
#include <string.h>

#include "agents/llm_call.h"
#include "agents/rag.h"
#include "core/alloc.h"
#include "io/http_client.h"
#include "io/loop.h"

#define BATCH 64

struct pembed {
  struct loom_rag_embedder base;
  struct loom_provider *p;
  struct loom_loop *loop;
  struct loom_http_client *http;
  pthread_mutex_t call_lock; /* one embed call at a time */
  pthread_mutex_t lock;      /* guards the job's done flag */
  pthread_cond_t cond;
};

struct job {
  struct pembed *pe;
  json_t *inputs;
  bool done;
  loom_err err;
  char error[512];
  struct loom_embeddings emb;
  struct loom_llm_call *call;
};

static void done_cb(void *ud, struct loom_llm_result *r) {
  struct job *j = ud;
  pthread_mutex_lock(&j->pe->lock);
  j->err = r->err;
  snprintf(j->error, sizeof j->error, "%s", r->error ? r->error : "");
  j->emb = r->embeddings; /* moved out */
  memset(&r->embeddings, 0, sizeof r->embeddings);
  j->done = true;
  pthread_cond_signal(&j->pe->cond);
  pthread_mutex_unlock(&j->pe->lock);
}

static void start_cb(struct loom_loop *loop, void *arg) {
  struct job *j = arg;
  struct loom_llm_env env = {.loop = loop, .http = j->pe->http};
  struct loom_llm_call_opts o = {.on_done = done_cb, .ud = j};
  struct loom_error e = {0};
  if (loom_llm_embed_start(&env, j->pe->p, j->inputs, 0, false, &o, &j->call,
                           &e)) {
    j->err = e.code;
    snprintf(j->error, sizeof j->error, "%s", e.message);
    j->done = true; /* no callback will come */
  }
}

/* Embeds texts[0..n) (n <= BATCH) into j->emb. */
static loom_err embed_batch(struct pembed *pe, const char *const *texts,
                            size_t n, struct job *j, struct loom_error *e) {
  *j = (struct job){.pe = pe, .inputs = json_array()};
  for (size_t i = 0; i < n; i++)
    json_array_append_new(j->inputs, json_string(texts[i]));
  loom_err err = loom_loop_call(pe->loop, start_cb, j);
  if (!err) {
    pthread_mutex_lock(&pe->lock);
    while (!j->done)
      pthread_cond_wait(&pe->cond, &pe->lock);
    pthread_mutex_unlock(&pe->lock);
    err = j->err;
  }
  json_decref(j->inputs);
  if (err)
    return loom_error_set(e, err, "embeddings from %s: %s", pe->p->label,
                          j->error[0] ? j->error : loom_strerror(err));
  if (j->emb.n != n || (pe->base.dim && j->emb.dims != pe->base.dim))
    return loom_error_set(e, LOOM_ERR_UPSTREAM,
                          "embeddings from %s: %zu vectors of %zu dimensions "
                          "for %zu texts (expected %u dimensions)",
                          pe->p->label, j->emb.n, j->emb.dims, n, pe->base.dim);
  return LOOM_OK;
}

static loom_err embed_cb(void *self, const char *const *texts, size_t n,
                         float *out, struct loom_error *e) {
  struct pembed *pe = self;
  loom_err err = LOOM_OK;
  pthread_mutex_lock(&pe->call_lock);
  for (size_t at = 0; at < n && !err; at += BATCH) {
    size_t k = n - at < BATCH ? n - at : BATCH;
    struct job j;
    err = embed_batch(pe, texts + at, k, &j, e);
    if (!err)
      memcpy(out + at * pe->base.dim, j.emb.data,
             k * pe->base.dim * sizeof *out);
    loom_embeddings_cleanup(&j.emb);
  }
  pthread_mutex_unlock(&pe->call_lock);
  return err;
}

static void client_new_cb(struct loom_loop *loop, void *arg) {
  struct pembed *pe = arg;
  if (loom_http_client_new(loop, 0, &pe->http) != LOOM_OK)
    pe->http = NULL;
}

static void client_free_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  loom_http_client_free(((struct pembed *)arg)->http);
}

void loom_rag_provider_embedder_free(struct loom_rag_embedder *em) {
  if (!em)
    return;
  struct pembed *pe = em->self;
  if (pe->loop) {
    if (pe->http && loom_loop_call(pe->loop, client_free_cb, pe) != LOOM_OK)
      pe->http = NULL; /* loop gone: nothing left to free it on */
    loom_loop_free(pe->loop);
  }
  loom_provider_free(pe->p);
  pthread_mutex_destroy(&pe->call_lock);
  pthread_mutex_destroy(&pe->lock);
  pthread_cond_destroy(&pe->cond);
  loom_free(pe);
}

loom_err loom_rag_provider_embedder_new(struct loom_provider *p,
                                        struct loom_rag_embedder **out,
                                        struct loom_error *e) {
  struct pembed *pe = LOOM_NEW(struct pembed);
  pe->p = p;
  pe->base = (struct loom_rag_embedder){
      .name = p->label, .embed = embed_cb, .self = pe};
  pthread_mutex_init(&pe->call_lock, NULL);
  pthread_mutex_init(&pe->lock, NULL);
  pthread_cond_init(&pe->cond, NULL);
  loom_err err = loom_loop_new("loom-embed", &pe->loop);
  if (!err && (loom_loop_call(pe->loop, client_new_cb, pe) || !pe->http))
    err = LOOM_ERR_INTERNAL;
  if (err) {
    loom_rag_provider_embedder_free(&pe->base);
    return loom_error_set(e, err, "cannot start the embeddings loop");
  }
  /* Learn the dimension from one probe. */
  static const char *const probe[] = {"dimension probe"};
  struct job j;
  if ((err = embed_batch(pe, probe, 1, &j, e))) {
    loom_embeddings_cleanup(&j.emb);
    loom_rag_provider_embedder_free(&pe->base);
    return err;
  }
  pe->base.dim = (uint32_t)j.emb.dims;
  loom_embeddings_cleanup(&j.emb);
  *out = &pe->base;
  return LOOM_OK;
}
