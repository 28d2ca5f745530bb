/*
 * What a tool call answered, as tests collect it: done_cb (a
 * loom_tool_done_cb) counts the calls and keeps the last answer.
 * Header-only: each test program includes it once.
 */
#ifndef LOOM_TEST_TOOL_RESULT_H
#define LOOM_TEST_TOOL_RESULT_H

#include <stdbool.h>
#include <stdio.h>

struct result {
  int calls;
  bool is_error;
  char text[4096];
};

static inline void done_cb(void *ud, bool is_error, const char *text) {
  struct result *r = ud;
  r->calls++;
  r->is_error = is_error;
  snprintf(r->text, sizeof r->text, "%s", text);
}

#endif
