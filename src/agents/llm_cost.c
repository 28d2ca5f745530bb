/*
 * llm_cost — a small array of (model, input, output) searched linearly;
 * tables have tens of entries.
 */
#include "agents/llm_cost.h"

#include <string.h>

#include "core/alloc.h"
#include "core/json.h"

#define MAX_PRICES 512

struct price {
  char *model;
  double input;
  double output;
};

struct loom_llm_prices {
  struct price p[MAX_PRICES];
  size_t n;
};

/* Published list prices at the time of writing, USD per million tokens. */
static const struct {
  const char *model;
  double input, output;
} BUILTIN[] = {
    {"gpt-4o-mini", 0.15, 0.60},
    {"gpt-4o", 2.50, 10.00},
    {"gpt-4.1", 2.00, 8.00},
    {"gpt-4.1-mini", 0.40, 1.60},
    {"gpt-4.1-nano", 0.10, 0.40},
    {"text-embedding-3-small", 0.02, 0},
    {"text-embedding-3-large", 0.13, 0},
    {"claude-3-5-haiku", 0.80, 4.00},
    {"claude-3-5-sonnet", 3.00, 15.00},
    {"claude-sonnet-4", 3.00, 15.00},
    {"claude-opus-4", 15.00, 75.00},
    {"offline/extractive", 0, 0},
};

struct loom_llm_prices *loom_llm_prices_new(void) {
  struct loom_llm_prices *t = LOOM_NEW(struct loom_llm_prices);
  for (size_t i = 0; i < sizeof BUILTIN / sizeof *BUILTIN; i++)
    loom_llm_prices_set(t, BUILTIN[i].model, BUILTIN[i].input,
                        BUILTIN[i].output);
  return t;
}

void loom_llm_prices_set(struct loom_llm_prices *t, const char *model,
                         double input, double output) {
  for (size_t i = 0; i < t->n; i++)
    if (strcmp(t->p[i].model, model) == 0) {
      t->p[i].input = input;
      t->p[i].output = output;
      return;
    }
  if (t->n == MAX_PRICES)
    return;
  t->p[t->n++] = (struct price){loom_strdup(model), input, output};
}

loom_err loom_llm_prices_load_json(struct loom_llm_prices *t, const char *text,
                                   struct loom_error *e) {
  json_t *root = loom_json_parse(text, strlen(text), e);
  if (!root)
    return LOOM_ERR_PARSE;
  loom_err err = LOOM_OK;
  const char *model;
  json_t *v;
  json_object_foreach(root, model, v) {
    json_t *in = json_object_get(v, "input"),
           *out = json_object_get(v, "output");
    if (!json_is_number(in) || !json_is_number(out) ||
        json_number_value(in) < 0 || json_number_value(out) < 0) {
      err = loom_error_set(e, LOOM_ERR_INVALID,
                           "price of '%s' needs non-negative numbers "
                           "\"input\" and \"output\" (USD per million tokens)",
                           model);
      break;
    }
    loom_llm_prices_set(t, model, json_number_value(in),
                        json_number_value(out));
  }
  if (!json_is_object(root))
    err = loom_error_set(e, LOOM_ERR_INVALID,
                         "the price table must be a JSON object");
  json_decref(root);
  return err;
}

void loom_llm_prices_free(struct loom_llm_prices *t) {
  if (!t)
    return;
  for (size_t i = 0; i < t->n; i++)
    loom_free(t->p[i].model);
  loom_free(t);
}

static const struct price *find(const struct loom_llm_prices *t,
                                const char *label) {
  for (size_t i = 0; i < t->n; i++)
    if (strcmp(t->p[i].model, label) == 0)
      return &t->p[i];
  const char *slash = strchr(label, '/');
  const char *id = slash ? slash + 1 : label;
  const struct price *best = NULL;
  size_t best_len = 0;
  for (size_t i = 0; i < t->n; i++) {
    size_t n = strlen(t->p[i].model);
    if (strncmp(id, t->p[i].model, n) == 0 && (id[n] == 0 || id[n] == '-') &&
        n > best_len) {
      best = &t->p[i];
      best_len = n;
    }
  }
  return best;
}

bool loom_llm_cost(const struct loom_llm_prices *t, const char *label,
                   const struct loom_llm_usage *u, double *usd) {
  const struct price *p = label ? find(t, label) : NULL;
  *usd = p ? ((double)u->prompt_tokens * p->input +
              (double)u->completion_tokens * p->output) /
                 1e6
           : 0;
  return p != NULL;
}
