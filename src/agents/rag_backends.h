/*
 * rag_backends — where retrieval's collections live, chosen by
 * configuration, shared by `loom serve` (documents routes, `retrieve` node
 * kind and tool) and the CLI (`loom run`, `loom resume`, `loom ingest`,
 * `loom search`), so all resolve an index name the same way.
 *
 * LOOM_EMBED_MODEL picks the embedder (a provider model such as
 * openai/text-embedding-3-small or a LOOM_ENDPOINTS name; empty: the
 * built-in hash embedder). LOOM_PINECONE_URL picks where vectors live (a
 * Pinecone control plane whose indexes hold them, key in
 * PINECONE_API_KEY; empty: the local indexes). The provider embedder and
 * each remote index are opened on first use (a probe embedding and a
 * describe-index are network calls), under a mutex, and kept until
 * loom_rag_backends_free; a failed open is retried by the next caller.
 * An index whose dimension differs from the embedder's is refused.
 */
#ifndef LOOM_AGENTS_RAG_BACKENDS_H
#define LOOM_AGENTS_RAG_BACKENDS_H

#include <stdbool.h>

#include "agents/rag_node.h"
#include "core/err.h"

struct loom_config;
struct loom_store;
struct loom_vindexes;

struct loom_rag_backends_opts {
  const struct loom_config *config; /* borrowed; must outlive the object */
  struct loom_store *store;         /* borrowed */
  const char *tenant;               /* copied; NULL: "default" */
  /* The local indexes: the caller's (`indexes` returns them; a server
   * shares them with its Pinecone API), or, when `indexes` is NULL,
   * `<indexes_dir>` opened on first use and owned by the object: a
   * command's, one-shot (loom_vindexes_set_one_shot). */
  struct loom_vindexes *(*indexes)(void);
  const char *indexes_dir; /* copied */
};

struct loom_rag_backends;

/* A resolver over `o`'s settings; nothing is opened yet. Free with
 * loom_rag_backends_free (after clearing it as the process resolver). */
struct loom_rag_backends *
loom_rag_backends_new(const struct loom_rag_backends_opts *o);
void loom_rag_backends_free(struct loom_rag_backends *b);

/* The resolver (for loom_rag_set_resolver); valid while `b` lives. */
struct loom_rag_resolver
loom_rag_backends_resolver(struct loom_rag_backends *b);

/*
 * Makes sure the local index `name` exists, creating it with the
 * embedder's dimension and the cosine metric (nothing to do with a remote
 * backend: remote indexes are created at the Pinecone). Fails as the
 * embedder or loom_vindexes_create does.
 */
loom_err loom_rag_backends_create(struct loom_rag_backends *b, const char *name,
                                  struct loom_error *e) LOOM_MUST_USE;

#endif
