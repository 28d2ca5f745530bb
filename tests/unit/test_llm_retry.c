/*
 * test_llm_retry — the retry policy matches the official SDKs (plus
 * insufficient_quota), and every error body shape is understood.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agents/llm_retry.h"
#include "core/utf8.h"

static void statuses_and_header(void **state) {
  (void)state;
  long retried[] = {0, 408, 409, 429, 500, 502, 503, 529};
  long final[] = {400, 401, 403, 404, 422};
  for (size_t i = 0; i < sizeof retried / sizeof *retried; i++)
    assert_true(loom_llm_should_retry(retried[i], NULL, NULL));
  for (size_t i = 0; i < sizeof final / sizeof *final; i++)
    assert_false(loom_llm_should_retry(final[i], NULL, NULL));
  /* The server's word wins both ways. */
  assert_true(loom_llm_should_retry(400, "true", NULL));
  assert_false(loom_llm_should_retry(503, "false", NULL));
}

static void insufficient_quota_is_final(void **state) {
  (void)state;
  const char *body =
      "{\"error\":{\"message\":\"You exceeded your current quota\","
      "\"type\":\"insufficient_quota\",\"param\":null,\"code\":\"insufficient_"
      "quota\"}}";
  struct loom_llm_error_info info;
  loom_llm_error_parse(body, strlen(body), &info);
  assert_string_equal(info.type, "insufficient_quota");
  assert_string_equal(info.message, "You exceeded your current quota");
  assert_false(loom_llm_should_retry(429, NULL, &info));
  const char *limit =
      "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\","
      "\"param\":null,\"code\":\"rate_limit_exceeded\"}}";
  loom_llm_error_parse(limit, strlen(limit), &info);
  assert_string_equal(info.code, "rate_limit_exceeded");
  assert_true(loom_llm_should_retry(429, NULL, &info));
}

static void error_shapes(void **state) {
  (void)state;
  struct loom_llm_error_info info;
  const char *flat =
      "{\"object\":\"error\",\"message\":\"model llama not found\","
      "\"type\":\"NotFoundError\",\"param\":null,\"code\":404}";
  loom_llm_error_parse(flat, strlen(flat), &info);
  assert_string_equal(info.message, "model llama not found");
  assert_string_equal(info.type, "NotFoundError");
  assert_string_equal(info.code, "404");
  const char *anth =
      "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
      "\"message\":\"Overloaded\"}}";
  loom_llm_error_parse(anth, strlen(anth), &info);
  assert_string_equal(info.type, "overloaded_error");
  assert_string_equal(info.message, "Overloaded");
  const char *ollama = "{\"error\":\"model 'x' not found\"}";
  loom_llm_error_parse(ollama, strlen(ollama), &info);
  assert_string_equal(info.message, "model 'x' not found");
  loom_llm_error_parse("<html>Bad Gateway</html>", 24, &info);
  assert_string_equal(info.message, "<html>Bad Gateway</html>");
}

/* A gateway's page in Latin-1, or a message longer than the field that
 * the copy cuts mid-character: the fields stay UTF-8 (they become run
 * errors, JSON strings that refused them). */
static void error_fields_are_utf8(void **state) {
  (void)state;
  struct loom_llm_error_info info;
  const char page[] = "<html>502 Bad Gateway \xe9</html>";
  loom_llm_error_parse(page, sizeof page - 1, &info);
  assert_string_equal(info.message, "<html>502 Bad Gateway ?</html>");
  char body[1200] = "{\"error\":{\"message\":\"";
  size_t n = strlen(body);
  while (n + 10 < sizeof body) { /* "é"s: the cap cuts one */
    memcpy(body + n, "\xc3\xa9", 2);
    n += 2;
  }
  memcpy(body + n, "\"}}", 4);
  loom_llm_error_parse(body, strlen(body), &info);
  assert_int_equal(strlen(info.message), sizeof info.message - 1);
  assert_true(loom_utf8_valid(info.message, strlen(info.message)));
  assert_int_equal(info.message[sizeof info.message - 2], '?');
}

static void delays(void **state) {
  (void)state;
  /* retry-after-ms first, then retry-after seconds, then an HTTP date. */
  assert_true(loom_llm_retry_delay("250", "7", 0, 0, 0) == 0.25);
  assert_true(loom_llm_retry_delay(NULL, "2", 0, 0, 0) == 2.0);
  assert_true(loom_llm_retry_delay(NULL, "1.5", 3, 0, 0.9) == 1.5);
  /* 1445412480 = Wed, 21 Oct 2015 07:28:00 GMT */
  double d = loom_llm_retry_delay(NULL, "Wed, 21 Oct 2015 07:28:00 GMT", 0,
                                  1445412480.0 - 3.0, 0);
  assert_true(d == 3.0);
  /* Absurd or malformed values fall back to backoff: 0.5 * 2^n, cap 8. */
  assert_true(loom_llm_retry_delay(NULL, "3600", 0, 0, 0) == 0.5);
  assert_true(loom_llm_retry_delay("x", "soon", 1, 0, 0) == 1.0);
  assert_true(loom_llm_retry_delay(NULL, NULL, 2, 0, 0) == 2.0);
  assert_true(loom_llm_retry_delay(NULL, NULL, 10, 0, 0) == 8.0);
  /* Jitter takes off up to a quarter. */
  assert_true(loom_llm_retry_delay(NULL, NULL, 0, 0, 0.999) > 0.375);
  assert_true(loom_llm_retry_delay(NULL, NULL, 0, 0, 0.5) == 0.4375);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(statuses_and_header),
      cmocka_unit_test(insufficient_quota_is_final),
      cmocka_unit_test(error_shapes),
      cmocka_unit_test(error_fields_are_utf8),
      cmocka_unit_test(delays),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
