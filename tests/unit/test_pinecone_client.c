/*
 * The remote Pinecone client against a stand-in server that answers what
 * a test sets: describe-index answers it must refuse (a host that is no
 * http(s) address, a dimension past any index's), and a query answer with
 * more matches than asked and malformed ones.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "stores/pinecone_client.h"
#include "test_http_harness.h"
#include "tmp_dir.h"

static struct harness H;
static char describe[1024]; /* the answer to GET /indexes/kb */
static const char *query;   /* the answer to POST /query */

static void describe_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  loom_http_respond_raw(req, 200, "application/json", describe,
                        strlen(describe));
}

static void query_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  loom_http_respond_raw(req, 200, "application/json", query, strlen(query));
}

static int setup(void **state) {
  (void)state;
  harness_route(&H, "GET", "/indexes/kb", describe_cb, NULL);
  harness_route(&H, "POST", "/query", query_cb, NULL);
  harness_start(&H, 1, NULL);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  harness_stop(&H);
  return 0;
}

/* The data plane host comes from the server: one that names a local file
 * must not make the next query read that file as its answer. */
static void test_host_that_is_no_http_address_is_refused(void **state) {
  (void)state;
  char *dir = tmp_dir_new("loom-pinecone");
  char path[256];
  snprintf(path, sizeof path, "%s/answer.json", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("{\"matches\": [{\"id\": \"read-from-a-local-file\"}]}", f);
  fclose(f);
  snprintf(describe, sizeof describe,
           "{\"dimension\": 2, \"metric\": \"cosine\", \"host\": "
           "\"file://%s#\"}",
           path);
  struct loom_pinecone *p = NULL;
  struct loom_error e = {0};
  assert_int_equal(loom_pinecone_open(H.base, "k", "kb", &p, &e),
                   LOOM_ERR_UPSTREAM);
  assert_non_null(strstr(e.message, "not an http(s) address"));
  tmp_dir_remove(dir);
  free(dir);
}

/* A dimension past 32 bits used to wrap (2^32 + 2 became 2). */
static void test_dimension_out_of_range_is_refused(void **state) {
  (void)state;
  static const char *const dims[] = {"4294967298", "20001", "0", "-3"};
  for (size_t i = 0; i < sizeof dims / sizeof *dims; i++) {
    snprintf(describe, sizeof describe,
             "{\"dimension\": %s, \"metric\": \"cosine\", \"host\": \"%s\"}",
             dims[i], H.base);
    struct loom_pinecone *p = NULL;
    struct loom_error e = {0};
    assert_int_equal(loom_pinecone_open(H.base, "k", "kb", &p, &e),
                     LOOM_ERR_UPSTREAM);
    assert_null(p);
  }
}

/* A server that sends more matches than asked (or malformed ones) gives
 * the caller at most k well-formed ones, in its order. */
static void test_query_keeps_k_well_formed_matches(void **state) {
  (void)state;
  snprintf(describe, sizeof describe,
           "{\"dimension\": 2, \"metric\": \"cosine\", \"host\": \"%s\"}",
           H.base);
  query = "{\"matches\": [{\"id\": 7}, \"x\", {\"id\": \"a\", \"score\": "
          "\"high\", \"metadata\": [1]}, {\"id\": \"b\", \"score\": 0.5, "
          "\"metadata\": {\"text\": \"hi\"}}, {\"id\": \"c\"}, {\"id\": "
          "\"d\"}]}";
  struct loom_pinecone *p = NULL;
  struct loom_error e = {0};
  assert_int_equal(loom_pinecone_open(H.base, "k", "kb", &p, &e), LOOM_OK);
  float v[2] = {1, 0};
  json_t *m = NULL;
  assert_int_equal(loom_pinecone_query(p, "", v, 3, NULL, &m, &e), LOOM_OK);
  assert_int_equal(json_array_size(m), 3);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(m, 0), "id")), "a");
  assert_null(json_object_get(json_array_get(m, 0), "metadata"));
  assert_float_equal(
      json_number_value(json_object_get(json_array_get(m, 1), "score")), 0.5,
      1e-9);
  assert_string_equal(
      json_string_value(json_object_get(
          json_object_get(json_array_get(m, 1), "metadata"), "text")),
      "hi");
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(m, 2), "id")), "c");
  json_decref(m);
  loom_pinecone_close(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_host_that_is_no_http_address_is_refused),
      cmocka_unit_test(test_dimension_out_of_range_is_refused),
      cmocka_unit_test(test_query_keeps_k_well_formed_matches),
  };
  int failed =
      cmocka_run_group_tests_name("pinecone_client", tests, setup, teardown);
  curl_global_cleanup();
  return failed;
}
