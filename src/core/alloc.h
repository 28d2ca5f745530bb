/*
 * alloc — allocation that never returns NULL.
 *
 * Out of memory is not a condition loom can recover from mid-request, so
 * these wrappers abort with a message instead (Redis zmalloc). Callers never
 * check for NULL. Everything allocated here is released with loom_free.
 */
#ifndef LOOM_CORE_ALLOC_H
#define LOOM_CORE_ALLOC_H

#include <stddef.h>

#include "core/err.h"

void *loom_malloc(size_t size);
void *loom_calloc(size_t count, size_t size);
void *loom_realloc(void *ptr, size_t size);
void loom_free(void *ptr);

/* Copies of C strings; loom_strndup copies at most n bytes and terminates. */
char *loom_strdup(const char *s);
char *loom_strndup(const char *s, size_t n);

/* printf into a fresh heap string; the caller frees it. */
char *loom_asprintf(const char *fmt, ...) LOOM_PRINTF(1, 2);

#define LOOM_NEW(type) ((type *)loom_calloc(1, sizeof(type)))

#endif
