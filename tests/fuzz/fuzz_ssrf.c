/*
 * fuzz_ssrf — any text as a webhook or http_fetch URL through the SSRF
 * guard's URL check, under a strict policy (with a host allowlist) and an
 * open one. Besides the sanitizers: a URL the strict policy accepts whose
 * host is an IP address must name a public one, judged again here.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/ssrf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void strict_accepts_only_public(const struct loom_ssrf_target *t) {
  struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6};
  struct sockaddr_in sa4 = {.sin_family = AF_INET};
  const struct sockaddr *sa = NULL;
  if (inet_pton(AF_INET6, t->host, &sa6.sin6_addr) == 1)
    sa = (const struct sockaddr *)&sa6;
  else if (inet_aton(t->host, &sa4.sin_addr))
    sa = (const struct sockaddr *)&sa4;
  if (sa && !loom_ssrf_address_is_public(sa))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *url = loom_malloc(size + 1);
  memcpy(url, data, size);
  url[size] = 0;
  static const struct loom_ssrf_policy strict = {
      .allowed_hosts = "example.com,*.hooks.example,127.0.0.1,[::1]",
      .private_setting = "ALLOW_PRIVATE=true",
  };
  static const struct loom_ssrf_policy open = {.allow_private = true,
                                               .allow_credentials = true};
  struct loom_ssrf_target t;
  struct loom_error e;
  if (loom_ssrf_check_url(url, &strict, &t, &e) == LOOM_OK)
    strict_accepts_only_public(&t);
  (void)!loom_ssrf_check_url(url, &open, &t, &e);
  loom_free(url);
  return 0;
}
