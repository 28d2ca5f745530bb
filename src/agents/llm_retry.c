/*
 * llm_retry — retry decisions and delays, pure functions.
 */
#include "agents/llm_retry.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/utf8.h"

#define INITIAL_DELAY_S 0.5
#define MAX_DELAY_S 8.0
#define MAX_HEADER_DELAY_S 60.0

static void copy(char *dst, size_t cap, const json_t *v) {
  if (json_is_string(v))
    snprintf(dst, cap, "%s", json_string_value(v));
  else if (json_is_integer(v))
    snprintf(dst, cap, "%lld", (long long)json_integer_value(v));
}

void loom_llm_error_parse(const char *body, size_t len,
                          struct loom_llm_error_info *out) {
  memset(out, 0, sizeof *out);
  json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
  json_t *err = json_object_get(root, "error");
  const json_t *src = json_is_object(err) ? err : root; /* nested or flat */
  if (json_is_object(src)) {
    copy(out->type, sizeof out->type, json_object_get(src, "type"));
    copy(out->code, sizeof out->code, json_object_get(src, "code"));
    copy(out->message, sizeof out->message, json_object_get(src, "message"));
  }
  if (json_is_string(err)) /* {"error":"model not found"} */
    copy(out->message, sizeof out->message, err);
  if (!out->message[0] && body)
    snprintf(out->message, sizeof out->message, "%.*s",
             (int)(len < 300 ? len : 300), body);
  json_decref(root);
  /* The body need not be UTF-8 and the caps above can cut a character;
   * these become run errors, which are JSON strings. */
  loom_utf8_scrub(out->type, strlen(out->type));
  loom_utf8_scrub(out->code, strlen(out->code));
  loom_utf8_scrub(out->message, strlen(out->message));
}

bool loom_llm_should_retry(long status, const char *x_should_retry,
                           const struct loom_llm_error_info *info) {
  if (x_should_retry && strcasecmp(x_should_retry, "true") == 0)
    return true;
  if (x_should_retry && strcasecmp(x_should_retry, "false") == 0)
    return false;
  if (info && (strcmp(info->type, "insufficient_quota") == 0 ||
               strcmp(info->code, "insufficient_quota") == 0))
    return false;
  if (status == 0)
    return true; /* connection failure or timeout */
  return status == 408 || status == 409 || status == 429 || status >= 500;
}

/* A number in the whole string, or NAN. */
static double number(const char *s) {
  if (!s || !*s)
    return NAN;
  char *end;
  double v = strtod(s, &end);
  while (*end == ' ')
    end++;
  return *end ? NAN : v;
}

/* An HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT") as Unix seconds, or NAN. */
static double http_date(const char *s) {
  if (!s)
    return NAN;
  struct tm tm = {0};
  const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end)
    return NAN;
  return (double)timegm(&tm);
}

double loom_llm_retry_delay(const char *retry_after_ms, const char *retry_after,
                            int retries_done, double now_s, double rand01) {
  double s = number(retry_after_ms) / 1000.0;
  if (isnan(s))
    s = number(retry_after);
  if (isnan(s)) {
    double when = http_date(retry_after);
    if (!isnan(when))
      s = when - now_s;
  }
  if (!isnan(s) && s >= 0 && s < MAX_HEADER_DELAY_S)
    return s;
  double d = INITIAL_DELAY_S * pow(2.0, retries_done < 0 ? 0 : retries_done);
  if (d > MAX_DELAY_S)
    d = MAX_DELAY_S;
  return d * (1.0 - rand01 * 0.25);
}
