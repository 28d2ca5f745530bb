/*
 * test_tools_builtin — the built-in tools as a model calls them: the
 * calculator and clock, and http_fetch against a local server, refused by
 * the SSRF guard unless private addresses are allowed, and connecting to
 * exactly the address the guard checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netdb.h>

#include "agents/tools.h"
#include "io/ssrf.h"
#include "llm_server_harness.h"

static struct llm_server srv;
static struct loom_tools *tools;

struct res {
  sem_t done;
  bool is_error;
  char text[4096];
};

struct inv {
  const char *name;
  const char *args;
  bool allow_private;
  struct res *r;
};

static void done_cb(void *ud, bool is_error, const char *text) {
  struct res *r = ud;
  r->is_error = is_error;
  snprintf(r->text, sizeof r->text, "%s", text);
  sem_post(&r->done);
}

static void invoke_cb(struct loom_loop *loop, void *arg) {
  struct inv *i = arg;
  struct loom_tool_env env = {.loop = loop,
                              .http = srv.http,
                              .allow_private_addresses = i->allow_private,
                              .timeout_s = 2};
  loom_tools_invoke(tools, &env, i->name, i->args, done_cb, i->r);
}

/* Invokes a tool on the loop and waits for its result. */
static struct res call(const char *name, const char *args, bool allow) {
  struct res r;
  memset(&r, 0, sizeof r);
  struct inv i = {name, args, allow, &r};
  assert_true(llm_server_call_wait(&srv, invoke_cb, &i, &r.done, NULL));
  return r;
}

static void calculator_and_clock(void **state) {
  (void)state;
  struct res r = call("calculator", "{\"expression\":\"(2+3)*4^2\"}", false);
  assert_false(r.is_error);
  assert_string_equal(r.text, "80");
  r = call("calculator", "{\"expression\":\"1/3\"}", false);
  assert_string_equal(r.text, "0.333333333333333");
  r = call("calculator", "{\"expression\":\"1/0\"}", false);
  assert_true(r.is_error);
  assert_string_equal(r.text, "Error: division by zero");
  r = call("calculator", "{\"expr\":\"1\"}", false);
  assert_true(r.is_error);
  assert_non_null(strstr(r.text, "$.expression is required"));
  r = call("current_time", "", false);
  assert_false(r.is_error);
  assert_non_null(strstr(r.text, "Z ("));
  assert_non_null(strstr(r.text, "unix time 1"));
}

static void fetch_is_guarded(void **state) {
  (void)state;
  char url[256];
  snprintf(url, sizeof url, "{\"url\":\"%s/page\"}", srv.base);
  struct res r = call("http_fetch", url, false);
  assert_true(r.is_error);
  assert_non_null(strstr(r.text, "refused to fetch"));
  snprintf(url, sizeof url, "{\"url\":\"http://localhost:%u/page\"}", srv.port);
  r = call("http_fetch", url, false); /* resolved, then refused */
  assert_true(r.is_error);
  assert_non_null(strstr(r.text, "localhost resolves to"));
  assert_non_null(strstr(r.text, "a loopback address"));
  r = call("http_fetch",
           "{\"url\":\"http://169.254.169.254/latest/meta-data\"}", false);
  assert_true(r.is_error);
  assert_non_null(strstr(r.text, "refused"));
  r = call("http_fetch", "{\"url\":\"http://[::1]:9/\"}", false);
  assert_true(r.is_error);
  assert_non_null(strstr(r.text, "refused"));
  r = call("http_fetch", "{\"url\":\"file:///etc/passwd\"}", false);
  assert_true(r.is_error);
  assert_non_null(strstr(r.text, "only http and https"));
  json_t *reqs = llm_server_requests(&srv);
  assert_int_equal(json_array_size(reqs), 0); /* nothing reached the server */
  json_decref(reqs);
}

/* Loopback in the disguises URL and address parsers disagree about
 * (hex, one number, short forms, octal, IPv4-mapped IPv6, the unspecified
 * address, a trailing dot, credentials, upper case): each fails (refused,
 * or not resolved), and not one request reaches the (loopback) scripted
 * server. */
static void fetch_refuses_disguised_loopback(void **state) {
  (void)state;
  static const char *const hosts[] = {"0x7f000001",
                                      "2130706433",
                                      "127.1",
                                      "0177.0.0.1",
                                      "[::ffff:127.0.0.1]",
                                      "[::ffff:7f00:1]",
                                      "0",
                                      "[::]",
                                      "0.0.0.0",
                                      "127.0.0.1.",
                                      "u:p@127.0.0.1",
                                      "LOCALHOST",
                                      "[0:0:0:0:0:ffff:7f00:1]"};
  for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
    char args[256];
    snprintf(args, sizeof args, "{\"url\":\"http://%s:%u/page\"}", hosts[i],
             srv.port);
    struct res r = call("http_fetch", args, false);
    if (!r.is_error) /* refused, or not even resolved */
      fail_msg("http://%s:%u/ was fetched: %s", hosts[i], srv.port, r.text);
  }
  json_t *reqs = llm_server_requests(&srv);
  assert_int_equal(json_array_size(reqs), 0);
  json_decref(reqs);
}

static void fetch_when_allowed(void **state) {
  (void)state;
  llm_server_script(
      &srv, "[{\"kind\":\"raw\",\"headers\":{\"content-type\":\"text/html\"},"
            "\"body\":\"<html><head><style>p{color:red}</style><script>var x=1;"
            "</script></head><body><h1>Title</h1>\\n<p>Some   "
            "text.</p></body></html>\"},"
            "{\"kind\":\"raw\",\"headers\":{\"content-type\":\"text/plain\"},"
            "\"body\":\"0123456789abcdefghijklmnopqrstuvwxyz\"},"
            "{\"kind\":\"raw\",\"status\":404,\"headers\":{\"content-type\":"
            "\"text/plain\"},\"body\":\"no such page\"}]");
  char url[256];
  snprintf(url, sizeof url, "{\"url\":\"%s/page\"}", srv.base);
  struct res r = call("http_fetch", url, true);
  assert_false(r.is_error);
  assert_string_equal(r.text, "HTTP 200, text/html\n\nTitle Some text. ");
  snprintf(url, sizeof url, "{\"url\":\"%s/big\",\"max_bytes\":10}", srv.base);
  r = call("http_fetch", url, true);
  assert_false(r.is_error);
  assert_string_equal(r.text, "HTTP 200, text/plain, truncated\n\n0123456789");
  snprintf(url, sizeof url, "{\"url\":\"%s/missing\"}", srv.base);
  r = call("http_fetch", url, true);
  assert_true(r.is_error);
  assert_string_equal(r.text, "HTTP 404, text/plain\n\nno such page");
  json_t *reqs = llm_server_requests(&srv);
  assert_int_equal(json_array_size(reqs), 3);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(reqs, 0), "method")),
      "GET");
  json_decref(reqs);
}

static int setup(void **state) {
  (void)state;
  if (!llm_server_start(&srv, NULL))
    return -1;
  tools = loom_tools_new();
  loom_tools_add_builtins(tools);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  llm_server_stop(&srv);
  loom_tools_free(tools);
  return 0;
}

/* The guard's resolver for the pinning test: every name is fake_addr. */
static const char *fake_addr;

static int fake_resolve(const char *host, const char *port,
                        struct addrinfo **out) {
  (void)host;
  struct addrinfo hints = {.ai_flags = AI_NUMERICHOST,
                           .ai_socktype = SOCK_STREAM};
  return getaddrinfo(fake_addr, port, &hints, out) ? UV_EAI_NONAME : 0;
}

/* What the guard resolved is what curl connects to. This cannot stage a
 * real DNS rebinding offline; it shows the two halves of the defence: a
 * name curl could not resolve itself (.invalid) is fetched from the
 * address the guard found, and a name curl would resolve to loopback
 * (localhost) is not fetched from loopback when the guard saw a public
 * address for it. */
static void fetch_connects_to_the_checked_address(void **state) {
  (void)state;
  llm_server_script(&srv, "[{\"kind\":\"raw\",\"headers\":{\"content-type\":"
                          "\"text/plain\"},\"body\":\"pinned\"}]");
  loom_ssrf_set_resolver(fake_resolve);
  char url[256];
  fake_addr = "127.0.0.1";
  snprintf(url, sizeof url, "{\"url\":\"http://loom-pin.invalid:%u/x\"}",
           srv.port);
  struct res r = call("http_fetch", url, true);
  assert_false(r.is_error);
  assert_string_equal(r.text, "HTTP 200, text/plain\n\npinned");
  r = call("http_fetch", url, false); /* loopback: refused */
  assert_true(r.is_error);
  assert_non_null(strstr(r.text, "refused to fetch"));
  /* The guard sees a public address (TEST-NET-1) for localhost: the fetch
   * goes there and fails, it never reaches the server on 127.0.0.1. */
  fake_addr = "192.0.2.1";
  snprintf(url, sizeof url, "{\"url\":\"http://localhost:%u/x\"}", srv.port);
  r = call("http_fetch", url, false);
  assert_true(r.is_error);
  assert_null(strstr(r.text, "refused"));
  loom_ssrf_set_resolver(NULL);
  json_t *reqs = llm_server_requests(&srv);
  assert_int_equal(json_array_size(reqs), 1);
  json_t *h = json_object_get(json_array_get(reqs, 0), "headers");
  char host[64];
  snprintf(host, sizeof host, "loom-pin.invalid:%u", srv.port);
  assert_string_equal(json_string_value(json_object_get(h, "host")), host);
  json_decref(reqs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(calculator_and_clock),
      cmocka_unit_test(fetch_is_guarded),
      cmocka_unit_test(fetch_refuses_disguised_loopback),
      cmocka_unit_test(fetch_when_allowed),
      cmocka_unit_test(fetch_connects_to_the_checked_address),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
