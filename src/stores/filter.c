/*
 * filter — compiling and matching Pinecone metadata filters (see filter.h).
 *
 * How: compile walks the JSON once, checks every operator and operand type
 * (errors name the operator and field), and builds a tree of fnode: AND/OR
 * nodes with children, leaves with the field name and a typed constant, or
 * for $in/$nin sorted arrays of strings and numbers searched by bisection.
 * Matching looks each leaf's field up in the metadata object and compares.
 */
#include "stores/filter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"

enum fop {
  OP_AND,
  OP_OR,
  OP_EQ,
  OP_NE,
  OP_GT,
  OP_GTE,
  OP_LT,
  OP_LTE,
  OP_IN,
  OP_NIN,
  OP_EXISTS
};

enum vkind { V_STR, V_NUM, V_BOOL };

struct fval {
  enum vkind kind;
  char *s;
  double n;
  bool b;
};

struct fset {
  char **strs;
  double *nums;
  size_t nstr, nnum;
  bool has_true, has_false;
};

struct fnode {
  enum fop op;
  char *field;
  struct fval v;
  struct fset set;
  struct fnode **kids;
  size_t nkids;
};

struct loom_filter {
  struct fnode *root;
};

struct cctx {
  size_t nodes;
  struct loom_error *e;
};

static const struct {
  const char *name;
  enum fop op;
} OPS[] = {
    {"$eq", OP_EQ},   {"$ne", OP_NE},   {"$gt", OP_GT},
    {"$gte", OP_GTE}, {"$lt", OP_LT},   {"$lte", OP_LTE},
    {"$in", OP_IN},   {"$nin", OP_NIN}, {"$exists", OP_EXISTS},
};

static void node_free(struct fnode *n) {
  if (!n)
    return;
  for (size_t i = 0; i < n->nkids; i++)
    node_free(n->kids[i]);
  for (size_t i = 0; i < n->set.nstr; i++)
    loom_free(n->set.strs[i]);
  loom_free(n->kids);
  loom_free(n->set.strs);
  loom_free(n->set.nums);
  loom_free(n->v.s);
  loom_free(n->field);
  loom_free(n);
}

static struct fnode *node_new(enum fop op, const char *field) {
  struct fnode *n = LOOM_NEW(struct fnode);
  n->op = op;
  n->field = field ? loom_strdup(field) : NULL;
  return n;
}

static void add_kid(struct fnode *parent, struct fnode *kid) {
  parent->kids =
      loom_realloc(parent->kids, (parent->nkids + 1) * sizeof *parent->kids);
  parent->kids[parent->nkids++] = kid;
}

static bool scalar(const json_t *v) {
  return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

static void set_val(struct fval *out, const json_t *v) {
  if (json_is_string(v)) {
    out->kind = V_STR;
    out->s = loom_strdup(json_string_value(v));
  } else if (json_is_number(v)) {
    out->kind = V_NUM;
    out->n = json_number_value(v);
  } else {
    out->kind = V_BOOL;
    out->b = json_is_true(v);
  }
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_num(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static loom_err compile_set(struct cctx *cx, struct fnode *n, const char *op,
                            const char *field, const json_t *arr) {
  if (!json_is_array(arr))
    return loom_error_set(cx->e, LOOM_ERR_INVALID,
                          "%s in field '%s' needs an array of values", op,
                          field);
  size_t len = json_array_size(arr);
  if (len > LOOM_FILTER_MAX_IN)
    return loom_error_set(cx->e, LOOM_ERR_INVALID,
                          "%s in field '%s' has %zu values; at most %d", op,
                          field, len, LOOM_FILTER_MAX_IN);
  cx->nodes += len;
  n->set.strs = loom_calloc(len + 1, sizeof *n->set.strs);
  n->set.nums = loom_calloc(len + 1, sizeof *n->set.nums);
  for (size_t i = 0; i < len; i++) {
    const json_t *v = json_array_get(arr, i);
    if (json_is_string(v))
      n->set.strs[n->set.nstr++] = loom_strdup(json_string_value(v));
    else if (json_is_number(v))
      n->set.nums[n->set.nnum++] = json_number_value(v);
    else if (json_is_boolean(v))
      (json_is_true(v) ? (n->set.has_true = true) : (n->set.has_false = true));
    else
      return loom_error_set(cx->e, LOOM_ERR_INVALID,
                            "%s in field '%s' accepts only strings, numbers "
                            "and booleans (value %zu is not)",
                            op, field, i);
  }
  qsort(n->set.strs, n->set.nstr, sizeof *n->set.strs, cmp_str);
  qsort(n->set.nums, n->set.nnum, sizeof *n->set.nums, cmp_num);
  return LOOM_OK;
}

/* One operator applied to one field. */
static loom_err compile_op(struct cctx *cx, const char *field, const char *op,
                           const json_t *operand, struct fnode **out) {
  size_t i = 0;
  while (i < sizeof OPS / sizeof OPS[0] && strcmp(OPS[i].name, op) != 0)
    i++;
  if (i == sizeof OPS / sizeof OPS[0])
    return loom_error_set(cx->e, LOOM_ERR_INVALID,
                          "unknown operator '%s' in field '%s' (supported: "
                          "$eq $ne $gt $gte $lt $lte $in $nin $exists)",
                          op, field);
  if (++cx->nodes > LOOM_FILTER_MAX_NODES)
    return loom_error_set(cx->e, LOOM_ERR_INVALID,
                          "filter is too large (more than %d conditions)",
                          LOOM_FILTER_MAX_NODES);
  struct fnode *n = node_new(OPS[i].op, field);
  loom_err err = LOOM_OK;
  switch (n->op) {
  case OP_EQ:
  case OP_NE:
    if (!scalar(operand))
      err = loom_error_set(cx->e, LOOM_ERR_INVALID,
                           "%s in field '%s' needs a string, number or "
                           "boolean",
                           op, field);
    else
      set_val(&n->v, operand);
    break;
  case OP_GT:
  case OP_GTE:
  case OP_LT:
  case OP_LTE:
    if (!json_is_number(operand))
      err = loom_error_set(cx->e, LOOM_ERR_INVALID,
                           "%s in field '%s' needs a number", op, field);
    else
      set_val(&n->v, operand);
    break;
  case OP_IN:
  case OP_NIN:
    err = compile_set(cx, n, op, field, operand);
    break;
  case OP_EXISTS:
    if (!json_is_boolean(operand))
      err = loom_error_set(cx->e, LOOM_ERR_INVALID,
                           "$exists in field '%s' needs true or false", field);
    else
      set_val(&n->v, operand);
    break;
  default:
    break;
  }
  if (err) {
    node_free(n);
    return err;
  }
  *out = n;
  return LOOM_OK;
}

/* An AND of one condition is that condition. */
static struct fnode *unwrap_single(struct fnode *all) {
  if (all->nkids != 1)
    return all;
  struct fnode *only = all->kids[0];
  all->nkids = 0;
  node_free(all);
  return only;
}

/* A field's condition: a bare value ($eq) or an object of operators. */
static loom_err compile_field(struct cctx *cx, const char *field,
                              const json_t *cond, struct fnode **out) {
  if (!json_is_object(cond)) {
    if (scalar(cond))
      return compile_op(cx, field, "$eq", cond, out);
    return loom_error_set(cx->e, LOOM_ERR_INVALID,
                          "field '%s' needs a value or an object of operators"
                          "%s",
                          field,
                          json_is_array(cond) ? " (use $in for a list)" : "");
  }
  if (json_object_size(cond) == 0)
    return loom_error_set(cx->e, LOOM_ERR_INVALID,
                          "field '%s' has an empty condition", field);
  struct fnode *all = node_new(OP_AND, NULL);
  const char *op;
  json_t *operand;
  json_object_foreach((json_t *)cond, op, operand) {
    struct fnode *kid;
    loom_err err = compile_op(cx, field, op, operand, &kid);
    if (err) {
      node_free(all);
      return err;
    }
    add_kid(all, kid);
  }
  *out = unwrap_single(all);
  return LOOM_OK;
}

static loom_err compile_object(struct cctx *cx, const json_t *obj, int depth,
                               struct fnode **out);

/* $and / $or: a non-empty array of filter objects. */
static loom_err compile_logic(struct cctx *cx, const char *op,
                              const json_t *arr, int depth,
                              struct fnode **out) {
  if (!json_is_array(arr) || json_array_size(arr) == 0)
    return loom_error_set(cx->e, LOOM_ERR_INVALID,
                          "%s needs a non-empty array of filters", op);
  struct fnode *n = node_new(strcmp(op, "$and") == 0 ? OP_AND : OP_OR, NULL);
  size_t i;
  json_t *item;
  json_array_foreach(arr, i, item) {
    struct fnode *kid;
    loom_err err = compile_object(cx, item, depth + 1, &kid);
    if (err) {
      node_free(n);
      return err;
    }
    add_kid(n, kid);
  }
  *out = n;
  return LOOM_OK;
}

static loom_err compile_object(struct cctx *cx, const json_t *obj, int depth,
                               struct fnode **out) {
  if (depth > LOOM_FILTER_MAX_DEPTH)
    return loom_error_set(cx->e, LOOM_ERR_INVALID,
                          "filter is nested more than %d levels deep",
                          LOOM_FILTER_MAX_DEPTH);
  if (!json_is_object(obj))
    return loom_error_set(cx->e, LOOM_ERR_INVALID,
                          "a filter must be a JSON object");
  struct fnode *all = node_new(OP_AND, NULL);
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)obj, key, val) {
    struct fnode *kid = NULL;
    loom_err err;
    if (strcmp(key, "$and") == 0 || strcmp(key, "$or") == 0)
      err = compile_logic(cx, key, val, depth, &kid);
    else if (key[0] == '$')
      err = loom_error_set(cx->e, LOOM_ERR_INVALID,
                           "unknown operator '%s' where a field name, $and "
                           "or $or was expected",
                           key);
    else
      err = compile_field(cx, key, val, &kid);
    if (err) {
      node_free(all);
      return err;
    }
    add_kid(all, kid);
  }
  *out = unwrap_single(all);
  return LOOM_OK;
}

loom_err loom_filter_compile(const json_t *filter, struct loom_filter **out,
                             struct loom_error *e) {
  struct cctx cx = {0, e};
  struct fnode *root;
  loom_err err = compile_object(&cx, filter, 0, &root);
  if (err)
    return err;
  struct loom_filter *f = LOOM_NEW(struct loom_filter);
  f->root = root;
  *out = f;
  return LOOM_OK;
}

loom_err loom_filter_parse(const char *text, size_t len,
                           struct loom_filter **out, struct loom_error *e) {
  json_t *j = loom_json_parse(text, len, e);
  if (!j)
    return LOOM_ERR_PARSE;
  loom_err err = loom_filter_compile(j, out, e);
  json_decref(j);
  return err;
}

void loom_filter_free(struct loom_filter *f) {
  if (!f)
    return;
  node_free(f->root);
  loom_free(f);
}

/* ---- matching -------------------------------------------------------------
 */

static bool scalar_eq(const json_t *v, const struct fval *c) {
  switch (c->kind) {
  case V_STR:
    return json_is_string(v) && strcmp(json_string_value(v), c->s) == 0;
  case V_NUM:
    return json_is_number(v) && json_number_value(v) == c->n;
  case V_BOOL:
    return json_is_boolean(v) && json_is_true(v) == c->b;
  }
  return false;
}

static bool scalar_in(const json_t *v, const struct fset *s) {
  if (json_is_string(v)) {
    const char *key = json_string_value(v);
    return s->nstr && bsearch(&key, s->strs, s->nstr, sizeof *s->strs, cmp_str);
  }
  if (json_is_number(v)) {
    double key = json_number_value(v);
    return s->nnum && bsearch(&key, s->nums, s->nnum, sizeof *s->nums, cmp_num);
  }
  if (json_is_boolean(v))
    return json_is_true(v) ? s->has_true : s->has_false;
  return false;
}

/* A list field matches when any element does. */
static bool any_eq(const json_t *v, const struct fval *c) {
  if (!json_is_array(v))
    return scalar_eq(v, c);
  size_t i;
  json_t *x;
  json_array_foreach(v, i, x) if (scalar_eq(x, c)) return true;
  return false;
}

static bool any_in(const json_t *v, const struct fset *s) {
  if (!json_is_array(v))
    return scalar_in(v, s);
  size_t i;
  json_t *x;
  json_array_foreach(v, i, x) if (scalar_in(x, s)) return true;
  return false;
}

static bool compare(const json_t *v, enum fop op, double c) {
  if (!json_is_number(v))
    return false;
  double x = json_number_value(v);
  switch (op) {
  case OP_GT:
    return x > c;
  case OP_GTE:
    return x >= c;
  case OP_LT:
    return x < c;
  case OP_LTE:
    return x <= c;
  default:
    return false;
  }
}

static bool match_node(const struct fnode *n, const json_t *meta) {
  if (n->op == OP_AND) {
    for (size_t i = 0; i < n->nkids; i++)
      if (!match_node(n->kids[i], meta))
        return false;
    return true;
  }
  if (n->op == OP_OR) {
    for (size_t i = 0; i < n->nkids; i++)
      if (match_node(n->kids[i], meta))
        return true;
    return false;
  }
  const json_t *v = meta ? json_object_get(meta, n->field) : NULL;
  if (v && json_is_null(v))
    v = NULL;
  switch (n->op) {
  case OP_EQ:
    return v && any_eq(v, &n->v);
  case OP_NE:
    return !(v && any_eq(v, &n->v));
  case OP_IN:
    return v && any_in(v, &n->set);
  case OP_NIN:
    return !(v && any_in(v, &n->set));
  case OP_EXISTS:
    return (v != NULL) == n->v.b;
  default:
    return v && compare(v, n->op, n->v.n);
  }
}

bool loom_filter_match(const struct loom_filter *f, const json_t *metadata) {
  return match_node(f->root, metadata);
}

bool loom_filter_match_cb(void *ud, const json_t *metadata) {
  return match_node(((const struct loom_filter *)ud)->root, metadata);
}

/* ---- evaluation over the column index -------------------------------------
 */

struct ectx {
  const struct loom_vmeta *m;
  uint32_t n;
  size_t words;
  loom_filter_meta_cb meta_of;
  void *ud;
};

/* A leaf's constants translated into the field's interned ids. */
struct leafq {
  uint32_t cid;   /* $eq/$ne string */
  uint8_t *inset; /* $in/$nin: per interned id, 1 when in the set */
  uint32_t nstr;
};

static bool list_any(const uint32_t *list, const struct leafq *q) {
  for (uint32_t k = 1; k <= list[0]; k++)
    if (q->inset ? (list[k] < q->nstr && q->inset[list[k]]) : list[k] == q->cid)
      return true;
  return false;
}

/* Whether a column value satisfies the leaf, $ne/$nin included. */
static bool leaf_test(const struct fnode *n, const struct leafq *q, uint8_t tag,
                      uint32_t sid, const uint32_t *list, double num) {
  bool r = false;
  switch (n->op) {
  case OP_EQ:
  case OP_NE:
    if (n->v.kind == V_STR)
      r = tag == LOOM_VMETA_STR    ? sid == q->cid
          : tag == LOOM_VMETA_LIST ? list_any(list, q)
                                   : false;
    else if (n->v.kind == V_NUM)
      r = tag == LOOM_VMETA_NUM && num == n->v.n;
    else
      r = tag == LOOM_VMETA_BOOL && (num != 0) == n->v.b;
    return n->op == OP_EQ ? r : !r;
  case OP_IN:
  case OP_NIN:
    if (tag == LOOM_VMETA_STR)
      r = sid < q->nstr && q->inset[sid];
    else if (tag == LOOM_VMETA_LIST)
      r = list_any(list, q);
    else if (tag == LOOM_VMETA_NUM)
      r = n->set.nnum &&
          bsearch(&num, n->set.nums, n->set.nnum, sizeof(double), cmp_num);
    else if (tag == LOOM_VMETA_BOOL)
      r = num != 0 ? n->set.has_true : n->set.has_false;
    return n->op == OP_IN ? r : !r;
  case OP_EXISTS:
    return (tag != LOOM_VMETA_NONE) == n->v.b;
  case OP_GT:
    return tag == LOOM_VMETA_NUM && num > n->v.n;
  case OP_GTE:
    return tag == LOOM_VMETA_NUM && num >= n->v.n;
  case OP_LT:
    return tag == LOOM_VMETA_NUM && num < n->v.n;
  case OP_LTE:
    return tag == LOOM_VMETA_NUM && num <= n->v.n;
  default:
    return false;
  }
}

static void set_range(uint64_t *bits, uint32_t from, uint32_t to) {
  for (uint32_t s = from; s < to; s++)
    bits[s / 64] |= 1ull << (s % 64);
}

static void leaf_prepare(const struct fnode *n,
                         const struct loom_vmeta_field *f, struct leafq *q) {
  memset(q, 0, sizeof *q);
  q->cid = UINT32_MAX;
  q->nstr = f->nstr;
  if ((n->op == OP_EQ || n->op == OP_NE) && n->v.kind == V_STR)
    q->cid = loom_vmeta_str_id(f, n->v.s);
  if (n->op == OP_IN || n->op == OP_NIN) {
    q->inset = loom_calloc(f->nstr + 1, 1);
    for (size_t i = 0; i < n->set.nstr; i++) {
      uint32_t id = loom_vmeta_str_id(f, n->set.strs[i]);
      if (id != UINT32_MAX)
        q->inset[id] = 1;
    }
  }
}

static void eval_leaf(const struct ectx *x, const struct fnode *n,
                      uint64_t *out) {
  memset(out, 0, x->words * sizeof *out);
  const struct loom_vmeta_field *f = loom_vmeta_field(x->m, n->field);
  if (!f) {
    if (x->m->overflow) { /* maybe an unindexed field: ask the JSON */
      for (uint32_t s = 0; s < x->n; s++)
        if (match_node(n, x->meta_of(x->ud, s)))
          out[s / 64] |= 1ull << (s % 64);
    } else if (leaf_test(n, &(struct leafq){.cid = UINT32_MAX}, LOOM_VMETA_NONE,
                         0, NULL, 0)) {
      set_range(out, 0, x->n);
    }
    return;
  }
  struct leafq q;
  leaf_prepare(n, f, &q);
  bool none_matches = leaf_test(n, &q, LOOM_VMETA_NONE, 0, NULL, 0);
  for (uint32_t base = 0; base < x->n; base += LOOM_VMETA_CHUNK) {
    uint32_t lim =
        x->n - base < LOOM_VMETA_CHUNK ? x->n - base : LOOM_VMETA_CHUNK;
    const struct loom_vmeta_chunk *ch = base / LOOM_VMETA_CHUNK < f->nchunks
                                            ? f->chunks[base / LOOM_VMETA_CHUNK]
                                            : NULL;
    if (!ch) {
      if (none_matches)
        set_range(out, base, base + lim);
      continue;
    }
    for (uint32_t i = 0; i < lim; i++) {
      uint8_t tag = ch->tag[i];
      bool r = tag == LOOM_VMETA_OTHER
                   ? match_node(n, x->meta_of(x->ud, base + i))
               : tag == LOOM_VMETA_LIST
                   ? leaf_test(n, &q, tag, 0, ch->v[i].list, 0)
                   : leaf_test(n, &q, tag, ch->sid[i], NULL, ch->v[i].num);
      if (r)
        out[(base + i) / 64] |= 1ull << ((base + i) % 64);
    }
  }
  loom_free(q.inset);
}

static void eval_node(const struct ectx *x, const struct fnode *n,
                      uint64_t *out) {
  if (n->op != OP_AND && n->op != OP_OR) {
    eval_leaf(x, n, out);
    return;
  }
  if (n->nkids == 0) { /* the empty filter {} */
    memset(out, 0, x->words * sizeof *out);
    set_range(out, 0, x->n);
    return;
  }
  eval_node(x, n->kids[0], out);
  uint64_t *tmp = loom_malloc(x->words * sizeof *tmp + 8);
  for (size_t k = 1; k < n->nkids; k++) {
    eval_node(x, n->kids[k], tmp);
    uint64_t any = 0;
    for (size_t w = 0; w < x->words; w++) {
      out[w] = n->op == OP_AND ? out[w] & tmp[w] : out[w] | tmp[w];
      any |= out[w];
    }
    if (n->op == OP_AND && !any)
      break;
  }
  loom_free(tmp);
}

void loom_filter_eval(const struct loom_filter *f, const struct loom_vmeta *m,
                      uint32_t n, loom_filter_meta_cb meta_of, void *ud,
                      uint64_t *bits) {
  struct ectx x = {m, n, ((size_t)n + 63) / 64, meta_of, ud};
  if (!x.words)
    return;
  eval_node(&x, f->root, bits);
}
