/*
 * buf — capped growable buffer; doubles its allocation as it grows.
 */
#include "core/buf.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

void loom_buf_init(struct loom_buf *b, size_t max) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max;
}

void loom_buf_cleanup(struct loom_buf *b) {
  loom_free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void loom_buf_reset(struct loom_buf *b) {
  b->len = 0;
  if (b->data)
    b->data[0] = 0;
}

static loom_err reserve(struct loom_buf *b, size_t extra) {
  if (extra > b->max || b->len > b->max - extra)
    return LOOM_ERR_TOO_LARGE;
  size_t need = b->len + extra + 1;
  if (need <= b->cap)
    return LOOM_OK;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap *= 2;
  b->data = loom_realloc(b->data, cap);
  b->cap = cap;
  return LOOM_OK;
}

loom_err loom_buf_append(struct loom_buf *b, const void *data, size_t len) {
  loom_err err = reserve(b, len);
  if (err)
    return err;
  if (len)
    memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = 0;
  return LOOM_OK;
}

loom_err loom_buf_append_str(struct loom_buf *b, const char *s) {
  return loom_buf_append(b, s, strlen(s));
}

loom_err loom_buf_vappendf(struct loom_buf *b, const char *fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n < 0)
    return LOOM_ERR_INVALID;
  loom_err err = reserve(b, (size_t)n);
  if (err)
    return err;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return LOOM_OK;
}

loom_err loom_buf_appendf(struct loom_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  loom_err err = loom_buf_vappendf(b, fmt, ap);
  va_end(ap);
  return err;
}

char *loom_buf_take(struct loom_buf *b, size_t *len) {
  char *data = b->data ? b->data : loom_strdup("");
  if (len)
    *len = b->len;
  b->data = NULL;
  b->len = b->cap = 0;
  return data;
}
