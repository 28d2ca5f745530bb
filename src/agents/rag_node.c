/*
 * rag_node — the `retrieve` node kind, the `retrieve` tool, and the
 * data-directory resolver (see rag_node.h).
 *
 * The node finishes its task inside `start`: a search is a few
 * milliseconds of SQLite and index work, and runs execute on threads that
 * may block (engine.h). The resolver is read without a lock: it is set at
 * start-up before any run, as node kinds are.
 */
#include "agents/rag_node.h"

#include <pthread.h>
#include <string.h>

#include "agents/llm_node.h"
#include "agents/tools.h"
#include "core/alloc.h"
#include "engine/engine.h"
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

static void retrieve_start(struct loom_task *t) {
  const json_t *c = settings(loom_task_node(t));
  struct loom_error e = {0};
  struct loom_rag rag = {0};
  char *text = NULL;
  json_t *hits = NULL;
  loom_err err = query_text(c, loom_task_state(t), &text, &e);
  if (err)
    goto out;
  const char *index = json_string_value(json_object_get(c, "index"));
  if ((err = loom_rag_resolve(index, &rag, &e)))
    goto out;
  json_t *k = json_object_get(c, "top_k");
  struct loom_rag_query q = {.text = text,
                             .top_k = k ? (size_t)json_integer_value(k)
                                        : DEFAULT_TOP_K,
                             .filter = json_object_get(c, "filter")};
  loom_rag_mode_parse(json_string_value(json_object_get(c, "mode")), &q.mode);
  err = loom_rag_search(&rag, &q, &hits, &e);
  loom_rag_release(&rag);
out:
  loom_free(text);
  if (err) {
    loom_task_fail(t, err, "node '%s': %s", loom_task_node(t)->name, e.message);
    return;
  }
  const char *output = json_string_value(json_object_get(c, "output"));
  json_t *writes = json_object();
  json_object_set_new(writes, output ? output : "documents", hits);
  loom_task_done(t, writes);
}

static const struct loom_node_kind RETRIEVE_KIND = {
    .name = "retrieve", .compile = retrieve_compile, .start = retrieve_start};

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
