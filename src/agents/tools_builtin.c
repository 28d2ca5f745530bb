/*
 * tools_builtin — current_time and calculator, and registration of all
 * built-ins.
 *
 * The calculator's evaluator is in tools_calc.c, http_fetch in
 * tools_fetch.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agents/tools.h"
#include "core/alloc.h"
#include "core/clock.h"

static loom_err calculator_run(void *self, const json_t *args, char **out,
                               struct loom_error *e) {
  (void)self;
  const char *x = json_string_value(json_object_get(args, "expression"));
  double v;
  loom_err err = loom_calc_eval(x, &v, e);
  if (err)
    return err;
  if (v == floor(v) && fabs(v) < 1e15)
    *out = loom_asprintf("%.0f", v);
  else
    *out = loom_asprintf("%.15g", v);
  return LOOM_OK;
}

static loom_err current_time_run(void *self, const json_t *args, char **out,
                                 struct loom_error *e) {
  (void)self;
  (void)args;
  (void)e;
  uint64_t ms = loom_clock_wall_ms();
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char date[64];
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ (%A)", &tm);
  *out = loom_asprintf("%s; unix time %lld", date, (long long)secs);
  return LOOM_OK;
}

void loom_tools_add_builtins(struct loom_tools *r) {
  static const struct loom_tool builtins[] = {
      {.name = "current_time",
       .description = "The current date and time in UTC.",
       .parameters = "{\"type\":\"object\",\"properties\":{}}",
       .run = current_time_run},
      {.name = "calculator",
       .description =
           "Evaluates an arithmetic expression exactly: + - * / % ^, "
           "parentheses, pi, e, and sqrt abs ln log log2 exp sin cos "
           "tan asin acos atan floor ceil round min max pow atan2.",
       .parameters =
           "{\"type\":\"object\",\"properties\":{\"expression\":"
           "{\"type\":\"string\",\"description\":\"e.g. (2+3)*4^2\"}},"
           "\"required\":[\"expression\"],\"additionalProperties\":false}",
       .run = calculator_run},
  };
  struct loom_error e;
  for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
    if (!loom_tools_has(r, builtins[i].name) &&
        loom_tools_add(r, &builtins[i], &e))
      abort(); /* the built-in declarations are constants */
  if (!loom_tools_has(r, "http_fetch") && loom_tools_add_fetch(r, &e))
    abort();
}
