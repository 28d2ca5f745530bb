/*
 * test_json_dump — request bodies written by hand are byte for byte what
 * jansson writes: a model call's body as the providers build it, and
 * thousands of random trees (escapes, control characters, UTF-8 and
 * bytes that are not, NUL inside strings, extreme integers, reals, empty
 * and deep containers).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/json_dump.h"
#include "core/alloc.h"
#include "core/json.h"

static uint32_t seed = 42;

static uint32_t rnd(uint32_t n) {
  seed = seed * 1103515245u + 12345u;
  return (seed >> 8) % n;
}

static void same_as_jansson(const json_t *v) {
  size_t len;
  char *fast = loom_json_dump_fast(v, &len);
  char *ref = loom_json_dump(v);
  if (strcmp(fast, ref) != 0 || len != strlen(ref))
    fail_msg("differs:\n fast %s\n ref  %s", fast, ref);
  loom_free(fast);
  loom_free(ref);
}

static json_t *random_string(void) {
  static const char *const pieces[] = {"a",
                                       "Hello",
                                       " ",
                                       "\"",
                                       "\\",
                                       "/",
                                       "\b",
                                       "\f",
                                       "\n",
                                       "\r",
                                       "\t",
                                       "\x01",
                                       "\x1f",
                                       "\x7f",
                                       "\xc3\xa9",
                                       "\xe2\x82\xac",
                                       "\xf0\x9f\x98\x80",
                                       "\xc3",
                                       "\xff",
                                       "\xed\xa0\x80",
                                       "{}",
                                       "\\u0041"};
  char buf[64];
  size_t n = 0, parts = rnd(6);
  for (size_t i = 0; i < parts; i++) {
    const char *p = pieces[rnd(sizeof pieces / sizeof *pieces)];
    size_t l = strlen(p);
    memcpy(buf + n, p, l);
    n += l;
  }
  if (rnd(8) == 0)
    buf[n++] = '\0'; /* a NUL inside the string */
  return json_stringn_nocheck(buf, n);
}

static json_t *random_value(int depth) {
  static const json_int_t ints[] = {0, 1, -1, 42, INT64_MAX, INT64_MIN};
  static const double reals[] = {0.0, -0.0, 0.2, 1e300, 1e-300, 3.0, -2.5e10};
  uint32_t kind = depth > 6 ? 2 + rnd(5) : rnd(7);
  switch (kind) {
  case 0: {
    json_t *o = json_object();
    for (uint32_t i = 0, n = rnd(4); i < n; i++) {
      char key[16];
      snprintf(key, sizeof key, "%s%u", rnd(4) ? "k" : "k\"\n\x01", rnd(10));
      json_object_set_new(o, key, random_value(depth + 1));
    }
    return o;
  }
  case 1: {
    json_t *a = json_array();
    for (uint32_t i = 0, n = rnd(4); i < n; i++)
      json_array_append_new(a, random_value(depth + 1));
    return a;
  }
  case 2:
    return random_string();
  case 3:
    return json_integer(ints[rnd(sizeof ints / sizeof *ints)]);
  case 4:
    return json_real(reals[rnd(sizeof reals / sizeof *reals)]);
  case 5:
    return rnd(2) ? json_true() : json_false();
  default:
    return json_null();
  }
}

static void model_call_body(void **state) {
  (void)state;
  json_t *body = json_pack(
      "{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:f, s:i, s:b, s:{s:b}}", "model",
      "gpt-4o-mini", "messages", "role", "system", "content", "Be brief.",
      "role", "user", "content", "Caf\xc3\xa9 \"quoted\"\n\ttab \\ slash /",
      "temperature", 0.2, "max_tokens", 100, "stream", 1, "stream_options",
      "include_usage", 1);
  same_as_jansson(body);
  json_decref(body);
}

static void random_trees(void **state) {
  (void)state;
  for (int i = 0; i < 20000; i++) {
    json_t *v = random_value(0);
    same_as_jansson(v);
    json_decref(v);
  }
  json_t *deep = json_array(); /* past the depth the writer takes on */
  for (int i = 0; i < 100; i++) {
    json_t *outer = json_array();
    json_array_append_new(outer, deep);
    deep = outer;
  }
  same_as_jansson(deep);
  json_decref(deep);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(model_call_body),
      cmocka_unit_test(random_trees),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
