/*
 * test_tools_plugin — C tools from shared objects (LOOM_TOOL_PLUGINS): the
 * example plug-in's tool is called with validated arguments like any
 * other; a file that cannot be loaded, that is not a plug-in, that was
 * built for another ABI or whose init fails is refused with a message
 * naming it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agents/tools_plugin.h"
#include "tool_result.h"

#ifndef LOOM_PLUGIN_DIR
#error "LOOM_PLUGIN_DIR: where the build puts the plug-ins"
#endif

static struct result invoke(struct loom_tools *r, const char *args) {
  struct result res = {0};
  struct loom_tool_env env = {0};
  loom_tools_invoke(r, &env, "word_count", args, done_cb, &res);
  assert_int_equal(res.calls, 1);
  return res;
}

static void example_plugin_adds_a_tool(void **state) {
  (void)state;
  struct loom_tools *r = loom_tools_new();
  struct loom_error e = {0};
  /* An empty entry is skipped. */
  assert_int_equal(
      loom_tools_load_plugins(r, ":" LOOM_PLUGIN_DIR "/word_count.so", &e),
      LOOM_OK);
  assert_true(loom_tools_has(r, "word_count"));
  struct result ok = invoke(r, "{\"text\": \"Hello there. How are you?\"}");
  assert_false(ok.is_error);
  assert_string_equal(ok.text, "5 words, 2 sentences, 25 characters");
  /* Checked against the plug-in's schema before its code runs. */
  struct result bad = invoke(r, "{\"text\": 3}");
  assert_true(bad.is_error);
  assert_non_null(strstr(bad.text, "$.text must be a string"));
  json_t *decl = NULL;
  const char *names[] = {"word_count", NULL};
  assert_int_equal(loom_tools_describe(r, names, &decl, &e), LOOM_OK);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(decl, 0), "name")),
      "word_count");
  json_decref(decl);
  loom_tools_free(r);
}

/* Loads `paths` into a fresh registry; the message must contain every
 * needle. */
static void refused(const char *paths, const char *needle1,
                    const char *needle2) {
  struct loom_tools *r = loom_tools_new();
  struct loom_error e = {0};
  assert_int_equal(loom_tools_load_plugins(r, paths, &e), LOOM_ERR_INVALID);
  if (!strstr(e.message, needle1) || !strstr(e.message, needle2))
    fail_msg("message '%s' lacks '%s' or '%s'", e.message, needle1, needle2);
  loom_tools_free(r);
}

static void bad_plugins_are_refused_by_name(void **state) {
  (void)state;
  refused("/nonexistent/tool.so", "/nonexistent/tool.so", "cannot load");
  refused("libm.so.6", "libm.so.6", "is not a path");
  refused(LOOM_PLUGIN_DIR "/plugin_without_entry.so", "plugin_without_entry.so",
          "exports no loom_plugin_abi");
  refused(LOOM_PLUGIN_DIR "/plugin_wrong_abi.so", "plugin_wrong_abi.so", "ABI");
  refused(LOOM_PLUGIN_DIR "/plugin_failing_init.so", "plugin_failing_init.so",
          "WEATHER_API_KEY is not set");
  /* The first bad one stops the list, after the good ones before it. */
  refused(LOOM_PLUGIN_DIR "/word_count.so:/nonexistent/b.so", "b.so",
          "cannot load");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(example_plugin_adds_a_tool),
      cmocka_unit_test(bad_plugins_are_refused_by_name),
  };
  return cmocka_run_group_tests_name("tools_plugin", tests, NULL, NULL);
}
