/*
 * base64 — decoding the standard alphabet (RFC 4648 section 4), for binary
 * payloads carried in JSON (a PDF posted to the documents API).
 */
#ifndef LOOM_CORE_BASE64_H
#define LOOM_CORE_BASE64_H

#include <stddef.h>

#include "core/err.h"

/* Room loom_base64_decode needs for `len` characters of input. */
#define LOOM_BASE64_DECODED_MAX(len) ((len) / 4 * 3 + 3)

/*
 * Decodes `len` characters of `s` into `out` (room for
 * LOOM_BASE64_DECODED_MAX(len) bytes); *n gets the byte count. Padding
 * ('=') is optional but only at the end; ASCII whitespace is skipped.
 * LOOM_ERR_PARSE, with the offending offset in the message, for anything
 * else.
 */
loom_err loom_base64_decode(const char *s, size_t len, unsigned char *out,
                            size_t *n, struct loom_error *e) LOOM_MUST_USE;

#endif
