/*
 * err — the one way loom fails.
 *
 * Every fallible function returns a `loom_err` (0 = LOOM_OK). The codes come
 * from one X-macro table, LOOM_ERR_MAP, which also yields loom_err_name()
 * and loom_strerror(), so a new code is one line (libuv's UV_ERRNO_MAP).
 *
 * Errors that reach a user also carry a message saying what was wrong with
 * their input; `struct loom_error` holds the code and that message, and
 * loom_error_set() fills it and returns the code so callers can write
 * `return loom_error_set(e, LOOM_ERR_INVALID, "field %s ...", name);`.
 */
#ifndef LOOM_CORE_ERR_H
#define LOOM_CORE_ERR_H

#include <stddef.h>

#define LOOM_MUST_USE __attribute__((warn_unused_result))
#define LOOM_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/* X(NAME, json_code, description) */
#define LOOM_ERR_MAP(X)                                                        \
  X(OK, ok, "success")                                                         \
  X(INVALID, invalid, "invalid argument")                                      \
  X(PARSE, parse, "malformed input")                                           \
  X(NOT_FOUND, not_found, "not found")                                         \
  X(EXISTS, exists, "already exists")                                          \
  X(CONFLICT, conflict, "conflicting state")                                   \
  X(TOO_LARGE, too_large, "too large")                                         \
  X(LIMIT, limit, "limit reached")                                             \
  X(UNSUPPORTED, unsupported, "not supported")                                 \
  X(UNAUTHORIZED, unauthorized, "not authenticated")                           \
  X(FORBIDDEN, forbidden, "not allowed")                                       \
  X(TIMEOUT, timeout, "timed out")                                             \
  X(CANCELLED, cancelled, "cancelled")                                         \
  X(UNAVAILABLE, unavailable, "service unavailable")                           \
  X(IO, io, "input/output error")                                              \
  X(DB, db, "database error")                                                  \
  X(UPSTREAM, upstream, "upstream service error")                              \
  X(INTERNAL, internal, "internal error")

typedef enum {
#define LOOM_ERR_ENUM(name, code, desc) LOOM_ERR_##name,
  LOOM_ERR_MAP(LOOM_ERR_ENUM)
#undef LOOM_ERR_ENUM
      LOOM_ERR__COUNT
} loom_err;

#define LOOM_OK LOOM_ERR_OK

/* Upper-case name of the code ("NOT_FOUND"); "UNKNOWN" for out-of-range. */
const char *loom_err_name(loom_err err);

/* Lower-case snake name for JSON error bodies ("not_found"). */
const char *loom_err_code(loom_err err);

/* Human description of the code ("not found"). */
const char *loom_strerror(loom_err err);

/* A code plus the message for whoever made the mistake. */
struct loom_error {
  loom_err code;
  char message[512];
};

/*
 * Records `code` and a printf-formatted message in `e` (which may be NULL:
 * then only the code is returned). Returns `code`, so it can end a return.
 * The message is always valid UTF-8 (see err.c), whatever it quotes.
 */
loom_err loom_error_set(struct loom_error *e, loom_err code, const char *fmt,
                        ...) LOOM_PRINTF(3, 4);

/* Resets `e` to LOOM_OK with an empty message. */
void loom_error_clear(struct loom_error *e);

#endif
