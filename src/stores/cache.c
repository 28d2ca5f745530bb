/*
 * cache — picks the cache backend from the configuration, and the helpers
 * every backend shares (JSON values).
 */
#include <string.h>

#include "core/alloc.h"
#include "stores/cache.h"

loom_err loom_cache_open(const char *redis_url, size_t max_bytes,
                         struct loom_cache **out, struct loom_error *e) {
  *out = NULL;
  if (!redis_url || !*redis_url) {
    *out =
        loom_cache_memory_new(max_bytes ? max_bytes : LOOM_CACHE_DEFAULT_BYTES);
    return LOOM_OK;
  }
  if (strncmp(redis_url, "redis://", 8) == 0 ||
      strncmp(redis_url, "rediss://", 9) == 0)
    return loom_error_set(e, LOOM_ERR_UNSUPPORTED,
                          "REDIS_URL names Redis, whose cache backend is not "
                          "built yet; unset REDIS_URL to use the in-process "
                          "cache");
  return loom_error_set(e, LOOM_ERR_INVALID,
                        "REDIS_URL must be empty (in-process cache) or start "
                        "with redis://");
}

loom_err loom_cache_get_json(struct loom_cache *c, const char *key,
                             json_t **out) {
  *out = NULL;
  char *text = NULL;
  size_t len = 0;
  loom_err err = loom_cache_get(c, key, &text, &len);
  if (err)
    return err;
  *out = json_loadb(text, len, JSON_DECODE_ANY, NULL);
  loom_free(text);
  if (!*out) {
    (void)loom_cache_del(c, key);
    return LOOM_ERR_NOT_FOUND;
  }
  return LOOM_OK;
}

loom_err loom_cache_set_json(struct loom_cache *c, const char *key,
                             const json_t *value, uint64_t ttl_ms) {
  char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!text)
    return LOOM_ERR_INVALID;
  loom_err err = loom_cache_set(c, key, text, strlen(text), ttl_ms);
  free(text); /* jansson allocates with malloc */
  return err;
}
