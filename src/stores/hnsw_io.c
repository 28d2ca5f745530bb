/*
 * hnsw_io — HNSW snapshots: one file per index, written whole and renamed
 * into place, loaded by memory-mapping.
 *
 * File layout (little-endian, this machine's layout; not portable across
 * architectures):
 *   header (struct snap_header, 128 bytes)
 *   per slot: u8 flags, u8 level, u16 id length, u32 metadata length,
 *             f32 norm, id bytes, metadata JSON, upper links
 *             (level * (m+1) u32)
 *   quantized indexes: exact floats, used * dim
 *   zero padding to a page boundary
 *   level-0 block: used * elem_size bytes, exactly as in memory
 *   trailer: "LOOMEND!"
 * Loading maps the file, parses the node table from the mapping and moves
 * the level-0 block into the index's huge-page memory with one memcpy (the
 * search is TLB-bound on 4 KB pages, so searching the mapping in place is
 * measurably slower), then unmaps it.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "stores/hnsw_internal.h"

#define SNAP_MAGIC "LOOMHNS2"
#define SNAP_TRAILER "LOOMEND!"
#define SNAP_PAGE 4096

struct snap_header {
  char magic[8];
  uint32_t dim, metric, m, ef_construction, quantize, max_level;
  uint32_t used, pad;
  int64_t entry;
  uint64_t lsn, rng, seed, elem_size, level0_off;
  char reserved[128 - 8 - 8 * 4 - 8 * 6];
};
_Static_assert(sizeof(struct snap_header) == 128, "header is 128 bytes");

enum { NODE_USED = 1, NODE_DELETED = 2 };

static bool put(FILE *f, const void *p, size_t n) {
  return n == 0 || fwrite(p, 1, n, f) == n;
}

static bool write_nodes(struct loom_hnsw *h, FILE *f) {
  for (uint32_t s = 0; s < h->used; s++) {
    const struct hnsw_node *nd = &h->nodes[s];
    char *meta = nd->meta ? json_dumps(nd->meta, JSON_COMPACT) : NULL;
    uint8_t flags = (nd->id ? NODE_USED : 0) | (nd->deleted ? NODE_DELETED : 0);
    uint8_t level = (uint8_t)nd->level;
    uint16_t idlen = nd->id ? (uint16_t)strlen(nd->id) : 0;
    uint32_t metalen = meta ? (uint32_t)strlen(meta) : 0;
    bool ok =
        put(f, &flags, 1) && put(f, &level, 1) && put(f, &idlen, 2) &&
        put(f, &metalen, 4) && put(f, &nd->norm, 4) && put(f, nd->id, idlen) &&
        put(f, meta, metalen) &&
        put(f, h->upper[s], (size_t)nd->level * (h->m + 1) * sizeof(uint32_t));
    free(meta);
    if (!ok)
      return false;
  }
  return true;
}

static bool write_body(struct loom_hnsw *h, FILE *f, uint64_t lsn) {
  struct snap_header hd = {0};
  memcpy(hd.magic, SNAP_MAGIC, 8);
  hd.dim = h->dim;
  hd.metric = h->p.metric;
  hd.m = h->m;
  hd.ef_construction = h->p.ef_construction;
  hd.quantize = h->p.quantize;
  hd.max_level = (uint32_t)h->max_level;
  hd.used = h->used;
  hd.entry = h->entry;
  hd.lsn = lsn;
  hd.rng = h->rng;
  hd.seed = h->p.seed;
  hd.elem_size = h->elem_size;
  if (!put(f, &hd, sizeof hd) || !write_nodes(h, f))
    return false;
  if (h->p.quantize &&
      !put(f, h->exact, (size_t)h->used * h->dim * sizeof(float)))
    return false;
  long pos = ftell(f);
  if (pos < 0)
    return false;
  static const char zeros[SNAP_PAGE];
  size_t padding = (SNAP_PAGE - (size_t)pos % SNAP_PAGE) % SNAP_PAGE;
  hd.level0_off = (uint64_t)pos + padding;
  if (!put(f, zeros, padding) ||
      !put(f, h->level0, (size_t)h->used * h->elem_size) ||
      !put(f, SNAP_TRAILER, 8))
    return false;
  /* The level-0 offset is known only now: patch the header. */
  return fseek(f, 0, SEEK_SET) == 0 && put(f, &hd, sizeof hd) &&
         fflush(f) == 0 && fsync(fileno(f)) == 0;
}

/* fsync the directory holding `path`, so a rename survives power loss. */
static void sync_dir_of(const char *path) {
  char *copy = loom_strdup(path);
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  loom_free(copy);
}

loom_err loom_hnsw_save(struct loom_hnsw *h, const char *path, uint64_t lsn,
                        struct loom_error *e) {
  char *tmp = loom_asprintf("%s.tmp", path);
  loom_err result = LOOM_OK;
  pthread_rwlock_rdlock(&h->lock);
  FILE *f = fopen(tmp, "wb");
  bool ok = f && write_body(h, f, lsn);
  int saved = errno;
  pthread_rwlock_unlock(&h->lock);
  if (f && fclose(f) != 0)
    ok = false;
  if (!ok || rename(tmp, path) != 0) {
    result = loom_error_set(e, LOOM_ERR_IO, "cannot write snapshot %s: %s",
                            path, strerror(ok ? errno : saved));
    unlink(tmp);
    goto out;
  }
  sync_dir_of(path);
out:
  loom_free(tmp);
  return result;
}

/* ---- loading ------------------------------------------------------------- */

struct reader {
  const char *p, *end;
};

static const void *take(struct reader *r, size_t n) {
  if ((size_t)(r->end - r->p) < n)
    return NULL;
  const void *at = r->p;
  r->p += n;
  return at;
}

static bool read_nodes(struct loom_hnsw *h, struct reader *r) {
  for (uint32_t s = 0; s < h->used; s++) {
    const uint8_t *hd = take(r, 12);
    if (!hd)
      return false;
    uint16_t idlen;
    uint32_t metalen;
    memcpy(&idlen, hd + 2, 2);
    memcpy(&metalen, hd + 4, 4);
    struct hnsw_node *nd = &h->nodes[s];
    memcpy(&nd->norm, hd + 8, 4);
    nd->level = hd[1];
    nd->deleted = hd[0] & NODE_DELETED;
    const char *id = take(r, idlen), *meta = take(r, metalen);
    size_t up = (size_t)nd->level * (h->m + 1) * sizeof(uint32_t);
    const void *links = take(r, up);
    if (!id || !meta || !links || nd->level > 16)
      return false;
    if (hd[0] & NODE_USED)
      nd->id = loom_strndup(id, idlen);
    /* A tombstone has no metadata (delete drops it, so none is written);
     * one kept from a damaged file would leak when the slot is reused. */
    if (metalen && !nd->deleted) {
      nd->meta = json_loadb(meta, metalen, 0, NULL);
      if (!nd->meta)
        return false;
      loom_vmeta_set(&h->meta_ix, s, nd->meta);
    }
    if (up) {
      h->upper[s] = loom_malloc(up);
      memcpy(h->upper[s], links, up);
    }
  }
  return true;
}

/* Rebuilds the id map and free list from the node table. */
static bool index_nodes(struct loom_hnsw *h) {
  for (uint32_t s = 0; s < h->used; s++) {
    struct hnsw_node *nd = &h->nodes[s];
    if (!nd->id)
      return false;
    if (nd->deleted) {
      if (h->nfree == h->free_cap) {
        h->free_cap = h->free_cap ? h->free_cap * 2 : 64;
        h->free_slots =
            loom_realloc(h->free_slots, h->free_cap * sizeof *h->free_slots);
      }
      h->free_slots[h->nfree++] = s;
    } else {
      hnsw_idmap_put(h, s);
      h->live++;
    }
  }
  return true;
}

/*
 * Whether the graph stays inside itself: every link list holds at most m0
 * (level 0) or m (above) slots, each below `used` and naming a node that
 * reaches that level, and the entry point reaches the top level. Searches
 * follow links unchecked, so a snapshot a bad disk or copy changed is
 * refused here rather than read out of bounds later. One pass over the
 * link lists, small beside the vectors the load copies anyway.
 */
static bool links_valid(const struct loom_hnsw *h) {
  if (h->max_level < 0 || h->nodes[h->entry].level < h->max_level)
    return false;
  for (uint32_t s = 0; s < h->used; s++) {
    for (int l = 0; l <= h->nodes[s].level; l++) {
      const uint32_t *ll = hnsw_links(h, s, l);
      if (ll[0] > (l ? h->m : h->m0))
        return false;
      for (uint32_t j = 1; j <= ll[0]; j++)
        if (ll[j] >= h->used || h->nodes[ll[j]].level < l)
          return false;
    }
  }
  return true;
}

/* Gives h the snapshot's hd->used nodes from the mapping `base` (which h
 * then owns: loom_hnsw_free unmaps it); level 0 is read in place until
 * hnsw_reserve copies it out. False when the nodes do not read back. */
static bool attach_nodes(struct loom_hnsw *h, char *base, size_t len,
                         const struct snap_header *hd) {
  uint32_t cap = hd->used;
  h->capacity = cap;
  h->used = hd->used;
  h->nodes = loom_calloc(cap, sizeof *h->nodes);
  h->upper = loom_calloc(cap, sizeof *h->upper);
  h->level0 = base + hd->level0_off;
  h->map = base;
  h->map_len = len;
  struct reader r = {base + sizeof *hd, base + hd->level0_off};
  bool ok = read_nodes(h, &r);
  if (ok && h->p.quantize) {
    size_t n = (size_t)cap * h->dim * sizeof(float);
    const void *src = take(&r, n);
    h->exact = src ? malloc(n) : NULL; /* hnsw_reserve re-homes it */
    if (src)
      memcpy(h->exact, src, n);
    ok = src != NULL;
  }
  return ok && links_valid(h) && index_nodes(h);
}

static loom_err load_mapped(char *base, size_t len, struct loom_hnsw **out,
                            uint64_t *lsn, struct loom_error *e) {
  struct snap_header hd;
  if (len < sizeof hd + 8)
    goto corrupt;
  memcpy(&hd, base, sizeof hd);
  if (memcmp(hd.magic, SNAP_MAGIC, 8) != 0 ||
      memcmp(base + len - 8, SNAP_TRAILER, 8) != 0)
    goto corrupt;
  struct loom_hnsw_params p = {.dim = hd.dim,
                               .metric = (enum loom_metric)hd.metric,
                               .m = hd.m,
                               .ef_construction = hd.ef_construction,
                               .quantize = hd.quantize != 0,
                               .seed = hd.seed};
  struct loom_hnsw *h;
  loom_err err = loom_hnsw_new(&p, &h, e);
  if (err)
    return err;
  if (h->elem_size != hd.elem_size || hd.level0_off % SNAP_PAGE ||
      hd.level0_off > len || /* the sum below must not wrap */
      hd.level0_off + (uint64_t)hd.used * hd.elem_size + 8 != len ||
      (hd.used && (hd.entry < 0 || hd.entry >= hd.used))) {
    loom_hnsw_free(h);
    goto corrupt;
  }
  h->rng = hd.rng;
  h->entry = hd.used ? hd.entry : -1;
  h->max_level = (int32_t)hd.max_level;
  if (hd.used) {
    if (!attach_nodes(h, base, len, &hd)) {
      loom_hnsw_free(h); /* unmaps base */
      return loom_error_set(e, LOOM_ERR_PARSE, "snapshot is corrupt");
    }
    uint32_t cap = hd.used;
    hnsw_reserve(h, cap + cap / 8 + 64); /* copies level 0 out, unmaps */
  } else {
    munmap(base, len);
  }
  *lsn = hd.lsn;
  *out = h;
  return LOOM_OK;
corrupt:
  munmap(base, len);
  return loom_error_set(e, LOOM_ERR_PARSE, "snapshot is corrupt");
}

loom_err loom_hnsw_load(const char *path, struct loom_hnsw **out, uint64_t *lsn,
                        struct loom_error *e) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return loom_error_set(e, errno == ENOENT ? LOOM_ERR_NOT_FOUND : LOOM_ERR_IO,
                          "cannot open snapshot %s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(struct snap_header)) {
    close(fd);
    return loom_error_set(e, LOOM_ERR_PARSE, "snapshot %s is truncated", path);
  }
  size_t len = (size_t)st.st_size;
  void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  close(fd);
  if (base == MAP_FAILED)
    return loom_error_set(e, LOOM_ERR_IO, "cannot map snapshot %s: %s", path,
                          strerror(errno));
  return load_mapped(base, len, out, lsn, e);
}

loom_err loom_hnsw_peek(const char *path, struct loom_hnsw_params *p,
                        struct loom_error *e) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return loom_error_set(e, errno == ENOENT ? LOOM_ERR_NOT_FOUND : LOOM_ERR_IO,
                          "cannot open snapshot %s: %s", path, strerror(errno));
  struct snap_header hd;
  ssize_t got = pread(fd, &hd, sizeof hd, 0);
  close(fd);
  /* Only the header is read, so a snapshot whose body is damaged still
   * tells its shape; one whose header is damaged tells nothing. */
  if (got != (ssize_t)sizeof hd || memcmp(hd.magic, SNAP_MAGIC, 8) != 0 ||
      hd.dim < 1 || hd.dim > LOOM_HNSW_MAX_DIM ||
      hd.metric > LOOM_METRIC_EUCLIDEAN)
    return loom_error_set(e, LOOM_ERR_PARSE, "snapshot %s has no valid header",
                          path);
  *p = (struct loom_hnsw_params){.dim = hd.dim,
                                 .metric = (enum loom_metric)hd.metric,
                                 .m = hd.m,
                                 .ef_construction = hd.ef_construction,
                                 .quantize = hd.quantize != 0};
  return LOOM_OK;
}
