/*
 * vector_meta — columnar metadata index (see vector_meta.h).
 *
 * How: fields are a small array searched by name (at most
 * LOOM_VMETA_MAX_FIELDS). Each field's string dictionary is an open-
 * addressing table of ids into its interned-string array; strings are never
 * un-interned (an id no item uses any more simply matches nothing). Setting
 * a slot first clears it in every field, then writes each key's value.
 */
#include "stores/vector_meta.h"

#include <string.h>

#include "core/alloc.h"

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static void dict_insert_raw(struct loom_vmeta_field *f, uint32_t id) {
  uint32_t mask = f->dict_cap - 1;
  uint32_t i = (uint32_t)hash_str(f->strs[id]) & mask;
  while (f->dict[i])
    i = (i + 1) & mask;
  f->dict[i] = id + 1;
}

uint32_t loom_vmeta_str_id(const struct loom_vmeta_field *f, const char *s) {
  if (!f->dict_cap)
    return UINT32_MAX;
  uint32_t mask = f->dict_cap - 1;
  for (uint32_t i = (uint32_t)hash_str(s) & mask; f->dict[i];
       i = (i + 1) & mask)
    if (strcmp(f->strs[f->dict[i] - 1], s) == 0)
      return f->dict[i] - 1;
  return UINT32_MAX;
}

static uint32_t intern(struct loom_vmeta_field *f, const char *s) {
  uint32_t id = loom_vmeta_str_id(f, s);
  if (id != UINT32_MAX)
    return id;
  if (f->nstr == f->str_cap) {
    f->str_cap = f->str_cap ? 2 * f->str_cap : 16;
    f->strs = loom_realloc(f->strs, f->str_cap * sizeof *f->strs);
  }
  id = f->nstr++;
  f->strs[id] = loom_strdup(s);
  if (2 * f->nstr > f->dict_cap) { /* keep the load under one half */
    loom_free(f->dict);
    f->dict_cap = f->dict_cap ? 2 * f->dict_cap : 32;
    f->dict = loom_calloc(f->dict_cap, sizeof *f->dict);
    for (uint32_t i = 0; i < f->nstr; i++)
      dict_insert_raw(f, i);
  } else {
    dict_insert_raw(f, id);
  }
  return id;
}

static struct loom_vmeta_field *find(const struct loom_vmeta *m,
                                     const char *name) {
  for (uint32_t i = 0; i < m->nfields; i++)
    if (strcmp(m->fields[i].name, name) == 0)
      return &m->fields[i];
  return NULL;
}

const struct loom_vmeta_field *loom_vmeta_field(const struct loom_vmeta *m,
                                                const char *name) {
  return find(m, name);
}

static struct loom_vmeta_field *field_for(struct loom_vmeta *m,
                                          const char *name) {
  struct loom_vmeta_field *f = find(m, name);
  if (f)
    return f;
  if (m->nfields == LOOM_VMETA_MAX_FIELDS) {
    m->overflow = true;
    return NULL;
  }
  if (m->nfields == m->field_cap) {
    m->field_cap = m->field_cap ? 2 * m->field_cap : 4;
    m->fields = loom_realloc(m->fields, m->field_cap * sizeof *m->fields);
  }
  f = &m->fields[m->nfields++];
  memset(f, 0, sizeof *f);
  f->name = loom_strdup(name);
  return f;
}

static struct loom_vmeta_chunk *chunk_for(struct loom_vmeta_field *f,
                                          uint32_t slot) {
  uint32_t c = slot / LOOM_VMETA_CHUNK;
  if (c >= f->nchunks) {
    uint32_t n = f->nchunks ? f->nchunks : 4;
    while (n <= c)
      n *= 2;
    f->chunks = loom_realloc(f->chunks, n * sizeof *f->chunks);
    memset(f->chunks + f->nchunks, 0, (n - f->nchunks) * sizeof *f->chunks);
    f->nchunks = n;
  }
  if (!f->chunks[c])
    f->chunks[c] = LOOM_NEW(struct loom_vmeta_chunk);
  return f->chunks[c];
}

static void clear_in(struct loom_vmeta_field *f, uint32_t slot) {
  uint32_t c = slot / LOOM_VMETA_CHUNK, i = slot % LOOM_VMETA_CHUNK;
  if (c >= f->nchunks || !f->chunks[c])
    return;
  struct loom_vmeta_chunk *ch = f->chunks[c];
  if (ch->tag[i] == LOOM_VMETA_LIST)
    loom_free(ch->v[i].list);
  ch->tag[i] = LOOM_VMETA_NONE;
}

void loom_vmeta_clear(struct loom_vmeta *m, uint32_t slot) {
  for (uint32_t i = 0; i < m->nfields; i++)
    clear_in(&m->fields[i], slot);
}

/* A list of strings as interned ids; false if it holds anything else. */
static bool set_list(struct loom_vmeta_field *f, struct loom_vmeta_chunk *ch,
                     uint32_t i, const json_t *v) {
  size_t n = json_array_size(v);
  for (size_t k = 0; k < n; k++)
    if (!json_is_string(json_array_get(v, k)))
      return false;
  uint32_t *list = loom_malloc((n + 1) * sizeof *list);
  list[0] = (uint32_t)n;
  for (size_t k = 0; k < n; k++)
    list[k + 1] = intern(f, json_string_value(json_array_get(v, k)));
  ch->tag[i] = LOOM_VMETA_LIST;
  ch->v[i].list = list;
  return true;
}

static void set_value(struct loom_vmeta_field *f, uint32_t slot,
                      const json_t *v) {
  struct loom_vmeta_chunk *ch = chunk_for(f, slot);
  uint32_t i = slot % LOOM_VMETA_CHUNK;
  if (json_is_string(v)) {
    ch->tag[i] = LOOM_VMETA_STR;
    ch->sid[i] = intern(f, json_string_value(v));
  } else if (json_is_number(v)) {
    ch->tag[i] = LOOM_VMETA_NUM;
    ch->v[i].num = json_number_value(v);
  } else if (json_is_boolean(v)) {
    ch->tag[i] = LOOM_VMETA_BOOL;
    ch->v[i].num = json_is_true(v) ? 1.0 : 0.0;
  } else if (json_is_null(v)) {
    ch->tag[i] = LOOM_VMETA_NONE;
  } else if (!json_is_array(v) || !set_list(f, ch, i, v)) {
    ch->tag[i] = LOOM_VMETA_OTHER;
  }
}

void loom_vmeta_set(struct loom_vmeta *m, uint32_t slot, const json_t *meta) {
  loom_vmeta_clear(m, slot);
  if (!json_is_object(meta))
    return;
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)meta, key, v) {
    struct loom_vmeta_field *f = field_for(m, key);
    if (f)
      set_value(f, slot, v);
  }
}

void loom_vmeta_cleanup(struct loom_vmeta *m) {
  for (uint32_t i = 0; i < m->nfields; i++) {
    struct loom_vmeta_field *f = &m->fields[i];
    for (uint32_t c = 0; c < f->nchunks; c++) {
      struct loom_vmeta_chunk *ch = f->chunks[c];
      if (!ch)
        continue;
      for (uint32_t k = 0; k < LOOM_VMETA_CHUNK; k++)
        if (ch->tag[k] == LOOM_VMETA_LIST)
          loom_free(ch->v[k].list);
      loom_free(ch);
    }
    for (uint32_t s = 0; s < f->nstr; s++)
      loom_free(f->strs[s]);
    loom_free(f->strs);
    loom_free(f->dict);
    loom_free(f->chunks);
    loom_free(f->name);
  }
  loom_free(m->fields);
  memset(m, 0, sizeof *m);
}

size_t loom_vmeta_memory(const struct loom_vmeta *m) {
  size_t b = (size_t)m->nfields * sizeof *m->fields;
  for (uint32_t i = 0; i < m->nfields; i++) {
    const struct loom_vmeta_field *f = &m->fields[i];
    for (uint32_t c = 0; c < f->nchunks; c++)
      b += sizeof(void *) + (f->chunks[c] ? sizeof *f->chunks[c] : 0);
    b += (size_t)f->str_cap * sizeof(char *) + f->dict_cap * sizeof(uint32_t);
    for (uint32_t s = 0; s < f->nstr; s++)
      b += strlen(f->strs[s]) + 1;
  }
  return b;
}
