/*
 * vector_wal — the vector store's write-ahead log.
 *
 * A file of records, each: u32 payload length, u32 CRC-32C of the payload,
 * payload = u64 lsn, u8 op, u16 namespace length + bytes, u16 id length +
 * bytes, u32 value count + floats, u32 metadata length + JSON text. Records
 * are buffered with loom_vwal_add and made durable together by
 * loom_vwal_commit (one write, one fdatasync). Opening replays every intact
 * record in order and cuts the file after the last one, so a record torn by
 * a crash (never acknowledged) disappears.
 */
#ifndef LOOM_STORES_VECTOR_WAL_H
#define LOOM_STORES_VECTOR_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum loom_vwal_op {
  LOOM_VWAL_UPSERT = 1, /* id, values, metadata (optional) */
  LOOM_VWAL_DELETE = 2, /* id */
  LOOM_VWAL_UPDATE = 3, /* id, values (optional), metadata to merge (opt.) */
  LOOM_VWAL_DROP = 4,   /* the whole namespace */
};

struct loom_vwal_rec {
  uint64_t lsn;
  enum loom_vwal_op op;
  const char *ns;
  const char *id;      /* NULL for DROP */
  const float *values; /* NULL when nvalues is 0 */
  uint32_t nvalues;
  const char *meta; /* JSON text, NULL when metalen is 0 */
  uint32_t metalen;
};

struct loom_vwal;

/* Called for each intact record on open; ns, id and meta are
 * NUL-terminated copies valid during the call. */
typedef void (*loom_vwal_replay_cb)(void *ud, const struct loom_vwal_rec *r);

/*
 * Opens (creating if missing) the log at `path`, replays it through `cb`,
 * and truncates any torn tail. *last_lsn is the highest LSN seen (0 if
 * none). LOOM_ERR_IO with the reason on failure.
 */
loom_err loom_vwal_open(const char *path, loom_vwal_replay_cb cb, void *ud,
                        struct loom_vwal **out, uint64_t *last_lsn,
                        struct loom_error *e) LOOM_MUST_USE;

/* Buffers a record (not yet durable). */
void loom_vwal_add(struct loom_vwal *w, const struct loom_vwal_rec *r);

/* Writes and fsyncs everything buffered. On failure the file is cut back
 * to its previous length and LOOM_ERR_IO returned; the buffer is emptied
 * either way. */
loom_err loom_vwal_commit(struct loom_vwal *w,
                          struct loom_error *e) LOOM_MUST_USE;

/* Empties the log (after a checkpoint made its records redundant). */
loom_err loom_vwal_reset(struct loom_vwal *w,
                         struct loom_error *e) LOOM_MUST_USE;

/* Bytes in the log file. */
size_t loom_vwal_size(const struct loom_vwal *w);

/* Closes the log (NULL is fine); buffered records are dropped. */
void loom_vwal_close(struct loom_vwal *w);

#endif
