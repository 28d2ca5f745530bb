/*
 * fuzz_llm_cache — entries of the exact-request LLM cache as loom reads
 * them back: a cache shared with other processes (Redis) or other
 * versions may hold anything under an "llm:" or "emb:" key. Reading one
 * must give a well-formed answer or a miss, never crash, leak, trip
 * UBSan or cost memory out of proportion to the entry; an answer read
 * back must survive being stored and read again unchanged.
 *
 * Input: the first byte picks the kind (even: a chat answer, odd:
 * embeddings); the rest is the cached value, stored as is.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agents/llm_cache.h"
#include "stores/cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_answer(const struct loom_llm_response *a,
                        const struct loom_llm_response *b) {
  if (strcmp(a->content, b->content) || a->n_calls != b->n_calls ||
      strcmp(a->finish_reason, b->finish_reason) ||
      a->usage.prompt_tokens != b->usage.prompt_tokens ||
      a->usage.completion_tokens != b->usage.completion_tokens)
    return false;
  for (size_t i = 0; i < a->n_calls; i++)
    if (strcmp(a->calls[i].id, b->calls[i].id) ||
        strcmp(a->calls[i].name, b->calls[i].name) ||
        strcmp(a->calls[i].arguments, b->calls[i].arguments))
      return false;
  return true;
}

static void chat(const json_t *v) {
  struct loom_llm_response r, again;
  if (!loom_llm_cache_unpack(v, &r))
    return;
  if (r.usage.prompt_tokens < 0 || r.usage.completion_tokens < 0)
    abort();
  json_t *msg = loom_llm_response_message(&r);
  json_t *packed = loom_llm_cache_pack(&r);
  if (!msg || !packed || !loom_llm_cache_unpack(packed, &again) ||
      !same_answer(&r, &again))
    abort();
  json_decref(msg);
  json_decref(packed);
  loom_llm_response_cleanup(&r);
  loom_llm_response_cleanup(&again);
}

static void embeddings(const json_t *v, size_t size) {
  struct loom_embeddings em, again;
  if (!loom_llm_cache_unpack_embeddings(v, &em))
    return;
  /* Every float came from a number in the entry (each at least a byte
   * and a separator). */
  if (em.n * em.dims > size || em.prompt_tokens < 0)
    abort();
  for (size_t i = 0; i < em.n * em.dims; i++)
    if (!isfinite(em.data[i]))
      abort();
  json_t *packed = loom_llm_cache_pack_embeddings(&em);
  if (!loom_llm_cache_unpack_embeddings(packed, &again) || again.n != em.n ||
      again.dims != em.dims ||
      memcmp(again.data, em.data, em.n * em.dims * sizeof *em.data))
    abort();
  json_decref(packed);
  loom_embeddings_cleanup(&em);
  loom_embeddings_cleanup(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct loom_cache *cache;
  if (size == 0)
    return 0;
  if (!cache)
    cache = loom_cache_memory_new(1u << 24);
  const char *key = data[0] % 2 ? "emb:fuzz" : "llm:fuzz";
  if (loom_cache_set(cache, key, data + 1, size - 1, 0) != LOOM_OK)
    return 0;
  json_t *v = NULL;
  if (loom_cache_get_json(cache, key, &v) != LOOM_OK)
    return 0;
  if (data[0] % 2)
    embeddings(v, size);
  else
    chat(v);
  json_decref(v);
  return 0;
}
