/*
 * alloc — malloc wrappers that abort on exhaustion.
 */
#include "core/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(size_t size) {
  fprintf(stderr, "loom: out of memory allocating %zu bytes\n", size);
  abort();
}

void *loom_malloc(size_t size) {
  void *p = malloc(size ? size : 1);
  if (!p)
    out_of_memory(size);
  return p;
}

void *loom_calloc(size_t count, size_t size) {
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (!p)
    out_of_memory(count * size);
  return p;
}

void *loom_realloc(void *ptr, size_t size) {
  void *p = realloc(ptr, size ? size : 1);
  if (!p)
    out_of_memory(size);
  return p;
}

void loom_free(void *ptr) { free(ptr); }

char *loom_strdup(const char *s) { return loom_strndup(s, strlen(s)); }

char *loom_strndup(const char *s, size_t n) {
  size_t len = strnlen(s, n);
  char *p = loom_malloc(len + 1);
  memcpy(p, s, len);
  p[len] = 0;
  return p;
}

char *loom_asprintf(const char *fmt, ...) {
  va_list ap, copy;
  va_start(ap, fmt);
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *p = loom_malloc((size_t)(n < 0 ? 0 : n) + 1);
  vsnprintf(p, (size_t)n + 1, fmt, copy);
  va_end(copy);
  return p;
}
