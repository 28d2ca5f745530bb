/*
 * rag_memory — agent memory, as crews use it: short-term (what happened in
 * this run), long-term (lessons kept across runs) and entity memory (facts
 * about a named thing, one entry per key), in namespaces (e.g. a crew, or
 * a crew and a thread). Stored in the memories table (stores/store.h).
 *
 * Recall is hybrid like document search: memories of the namespace are
 * ranked by keyword overlap (query words weighted by rarity among those
 * memories) and by hash-embedding similarity, fused by reciprocal rank.
 * A namespace holds at most LOOM_MEMORY_RECALL_SCAN recent memories for
 * recall; older ones are still listed and fetched by key.
 */
#ifndef LOOM_AGENTS_RAG_MEMORY_H
#define LOOM_AGENTS_RAG_MEMORY_H

#include <jansson.h>
#include <stdint.h>

#include "core/err.h"

struct loom_store;

#define LOOM_MEMORY_SHORT_TERM "short_term"
#define LOOM_MEMORY_LONG_TERM "long_term"
#define LOOM_MEMORY_ENTITY "entity"
#define LOOM_MEMORY_RECALL_SCAN 1000

struct loom_memory {
  const char *ns;         /* required */
  const char *kind;       /* one of the three above */
  const char *key;        /* entity name, or NULL; same key replaces */
  const char *content;    /* required */
  const json_t *metadata; /* object or NULL; borrowed */
  int64_t ttl_ms;         /* 0: never expires */
};

/* Stores a memory; `*out` (may be NULL) is the stored row.
 * LOOM_ERR_INVALID for a missing field or an unknown kind. */
loom_err loom_memory_remember(struct loom_store *s, const char *tenant,
                              const struct loom_memory *m, json_t **out,
                              struct loom_error *e) LOOM_MUST_USE;

/* The `k` memories of `ns` (of `kind`, NULL: any) most relevant to
 * `query`, best first, each row with a "score". An empty query gives the
 * most recent ones. */
loom_err loom_memory_recall(struct loom_store *s, const char *tenant,
                            const char *ns, const char *kind, const char *query,
                            size_t k, json_t **out,
                            struct loom_error *e) LOOM_MUST_USE;

/* The entity memory `key` of `ns`; LOOM_ERR_NOT_FOUND when none. */
loom_err loom_memory_entity(struct loom_store *s, const char *tenant,
                            const char *ns, const char *key, json_t **out,
                            struct loom_error *e) LOOM_MUST_USE;

/* Forgets memory `id` of `ns`, or the whole namespace when id is NULL. */
loom_err loom_memory_forget(struct loom_store *s, const char *tenant,
                            const char *ns, const char *id,
                            struct loom_error *e) LOOM_MUST_USE;

#endif
