/*
 * hnsw — lifecycle and the write side of the HNSW index.
 *
 * How: inserting follows the HNSW paper and hnswlib: a random level, a
 * greedy descent to that level, then on each level a walk with
 * ef_construction candidates and the neighbour-selection heuristic (keep a
 * candidate only if it is nearer to the new node than to every neighbour
 * already kept), plus back-links, shrunk with the same heuristic when full.
 *
 * Deleting marks a tombstone, then repairs the graph: every neighbour that
 * linked to the deleted node gets a new list chosen by the heuristic from
 * its old links and the deleted node's links. The tombstone keeps its own
 * links so walks can still pass through it, and its slot goes on a free
 * list; the next insert reuses the slot (keeping its level) and relinks it.
 * Replacing an id's vector is repair + relink of the same slot.
 *
 * Concurrency: writers are serialised by write_mutex. Linking a node
 * searches the graph (the costly part) under the read lock, so queries run
 * meanwhile, and takes the write lock only to write the planned lists; a
 * new node stays hidden (tombstoned, unlinked, not in the id map) until
 * then. Growth, repair after delete and metadata changes take the write
 * lock.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/alloc.h"
#include "stores/hnsw_internal.h"

/* ---- layout and growth -------------------------------------------------- */

void hnsw_layout(struct loom_hnsw *h) {
  h->vk = loom_vk_best();
  h->dim = h->p.dim;
  h->qdim = (h->dim + 63) & ~63u;
  h->m = h->p.m;
  h->m0 = 2 * h->p.m;
  h->off_vec = sizeof(uint32_t) * (1 + h->m0);
  h->off_vec = (h->off_vec + 15) & ~(size_t)15;
  size_t vec = h->p.quantize ? sizeof(struct hnsw_qhdr) + h->qdim
                             : sizeof(float) * h->dim;
  h->elem_size =
      (h->off_vec + vec + HNSW_ALIGN - 1) & ~(size_t)(HNSW_ALIGN - 1);
  h->level_mult = 1.0 / log((double)h->m);
}

/*
 * 64-byte aligned so each element starts on a cache line. Large blocks are
 * 2 MB aligned and asked to use transparent huge pages: a search touches a
 * few hundred random elements, and with 4 KB pages nearly every one of them
 * is also a TLB miss.
 */
static void *alloc_aligned(size_t size) {
  enum { HUGE = 2 << 20 };
  void *p = NULL;
  size_t align = size >= 4 * (size_t)HUGE ? HUGE : HNSW_ALIGN;
  if (size >= 4 * (size_t)HUGE)
    size = (size + HUGE - 1) & ~(size_t)(HUGE - 1);
  if (posix_memalign(&p, align, size ? size : HNSW_ALIGN) != 0) {
    fprintf(stderr, "loom: out of memory (%zu bytes)\n", size);
    abort();
  }
#ifdef MADV_HUGEPAGE
  if (align == HUGE)
    (void)madvise(p, size, MADV_HUGEPAGE);
#endif
  return p;
}

void hnsw_reserve(struct loom_hnsw *h, uint32_t cap) {
  if (cap <= h->capacity)
    return;
  char *l0 = alloc_aligned((size_t)cap * h->elem_size);
  if (h->level0)
    memcpy(l0, h->level0, (size_t)h->used * h->elem_size);
  if (h->map) {
    munmap(h->map, h->map_len);
    h->map = NULL;
  } else {
    free(h->level0);
  }
  h->level0 = l0;
  if (h->p.quantize) { /* re-ranking reads these at random: huge pages too */
    float *exact = alloc_aligned((size_t)cap * h->dim * sizeof(float));
    if (h->exact)
      memcpy(exact, h->exact, (size_t)h->used * h->dim * sizeof(float));
    free(h->exact);
    h->exact = exact;
  }
  h->nodes = loom_realloc(h->nodes, (size_t)cap * sizeof *h->nodes);
  memset(h->nodes + h->capacity, 0,
         (size_t)(cap - h->capacity) * sizeof *h->nodes);
  h->upper = loom_realloc(h->upper, (size_t)cap * sizeof *h->upper);
  memset(h->upper + h->capacity, 0,
         (size_t)(cap - h->capacity) * sizeof *h->upper);
  h->capacity = cap;
}

/* ---- id map (open addressing) ------------------------------------------- */

#define IDMAP_GONE UINT32_MAX

static uint64_t hash_id(const char *s) {
  uint64_t x = 1469598103934665603ull;
  for (; *s; s++)
    x = (x ^ (unsigned char)*s) * 1099511628211ull;
  return x ^ (x >> 29);
}

static uint32_t idmap_find(const struct loom_hnsw *h, const char *id,
                           uint32_t *pos) {
  if (!h->idmap_cap)
    return UINT32_MAX;
  uint32_t mask = h->idmap_cap - 1, i = (uint32_t)hash_id(id) & mask;
  for (;; i = (i + 1) & mask) {
    uint32_t v = h->idmap[i];
    if (v == 0)
      return UINT32_MAX;
    if (v != IDMAP_GONE && strcmp(h->nodes[v - 1].id, id) == 0) {
      if (pos)
        *pos = i;
      return v - 1;
    }
  }
}

static void idmap_insert_raw(struct loom_hnsw *h, uint32_t slot) {
  uint32_t mask = h->idmap_cap - 1;
  uint32_t i = (uint32_t)hash_id(h->nodes[slot].id) & mask;
  while (h->idmap[i] != 0 && h->idmap[i] != IDMAP_GONE)
    i = (i + 1) & mask;
  h->idmap[i] = slot + 1;
}

void hnsw_idmap_put(struct loom_hnsw *h, uint32_t slot) {
  if ((size_t)(h->idmap_used + 1) * 2 > h->idmap_cap) {
    uint32_t *old = h->idmap, oldcap = h->idmap_cap;
    h->idmap_cap = oldcap ? oldcap * 2 : 1024;
    while ((size_t)(h->live + 1) * 4 > h->idmap_cap)
      h->idmap_cap *= 2;
    h->idmap = loom_calloc(h->idmap_cap, sizeof *h->idmap);
    h->idmap_used = 0;
    for (uint32_t i = 0; i < oldcap; i++)
      if (old[i] && old[i] != IDMAP_GONE) {
        idmap_insert_raw(h, old[i] - 1);
        h->idmap_used++;
      }
    loom_free(old);
  }
  idmap_insert_raw(h, slot);
  h->idmap_used++;
}

/* ---- lifecycle ----------------------------------------------------------- */

loom_err loom_hnsw_new(const struct loom_hnsw_params *p, struct loom_hnsw **out,
                       struct loom_error *e) {
  struct loom_hnsw_params q = *p;
  if (q.dim < 1 || q.dim > LOOM_HNSW_MAX_DIM)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "dimension must be between 1 and %d, got %u",
                          LOOM_HNSW_MAX_DIM, q.dim);
  if ((unsigned)q.metric > LOOM_METRIC_EUCLIDEAN)
    return loom_error_set(e, LOOM_ERR_INVALID, "unknown metric %d", q.metric);
  if (!q.m)
    q.m = 16;
  if (!q.ef_construction)
    q.ef_construction = 200;
  if (q.m < 2 || q.m > 64)
    return loom_error_set(e, LOOM_ERR_INVALID, "m must be 2..64, got %u", q.m);
  if (q.ef_construction > 4096)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "ef_construction must be at most 4096");
  if (!q.seed)
    q.seed = 0x5eed5eed1234567ull;
  struct loom_hnsw *h = LOOM_NEW(struct loom_hnsw);
  h->p = q;
  h->rng = q.seed;
  h->entry = -1;
  hnsw_layout(h);
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  /* Writers first: a steady stream of queries must not starve upserts. */
  pthread_rwlockattr_setkind_np(&attr,
                                PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&h->lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  pthread_mutex_init(&h->pool_lock, NULL);
  pthread_mutex_init(&h->write_mutex, NULL);
  *out = h;
  return LOOM_OK;
}

static void release_items(struct loom_hnsw *h) {
  for (uint32_t s = 0; s < h->used; s++) {
    loom_free(h->nodes[s].id);
    if (h->nodes[s].meta)
      json_decref(h->nodes[s].meta);
    loom_free(h->upper[s]);
  }
  if (h->map)
    munmap(h->map, h->map_len);
  else
    free(h->level0);
  free(h->exact);
  loom_free(h->nodes);
  loom_free(h->upper);
  loom_free(h->free_slots);
  loom_free(h->idmap);
  loom_vmeta_cleanup(&h->meta_ix);
  h->map = NULL;
  h->level0 = NULL;
  h->exact = NULL;
  h->nodes = NULL;
  h->upper = NULL;
  h->free_slots = NULL;
  h->idmap = NULL;
  h->capacity = h->used = h->live = h->nfree = h->free_cap = 0;
  h->idmap_cap = h->idmap_used = 0;
  h->entry = -1;
  h->max_level = 0;
}

void loom_hnsw_free(struct loom_hnsw *h) {
  if (!h)
    return;
  release_items(h);
  hnsw_ctx_free_all(h);
  pthread_rwlock_destroy(&h->lock);
  pthread_mutex_destroy(&h->pool_lock);
  pthread_mutex_destroy(&h->write_mutex);
  loom_free(h->plan.own);
  loom_free(h->plan.upd);
  loom_free(h);
}

void loom_hnsw_clear(struct loom_hnsw *h) {
  pthread_mutex_lock(&h->write_mutex);
  pthread_rwlock_wrlock(&h->lock);
  release_items(h);
  pthread_rwlock_unlock(&h->lock);
  pthread_mutex_unlock(&h->write_mutex);
}

const struct loom_hnsw_params *loom_hnsw_params(const struct loom_hnsw *h) {
  return &h->p;
}

size_t loom_hnsw_count(struct loom_hnsw *h) {
  pthread_rwlock_rdlock(&h->lock);
  size_t n = h->live;
  pthread_rwlock_unlock(&h->lock);
  return n;
}

size_t loom_hnsw_memory(struct loom_hnsw *h) {
  pthread_rwlock_rdlock(&h->lock);
  size_t b = (size_t)h->capacity *
             (h->elem_size + sizeof *h->nodes + sizeof *h->upper);
  if (h->p.quantize)
    b += (size_t)h->capacity * h->dim * sizeof(float);
  b += (size_t)h->idmap_cap * sizeof *h->idmap;
  b += loom_vmeta_memory(&h->meta_ix);
  for (uint32_t s = 0; s < h->used; s++) {
    if (h->nodes[s].id)
      b += strlen(h->nodes[s].id) + 1;
    if (h->upper[s])
      b += (size_t)h->nodes[s].level * (h->m + 1) * sizeof(uint32_t);
    if (h->nodes[s].meta)
      b += 64 * (1 + json_object_size(h->nodes[s].meta));
  }
  pthread_rwlock_unlock(&h->lock);
  return b;
}

/* ---- graph construction ---------------------------------------------------
 */

static float slot_dist(const struct loom_hnsw *h, uint32_t a, uint32_t b) {
  return hnsw_fdist(h, hnsw_vec(h, a), hnsw_vec(h, b));
}

/*
 * The heuristic: from candidates sorted nearest first (distances to the
 * base node), keep one only if no kept neighbour is nearer to it than the
 * base is. Writes at most `mmax` ids to out; returns how many.
 */
static uint32_t select_neighbors(const struct loom_hnsw *h,
                                 const struct hnsw_pair *cand, size_t n,
                                 uint32_t mmax, uint32_t *out) {
  uint32_t k = 0;
  for (size_t i = 0; i < n && k < mmax; i++) {
    bool keep = true;
    for (uint32_t j = 0; j < k && keep; j++)
      if (slot_dist(h, cand[i].id, out[j]) < cand[i].d)
        keep = false;
    if (keep)
      out[k++] = cand[i].id;
  }
  return k;
}

/* Plans adding `s` to `nb`'s list at `level` (shrunk by the heuristic when
 * full) into `u`; false when `s` is already there. */
static bool plan_backlink(const struct loom_hnsw *h, uint32_t nb, uint32_t s,
                          int level, struct hnsw_link_upd *u) {
  const uint32_t *ll = hnsw_links(h, nb, level);
  uint32_t cap = level ? h->m : h->m0;
  for (uint32_t j = 1; j <= ll[0]; j++)
    if (ll[j] == s)
      return false;
  u->nb = nb;
  u->level = level;
  if (ll[0] < cap) {
    memcpy(u->list, ll, (1 + ll[0]) * sizeof *ll);
    u->list[++u->list[0]] = s;
    return true;
  }
  struct hnsw_pair cand[2 * 64 + 1];
  size_t n = 0;
  for (uint32_t j = 1; j <= ll[0]; j++)
    cand[n++] = (struct hnsw_pair){slot_dist(h, nb, ll[j]), ll[j]};
  cand[n++] = (struct hnsw_pair){slot_dist(h, nb, s), s};
  hnsw_sort_pairs(cand, n);
  u->list[0] = select_neighbors(h, cand, n, cap, u->list + 1);
  return true;
}

static int random_level(struct loom_hnsw *h) {
  h->rng ^= h->rng >> 12;
  h->rng ^= h->rng << 25;
  h->rng ^= h->rng >> 27;
  uint64_t r = h->rng * 2685821657736338717ull;
  double u = ((double)(r >> 11) + 0.5) * (1.0 / 9007199254740992.0);
  int level = (int)(-log(u) * h->level_mult);
  return level > 16 ? 16 : level;
}

/* Works out `s`'s lists and its neighbours' new ones (read lock held). */
static void plan_links(struct loom_hnsw *h, uint32_t s) {
  struct hnsw_plan *p = &h->plan;
  int level = h->nodes[s].level;
  p->top = -1;
  p->nupd = 0;
  if (h->entry < 0)
    return;
  p->top = level < h->max_level ? level : h->max_level;
  size_t words = (size_t)(p->top + 1) * (1 + h->m0);
  if (p->own_cap < words) {
    loom_free(p->own);
    p->own = loom_malloc(words * sizeof *p->own);
    p->own_cap = words;
  }
  size_t most = h->m0 + (size_t)p->top * h->m;
  if (p->upd_cap < most) {
    loom_free(p->upd);
    p->upd = loom_malloc(most * sizeof *p->upd);
    p->upd_cap = most;
  }
  struct hnsw_qv qv = {.f = hnsw_vec(h, s)};
  uint32_t cur = (uint32_t)h->entry;
  if (level < h->max_level)
    cur = hnsw_descend(h, &qv, level);
  struct hnsw_ctx *c = hnsw_ctx_get(h);
  for (int l = p->top; l >= 0; l--) {
    size_t n = hnsw_walk(h, c, &qv, cur, h->p.ef_construction, l, s, NULL);
    hnsw_sort_pairs(c->res, n);
    if (n)
      cur = c->res[0].id;
    uint32_t *ll = p->own + (size_t)l * (1 + h->m0);
    ll[0] = select_neighbors(h, c->res, n, h->m, ll + 1);
    for (uint32_t j = 1; j <= ll[0]; j++)
      p->nupd += plan_backlink(h, ll[j], s, l, &p->upd[p->nupd]);
  }
  hnsw_ctx_put(h, c);
}

/* Writes the plan (write lock held). */
static void apply_plan(struct loom_hnsw *h, uint32_t s) {
  const struct hnsw_plan *p = &h->plan;
  for (int l = 0; l <= p->top; l++) {
    const uint32_t *src = p->own + (size_t)l * (1 + h->m0);
    memcpy(hnsw_links(h, s, l), src, (1 + src[0]) * sizeof *src);
  }
  for (size_t i = 0; i < p->nupd; i++) {
    const struct hnsw_link_upd *u = &p->upd[i];
    memcpy(hnsw_links(h, u->nb, u->level), u->list,
           (1 + u->list[0]) * sizeof *u->list);
  }
  if (h->entry < 0 || h->nodes[s].level > h->max_level) {
    h->entry = s;
    h->max_level = h->nodes[s].level;
  }
}

/*
 * (Re)connects `s` (vector written, level set) to the graph. Called with
 * write_mutex held and the lock not held: the search runs under the read
 * lock, the writes under the write lock, where `publish` (may be NULL)
 * then runs too.
 */
static void relink(struct loom_hnsw *h, uint32_t s,
                   void (*publish)(struct loom_hnsw *h, uint32_t s)) {
  pthread_rwlock_rdlock(&h->lock);
  plan_links(h, s);
  pthread_rwlock_unlock(&h->lock);
  pthread_rwlock_wrlock(&h->lock);
  apply_plan(h, s);
  if (publish)
    publish(h, s);
  pthread_rwlock_unlock(&h->lock);
}

static bool has_pair(const struct hnsw_pair *p, size_t n, uint32_t id) {
  for (size_t i = 0; i < n; i++)
    if (p[i].id == id)
      return true;
  return false;
}

/* Takes `d` out of its neighbours' lists, refilling them (see top). */
static void repair_around(struct loom_hnsw *h, uint32_t d) {
  for (int l = 0; l <= h->nodes[d].level; l++) {
    const uint32_t *dl = hnsw_links(h, d, l);
    uint32_t cap = l ? h->m : h->m0;
    for (uint32_t i = 1; i <= dl[0]; i++) {
      uint32_t nb = dl[i];
      uint32_t *nl = hnsw_links(h, nb, l);
      bool links_d = false;
      for (uint32_t j = 1; j <= nl[0]; j++)
        links_d |= nl[j] == d;
      if (nb == d || !links_d)
        continue;
      struct hnsw_pair cand[4 * 64];
      size_t n = 0;
      for (uint32_t j = 1; j <= nl[0]; j++)
        if (nl[j] != d && !has_pair(cand, n, nl[j]))
          cand[n++] = (struct hnsw_pair){slot_dist(h, nb, nl[j]), nl[j]};
      for (uint32_t j = 1; j <= dl[0]; j++) {
        uint32_t x = dl[j];
        if (x == nb || x == d || h->nodes[x].deleted || has_pair(cand, n, x))
          continue;
        cand[n++] = (struct hnsw_pair){slot_dist(h, nb, x), x};
      }
      hnsw_sort_pairs(cand, n);
      nl[0] = select_neighbors(h, cand, n, cap, nl + 1);
    }
  }
}

/* ---- public writes --------------------------------------------------------
 */

loom_err loom_hnsw_check_vector(const struct loom_hnsw_params *p,
                                const float *v, struct loom_error *e) {
  double sq = 0;
  for (uint32_t i = 0; i < p->dim; i++) {
    if (!isfinite(v[i]))
      return loom_error_set(e, LOOM_ERR_INVALID,
                            "vector value %u is not a finite number", i);
    sq += (double)v[i] * v[i];
  }
  /* Distances and the int8 walk work on squared lengths in float; past
   * its range they are inf, and then NaN. */
  float f2 = loom_vk_best()->dot(v, v, p->dim);
  if (!isfinite(f2))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "the vector's length (%g) is too large; scale it "
                          "first",
                          sqrt(sq));
  if (p->metric != LOOM_METRIC_COSINE)
    return LOOM_OK;
  if (sq == 0)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "a cosine index cannot hold an all-zero vector");
  /* write_vector divides by the length computed in float: one that
   * underflows to 0 would store inf or NaN. */
  if (!(f2 > 0))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "the vector's length (%g) is too small for the "
                          "cosine metric; scale it first",
                          sqrt(sq));
  return LOOM_OK;
}

static loom_err check_vector(const struct loom_hnsw *h, const float *v,
                             struct loom_error *e) {
  return loom_hnsw_check_vector(&h->p, v, e);
}

/* Stores `v` (normalised for cosine, quantized if asked) in `s`. */
static void write_vector(struct loom_hnsw *h, uint32_t s, const float *v) {
  float *dst = (float *)hnsw_vec(h, s);
  float inv = 1.0f;
  h->nodes[s].norm = 1.0f;
  if (h->p.metric == LOOM_METRIC_COSINE) {
    h->nodes[s].norm = sqrtf(h->vk->dot(v, v, h->dim));
    inv = 1.0f / h->nodes[s].norm;
  }
  for (uint32_t i = 0; i < h->dim; i++)
    dst[i] = v[i] * inv;
  if (h->p.quantize) {
    char *q = hnsw_elem(h, s) + h->off_vec;
    struct hnsw_qhdr hd;
    hnsw_quantize(h, dst, (int8_t *)(q + sizeof hd), &hd);
    memcpy(q, &hd, sizeof hd);
  }
}

static bool same_vector(const struct loom_hnsw *h, uint32_t s, const float *v) {
  const float *cur = hnsw_vec(h, s);
  if (h->p.metric != LOOM_METRIC_COSINE)
    return memcmp(cur, v, sizeof(float) * h->dim) == 0;
  return false;
}

/* A fresh slot (reused tombstone or new) for `id`, unlinked. */
static uint32_t take_slot(struct loom_hnsw *h, const char *id) {
  uint32_t s;
  if (h->nfree) {
    s = h->free_slots[--h->nfree];
    loom_free(h->nodes[s].id);
  } else {
    if (h->used == h->capacity)
      hnsw_reserve(h, h->capacity ? h->capacity * 2 : 1024);
    s = h->used++;
    int level = random_level(h);
    h->nodes[s].level = level;
    if (level)
      h->upper[s] = loom_calloc((size_t)level * (h->m + 1), sizeof(uint32_t));
    hnsw_links(h, s, 0)[0] = 0;
  }
  h->nodes[s].id = loom_strdup(id);
  h->nodes[s].deleted = false;
  h->nodes[s].meta = NULL;
  return s;
}

/* Makes a freshly linked node visible (write lock held). */
static void publish_new(struct loom_hnsw *h, uint32_t s) {
  h->nodes[s].deleted = false;
  hnsw_idmap_put(h, s);
  h->live++;
}

static void set_meta(struct loom_hnsw *h, uint32_t s, json_t *meta) {
  if (h->nodes[s].meta)
    json_decref(h->nodes[s].meta);
  h->nodes[s].meta = meta;
  loom_vmeta_set(&h->meta_ix, s, meta);
}

loom_err loom_hnsw_upsert(struct loom_hnsw *h, const char *id,
                          const float *values, json_t *metadata,
                          struct loom_error *e) {
  size_t idlen = id ? strlen(id) : 0;
  if (idlen == 0 || idlen > LOOM_HNSW_MAX_ID)
    return loom_error_set(e, LOOM_ERR_INVALID, "id must be 1 to %d bytes long",
                          LOOM_HNSW_MAX_ID);
  loom_err err = check_vector(h, values, e);
  if (err)
    return err;
  pthread_mutex_lock(&h->write_mutex);
  pthread_rwlock_wrlock(&h->lock);
  uint32_t s = idmap_find(h, id, NULL);
  bool fresh = s == UINT32_MAX, moved = fresh;
  if (fresh) {
    s = take_slot(h, id);
    h->nodes[s].deleted = true; /* hidden until linked */
    write_vector(h, s, values);
  } else if (!same_vector(h, s, values)) {
    repair_around(h, s);
    write_vector(h, s, values);
    moved = true;
  }
  set_meta(h, s, metadata ? json_incref(metadata) : NULL);
  pthread_rwlock_unlock(&h->lock);
  if (moved)
    relink(h, s, fresh ? publish_new : NULL);
  pthread_mutex_unlock(&h->write_mutex);
  return LOOM_OK;
}

loom_err loom_hnsw_update(struct loom_hnsw *h, const char *id,
                          const float *values, const json_t *set_metadata,
                          struct loom_error *e) {
  if (values) {
    loom_err err = check_vector(h, values, e);
    if (err)
      return err;
  }
  if (set_metadata && !json_is_object(set_metadata))
    return loom_error_set(e, LOOM_ERR_INVALID, "metadata must be an object");
  pthread_mutex_lock(&h->write_mutex);
  pthread_rwlock_wrlock(&h->lock);
  uint32_t s = id ? idmap_find(h, id, NULL) : UINT32_MAX;
  if (s == UINT32_MAX) {
    pthread_rwlock_unlock(&h->lock);
    pthread_mutex_unlock(&h->write_mutex);
    return loom_error_set(e, LOOM_ERR_NOT_FOUND, "no vector with id '%s'",
                          id ? id : "");
  }
  bool moved = values && !same_vector(h, s, values);
  if (moved) {
    repair_around(h, s);
    write_vector(h, s, values);
  }
  if (set_metadata) {
    /* Copy first: the old object may still be referenced by a caller. */
    json_t *meta =
        h->nodes[s].meta ? json_copy(h->nodes[s].meta) : json_object();
    json_object_update(meta, (json_t *)set_metadata);
    set_meta(h, s, meta);
  }
  pthread_rwlock_unlock(&h->lock);
  if (moved)
    relink(h, s, NULL);
  pthread_mutex_unlock(&h->write_mutex);
  return LOOM_OK;
}

bool loom_hnsw_delete(struct loom_hnsw *h, const char *id) {
  pthread_mutex_lock(&h->write_mutex);
  pthread_rwlock_wrlock(&h->lock);
  uint32_t pos = 0, s = id ? idmap_find(h, id, &pos) : UINT32_MAX;
  if (s != UINT32_MAX) {
    repair_around(h, s);
    h->nodes[s].deleted = true;
    if (h->nodes[s].meta)
      json_decref(h->nodes[s].meta);
    h->nodes[s].meta = NULL;
    loom_vmeta_clear(&h->meta_ix, s);
    h->idmap[pos] = IDMAP_GONE;
    if (h->nfree == h->free_cap) {
      h->free_cap = h->free_cap ? h->free_cap * 2 : 64;
      h->free_slots =
          loom_realloc(h->free_slots, h->free_cap * sizeof *h->free_slots);
    }
    h->free_slots[h->nfree++] = s;
    h->live--;
  }
  pthread_rwlock_unlock(&h->lock);
  pthread_mutex_unlock(&h->write_mutex);
  return s != UINT32_MAX;
}

bool loom_hnsw_get(struct loom_hnsw *h, const char *id, loom_hnsw_item_cb cb,
                   void *ud) {
  pthread_rwlock_rdlock(&h->lock);
  uint32_t s = id ? idmap_find(h, id, NULL) : UINT32_MAX;
  if (s != UINT32_MAX) {
    float *buf = loom_malloc(sizeof(float) * h->dim);
    cb(ud, h->nodes[s].id, 0, hnsw_user_vec(h, s, buf), h->nodes[s].meta);
    loom_free(buf);
  }
  pthread_rwlock_unlock(&h->lock);
  return s != UINT32_MAX;
}
