/*
 * ssrf — the guard on outbound requests whose URL comes from outside
 * (server-side request forgery): a model's http_fetch, a client's run
 * webhook.
 *
 * Two halves. loom_ssrf_check_url reads a URL without touching the
 * network: http or https only, no credentials unless allowed, the host in
 * the policy's allowlist, and a host that is an IP address must be public.
 * loom_ssrf_resolve then resolves a host name on the loop (never blocking
 * it), refuses it when any of its addresses is not public, and hands back
 * the addresses it checked in CURLOPT_RESOLVE form for the io client's
 * `resolve` field: the request connects to exactly those, so a DNS server
 * that answers differently the second time (DNS rebinding) cannot steer it
 * to a private address.
 *
 * Not public, by default: loopback, private (RFC 1918, unique local),
 * link-local (the cloud metadata service), carrier-grade NAT, the
 * unspecified address, multicast, broadcast and the IETF, benchmarking,
 * reserved and NAT64 ranges. IPv4-mapped and IPv4-compatible IPv6
 * addresses are judged by their IPv4 part, as the kernel routes them.
 */
#ifndef LOOM_IO_SSRF_H
#define LOOM_IO_SSRF_H

#include <stdbool.h>

#include "core/err.h"

struct sockaddr;
struct addrinfo;
struct loom_loop;

/* What one kind of outbound request may reach beyond public http(s)
 * hosts. The strings are read during the call only. */
struct loom_ssrf_policy {
  bool allow_private;     /* non-public addresses too (the ranges above) */
  bool allow_credentials; /* user:password@ in the URL */
  bool require_https;     /* http:// refused */
  /* "hooks.example.com,*.corp.example,10.0.0.7": exact hosts (names or
   * addresses, case-insensitive) or "*." + a domain, which matches its
   * subdomains but not the domain itself. NULL or "": any host. */
  const char *allowed_hosts;
  /* For the messages: what relaxes each rule, e.g.
   * "LOOM_WEBHOOK_ALLOW_PRIVATE=true". NULL: the message names none. */
  const char *private_setting;
  const char *https_setting;
  const char *hosts_setting;
};

/* The parts of a checked URL a request needs. */
struct loom_ssrf_target {
  char host[256]; /* as curl reads it, IPv6 without brackets */
  char port[8];   /* the URL's, or the scheme's default */
  bool literal;   /* host is an IP address (already judged) */
};

/*
 * Why `sa` (a sockaddr_in or sockaddr_in6) is not public: "loopback",
 * "private", "link-local", "unspecified", "multicast", ... ; NULL when it
 * is a public unicast address.
 */
const char *loom_ssrf_address_kind(const struct sockaddr *sa);

/* loom_ssrf_address_kind(sa) == NULL. */
bool loom_ssrf_address_is_public(const struct sockaddr *sa);

/*
 * Checks `url` against `p` without resolving anything and fills `t`.
 * LOOM_ERR_INVALID for a URL that is malformed, not http(s), or has no
 * host; LOOM_ERR_FORBIDDEN for one the policy refuses (https required,
 * credentials, a host not allowed, a non-public IP address). The message
 * in `e` says what is wrong and, when the policy names one, which setting
 * allows it; it never repeats credentials.
 */
loom_err loom_ssrf_check_url(const char *url, const struct loom_ssrf_policy *p,
                             struct loom_ssrf_target *t,
                             struct loom_error *e) LOOM_MUST_USE;

/*
 * The outcome of loom_ssrf_resolve, on the loop thread: `pin`
 * ("host:port:addr,...", IPv6 in brackets) for the io client's `resolve`
 * field, or NULL when the host is an address and nothing needs pinning;
 * or `error` (LOOM_ERR_FORBIDDEN: an address is not public, the message
 * naming it; LOOM_ERR_NOT_FOUND: the name does not resolve). Both are
 * valid during the call only.
 */
typedef void (*loom_ssrf_resolved_cb)(void *ud, const char *pin,
                                      const struct loom_error *error);

/*
 * Resolves `t` (from loom_ssrf_check_url) on `loop`'s thread and checks
 * every address against `p`; `done` runs exactly once, possibly before
 * this returns (an address needs no lookup). Fails without calling `done`
 * (LOOM_ERR_IO) only when the lookup cannot start.
 */
loom_err loom_ssrf_resolve(struct loom_loop *loop,
                           const struct loom_ssrf_target *t,
                           const struct loom_ssrf_policy *p,
                           loom_ssrf_resolved_cb done, void *ud,
                           struct loom_error *e) LOOM_MUST_USE;

/* For tests: resolves host names for loom_ssrf_resolve instead of the
 * system resolver (0 or a negative uv error; *out freed with
 * freeaddrinfo). NULL restores the system resolver. Not thread-safe: set
 * it before any request. */
typedef int (*loom_ssrf_resolve_fn)(const char *host, const char *port,
                                    struct addrinfo **out);
void loom_ssrf_set_resolver(loom_ssrf_resolve_fn fn);

#endif
