/*
 * vector_wal — append-only record log with CRC-32C, replay on open.
 *
 * How: records are encoded into an in-memory batch; commit writes the
 * batch with one write() loop and one fdatasync(). If either fails the file
 * is truncated back to where the batch began, so a failed commit leaves no
 * half record for the next one to follow. Replay reads the file through a
 * read-only mapping and stops at the first record whose length runs past
 * the end or whose CRC does not match; the file is cut there.
 */
#include "stores/vector_wal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

struct loom_vwal {
  int fd;
  size_t size; /* bytes in the file */
  char *batch; /* encoded, not yet written */
  size_t blen, bcap;
};

/* CRC-32C (Castagnoli), bytewise table. */
static uint32_t crc_table[256];

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = c & 1 ? 0x82f63b78u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

static uint32_t crc32c(const void *data, size_t n) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, crc_init);
  const unsigned char *p = data;
  uint32_t c = 0xffffffffu;
  while (n--)
    c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

static void batch_put(struct loom_vwal *w, const void *p, size_t n) {
  if (w->blen + n > w->bcap) {
    size_t cap = w->bcap ? w->bcap : 4096;
    while (cap < w->blen + n)
      cap *= 2;
    w->batch = loom_realloc(w->batch, cap);
    w->bcap = cap;
  }
  if (n)
    memcpy(w->batch + w->blen, p, n);
  w->blen += n;
}

void loom_vwal_add(struct loom_vwal *w, const struct loom_vwal_rec *r) {
  size_t start = w->blen;
  uint32_t zero = 0;
  batch_put(w, &zero, 4); /* length, patched below */
  batch_put(w, &zero, 4); /* crc, patched below */
  uint8_t op = (uint8_t)r->op;
  uint16_t nslen = (uint16_t)strlen(r->ns);
  uint16_t idlen = r->id ? (uint16_t)strlen(r->id) : 0;
  batch_put(w, &r->lsn, 8);
  batch_put(w, &op, 1);
  batch_put(w, &nslen, 2);
  batch_put(w, r->ns, nslen);
  batch_put(w, &idlen, 2);
  batch_put(w, r->id, idlen);
  batch_put(w, &r->nvalues, 4);
  batch_put(w, r->values, (size_t)r->nvalues * sizeof(float));
  batch_put(w, &r->metalen, 4);
  batch_put(w, r->meta, r->metalen);
  uint32_t len = (uint32_t)(w->blen - start - 8);
  uint32_t crc = crc32c(w->batch + start + 8, len);
  memcpy(w->batch + start, &len, 4);
  memcpy(w->batch + start + 4, &crc, 4);
}

loom_err loom_vwal_commit(struct loom_vwal *w, struct loom_error *e) {
  size_t off = 0;
  loom_err result = LOOM_OK;
  while (off < w->blen) {
    ssize_t n =
        pwrite(w->fd, w->batch + off, w->blen - off, (off_t)(w->size + off));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      goto fail;
    off += (size_t)n;
  }
  if (w->blen && fdatasync(w->fd) != 0)
    goto fail;
  w->size += w->blen;
  goto out;
fail:
  result = loom_error_set(e, LOOM_ERR_IO, "cannot write the vector log: %s",
                          strerror(errno));
  if (ftruncate(w->fd, (off_t)w->size) != 0) { /* best effort */
  }
out:
  w->blen = 0;
  return result;
}

loom_err loom_vwal_reset(struct loom_vwal *w, struct loom_error *e) {
  if (ftruncate(w->fd, 0) != 0 || fsync(w->fd) != 0)
    return loom_error_set(e, LOOM_ERR_IO, "cannot empty the vector log: %s",
                          strerror(errno));
  w->size = 0;
  return LOOM_OK;
}

size_t loom_vwal_size(const struct loom_vwal *w) { return w->size; }

void loom_vwal_close(struct loom_vwal *w) {
  if (!w)
    return;
  close(w->fd);
  loom_free(w->batch);
  loom_free(w);
}

/* ---- replay ----------------------------------------------------------------
 */

struct cursor {
  const char *p, *end;
};

static bool get(struct cursor *c, void *out, size_t n) {
  if ((size_t)(c->end - c->p) < n)
    return false;
  memcpy(out, c->p, n);
  c->p += n;
  return true;
}

static char *get_str(struct cursor *c, size_t n) {
  if ((size_t)(c->end - c->p) < n)
    return NULL;
  char *s = loom_strndup(c->p, n);
  c->p += n;
  return s;
}

/* Decodes one payload; false if it is malformed. */
static bool decode(const char *p, size_t len, loom_vwal_replay_cb cb, void *ud,
                   uint64_t *lsn) {
  struct cursor c = {p, p + len};
  struct loom_vwal_rec r = {0};
  uint8_t op;
  uint16_t nslen, idlen;
  char *ns = NULL, *id = NULL, *meta = NULL;
  float *values = NULL;
  bool ok = get(&c, &r.lsn, 8) && get(&c, &op, 1) && get(&c, &nslen, 2) &&
            (ns = get_str(&c, nslen)) && get(&c, &idlen, 2) &&
            (id = get_str(&c, idlen)) && get(&c, &r.nvalues, 4) &&
            r.nvalues <= 1000000;
  if (ok && r.nvalues) {
    values = loom_malloc((size_t)r.nvalues * sizeof(float));
    ok = get(&c, values, (size_t)r.nvalues * sizeof(float));
  }
  ok = ok && get(&c, &r.metalen, 4) && (meta = get_str(&c, r.metalen)) &&
       c.p == c.end && op >= LOOM_VWAL_UPSERT && op <= LOOM_VWAL_DROP;
  if (ok) {
    r.op = (enum loom_vwal_op)op;
    r.ns = ns;
    r.id = idlen || op != LOOM_VWAL_DROP ? id : NULL;
    r.values = values;
    r.meta = r.metalen ? meta : NULL;
    cb(ud, &r);
    if (r.lsn > *lsn)
      *lsn = r.lsn;
  }
  loom_free(ns);
  loom_free(id);
  loom_free(meta);
  loom_free(values);
  return ok;
}

/* Replays the file; returns the length of its intact prefix. */
static size_t replay(int fd, size_t size, loom_vwal_replay_cb cb, void *ud,
                     uint64_t *lsn) {
  if (size == 0)
    return 0;
  char *base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (base == MAP_FAILED)
    return 0;
  size_t off = 0;
  while (size - off >= 8) {
    uint32_t len, crc;
    memcpy(&len, base + off, 4);
    memcpy(&crc, base + off + 4, 4);
    if (len > size - off - 8 || crc32c(base + off + 8, len) != crc)
      break;
    if (!decode(base + off + 8, len, cb, ud, lsn))
      break;
    off += 8 + (size_t)len;
  }
  munmap(base, size);
  return off;
}

loom_err loom_vwal_open(const char *path, loom_vwal_replay_cb cb, void *ud,
                        struct loom_vwal **out, uint64_t *last_lsn,
                        struct loom_error *e) {
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    loom_err err = loom_error_set(e, LOOM_ERR_IO, "cannot open %s: %s", path,
                                  strerror(errno));
    if (fd >= 0)
      close(fd);
    return err;
  }
  *last_lsn = 0;
  size_t good = replay(fd, (size_t)st.st_size, cb, ud, last_lsn);
  if (good != (size_t)st.st_size &&
      (ftruncate(fd, (off_t)good) != 0 || fsync(fd) != 0)) {
    loom_err err = loom_error_set(e, LOOM_ERR_IO, "cannot truncate %s: %s",
                                  path, strerror(errno));
    close(fd);
    return err;
  }
  struct loom_vwal *w = LOOM_NEW(struct loom_vwal);
  w->fd = fd;
  w->size = good;
  *out = w;
  return LOOM_OK;
}
