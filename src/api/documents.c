/*
 * documents — documents and hybrid search over a vector index:
 *
 *   POST   /indexes/{index}/documents        ingest one document
 *          {"source", "text", "format"?, "title"?, "metadata"?,
 *           "chunk_size"?, "overlap"?} -> {"document_id", "chunks",
 *           "unchanged"} (201 when indexed, 200 when unchanged); a PDF
 *          comes as {"format": "pdf", "data": base64 of the file, ...}
 *   GET    /indexes/{index}/documents        {"documents": [...]}
 *   GET    /indexes/{index}/documents/{id}   the document row
 *   DELETE /indexes/{index}/documents/{id}   204
 *   POST   /indexes/{index}/search           {"query", "top_k"?, "mode"?,
 *           "filter"?} -> {"hits": [...]}
 *
 * The index is one of the Pinecone-compatible API's (pinecone.h); a
 * document POSTed to a missing index creates it with the configured embedder's
 * dimension and cosine metric. The same registration installs the
 * process-wide retrieval resolver over those indexes (agents/rag_node.h),
 * registers the `retrieve` node kind before graphs load, and adds the
 * `retrieve` tool. The embedder and where vectors live are configuration
 * (LOOM_EMBED_MODEL, LOOM_PINECONE_URL) read by agents/rag_backends.h,
 * the resolver `loom run` uses too; the routes, the node and the tool all
 * go through it, so they agree.
 * Handlers run on retrieval's own threads (loom_rag_pool, io/pool.h), not
 * libuv's pool: with LOOM_PINECONE_URL at this server, an ingest waits for
 * a Pinecone request of its own, which needs one of libuv's threads.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agents/nodes.h"
#include "agents/rag_backends.h"
#include "agents/rag_node.h"
#include "agents/rag_pool.h"
#include "agents/tools.h"
#include "api/internal.h"
#include "api/pinecone.h"
#include "api/routes.h"
#include "core/alloc.h"
#include "core/base64.h"

#define DOC_MAX_TEXT (8u << 20)
#define DOC_MAX_PDF (8u << 20) /* decoded bytes */

static struct loom_app *doc_app;
static struct loom_rag_backends *doc_be; /* the configured backends */

/* The index named `name` (created locally when `create` and absent). */
static loom_err open_index(const char *name, bool create, struct loom_rag *rag,
                           struct loom_error *e) {
  loom_err err = create ? loom_rag_backends_create(doc_be, name, e) : LOOM_OK;
  return err ? err : loom_rag_resolve(name, rag, e);
}

void loom_api_documents_shutdown(void) {
  loom_rag_pool_shutdown(); /* searches in flight use the backends */
  loom_rag_set_resolver(NULL);
  loom_rag_backends_free(doc_be);
  doc_be = NULL;
}

/* ---- handlers: captured on the loop, run on the pool ---- */

/* One request: what it needs (borrowed from the suspended request) and
 * its answer, built on a pool thread. */
struct doc_job {
  void (*run)(struct doc_job *j);
  const char *index, *id, *ctype, *body;
  size_t body_len;
  unsigned status; /* 0: answer with `err` */
  json_t *reply;   /* NULL with status 204: no body */
  struct loom_error err;
  const char *code; /* with status >= 400 and a message in err */
};

static void fail(struct doc_job *j, unsigned status, const char *code,
                 const char *fmt, ...) LOOM_PRINTF(4, 5);

static void fail(struct doc_job *j, unsigned status, const char *code,
                 const char *fmt, ...) {
  char msg[sizeof j->err.message]; /* the arguments may be j->err.message */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  memcpy(j->err.message, msg, sizeof msg);
  j->status = status;
  j->code = code;
}

static json_t *body_object(struct doc_job *j) {
  json_t *b = NULL;
  unsigned st =
      loom_http_json_check(j->ctype, j->body, j->body_len, &b, &j->err);
  if (st == 0 && json_is_object(b))
    return b;
  json_decref(b);
  if (st)
    fail(j, st, st == 415 ? "unsupported_media_type" : "invalid_json", "%s",
         j->err.message);
  else
    fail(j, 400, "invalid_json", "request body must be a JSON object");
  return NULL;
}

/* The format the request names ("format", else the source's extension;
 * "data" means a PDF); false, failed, when it names none we know. */
static bool read_format(struct doc_job *j, const json_t *b,
                        enum loom_rag_format *f) {
  static const struct {
    const char *name;
    enum loom_rag_format f;
  } names[] = {{"text", LOOM_RAG_TEXT},
               {"markdown", LOOM_RAG_MARKDOWN},
               {"html", LOOM_RAG_HTML},
               {"pdf", LOOM_RAG_PDF}};
  const char *format = json_string_value(json_object_get(b, "format"));
  bool pdf_data = json_object_get(b, "data") != NULL;
  *f =
      pdf_data
          ? LOOM_RAG_PDF
          : loom_rag_format_of(json_string_value(json_object_get(b, "source")));
  if (!pdf_data && *f == LOOM_RAG_PDF)
    *f = LOOM_RAG_TEXT; /* "text" of a .pdf source: text already extracted */
  if (!format)
    return true;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcmp(format, names[i].name) &&
        (names[i].f == LOOM_RAG_PDF) == pdf_data) {
      *f = names[i].f;
      return true;
    }
  fail(j, 422, "invalid_request",
       "'format' is text, markdown or html with 'text', or pdf with 'data' "
       "(the PDF file, base64)");
  return false;
}

/* chunk_size and overlap, when given, are integers: a string or a
 * negative number was read as 0 (the default) or as a huge size. */
static bool sizes_ok(struct doc_job *j, const json_t *b) {
  static const char *const names[] = {"chunk_size", "overlap"};
  for (size_t i = 0; i < 2; i++) {
    const json_t *v = json_object_get(b, names[i]);
    if (v && (!json_is_integer(v) || json_integer_value(v) < 0)) {
      fail(j, 422, "invalid_request",
           "'%s' must be a number of bytes (chunk_size 16 to 32000, "
           "overlap under half of it)",
           names[i]);
      return false;
    }
  }
  return true;
}

static bool read_ingest(struct doc_job *j, const json_t *b,
                        struct loom_rag_ingest_opts *o) {
  const char *source = json_string_value(json_object_get(b, "source"));
  json_t *meta = json_object_get(b, "metadata");
  json_t *body =
      json_object_get(b, json_object_get(b, "data") ? "data" : "text");
  if (!source || !*source || !json_is_string(body)) {
    fail(j, 422, "invalid_request",
         "'source' (the document's identity, e.g. its path) and 'text' (or "
         "for a PDF 'data', the file in base64) are required strings");
    return false;
  }
  if (!json_object_get(b, "data") && json_string_length(body) > DOC_MAX_TEXT) {
    fail(j, 413, "too_large", "'text' is over %u MB", DOC_MAX_TEXT >> 20);
    return false;
  }
  if (meta && !json_is_object(meta)) {
    fail(j, 422, "invalid_request", "'metadata' must be an object");
    return false;
  }
  if (!read_format(j, b, &o->format) || !sizes_ok(j, b))
    return false;
  o->title = json_string_value(json_object_get(b, "title"));
  o->metadata = meta;
  o->chunk_size = (size_t)json_integer_value(json_object_get(b, "chunk_size"));
  json_t *ov = json_object_get(b, "overlap");
  o->overlap = (size_t)json_integer_value(ov);
  o->default_overlap = !json_is_integer(ov);
  return true;
}

/* The PDF in "data" (base64), decoded into *pdf (loom_free it); false,
 * failed with a 400 or 413 that says what is wrong, otherwise. */
static bool read_pdf(struct doc_job *j, const json_t *data, unsigned char **pdf,
                     size_t *len) {
  size_t n = json_string_length(data);
  *pdf = NULL;
  if (n / 4 * 3 > DOC_MAX_PDF + 3) {
    fail(j, 413, "too_large", "the PDF is over %u MB", DOC_MAX_PDF >> 20);
    return false;
  }
  *pdf = loom_malloc(LOOM_BASE64_DECODED_MAX(n));
  if (loom_base64_decode(json_string_value(data), n, *pdf, len, &j->err)) {
    fail(j, 400, "invalid_pdf", "'data' must be the PDF file in base64: %s",
         j->err.message);
    return false;
  }
  if (*len > DOC_MAX_PDF) {
    fail(j, 413, "too_large", "the PDF is over %u MB", DOC_MAX_PDF >> 20);
    return false;
  }
  if (*len < 5 || memcmp(*pdf, "%PDF-", 5)) {
    fail(j, 400, "invalid_pdf",
         "'data' is not a PDF (the decoded bytes do not start with %%PDF-)");
    return false;
  }
  return true;
}

static void post_document(struct doc_job *j) {
  json_t *b = body_object(j);
  struct loom_rag_ingest_opts o = {0};
  struct loom_rag rag = {0};
  unsigned char *pdf = NULL;
  size_t len = 0;
  if (!b || !read_ingest(j, b, &o))
    goto out;
  json_t *text = json_object_get(b, "text");
  const char *data = json_string_value(text);
  len = json_string_length(text);
  if (o.format == LOOM_RAG_PDF) {
    if (!read_pdf(j, json_object_get(b, "data"), &pdf, &len))
      goto out;
    data = (const char *)pdf;
  }
  if (open_index(j->index, true, &rag, &j->err))
    goto out;
  struct loom_rag_ingest_result r;
  loom_err err =
      loom_rag_ingest(&rag, json_string_value(json_object_get(b, "source")),
                      data, len, &o, &r, &j->err);
  loom_rag_release(&rag);
  if (err && o.format == LOOM_RAG_PDF &&
      (err == LOOM_ERR_PARSE || err == LOOM_ERR_UNSUPPORTED))
    fail(j, 400, "invalid_pdf", "%s", j->err.message); /* poppler refused it */
  if (!err) {
    j->status = r.unchanged ? 200 : 201;
    j->reply =
        json_pack("{s:s, s:I, s:b}", "document_id", r.document_id, "chunks",
                  (json_int_t)r.chunks, "unchanged", r.unchanged);
  }
out:
  loom_free(pdf);
  json_decref(b);
}

static void list_documents(struct doc_job *j) {
  json_t *rows = NULL;
  if (!loom_store_list_documents(doc_app->store, API_TENANT, j->index, &rows,
                                 &j->err)) {
    j->status = 200;
    j->reply = json_pack("{s:o}", "documents", rows);
  }
}

/* The document `{id}` when it belongs to `{index}`; else NULL, failed. */
static json_t *this_document(struct doc_job *j) {
  json_t *row = NULL;
  if (loom_store_get_document(doc_app->store, API_TENANT, j->id, &row, &j->err))
    return NULL;
  const char *coll = json_string_value(json_object_get(row, "collection"));
  if (!coll || strcmp(coll, j->index)) {
    json_decref(row);
    fail(j, 404, "not_found", "no document '%s' in index '%s'", j->id,
         j->index);
    return NULL;
  }
  return row;
}

static void get_document(struct doc_job *j) {
  json_t *row = this_document(j);
  if (row) {
    j->status = 200;
    j->reply = row;
  }
}

static void delete_document(struct doc_job *j) {
  json_t *row = this_document(j);
  struct loom_rag rag = {0};
  if (!row || open_index(j->index, false, &rag, &j->err)) {
    json_decref(row);
    return;
  }
  json_decref(row);
  loom_err err = loom_rag_delete(&rag, j->id, &j->err);
  loom_rag_release(&rag);
  if (!err)
    j->status = 204;
}

static void search(struct doc_job *j) {
  json_t *b = body_object(j), *hits = NULL;
  struct loom_rag rag = {0};
  if (!b)
    return;
  const char *mode = json_string_value(json_object_get(b, "mode"));
  json_t *k = json_object_get(b, "top_k");
  struct loom_rag_query q = {
      .text = json_string_value(json_object_get(b, "query")),
      .top_k = json_is_integer(k) ? (size_t)json_integer_value(k) : 0,
      .filter = json_object_get(b, "filter")};
  if (!q.text || (mode && !loom_rag_mode_parse(mode, &q.mode)) ||
      (k && (!json_is_integer(k) || json_integer_value(k) < 1))) {
    fail(j, 422, "invalid_request",
         "'query' (a string) is required; 'top_k' is a positive integer; "
         "'mode' is hybrid, vector or keyword");
  } else if (!open_index(j->index, false, &rag, &j->err)) {
    loom_err err = loom_rag_search(&rag, &q, &hits, &j->err);
    loom_rag_release(&rag);
    if (!err) {
      j->status = 200;
      j->reply = json_pack("{s:o}", "hits", hits);
    }
  }
  json_decref(b);
}

static void job_work_cb(void *arg) {
  struct doc_job *j = arg;
  loom_error_clear(&j->err);
  j->run(j);
}

static void job_done_cb(struct loom_http_req *req, void *arg) {
  struct doc_job *j = arg;
  if (!req)
    ; /* the server is stopping: nobody to answer */
  else if (j->status == 0)
    loom_http_respond_err(req, &j->err);
  else if (j->code)
    loom_http_respond_error(req, j->status, j->code, "%s", j->err.message);
  else if (j->status == 204)
    loom_http_respond_raw(req, 204, NULL, "", 0);
  else {
    loom_http_respond_json(req, j->status, j->reply);
    j->reply = NULL;
  }
  json_decref(j->reply);
  loom_free(j);
}

struct doc_route {
  const char *method, *pattern;
  void (*run)(struct doc_job *j);
};

/* On the loop thread: captures the request into a job for the pool (the
 * handlers block on SQLite, fsync, and with a provider embedder or a
 * remote index on the network). */
static void doc_handler(struct loom_http_req *req, void *ud) {
  const struct doc_route *r = ud;
  struct doc_job *j = LOOM_NEW(struct doc_job);
  j->run = r->run;
  j->index = loom_http_param(req, "index");
  j->id = loom_http_param(req, "id");
  j->ctype = loom_http_header(req, "Content-Type");
  j->body = loom_http_body(req, &j->body_len);
  struct loom_pool *pool = loom_rag_pool();
  if (!pool) {
    loom_free(j);
    api_fail(req, 503, "unavailable", "cannot start the retrieval threads");
    return;
  }
  api_offload_to(req, pool, job_work_cb, job_done_cb, j);
}

loom_err loom_api_documents_routes(struct loom_http_router *router,
                                   struct loom_app *app, struct loom_error *e) {
  doc_app = app;
  loom_rag_backends_free(doc_be); /* a previous app's, not shut down */
  struct loom_rag_backends_opts o = {.config = app->config,
                                     .store = app->store,
                                     .tenant = API_TENANT,
                                     .indexes = pc_indexes};
  doc_be = loom_rag_backends_new(&o);
  struct loom_rag_resolver resolver = loom_rag_backends_resolver(doc_be);
  loom_rag_set_resolver(&resolver);
  loom_err err = loom_rag_node_kind_register(e);
  struct loom_tools *tools = loom_agents_tools();
  if (!err && tools && !loom_tools_has(tools, "retrieve"))
    err = loom_rag_tool_add(tools, NULL, e);
  static const struct doc_route routes[] = {
      {"POST", "/indexes/{index}/documents", post_document},
      {"GET", "/indexes/{index}/documents", list_documents},
      {"GET", "/indexes/{index}/documents/{id}", get_document},
      {"DELETE", "/indexes/{index}/documents/{id}", delete_document},
      {"POST", "/indexes/{index}/search", search},
  };
  for (size_t i = 0; !err && i < sizeof routes / sizeof routes[0]; i++)
    err = loom_http_route_add(router, routes[i].method, routes[i].pattern,
                              doc_handler, (void *)&routes[i], e);
  return err;
}
