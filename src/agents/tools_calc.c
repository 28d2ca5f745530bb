/*
 * tools_calc — the calculator tool's evaluator.
 *
 * A recursive-descent evaluator over doubles: numbers, + - * / % and ^ or
 * ** (right-associative power), unary signs, parentheses, the constants pi
 * and e, and a fixed list of functions. There are no variables, no
 * assignment and nothing that reaches outside the expression; input
 * length and nesting depth are capped.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/tools.h"

#define CALC_MAX_LEN 2000
#define CALC_MAX_DEPTH 64

struct calc {
  const char *p;
  int depth;
  struct loom_error *e;
  loom_err err;
};

static double expr(struct calc *c);

static void skip(struct calc *c) {
  while (isspace((unsigned char)*c->p))
    c->p++;
}

static double fail(struct calc *c, const char *what) {
  if (!c->err)
    c->err = loom_error_set(c->e, LOOM_ERR_INVALID, "%s", what);
  return NAN;
}

static const struct {
  const char *name;
  double (*f1)(double);
  double (*f2)(double, double);
} FUNCS[] = {
    {"sqrt", sqrt, NULL},   {"abs", fabs, NULL},    {"ln", log, NULL},
    {"log", log10, NULL},   {"log10", log10, NULL}, {"log2", log2, NULL},
    {"exp", exp, NULL},     {"sin", sin, NULL},     {"cos", cos, NULL},
    {"tan", tan, NULL},     {"asin", asin, NULL},   {"acos", acos, NULL},
    {"atan", atan, NULL},   {"floor", floor, NULL}, {"ceil", ceil, NULL},
    {"round", round, NULL}, {"min", NULL, fmin},    {"max", NULL, fmax},
    {"pow", NULL, pow},     {"atan2", NULL, atan2},
};

static double call(struct calc *c, const char *name, size_t n) {
  for (size_t i = 0; i < sizeof FUNCS / sizeof *FUNCS; i++) {
    if (strlen(FUNCS[i].name) != n || strncmp(FUNCS[i].name, name, n))
      continue;
    c->p++; /* '(' */
    double a = expr(c), b = 0;
    skip(c);
    if (FUNCS[i].f2) {
      if (*c->p != ',')
        return fail(c, "this function takes two arguments: f(a, b)");
      c->p++;
      b = expr(c);
      skip(c);
    }
    if (*c->p != ')')
      return fail(c, "missing ')' after function arguments");
    c->p++;
    return FUNCS[i].f2 ? FUNCS[i].f2(a, b) : FUNCS[i].f1(a);
  }
  char msg[96];
  snprintf(msg, sizeof msg, "unknown function '%.*s'", (int)(n < 40 ? n : 40),
           name);
  return fail(c, msg);
}

static double primary(struct calc *c) {
  skip(c);
  if (++c->depth > CALC_MAX_DEPTH)
    return fail(c, "expression nested too deeply");
  double v;
  if (*c->p == '(') {
    c->p++;
    v = expr(c);
    skip(c);
    if (*c->p != ')')
      return fail(c, "missing ')'");
    c->p++;
  } else if (isdigit((unsigned char)*c->p) || *c->p == '.') {
    char *end;
    v = strtod(c->p, &end);
    if (end == c->p)
      return fail(c, "malformed number");
    c->p = end;
  } else if (isalpha((unsigned char)*c->p)) {
    const char *name = c->p;
    while (isalnum((unsigned char)*c->p))
      c->p++;
    size_t n = (size_t)(c->p - name);
    skip(c);
    if (*c->p == '(')
      v = call(c, name, n);
    else if (n == 2 && !strncmp(name, "pi", 2))
      v = M_PI;
    else if (n == 1 && name[0] == 'e')
      v = M_E;
    else
      return fail(c, "unknown name (only numbers, operators, pi, e and "
                     "functions such as sqrt(x) are allowed)");
  } else {
    return fail(c, *c->p ? "unexpected character" : "expression ends early");
  }
  c->depth--;
  return v;
}

static double unary(struct calc *c);

static double power(struct calc *c) {
  double base = primary(c);
  skip(c);
  if (*c->p == '^' || (c->p[0] == '*' && c->p[1] == '*')) {
    c->p += *c->p == '^' ? 1 : 2;
    return pow(base, unary(c)); /* right-associative: 2^3^2 = 2^9 */
  }
  return base;
}

/* Signs bind looser than powers, as in mathematics: -3^2 = -9. */
static double unary(struct calc *c) {
  skip(c);
  if (*c->p != '-' && *c->p != '+')
    return power(c);
  bool neg = *c->p == '-';
  c->p++;
  if (++c->depth > CALC_MAX_DEPTH)
    return fail(c, "expression nested too deeply");
  double v = unary(c);
  c->depth--;
  return neg ? -v : v;
}

static double term(struct calc *c) {
  double v = unary(c);
  for (;;) {
    skip(c);
    char op = *c->p;
    if ((op != '*' && op != '/' && op != '%') || c->p[1] == '*')
      return v;
    c->p++;
    double r = unary(c);
    if ((op == '/' || op == '%') && r == 0)
      return fail(c, "division by zero");
    v = op == '*' ? v * r : op == '/' ? v / r : fmod(v, r);
  }
}

static double expr(struct calc *c) {
  double v = term(c);
  for (;;) {
    skip(c);
    char op = *c->p;
    if (op != '+' && op != '-')
      return v;
    c->p++;
    double r = term(c);
    v = op == '+' ? v + r : v - r;
  }
}

loom_err loom_calc_eval(const char *text, double *out, struct loom_error *e) {
  if (strlen(text) > CALC_MAX_LEN)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "expression longer than %d characters", CALC_MAX_LEN);
  struct calc c = {.p = text, .e = e};
  double v = expr(&c);
  skip(&c);
  if (!c.err && *c.p)
    fail(&c, "unexpected text after the expression");
  if (!c.err && !isfinite(v))
    fail(&c, "the result is not a finite number");
  if (c.err)
    return c.err;
  *out = v;
  return LOOM_OK;
}
