/*
 * buf — a growable byte buffer with a hard cap.
 *
 * Every buffer that outside input can grow is capped (curl's dynbuf
 * "toobig"): appending past `max` fails with LOOM_ERR_TOO_LARGE and leaves
 * the buffer as it was. The data is always NUL-terminated, so a buffer of
 * text can be used as a C string. Caller-owned: loom_buf_init/cleanup.
 */
#ifndef LOOM_CORE_BUF_H
#define LOOM_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "core/err.h"

struct loom_buf {
  char *data; /* NUL-terminated; NULL until the first append */
  size_t len; /* bytes used, not counting the terminator */
  size_t cap; /* bytes allocated */
  size_t max; /* largest len allowed */
};

/* Starts an empty buffer that may grow to `max` bytes. */
void loom_buf_init(struct loom_buf *b, size_t max);

/* Releases the memory; the buffer is empty and reusable afterwards. */
void loom_buf_cleanup(struct loom_buf *b);

/* Forgets the contents but keeps the allocation. */
void loom_buf_reset(struct loom_buf *b);

/* Appends bytes; LOOM_ERR_TOO_LARGE past the cap (nothing appended). */
loom_err loom_buf_append(struct loom_buf *b, const void *data,
                         size_t len) LOOM_MUST_USE;
loom_err loom_buf_append_str(struct loom_buf *b, const char *s) LOOM_MUST_USE;
loom_err loom_buf_appendf(struct loom_buf *b, const char *fmt, ...)
    LOOM_PRINTF(2, 3) LOOM_MUST_USE;
loom_err loom_buf_vappendf(struct loom_buf *b, const char *fmt, va_list ap)
    LOOM_PRINTF(2, 0) LOOM_MUST_USE;

/*
 * Hands the contents to the caller (free with loom_free; never NULL, "" when
 * empty) and leaves the buffer empty. `len` may be NULL.
 */
char *loom_buf_take(struct loom_buf *b, size_t *len);

#endif
