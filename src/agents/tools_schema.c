/*
 * tools_schema — a JSON Schema validator for tool arguments and structured
 * outputs.
 *
 * It covers the keywords models are given in practice (the subset the
 * OpenAI and Anthropic tool APIs accept) and reports the first violation
 * with a path like "$.items[2].name", because the message goes back to the
 * model, which must be able to act on it. Unknown keywords are ignored, as
 * the standard says. `pattern` uses POSIX extended regular expressions,
 * which agree with ECMA-262 on the common cases.
 */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "agents/tools.h"
#include "core/alloc.h"
#include "core/json.h"

static loom_err check(const json_t *s, const json_t *v, const char *path,
                      struct loom_error *e);

static const char *type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return "an object";
  case JSON_ARRAY:
    return "an array";
  case JSON_STRING:
    return "a string";
  case JSON_INTEGER:
    return "an integer";
  case JSON_REAL:
    return "a number";
  case JSON_TRUE:
  case JSON_FALSE:
    return "a boolean";
  default:
    return "null";
  }
}

static bool is_type(const json_t *v, const char *t) {
  if (!strcmp(t, "object"))
    return json_is_object(v);
  if (!strcmp(t, "array"))
    return json_is_array(v);
  if (!strcmp(t, "string"))
    return json_is_string(v);
  if (!strcmp(t, "number"))
    return json_is_number(v);
  if (!strcmp(t, "boolean"))
    return json_is_boolean(v);
  if (!strcmp(t, "null"))
    return json_is_null(v);
  if (!strcmp(t, "integer"))
    return json_is_integer(v) ||
           (json_is_real(v) && floor(json_real_value(v)) == json_real_value(v));
  return true; /* unknown type names do not constrain */
}

static loom_err check_type(const json_t *type, const json_t *v,
                           const char *path, struct loom_error *e) {
  if (json_is_string(type)) {
    if (is_type(v, json_string_value(type)))
      return LOOM_OK;
    return loom_error_set(e, LOOM_ERR_INVALID, "%s must be %s %s, not %s", path,
                          strchr("aeiou", json_string_value(type)[0]) ? "an"
                                                                      : "a",
                          json_string_value(type), type_name(v));
  }
  if (!json_is_array(type))
    return LOOM_OK;
  size_t i;
  json_t *t;
  json_array_foreach(type, i, t) {
    if (json_is_string(t) && is_type(v, json_string_value(t)))
      return LOOM_OK;
  }
  char *want = loom_json_dump(type);
  loom_error_set(e, LOOM_ERR_INVALID, "%s must be one of the types %s, not %s",
                 path, want, type_name(v));
  loom_free(want);
  return LOOM_ERR_INVALID;
}

static loom_err check_enum(const json_t *s, const json_t *v, const char *path,
                           struct loom_error *e) {
  const json_t *en = json_object_get(s, "enum");
  if (json_is_array(en)) {
    size_t i;
    json_t *x;
    json_array_foreach(en, i, x) {
      if (json_equal(x, v))
        return LOOM_OK;
    }
    char *want = loom_json_dump(en);
    loom_error_set(e, LOOM_ERR_INVALID, "%s must be one of %s", path, want);
    loom_free(want);
    return LOOM_ERR_INVALID;
  }
  const json_t *c = json_object_get(s, "const");
  if (c && !json_equal(c, v)) {
    char *want = loom_json_dump(c);
    loom_error_set(e, LOOM_ERR_INVALID, "%s must be %s", path, want);
    loom_free(want);
    return LOOM_ERR_INVALID;
  }
  return LOOM_OK;
}

static double num(const json_t *s, const char *k, bool *has) {
  const json_t *x = json_object_get(s, k);
  *has = json_is_number(x);
  return *has ? json_number_value(x) : 0;
}

static loom_err check_number(const json_t *s, const json_t *v, const char *path,
                             struct loom_error *e) {
  if (!json_is_number(v))
    return LOOM_OK;
  double x = json_number_value(v), b;
  bool has;
  b = num(s, "minimum", &has);
  if (has && x < b)
    return loom_error_set(e, LOOM_ERR_INVALID, "%s must be at least %g", path,
                          b);
  b = num(s, "maximum", &has);
  if (has && x > b)
    return loom_error_set(e, LOOM_ERR_INVALID, "%s must be at most %g", path,
                          b);
  b = num(s, "exclusiveMinimum", &has);
  if (has && x <= b)
    return loom_error_set(e, LOOM_ERR_INVALID, "%s must be more than %g", path,
                          b);
  b = num(s, "exclusiveMaximum", &has);
  if (has && x >= b)
    return loom_error_set(e, LOOM_ERR_INVALID, "%s must be less than %g", path,
                          b);
  return LOOM_OK;
}

/* Length in characters (UTF-8 code points), as JSON Schema counts. */
static size_t utf8_len(const char *s) {
  size_t n = 0;
  for (; *s; s++)
    n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

static loom_err check_string(const json_t *s, const json_t *v, const char *path,
                             struct loom_error *e) {
  if (!json_is_string(v))
    return LOOM_OK;
  size_t n = utf8_len(json_string_value(v));
  bool has;
  double b = num(s, "minLength", &has);
  if (has && (double)n < b)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "%s must have at least %g characters", path, b);
  b = num(s, "maxLength", &has);
  if (has && (double)n > b)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "%s must have at most %g characters", path, b);
  const char *pat = json_string_value(json_object_get(s, "pattern"));
  if (pat) {
    regex_t re;
    if (regcomp(&re, pat, REG_EXTENDED | REG_NOSUB) != 0)
      return LOOM_OK; /* a pattern we cannot compile does not constrain */
    int rc = regexec(&re, json_string_value(v), 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
      return loom_error_set(e, LOOM_ERR_INVALID, "%s must match /%s/", path,
                            pat);
  }
  return LOOM_OK;
}

static loom_err check_array(const json_t *s, const json_t *v, const char *path,
                            struct loom_error *e) {
  if (!json_is_array(v))
    return LOOM_OK;
  size_t n = json_array_size(v);
  bool has;
  double b = num(s, "minItems", &has);
  if (has && (double)n < b)
    return loom_error_set(e, LOOM_ERR_INVALID, "%s must have at least %g items",
                          path, b);
  b = num(s, "maxItems", &has);
  if (has && (double)n > b)
    return loom_error_set(e, LOOM_ERR_INVALID, "%s must have at most %g items",
                          path, b);
  const json_t *items = json_object_get(s, "items");
  if (!json_is_object(items))
    return LOOM_OK;
  size_t i;
  json_t *x;
  json_array_foreach(v, i, x) {
    char sub[512];
    snprintf(sub, sizeof sub, "%s[%zu]", path, i);
    loom_err err = check(items, x, sub, e);
    if (err)
      return err;
  }
  return LOOM_OK;
}

static loom_err check_object(const json_t *s, const json_t *v, const char *path,
                             struct loom_error *e) {
  if (!json_is_object(v))
    return LOOM_OK;
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(s, "required"), i, r) {
    if (json_is_string(r) && !json_object_get(v, json_string_value(r)))
      return loom_error_set(e, LOOM_ERR_INVALID, "%s.%s is required", path,
                            json_string_value(r));
  }
  const json_t *props = json_object_get(s, "properties");
  const json_t *extra = json_object_get(s, "additionalProperties");
  const char *k;
  json_t *x;
  json_object_foreach((json_t *)v, k, x) {
    char sub[512];
    snprintf(sub, sizeof sub, "%s.%s", path, k);
    const json_t *ps = json_object_get(props, k);
    loom_err err = LOOM_OK;
    if (ps)
      err = check(ps, x, sub, e);
    else if (json_is_false(extra))
      err = loom_error_set(e, LOOM_ERR_INVALID,
                           "%s is not allowed (no such property)", sub);
    else if (json_is_object(extra))
      err = check(extra, x, sub, e);
    if (err)
      return err;
  }
  return LOOM_OK;
}

static loom_err check_combinators(const json_t *s, const json_t *v,
                                  const char *path, struct loom_error *e) {
  size_t i, matched = 0;
  json_t *sub;
  struct loom_error ignore;
  json_array_foreach(json_object_get(s, "allOf"), i, sub) {
    loom_err err = check(sub, v, path, e);
    if (err)
      return err;
  }
  const json_t *any = json_object_get(s, "anyOf");
  if (json_is_array(any)) {
    json_array_foreach(any, i, sub) matched +=
        check(sub, v, path, &ignore) == LOOM_OK;
    if (!matched)
      return loom_error_set(e, LOOM_ERR_INVALID,
                            "%s matches none of the allowed shapes (anyOf)",
                            path);
  }
  const json_t *one = json_object_get(s, "oneOf");
  if (json_is_array(one)) {
    matched = 0;
    json_array_foreach(one, i, sub) matched +=
        check(sub, v, path, &ignore) == LOOM_OK;
    if (matched != 1)
      return loom_error_set(
          e, LOOM_ERR_INVALID,
          "%s must match exactly one shape (oneOf), matches %zu", path,
          matched);
  }
  const json_t *not = json_object_get(s, "not");
  if (json_is_object(not ) && check(not, v, path, &ignore) == LOOM_OK)
    return loom_error_set(e, LOOM_ERR_INVALID, "%s matches a forbidden shape",
                          path);
  return LOOM_OK;
}

static loom_err check(const json_t *s, const json_t *v, const char *path,
                      struct loom_error *e) {
  if (json_is_true(s) || !json_is_object(s))
    return LOOM_OK;
  loom_err err = check_type(json_object_get(s, "type"), v, path, e);
  if (!err)
    err = check_enum(s, v, path, e);
  if (!err)
    err = check_number(s, v, path, e);
  if (!err)
    err = check_string(s, v, path, e);
  if (!err)
    err = check_array(s, v, path, e);
  if (!err)
    err = check_object(s, v, path, e);
  if (!err)
    err = check_combinators(s, v, path, e);
  return err;
}

loom_err loom_json_schema_validate(const json_t *schema, const json_t *value,
                                   struct loom_error *e) {
  return check(schema, value, "$", e);
}
