/*
 * rag_tool — the `retrieve` tool for agents.
 *
 * The tool answers with numbered passages, each headed by its title,
 * heading path and source, so a model can cite them.
 */
#include <stdio.h>
#include <string.h>

#include "agents/rag_node.h"
#include "agents/rag_pool.h"
#include "agents/tools.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "io/pool.h"

#define TOOL_DEFAULT_TOP_K 4
#define TOOL_MAX_TOP_K 20
#define TOOL_MAX_OUTPUT (64 * 1024)

/* ---- the tool ---- */

static const char tool_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"query\":{\"type\":\"string\",\"minLength\":1,"
    "\"description\":\"what to look for, in words\"},"
    "\"top_k\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":20},"
    "\"index\":{\"type\":\"string\",\"description\":\"collection name\"}},"
    "\"required\":[\"query\"],\"additionalProperties\":false}";

static loom_err format_hits(const json_t *hits, char **out,
                            struct loom_error *e) {
  struct loom_buf b;
  loom_buf_init(&b, TOOL_MAX_OUTPUT);
  loom_err err = LOOM_OK;
  size_t i;
  json_t *h;
  if (json_array_size(hits) == 0)
    err = loom_buf_append_str(&b, "No matching passages.");
  json_array_foreach(hits, i, h) {
    const char *title = json_string_value(json_object_get(h, "title"));
    const char *heading = json_string_value(json_object_get(h, "heading"));
    const char *source = json_string_value(json_object_get(h, "source"));
    const char *content = json_string_value(json_object_get(h, "content"));
    err = loom_buf_appendf(&b, "[%zu] %s%s%s (%s)\n%s\n\n", i + 1,
                           title ? title : "", heading ? " - " : "",
                           heading ? heading : "", source ? source : "",
                           content ? content : "");
    if (err == LOOM_ERR_TOO_LARGE) { /* enough for a model: stop there */
      err = LOOM_OK;
      break;
    }
    if (err)
      break;
  }
  if (err) {
    loom_buf_cleanup(&b);
    return loom_error_set(e, err, "cannot format the passages");
  }
  *out = loom_buf_take(&b, NULL);
  return LOOM_OK;
}

/* One tool call: its arguments copied, then its outcome. */
struct search {
  char *index, *query;
  size_t top_k;
  loom_tool_done_cb done;
  void *ud;
  loom_err err;
  struct loom_error e;
  char *text;
};

/* On a retrieval thread: resolve, embed, search (all may block). */
static void search_work_cb(void *arg) {
  struct search *s = arg;
  struct loom_rag_query q = {.text = s->query, .top_k = s->top_k};
  struct loom_rag rag = {0};
  json_t *hits = NULL;
  if ((s->err = loom_rag_resolve(s->index, &rag, &s->e)))
    return;
  s->err = loom_rag_search(&rag, &q, &hits, &s->e);
  loom_rag_release(&rag);
  if (!s->err)
    s->err = format_hits(hits, &s->text, &s->e);
  json_decref(hits);
}

/* On the caller's loop (or, when it stopped, on the retrieval thread: no
 * one to answer then). */
static void search_after_cb(struct loom_loop *loop, void *arg, loom_err st) {
  (void)loop;
  struct search *s = arg;
  if (st == LOOM_OK)
    s->done(s->ud, s->err != LOOM_OK, s->err ? s->e.message : s->text);
  loom_free(s->index);
  loom_free(s->query);
  loom_free(s->text);
  loom_free(s);
}

/* Asynchronous: the search runs on retrieval's threads (rag_pool.h), not
 * on the caller's loop, which an embedding or remote call would stall. */
static loom_err tool_start(void *self, const struct loom_tool_env *env,
                           const json_t *args, loom_tool_done_cb done, void *ud,
                           struct loom_error *e) {
  const char *index = json_string_value(json_object_get(args, "index"));
  if (!index)
    index = self;
  if (!index)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "give \"index\": the collection to search");
  json_t *k = json_object_get(args, "top_k");
  struct search *s = LOOM_NEW(struct search);
  *s = (struct search){
      .index = loom_strdup(index),
      .query = loom_strdup(json_string_value(json_object_get(args, "query"))),
      .top_k = k ? (size_t)json_integer_value(k) : TOOL_DEFAULT_TOP_K,
      .done = done,
      .ud = ud};
  if (!env->loop) { /* no loop to come back to: search here */
    search_work_cb(s);
    search_after_cb(NULL, s, LOOM_OK);
    return LOOM_OK;
  }
  struct loom_pool *pool = loom_rag_pool();
  if (!pool || loom_pool_work(pool, env->loop, search_work_cb, search_after_cb,
                              s) != LOOM_OK) {
    search_after_cb(NULL, s, LOOM_ERR_UNAVAILABLE);
    return loom_error_set(e, LOOM_ERR_UNAVAILABLE,
                          "the retrieval threads are not running");
  }
  return LOOM_OK;
}

loom_err loom_rag_tool_add(struct loom_tools *tools, const char *default_index,
                           struct loom_error *e) {
  struct loom_tool t = {
      .name = "retrieve",
      .description = "Search the document collection for passages relevant "
                     "to a query (keyword and semantic search combined). "
                     "Returns numbered passages with their sources.",
      .parameters = tool_schema,
      .start = tool_start,
      .self = default_index ? loom_strdup(default_index) : NULL,
      .free_self = loom_free};
  loom_err err = loom_tools_add(tools, &t, e);
  if (err)
    loom_free(t.self);
  return err;
}
