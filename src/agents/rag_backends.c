/*
 * rag_backends — see rag_backends.h. One object holds the configured
 * embedder (hash, or a provider's, opened lazily), the remote Pinecone
 * indexes opened so far (by name), and the local index table (borrowed
 * from the caller or opened lazily from a directory); `lock` guards the
 * lazily opened parts. The resolver's open fills a struct loom_rag from
 * them; a local index stays acquired (pinned: it cannot be deleted, but
 * creating and deleting other indexes does not wait) until the resolver's
 * close. The local table loads an index's store on its first acquire, so
 * `loom search` on one index loads that index alone, and a store that
 * cannot be opened fails only the requests for it.
 */
#include "agents/rag_backends.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "agents/provider.h"
#include "core/alloc.h"
#include "core/config.h"
#include "io/http_client.h"
#include "stores/pinecone_client.h"
#include "stores/vector_indexes.h"

#define BE_MAX_REMOTES 64

struct loom_rag_backends {
  struct loom_rag_backends_opts o;
  char *tenant, *dir;
  pthread_mutex_t lock; /* guards provider, remotes, own */
  struct loom_rag_embedder hash;
  struct loom_rag_embedder *provider;
  struct {
    char *name;
    struct loom_pinecone *pc;
  } remotes[BE_MAX_REMOTES];
  size_t nremotes;
  struct loom_vindexes *own; /* opened from `dir` */
};

static const char *setting(const char *v) { return v && *v ? v : NULL; }

/* The configured embedder (opened on first use). */
static loom_err embedder(struct loom_rag_backends *b,
                         const struct loom_rag_embedder **out,
                         struct loom_error *e) {
  const char *model = setting(b->o.config->embed_model);
  if (!model) {
    *out = &b->hash;
    return LOOM_OK;
  }
  loom_err err = LOOM_OK;
  pthread_mutex_lock(&b->lock);
  if (!b->provider) {
    struct loom_providers *ps = NULL;
    struct loom_provider *p = NULL;
    loom_http_client_global_init();
    err = loom_providers_new(b->o.config, &ps, e);
    if (!err)
      err = loom_providers_resolve(ps, model, &p, e);
    if (!err)
      err = loom_rag_provider_embedder_new(p, &b->provider, e);
    loom_providers_free(ps);
  }
  *out = b->provider;
  pthread_mutex_unlock(&b->lock);
  if (err) {
    char why[sizeof e->message];
    snprintf(why, sizeof why, "%s", e->message);
    loom_error_set(e, err, "embedder %s (LOOM_EMBED_MODEL): %s", model, why);
  }
  return err;
}

/* The remote index `name` at `url` (opened on first use). */
static loom_err remote_index(struct loom_rag_backends *b, const char *url,
                             const char *name, struct loom_pinecone **out,
                             struct loom_error *e) {
  loom_err err = LOOM_OK;
  *out = NULL;
  pthread_mutex_lock(&b->lock);
  for (size_t i = 0; i < b->nremotes && !*out; i++)
    if (!strcmp(b->remotes[i].name, name))
      *out = b->remotes[i].pc;
  if (!*out && b->nremotes == BE_MAX_REMOTES)
    err = loom_error_set(e, LOOM_ERR_LIMIT, "at most %d remote indexes",
                         BE_MAX_REMOTES);
  if (!*out && !err) {
    loom_http_client_global_init();
    err = loom_pinecone_open(url, setting(b->o.config->pinecone_api_key), name,
                             out, e);
    if (!err) {
      b->remotes[b->nremotes].name = loom_strdup(name);
      b->remotes[b->nremotes++].pc = *out;
    } else if (err == LOOM_ERR_NOT_FOUND) {
      loom_error_set(e, err,
                     "no index '%s' at %s (HTTP 404: create it there first)",
                     name, url);
    } else if (err == LOOM_ERR_UNAUTHORIZED) {
      /* The usual cause is the setting, not the server: say which. */
      loom_error_set(e, err,
                     "the Pinecone at %s refused the key (HTTP 401): %s", url,
                     setting(b->o.config->pinecone_api_key)
                         ? "check PINECONE_API_KEY, a key of that project"
                         : "PINECONE_API_KEY is not set");
    }
  }
  pthread_mutex_unlock(&b->lock);
  return err;
}

/* The local index table (opened from the directory on first use). */
static loom_err local_indexes(struct loom_rag_backends *b,
                              struct loom_vindexes **out,
                              struct loom_error *e) {
  if (b->o.indexes) {
    *out = b->o.indexes();
    return *out ? LOOM_OK
                : loom_error_set(e, LOOM_ERR_UNAVAILABLE,
                                 "the vector indexes are not open");
  }
  loom_err err = LOOM_OK;
  pthread_mutex_lock(&b->lock);
  /* Our own table lives as long as one command (a server passes its
   * own), which will not try again: its errors must not promise to. */
  if (!b->own && !(err = loom_vindexes_open(b->dir, &b->own, e)))
    loom_vindexes_set_one_shot(b->own);
  *out = b->own;
  pthread_mutex_unlock(&b->lock);
  return err;
}

/*
 * A local index that does not exist: say how one is made. The table
 * looks a name it does not know up on disk, so an index another process
 * made (loom ingest beside loom serve) is found, not reported here.
 */
static loom_err not_found(const struct loom_rag_backends *b, const char *name,
                          struct loom_error *e) {
  if (!b->o.indexes) /* a command: the CLI makes indexes */
    return loom_error_set(e, LOOM_ERR_NOT_FOUND,
                          "no index '%s' (make it with loom ingest PATH "
                          "--index %s)",
                          name, name);
  return loom_error_set(e, LOOM_ERR_NOT_FOUND,
                        "no index '%s' (make it by adding documents: POST "
                        "/indexes/%s/documents, or loom ingest PATH --index "
                        "%s)",
                        name, name, name);
}

static loom_err open_cb(void *ud, const char *name, struct loom_rag *out,
                        struct loom_error *e) {
  struct loom_rag_backends *b = ud;
  const struct loom_rag_embedder *emb;
  loom_err err = embedder(b, &emb, e);
  if (err)
    return err;
  *out = (struct loom_rag){.store = b->o.store,
                           .embedder = emb,
                           .tenant = b->tenant,
                           .collection = name};
  const char *url = setting(b->o.config->pinecone_url);
  struct loom_vindexes *ix = NULL;
  uint32_t dim;
  if (url) {
    if ((err = remote_index(b, url, name ? name : "", &out->remote, e)))
      return err;
    dim = loom_pinecone_dim(out->remote);
  } else {
    if ((err = local_indexes(b, &ix, e)))
      return err;
    struct loom_error le;
    out->vectors = loom_vindexes_acquire(ix, name ? name : "", NULL, &le);
    if (!out->vectors && le.code == LOOM_ERR_NOT_FOUND)
      return not_found(b, name ? name : "", e);
    if (!out->vectors) /* its store could not be opened: say why */
      return loom_error_set(e, le.code, "%s", le.message);
    dim = loom_vstore_params(out->vectors)->dim;
  }
  if (dim != emb->dim) {
    if (out->vectors)
      loom_vindexes_release(ix, out->vectors);
    out->vectors = NULL;
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "index '%s' has dimension %u; the %s embedder "
                          "makes %u",
                          name, dim, emb->name, emb->dim);
  }
  return LOOM_OK;
}

static void close_cb(void *ud, struct loom_rag *r) {
  struct loom_rag_backends *b = ud;
  struct loom_vindexes *ix = NULL;
  struct loom_error e = {0};
  /* The table was open when `r` was filled, so this cannot fail. */
  if (r && r->vectors && !local_indexes(b, &ix, &e))
    loom_vindexes_release(ix, r->vectors);
}

struct loom_rag_backends *
loom_rag_backends_new(const struct loom_rag_backends_opts *o) {
  struct loom_rag_backends *b = LOOM_NEW(struct loom_rag_backends);
  b->o = *o;
  b->tenant = loom_strdup(o->tenant ? o->tenant : "default");
  b->dir = o->indexes_dir ? loom_strdup(o->indexes_dir) : NULL;
  b->o.tenant = b->tenant;
  b->o.indexes_dir = b->dir;
  b->hash = loom_rag_hash_embedder(0);
  pthread_mutex_init(&b->lock, NULL);
  return b;
}

void loom_rag_backends_free(struct loom_rag_backends *b) {
  if (!b)
    return;
  loom_rag_provider_embedder_free(b->provider);
  for (size_t i = 0; i < b->nremotes; i++) {
    loom_pinecone_close(b->remotes[i].pc);
    loom_free(b->remotes[i].name);
  }
  loom_vindexes_close(b->own);
  pthread_mutex_destroy(&b->lock);
  loom_free(b->tenant);
  loom_free(b->dir);
  loom_free(b);
}

struct loom_rag_resolver
loom_rag_backends_resolver(struct loom_rag_backends *b) {
  return (struct loom_rag_resolver){
      .open = open_cb, .close = close_cb, .ud = b};
}

loom_err loom_rag_backends_create(struct loom_rag_backends *b, const char *name,
                                  struct loom_error *e) {
  if (setting(b->o.config->pinecone_url))
    return LOOM_OK;
  const struct loom_rag_embedder *emb;
  struct loom_vindexes *ix;
  loom_err err = embedder(b, &emb, e);
  if (!err)
    err = local_indexes(b, &ix, e);
  if (err)
    return err;
  /* Described, not acquired: an existing index is not loaded here (and
   * one that cannot be loaded fails when the caller opens it). */
  struct loom_vindex_desc d;
  if (!loom_vindexes_describe(ix, name, &d, NULL)) {
    json_decref(d.info);
    return LOOM_OK;
  }
  struct loom_vstore_params p = {.dim = emb->dim, .metric = LOOM_METRIC_COSINE};
  struct loom_error ce = {0};
  err = loom_vindexes_create(ix, name, &p, NULL, &ce);
  /* Made meanwhile by a concurrent request or another process: fine. */
  if (err == LOOM_ERR_EXISTS && !loom_vindexes_describe(ix, name, &d, NULL)) {
    json_decref(d.info);
    return LOOM_OK;
  }
  /* Its directory exists but holds no index (no config.json). */
  if (err == LOOM_ERR_EXISTS)
    return loom_error_set(e, LOOM_ERR_CONFLICT,
                          "the indexes directory holds a '%s' that is not an "
                          "index (no config.json in it): remove it, or use "
                          "another index name",
                          name);
  return err ? loom_error_set(e, err, "%s", ce.message) : LOOM_OK;
}
