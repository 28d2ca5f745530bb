/*
 * json_dump — compact JSON written out without jansson's per-byte
 * callbacks (model calls' request bodies, on the model loop).
 */
#ifndef LOOM_CORE_JSON_DUMP_H
#define LOOM_CORE_JSON_DUMP_H

#include <stddef.h>

#include "core/json.h"

/*
 * `v` written as loom_json_dump writes it (json_dumps, JSON_COMPACT |
 * JSON_ENCODE_ANY): the same bytes, in a loom_free-able string, with its
 * length in *len. Reals are written by jansson; a string that is not
 * valid UTF-8 or nesting past 64 hands the whole value to loom_json_dump.
 */
char *loom_json_dump_fast(const json_t *v, size_t *len);

#endif
