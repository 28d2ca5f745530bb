/*
 * test_webhook — run webhooks behind the SSRF guard, through the real
 * LangGraph routes of a real server (SQLite store, one loop): a webhook
 * naming a loopback or link-local address is a 422 whose body says what is
 * wrong and which setting allows it; a host name that resolves to loopback
 * is accepted, then refused when the webhook is sent (logged, the run a
 * success, nothing received); with LOOM_WEBHOOK_ALLOW_PRIVATE=true both are
 * delivered, the name to the address the guard resolved (pinned).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "api/app.h"
#include "api/routes.h"
#include "io/ssrf.h"
#include "stores/store.h"
#include "test_http_harness.h"
#include "tmp_dir.h"

static char *dir;
static struct loom_config config;
static struct loom_app app;
static struct loom_http_router *router;
static struct loom_http_server *srv;
static char base[64];
static unsigned port;

/* What reached the receiver route (POST /hook), under `lock`. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *received;

static void hook_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  size_t len;
  const char *body = loom_http_body(req, &len);
  const char *host = loom_http_header(req, "host");
  json_t *j = json_loadb(body, len, 0, NULL);
  json_object_set_new(j, "_host", json_string(host ? host : ""));
  pthread_mutex_lock(&lock);
  json_array_append_new(received, j);
  pthread_mutex_unlock(&lock);
  loom_http_respond_json(req, 200, json_pack("{s:b}", "ok", 1));
}

static size_t received_count(void) {
  pthread_mutex_lock(&lock);
  size_t n = json_array_size(received);
  pthread_mutex_unlock(&lock);
  return n;
}

/* POSTs `body` to `path`; the parsed answer (caller frees), *status set. */
static json_t *post(const char *path, const char *ctype, const char *body,
                    long *status) {
  char url[256];
  snprintf(url, sizeof url, "%s%s", base, path);
  struct reply r;
  http_do(NULL, strcmp(path, "/graphs/hooked") ? "POST" : "PUT", url, ctype,
          body, strlen(body), &r);
  *status = r.status;
  json_t *j = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
  reply_cleanup(&r);
  return j ? j : json_object();
}

/* A stateless run of the one-node graph with `webhook`: its answer. */
static json_t *run(const char *webhook, long *status) {
  char body[512];
  snprintf(body, sizeof body,
           "{\"assistant_id\":\"hooked\",\"input\":{},\"webhook\":\"%s\"}",
           webhook);
  return post("/runs/wait", "application/json", body, status);
}

static int setup(void **state) {
  (void)state;
  struct loom_error e;
  dir = tmp_dir_new("loom-webhook");
  if (loom_config_load(&config, &e) ||
      loom_config_set(&config, "data_dir", dir) ||
      loom_config_set(&config, "graphs", "") ||
      loom_store_open("", dir, &app.store, &e) ||
      loom_store_migrate(app.store, &e) || loom_loop_group_new(1, &app.loops))
    return -1;
  app.config = &config;
  loom_http_client_global_init();
  router = loom_http_router_new();
  received = json_array();
  if (loom_api_langgraph_routes(router, &app, &e) ||
      loom_http_route_add(router, "POST", "/hook", hook_cb, NULL, &e))
    return fprintf(stderr, "%s\n", e.message), -1;
  struct loom_http_server_options opt = {0};
  if (loom_http_server_new(app.loops, router, &opt, &srv, &e))
    return fprintf(stderr, "%s\n", e.message), -1;
  port = loom_http_server_port(srv);
  snprintf(base, sizeof base, "http://127.0.0.1:%u", port);
  long status;
  json_decref(post("/graphs/hooked", "application/yaml",
                   "name: hooked\n"
                   "state:\n  n: {type: integer}\n"
                   "nodes:\n  a: {lua: 'return { n = 1 }'}\n"
                   "edges:\n  - START -> a\n  - a -> END\n",
                   &status));
  return status == 201 ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  loom_api_langgraph_stop();
  loom_http_server_free(srv);
  loom_loop_group_stop(app.loops);
  loom_api_langgraph_shutdown();
  loom_loop_group_free(app.loops);
  loom_http_router_free(router);
  loom_store_close(app.store);
  loom_config_cleanup(&config);
  json_decref(received);
  tmp_dir_remove(dir);
  free(dir);
  return 0;
}

static void literal_address_refused_at_creation(void **state) {
  (void)state;
  char hook[128];
  snprintf(hook, sizeof hook, "http://127.0.0.1:%u/hook", port);
  long status;
  json_t *j = run(hook, &status);
  assert_int_equal(status, 422);
  assert_string_equal(json_string_value(json_object_get(j, "error")),
                      "invalid_request");
  assert_string_equal(json_string_value(json_object_get(j, "message")),
                      "webhook: 127.0.0.1 is a loopback address, and private, "
                      "loopback and link-local addresses are refused "
                      "(LOOM_WEBHOOK_ALLOW_PRIVATE=true allows them)");
  json_decref(j);
  j = run("http://[::ffff:169.254.169.254]/latest/meta-data", &status);
  assert_int_equal(status, 422);
  assert_non_null(strstr(json_string_value(json_object_get(j, "message")),
                         "webhook: ::ffff:169.254.169.254 is a link-local "
                         "address"));
  json_decref(j);
  j = run("http://user:secret@example.com/hook", &status);
  assert_int_equal(status, 422);
  assert_non_null(strstr(json_string_value(json_object_get(j, "message")),
                         "webhook: the URL carries credentials"));
  json_decref(j);
  assert_int_equal(received_count(), 0);
}

/* Every name resolves to 127.0.0.1, as a rebinding DNS server would
 * answer at the worst moment. */
static int loopback_resolve(const char *host, const char *port_s,
                            struct addrinfo **out) {
  (void)host;
  struct addrinfo hints = {.ai_flags = AI_NUMERICHOST,
                           .ai_socktype = SOCK_STREAM};
  return getaddrinfo("127.0.0.1", port_s, &hints, out) ? UV_EAI_NONAME : 0;
}

/* Reads what was written to `fd` (a file) so far. */
static void read_all(int fd, char *out, size_t size) {
  ssize_t n = pread(fd, out, size - 1, 0);
  out[n > 0 ? n : 0] = 0;
}

static void name_resolving_to_loopback_refused_at_send(void **state) {
  (void)state;
  loom_ssrf_set_resolver(loopback_resolve);
  char hook[128];
  snprintf(hook, sizeof hook, "http://hooks.test:%u/hook", port);
  /* The log goes to stderr: catch it in a file while the run goes. */
  char path[] = "/tmp/loom-webhook-log-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  unlink(path);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  long status;
  json_t *j = run(hook, &status);
  char log[8192] = "";
  for (int i = 0; i < 500 && !strstr(log, "webhook of run"); i++) {
    usleep(10000);
    fflush(stderr);
    read_all(fd, log, sizeof log);
  }
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fd);
  loom_ssrf_set_resolver(NULL);
  assert_int_equal(status, 200); /* accepted: a name is judged at send */
  assert_int_equal(json_integer_value(json_object_get(j, "n")), 1);
  json_decref(j);
  if (!strstr(log, "refused: hooks.test resolves to 127.0.0.1, a loopback "
                   "address, and private, loopback and link-local addresses "
                   "are refused (LOOM_WEBHOOK_ALLOW_PRIVATE=true allows them)"))
    fail_msg("no refusal in the log: %s", log);
  assert_int_equal(received_count(), 0);
}

static void delivered_when_the_setting_allows_it(void **state) {
  (void)state;
  assert_int_equal(
      loom_config_set(&config, "LOOM_WEBHOOK_ALLOW_PRIVATE", "true"), LOOM_OK);
  loom_ssrf_set_resolver(loopback_resolve);
  char hook[128];
  const char *hosts[] = {"127.0.0.1", "hooks.test"};
  for (size_t i = 0; i < 2; i++) {
    snprintf(hook, sizeof hook, "http://%s:%u/hook", hosts[i], port);
    long status;
    json_decref(run(hook, &status));
    assert_int_equal(status, 200);
    for (int k = 0; k < 500 && received_count() < i + 1; k++)
      usleep(10000);
    assert_int_equal(received_count(), i + 1);
  }
  loom_ssrf_set_resolver(NULL);
  pthread_mutex_lock(&lock);
  json_t *last = json_array_get(received, 1);
  assert_string_equal(json_string_value(json_object_get(last, "status")),
                      "success");
  assert_int_equal(
      json_integer_value(json_object_get(json_object_get(last, "values"), "n")),
      1);
  /* hooks.test exists only in the guard's resolver: curl connected to the
   * address the guard checked. */
  snprintf(hook, sizeof hook, "hooks.test:%u", port);
  assert_string_equal(json_string_value(json_object_get(last, "_host")), hook);
  pthread_mutex_unlock(&lock);
  assert_int_equal(
      loom_config_set(&config, "LOOM_WEBHOOK_ALLOW_PRIVATE", "false"), LOOM_OK);
}

static void settings_are_validated(void **state) {
  (void)state;
  struct loom_config c;
  struct loom_error e;
  assert_int_equal(loom_config_load(&c, &e), LOOM_OK);
  assert_int_equal(loom_config_set(&c, "LOOM_WEBHOOK_ALLOW_PRIVATE", "yes"), 0);
  assert_int_equal(loom_config_validate(&c, &e), LOOM_ERR_INVALID);
  assert_string_equal(e.message,
                      "LOOM_WEBHOOK_ALLOW_PRIVATE must be true or false, got "
                      "'yes'");
  loom_config_cleanup(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(literal_address_refused_at_creation),
      cmocka_unit_test(name_resolving_to_loopback_refused_at_send),
      cmocka_unit_test(delivered_when_the_setting_allows_it),
      cmocka_unit_test(settings_are_validated),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
