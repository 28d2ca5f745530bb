/*
 * rag_node — the `retrieve` node kind (see rag_node.h) and the process's
 * index resolver.
 *
 * A retrieve task parks its run like an llm task: `start` renders the
 * query on the run's side, hands the search (resolve, embed the query,
 * vector and keyword search: with a provider embedder or a remote index
 * these are network calls) to retrieval's threads (io/pool.h), and
 * returns. When the search is over, the thread posts the outcome back to
 * the run (loom_task_post), where it finishes the task. A cancel marks
 * the job under its mutex so nothing is posted for the task afterwards;
 * the job is reference-counted (the task's side and the pool side each
 * hold one). The threads start on first use and stop in
 * loom_rag_node_shutdown, which waits for searches in flight.
 *
 * The resolver is read without a lock: it is set at start-up before any
 * run, as node kinds are, and cleared after the node's loop stopped.
 */
#include "agents/rag_node.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "agents/llm_node.h"
#include "agents/tools.h"
#include "core/alloc.h"
#include "engine/engine.h"
#include "engine/parked.h"
#include "agents/rag_pool.h"
#include "io/pool.h"
#include "stores/vector_store.h"

#define DEFAULT_TOP_K 4

static struct loom_rag_resolver resolver;

void loom_rag_set_resolver(const struct loom_rag_resolver *r) {
  if (r)
    resolver = *r;
  else
    memset(&resolver, 0, sizeof resolver);
}

loom_err loom_rag_resolve(const char *name, struct loom_rag *out,
                          struct loom_error *e) {
  if (!resolver.open)
    return loom_error_set(e, LOOM_ERR_UNSUPPORTED,
                          "retrieval is not configured in this process "
                          "(no index resolver)");
  return resolver.open(resolver.ud, name, out, e);
}

void loom_rag_release(struct loom_rag *r) {
  if (resolver.close)
    resolver.close(resolver.ud, r);
}

/* ---- the node kind ---- */

/* The node's settings: under `retrieve:`, or the node mapping itself
 * (`kind: retrieve`). */
static const json_t *settings(const struct loom_node *n) {
  const json_t *c = json_object_get(n->config, "retrieve");
  return json_is_object(c) ? c : n->config;
}

static loom_err retrieve_compile(struct loom_node *node, const char *dir,
                                 int depth, struct loom_error *e) {
  (void)dir, (void)depth;
  const json_t *c = settings(node);
  enum loom_rag_mode mode;
  json_t *v;
  if (!json_is_string(json_object_get(c, "index")))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "node '%s': 'index' (the collection to search) is "
                          "required",
                          node->name);
  static const char *const strings[] = {"query", "output", "mode"};
  for (size_t i = 0; i < 3; i++)
    if ((v = json_object_get(c, strings[i])) && !json_is_string(v))
      return loom_error_set(e, LOOM_ERR_INVALID,
                            "node '%s': '%s' must be a string", node->name,
                            strings[i]);
  if ((v = json_object_get(c, "top_k")) &&
      (!json_is_integer(v) || json_integer_value(v) < 1 ||
       json_integer_value(v) > LOOM_RAG_MAX_TOP_K))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "node '%s': 'top_k' must be an integer from 1 to %d",
                          node->name, LOOM_RAG_MAX_TOP_K);
  if ((v = json_object_get(c, "mode")) &&
      !loom_rag_mode_parse(json_string_value(v), &mode))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "node '%s': 'mode' must be hybrid, vector or "
                          "keyword",
                          node->name);
  if ((v = json_object_get(c, "filter")) && !json_is_object(v))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "node '%s': 'filter' must be an object", node->name);
  return LOOM_OK;
}

/* The query text: a template when it has '{', else a state field. */
static loom_err query_text(const json_t *c, const json_t *state, char **out,
                           struct loom_error *e) {
  const char *q = json_string_value(json_object_get(c, "query"));
  if (!q)
    q = "query";
  if (strchr(q, '{'))
    return loom_llm_template_render(q, state, out, e);
  const char *v = json_string_value(json_object_get(state, q));
  if (!v)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "state field '%s' (the query) is missing or not a "
                          "string",
                          q);
  *out = loom_strdup(v);
  return LOOM_OK;
}

/* One search in flight. */
struct rjob {
  struct loom_parked parked; /* first: the task's state points here */
  /* Copied from the node and the state on the run's side. */
  char *index, *text;
  json_t *filter;
  size_t top_k;
  enum loom_rag_mode mode;
  /* The outcome, set on the pool. */
  loom_err err;
  struct loom_error e;
  json_t *hits;
};

static void rjob_free_cb(struct loom_parked *p) {
  struct rjob *j = (struct rjob *)p;
  loom_free(j->index);
  loom_free(j->text);
  json_decref(j->filter);
  json_decref(j->hits);
  loom_free(j);
}

static void rjob_unref(struct rjob *j) { loom_parked_unref(&j->parked); }

/* The search, on a pool thread (it may block). */
static void search_work_cb(void *arg) {
  struct rjob *j = arg;
  pthread_mutex_lock(&j->parked.mu);
  bool cancelled = j->parked.cancelled;
  pthread_mutex_unlock(&j->parked.mu);
  if (cancelled)
    return;
  struct loom_rag rag = {0};
  struct loom_rag_query q = {
      .text = j->text, .top_k = j->top_k, .mode = j->mode, .filter = j->filter};
  if (!(j->err = loom_rag_resolve(j->index, &rag, &j->e))) {
    j->err = loom_rag_search(&rag, &q, &j->hits, &j->e);
    loom_rag_release(&rag);
  }
}

/* Run side: finishes the task with the search's outcome. */
static void search_finish_cb(void *arg) {
  struct rjob *j = arg;
  struct loom_task *t = loom_parked_claim(&j->parked);
  if (!t) { /* the task is gone; the cancel dropped its reference */
    rjob_unref(j);
    return;
  }
  const struct loom_node *node = loom_task_node(t);
  if (j->err) {
    loom_task_fail(t, j->err, "node '%s': %s", node->name, j->e.message);
  } else {
    const char *output =
        json_string_value(json_object_get(settings(node), "output"));
    json_t *writes = json_object();
    json_object_set_new(writes, output ? output : "documents", j->hits);
    j->hits = NULL;
    loom_task_done(t, writes);
  }
  rjob_unref(j); /* the pool side's */
  rjob_unref(j); /* the task's */
}

/* Pool side, after the search: hands the pool side's reference to the
 * run, unless the task was cancelled. */
static void search_after_cb(struct loom_loop *loop, void *arg, loom_err st) {
  (void)loop;
  struct rjob *j = arg;
  if (st) {
    j->err = st;
    loom_error_set(&j->e, st, "the search could not be queued");
  }
  if (!loom_parked_post(&j->parked, search_finish_cb, j))
    rjob_unref(j);
}

static void retrieve_start(struct loom_task *t) {
  const json_t *c = settings(loom_task_node(t));
  struct loom_error e = {0};
  char *text = NULL;
  struct loom_pool *pool = NULL;
  loom_err err = query_text(c, loom_task_state(t), &text, &e);
  if (!err && !(pool = loom_rag_pool()))
    err = loom_error_set(&e, LOOM_ERR_UNAVAILABLE,
                         "cannot start the retrieval threads");
  if (err) {
    loom_free(text);
    loom_task_fail(t, err, "node '%s': %s", loom_task_node(t)->name, e.message);
    return;
  }
  struct rjob *j = LOOM_NEW(struct rjob);
  json_t *k = json_object_get(c, "top_k");
  const json_t *filter = json_object_get(c, "filter");
  j->index = loom_strdup(json_string_value(json_object_get(c, "index")));
  j->text = text;
  j->filter = filter ? json_deep_copy(filter) : NULL;
  j->top_k = k ? (size_t)json_integer_value(k) : DEFAULT_TOP_K;
  loom_rag_mode_parse(json_string_value(json_object_get(c, "mode")), &j->mode);
  loom_parked_init(&j->parked, t, rjob_free_cb);
  if (loom_pool_work(pool, NULL, search_work_cb, search_after_cb, j) !=
      LOOM_OK) {
    loom_parked_abandon(&j->parked);
    loom_task_fail(t, LOOM_ERR_UNAVAILABLE,
                   "node '%s': the retrieval threads stopped",
                   loom_task_node(t)->name);
  }
  /* Parked: the pool posts search_finish_cb when the search is over. */
}

/* Run side: the run was cancelled; nothing is posted for the task from
 * here on (a search in flight finishes on the pool and is dropped). */
static void retrieve_cancel(struct loom_task *t) {
  struct loom_parked *p = loom_parked_cancel(t);
  if (p)
    loom_parked_unref(p); /* the task's */
}

static const struct loom_node_kind RETRIEVE_KIND = {.name = "retrieve",
                                                    .compile = retrieve_compile,
                                                    .start = retrieve_start,
                                                    .cancel = retrieve_cancel};

loom_err loom_rag_node_kind_register(struct loom_error *e) {
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&lock);
  loom_err err = LOOM_OK;
  if (!loom_engine_node_kind("retrieve") &&
      (err = loom_engine_node_kind_register(&RETRIEVE_KIND)))
    loom_error_set(e, err, "cannot register the retrieve node kind");
  pthread_mutex_unlock(&lock);
  return err;
}
