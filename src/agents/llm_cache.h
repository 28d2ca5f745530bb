/*
 * llm_cache — the exact-request cache of model answers and embeddings.
 *
 * Opt-in per call (a graph or agent turns it on for deterministic calls):
 * the key is "llm:" or "emb:" followed by the SHA-256 of the URL and the
 * exact request body loom sends, so only byte-identical requests share an
 * answer, and a change of model, prompt, tools or settings is a miss. The
 * values are JSON; a cached answer costs nothing and is marked as cached.
 */
#ifndef LOOM_AGENTS_LLM_CACHE_H
#define LOOM_AGENTS_LLM_CACHE_H

#include <jansson.h>

#include "agents/llm.h"

/* "<prefix>:<64 hex digits>" for this URL and body; a heap string. */
char *loom_llm_cache_key(const char *prefix, const char *url, const char *body,
                         size_t body_len);

/* An answer as cache JSON and back (false when the JSON is not one). */
json_t *loom_llm_cache_pack(const struct loom_llm_response *r);
bool loom_llm_cache_unpack(const json_t *v, struct loom_llm_response *out);

/* Embeddings as cache JSON and back. */
json_t *loom_llm_cache_pack_embeddings(const struct loom_embeddings *em);
bool loom_llm_cache_unpack_embeddings(const json_t *v,
                                      struct loom_embeddings *out);

#endif
