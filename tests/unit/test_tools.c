/*
 * test_tools — tools are validated before they run, failures reach the
 * model as text, and the calculator is exact and safe (http_fetch's SSRF
 * guard is io/ssrf: test_ssrf).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agents/tools.h"
#include "core/alloc.h"
#include "core/json.h"
#include "tool_result.h"

static int weather_runs;

static loom_err weather_run(void *self, const json_t *args, char **out,
                            struct loom_error *e) {
  (void)self;
  weather_runs++;
  const char *city = json_string_value(json_object_get(args, "city"));
  if (strcmp(city, "Atlantis") == 0)
    return loom_error_set(e, LOOM_ERR_NOT_FOUND, "no weather for %s", city);
  *out = loom_asprintf("18C in %s", city);
  return LOOM_OK;
}

static const struct loom_tool WEATHER = {
    .name = "get_weather",
    .description = "Weather now",
    .parameters =
        "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"
        "\"string\",\"minLength\":2},\"unit\":{\"enum\":[\"C\",\"F\"]},"
        "\"days\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":7}},"
        "\"required\":[\"city\"],\"additionalProperties\":false}",
    .run = weather_run,
};

static struct result invoke(struct loom_tools *r, const char *name,
                            const char *args) {
  struct result res = {0};
  struct loom_tool_env env = {0};
  loom_tools_invoke(r, &env, name, args, done_cb, &res);
  assert_int_equal(res.calls, 1);
  return res;
}

static void arguments_are_validated_before_the_call(void **state) {
  (void)state;
  struct loom_tools *r = loom_tools_new();
  struct loom_error e;
  assert_int_equal(loom_tools_add(r, &WEATHER, &e), LOOM_OK);
  assert_int_equal(loom_tools_add(r, &WEATHER, &e), LOOM_ERR_EXISTS);
  weather_runs = 0;
  struct result res =
      invoke(r, "get_weather", "{\"city\":\"Paris\",\"days\":3}");
  assert_false(res.is_error);
  assert_string_equal(res.text, "18C in Paris");
  const struct {
    const char *args, *says;
  } bad[] = {
      {"{}", "$.city is required"},
      {"{\"city\":7}", "$.city must be a string, not an integer"},
      {"{\"city\":\"P\"}", "$.city must have at least 2 characters"},
      {"{\"city\":\"Paris\",\"unit\":\"K\"}",
       "$.unit must be one of [\"C\",\"F\"]"},
      {"{\"city\":\"Paris\",\"days\":9}", "$.days must be at most 7"},
      {"{\"city\":\"Paris\",\"days\":1.5}", "$.days must be an integer"},
      {"{\"city\":\"Paris\",\"x\":1}", "$.x is not allowed"},
      {"{\"city\":", "not valid JSON"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    res = invoke(r, "get_weather", bad[i].args);
    assert_true(res.is_error);
    if (!strstr(res.text, bad[i].says))
      fail_msg("%s: got '%s'", bad[i].args, res.text);
  }
  assert_int_equal(weather_runs, 1); /* never ran with bad arguments */
  res = invoke(r, "get_weather", "{\"city\":\"Atlantis\"}");
  assert_true(res.is_error);
  assert_string_equal(res.text, "Error: no weather for Atlantis");
  res = invoke(r, "get_wether", "{}");
  assert_true(res.is_error);
  assert_string_equal(res.text, "Error: there is no tool named 'get_wether'. "
                                "The tools are: get_weather");
  loom_tools_free(r);
}

static void registry_describes_tools(void **state) {
  (void)state;
  struct loom_tools *r = loom_tools_new();
  struct loom_error e;
  assert_int_equal(loom_tools_add(r, &WEATHER, &e), LOOM_OK);
  struct loom_tool bad = WEATHER;
  bad.name = "has space";
  assert_int_equal(loom_tools_add(r, &bad, &e), LOOM_ERR_INVALID);
  bad.name = "schema_not_object";
  bad.parameters = "[1]";
  assert_int_equal(loom_tools_add(r, &bad, &e), LOOM_ERR_INVALID);
  json_t *decl;
  const char *names[] = {"get_weather", NULL};
  assert_int_equal(loom_tools_describe(r, names, &decl, &e), LOOM_OK);
  char *s = loom_json_dump(decl);
  assert_non_null(
      strstr(s, "[{\"name\":\"get_weather\",\"description\":\"Weather now\","
                "\"parameters\":{\"type\":\"object\""));
  loom_free(s);
  json_decref(decl);
  const char *missing[] = {"nope", NULL};
  assert_int_equal(loom_tools_describe(r, missing, &decl, &e),
                   LOOM_ERR_NOT_FOUND);
  loom_tools_free(r);
}

static void calculator(void **state) {
  (void)state;
  const struct {
    const char *x;
    double v;
  } ok[] = {
      {"1+2*3", 7},
      {"(1+2)*3", 9},
      {"2^3^2", 512},
      {"2**10", 1024},
      {"-3^2", -9},
      {"2^-1", 0.5},
      {"--2", 2},
      {"10 % 4", 2},
      {"sqrt(16) + abs(-2)", 6},
      {"max(2, 7) - min(1, 0)", 7},
      {"round(pi*100)", 314},
      {"1e3/4", 250},
      {"  ( ( 42 ) )  ", 42},
  };
  struct loom_error e;
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    double v;
    assert_int_equal(loom_calc_eval(ok[i].x, &v, &e), LOOM_OK);
    if (v != ok[i].v)
      fail_msg("%s = %g, want %g", ok[i].x, v, ok[i].v);
  }
  const struct {
    const char *x, *says;
  } bad[] = {
      {"1/0", "division by zero"},
      {"2+", "ends early"},
      {"system(1)", "unknown function 'system'"},
      {"x+1", "unknown name"},
      {"(1+2", "missing ')'"},
      {"1 2", "unexpected text"},
      {"10^400", "not a finite number"},
      {"sqrt(-1)", "not a finite number"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    double v;
    assert_int_equal(loom_calc_eval(bad[i].x, &v, &e), LOOM_ERR_INVALID);
    if (!strstr(e.message, bad[i].says))
      fail_msg("%s: got '%s'", bad[i].x, e.message);
  }
  char deep[400];
  memset(deep, '(', 200);
  strcpy(deep + 200, "1");
  double v;
  assert_int_equal(loom_calc_eval(deep, &v, &e), LOOM_ERR_INVALID);
  assert_non_null(strstr(e.message, "nested too deeply"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(arguments_are_validated_before_the_call),
      cmocka_unit_test(registry_describes_tools),
      cmocka_unit_test(calculator),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
