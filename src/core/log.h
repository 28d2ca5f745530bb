/*
 * log — JSON-lines logging with levels and request/run context.
 *
 * One line per event on stderr: {"ts":..., "level":"info", "msg":...,
 * "request_id":..., "run_id":..., ...fields}. The request and run ids come
 * from a per-thread context that the HTTP layer and the executor set while
 * they work on something, so every line written meanwhile carries them.
 */
#ifndef LOOM_CORE_LOG_H
#define LOOM_CORE_LOG_H

#include <jansson.h>
#include <stdbool.h>

#include "core/err.h"

enum loom_log_level {
  LOOM_LOG_DEBUG,
  LOOM_LOG_INFO,
  LOOM_LOG_WARN,
  LOOM_LOG_ERROR,
  LOOM_LOG_OFF,
};

/* Lines below `level` are dropped. Default: info. */
void loom_log_set_level(enum loom_log_level level);

/* Parses "debug", "info", "warn", "error", "off"; false if unknown. */
bool loom_log_parse_level(const char *name, enum loom_log_level *out);

/* Whether a line at `level` would be written (to skip building fields). */
bool loom_log_enabled(enum loom_log_level level);

/* Sets this thread's context ids (NULL clears). Strings are copied. */
void loom_log_context_set(const char *request_id, const char *run_id);

/* Writes one line with a printf-formatted message. */
void loom_log(enum loom_log_level level, const char *fmt, ...)
    LOOM_PRINTF(2, 3);

/* Writes one line with extra fields; takes ownership of `fields` (may be
 * NULL). */
void loom_log_fields(enum loom_log_level level, const char *msg,
                     json_t *fields);

#define LOOM_DEBUG(...) loom_log(LOOM_LOG_DEBUG, __VA_ARGS__)
#define LOOM_INFO(...) loom_log(LOOM_LOG_INFO, __VA_ARGS__)
#define LOOM_WARN(...) loom_log(LOOM_LOG_WARN, __VA_ARGS__)
#define LOOM_ERROR(...) loom_log(LOOM_LOG_ERROR, __VA_ARGS__)

#endif
