/*
 * The router on its own: literal and parameter segments, precedence,
 * 404 versus 405 with the Allow list, and the patterns it refuses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "io/router.h"

static int tag_a, tag_b, tag_c, tag_d;

static void handler(struct loom_http_req *req, void *ud) {
  (void)req;
  (void)ud;
}

static struct loom_http_router *make(void) {
  struct loom_http_router *r = loom_http_router_new();
  struct loom_error e;
  assert_int_equal(loom_http_route_add(r, "GET", "/threads/{thread_id}",
                                       handler, &tag_a, &e),
                   LOOM_OK);
  assert_int_equal(
      loom_http_route_add(r, "POST", "/threads/search", handler, &tag_b, &e),
      LOOM_OK);
  assert_int_equal(loom_http_route_add(r, "GET",
                                       "/threads/{thread_id}/runs/{run_id}",
                                       handler, &tag_c, &e),
                   LOOM_OK);
  assert_int_equal(loom_http_route_add(r, "DELETE",
                                       "/threads/{thread_id}/runs/{run_id}/",
                                       handler, &tag_d, &e),
                   LOOM_OK);
  return r;
}

static void test_params_and_pattern(void **state) {
  (void)state;
  struct loom_http_router *r = make();
  struct loom_http_match m;
  loom_http_router_match(r, "GET", "/threads/t1/runs/r9", &m);
  assert_int_equal(m.kind, LOOM_HTTP_MATCH_FOUND);
  assert_ptr_equal(m.userdata, &tag_c);
  assert_string_equal(m.pattern, "/threads/{thread_id}/runs/{run_id}");
  assert_int_equal(m.nparams, 2);
  assert_string_equal(m.param_names[0], "thread_id");
  assert_string_equal(m.param_values[0], "t1");
  assert_string_equal(m.param_names[1], "run_id");
  assert_string_equal(m.param_values[1], "r9");
  loom_http_match_cleanup(&m);

  /* A trailing slash on the path or the pattern does not matter. */
  loom_http_router_match(r, "DELETE", "/threads/t1/runs/r9/", &m);
  assert_int_equal(m.kind, LOOM_HTTP_MATCH_FOUND);
  assert_ptr_equal(m.userdata, &tag_d);
  loom_http_match_cleanup(&m);
  loom_http_router_free(r);
}

static void test_literal_and_parameter_siblings(void **state) {
  (void)state;
  struct loom_http_router *r = make();
  struct loom_http_match m;
  loom_http_router_match(r, "POST", "/threads/search", &m);
  assert_int_equal(m.kind, LOOM_HTTP_MATCH_FOUND);
  assert_ptr_equal(m.userdata, &tag_b);
  assert_int_equal(m.nparams, 0);
  loom_http_match_cleanup(&m);
  /* GET on the literal falls back to the parameter route. */
  loom_http_router_match(r, "GET", "/threads/search", &m);
  assert_int_equal(m.kind, LOOM_HTTP_MATCH_FOUND);
  assert_ptr_equal(m.userdata, &tag_a);
  assert_string_equal(m.param_values[0], "search");
  loom_http_match_cleanup(&m);
  loom_http_router_free(r);
}

static void test_404_405(void **state) {
  (void)state;
  struct loom_http_router *r = make();
  struct loom_http_match m;
  loom_http_router_match(r, "GET", "/threads", &m);
  assert_int_equal(m.kind, LOOM_HTTP_MATCH_NOT_FOUND);
  loom_http_router_match(r, "GET", "/threads/a/runs/b/extra", &m);
  assert_int_equal(m.kind, LOOM_HTTP_MATCH_NOT_FOUND);
  loom_http_router_match(r, "GET", "/", &m);
  assert_int_equal(m.kind, LOOM_HTTP_MATCH_NOT_FOUND);
  loom_http_router_match(r, "PUT", "/threads/a/runs/b", &m);
  assert_int_equal(m.kind, LOOM_HTTP_MATCH_BAD_METHOD);
  assert_string_equal(m.allow, "GET, DELETE, HEAD");
  assert_string_equal(m.pattern, "/threads/{thread_id}/runs/{run_id}");
  loom_http_match_cleanup(&m);
  loom_http_router_match(r, "HEAD", "/threads/a", &m);
  assert_int_equal(m.kind, LOOM_HTTP_MATCH_FOUND);
  loom_http_match_cleanup(&m);
  loom_http_router_free(r);
}

static void test_refused_patterns(void **state) {
  (void)state;
  struct loom_http_router *r = make();
  struct loom_error e;
  loom_error_clear(&e);
  assert_int_equal(
      loom_http_route_add(r, "GET", "/threads/{thread_id}", handler, NULL, &e),
      LOOM_ERR_EXISTS);
  assert_int_equal(
      loom_http_route_add(r, "GET", "/threads/{id}/state", handler, NULL, &e),
      LOOM_ERR_EXISTS);
  assert_non_null(strstr(e.message, "thread_id"));
  assert_int_equal(loom_http_route_add(r, "GET", "threads", handler, NULL, &e),
                   LOOM_ERR_INVALID);
  assert_int_equal(loom_http_route_add(r, "GET", "/a{b}", handler, NULL, &e),
                   LOOM_ERR_INVALID);
  assert_int_equal(loom_http_route_add(r, "GET", "/{}", handler, NULL, &e),
                   LOOM_ERR_INVALID);
  assert_int_equal(loom_http_route_add(r, "GET", "/", handler, NULL, &e),
                   LOOM_OK);
  struct loom_http_match m;
  loom_http_router_match(r, "GET", "/", &m);
  assert_int_equal(m.kind, LOOM_HTTP_MATCH_FOUND);
  assert_string_equal(m.pattern, "/");
  loom_http_router_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_params_and_pattern),
      cmocka_unit_test(test_literal_and_parameter_siblings),
      cmocka_unit_test(test_404_405),
      cmocka_unit_test(test_refused_patterns),
  };
  return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
