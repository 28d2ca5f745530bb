/*
 * expr — the condition language of conditional edges, compiled to Lua.
 *
 * A recursive-descent parser checks the grammar (see spec.h) and emits the
 * equivalent Lua expression as it goes, so conditions run in the same
 * sandbox as Lua nodes and need no interpreter of their own. Field paths
 * read the global `state`; a missing intermediate field reads as nil
 * instead of raising, as users of `a.b == 1` expect.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "engine/spec.h"

#define EXPR_MAX 4096

struct parser {
  const char *s;
  size_t pos;
  struct loom_buf out;
  struct loom_error *e;
  int depth;
};

static loom_err expr_or(struct parser *p);

static void skip_ws(struct parser *p) {
  while (isspace((unsigned char)p->s[p->pos]))
    p->pos++;
}

static loom_err fail(struct parser *p, const char *what) {
  return loom_error_set(p->e, LOOM_ERR_INVALID,
                        "expression '%s': %s at column %zu", p->s, what,
                        p->pos + 1);
}

static loom_err emit(struct parser *p, const char *s) {
  if (loom_buf_append_str(&p->out, s))
    return fail(p, "too long");
  return LOOM_OK;
}

static bool is_word_char(char c) {
  return isalnum((unsigned char)c) || c == '_';
}

/* Consumes `word` when it is next as a whole word. */
static bool accept_word(struct parser *p, const char *word) {
  skip_ws(p);
  size_t n = strlen(word);
  if (strncmp(p->s + p->pos, word, n) || is_word_char(p->s[p->pos + n]))
    return false;
  p->pos += n;
  return true;
}

static loom_err string_lit(struct parser *p) {
  char q = p->s[p->pos++];
  loom_err rc = emit(p, "\"");
  while (!rc && p->s[p->pos] && p->s[p->pos] != q) {
    unsigned char c = (unsigned char)p->s[p->pos++];
    if (c == '\\' && p->s[p->pos])
      c = (unsigned char)p->s[p->pos++];
    char tmp[8];
    if (c < 32 || c == '"' || c == '\\' || c >= 127)
      snprintf(tmp, sizeof(tmp), "\\%03u", c);
    else
      snprintf(tmp, sizeof(tmp), "%c", c);
    rc = emit(p, tmp);
  }
  if (rc)
    return rc;
  if (p->s[p->pos] != q)
    return fail(p, "unterminated string");
  p->pos++;
  return emit(p, "\"");
}

static loom_err number_lit(struct parser *p) {
  size_t start = p->pos;
  if (p->s[p->pos] == '-')
    p->pos++;
  while (isdigit((unsigned char)p->s[p->pos]) || p->s[p->pos] == '.')
    p->pos++;
  if (p->pos == start || (p->pos == start + 1 && p->s[start] == '-'))
    return fail(p, "expected a value");
  char *num = loom_strndup(p->s + start, p->pos - start);
  loom_err rc = emit(p, num);
  loom_free(num);
  return rc;
}

/* a.b.c -> ((state["a"] or {})["b"] or {})["c"] */
static loom_err path(struct parser *p) {
  struct loom_buf acc;
  loom_buf_init(&acc, EXPR_MAX);
  loom_err rc = loom_buf_append_str(&acc, "state");
  for (bool first = true;; first = false) {
    size_t start = p->pos;
    while (is_word_char(p->s[p->pos]))
      p->pos++;
    if (p->pos == start || isdigit((unsigned char)p->s[start])) {
      loom_buf_cleanup(&acc);
      return fail(p, "expected a field name");
    }
    char *prev = loom_buf_take(&acc, NULL);
    rc = loom_buf_appendf(&acc, first ? "%s[\"%.*s\"]" : "(%s or {})[\"%.*s\"]",
                          prev, (int)(p->pos - start), p->s + start);
    loom_free(prev);
    if (rc || p->s[p->pos] != '.')
      break;
    p->pos++;
  }
  if (!rc)
    rc = emit(p, acc.data);
  loom_buf_cleanup(&acc);
  return rc ? fail(p, "too long") : LOOM_OK;
}

static loom_err primary(struct parser *p) {
  skip_ws(p);
  char c = p->s[p->pos];
  if (c == '(') {
    p->pos++;
    loom_err rc = emit(p, "(");
    if (!rc)
      rc = expr_or(p);
    if (rc)
      return rc;
    skip_ws(p);
    if (p->s[p->pos] != ')')
      return fail(p, "expected ')'");
    p->pos++;
    return emit(p, ")");
  }
  if (c == '"' || c == '\'')
    return string_lit(p);
  if (c == '-' || isdigit((unsigned char)c))
    return number_lit(p);
  if (accept_word(p, "true"))
    return emit(p, "true");
  if (accept_word(p, "false"))
    return emit(p, "false");
  if (accept_word(p, "null"))
    return emit(p, "nil");
  if (isalpha((unsigned char)c) || c == '_')
    return path(p);
  return fail(p, c ? "unexpected character" : "unexpected end");
}

static loom_err comparison(struct parser *p) {
  static const struct {
    const char *op, *lua;
  } ops[] = {{"==", " == "}, {"!=", " ~= "}, {"<=", " <= "},
             {">=", " >= "}, {"<", " < "},   {">", " > "}};
  loom_err rc = primary(p);
  if (rc)
    return rc;
  skip_ws(p);
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
    size_t n = strlen(ops[i].op);
    if (!strncmp(p->s + p->pos, ops[i].op, n)) {
      p->pos += n;
      rc = emit(p, ops[i].lua);
      return rc ? rc : primary(p);
    }
  }
  return LOOM_OK;
}

static loom_err negation(struct parser *p) {
  if (++p->depth > 64)
    return fail(p, "nested too deeply");
  loom_err rc;
  if (accept_word(p, "not"))
    rc = emit(p, "not ") ? LOOM_ERR_TOO_LARGE : negation(p);
  else
    rc = comparison(p);
  p->depth--;
  return rc;
}

static loom_err expr_and(struct parser *p) {
  loom_err rc = negation(p);
  while (!rc && accept_word(p, "and"))
    if (!(rc = emit(p, " and ")))
      rc = negation(p);
  return rc;
}

static loom_err expr_or(struct parser *p) {
  if (++p->depth > 64)
    return fail(p, "nested too deeply");
  loom_err rc = expr_and(p);
  while (!rc && accept_word(p, "or"))
    if (!(rc = emit(p, " or ")))
      rc = expr_and(p);
  p->depth--;
  return rc;
}

char *loom_graph_expr_to_lua(const char *expr, struct loom_error *e) {
  struct parser p = {.s = expr, .e = e};
  loom_buf_init(&p.out, EXPR_MAX);
  if (strlen(expr) > EXPR_MAX / 4) {
    loom_error_set(e, LOOM_ERR_TOO_LARGE, "expression longer than %d bytes",
                   EXPR_MAX / 4);
    return NULL;
  }
  loom_err rc = emit(&p, "return (");
  if (!rc)
    rc = expr_or(&p);
  skip_ws(&p);
  if (!rc && p.s[p.pos])
    rc = fail(&p, "unexpected text");
  if (!rc)
    rc = emit(&p, ")");
  if (rc) {
    loom_buf_cleanup(&p.out);
    return NULL;
  }
  return loom_buf_take(&p.out, NULL);
}
