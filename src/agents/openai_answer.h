/*
 * openai_answer — the common OpenAI chat-completions answer (text, no
 * tool calls) read in one pass over its bytes, without a JSON tree.
 *
 * The document is first checked against the JSON grammar as strictly as
 * jansson checks it (UTF-8, escapes, duplicate keys, numbers that fit);
 * then the fields loom uses are taken from it. Whatever the reader is not
 * sure of (tool calls, an escaped key, \u0000, a long number, nesting
 * deeper than 32, any error) makes it decline: the caller then parses
 * with jansson as before, so answers and errors are the same either way.
 */
#ifndef LOOM_AGENTS_OPENAI_ANSWER_H
#define LOOM_AGENTS_OPENAI_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

/* The fields of an answer; strings are NULL when absent or not strings. */
struct loom_openai_answer {
  char *content;       /* choices[0].message.content */
  char *finish_reason; /* choices[0].finish_reason, as sent */
  char *model;
  char *id;
  long prompt_tokens; /* usage.*; 0 when absent or not integers */
  long completion_tokens;
};

/*
 * Reads `body` into `out` (release with loom_openai_answer_cleanup) and
 * returns true; false when it declines (then `out` holds nothing): the
 * body is not valid JSON, has no object at choices[0].message, has tool
 * calls, or uses what the reader leaves to jansson (see above).
 */
bool loom_openai_answer_read(const char *body, size_t len,
                             struct loom_openai_answer *out);

void loom_openai_answer_cleanup(struct loom_openai_answer *a);

#endif
