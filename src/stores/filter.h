/*
 * filter — Pinecone's metadata filter language, compiled once per query.
 *
 *   {"genre": "drama"}                        implicit $eq
 *   {"year": {"$gte": 2019, "$lt": 2024}}     several operators: all must hold
 *   {"$or": [{"genre": {"$in": ["a", "b"]}}, {"rating": {"$gt": 8.5}}]}
 *
 * Operators: $eq $ne (string, number, boolean), $gt $gte $lt $lte (number),
 * $in $nin (array of strings, numbers or booleans), $exists (boolean),
 * $and $or (non-empty array of filters). Several keys in one object are
 * joined by AND. A metadata field holding a list of strings matches
 * $eq / $in when any element does, and $ne / $nin when none does; a missing
 * field matches only $ne, $nin and {"$exists": false}. Numbers compare by
 * value (3 equals 3.0). An empty filter {} matches everything.
 *
 * Compiled form: a tree with typed constants and sorted $in/$nin sets
 * (binary search), so matching does no allocation and no JSON parsing.
 */
#ifndef LOOM_STORES_FILTER_H
#define LOOM_STORES_FILTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "stores/vector_meta.h"

/* Most values accepted in one $in / $nin list (Pinecone's limit). */
#define LOOM_FILTER_MAX_IN 10000
/* Most operators and values in one filter, and deepest $and/$or nesting. */
#define LOOM_FILTER_MAX_NODES 20000
#define LOOM_FILTER_MAX_DEPTH 32

struct loom_filter;

/*
 * Compiles a filter given as a JSON value (must be an object). On a bad
 * filter returns LOOM_ERR_INVALID with a message naming the operator or
 * field at fault, e.g. "unknown operator '$regex' in field 'genre'" or
 * "$gt in field 'year' needs a number". The caller frees the result.
 */
loom_err loom_filter_compile(const json_t *filter, struct loom_filter **out,
                             struct loom_error *e) LOOM_MUST_USE;

/* Parses JSON text and compiles it (LOOM_ERR_PARSE for malformed JSON). */
loom_err loom_filter_parse(const char *text, size_t len,
                           struct loom_filter **out,
                           struct loom_error *e) LOOM_MUST_USE;

/* Whether `metadata` (an object, or NULL for none) satisfies the filter. */
bool loom_filter_match(const struct loom_filter *f, const json_t *metadata);

/* loom_filter_match shaped as an HNSW filter callback (ud is the filter). */
bool loom_filter_match_cb(void *ud, const json_t *metadata);

/* The metadata JSON of `slot`, for values the column index cannot hold. */
typedef const json_t *(*loom_filter_meta_cb)(void *ud, uint32_t slot);

/*
 * Evaluates the filter over slots [0, n) with the metadata index `m`:
 * bit s of `bits` ((n + 63) / 64 words, overwritten) is set when slot s's
 * metadata matches, exactly as loom_filter_match would decide. Values the
 * index could not hold are matched from meta_of(ud, slot). The caller
 * removes slots that hold no item. Costs one sequential pass over each
 * named field's column per condition; allocates only temporary bitsets.
 */
void loom_filter_eval(const struct loom_filter *f, const struct loom_vmeta *m,
                      uint32_t n, loom_filter_meta_cb meta_of, void *ud,
                      uint64_t *bits);

/* Frees a compiled filter (NULL is fine). */
void loom_filter_free(struct loom_filter *f);

#endif
