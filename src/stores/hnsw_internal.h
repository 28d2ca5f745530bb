/*
 * hnsw_internal — the layout shared by hnsw.c (writes), hnsw_search.c
 * (walks and queries) and hnsw_io.c (snapshots). Not for other modules.
 *
 * Memory layout (after hnswlib's): one contiguous "level-0 block" with a
 * fixed-size element per slot, cache-line aligned:
 *   u32 count | u32 links[m0] | search vector
 * where the search vector is dim floats, or (quantized) a struct hnsw_qhdr
 * followed by int8[qdim] (dim zero-padded to a multiple of 64, so the int8
 * kernel never runs a scalar tail). Exact floats of quantized indexes live in a
 * separate array used only for re-ranking and construction. Links above
 * level 0 are a small per-node array of `level` blocks of (1 + m) u32.
 */
#ifndef LOOM_STORES_HNSW_INTERNAL_H
#define LOOM_STORES_HNSW_INTERNAL_H

#include <pthread.h>

#include "stores/hnsw.h"
#include "stores/vector_meta.h"

#define HNSW_ALIGN 64

struct hnsw_node {
  char *id;      /* NULL: never used */
  json_t *meta;  /* NULL: none */
  int32_t level; /* top level of this node */
  bool deleted;  /* tombstone: walked through, never returned */
  float norm;    /* cosine: |v| before normalising, to give v back */
};

struct hnsw_pair {
  float d;
  uint32_t id;
};

/* A new list for one neighbour's links at one level. */
struct hnsw_link_upd {
  uint32_t nb;
  int32_t level;
  uint32_t list[1 + 2 * 64];
};

/* What linking one node changes, worked out under the read lock and then
 * written under the write lock (writers are serialised by write_mutex, so
 * the graph cannot change in between). */
struct hnsw_plan {
  int32_t top;    /* levels 0..top of `own` are planned; -1: none */
  uint32_t *own;  /* (top + 1) lists of 1 + m0 words */
  size_t own_cap; /* words */
  struct hnsw_link_upd *upd;
  size_t nupd, upd_cap;
};

/* Per-search scratch, pooled. */
struct hnsw_ctx {
  uint16_t *visited;
  uint32_t vis_cap;
  uint16_t epoch;
  struct hnsw_pair *cand, *res;
  size_t cand_cap, res_cap;
  uint64_t *bits;  /* filter matches, one bit per slot */
  size_t bits_cap; /* words */
  int8_t *qq;      /* quantized query */
  float *qf;       /* normalised query (cosine) */
  struct hnsw_ctx *next;
};

struct loom_hnsw {
  struct loom_hnsw_params p;
  const struct loom_vk *vk;
  uint32_t dim, m, m0;
  uint32_t qdim;    /* int8 length: dim rounded up to 64, zero padded */
  size_t elem_size; /* bytes per level-0 element */
  size_t off_vec;   /* offset of the search vector in an element */
  char *level0;     /* capacity * elem_size */
  void *map;        /* snapshot mapping level0 points into, or NULL */
  size_t map_len;
  float *exact; /* quantized only: capacity * dim floats */
  struct hnsw_node *nodes;
  uint32_t **upper; /* per slot: links above level 0, or NULL */
  uint32_t capacity, used, live;
  uint32_t *free_slots;
  uint32_t nfree, free_cap;
  int64_t entry; /* -1: empty */
  int32_t max_level;
  uint32_t *idmap; /* open addressing: slot+1, 0 empty, UINT32_MAX gone */
  uint32_t idmap_cap, idmap_used;
  struct loom_vmeta meta_ix; /* columns of nodes[].meta, for filters */
  uint64_t rng;
  double level_mult;
  pthread_rwlock_t lock;
  pthread_mutex_t write_mutex; /* one writer at a time; taken before lock */
  struct hnsw_plan plan;       /* the writer's scratch */
  pthread_mutex_t pool_lock;
  struct hnsw_ctx *pool;
};

/*
 * Int8 quantization, per vector: x[i] ~ offset + scale * q[i] with q in
 * [-127, 127] spanning the vector's own min..max (all 255 levels used even
 * for non-negative data). Then a.b = n*oa*ob + oa*sb*sum(qb) + ob*sa*sum(qa)
 * + sa*sb*(qa.qb), where only the last term needs the int8 kernel, and
 * |a-b|^2 = |a|^2 + |b|^2 - 2 a.b with the exact squared norms stored.
 */
struct hnsw_qhdr {
  float scale, offset, qsum, sqn;
};

/* A query as the walk sees it: exact floats, or its quantized form. */
struct hnsw_qv {
  const float *f;
  const int8_t *q;
  struct hnsw_qhdr hd;
  bool quant;
};

static inline char *hnsw_elem(const struct loom_hnsw *h, uint32_t slot) {
  return h->level0 + (size_t)slot * h->elem_size;
}

/* Links of `slot` at `level`: [0] is the count, the links follow. */
static inline uint32_t *hnsw_links(const struct loom_hnsw *h, uint32_t slot,
                                   int level) {
  if (level == 0)
    return (uint32_t *)hnsw_elem(h, slot);
  return h->upper[slot] + (size_t)(level - 1) * (h->m + 1);
}

/* The exact float vector of `slot`. */
static inline const float *hnsw_vec(const struct loom_hnsw *h, uint32_t slot) {
  if (h->p.quantize)
    return h->exact + (size_t)slot * h->dim;
  return (const float *)(hnsw_elem(h, slot) + h->off_vec);
}

/* Exact distance between two float vectors under the index metric. */
static inline float hnsw_fdist(const struct loom_hnsw *h, const float *a,
                               const float *b) {
  if (h->p.metric == LOOM_METRIC_EUCLIDEAN)
    return h->vk->l2sq(a, b, h->dim);
  float d = h->vk->dot(a, b, h->dim);
  return h->p.metric == LOOM_METRIC_COSINE ? 1.0f - d : -d;
}

/* The distance from a quantized query to the quantized vector whose
 * header `v` points at, given their int8 dot product `idot`. */
static inline float hnsw_qfinish(const struct loom_hnsw *h,
                                 const struct hnsw_qv *qv, const char *v,
                                 int32_t idot) {
  struct hnsw_qhdr x;
  __builtin_memcpy(&x, v, sizeof x);
  const struct hnsw_qhdr *q = &qv->hd;
  float dot = (float)idot * x.scale * q->scale +
              (float)h->dim * q->offset * x.offset +
              q->offset * x.scale * x.qsum + x.offset * q->scale * q->qsum;
  if (h->p.metric == LOOM_METRIC_EUCLIDEAN)
    return q->sqn + x.sqn - 2.0f * dot;
  return h->p.metric == LOOM_METRIC_COSINE ? 1.0f - dot : -dot;
}

/* Distance from a query to `slot` as the walk measures it. */
static inline float hnsw_qdist(const struct loom_hnsw *h,
                               const struct hnsw_qv *qv, uint32_t slot) {
  if (!qv->quant)
    return hnsw_fdist(h, qv->f, hnsw_vec(h, slot));
  const char *v = hnsw_elem(h, slot) + h->off_vec;
  const int8_t *q8 = (const int8_t *)(v + sizeof(struct hnsw_qhdr));
  return hnsw_qfinish(h, qv, v, h->vk->dot_i8(qv->q, q8, h->qdim));
}

/*
 * The values as the user gave them, for item callbacks: cosine vectors are
 * stored normalised, so they are scaled back by their norm into `buf`
 * (dim floats); other metrics return the stored vector itself.
 */
static inline const float *hnsw_user_vec(const struct loom_hnsw *h,
                                         uint32_t slot, float *buf) {
  const float *v = hnsw_vec(h, slot);
  if (h->p.metric != LOOM_METRIC_COSINE)
    return v;
  for (uint32_t i = 0; i < h->dim; i++)
    buf[i] = v[i] * h->nodes[slot].norm;
  return buf;
}

/* Quantizes `v` into `out` and fills `hd` (see struct hnsw_qhdr). */
void hnsw_quantize(const struct loom_hnsw *h, const float *v, int8_t *out,
                   struct hnsw_qhdr *hd);

/* Fills the derived fields (element layout, kernels) from h->p. */
void hnsw_layout(struct loom_hnsw *h);

/* Makes room for `cap` slots (grows level0, exact, nodes, upper). */
void hnsw_reserve(struct loom_hnsw *h, uint32_t cap);

/* Puts `slot` into the id map (its id must be set). */
void hnsw_idmap_put(struct loom_hnsw *h, uint32_t slot);

/* Search scratch from the pool / back to it. */
struct hnsw_ctx *hnsw_ctx_get(struct loom_hnsw *h);
void hnsw_ctx_put(struct loom_hnsw *h, struct hnsw_ctx *c);
void hnsw_ctx_free_all(struct loom_hnsw *h);

/* Greedy descent from the entry point down to `stop_level`+1. */
uint32_t hnsw_descend(const struct loom_hnsw *h, const struct hnsw_qv *qv,
                      int stop_level);

/* What a walk may return: with live_only unset, every node it meets;
 * else live nodes that pass `allow` (a bitset by slot) and `filter`. */
struct hnsw_accept {
  bool live_only;
  const uint64_t *allow;
  loom_hnsw_filter_cb filter;
  void *filter_ud;
};

/*
 * Best-first walk of one level from `ep`. Results (up to ef, in c->res, a
 * max-heap) exclude `skip` (UINT32_MAX: none) and what `acc` (NULL: accept
 * all) refuses. Returns the number of results.
 */
size_t hnsw_walk(const struct loom_hnsw *h, struct hnsw_ctx *c,
                 const struct hnsw_qv *qv, uint32_t ep, size_t ef, int level,
                 uint32_t skip, const struct hnsw_accept *acc);

/* Sorts c->res[0..n) ascending by distance. */
void hnsw_sort_pairs(struct hnsw_pair *p, size_t n);

#endif
