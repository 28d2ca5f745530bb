/*
 * rag — ingestion and hybrid search (see rag.h for the model).
 *
 * Ingest order matters for crash safety: new vectors are upserted first
 * (same ids overwrite), then stale vectors (chunks beyond the new count)
 * are deleted, and the document row with its chunks and its content hash
 * is written last. A crash in between leaves the old hash in place, so the
 * next ingest of the file redoes the work.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/rag.h"
#include "agents/rag_internal.h"
#include "core/alloc.h"
#include "stores/store.h"
#include "stores/vector_store.h"

static void sha256_hex(const void *parts[], const size_t lens[], size_t n,
                       char *hex, size_t hexlen) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  for (size_t i = 0; i < n; i++)
    EVP_DigestUpdate(ctx, parts[i], lens[i]);
  EVP_DigestFinal_ex(ctx, md, &mdlen);
  EVP_MD_CTX_free(ctx);
  size_t w = 0;
  for (unsigned int i = 0; i < mdlen && w + 2 < hexlen; i++, w += 2)
    snprintf(hex + w, 3, "%02x", md[i]);
  hex[w] = 0;
}

/* The chunk's vector metadata (also stored on the chunk row). */
static json_t *chunk_meta(const struct loom_rag *r, const char *doc_id,
                          const char *source, const char *title,
                          const struct loom_rag_chunk *c, size_t idx,
                          const json_t *extra) {
  json_t *m = json_is_object(extra) ? json_deep_copy(extra) : json_object();
  json_object_set_new(m, "tenant", json_string(r->tenant));
  json_object_set_new(m, "document_id", json_string(doc_id));
  json_object_set_new(m, "source", json_string(source));
  json_object_set_new(m, "title", json_string(title));
  if (c->heading)
    json_object_set_new(m, "heading", json_string(c->heading));
  if (c->page)
    json_object_set_new(m, "page", json_integer((json_int_t)c->page));
  json_object_set_new(m, "chunk", json_integer((json_int_t)idx));
  json_object_set_new(m, "text", json_string(c->text));
  return m;
}

/* The document's title: given, else its first heading, else the source. */
static const char *pick_title(const struct loom_rag_ingest_opts *o,
                              const struct loom_rag_chunks *cs,
                              const char *source) {
  if (o->title)
    return o->title;
  if (cs->n && cs->v[0].heading) {
    static _Thread_local char first[256];
    const char *h = cs->v[0].heading, *gt = strstr(h, " > ");
    size_t n = gt ? (size_t)(gt - h) : strlen(h);
    if (n >= sizeof first)
      n = sizeof first - 1;
    memcpy(first, h, n);
    first[n] = 0;
    return first;
  }
  const char *slash = strrchr(source, '/');
  return slash ? slash + 1 : source;
}

/* Deletes vectors `<doc>#from` .. `<doc>#(to-1)`. */
static loom_err drop_vectors(const struct loom_rag *r, const char *doc,
                             size_t from, size_t to, struct loom_error *e) {
  loom_err err = LOOM_OK;
  for (size_t i = from; i < to && !err; i++) {
    char id[96];
    if (snprintf(id, sizeof id, "%s#%zu", doc, i) >= (int)sizeof id)
      return loom_error_set(e, LOOM_ERR_TOO_LARGE, "document id too long");
    const char *ids[] = {id};
    err = rag_vec_delete(r, ids, 1, e);
  }
  return err;
}

struct prepared {
  struct loom_rag_chunks cs;
  char (*ids)[64];
  json_t **meta;
  float *vecs;
};

static void prepared_cleanup(struct prepared *p) {
  for (size_t i = 0; p->meta && i < p->cs.n; i++)
    json_decref(p->meta[i]);
  loom_free(p->meta);
  loom_free(p->ids);
  loom_free(p->vecs);
  loom_rag_chunks_cleanup(&p->cs);
}

/* Embeds the chunks and writes vectors, then the document row. */
static loom_err index_chunks(const struct loom_rag *r, struct prepared *p,
                             const struct loom_document *doc,
                             const json_t *extra, struct loom_error *e) {
  size_t n = p->cs.n;
  uint32_t dim = r->embedder->dim;
  const char **texts = loom_calloc(n ? n : 1, sizeof *texts);
  struct loom_vrecord *recs = loom_calloc(n ? n : 1, sizeof *recs);
  struct loom_chunk *rows = loom_calloc(n ? n : 1, sizeof *rows);
  p->ids = loom_calloc(n ? n : 1, sizeof *p->ids);
  p->meta = loom_calloc(n ? n : 1, sizeof *p->meta);
  p->vecs = loom_calloc((n ? n : 1) * dim, sizeof *p->vecs);
  for (size_t i = 0; i < n; i++) {
    texts[i] = p->cs.v[i].text;
    snprintf(p->ids[i], sizeof p->ids[i], "%s#%zu", doc->document_id, i);
    p->meta[i] = chunk_meta(r, doc->document_id, doc->source, doc->title,
                            &p->cs.v[i], i, extra);
    recs[i] = (struct loom_vrecord){p->ids[i], p->vecs + i * dim, p->meta[i]};
    rows[i] = (struct loom_chunk){p->cs.v[i].text, p->ids[i], p->meta[i]};
  }
  loom_err err =
      n ? r->embedder->embed(r->embedder->self, texts, n, p->vecs, e) : LOOM_OK;
  if (!err && n)
    err = rag_vec_upsert(r, recs, n, e);
  if (!err)
    err = loom_store_put_document(r->store, r->tenant, doc, rows, n, e);
  loom_free(texts);
  loom_free(recs);
  loom_free(rows);
  return err;
}

static size_t pick_overlap(const struct loom_rag_ingest_opts *o, size_t size) {
  if (!o->default_overlap)
    return o->overlap;
  size_t ov = LOOM_RAG_DEFAULT_OVERLAP;
  return ov > size / 4 ? size / 4 : ov;
}

/* The stored chunk count of the document when its hash is `hash`
 * (*same true), or its chunk count otherwise; 0 when new. */
static loom_err previous(const struct loom_rag *r, const char *doc_id,
                         const char *hash, bool *same, size_t *nchunks,
                         struct loom_error *e) {
  json_t *row = NULL;
  *same = false;
  *nchunks = 0;
  loom_err err = loom_store_get_document(r->store, r->tenant, doc_id, &row, e);
  if (err == LOOM_ERR_NOT_FOUND)
    return LOOM_OK;
  if (err)
    return err;
  const char *old = json_string_value(json_object_get(row, "content_hash"));
  *same = old && !strcmp(old, hash);
  *nchunks = (size_t)json_integer_value(json_object_get(row, "chunks"));
  json_decref(row);
  return LOOM_OK;
}

loom_err loom_rag_ingest(const struct loom_rag *r, const char *source,
                         const char *data, size_t len,
                         const struct loom_rag_ingest_opts *o,
                         struct loom_rag_ingest_result *res,
                         struct loom_error *e) {
  memset(res, 0, sizeof *res);
  loom_err err = rag_vec_check(r, e);
  if (err)
    return err;
  size_t size = o->chunk_size ? o->chunk_size : LOOM_RAG_DEFAULT_CHUNK_SIZE;
  size_t overlap = pick_overlap(o, size);
  const char *coll = r->collection ? r->collection : "";
  char doc_id[65], hash[65], params[96];
  const void *idp[] = {coll, "\n", source};
  const size_t idl[] = {strlen(coll), 1, strlen(source)};
  sha256_hex(idp, idl, 3, doc_id, sizeof doc_id);
  doc_id[32] = 0;
  memcpy(res->document_id, doc_id, 33);
  snprintf(params, sizeof params, "%zu:%zu:%d:%s:%u\n", size, overlap,
           (int)o->format, r->embedder->name, r->embedder->dim);
  char *meta_text = o->metadata
                        ? json_dumps(o->metadata, JSON_SORT_KEYS | JSON_COMPACT)
                        : NULL;
  const void *hp[] = {params, meta_text ? meta_text : "", data};
  const size_t hl[] = {strlen(params), meta_text ? strlen(meta_text) : 0, len};
  sha256_hex(hp, hl, 3, hash, sizeof hash);
  free(meta_text);
  bool same;
  size_t old_n;
  err = previous(r, doc_id, hash, &same, &old_n, e);
  if (err || same) {
    res->unchanged = same;
    res->chunks = old_n;
    return err;
  }
  struct prepared p = {0};
  if ((err = loom_rag_chunk(data, len, o->format, size, overlap, &p.cs, e)))
    goto out;
  struct loom_document doc = {.document_id = doc_id,
                              .collection = coll,
                              .source = source,
                              .title = pick_title(o, &p.cs, source),
                              .content_type = loom_rag_format_mime(o->format),
                              .content_hash = hash,
                              .metadata = o->metadata};
  if ((err = index_chunks(r, &p, &doc, o->metadata, e)))
    goto out;
  if (old_n > p.cs.n && (err = drop_vectors(r, doc_id, p.cs.n, old_n, e)))
    goto out;
  res->chunks = p.cs.n;
out:
  prepared_cleanup(&p);
  return err;
}

loom_err loom_rag_delete(const struct loom_rag *r, const char *document_id,
                         struct loom_error *e) {
  json_t *ids = NULL;
  loom_err err =
      loom_store_delete_document(r->store, r->tenant, document_id, &ids, e);
  if (err)
    return err;
  size_t n = json_array_size(ids);
  const char **v = loom_calloc(n ? n : 1, sizeof *v);
  for (size_t i = 0; i < n; i++)
    v[i] = json_string_value(json_array_get(ids, i));
  if (n)
    err = rag_vec_delete(r, v, n, e);
  loom_free(v);
  json_decref(ids);
  return err;
}

bool loom_rag_mode_parse(const char *s, enum loom_rag_mode *out) {
  static const char *const names[] = {"hybrid", "vector", "keyword"};
  for (int i = 0; s && i < 3; i++)
    if (!strcmp(s, names[i])) {
      *out = (enum loom_rag_mode)i;
      return true;
    }
  return false;
}
