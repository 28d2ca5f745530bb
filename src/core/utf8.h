/*
 * utf8 — checks that bytes from outside are valid UTF-8 (no overlong
 * forms, no surrogates, nothing past U+10FFFF), as JSON strings must be:
 * text that is not would fail later, where the error is harder to report.
 */
#ifndef LOOM_CORE_UTF8_H
#define LOOM_CORE_UTF8_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Length of the valid multi-byte sequence at p (whose first byte is >=
 * 0x80), reading no further than `end`; 0 when it is not valid. */
size_t loom_utf8_seq_len(const unsigned char *p, const unsigned char *end);

/* Whether the n bytes at s are valid UTF-8 (a NUL byte is valid). */
bool loom_utf8_valid(const char *s, size_t n);

/*
 * Makes the n bytes at s valid UTF-8 in place: every byte that does not
 * start a valid sequence (a stray byte, or the first part of a sequence
 * cut short, as a capped copy leaves it) becomes '?'. Returns how many
 * bytes were replaced. For text from outside on its way into JSON, where
 * one bad byte would otherwise lose the whole string.
 */
size_t loom_utf8_scrub(char *s, size_t n);

/*
 * vsnprintf into buf (size > 0), then loom_utf8_scrub: a message that
 * quotes outside input (an id from a path, a header, a server's error
 * body), or that the cap cuts mid-character, still goes into JSON whole.
 */
void loom_utf8_vformat(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
