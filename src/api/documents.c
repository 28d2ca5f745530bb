/*
 * documents — documents and hybrid search over a vector index:
 *
 *   POST   /indexes/{index}/documents        ingest one document
 *          {"source", "text", "format"?, "title"?, "metadata"?,
 *           "chunk_size"?, "overlap"?} -> {"document_id", "chunks",
 *           "unchanged"} (201 when indexed, 200 when unchanged)
 *   GET    /indexes/{index}/documents        {"documents": [...]}
 *   GET    /indexes/{index}/documents/{id}   the document row
 *   DELETE /indexes/{index}/documents/{id}   204
 *   POST   /indexes/{index}/search           {"query", "top_k"?, "mode"?,
 *           "filter"?} -> {"hits": [...]}
 *
 * The index is one of the Pinecone-compatible API's (pinecone.h); a
 * document POSTed to a missing index creates it with the hash embedder's
 * dimension and cosine metric. The same registration installs the
 * process-wide retrieval resolver over those indexes (agents/rag_node.h),
 * registers the `retrieve` node kind before graphs load, and adds the
 * `retrieve` tool. Handlers run on the loop thread and block briefly
 * (SQLite, WAL fsync), like the Pinecone data plane.
 */
#include <string.h>

#include "agents/nodes.h"
#include "agents/rag_node.h"
#include "agents/tools.h"
#include "api/internal.h"
#include "api/pinecone.h"
#include "api/routes.h"
#include "core/alloc.h"
#include "stores/vector_indexes.h"

#define DOC_MAX_TEXT (8u << 20)

static struct loom_app *doc_app;
static struct loom_rag_embedder doc_embedder;

/* ---- the resolver over the API's indexes ---- */

static loom_err api_open_cb(void *ud, const char *name, struct loom_rag *out,
                            struct loom_error *e) {
  (void)ud;
  struct loom_vindexes *ix = pc_indexes();
  struct loom_vstore *vs = ix ? loom_vindexes_acquire(ix, name, NULL) : NULL;
  if (!vs)
    return loom_error_set(e, LOOM_ERR_NOT_FOUND, "no index '%s'",
                          name ? name : "");
  *out = (struct loom_rag){.store = doc_app->store,
                           .vectors = vs,
                           .embedder = &doc_embedder,
                           .tenant = API_TENANT,
                           .collection = name};
  return LOOM_OK;
}

static void api_close_cb(void *ud, struct loom_rag *r) {
  (void)ud;
  if (r->vectors)
    loom_vindexes_release(pc_indexes());
}

/* The index of the request (created when `create`), or an answer sent. */
static bool open_index(struct loom_http_req *req, bool create,
                       struct loom_rag *rag) {
  const char *name = loom_http_param(req, "index");
  struct loom_error e = {0};
  if (create && !loom_vindexes_acquire(pc_indexes(), name, NULL)) {
    struct loom_vstore_params p = {.dim = doc_embedder.dim,
                                   .metric = LOOM_METRIC_COSINE};
    loom_err err = loom_vindexes_create(pc_indexes(), name, &p, NULL, &e);
    if (err && err != LOOM_ERR_EXISTS) {
      loom_http_respond_err(req, &e);
      return false;
    }
  } else if (create) {
    loom_vindexes_release(pc_indexes());
  }
  if (loom_rag_resolve(name, rag, &e)) {
    loom_http_respond_err(req, &e);
    return false;
  }
  return true;
}

/* ---- handlers ---- */

static bool read_ingest(struct loom_http_req *req, const json_t *b,
                        struct loom_rag_ingest_opts *o) {
  const char *source = json_string_value(json_object_get(b, "source"));
  const char *format = json_string_value(json_object_get(b, "format"));
  json_t *meta = json_object_get(b, "metadata");
  if (!source || !*source || !json_is_string(json_object_get(b, "text"))) {
    loom_http_respond_error(req, 422, "invalid_request",
                            "'source' (the document's identity, e.g. its "
                            "path) and 'text' are required strings");
    return false;
  }
  if (json_string_length(json_object_get(b, "text")) > DOC_MAX_TEXT) {
    loom_http_respond_error(req, 413, "too_large", "'text' is over %u MB",
                            DOC_MAX_TEXT >> 20);
    return false;
  }
  if (meta && !json_is_object(meta)) {
    loom_http_respond_error(req, 422, "invalid_request",
                            "'metadata' must be an object");
    return false;
  }
  o->format = loom_rag_format_of(source);
  if (format && !strcmp(format, "markdown"))
    o->format = LOOM_RAG_MARKDOWN;
  else if (format && !strcmp(format, "html"))
    o->format = LOOM_RAG_HTML;
  else if (format && !strcmp(format, "text"))
    o->format = LOOM_RAG_TEXT;
  o->title = json_string_value(json_object_get(b, "title"));
  o->metadata = meta;
  o->chunk_size = (size_t)json_integer_value(json_object_get(b, "chunk_size"));
  json_t *ov = json_object_get(b, "overlap");
  o->overlap = (size_t)json_integer_value(ov);
  o->default_overlap = !json_is_integer(ov);
  return true;
}

static void post_document(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *b = NULL;
  struct loom_rag_ingest_opts o = {0};
  struct loom_rag rag = {0};
  if (!loom_http_json_object(req, &b))
    return;
  if (read_ingest(req, b, &o) && open_index(req, true, &rag)) {
    json_t *text = json_object_get(b, "text");
    struct loom_rag_ingest_result r;
    struct loom_error e = {0};
    loom_err err = loom_rag_ingest(
        &rag, json_string_value(json_object_get(b, "source")),
        json_string_value(text), json_string_length(text), &o, &r, &e);
    loom_rag_release(&rag);
    if (err)
      loom_http_respond_err(req, &e);
    else
      loom_http_respond_json(
          req, r.unchanged ? 200 : 201,
          json_pack("{s:s, s:I, s:b}", "document_id", r.document_id, "chunks",
                    (json_int_t)r.chunks, "unchanged", r.unchanged));
  }
  json_decref(b);
}

static void list_documents(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *rows = NULL;
  struct loom_error e = {0};
  if (loom_store_list_documents(doc_app->store, API_TENANT,
                                loom_http_param(req, "index"), &rows, &e))
    loom_http_respond_err(req, &e);
  else
    loom_http_respond_json(req, 200, json_pack("{s:o}", "documents", rows));
}

/* The document `{id}` when it belongs to `{index}`; else answers 404. */
static json_t *this_document(struct loom_http_req *req) {
  json_t *row = NULL;
  struct loom_error e = {0};
  const char *id = loom_http_param(req, "id");
  if (loom_store_get_document(doc_app->store, API_TENANT, id, &row, &e)) {
    loom_http_respond_err(req, &e);
    return NULL;
  }
  const char *coll = json_string_value(json_object_get(row, "collection"));
  if (!coll || strcmp(coll, loom_http_param(req, "index"))) {
    json_decref(row);
    loom_http_respond_error(req, 404, "not_found",
                            "no document '%s' in index '%s'", id,
                            loom_http_param(req, "index"));
    return NULL;
  }
  return row;
}

static void get_document(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *row = this_document(req);
  if (row)
    loom_http_respond_json(req, 200, row);
}

static void delete_document(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *row = this_document(req);
  struct loom_rag rag = {0};
  if (!row || !open_index(req, false, &rag)) {
    json_decref(row);
    return;
  }
  json_decref(row);
  struct loom_error e = {0};
  loom_err err = loom_rag_delete(&rag, loom_http_param(req, "id"), &e);
  loom_rag_release(&rag);
  if (err)
    loom_http_respond_err(req, &e);
  else
    loom_http_respond_raw(req, 204, NULL, "", 0);
}

static void search(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *b = NULL, *hits = NULL;
  struct loom_rag rag = {0};
  if (!loom_http_json_object(req, &b))
    return;
  const char *mode = json_string_value(json_object_get(b, "mode"));
  json_t *k = json_object_get(b, "top_k");
  struct loom_rag_query q = {
      .text = json_string_value(json_object_get(b, "query")),
      .top_k = json_is_integer(k) ? (size_t)json_integer_value(k) : 0,
      .filter = json_object_get(b, "filter")};
  if (!q.text || (mode && !loom_rag_mode_parse(mode, &q.mode)) ||
      (k && (!json_is_integer(k) || json_integer_value(k) < 1))) {
    loom_http_respond_error(req, 422, "invalid_request",
                            "'query' (a string) is required; 'top_k' is a "
                            "positive integer; 'mode' is hybrid, vector or "
                            "keyword");
  } else if (open_index(req, false, &rag)) {
    struct loom_error e = {0};
    loom_err err = loom_rag_search(&rag, &q, &hits, &e);
    loom_rag_release(&rag);
    if (err)
      loom_http_respond_err(req, &e);
    else
      loom_http_respond_json(req, 200, json_pack("{s:o}", "hits", hits));
  }
  json_decref(b);
}

loom_err loom_api_documents_routes(struct loom_http_router *router,
                                   struct loom_app *app, struct loom_error *e) {
  doc_app = app;
  doc_embedder = loom_rag_hash_embedder(0);
  static const struct loom_rag_resolver resolver = {.open = api_open_cb,
                                                    .close = api_close_cb};
  loom_rag_set_resolver(&resolver);
  loom_err err = loom_rag_node_kind_register(e);
  struct loom_tools *tools = loom_agents_tools();
  if (!err && tools && !loom_tools_has(tools, "retrieve"))
    err = loom_rag_tool_add(tools, NULL, e);
  static const struct {
    const char *method, *pattern;
    loom_http_handler_cb cb;
  } routes[] = {
      {"POST", "/indexes/{index}/documents", post_document},
      {"GET", "/indexes/{index}/documents", list_documents},
      {"GET", "/indexes/{index}/documents/{id}", get_document},
      {"DELETE", "/indexes/{index}/documents/{id}", delete_document},
      {"POST", "/indexes/{index}/search", search},
  };
  for (size_t i = 0; !err && i < sizeof routes / sizeof routes[0]; i++)
    err = loom_http_route_add(router, routes[i].method, routes[i].pattern,
                              routes[i].cb, NULL, e);
  return err;
}
