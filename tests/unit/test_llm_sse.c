/*
 * test_llm_sse — the SSE parser gives the same events however the bytes
 * are split, with every line ending, and refuses oversized events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agents/sse_parse.h"
#include "core/alloc.h"
#include "core/buf.h"

/* Events are recorded as "event|id|data;" into one string. */
static loom_err record_cb(void *ud, const struct loom_sse_event *ev) {
  struct loom_buf *out = ud;
  return loom_buf_appendf(out, "%s|%s|%s;", ev->event, ev->id, ev->data);
}

static char *parse_split(const char *text, size_t split, size_t step) {
  struct loom_buf out;
  loom_buf_init(&out, 1 << 20);
  struct loom_sse_parser p;
  loom_sse_init(&p, 4096, record_cb, &out);
  size_t len = strlen(text);
  size_t pos = 0;
  if (split) {
    assert_int_equal(loom_sse_feed(&p, text, split), LOOM_OK);
    pos = split;
  }
  while (pos < len) {
    size_t n = step && step < len - pos ? step : len - pos;
    assert_int_equal(loom_sse_feed(&p, text + pos, n), LOOM_OK);
    pos += n;
  }
  assert_int_equal(loom_sse_finish(&p), LOOM_OK);
  loom_sse_cleanup(&p);
  return loom_buf_take(&out, NULL);
}

static const char *ANTHROPIC = "event: message_start\r\n"
                               "data: {\"type\":\"message_start\"}\r\n"
                               "\r\n"
                               ": keep-alive comment\r\n"
                               "event: content_block_delta\r\n"
                               "data: {\"text\":\"a\"}\r\n"
                               "\r\n"
                               "event: ping\n"
                               "data: {\"type\": \"ping\"}\n"
                               "\n";

static const char *ANTHROPIC_EVENTS =
    "message_start||{\"type\":\"message_start\"};"
    "content_block_delta||{\"text\":\"a\"};"
    "ping||{\"type\": \"ping\"};";

static void same_events_at_every_split(void **state) {
  (void)state;
  size_t len = strlen(ANTHROPIC);
  for (size_t split = 0; split <= len; split++) {
    char *got = parse_split(ANTHROPIC, split, 0);
    assert_string_equal(got, ANTHROPIC_EVENTS);
    loom_free(got);
  }
  char *bytewise = parse_split(ANTHROPIC, 0, 1);
  assert_string_equal(bytewise, ANTHROPIC_EVENTS);
  loom_free(bytewise);
}

static void multiline_data_cr_endings_and_ids(void **state) {
  (void)state;
  const char *text = "id: 7\rdata:line one\rdata:  two\r\rdata: [DONE]\r\r";
  for (size_t step = 1; step <= 4; step++) {
    char *got = parse_split(text, 0, step);
    assert_string_equal(got, "message|7|line one\n two;message|7|[DONE];");
    loom_free(got);
  }
}

static void events_without_data_are_not_dispatched(void **state) {
  (void)state;
  char *got =
      parse_split("event: lonely\n\nretry: 10\nfoo: bar\n\ndata\n\n", 0, 0);
  /* "data" with no colon is a data field with an empty value. */
  assert_string_equal(got, "message||;");
  loom_free(got);
}

static void bom_is_skipped_even_when_split(void **state) {
  (void)state;
  const char *text = "\xEF\xBB\xBF"
                     "data: x\n\n";
  for (size_t split = 0; split <= 4; split++) {
    char *got = parse_split(text, split, 0);
    assert_string_equal(got, "message||x;");
    loom_free(got);
  }
}

static void last_event_without_blank_line_is_delivered(void **state) {
  (void)state;
  char *got = parse_split("data: {\"a\":1}\n\ndata: [DONE]", 0, 0);
  assert_string_equal(got, "message||{\"a\":1};message||[DONE];");
  loom_free(got);
}

static void oversized_event_is_refused(void **state) {
  (void)state;
  struct loom_buf out;
  loom_buf_init(&out, 1 << 20);
  struct loom_sse_parser p;
  loom_sse_init(&p, 64, record_cb, &out);
  char big[200];
  memset(big, 'x', sizeof big);
  assert_int_equal(loom_sse_feed(&p, "data: ", 6), LOOM_OK);
  assert_int_equal(loom_sse_feed(&p, big, sizeof big), LOOM_ERR_TOO_LARGE);
  loom_sse_cleanup(&p);
  /* Many short data lines cannot add up past the cap either. */
  loom_sse_init(&p, 64, record_cb, &out);
  loom_err err = LOOM_OK;
  for (int i = 0; i < 100 && !err; i++)
    err = loom_sse_feed(&p, "data: 0123456789\n", 17);
  assert_int_equal(err, LOOM_ERR_TOO_LARGE);
  loom_sse_cleanup(&p);
  loom_buf_cleanup(&out);
}

static loom_err stop_cb(void *ud, const struct loom_sse_event *ev) {
  (void)ev;
  (*(int *)ud)++;
  return LOOM_ERR_CANCELLED;
}

static void callback_error_stops_parsing(void **state) {
  (void)state;
  int calls = 0;
  struct loom_sse_parser p;
  loom_sse_init(&p, 1024, stop_cb, &calls);
  assert_int_equal(loom_sse_feed(&p, "data: a\n\ndata: b\n\n", 18),
                   LOOM_ERR_CANCELLED);
  assert_int_equal(calls, 1);
  loom_sse_cleanup(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(same_events_at_every_split),
      cmocka_unit_test(multiline_data_cr_endings_and_ids),
      cmocka_unit_test(events_without_data_are_not_dispatched),
      cmocka_unit_test(bom_is_skipped_even_when_split),
      cmocka_unit_test(last_event_without_blank_line_is_delivered),
      cmocka_unit_test(oversized_event_is_refused),
      cmocka_unit_test(callback_error_stops_parsing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
