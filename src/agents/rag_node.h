/*
 * rag_node — retrieval inside graphs and agents: the `retrieve` node kind
 * and the `retrieve` tool.
 *
 * A graph node:
 *   nodes:
 *     search:
 *       retrieve:
 *         index: docs          # required: the collection
 *         query: question      # state field holding the query (default
 *                              # "query"); "{a} {b}" renders a template
 *         top_k: 4             # default 4
 *         mode: hybrid         # hybrid | vector | keyword
 *         filter: {lang: en}   # Pinecone filter on chunk metadata
 *         output: documents    # channel written (default "documents")
 * writes to `output` the list of hits (see loom_rag_search: id, content,
 * source, title, heading, score, ...).
 *
 * Both find collections by index name through one process-wide resolver,
 * set at start-up: `loom serve`, `loom run` and `loom ingest` / `loom
 * search` all install the one of agents/rag_backends.h (configured
 * embedder, local or remote vectors).
 */
#ifndef LOOM_AGENTS_RAG_NODE_H
#define LOOM_AGENTS_RAG_NODE_H

#include "agents/rag.h"
#include "core/err.h"

struct loom_tools;

struct loom_rag_resolver {
  /* Fills `out` for index `name`; LOOM_ERR_NOT_FOUND when there is none.
   * Called from run threads: must be thread-safe. */
  loom_err (*open)(void *ud, const char *name, struct loom_rag *out,
                   struct loom_error *e);
  /* Called when the caller is done with `r` (may be NULL). */
  void (*close)(void *ud, struct loom_rag *r);
  void *ud;
};

/* Sets (copies) the process-wide resolver; NULL clears it. Call at
 * start-up, before runs. */
void loom_rag_set_resolver(const struct loom_rag_resolver *r);

/* The collection named `name`, through the resolver (LOOM_ERR_UNSUPPORTED
 * when none is set); pair with loom_rag_release. */
loom_err loom_rag_resolve(const char *name, struct loom_rag *out,
                          struct loom_error *e) LOOM_MUST_USE;
void loom_rag_release(struct loom_rag *r);

/* Registers the `retrieve` node kind (once per process; again is OK).
 * Its tasks park the run while the search runs on retrieval's threads. */
loom_err loom_rag_node_kind_register(struct loom_error *e) LOOM_MUST_USE;

/* Adds the `retrieve` tool: arguments {"query", "top_k"?, "index"?};
 * `default_index` (copied; may be NULL) is used when "index" is absent. */
loom_err loom_rag_tool_add(struct loom_tools *tools, const char *default_index,
                           struct loom_error *e) LOOM_MUST_USE;

#endif
