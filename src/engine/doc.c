/*
 * doc — libyaml events to jansson values, recording each value's line.
 *
 * A recursive descent over the event stream: a scalar becomes a string,
 * number, boolean or null; a sequence an array; a mapping an object with
 * string keys. Depth and value count are checked on the way down.
 */
#include "engine/doc.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/alloc.h"

struct reader {
  yaml_parser_t parser;
  struct loom_doc *doc;
  struct loom_error *e;
  size_t count;
};

static loom_err parse_value(struct reader *r, yaml_event_t *ev, int depth,
                            json_t **out);

static void remember(struct loom_doc *doc, const json_t *v, int line) {
  if (doc->nlines == doc->cap) {
    doc->cap = doc->cap ? doc->cap * 2 : 64;
    doc->lines = loom_realloc(doc->lines, doc->cap * sizeof(*doc->lines));
  }
  doc->lines[doc->nlines++] = (struct loom_doc_line){v, line};
}

static loom_err next_event(struct reader *r, yaml_event_t *ev) {
  if (yaml_parser_parse(&r->parser, ev))
    return LOOM_OK;
  return loom_error_set(r->e, LOOM_ERR_PARSE, "line %zu, column %zu: %s",
                        r->parser.problem_mark.line + 1,
                        r->parser.problem_mark.column + 1,
                        r->parser.problem ? r->parser.problem : "bad YAML");
}

static bool is_int(const char *s) {
  if (*s == '-' || *s == '+')
    s++;
  if (!*s)
    return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return false;
  return true;
}

/* YAML 1.2 core schema resolution of a plain scalar. */
static json_t *plain_scalar(const char *s) {
  if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
      !strcmp(s, "NULL"))
    return json_null();
  if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
    return json_true();
  if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
    return json_false();
  if (is_int(s)) {
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (!errno)
      return json_integer(v);
  }
  char *end;
  double d = strtod(s, &end);
  if (end != s && !*end && isfinite(d) && strpbrk(s, "0123456789") &&
      !strpbrk(s, "xXpP"))
    return json_real(d);
  return json_string(s);
}

static json_t *scalar(const yaml_event_t *ev) {
  const char *s = (const char *)ev->data.scalar.value;
  if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
    return plain_scalar(s);
  json_t *v = json_stringn(s, ev->data.scalar.length);
  return v ? v : json_string("");
}

static loom_err parse_seq(struct reader *r, int depth, json_t *arr) {
  for (;;) {
    yaml_event_t ev;
    loom_err rc = next_event(r, &ev);
    if (rc)
      return rc;
    if (ev.type == YAML_SEQUENCE_END_EVENT) {
      yaml_event_delete(&ev);
      return LOOM_OK;
    }
    json_t *item = NULL;
    rc = parse_value(r, &ev, depth + 1, &item);
    yaml_event_delete(&ev);
    if (rc)
      return rc;
    json_array_append_new(arr, item);
  }
}

static loom_err parse_map(struct reader *r, int depth, json_t *obj) {
  for (;;) {
    yaml_event_t ev;
    loom_err rc = next_event(r, &ev);
    if (rc)
      return rc;
    if (ev.type == YAML_MAPPING_END_EVENT) {
      yaml_event_delete(&ev);
      return LOOM_OK;
    }
    int line = (int)ev.start_mark.line + 1;
    if (ev.type != YAML_SCALAR_EVENT) {
      yaml_event_delete(&ev);
      return loom_error_set(r->e, LOOM_ERR_PARSE,
                            "line %d: mapping keys must be plain text", line);
    }
    char *key = loom_strdup((const char *)ev.data.scalar.value);
    yaml_event_delete(&ev);
    if (json_object_get(obj, key)) {
      rc = loom_error_set(r->e, LOOM_ERR_PARSE, "line %d: duplicate key '%s'",
                          line, key);
      loom_free(key);
      return rc;
    }
    json_t *val = NULL;
    if (!(rc = next_event(r, &ev))) {
      rc = parse_value(r, &ev, depth + 1, &val);
      yaml_event_delete(&ev);
    }
    if (!rc)
      json_object_set_new(obj, key, val);
    loom_free(key);
    if (rc)
      return rc;
  }
}

static loom_err parse_value(struct reader *r, yaml_event_t *ev, int depth,
                            json_t **out) {
  int line = (int)ev->start_mark.line + 1;
  if (depth > LOOM_DOC_MAX_DEPTH)
    return loom_error_set(r->e, LOOM_ERR_TOO_LARGE,
                          "line %d: nested deeper than %d levels", line,
                          LOOM_DOC_MAX_DEPTH);
  if (++r->count > LOOM_DOC_MAX_VALUES)
    return loom_error_set(r->e, LOOM_ERR_TOO_LARGE,
                          "line %d: more than %d values", line,
                          LOOM_DOC_MAX_VALUES);
  json_t *v = NULL;
  loom_err rc = LOOM_OK;
  switch (ev->type) {
  case YAML_SCALAR_EVENT:
    v = scalar(ev);
    break;
  case YAML_SEQUENCE_START_EVENT:
    v = json_array();
    rc = parse_seq(r, depth, v);
    break;
  case YAML_MAPPING_START_EVENT:
    v = json_object();
    rc = parse_map(r, depth, v);
    break;
  case YAML_ALIAS_EVENT:
    return loom_error_set(r->e, LOOM_ERR_PARSE,
                          "line %d: YAML aliases (*name) are not supported",
                          line);
  default:
    return loom_error_set(r->e, LOOM_ERR_PARSE, "line %d: unexpected YAML",
                          line);
  }
  if (rc) {
    json_decref(v);
    return rc;
  }
  remember(r->doc, v, line);
  *out = v;
  return LOOM_OK;
}

/* Skips stream/document start events and parses the one document. */
static loom_err parse_document(struct reader *r) {
  yaml_event_t ev;
  loom_err rc;
  for (;;) {
    if ((rc = next_event(r, &ev)))
      return rc;
    if (ev.type == YAML_STREAM_START_EVENT ||
        ev.type == YAML_DOCUMENT_START_EVENT) {
      yaml_event_delete(&ev);
      continue;
    }
    break;
  }
  if (ev.type == YAML_STREAM_END_EVENT) {
    yaml_event_delete(&ev);
    return loom_error_set(r->e, LOOM_ERR_PARSE, "the document is empty");
  }
  rc = parse_value(r, &ev, 0, &r->doc->root);
  yaml_event_delete(&ev);
  return rc;
}

loom_err loom_doc_parse(const char *text, size_t len, struct loom_doc *doc,
                        struct loom_error *e) {
  memset(doc, 0, sizeof(*doc));
  if (len > LOOM_DOC_MAX_BYTES)
    return loom_error_set(e, LOOM_ERR_TOO_LARGE,
                          "document is %zu bytes; the limit is %u", len,
                          LOOM_DOC_MAX_BYTES);
  struct reader r = {.doc = doc, .e = e};
  if (!yaml_parser_initialize(&r.parser))
    return loom_error_set(e, LOOM_ERR_INTERNAL, "libyaml init failed");
  yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
  loom_err rc = parse_document(&r);
  yaml_parser_delete(&r.parser);
  if (rc)
    loom_doc_cleanup(doc);
  return rc;
}

int loom_doc_line(const struct loom_doc *doc, const json_t *value) {
  for (size_t i = 0; i < doc->nlines; i++)
    if (doc->lines[i].value == value)
      return doc->lines[i].line;
  return 0;
}

void loom_doc_cleanup(struct loom_doc *doc) {
  json_decref(doc->root);
  loom_free(doc->lines);
  memset(doc, 0, sizeof(*doc));
}
