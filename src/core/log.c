/*
 * log — builds each line as a jansson object and writes it with one
 * fputs under the stdio lock, so lines from many threads never interleave.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/json.h"

static int min_level = LOOM_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error",
                                          "off"};

static _Thread_local char ctx_request[64];
static _Thread_local char ctx_run[64];

void loom_log_set_level(enum loom_log_level level) {
  __atomic_store_n(&min_level, (int)level, __ATOMIC_RELAXED);
}

bool loom_log_parse_level(const char *name, enum loom_log_level *out) {
  for (int i = 0; i <= LOOM_LOG_OFF; i++)
    if (strcmp(name, level_names[i]) == 0) {
      *out = (enum loom_log_level)i;
      return true;
    }
  return false;
}

bool loom_log_enabled(enum loom_log_level level) {
  return (int)level >= __atomic_load_n(&min_level, __ATOMIC_RELAXED) &&
         level != LOOM_LOG_OFF;
}

void loom_log_context_set(const char *request_id, const char *run_id) {
  snprintf(ctx_request, sizeof ctx_request, "%s", request_id ? request_id : "");
  snprintf(ctx_run, sizeof ctx_run, "%s", run_id ? run_id : "");
}

void loom_log_fields(enum loom_log_level level, const char *msg,
                     json_t *fields) {
  if (!loom_log_enabled(level)) {
    json_decref(fields);
    return;
  }
  char ts[33];
  json_t *line = json_object();
  json_object_set_new(
      line, "ts", json_string(loom_clock_format_iso(loom_clock_wall_ms(), ts)));
  json_object_set_new(line, "level", json_string(level_names[level]));
  json_object_set_new(line, "msg", json_string(msg));
  if (ctx_request[0])
    json_object_set_new(line, "request_id", json_string(ctx_request));
  if (ctx_run[0])
    json_object_set_new(line, "run_id", json_string(ctx_run));
  if (fields)
    json_object_update(line, fields);
  json_decref(fields);

  char *text = loom_json_dump(line);
  json_decref(line);
  flockfile(stderr);
  fputs(text, stderr);
  fputc('\n', stderr);
  funlockfile(stderr);
  loom_free(text);
}

void loom_log(enum loom_log_level level, const char *fmt, ...) {
  if (!loom_log_enabled(level))
    return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  loom_log_fields(level, msg, NULL);
}
