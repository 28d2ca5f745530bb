/*
 * json_dump — compact JSON out of a jansson tree by hand.
 *
 * json_dumps escapes each string through a callback per byte and grows
 * its buffer from 16 bytes; for a model call's ~250-byte body that was
 * about 12,000 instructions, on the model loop, once per call. Here runs
 * of plain bytes are copied whole. The bytes are jansson's: keys in
 * insertion order, the same escapes (\" \\ \b \f \n \r \t, other control
 * characters as \u00XX, nothing else), integers as %lld; reals go through
 * jansson itself.
 */
#include "core/json_dump.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/utf8.h"

#define MAX_DEPTH 64

struct out {
  char *p;
  size_t len, cap;
  bool failed; /* jansson must write this value */
};

static void put(struct out *o, const char *s, size_t n) {
  if (o->len + n + 1 > o->cap) {
    size_t cap = o->cap * 2;
    while (cap < o->len + n + 1)
      cap *= 2;
    o->p = loom_realloc(o->p, cap);
    o->cap = cap;
  }
  memcpy(o->p + o->len, s, n);
  o->len += n;
}

static void put_string(struct out *o, const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s, *end = u + n;
  size_t run = 0;
  put(o, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = u[i];
    if (c >= 0x80) {
      size_t len = loom_utf8_seq_len(u + i, end);
      if (!len) {
        o->failed = true;
        return;
      }
      i += len - 1;
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    put(o, s + run, i - run);
    char esc[8];
    switch (c) {
    case '"':
      put(o, "\\\"", 2);
      break;
    case '\\':
      put(o, "\\\\", 2);
      break;
    case '\b':
      put(o, "\\b", 2);
      break;
    case '\f':
      put(o, "\\f", 2);
      break;
    case '\n':
      put(o, "\\n", 2);
      break;
    case '\r':
      put(o, "\\r", 2);
      break;
    case '\t':
      put(o, "\\t", 2);
      break;
    default:
      snprintf(esc, sizeof esc, "\\u%04X", (unsigned)c);
      put(o, esc, 6);
    }
    run = i + 1;
  }
  put(o, s + run, n - run);
  put(o, "\"", 1);
}

static void put_value(struct out *o, const json_t *v, int depth);

static void put_object(struct out *o, const json_t *v, int depth) {
  const char *key;
  json_t *item;
  bool first = true;
  put(o, "{", 1);
  json_object_foreach((json_t *)v, key, item) {
    if (!first)
      put(o, ",", 1);
    first = false;
    put_string(o, key, strlen(key));
    put(o, ":", 1);
    put_value(o, item, depth + 1);
    if (o->failed)
      return;
  }
  put(o, "}", 1);
}

static void put_value(struct out *o, const json_t *v, int depth) {
  char num[32];
  if (depth > MAX_DEPTH) {
    o->failed = true;
    return;
  }
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    put_object(o, v, depth);
    break;
  case JSON_ARRAY:
    put(o, "[", 1);
    for (size_t i = 0; i < json_array_size(v) && !o->failed; i++) {
      if (i)
        put(o, ",", 1);
      put_value(o, json_array_get(v, i), depth + 1);
    }
    put(o, "]", 1);
    break;
  case JSON_STRING:
    put_string(o, json_string_value(v), json_string_length(v));
    break;
  case JSON_INTEGER:
    put(o, num,
        (size_t)snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT,
                         json_integer_value(v)));
    break;
  case JSON_TRUE:
    put(o, "true", 4);
    break;
  case JSON_FALSE:
    put(o, "false", 5);
    break;
  case JSON_NULL:
    put(o, "null", 4);
    break;
  default: { /* a real: jansson's own digits */
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s)
      put(o, s, strlen(s));
    else
      o->failed = true;
    free(s);
  }
  }
}

char *loom_json_dump_fast(const json_t *v, size_t *len) {
  struct out o = {.p = loom_malloc(256), .cap = 256};
  put_value(&o, v, 0);
  if (o.failed) {
    loom_free(o.p);
    char *s = loom_json_dump(v);
    *len = strlen(s);
    return s;
  }
  o.p[o.len] = '\0';
  *len = o.len;
  return o.p;
}
