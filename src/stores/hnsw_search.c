/*
 * hnsw_search — the graph walk and the read side of the HNSW index.
 *
 * How: the walk is the usual best-first search with two binary heaps kept
 * in pooled scratch (candidates as a max-heap of negated distances, results
 * as a max-heap capped at ef) and a visited array of 16-bit epochs, so
 * starting a search is one increment, not a memset. Expanding a node first
 * drops its visited neighbours and prefetches the others, then computes
 * their distances four vectors per kernel pass (float or int8), fetching
 * the next four meanwhile; the greedy descent through the upper levels
 * prefetches a node's neighbours the same way. Deleted and filtered-out nodes
 * are walked through but never enter the results; in that case the walk
 * only stops once it holds ef results (hnswlib's rule), which is why very
 * selective filters go to the exact scan instead.
 */
#include <float.h>
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
 * vectors ahead. A last group of fewer than four repeats its last slot (the
 * repeats hit the cache): one pass instead of up to three single ones.
 */
static void dist_batch(const struct loom_hnsw *h, const struct hnsw_qv *qv,
                       const uint32_t *todo, uint32_t nt, float *out) {
  bool l2 = h->p.metric == LOOM_METRIC_EUCLIDEAN;
  for (uint32_t j = 0; j < nt; j += 4) {
    for (uint32_t k = j + 4; k < nt && k < j + 8; k++)
      prefetch_rest(h, qv, todo[k]);
    const float *v[4];
    float d[4];
    for (uint32_t k = 0; k < 4; k++)
      v[k] = hnsw_vec(h, todo[j + k < nt ? j + k : nt - 1]);
    if (l2) {
      h->vk->l2sq_x4(qv->f, v, h->dim, d);
    } else {
      h->vk->dot_x4(qv->f, v, h->dim, d);
      for (int k = 0; k < 4; k++)
        d[k] = h->p.metric == LOOM_METRIC_COSINE ? 1.0f - d[k] : -d[k];
    }
    for (uint32_t k = 0; k < 4 && j + k < nt; k++)
      out[j + k] = d[k];
  }
}

/* As dist_batch for a quantized walk: four int8 vectors per kernel pass. */
static void qdist_batch(const struct loom_hnsw *h, const struct hnsw_qv *qv,
                        const uint32_t *todo, uint32_t nt, float *out) {
  for (uint32_t j = 0; j < nt; j += 4) {
    for (uint32_t k = j + 4; k < nt && k < j + 8; k++)
      prefetch_rest(h, qv, todo[k]);
    const char *e[4];
    const int8_t *v[4];
    int32_t dots[4];
    for (uint32_t k = 0; k < 4; k++) {
      e[k] = hnsw_elem(h, todo[j + k < nt ? j + k : nt - 1]) + h->off_vec;
      v[k] = (const int8_t *)(e[k] + sizeof(struct hnsw_qhdr));
    }
    h->vk->dot_i8_x4(qv->q, v, h->qdim, dots);
    for (uint32_t k = 0; k < 4 && j + k < nt; k++)
      out[j + k] = hnsw_qfinish(h, qv, e[k], dots[k]);
  }
}

/* Distances from the query to the `nt` slots in `todo` (each slot's first
 * line and the first two slots' vectors already on their way). */
static inline void dists(const struct loom_hnsw *h, const struct hnsw_qv *qv,
                         const uint32_t *todo, uint32_t nt, float *out) {
  if (qv->quant)
    qdist_batch(h, qv, todo, nt, out);
  else
    dist_batch(h, qv, todo, nt, out);
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
  float d = hnsw_qdist(h, qv, cur), dist[2 * 64];
  for (int l = h->max_level; l > stop_level; l--) {
    bool changed = true;
    while (changed) {
      changed = false;
      const uint32_t *ll = hnsw_links(h, cur, l);
      uint32_t n = ll[0];
      for (uint32_t j = 1; j <= n; j++) /* the misses overlap */
        __builtin_prefetch(walk_ptr(h, qv, ll[j]));
      for (uint32_t j = 1; j <= n && j <= 2; j++)
        prefetch_rest(h, qv, ll[j]);
      dists(h, qv, ll + 1, n, dist);
      for (uint32_t j = 0; j < n; j++) {
        if (dist[j] < d) {
          d = dist[j];
          cur = ll[j + 1];
          changed = true;
        }
      }
    }
  }
  return cur;
}

/*
 * Puts the neighbours in `ll` not yet visited into `todo` (marking them)
 * and starts fetching them, so their cache misses overlap instead of
 * coming one after another. Returns how many.
 */
static inline uint32_t unvisited(const struct loom_hnsw *h,
                                 const struct hnsw_qv *qv, const uint32_t *ll,
                                 uint16_t *vis, uint16_t epoch,
                                 uint32_t *todo) {
  uint32_t n = ll[0], nt = 0;
  for (uint32_t j = 1; j <= n; j++) {
    uint32_t nb = ll[j];
    if (vis[nb] == epoch)
      continue;
    vis[nb] = epoch;
    todo[nt++] = nb;
    __builtin_prefetch(walk_ptr(h, qv, nb));
  }
  for (uint32_t j = 0; j < nt && j < 2; j++)
    prefetch_rest(h, qv, todo[j]);
  return nt;
}

/* Prefetches the level-0 link list of `slot`. */
static inline void prefetch_links0(const struct loom_hnsw *h, uint32_t slot) {
  const char *ln = (const char *)hnsw_links(h, slot, 0);
  for (size_t off = 0; off < sizeof(uint32_t) * (1 + h->m0); off += 64)
    __builtin_prefetch(ln + off);
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
    uint32_t nt =
        unvisited(h, qv, hnsw_links(h, top.id, level), vis, epoch, todo);
    dists(h, qv, todo, nt, dist);
    for (uint32_t j = 0; j < nt; j++) {
      uint32_t nb = todo[j];
      float nd = dist[j];
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
    /* The next node to expand is probably the best candidate now: start
     * fetching its link list (its vector's lines were read, not these). */
    if (ncand && level == 0)
      prefetch_links0(h, cand[0].id);
  }
  return nres;
}

/* ---- queries ------------------------------------------------------------ */

void hnsw_quantize(const struct loom_hnsw *h, const float *v, int8_t *out,
                   struct hnsw_qhdr *hd) {
  float lo, hi;
  h->vk->minmax(v, h->dim, &lo, &hi);
  /* In double: in float a range past FLT_MAX made the scale inf, and a
   * scale below FLT_MIN made its inverse inf, either way turning values
   * into NaN (then cast to int). A range that small quantizes to zeros at
   * any scale. */
  double ds = ((double)hi - lo) / 254.0;
  float off = (float)(0.5 * ((double)lo + hi));
  float s = ds >= FLT_MIN ? (float)ds : 1.0f;
  int32_t sum = h->vk->quantize_i8(v, h->dim, off, 1.0f / s, out);
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

/*
 * Replaces the int8 distances of the walk's `n` results by exact ones. The
 * exact vectors are cold: their first lines are all requested at once,
 * then four vectors per kernel pass as in the walk.
 */
static void rerank(const struct loom_hnsw *h, struct hnsw_ctx *c,
                   const struct hnsw_qv *qv, size_t n) {
  struct hnsw_qv fq = *qv;
  fq.quant = false; /* walk_ptr and dist_batch: the exact floats */
  uint32_t ids[128];
  float d[128];
  for (size_t i = 0; i < n; i += 128) {
    uint32_t m = n - i < 128 ? (uint32_t)(n - i) : 128;
    for (uint32_t j = 0; j < m; j++) {
      ids[j] = c->res[i + j].id;
      __builtin_prefetch(walk_ptr(h, &fq, ids[j]));
    }
    for (uint32_t j = 0; j < m && j < 2; j++)
      prefetch_rest(h, &fq, ids[j]);
    dist_batch(h, &fq, ids, m, d);
    for (uint32_t j = 0; j < m; j++)
      c->res[i + j].d = d[j];
  }
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
  if (h->p.quantize)
    rerank(h, c, &qv, n);
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

/* Max-heap of borrowed ids by strcmp: the largest kept at a[0]. */
static void ids_swap(const char **a, size_t i, size_t j) {
  const char *t = a[i];
  a[i] = a[j];
  a[j] = t;
}

static void ids_sift_up(const char **a, size_t i) {
  while (i && strcmp(a[(i - 1) / 2], a[i]) < 0) {
    ids_swap(a, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

static void ids_sift_down(const char **a, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < n && strcmp(a[l], a[m]) > 0)
      m = l;
    if (l + 1 < n && strcmp(a[l + 1], a[m]) > 0)
      m = l + 1;
    if (m == i)
      return;
    ids_swap(a, i, m);
    i = m;
  }
}

char **loom_hnsw_ids(struct loom_hnsw *h, const char *prefix, const char *after,
                     size_t max, size_t *n) {
  size_t plen = prefix ? strlen(prefix) : 0, cap = 0, k = 0;
  const char **keep = NULL; /* borrowed while the read lock is held */
  pthread_rwlock_rdlock(&h->lock);
  for (uint32_t s = 0; s < h->used; s++) {
    const char *id = h->nodes[s].id;
    if (!id || h->nodes[s].deleted || strncmp(id, prefix ? prefix : "", plen))
      continue;
    if (after && after[0] && strcmp(id, after) <= 0)
      continue;
    if (max && k == max) { /* full: replaces the largest if smaller */
      if (strcmp(id, keep[0]) < 0) {
        keep[0] = id;
        ids_sift_down(keep, k, 0);
      }
      continue;
    }
    if (k == cap) {
      cap = cap ? 2 * cap : 64;
      cap = max && cap > max ? max : cap;
      keep = loom_realloc(keep, cap * sizeof *keep);
    }
    keep[k++] = id;
    if (max)
      ids_sift_up(keep, k - 1);
  }
  char **ids = k ? loom_malloc(k * sizeof *ids) : NULL;
  for (size_t i = 0; i < k; i++)
    ids[i] = loom_strdup(keep[i]);
  pthread_rwlock_unlock(&h->lock);
  loom_free(keep);
  *n = k;
  return ids;
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
