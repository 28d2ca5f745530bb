/*
 * json — parse with positions, dump compactly, typed field getters.
 */
#include "core/json.h"

#include "core/alloc.h"

/* jansson has no depth limit of its own; walk brackets outside strings. */
static bool too_deep(const char *text, size_t len, size_t *where) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > LOOM_JSON_MAX_DEPTH) {
        *where = i;
        return true;
      }
    } else if (c == ']' || c == '}') {
      depth--;
    }
  }
  return false;
}

json_t *loom_json_parse(const char *text, size_t len, struct loom_error *e) {
  size_t where;
  if (too_deep(text, len, &where)) {
    loom_error_set(e, LOOM_ERR_PARSE,
                   "JSON nested deeper than %d levels at byte %zu",
                   LOOM_JSON_MAX_DEPTH, where);
    return NULL;
  }
  json_error_t jerr;
  json_t *value =
      json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
  if (!value)
    loom_error_set(e, LOOM_ERR_PARSE, "invalid JSON at line %d, column %d: %s",
                   jerr.line, jerr.column, jerr.text);
  return value;
}

char *loom_json_dump(const json_t *value) {
  char *s = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!s)
    return loom_strdup("null");
  /* jansson allocates with malloc; hand back a loom_free-able copy. */
  char *copy = loom_strdup(s);
  free(s);
  return copy;
}

/* Finds `key`; treats JSON null as absent. Reports a missing required one. */
static loom_err lookup(const json_t *obj, const char *key, bool required,
                       json_t **out, struct loom_error *e) {
  *out = json_is_object(obj) ? json_object_get(obj, key) : NULL;
  if (*out && json_is_null(*out))
    *out = NULL;
  if (!*out && required)
    return loom_error_set(e, LOOM_ERR_INVALID, "field '%s' is required", key);
  return LOOM_OK;
}

static loom_err wrong_type(const char *key, const char *what,
                           struct loom_error *e) {
  return loom_error_set(e, LOOM_ERR_INVALID, "field '%s' must be %s", key,
                        what);
}

loom_err loom_json_get_string(const json_t *obj, const char *key, bool required,
                              const char **out, struct loom_error *e) {
  json_t *v;
  loom_err err = lookup(obj, key, required, &v, e);
  *out = NULL;
  if (err || !v)
    return err;
  if (!json_is_string(v))
    return wrong_type(key, "a string", e);
  *out = json_string_value(v);
  return LOOM_OK;
}

loom_err loom_json_get_int(const json_t *obj, const char *key, bool required,
                           long long fallback, long long *out,
                           struct loom_error *e) {
  json_t *v;
  loom_err err = lookup(obj, key, required, &v, e);
  *out = fallback;
  if (err || !v)
    return err;
  if (!json_is_integer(v))
    return wrong_type(key, "an integer", e);
  *out = json_integer_value(v);
  return LOOM_OK;
}

loom_err loom_json_get_bool(const json_t *obj, const char *key, bool required,
                            bool fallback, bool *out, struct loom_error *e) {
  json_t *v;
  loom_err err = lookup(obj, key, required, &v, e);
  *out = fallback;
  if (err || !v)
    return err;
  if (!json_is_boolean(v))
    return wrong_type(key, "true or false", e);
  *out = json_is_true(v);
  return LOOM_OK;
}

loom_err loom_json_get_object(const json_t *obj, const char *key, bool required,
                              json_t **out, struct loom_error *e) {
  loom_err err = lookup(obj, key, required, out, e);
  if (err || !*out)
    return err;
  if (!json_is_object(*out)) {
    *out = NULL;
    return wrong_type(key, "an object", e);
  }
  return LOOM_OK;
}

loom_err loom_json_get_array(const json_t *obj, const char *key, bool required,
                             json_t **out, struct loom_error *e) {
  loom_err err = lookup(obj, key, required, out, e);
  if (err || !*out)
    return err;
  if (!json_is_array(*out)) {
    *out = NULL;
    return wrong_type(key, "an array", e);
  }
  return LOOM_OK;
}
