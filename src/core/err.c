/*
 * err — code tables generated from LOOM_ERR_MAP, and message formatting.
 */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/utf8.h"

static const char *const names[] = {
#define NAME(name, code, desc) #name,
    LOOM_ERR_MAP(NAME)
#undef NAME
};

static const char *const codes[] = {
#define CODE(name, code, desc) #code,
    LOOM_ERR_MAP(CODE)
#undef CODE
};

static const char *const descriptions[] = {
#define DESC(name, code, desc) desc,
    LOOM_ERR_MAP(DESC)
#undef DESC
};

const char *loom_err_name(loom_err err) {
  return (unsigned)err < LOOM_ERR__COUNT ? names[err] : "UNKNOWN";
}

const char *loom_err_code(loom_err err) {
  return (unsigned)err < LOOM_ERR__COUNT ? codes[err] : "unknown";
}

const char *loom_strerror(loom_err err) {
  return (unsigned)err < LOOM_ERR__COUNT ? descriptions[err] : "unknown error";
}

loom_err loom_error_set(struct loom_error *e, loom_err code, const char *fmt,
                        ...) {
  if (!e)
    return code;
  e->code = code;
  va_list ap;
  va_start(ap, fmt);
  /* Messages quote outside input (a header, a model's tool arguments, a
   * server's error body) and end up in JSON answers, events and rows,
   * where one invalid byte loses the whole string; the cap can also cut a
   * valid character in half. */
  loom_utf8_vformat(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  return code;
}

void loom_error_clear(struct loom_error *e) {
  e->code = LOOM_OK;
  e->message[0] = 0;
}
