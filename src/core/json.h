/*
 * json — jansson helpers for input from outside.
 *
 * Parsing reports where the text broke ("line 3, column 7: ...") so a 400
 * can say it. The typed getters validate a field and, on failure, write a
 * message naming the field and what was expected, for a 4xx body.
 */
#ifndef LOOM_CORE_JSON_H
#define LOOM_CORE_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* Deepest nesting accepted from outside; deeper input is LOOM_ERR_PARSE. */
#define LOOM_JSON_MAX_DEPTH 128

/*
 * Parses `len` bytes of JSON text (any value, not only objects). On failure
 * returns NULL and sets `e` to LOOM_ERR_PARSE with the line, column and
 * reason. The caller owns the result (json_decref).
 */
json_t *loom_json_parse(const char *text, size_t len, struct loom_error *e);

/*
 * Compact serialisation into a fresh heap string (loom_free). Keys keep
 * their insertion order.
 */
char *loom_json_dump(const json_t *value);

/*
 * Typed field access on an object. `required` false means a missing or null
 * field gives `fallback` (or NULL) and LOOM_OK. A field of the wrong type is
 * LOOM_ERR_INVALID with a message such as "field 'limit' must be an
 * integer". Returned pointers borrow from `obj`.
 */
loom_err loom_json_get_string(const json_t *obj, const char *key, bool required,
                              const char **out,
                              struct loom_error *e) LOOM_MUST_USE;
loom_err loom_json_get_int(const json_t *obj, const char *key, bool required,
                           long long fallback, long long *out,
                           struct loom_error *e) LOOM_MUST_USE;
loom_err loom_json_get_bool(const json_t *obj, const char *key, bool required,
                            bool fallback, bool *out,
                            struct loom_error *e) LOOM_MUST_USE;
loom_err loom_json_get_object(const json_t *obj, const char *key, bool required,
                              json_t **out, struct loom_error *e) LOOM_MUST_USE;
loom_err loom_json_get_array(const json_t *obj, const char *key, bool required,
                             json_t **out, struct loom_error *e) LOOM_MUST_USE;

#endif
