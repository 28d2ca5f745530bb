/*
 * test_ssrf — the outbound guard shared by http_fetch and run webhooks:
 * which addresses are public, how URLs are read (loopback in every
 * disguise, credentials, schemes, the host allowlist, https only), the
 * messages that name the setting to change, and a host name resolved,
 * judged on every address and pinned to the addresses judged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netdb.h>
#include <netinet/in.h>
#include <uv.h>

#include "io/ssrf.h"

static const char *kind4(const char *ip) {
  struct sockaddr_in sa = {.sin_family = AF_INET};
  assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
  return loom_ssrf_address_kind((struct sockaddr *)&sa);
}

static const char *kind6(const char *ip) {
  struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
  assert_int_equal(inet_pton(AF_INET6, ip, &sa.sin6_addr), 1);
  return loom_ssrf_address_kind((struct sockaddr *)&sa);
}

static void addresses_are_classified(void **state) {
  (void)state;
  static const char *const v4[][2] = {
      {"127.0.0.1", "loopback"},     {"10.1.2.3", "private"},
      {"172.16.0.1", "private"},     {"172.31.255.255", "private"},
      {"192.168.1.1", "private"},    {"169.254.169.254", "link-local"},
      {"0.0.0.0", "unspecified"},    {"100.64.0.1", "carrier-grade NAT"},
      {"224.0.0.1", "multicast"},    {"255.255.255.255", "broadcast"},
      {"240.0.0.1", "reserved"},     {"192.0.0.8", "IETF protocol"},
      {"198.18.0.1", "benchmarking"}};
  for (size_t i = 0; i < sizeof v4 / sizeof *v4; i++) {
    const char *k = kind4(v4[i][0]);
    if (!k || strcmp(k, v4[i][1]))
      fail_msg("%s: %s, want %s", v4[i][0], k ? k : "public", v4[i][1]);
  }
  assert_null(kind4("93.184.216.34"));
  assert_null(kind4("172.32.0.1"));
  assert_null(kind4("8.8.8.8"));
  static const char *const v6[][2] = {{"::1", "loopback"},
                                      {"::", "unspecified"},
                                      {"fe80::1", "link-local"},
                                      {"fd00::1", "private"},
                                      {"fc00::1", "private"},
                                      {"::ffff:127.0.0.1", "loopback"},
                                      {"::ffff:169.254.169.254", "link-local"},
                                      {"::127.0.0.1", "loopback"},
                                      {"ff02::1", "multicast"},
                                      {"fec0::1", "site-local"},
                                      {"64:ff9b::a00:1", "NAT64"}};
  for (size_t i = 0; i < sizeof v6 / sizeof *v6; i++) {
    const char *k = kind6(v6[i][0]);
    if (!k || strcmp(k, v6[i][1]))
      fail_msg("%s: %s, want %s", v6[i][0], k ? k : "public", v6[i][1]);
  }
  assert_null(kind6("2606:4700:4700::1111"));
  assert_null(kind6("::ffff:8.8.8.8"));
}

static const struct loom_ssrf_policy strict = {
    .private_setting = "LOOM_WEBHOOK_ALLOW_PRIVATE=true",
    .https_setting = "LOOM_WEBHOOK_REQUIRE_HTTPS=false",
    .hosts_setting = "LOOM_WEBHOOK_ALLOWED_DOMAINS",
};

/* Checks `url` under `p`: the code, and (when want != OK) a message
 * holding `says`. */
static void expect(const char *url, const struct loom_ssrf_policy *p,
                   loom_err want, const char *says) {
  struct loom_ssrf_target t;
  struct loom_error e;
  loom_error_clear(&e);
  loom_err got = loom_ssrf_check_url(url, p, &t, &e);
  if (got != want)
    fail_msg("%s: %s (%s), want %s", url, loom_err_name(got), e.message,
             loom_err_name(want));
  if (says && !strstr(e.message, says))
    fail_msg("%s: '%s' does not say '%s'", url, e.message, says);
}

/* Loopback as URL parsers and address parsers disagree about it: each is
 * read as the address it is and refused before anything is resolved. */
static void literal_addresses_are_refused_in_every_disguise(void **state) {
  (void)state;
  static const char *const hosts[] = {"127.0.0.1",
                                      "0x7f000001",
                                      "2130706433",
                                      "127.1",
                                      "0177.0.0.1",
                                      "[::ffff:127.0.0.1]",
                                      "[::ffff:7f00:1]",
                                      "0",
                                      "[::]",
                                      "0.0.0.0",
                                      "[::1]",
                                      "[0:0:0:0:0:ffff:7f00:1]",
                                      "169.254.169.254",
                                      "[fe80::1%25eth0]",
                                      "10.0.0.1"};
  for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
    char url[128];
    snprintf(url, sizeof url, "http://%s:8080/hook", hosts[i]);
    expect(url, &strict, LOOM_ERR_FORBIDDEN,
           "(LOOM_WEBHOOK_ALLOW_PRIVATE=true allows them)");
  }
  expect("http://169.254.169.254/latest/meta-data", &strict, LOOM_ERR_FORBIDDEN,
         "169.254.169.254 is a link-local address");
  struct loom_ssrf_policy open = strict;
  open.allow_private = true;
  expect("http://127.0.0.1:8080/hook", &open, LOOM_OK, NULL);
  expect("http://[::1]:8080/hook", &open, LOOM_OK, NULL);
  struct loom_ssrf_target t;
  struct loom_error e;
  assert_int_equal(loom_ssrf_check_url("http://[::1]:81/x", &open, &t, &e), 0);
  assert_true(t.literal);
  assert_string_equal(t.host, "::1");
  assert_string_equal(t.port, "81");
  assert_int_equal(loom_ssrf_check_url("https://example.com/x", &open, &t, &e),
                   0);
  assert_false(t.literal);
  assert_string_equal(t.host, "example.com");
  assert_string_equal(t.port, "443");
}

static void urls_are_read_strictly(void **state) {
  (void)state;
  expect("not a url", &strict, LOOM_ERR_INVALID, "is not a valid URL");
  expect("example.com/hook", &strict, LOOM_ERR_INVALID, "not a valid URL");
  expect("ftp://example.com/x", &strict, LOOM_ERR_INVALID,
         "only http and https URLs are allowed, not 'ftp'");
  expect("file:///etc/passwd", &strict, LOOM_ERR_INVALID,
         "only http and https");
  expect("http://user:secret@example.com/x", &strict, LOOM_ERR_FORBIDDEN,
         "carries credentials");
  expect("http://user:secret@exa mple.com/x", &strict, LOOM_ERR_INVALID,
         "the URL is not valid (");
  struct loom_ssrf_target t;
  struct loom_error e;
  assert_int_equal(
      loom_ssrf_check_url("http://user:secret@example.com/", &strict, &t, &e),
      LOOM_ERR_FORBIDDEN);
  assert_null(strstr(e.message, "secret")); /* never repeated */
  expect("http://user@example.com/x", &strict, LOOM_ERR_FORBIDDEN,
         "credentials");
  struct loom_ssrf_policy p = strict;
  p.allow_credentials = true;
  expect("http://user:secret@example.com/x", &p, LOOM_OK, NULL);
  expect("https://example.com/hook", &strict, LOOM_OK, NULL);
  p = strict;
  p.require_https = true;
  expect("http://example.com/hook", &p, LOOM_ERR_FORBIDDEN,
         "only https URLs are allowed (LOOM_WEBHOOK_REQUIRE_HTTPS=false "
         "allows http)");
  expect("https://example.com/hook", &p, LOOM_OK, NULL);
}

static void allowed_hosts_are_exact_or_subdomains(void **state) {
  (void)state;
  struct loom_ssrf_policy p = strict;
  p.allowed_hosts = "hooks.example.com, *.corp.example ,[::1],10.0.0.7";
  expect("https://hooks.example.com/x", &p, LOOM_OK, NULL);
  expect("https://HOOKS.example.com./x", &p, LOOM_OK, NULL);
  expect("https://a.b.corp.example/x", &p, LOOM_OK, NULL);
  expect("https://corp.example/x", &p, LOOM_ERR_FORBIDDEN,
         "the host corp.example is not one of the allowed hosts in "
         "LOOM_WEBHOOK_ALLOWED_DOMAINS");
  expect("https://evilcorp.example/x", &p, LOOM_ERR_FORBIDDEN, "not one of");
  expect("https://example.com/x", &p, LOOM_ERR_FORBIDDEN, "not one of");
  expect("http://127.0.0.1/x", &p, LOOM_ERR_FORBIDDEN, "not one of");
  /* Listed, but still private: the allowlist narrows, never widens. */
  expect("http://10.0.0.7/x", &p, LOOM_ERR_FORBIDDEN, "a private address");
  p.allow_private = true;
  expect("http://10.0.0.7/x", &p, LOOM_OK, NULL);
  expect("http://[::1]:9/x", &p, LOOM_OK, NULL);
}

/* ---- resolving ---- */

static const char *fake_addrs[3]; /* what every name resolves to */

static int fake_resolve(const char *host, const char *port,
                        struct addrinfo **out) {
  (void)host;
  struct addrinfo *head = NULL, **tail = &head;
  for (size_t i = 0; i < 3 && fake_addrs[i]; i++) {
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST,
                             .ai_socktype = SOCK_STREAM};
    if (getaddrinfo(fake_addrs[i], port, &hints, tail))
      return UV_EAI_NONAME;
    while (*tail)
      tail = &(*tail)->ai_next;
  }
  *out = head;
  return head ? 0 : UV_EAI_NONAME;
}

struct outcome {
  int calls;
  char pin[256];
  bool pinned;
  loom_err err;
  char message[512];
};

static void resolved_cb(void *ud, const char *pin,
                        const struct loom_error *error) {
  struct outcome *o = ud;
  o->calls++;
  o->pinned = pin != NULL;
  snprintf(o->pin, sizeof o->pin, "%s", pin ? pin : "");
  o->err = error ? error->code : LOOM_OK;
  snprintf(o->message, sizeof o->message, "%s", error ? error->message : "");
}

static struct outcome resolve(const char *url,
                              const struct loom_ssrf_policy *p) {
  struct outcome o;
  memset(&o, 0, sizeof o);
  struct loom_ssrf_target t;
  struct loom_error e;
  assert_int_equal(loom_ssrf_check_url(url, p, &t, &e), LOOM_OK);
  assert_int_equal(loom_ssrf_resolve(NULL, &t, p, resolved_cb, &o, &e),
                   LOOM_OK);
  assert_int_equal(o.calls, 1);
  return o;
}

static void names_are_resolved_judged_and_pinned(void **state) {
  (void)state;
  loom_ssrf_set_resolver(fake_resolve);
  fake_addrs[0] = "93.184.216.34";
  fake_addrs[1] = "2606:4700:4700::1111";
  fake_addrs[2] = NULL;
  struct outcome o = resolve("https://hooks.example.com/x", &strict);
  assert_int_equal(o.err, LOOM_OK);
  assert_string_equal(o.pin, "hooks.example.com:443:93.184.216.34,"
                             "[2606:4700:4700::1111]");
  /* One private address among public ones is enough to refuse. */
  fake_addrs[1] = "127.0.0.1";
  o = resolve("http://hooks.example.com:8080/x", &strict);
  assert_int_equal(o.err, LOOM_ERR_FORBIDDEN);
  assert_false(o.pinned);
  assert_string_equal(o.message,
                      "hooks.example.com resolves to 127.0.0.1, a loopback "
                      "address, and private, loopback and link-local "
                      "addresses are refused (LOOM_WEBHOOK_ALLOW_PRIVATE=true "
                      "allows them)");
  struct loom_ssrf_policy open = strict;
  open.allow_private = true;
  o = resolve("http://hooks.example.com:8080/x", &open);
  assert_int_equal(o.err, LOOM_OK);
  assert_string_equal(o.pin, "hooks.example.com:8080:93.184.216.34,127.0.0.1");
  fake_addrs[0] = NULL; /* resolves to nothing */
  o = resolve("http://nowhere.invalid/x", &strict);
  assert_int_equal(o.err, LOOM_ERR_NOT_FOUND);
  assert_non_null(strstr(o.message, "cannot resolve nowhere.invalid"));
  /* An address needs no lookup and no pin. */
  o = resolve("http://93.184.216.34/x", &strict);
  assert_int_equal(o.err, LOOM_OK);
  assert_false(o.pinned);
  loom_ssrf_set_resolver(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(addresses_are_classified),
      cmocka_unit_test(literal_addresses_are_refused_in_every_disguise),
      cmocka_unit_test(urls_are_read_strictly),
      cmocka_unit_test(allowed_hosts_are_exact_or_subdomains),
      cmocka_unit_test(names_are_resolved_judged_and_pinned),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
