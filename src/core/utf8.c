/*
 * utf8 — see utf8.h. The lead byte gives the length and the first bits of
 * the code point; each continuation byte adds six bits; the value then
 * rules out overlong forms, surrogates and values past U+10FFFF.
 */
#include "core/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t loom_utf8_seq_len(const unsigned char *p, const unsigned char *end) {
  unsigned char b = p[0];
  size_t n;
  uint32_t cp;
  if (b >= 0xc2 && b <= 0xdf) {
    n = 2;
    cp = b & 0x1fu;
  } else if (b >= 0xe0 && b <= 0xef) {
    n = 3;
    cp = b & 0x0fu;
  } else if (b >= 0xf0 && b <= 0xf4) {
    n = 4;
    cp = b & 0x07u;
  } else {
    return 0;
  }
  if ((size_t)(end - p) < n)
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (p[i] & 0x3fu);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

bool loom_utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  while (p < end) {
    if (*p < 0x80) {
      p++;
      continue;
    }
    size_t len = loom_utf8_seq_len(p, end);
    if (!len)
      return false;
    p += len;
  }
  return true;
}

size_t loom_utf8_scrub(char *s, size_t n) {
  unsigned char *p = (unsigned char *)s, *end = p + n;
  size_t replaced = 0;
  while (p < end) {
    size_t len = *p < 0x80 ? 1 : loom_utf8_seq_len(p, end);
    if (!len) {
      *p = '?';
      replaced++;
      len = 1;
    }
    p += len;
  }
  return replaced;
}

void loom_utf8_vformat(char *buf, size_t size, const char *fmt, va_list ap) {
  vsnprintf(buf, size, fmt, ap);
  loom_utf8_scrub(buf, strlen(buf));
}
