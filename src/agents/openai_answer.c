/*
 * openai_answer — one pass to check the JSON, then the few fields read
 * straight from the bytes.
 *
 * With 10,000 calls in flight, jansson's parse of each ~300-byte answer
 * (a callback per byte, an allocation per value: about 55,000
 * instructions) was the largest user-space cost of the model loops. The
 * check below follows jansson's rules: no control characters in strings,
 * valid UTF-8 (no overlong forms, surrogates or values past U+10FFFF),
 * known escapes with paired surrogates, no duplicate keys, numbers as
 * RFC 8259 writes them, nothing after the value but whitespace. Where
 * jansson could still fail (\u0000, an integer past 64 bits, a real that
 * overflows) or where comparing keys would need decoding (escaped keys),
 * the reader declines rather than decides. Once the document is known to
 * be valid, walking it needs no more checks.
 */
#include "agents/openai_answer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/utf8.h"

#define MAX_DEPTH 32
#define MAX_KEYS 32    /* members per object compared for duplicates */
#define MAX_NUMBER 32  /* characters in a number: no real can overflow */
#define MAX_INTEGER 18 /* characters in an integer: fits in 64 bits */
#define MAX_EXPONENT 2 /* digits of an exponent */

struct checker {
  const unsigned char *p, *end;
};

static bool is_ws(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static void skip_ws(struct checker *c) {
  while (c->p < c->end && is_ws(*c->p))
    c->p++;
}

/* The value of four hex digits, or -1. */
static long hex4(const unsigned char *p) {
  long v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned char h = p[i];
    int d = is_digit(h)            ? h - '0'
            : h >= 'a' && h <= 'f' ? h - 'a' + 10
            : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                   : -1;
    if (d < 0)
      return -1;
    v = v * 16 + d;
  }
  return v;
}

/* An escape at p (on its backslash); returns its length, 0 if refused. */
static size_t check_escape(const unsigned char *p, const unsigned char *end) {
  if (end - p < 2)
    return 0;
  switch (p[1]) {
  case '"':
  case '\\':
  case '/':
  case 'b':
  case 'f':
  case 'n':
  case 'r':
  case 't':
    return 2;
  case 'u':
    break;
  default:
    return 0;
  }
  if (end - p < 6)
    return 0;
  long v = hex4(p + 2);
  if (v <= 0 || (v >= 0xdc00 && v <= 0xdfff)) /* bad, \u0000, lone low */
    return 0;
  if (v < 0xd800 || v > 0xdbff)
    return 6;
  if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
    return 0;
  long lo = hex4(p + 8);
  return lo >= 0xdc00 && lo <= 0xdfff ? 12 : 0;
}

/* The string at c->p (on its quote); `escaped` says if it has escapes. */
static bool check_string(struct checker *c, bool *escaped) {
  const unsigned char *p = c->p + 1;
  *escaped = false;
  while (p < c->end) {
    unsigned char b = *p;
    size_t n = 1;
    if (b == '"') {
      c->p = p + 1;
      return true;
    }
    if (b < 0x20)
      return false;
    if (b == '\\') {
      *escaped = true;
      n = check_escape(p, c->end);
    } else if (b >= 0x80) {
      n = loom_utf8_seq_len(p, c->end);
    }
    if (!n)
      return false;
    p += n;
  }
  return false;
}

static bool check_number(struct checker *c) {
  const unsigned char *s = c->p, *p = s, *end = c->end;
  bool real = false;
  if (p < end && *p == '-')
    p++;
  if (p < end && *p == '0')
    p++;
  else if (p < end && *p >= '1' && *p <= '9')
    while (p < end && is_digit(*p))
      p++;
  else
    return false;
  if (p < end && *p == '.') {
    real = true;
    if (++p >= end || !is_digit(*p))
      return false;
    while (p < end && is_digit(*p))
      p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    real = true;
    if (++p < end && (*p == '+' || *p == '-'))
      p++;
    const unsigned char *digits = p;
    while (p < end && is_digit(*p))
      p++;
    if (p == digits || p - digits > MAX_EXPONENT)
      return false;
  }
  size_t n = (size_t)(p - s);
  if (n > MAX_NUMBER || (!real && n > MAX_INTEGER))
    return false;
  c->p = p;
  return true;
}

static bool check_literal(struct checker *c, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
    return false;
  c->p += n;
  return true;
}

static bool check_value(struct checker *c, int depth);

enum after { ITEM_BAD, ITEM_MORE, ITEM_END };

/* What follows an item of an object or array: a ',' (more items), the
 * container's `close`, or anything else (refused). */
static enum after after_item(struct checker *c, char close) {
  skip_ws(c);
  if (c->p < c->end && *c->p == ',') {
    c->p++;
    skip_ws(c);
    return ITEM_MORE;
  }
  if (c->p < c->end && *c->p == close) {
    c->p++;
    return ITEM_END;
  }
  return ITEM_BAD;
}

/* Members after '{'; keys compared raw (they have no escapes). */
static bool check_object(struct checker *c, int depth) {
  const unsigned char *keys[MAX_KEYS];
  size_t lens[MAX_KEYS], nkeys = 0;
  c->p++;
  skip_ws(c);
  if (c->p < c->end && *c->p == '}') {
    c->p++;
    return true;
  }
  for (;;) {
    bool escaped;
    const unsigned char *k = c->p + 1;
    if (c->p >= c->end || *c->p != '"' || !check_string(c, &escaped) ||
        escaped || nkeys == MAX_KEYS)
      return false;
    size_t len = (size_t)(c->p - 1 - k);
    for (size_t i = 0; i < nkeys; i++)
      if (lens[i] == len && memcmp(keys[i], k, len) == 0)
        return false;
    keys[nkeys] = k;
    lens[nkeys++] = len;
    skip_ws(c);
    if (c->p >= c->end || *c->p != ':')
      return false;
    c->p++;
    skip_ws(c);
    if (!check_value(c, depth + 1))
      return false;
    switch (after_item(c, '}')) {
    case ITEM_MORE:
      continue;
    case ITEM_END:
      return true;
    default:
      return false;
    }
  }
}

static bool check_array(struct checker *c, int depth) {
  c->p++;
  skip_ws(c);
  if (c->p < c->end && *c->p == ']') {
    c->p++;
    return true;
  }
  for (;;) {
    if (!check_value(c, depth + 1))
      return false;
    switch (after_item(c, ']')) {
    case ITEM_MORE:
      continue;
    case ITEM_END:
      return true;
    default:
      return false;
    }
  }
}

static bool check_value(struct checker *c, int depth) {
  if (depth > MAX_DEPTH || c->p >= c->end)
    return false;
  bool escaped;
  switch (*c->p) {
  case '{':
    return check_object(c, depth);
  case '[':
    return check_array(c, depth);
  case '"':
    return check_string(c, &escaped);
  case 't':
    return check_literal(c, "true");
  case 'f':
    return check_literal(c, "false");
  case 'n':
    return check_literal(c, "null");
  default:
    return check_number(c);
  }
}

/* ---- walking a document known to be valid ---- */

static const char *ws(const char *p) {
  while (is_ws((unsigned char)*p))
    p++;
  return p;
}

/* Past the closing quote of the string at p. */
static const char *string_end(const char *p) {
  for (p++; *p != '"'; p++)
    if (*p == '\\')
      p++;
  return p + 1;
}

/* Past the value at p. */
static const char *value_end(const char *p) {
  if (*p == '"')
    return string_end(p);
  if (*p != '{' && *p != '[') {
    while (*p && !is_ws((unsigned char)*p) && *p != ',' && *p != '}' &&
           *p != ']')
      p++;
    return p;
  }
  int depth = 0;
  for (;; p++) {
    if (*p == '"')
      p = string_end(p) - 1;
    else if (*p == '{' || *p == '[')
      depth++;
    else if ((*p == '}' || *p == ']') && --depth == 0)
      return p + 1;
  }
}

/* The value of `key` in the object at v, or NULL (also when v is none or
 * not an object). */
static const char *member(const char *v, const char *key) {
  if (!v || *v != '{')
    return NULL;
  size_t klen = strlen(key);
  const char *p = ws(v + 1);
  while (*p == '"') {
    const char *k = p + 1, *kend = strchr(k, '"'); /* keys: no escapes */
    const char *val = ws(ws(kend + 1) + 1);
    if ((size_t)(kend - k) == klen && memcmp(k, key, klen) == 0)
      return val;
    p = ws(value_end(val));
    if (*p != ',')
      break;
    p = ws(p + 1);
  }
  return NULL;
}

static const char *first_item(const char *v) {
  if (!v || *v != '[')
    return NULL;
  const char *p = ws(v + 1);
  return *p == ']' ? NULL : p;
}

static char *put_utf8(char *o, uint32_t cp) {
  if (cp < 0x80) {
    *o++ = (char)cp;
  } else if (cp < 0x800) {
    *o++ = (char)(0xc0 | cp >> 6);
    *o++ = (char)(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    *o++ = (char)(0xe0 | cp >> 12);
    *o++ = (char)(0x80 | (cp >> 6 & 0x3f));
    *o++ = (char)(0x80 | (cp & 0x3f));
  } else {
    *o++ = (char)(0xf0 | cp >> 18);
    *o++ = (char)(0x80 | (cp >> 12 & 0x3f));
    *o++ = (char)(0x80 | (cp >> 6 & 0x3f));
    *o++ = (char)(0x80 | (cp & 0x3f));
  }
  return o;
}

/* The string at v unescaped (an escape never grows), or NULL when v is
 * none or not a string. */
static char *string_value(const char *v) {
  if (!v || *v != '"')
    return NULL;
  const char *p = v + 1, *end = string_end(v) - 1;
  char *out = loom_malloc((size_t)(end - p) + 1), *o = out;
  while (p < end) {
    if (*p != '\\') {
      *o++ = *p++;
      continue;
    }
    char e = p[1];
    p += 2;
    switch (e) {
    case 'b':
      *o++ = '\b';
      break;
    case 'f':
      *o++ = '\f';
      break;
    case 'n':
      *o++ = '\n';
      break;
    case 'r':
      *o++ = '\r';
      break;
    case 't':
      *o++ = '\t';
      break;
    case 'u': {
      uint32_t cp = (uint32_t)hex4((const unsigned char *)p);
      p += 4;
      if (cp >= 0xd800 && cp <= 0xdbff) { /* checked: a low one follows */
        cp = 0x10000 + ((cp - 0xd800) << 10) +
             ((uint32_t)hex4((const unsigned char *)p + 2) - 0xdc00);
        p += 6;
      }
      o = put_utf8(o, cp);
      break;
    }
    default: /* " \ / */
      *o++ = e;
    }
  }
  *o = '\0';
  return out;
}

/* An integer token's value; 0 for anything else (as jansson's
 * json_integer_value). At most MAX_INTEGER characters: it fits. */
static long integer_value(const char *v) {
  if (!v || !(*v == '-' || is_digit((unsigned char)*v)))
    return 0;
  for (const char *p = v, *end = value_end(v); p < end; p++)
    if (*p == '.' || *p == 'e' || *p == 'E')
      return 0;
  return strtol(v, NULL, 10);
}

bool loom_openai_answer_read(const char *body, size_t len,
                             struct loom_openai_answer *out) {
  memset(out, 0, sizeof *out);
  struct checker c = {(const unsigned char *)body,
                      (const unsigned char *)body + len};
  skip_ws(&c);
  const char *root = (const char *)c.p;
  if (c.p >= c.end || *c.p != '{' || !check_value(&c, 0))
    return false;
  skip_ws(&c);
  if (c.p != c.end)
    return false;
  /* Valid from here: the walk stays inside the root object. */
  const char *choice = first_item(member(root, "choices"));
  const char *msg = member(choice, "message");
  const char *calls = member(msg, "tool_calls");
  if (!msg || *msg != '{' || first_item(calls))
    return false; /* an error or tool calls: jansson's path */
  out->content = string_value(member(msg, "content"));
  out->finish_reason = string_value(member(choice, "finish_reason"));
  out->model = string_value(member(root, "model"));
  out->id = string_value(member(root, "id"));
  const char *usage = member(root, "usage");
  out->prompt_tokens = integer_value(member(usage, "prompt_tokens"));
  out->completion_tokens = integer_value(member(usage, "completion_tokens"));
  return true;
}

void loom_openai_answer_cleanup(struct loom_openai_answer *a) {
  loom_free(a->content);
  loom_free(a->finish_reason);
  loom_free(a->model);
  loom_free(a->id);
  memset(a, 0, sizeof *a);
}
