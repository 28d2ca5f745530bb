/*
 * cache_memory — the in-process cache: TTL + LRU within a byte budget.
 *
 * A chained hash table finds an entry by key; a doubly linked list orders
 * entries from most to least recently used. get, set and del are O(1)
 * (the table doubles when it holds more entries than buckets, amortised
 * O(1)); delete by prefix walks every entry. Each entry is charged its key,
 * its value and its bookkeeping; after a set the least recently used
 * entries are evicted until the total is within the budget. Expired
 * entries are dropped when found, and otherwise age out through the LRU
 * end like any other.
 *
 * Locking: one mutex guards the whole cache (table, list, counters) and is
 * held for the duration of each call; values are copied in and out under
 * it, so no caller ever holds a pointer into the cache.
 */
#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "stores/cache.h"

struct entry {
  char *key;
  char *value;
  size_t len;
  uint64_t hash;
  uint64_t expires_ms;       /* monotonic; 0: never */
  struct entry *chain;       /* next in the bucket */
  struct entry *prev, *next; /* LRU list: head is the most recent */
};

struct memory_cache {
  struct loom_cache base;
  pthread_mutex_t lock; /* guards everything below */
  struct entry **buckets;
  size_t nbuckets; /* a power of two */
  struct entry *head, *tail;
  size_t max_bytes;
  struct loom_cache_stats st;
};

static struct memory_cache *mc_of(struct loom_cache *c) {
  return (struct memory_cache *)c;
}

static uint64_t hash_key(const char *key) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)key; *p; p++)
    h = (h ^ *p) * 1099511628211ull;
  return h;
}

static size_t entry_bytes(size_t keylen, size_t len) {
  return sizeof(struct entry) + keylen + 1 + len + 1;
}

static uint64_t now_ms(void) { return loom_clock_mono_ns() / 1000000u; }

static struct entry **find_slot(struct memory_cache *m, const char *key,
                                uint64_t h) {
  struct entry **slot = &m->buckets[h & (m->nbuckets - 1)];
  while (*slot && ((*slot)->hash != h || strcmp((*slot)->key, key) != 0))
    slot = &(*slot)->chain;
  return slot;
}

static void lru_unlink(struct memory_cache *m, struct entry *en) {
  if (en->prev)
    en->prev->next = en->next;
  else
    m->head = en->next;
  if (en->next)
    en->next->prev = en->prev;
  else
    m->tail = en->prev;
  en->prev = en->next = NULL;
}

static void lru_push_head(struct memory_cache *m, struct entry *en) {
  en->prev = NULL;
  en->next = m->head;
  if (m->head)
    m->head->prev = en;
  m->head = en;
  if (!m->tail)
    m->tail = en;
}

/* Unlinks the entry at `slot` from the table and the list and frees it. */
static void remove_at(struct memory_cache *m, struct entry **slot) {
  struct entry *en = *slot;
  *slot = en->chain;
  lru_unlink(m, en);
  m->st.entries--;
  m->st.bytes -= entry_bytes(strlen(en->key), en->len);
  loom_free(en->key);
  loom_free(en->value);
  loom_free(en);
}

static void grow(struct memory_cache *m) {
  size_t n = m->nbuckets * 2;
  struct entry **b = loom_calloc(n, sizeof *b);
  for (size_t i = 0; i < m->nbuckets; i++) {
    struct entry *en = m->buckets[i];
    while (en) {
      struct entry *next = en->chain;
      en->chain = b[en->hash & (n - 1)];
      b[en->hash & (n - 1)] = en;
      en = next;
    }
  }
  loom_free(m->buckets);
  m->buckets = b;
  m->nbuckets = n;
}

static loom_err mc_get(struct loom_cache *c, const char *key, char **out,
                       size_t *len) {
  struct memory_cache *m = mc_of(c);
  uint64_t h = hash_key(key);
  loom_err result = LOOM_ERR_NOT_FOUND;
  *out = NULL;
  pthread_mutex_lock(&m->lock);
  struct entry **slot = find_slot(m, key, h);
  struct entry *en = *slot;
  if (en && en->expires_ms && en->expires_ms <= now_ms()) {
    remove_at(m, slot);
    m->st.expired++;
    en = NULL;
  }
  if (en) {
    lru_unlink(m, en);
    lru_push_head(m, en);
    *out = loom_malloc(en->len + 1);
    memcpy(*out, en->value, en->len + 1);
    if (len)
      *len = en->len;
    m->st.hits++;
    result = LOOM_OK;
  } else {
    m->st.misses++;
  }
  pthread_mutex_unlock(&m->lock);
  return result;
}

static loom_err mc_set(struct loom_cache *c, const char *key, const void *value,
                       size_t len, uint64_t ttl_ms) {
  struct memory_cache *m = mc_of(c);
  size_t keylen = strlen(key), bytes = entry_bytes(keylen, len);
  uint64_t h = hash_key(key);
  /* Copy outside the lock: the lock is held only for pointer work. */
  struct entry *en = NULL;
  if (bytes <= m->max_bytes) {
    en = LOOM_NEW(struct entry);
    en->key = loom_strndup(key, keylen);
    en->value = loom_malloc(len + 1);
    memcpy(en->value, value, len);
    en->value[len] = '\0';
    en->len = len;
    en->hash = h;
    en->expires_ms = ttl_ms ? now_ms() + ttl_ms : 0;
  }
  pthread_mutex_lock(&m->lock);
  struct entry **slot = find_slot(m, key, h);
  if (*slot)
    remove_at(m, slot);
  if (en) {
    en->chain = *slot; /* where the old entry was, or the chain's end */
    *slot = en;
    lru_push_head(m, en);
    m->st.entries++;
    m->st.bytes += bytes;
    while (m->st.bytes > m->max_bytes && m->tail != en) {
      remove_at(m, find_slot(m, m->tail->key, m->tail->hash));
      m->st.evictions++;
    }
    if (m->st.entries > m->nbuckets)
      grow(m);
  }
  pthread_mutex_unlock(&m->lock);
  return en ? LOOM_OK : LOOM_ERR_TOO_LARGE;
}

static loom_err mc_del(struct loom_cache *c, const char *key) {
  struct memory_cache *m = mc_of(c);
  uint64_t h = hash_key(key);
  pthread_mutex_lock(&m->lock);
  struct entry **slot = find_slot(m, key, h);
  if (*slot)
    remove_at(m, slot);
  pthread_mutex_unlock(&m->lock);
  return LOOM_OK;
}

static loom_err mc_del_prefix(struct loom_cache *c, const char *prefix,
                              size_t *removed) {
  struct memory_cache *m = mc_of(c);
  size_t plen = strlen(prefix), n = 0;
  pthread_mutex_lock(&m->lock);
  for (size_t i = 0; i < m->nbuckets; i++) {
    struct entry **slot = &m->buckets[i];
    while (*slot) {
      if (strncmp((*slot)->key, prefix, plen) == 0) {
        remove_at(m, slot);
        n++;
      } else {
        slot = &(*slot)->chain;
      }
    }
  }
  pthread_mutex_unlock(&m->lock);
  if (removed)
    *removed = n;
  return LOOM_OK;
}

static void mc_stats(struct loom_cache *c, struct loom_cache_stats *out) {
  struct memory_cache *m = mc_of(c);
  pthread_mutex_lock(&m->lock);
  *out = m->st;
  pthread_mutex_unlock(&m->lock);
}

static void mc_free(struct loom_cache *c) {
  struct memory_cache *m = mc_of(c);
  while (m->head) {
    struct entry *en = m->head;
    m->head = en->next;
    loom_free(en->key);
    loom_free(en->value);
    loom_free(en);
  }
  loom_free(m->buckets);
  pthread_mutex_destroy(&m->lock);
  loom_free(m);
}

static const struct loom_cache_ops memory_ops = {
    .name = "memory",
    .get = mc_get,
    .set = mc_set,
    .del = mc_del,
    .del_prefix = mc_del_prefix,
    .stats = mc_stats,
    .free = mc_free,
};

struct loom_cache *loom_cache_memory_new(size_t max_bytes) {
  struct memory_cache *m = LOOM_NEW(struct memory_cache);
  m->base.ops = &memory_ops;
  pthread_mutex_init(&m->lock, NULL);
  m->nbuckets = 64;
  m->buckets = loom_calloc(m->nbuckets, sizeof *m->buckets);
  m->max_bytes = max_bytes;
  m->st.max_bytes = max_bytes;
  return &m->base;
}
