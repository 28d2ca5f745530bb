/*
 * Unit tests for src/core: errors, buffers, JSON helpers, config, ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/err.h"
#include "core/id.h"
#include "core/json.h"
#include "core/utf8.h"

static void err_names_and_messages(void **state) {
  (void)state;
  assert_string_equal(loom_err_name(LOOM_ERR_NOT_FOUND), "NOT_FOUND");
  assert_string_equal(loom_err_code(LOOM_ERR_TOO_LARGE), "too_large");
  assert_string_equal(loom_strerror(LOOM_OK), "success");
  assert_string_equal(loom_err_name((loom_err)999), "UNKNOWN");
  struct loom_error e;
  assert_int_equal(loom_error_set(&e, LOOM_ERR_INVALID, "bad %s", "x"),
                   LOOM_ERR_INVALID);
  assert_string_equal(e.message, "bad x");
  assert_int_equal(loom_error_set(NULL, LOOM_ERR_IO, "ignored"), LOOM_ERR_IO);
}

/* A message quoting outside bytes still becomes a JSON string: invalid
 * bytes become '?', and a character the 512-byte cap cuts in half goes
 * too (json_string refused both, so the message was lost). */
static void error_messages_are_utf8(void **state) {
  (void)state;
  struct loom_error e;
  loom_error_set(&e, LOOM_ERR_UNSUPPORTED, "got %s", "text/\xff\xc3");
  assert_string_equal(e.message, "got text/??");
  char name[700]; /* "é"s: the cap (511 bytes) falls inside one */
  for (size_t i = 0; i + 2 < sizeof name; i += 2)
    memcpy(name + i, "\xc3\xa9", 2);
  name[sizeof name - 2] = '\0';
  loom_error_set(&e, LOOM_ERR_INVALID, "%s is not allowed", name);
  assert_int_equal(strlen(e.message), sizeof e.message - 1);
  assert_true(loom_utf8_valid(e.message, strlen(e.message)));
  json_t *j = json_string(e.message);
  assert_non_null(j);
  json_decref(j);
  char mixed[] = "ok \xe2\x82\xac \xed\xa0\x80 end";
  assert_int_equal(loom_utf8_scrub(mixed, strlen(mixed)), 3);
  assert_string_equal(mixed, "ok \xe2\x82\xac ??? end"); /* a surrogate */
}

static void buf_grows_until_its_cap(void **state) {
  (void)state;
  struct loom_buf b;
  loom_buf_init(&b, 100);
  for (int i = 0; i < 9; i++)
    assert_int_equal(loom_buf_appendf(&b, "%d123456789", i), LOOM_OK);
  assert_int_equal(b.len, 90);
  /* 11 more bytes would pass the cap: refused, contents untouched */
  assert_int_equal(loom_buf_append_str(&b, "0123456789a"), LOOM_ERR_TOO_LARGE);
  assert_int_equal(b.len, 90);
  assert_int_equal(loom_buf_append_str(&b, "0123456789"), LOOM_OK);
  assert_int_equal(strlen(b.data), 100);
  size_t len;
  char *taken = loom_buf_take(&b, &len);
  assert_int_equal(len, 100);
  assert_null(b.data);
  loom_free(taken);
  loom_buf_cleanup(&b);
}

static void json_parse_reports_position(void **state) {
  (void)state;
  struct loom_error e;
  const char *bad = "{\n  \"a\": 1,\n  \"b\": }";
  assert_null(loom_json_parse(bad, strlen(bad), &e));
  assert_int_equal(e.code, LOOM_ERR_PARSE);
  assert_non_null(strstr(e.message, "line 3"));

  /* nesting bombs are refused before jansson recurses */
  char deep[1000];
  memset(deep, '[', sizeof deep);
  assert_null(loom_json_parse(deep, sizeof deep, &e));
  assert_non_null(strstr(e.message, "nested deeper"));

  /* duplicate keys are ambiguous input: refused */
  assert_null(loom_json_parse("{\"a\":1,\"a\":2}", 13, &e));
}

static void json_getters_name_the_field(void **state) {
  (void)state;
  struct loom_error e;
  const char *text = "{\"limit\":\"ten\",\"name\":\"x\",\"n\":null}";
  json_t *o = loom_json_parse(text, strlen(text), &e);
  assert_non_null(o);
  long long limit;
  assert_int_equal(loom_json_get_int(o, "limit", false, 10, &limit, &e),
                   LOOM_ERR_INVALID);
  assert_string_equal(e.message, "field 'limit' must be an integer");
  const char *name;
  assert_int_equal(loom_json_get_string(o, "name", true, &name, &e), LOOM_OK);
  assert_string_equal(name, "x");
  assert_int_equal(loom_json_get_string(o, "n", true, &name, &e),
                   LOOM_ERR_INVALID);
  assert_string_equal(e.message, "field 'n' is required");
  long long n;
  assert_int_equal(loom_json_get_int(o, "missing", false, 7, &n, &e), LOOM_OK);
  assert_int_equal(n, 7);
  char *dumped = loom_json_dump(o);
  assert_string_equal(dumped, text);
  loom_free(dumped);
  json_decref(o);
}

static void config_layers_defaults_file_env(void **state) {
  (void)state;
  char path[] = "/tmp/loom-config-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *text =
      "# comment\nLOOM_ADDR = 0.0.0.0:9000\nLOOM_MODEL=\"openai/x\"\n";
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);

  setenv("LOOM_CONFIG", path, 1);
  setenv("LOOM_MODEL", "anthropic/y", 1); /* environment beats the file */
  struct loom_config c;
  struct loom_error e;
  assert_int_equal(loom_config_load(&c, &e), LOOM_OK);
  assert_string_equal(c.addr, "0.0.0.0:9000");
  assert_string_equal(c.model, "anthropic/y");
  assert_string_equal(c.data_dir, "./data");
  assert_int_equal(loom_config_max_body(&c), 10485760);
  loom_config_cleanup(&c);

  setenv("LOOM_AUTH", "maybe", 1);
  assert_int_equal(loom_config_load(&c, &e), LOOM_ERR_INVALID);
  assert_non_null(strstr(e.message, "LOOM_AUTH"));
  loom_config_cleanup(&c);
  unsetenv("LOOM_AUTH");
  unsetenv("LOOM_MODEL");

  /* Found by fuzz_config: "nan" parses as a number and compared false
   * against both bounds, so it passed and became a size (UB). */
  setenv("LOOM_MAX_BODY", "nan", 1);
  assert_int_equal(loom_config_load(&c, &e), LOOM_ERR_INVALID);
  assert_non_null(strstr(e.message, "LOOM_MAX_BODY must be 1.."));
  loom_config_cleanup(&c);
  unsetenv("LOOM_MAX_BODY");

  FILE *f = fopen(path, "w");
  fputs("LOOM_NOPE=1\n", f);
  fclose(f);
  assert_int_equal(loom_config_load(&c, &e), LOOM_ERR_INVALID);
  assert_non_null(strstr(e.message, ":1: unknown setting 'LOOM_NOPE'"));
  assert_null(strstr(e.message, "did you mean")); /* nothing near */
  loom_config_cleanup(&c);
  /* A near miss names the setting meant. */
  f = fopen(path, "w");
  fputs("LOOM_GRAPH=examples/graphs\n", f);
  fclose(f);
  assert_int_equal(loom_config_load(&c, &e), LOOM_ERR_INVALID);
  assert_non_null(strstr(e.message, ":1: unknown setting 'LOOM_GRAPH' (did "
                                    "you mean LOOM_GRAPHS?)"));
  loom_config_cleanup(&c);
  assert_string_equal(loom_config_suggest("data_dri"), "data_dir");
  assert_null(loom_config_suggest("colour"));
  unsetenv("LOOM_CONFIG");
  unlink(path);
}

static void ids_are_uuids_sorted_by_time(void **state) {
  (void)state;
  char prev[LOOM_ID_LEN + 1] = "";
  for (int i = 0; i < 10000; i++) {
    char id[LOOM_ID_LEN + 1];
    loom_id_new(id);
    assert_true(loom_id_is_uuid(id));
    assert_int_equal(id[14], '7'); /* version nibble */
    assert_true(strcmp(prev, id) < 0);
    memcpy(prev, id, sizeof id);
  }
  assert_false(loom_id_is_uuid("not-a-uuid"));
  assert_false(loom_id_is_uuid("0192f0c8-1d2e-7a3b-8c4d-5e6f7a8b9c0d0"));
}

static void iso_time_format(void **state) {
  (void)state;
  char out[33];
  assert_string_equal(loom_clock_format_iso(1700000000123ull, out),
                      "2023-11-14T22:13:20.123000+00:00");
}

static void base64_decodes_and_refuses_garbage(void **state) {
  (void)state;
  struct loom_error e = {0};
  unsigned char out[LOOM_BASE64_DECODED_MAX(16)];
  size_t n = 0;
  assert_int_equal(loom_base64_decode("JVBERi0x", 8, out, &n, &e), LOOM_OK);
  assert_int_equal(n, 6);
  assert_memory_equal(out, "%PDF-1", 6);
  /* Padding optional, whitespace skipped. */
  assert_int_equal(loom_base64_decode("aGk=\n", 5, out, &n, &e), LOOM_OK);
  assert_int_equal(n, 2);
  assert_memory_equal(out, "hi", 2);
  assert_int_equal(loom_base64_decode("aGk", 3, out, &n, &e), LOOM_OK);
  assert_int_equal(n, 2);
  assert_int_equal(loom_base64_decode("aG%k", 4, out, &n, &e), LOOM_ERR_PARSE);
  assert_non_null(strstr(e.message, "offset 2"));
  assert_int_equal(loom_base64_decode("aGk=aGk=", 8, out, &n, &e),
                   LOOM_ERR_PARSE);
  assert_int_equal(loom_base64_decode("a", 1, out, &n, &e), LOOM_ERR_PARSE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(err_names_and_messages),
      cmocka_unit_test(error_messages_are_utf8),
      cmocka_unit_test(buf_grows_until_its_cap),
      cmocka_unit_test(json_parse_reports_position),
      cmocka_unit_test(json_getters_name_the_field),
      cmocka_unit_test(config_layers_defaults_file_env),
      cmocka_unit_test(ids_are_uuids_sorted_by_time),
      cmocka_unit_test(iso_time_format),
      cmocka_unit_test(base64_decodes_and_refuses_garbage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
