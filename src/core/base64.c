/*
 * base64 — see base64.h. A table maps each input byte to its 6-bit value
 * (or a marker for padding, whitespace and invalid bytes); bits collect in
 * an accumulator and leave it a byte at a time.
 */
#include "core/base64.h"

#include <stdint.h>

enum { B64_BAD = 64, B64_PAD, B64_SPACE };

static uint8_t value_of(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return (uint8_t)(c - 'A');
  if (c >= 'a' && c <= 'z')
    return (uint8_t)(c - 'a' + 26);
  if (c >= '0' && c <= '9')
    return (uint8_t)(c - '0' + 52);
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  if (c == '=')
    return B64_PAD;
  if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
    return B64_SPACE;
  return B64_BAD;
}

loom_err loom_base64_decode(const char *s, size_t len, unsigned char *out,
                            size_t *n, struct loom_error *e) {
  uint32_t acc = 0;
  int bits = 0;
  size_t w = 0, pads = 0;
  *n = 0;
  for (size_t i = 0; i < len; i++) {
    uint8_t v = value_of((unsigned char)s[i]);
    if (v == B64_SPACE)
      continue;
    if (v == B64_PAD && pads < 2) {
      pads++;
      continue;
    }
    if (v >= B64_BAD || pads)
      return loom_error_set(e, LOOM_ERR_PARSE, "invalid base64 at offset %zu",
                            i);
    acc = (acc << 6 | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[w++] = (uint8_t)(acc >> bits);
    }
  }
  if (bits >= 6) /* one lone character: not a whole byte */
    return loom_error_set(e, LOOM_ERR_PARSE, "truncated base64");
  *n = w;
  return LOOM_OK;
}
