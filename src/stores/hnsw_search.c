/*
 * hnsw_search — the graph walk and the read side of the HNSW index.
 *
 * How: the walk is the usual best-first search with two binary heaps kept
 * in pooled scratch (candidates as a max-heap of negated distances, results
 * as a max-heap capped at ef) and a visited array of 16-bit epochs, so
 * starting a search is one increment, not a memset. While expanding a node
 * the next neighbour's vector is prefetched. Deleted and filtered-out nodes
 * are walked through but never enter the results; in that case the walk
 * only stops once it holds ef results (hnswlib's rule), which is why very
 * selective filters go to the exact scan instead.
 */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "stores/filter.h"
#include "stores/hnsw_internal.h"

/* ---- heaps of (distance, slot), max at [0] ------------------------------ */

static inline void heap_push(struct hnsw_pair *a, size_t *n, float d,
                             uint32_t id) {
  size_t i = (*n)++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (a[parent].d >= d)
      break;
    a[i] = a[parent];
    i = parent;
  }
  a[i].d = d;
  a[i].id = id;
}

static inline void heap_pop(struct hnsw_pair *a, size_t *n) {
  struct hnsw_pair last = a[--(*n)];
  size_t i = 0, len = *n;
  for (;;) {
    size_t l = 2 * i + 1;
    if (l >= len)
      break;
    size_t r = l + 1, big = (r < len && a[r].d > a[l].d) ? r : l;
    if (a[big].d <= last.d)
      break;
    a[i] = a[big];
    i = big;
  }
  if (len)
    a[i] = last;
}

static int pair_cmp(const void *x, const void *y) {
  const struct hnsw_pair *a = x, *b = y;
  return (a->d > b->d) - (a->d < b->d);
}

void hnsw_sort_pairs(struct hnsw_pair *p, size_t n) {
  qsort(p, n, sizeof *p, pair_cmp);
}

/* ---- scratch pool ------------------------------------------------------- */

struct hnsw_ctx *hnsw_ctx_get(struct loom_hnsw *h) {
  pthread_mutex_lock(&h->pool_lock);
  struct hnsw_ctx *c = h->pool;
  if (c)
    h->pool = c->next;
  pthread_mutex_unlock(&h->pool_lock);
  if (!c) {
    c = LOOM_NEW(struct hnsw_ctx);
    c->qq = loom_calloc(1, h->qdim); /* padding stays zero */
    c->qf = loom_malloc(sizeof(float) * h->dim);
  }
  if (c->vis_cap < h->capacity) {
    loom_free(c->visited);
    c->vis_cap = h->capacity;
    c->visited = loom_calloc(c->vis_cap, sizeof *c->visited);
    c->epoch = 0;
  }
  return c;
}

void hnsw_ctx_put(struct loom_hnsw *h, struct hnsw_ctx *c) {
  pthread_mutex_lock(&h->pool_lock);
  c->next = h->pool;
  h->pool = c;
  pthread_mutex_unlock(&h->pool_lock);
}

void hnsw_ctx_free_all(struct loom_hnsw *h) {
  while (h->pool) {
    struct hnsw_ctx *c = h->pool;
    h->pool = c->next;
    loom_free(c->visited);
    loom_free(c->cand);
    loom_free(c->res);
    loom_free(c->bits);
    loom_free(c->qq);
    loom_free(c->qf);
    loom_free(c);
  }
}

static void reserve_pairs(struct hnsw_pair **a, size_t *cap, size_t want) {
  if (*cap >= want)
    return;
  size_t n = *cap ? *cap : 64;
  while (n < want)
    n *= 2;
  *a = loom_realloc(*a, n * sizeof **a);
  *cap = n;
}

static inline uint16_t new_epoch(struct hnsw_ctx *c) {
  if (++c->epoch == 0) {
    memset(c->visited, 0, (size_t)c->vis_cap * sizeof *c->visited);
    c->epoch = 1;
  }
  return c->epoch;
}

/* ---- the walk ----------------------------------------------------------- */

static inline const char *walk_ptr(const struct loom_hnsw *h,
                                   const struct hnsw_qv *qv, uint32_t slot) {
  if (qv->quant || !h->p.quantize)
    return hnsw_elem(h, slot) + h->off_vec;
  return (const char *)(h->exact + (size_t)slot * h->dim);
}

/* Prefetches the lines after the first of `slot`'s walk vector (at most
 * 1 KB; the hardware prefetcher follows the rest). */
static inline void prefetch_rest(const struct loom_hnsw *h,
                                 const struct hnsw_qv *qv, uint32_t slot) {
  const char *p = walk_ptr(h, qv, slot);
  size_t bytes =
      qv->quant ? sizeof(struct hnsw_qhdr) + h->qdim : sizeof(float) * h->dim;
  if (bytes > 1024)
    bytes = 1024;
  for (size_t off = 64; off < bytes; off += 64)
    __builtin_prefetch(p + off);
}

/*
 * Float distances from the query to the `nt` slots in `todo`, four vectors
 * per kernel pass (four memory streams at once), fetching the next group's
 * vectors ahead.
 */
static void dist_batch(const struct loom_hnsw *h, const struct hnsw_qv *qv,
                       const uint32_t *todo, uint32_t nt, float *out) {
  bool l2 = h->p.metric == LOOM_METRIC_EUCLIDEAN;
  uint32_t j = 0;
  for (; j + 4 <= nt; j += 4) {
    for (uint32_t k = j + 4; k < nt && k < j + 8; k++)
      prefetch_rest(h, qv, todo[k]);
    const float *v[4] = {hnsw_vec(h, todo[j]), hnsw_vec(h, todo[j + 1]),
                         hnsw_vec(h, todo[j + 2]), hnsw_vec(h, todo[j + 3])};
    if (l2) {
      h->vk->l2sq_x4(qv->f, v, h->dim, out + j);
    } else {
      h->vk->dot_x4(qv->f, v, h->dim, out + j);
      for (int k = 0; k < 4; k++)
        out[j + k] =
            h->p.metric == LOOM_METRIC_COSINE ? 1.0f - out[j + k] : -out[j + k];
    }
  }
  for (; j < nt; j++)
    out[j] = hnsw_fdist(h, qv->f, hnsw_vec(h, todo[j]));
}

static inline bool accepted(const struct loom_hnsw *h, uint32_t slot,
                            const struct hnsw_accept *acc) {
  if (!acc || !acc->live_only)
    return true;
  if (acc->allow) /* built from live slots only */
    return (acc->allow[slot / 64] >> (slot % 64)) & 1;
  if (h->nodes[slot].deleted)
    return false;
  return !acc->filter || acc->filter(acc->filter_ud, h->nodes[slot].meta);
}

uint32_t hnsw_descend(const struct loom_hnsw *h, const struct hnsw_qv *qv,
                      int stop_level) {
  uint32_t cur = (uint32_t)h->entry;
  float d = hnsw_qdist(h, qv, cur);
  for (int l = h->max_level; l > stop_level; l--) {
    bool changed = true;
    while (changed) {
      changed = false;
      const uint32_t *ll = hnsw_links(h, cur, l);
      for (uint32_t j = 1; j <= ll[0]; j++) {
        float nd = hnsw_qdist(h, qv, ll[j]);
        if (nd < d) {
          d = nd;
          cur = ll[j];
          changed = true;
        }
      }
    }
  }
  return cur;
}

size_t hnsw_walk(const struct loom_hnsw *h, struct hnsw_ctx *c,
                 const struct hnsw_qv *qv, uint32_t ep, size_t ef, int level,
                 uint32_t skip, const struct hnsw_accept *acc) {
  reserve_pairs(&c->res, &c->res_cap, ef + 2);
  reserve_pairs(&c->cand, &c->cand_cap, ef + 64);
  uint16_t epoch = new_epoch(c);
  uint16_t *vis = c->visited;
  struct hnsw_pair *res = c->res, *cand = c->cand;
  size_t nres = 0, ncand = 0;
  float bound = INFINITY;

  if (skip != UINT32_MAX)
    vis[skip] = epoch;
  vis[ep] = epoch;
  float d = hnsw_qdist(h, qv, ep);
  if (ep != skip && accepted(h, ep, acc)) {
    heap_push(res, &nres, d, ep);
    bound = d;
  }
  heap_push(cand, &ncand, -d, ep);

  uint32_t todo[2 * 64];
  float dist[2 * 64];
  while (ncand) {
    struct hnsw_pair top = cand[0];
    if (-top.d > bound && nres >= ef)
      break;
    heap_pop(cand, &ncand);
    const uint32_t *ll = hnsw_links(h, top.id, level);
    uint32_t n = ll[0], nt = 0;
    /* Pass 1: drop visited neighbours and start fetching the others, so
     * their cache misses overlap instead of coming one after another. */
    for (uint32_t j = 1; j <= n; j++) {
      uint32_t nb = ll[j];
      if (vis[nb] == epoch)
        continue;
      vis[nb] = epoch;
      todo[nt++] = nb;
      __builtin_prefetch(walk_ptr(h, qv, nb));
    }
    if (nt)
      prefetch_rest(h, qv, todo[0]);
    if (nt > 1)
      prefetch_rest(h, qv, todo[1]);
    if (!qv->quant)
      dist_batch(h, qv, todo, nt, dist);
    for (uint32_t j = 0; j < nt; j++) {
      uint32_t nb = todo[j];
      float nd;
      if (qv->quant) {
        if (j + 2 < nt)
          prefetch_rest(h, qv, todo[j + 2]);
        nd = hnsw_qdist(h, qv, nb);
      } else {
        nd = dist[j];
      }
      if (nres < ef || nd < bound) {
        if (ncand + 1 >= c->cand_cap) {
          reserve_pairs(&c->cand, &c->cand_cap, ncand + 2);
          cand = c->cand;
        }
        heap_push(cand, &ncand, -nd, nb);
        if (accepted(h, nb, acc)) {
          heap_push(res, &nres, nd, nb);
          if (nres > ef)
            heap_pop(res, &nres);
          bound = res[0].d;
        }
      }
    }
  }
  return nres;
}

/* ---- queries ------------------------------------------------------------ */

void hnsw_quantize(const struct loom_hnsw *h, const float *v, int8_t *out,
                   struct hnsw_qhdr *hd) {
  float lo = v[0], hi = v[0];
  for (uint32_t i = 1; i < h->dim; i++) {
    lo = fminf(lo, v[i]);
    hi = fmaxf(hi, v[i]);
  }
  float off = 0.5f * (lo + hi), s = (hi - lo) / 254.0f;
  if (!(s > 0))
    s = 1.0f;
  float inv = 1.0f / s;
  int32_t sum = 0;
  for (uint32_t i = 0; i < h->dim; i++) { /* plain C so it vectorises */
    float x = (v[i] - off) * inv;
    x = x > 127.0f ? 127.0f : x < -127.0f ? -127.0f : x;
    int32_t q = (int32_t)(x + (x >= 0 ? 0.5f : -0.5f));
    out[i] = (int8_t)q;
    sum += q;
  }
  memset(out + h->dim, 0, h->qdim - h->dim);
  hd->scale = s;
  hd->offset = off;
  hd->qsum = (float)sum;
  hd->sqn = h->vk->dot(v, v, h->dim);
}

/* Query as the walk wants it (normalised, quantized) in scratch. */
static void prepare_query(const struct loom_hnsw *h, struct hnsw_ctx *c,
                          const float *v, struct hnsw_qv *qv) {
  const float *f = v;
  if (h->p.metric == LOOM_METRIC_COSINE) {
    float n = sqrtf(h->vk->dot(v, v, h->dim));
    float inv = n > 0 ? 1.0f / n : 0.0f;
    for (uint32_t i = 0; i < h->dim; i++)
      c->qf[i] = v[i] * inv;
    f = c->qf;
  }
  memset(qv, 0, sizeof *qv);
  qv->f = f;
  if (h->p.quantize) {
    hnsw_quantize(h, f, c->qq, &qv->hd);
    qv->q = c->qq;
    qv->quant = true;
  }
}

/* Estimated share of live items the filter accepts, from a sample. */
static double filter_share(const struct loom_hnsw *h,
                           const struct loom_hnsw_query *q) {
  enum { SAMPLE = 256 };
  uint32_t stride = h->used / SAMPLE ? h->used / SAMPLE : 1;
  uint32_t seen = 0, pass = 0;
  for (uint32_t s = 0; s < h->used && seen < SAMPLE; s += stride) {
    if (!h->nodes[s].id || h->nodes[s].deleted)
      continue;
    seen++;
    pass += q->filter(q->filter_ud, h->nodes[s].meta);
  }
  return seen ? (double)pass / seen : 0.0;
}

/* Exact top-k over the live items the filter accepts, into c->res. */
static size_t exact_scan(const struct loom_hnsw *h, struct hnsw_ctx *c,
                         const struct loom_hnsw_query *q,
                         const struct hnsw_qv *qv) {
  reserve_pairs(&c->res, &c->res_cap, q->k + 2);
  size_t n = 0;
  for (uint32_t s = 0; s < h->used; s++) {
    const struct hnsw_node *nd = &h->nodes[s];
    if (!nd->id || nd->deleted)
      continue;
    if (q->filter && !q->filter(q->filter_ud, nd->meta))
      continue;
    float d = hnsw_fdist(h, qv->f, hnsw_vec(h, s));
    if (n < q->k || d < c->res[0].d) {
      heap_push(c->res, &n, d, s);
      if (n > q->k)
        heap_pop(c->res, &n);
    }
  }
  hnsw_sort_pairs(c->res, n);
  return n;
}

static const json_t *slot_meta_cb(void *ud, uint32_t slot) {
  const struct loom_hnsw *h = ud;
  return h->nodes[slot].meta;
}

static void reserve_bits(struct hnsw_ctx *c, size_t words) {
  if (c->bits_cap < words + 1) {
    loom_free(c->bits);
    c->bits_cap = words + 1;
    c->bits = loom_malloc(c->bits_cap * sizeof *c->bits);
  }
}

/* Evaluates q->where into c->bits over live slots; returns the matches. */
static size_t where_bits(const struct loom_hnsw *h, struct hnsw_ctx *c,
                         const struct loom_hnsw_query *q) {
  size_t words = ((size_t)h->used + 63) / 64;
  reserve_bits(c, words);
  loom_filter_eval(q->where, &h->meta_ix, h->used, slot_meta_cb, (void *)h,
                   c->bits);
  size_t count = 0;
  for (size_t w = 0; w < words; w++) {
    uint64_t b = c->bits[w];
    while (b) {
      uint32_t s = (uint32_t)(w * 64) + (uint32_t)__builtin_ctzll(b);
      b &= b - 1;
      if (!h->nodes[s].id || h->nodes[s].deleted)
        c->bits[w] &= ~(1ull << (s % 64));
      else
        count++;
    }
  }
  return count;
}

/* Exact top-k over the slots set in c->bits, into c->res (sorted). */
static size_t exact_bits(const struct loom_hnsw *h, struct hnsw_ctx *c,
                         const struct loom_hnsw_query *q,
                         const struct hnsw_qv *qv) {
  reserve_pairs(&c->res, &c->res_cap, q->k + 2);
  size_t n = 0, words = ((size_t)h->used + 63) / 64;
  for (size_t w = 0; w < words; w++) {
    for (uint64_t b = c->bits[w]; b; b &= b - 1) {
      uint32_t s = (uint32_t)(w * 64) + (uint32_t)__builtin_ctzll(b);
      float d = hnsw_fdist(h, qv->f, hnsw_vec(h, s));
      if (n < q->k || d < c->res[0].d) {
        heap_push(c->res, &n, d, s);
        if (n > q->k)
          heap_pop(c->res, &n);
      }
    }
  }
  hnsw_sort_pairs(c->res, n);
  return n;
}

/*
 * Whether scanning `count` matches beats a filtered walk: an unfiltered
 * walk computes about ef * m0 distances, a filtered one about that divided
 * by the matching share, so scan when count^2 / live is below ef * m0 (or
 * the share is under exact_below).
 */
static bool scan_cheaper(const struct loom_hnsw *h,
                         const struct loom_hnsw_query *q, size_t count,
                         size_t ef) {
  double below =
      q->exact_below > 0 ? q->exact_below : LOOM_HNSW_DEFAULT_EXACT_BELOW;
  double share = (double)count / (double)h->live;
  return count <= ef || share < below ||
         (double)count * share < (double)ef * h->m0;
}

/* The search proper; sorted hits are left in c->res. Read lock held. */
static size_t search_locked(const struct loom_hnsw *h, struct hnsw_ctx *c,
                            const struct loom_hnsw_query *q) {
  if (!h->live || q->k == 0)
    return 0;
  struct hnsw_qv qv;
  prepare_query(h, c, q->vector, &qv);
  size_t ef = q->ef > q->k ? q->ef : q->k, count = h->live;
  struct hnsw_accept acc = {true, NULL, q->filter, q->filter_ud};
  if (q->where) {
    count = where_bits(h, c, q);
    if (count == 0)
      return 0;
    if (scan_cheaper(h, q, count, ef))
      return exact_bits(h, c, q, &qv);
    acc.allow = c->bits;
    acc.filter = NULL;
  } else if (q->filter) {
    double below =
        q->exact_below > 0 ? q->exact_below : LOOM_HNSW_DEFAULT_EXACT_BELOW;
    if (filter_share(h, q) < below)
      return exact_scan(h, c, q, &qv);
  }
  /* No filter and no tombstone or hidden slot (used == live): every node
   * the walk meets may be returned, so skip the per-node test and its
   * random read of the node table. */
  bool test = q->where || q->filter || h->used != h->live;
  uint32_t ep = hnsw_descend(h, &qv, 0);
  size_t n = hnsw_walk(h, c, &qv, ep, ef, 0, UINT32_MAX, test ? &acc : NULL);
  if (q->where && n < q->k && n < count)
    return exact_bits(h, c, q, &qv);
  if (q->filter && !q->where && n < q->k && n < h->live)
    return exact_scan(h, c, q, &qv);
  if (h->p.quantize) /* re-rank: exact vectors are cold, fetch ahead */
    for (size_t i = 0; i < n; i++) {
      if (i + 2 < n) {
        const char *p = (const char *)hnsw_vec(h, c->res[i + 2].id);
        size_t bytes = sizeof(float) * h->dim;
        for (size_t off = 0; off < bytes && off < 2048; off += 64)
          __builtin_prefetch(p + off);
      }
      c->res[i].d = hnsw_fdist(h, qv.f, hnsw_vec(h, c->res[i].id));
    }
  hnsw_sort_pairs(c->res, n);
  return n < q->k ? n : q->k;
}

size_t loom_hnsw_search(struct loom_hnsw *h, const struct loom_hnsw_query *q,
                        struct loom_hnsw_hit *out) {
  pthread_rwlock_rdlock(&h->lock);
  struct hnsw_ctx *c = hnsw_ctx_get(h);
  size_t n = search_locked(h, c, q);
  for (size_t i = 0; i < n; i++) {
    out[i].slot = c->res[i].id;
    out[i].distance = c->res[i].d;
  }
  hnsw_ctx_put(h, c);
  pthread_rwlock_unlock(&h->lock);
  return n;
}

size_t loom_hnsw_query(struct loom_hnsw *h, const struct loom_hnsw_query *q,
                       loom_hnsw_item_cb cb, void *ud) {
  pthread_rwlock_rdlock(&h->lock);
  struct hnsw_ctx *c = hnsw_ctx_get(h);
  size_t n = search_locked(h, c, q);
  for (size_t i = 0; i < n; i++) {
    uint32_t s = c->res[i].id;
    cb(ud, h->nodes[s].id, c->res[i].d, hnsw_user_vec(h, s, c->qf),
       h->nodes[s].meta);
  }
  hnsw_ctx_put(h, c);
  pthread_rwlock_unlock(&h->lock);
  return n;
}

void loom_hnsw_each(struct loom_hnsw *h, loom_hnsw_item_cb cb, void *ud) {
  pthread_rwlock_rdlock(&h->lock);
  float *buf = loom_malloc(sizeof(float) * h->dim);
  for (uint32_t s = 0; s < h->used; s++) {
    const struct hnsw_node *nd = &h->nodes[s];
    if (nd->id && !nd->deleted)
      cb(ud, nd->id, 0, hnsw_user_vec(h, s, buf), nd->meta);
  }
  loom_free(buf);
  pthread_rwlock_unlock(&h->lock);
}

size_t loom_hnsw_each_where(struct loom_hnsw *h,
                            const struct loom_filter *where,
                            loom_hnsw_item_cb cb, void *ud) {
  pthread_rwlock_rdlock(&h->lock);
  struct hnsw_ctx *c = hnsw_ctx_get(h);
  struct loom_hnsw_query q = {.where = where};
  size_t n = 0;
  if (where) {
    n = where_bits(h, c, &q);
  } else {
    size_t words = ((size_t)h->used + 63) / 64;
    reserve_bits(c, words);
    memset(c->bits, 0, words * sizeof *c->bits);
    for (uint32_t s = 0; s < h->used; s++)
      if (h->nodes[s].id && !h->nodes[s].deleted) {
        c->bits[s / 64] |= 1ull << (s % 64);
        n++;
      }
  }
  size_t words = ((size_t)h->used + 63) / 64;
  for (size_t w = 0; cb && w < words; w++)
    for (uint64_t b = c->bits[w]; b; b &= b - 1) {
      uint32_t s = (uint32_t)(w * 64) + (uint32_t)__builtin_ctzll(b);
      cb(ud, h->nodes[s].id, 0, hnsw_user_vec(h, s, c->qf), h->nodes[s].meta);
    }
  hnsw_ctx_put(h, c);
  pthread_rwlock_unlock(&h->lock);
  return n;
}

const char *loom_hnsw_slot_id(struct loom_hnsw *h, uint32_t slot) {
  if (slot >= h->used || h->nodes[slot].deleted)
    return NULL;
  return h->nodes[slot].id;
}

float loom_hnsw_score(enum loom_metric metric, float distance) {
  switch (metric) {
  case LOOM_METRIC_COSINE:
    return 1.0f - distance;
  case LOOM_METRIC_DOT:
    return -distance;
  case LOOM_METRIC_EUCLIDEAN:
    return distance;
  }
  return distance;
}
