/*
 * vector_meta — a columnar index of vector metadata, so a compiled filter
 * is evaluated over all items as a bitset without touching JSON.
 *
 * Per metadata field: a column of (tag, value) per slot, stored in chunks
 * of LOOM_VMETA_CHUNK slots allocated on first use (a field present in few
 * items costs only their chunks). Strings are interned per field (string →
 * u32 id), so $eq / $in on strings compare integers; numbers and booleans
 * are doubles; a list of strings keeps its interned ids. Anything else (a
 * list holding non-strings, a nested object) is tagged OTHER and matched
 * from the JSON by the caller, as is every field past LOOM_VMETA_MAX_FIELDS
 * (then loom_vmeta_field returns NULL and `overflow` is set), so results
 * never depend on what could be indexed.
 *
 * Not thread-safe: the owning index guards it with its own lock (writes
 * exclusive, reads shared).
 */
#ifndef LOOM_STORES_VECTOR_META_H
#define LOOM_STORES_VECTOR_META_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOOM_VMETA_CHUNK 256
#define LOOM_VMETA_MAX_FIELDS 256

enum loom_vmeta_tag {
  LOOM_VMETA_NONE = 0, /* missing or null */
  LOOM_VMETA_STR,      /* sid: interned string */
  LOOM_VMETA_NUM,      /* num */
  LOOM_VMETA_BOOL,     /* num: 0 or 1 */
  LOOM_VMETA_LIST,     /* list: [0] count, then interned ids */
  LOOM_VMETA_OTHER     /* not indexable: match from the JSON */
};

struct loom_vmeta_chunk {
  uint8_t tag[LOOM_VMETA_CHUNK];
  uint32_t sid[LOOM_VMETA_CHUNK];
  union {
    double num;
    uint32_t *list;
  } v[LOOM_VMETA_CHUNK];
};

struct loom_vmeta_field {
  char *name;
  struct loom_vmeta_chunk **chunks; /* nchunks pointers, NULL: all NONE */
  uint32_t nchunks;
  char **strs; /* interned strings by id */
  uint32_t nstr, str_cap;
  uint32_t *dict; /* open addressing: id+1, 0 empty */
  uint32_t dict_cap;
};

struct loom_vmeta {
  struct loom_vmeta_field *fields;
  uint32_t nfields, field_cap;
  bool overflow; /* some field was left unindexed */
};

/* Frees everything the index holds and zeroes it (the struct is the
 * caller's; a zeroed struct is an empty index). */
void loom_vmeta_cleanup(struct loom_vmeta *m);

/* Indexes `meta` (an object or NULL) as the metadata of `slot`, replacing
 * whatever the slot had. */
void loom_vmeta_set(struct loom_vmeta *m, uint32_t slot, const json_t *meta);

/* Forgets the metadata of `slot`. */
void loom_vmeta_clear(struct loom_vmeta *m, uint32_t slot);

/* The column of `name`, or NULL when no item has it or (if m->overflow)
 * it was not indexed. */
const struct loom_vmeta_field *loom_vmeta_field(const struct loom_vmeta *m,
                                                const char *name);

/* The interned id of `s` in field `f`, or UINT32_MAX when no item has it. */
uint32_t loom_vmeta_str_id(const struct loom_vmeta_field *f, const char *s);

/* Bytes held by the index. */
size_t loom_vmeta_memory(const struct loom_vmeta *m);

#endif
