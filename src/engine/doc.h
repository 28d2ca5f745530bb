/*
 * doc — YAML or JSON text to a jansson value that remembers source lines.
 *
 * Both formats go through libyaml (JSON is valid YAML flow style), so a
 * graph spec in either gives the same tree and every value keeps the line
 * it started on: validation errors can then say "approval.yaml:14: edges[3]:
 * ...". Plain YAML scalars resolve to null, booleans, integers and reals as
 * YAML 1.2's core schema does; quoted scalars stay strings. Anchors and
 * aliases are refused (they make small documents expand without bound), and
 * the document size, nesting depth and value count are capped.
 */
#ifndef LOOM_ENGINE_DOC_H
#define LOOM_ENGINE_DOC_H

#include <jansson.h>
#include <stddef.h>

#include "core/err.h"

#define LOOM_DOC_MAX_BYTES (1u << 20)
#define LOOM_DOC_MAX_DEPTH 64
#define LOOM_DOC_MAX_VALUES 100000

struct loom_doc_line {
  const json_t *value; /* borrowed from root */
  int line;            /* 1-based */
};

struct loom_doc {
  json_t *root;
  struct loom_doc_line *lines; /* one per value, in document order */
  size_t nlines, cap;
};

/*
 * Parses `len` bytes. On failure returns LOOM_ERR_PARSE (or TOO_LARGE) with
 * "line L, column C: reason" in `e`. On success the caller owns `doc`
 * (loom_doc_cleanup).
 */
loom_err loom_doc_parse(const char *text, size_t len, struct loom_doc *doc,
                        struct loom_error *e) LOOM_MUST_USE;

/* Line where `value` started; 0 when it is not part of the document. */
int loom_doc_line(const struct loom_doc *doc, const json_t *value);

void loom_doc_cleanup(struct loom_doc *doc);

#endif
