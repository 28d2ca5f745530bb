/*
 * cache — the cache interface: a struct of function pointers chosen at
 * start-up (in-process memory by default, Redis when REDIS_URL is set).
 *
 * Keys are C strings, values are bytes (copied in and out), each entry has
 * an optional time to live. A cache is an optimisation, never the truth:
 * a miss, an eviction or a backend that is down (LOOM_ERR_UNAVAILABLE) all
 * mean "ask the database", and callers carry on without the cache. Every
 * call is thread-safe.
 *
 * The layers DESIGN.md names use key prefixes, so a layer can be dropped
 * with one delete_prefix, and tenants never share keys:
 *   "sess:<token hash>"                 verified token -> principal
 *   "state:<tenant>:<thread>"           latest checkpoint of a thread
 *   "api:<tenant>:<path>"               GET responses, invalidated on write
 *   "llm:<request hash>", "emb:<hash>"  exact-request LLM / embedding replies
 */
#ifndef LOOM_STORES_CACHE_H
#define LOOM_STORES_CACHE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Times to live of the cache layers, in milliseconds. */
#define LOOM_CACHE_TTL_SESSION_MS (3600 * 1000) /* never past token expiry */
#define LOOM_CACHE_TTL_STATE_MS (300 * 1000)
#define LOOM_CACHE_TTL_API_MS (60 * 1000)

/* Default budget of the in-process cache. */
#define LOOM_CACHE_DEFAULT_BYTES (64u * 1024 * 1024)

struct loom_cache;

struct loom_cache_stats {
  uint64_t hits;
  uint64_t misses;    /* absent or expired */
  uint64_t evictions; /* dropped to stay within the byte budget */
  uint64_t expired;   /* found past their time to live */
  size_t entries;
  size_t bytes;     /* accounted bytes (keys, values, bookkeeping) */
  size_t max_bytes; /* the budget; 0 when the backend has none */
};

struct loom_cache_ops {
  const char *name; /* "memory", "redis" */
  /* Copies the value of `key` into a fresh buffer (`*out`, loom_free; NUL
   * terminated for convenience, `*len` excludes it; `len` may be NULL).
   * LOOM_ERR_NOT_FOUND on a miss or an expired entry. */
  loom_err (*get)(struct loom_cache *c, const char *key, char **out,
                  size_t *len);
  /* Stores a copy of `len` bytes under `key`, replacing any value; ttl_ms
   * 0 means no expiry. May evict the least recently used entries.
   * LOOM_ERR_TOO_LARGE when the entry alone exceeds the budget (then the
   * key holds nothing). */
  loom_err (*set)(struct loom_cache *c, const char *key, const void *value,
                  size_t len, uint64_t ttl_ms);
  /* Removes `key`; LOOM_OK whether or not it was there. */
  loom_err (*del)(struct loom_cache *c, const char *key);
  /* Removes every key that starts with `prefix`; `removed` (may be NULL)
   * receives how many. Costs time in the number of entries. */
  loom_err (*del_prefix)(struct loom_cache *c, const char *prefix,
                         size_t *removed);
  void (*stats)(struct loom_cache *c, struct loom_cache_stats *out);
  void (*free)(struct loom_cache *c);
};

struct loom_cache {
  const struct loom_cache_ops *ops;
};

/*
 * Opens the cache the configuration names: `redis_url` empty means the
 * in-process cache with a budget of `max_bytes` (0: the default);
 * redis:// is LOOM_ERR_UNSUPPORTED until that backend lands; anything else
 * LOOM_ERR_INVALID. Free with loom_cache_free.
 */
loom_err loom_cache_open(const char *redis_url, size_t max_bytes,
                         struct loom_cache **out,
                         struct loom_error *e) LOOM_MUST_USE;

/* The in-process backend: TTL + LRU within `max_bytes`, O(1) get, set and
 * delete under one mutex. Never fails. */
struct loom_cache *loom_cache_memory_new(size_t max_bytes);

static inline void loom_cache_free(struct loom_cache *c) {
  if (c)
    c->ops->free(c);
}
static inline const char *loom_cache_backend(const struct loom_cache *c) {
  return c->ops->name;
}
static inline loom_err loom_cache_get(struct loom_cache *c, const char *key,
                                      char **out, size_t *len) {
  return c->ops->get(c, key, out, len);
}
static inline loom_err loom_cache_set(struct loom_cache *c, const char *key,
                                      const void *value, size_t len,
                                      uint64_t ttl_ms) {
  return c->ops->set(c, key, value, len, ttl_ms);
}
static inline loom_err loom_cache_del(struct loom_cache *c, const char *key) {
  return c->ops->del(c, key);
}
static inline loom_err loom_cache_del_prefix(struct loom_cache *c,
                                             const char *prefix,
                                             size_t *removed) {
  return c->ops->del_prefix(c, prefix, removed);
}
static inline void loom_cache_stats(struct loom_cache *c,
                                    struct loom_cache_stats *out) {
  c->ops->stats(c, out);
}

/* JSON convenience over get/set: the value is stored as compact JSON text.
 * get: LOOM_ERR_NOT_FOUND on a miss (or on text that does not parse, which
 * is then deleted); `*out` is a new reference. */
loom_err loom_cache_get_json(struct loom_cache *c, const char *key,
                             json_t **out);
loom_err loom_cache_set_json(struct loom_cache *c, const char *key,
                             const json_t *value, uint64_t ttl_ms);

#endif
