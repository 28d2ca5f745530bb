/*
 * ssrf — which outbound URLs and addresses loom may reach when the URL
 * comes from outside (see ssrf.h for the contract).
 *
 * The URL is read with curl's own parser (CURLU), so the host judged is
 * the host curl will connect to, whatever disguise the text used. A host
 * that is an address is judged at once (inet_aton also reads the legacy
 * forms getaddrinfo would: 127.1, 0x7f000001, 2130706433); a name is
 * resolved with uv_getaddrinfo and every address it has must pass, since
 * curl may use any of them — they are then pinned for the request.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "io/loop.h"
#include "io/ssrf.h"

static const char *v4_kind(uint32_t a) {
  uint8_t b0 = (uint8_t)(a >> 24), b1 = (uint8_t)(a >> 16);
  if (b0 == 0)
    return "unspecified"; /* 0/8, "this network" */
  if (b0 == 127)
    return "loopback";
  if (b0 == 10 || (b0 == 172 && (b1 & 0xF0) == 16) || (b0 == 192 && b1 == 168))
    return "private"; /* RFC 1918 */
  if (b0 == 169 && b1 == 254)
    return "link-local"; /* and the cloud metadata service */
  if (b0 == 100 && (b1 & 0xC0) == 64)
    return "carrier-grade NAT"; /* 100.64/10 */
  if (b0 == 192 && b1 == 0 && (uint8_t)(a >> 8) == 0)
    return "IETF protocol"; /* 192.0.0/24 */
  if (b0 == 198 && (b1 & 0xFE) == 18)
    return "benchmarking"; /* 198.18/15 */
  if (b0 >= 224 && b0 < 240)
    return "multicast";
  if (a == 0xFFFFFFFFu)
    return "broadcast";
  if (b0 >= 240)
    return "reserved";
  return NULL;
}

const char *loom_ssrf_address_kind(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    return v4_kind(ntohl(in->sin_addr.s_addr));
  }
  if (sa->sa_family != AF_INET6)
    return "non-IP";
  const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
  static const uint8_t zero[12] = {0};
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (memcmp(b, mapped, 12) == 0 || memcmp(b, zero, 12) == 0) {
    uint32_t v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
                  (uint32_t)b[14] << 8 | b[15];
    if (b[10] == 0 && v4 == 1)
      return "loopback"; /* ::1 */
    return v4_kind(v4);  /* :: is 0.0.0.0: unspecified */
  }
  if ((b[0] & 0xFE) == 0xFC)
    return "private"; /* fc00::/7 unique local */
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80)
    return "link-local"; /* fe80::/10 */
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0)
    return "site-local"; /* fec0::/10, deprecated */
  if (b[0] == 0xFF)
    return "multicast";
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B)
    return "NAT64"; /* 64:ff9b::/96 can reach private IPv4 */
  return NULL;
}

bool loom_ssrf_address_is_public(const struct sockaddr *sa) {
  return loom_ssrf_address_kind(sa) == NULL;
}

static const char *article(const char *word) {
  return strchr("aeiouAEIOU", word[0]) ? "an" : "a";
}

/* "<what> <kind> address; set X to allow ..." as a FORBIDDEN error. */
static loom_err refuse_address(struct loom_error *e, const char *what,
                               const char *kind, const char *setting) {
  return loom_error_set(
      e, LOOM_ERR_FORBIDDEN,
      "%s %s %s address, and private, loopback and link-local addresses "
      "are refused%s%s%s",
      what, article(kind), kind, setting ? " (" : "", setting ? setting : "",
      setting ? " allows them)" : "");
}

/* Whether `host` (no brackets) matches one entry of a comma-separated
 * allowlist: exactly, or "*.domain" for a subdomain of domain. */
static bool host_allowed(const char *host, const char *list) {
  size_t hn = strlen(host);
  if (hn && host[hn - 1] == '.')
    hn--; /* "example.com." is example.com */
  for (const char *p = list; *p;) {
    while (*p == ' ' || *p == ',')
      p++;
    size_t n = strcspn(p, ",");
    const char *entry = p;
    p += n;
    while (n && entry[n - 1] == ' ')
      n--;
    if (n >= 2 && entry[0] == '[' && entry[n - 1] == ']')
      entry++, n -= 2;
    if (n > 2 && entry[0] == '*' && entry[1] == '.') {
      size_t dn = n - 1; /* ".domain" */
      if (hn > dn && strncasecmp(host + hn - dn, entry + 1, dn) == 0)
        return true;
    } else if (n && n == hn && strncasecmp(host, entry, n) == 0) {
      return true;
    }
  }
  return false;
}

/* Judges a host that is an IP address; sets t->literal. */
static loom_err check_literal(struct loom_ssrf_target *t,
                              const struct loom_ssrf_policy *p,
                              struct loom_error *e) {
  struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6};
  struct sockaddr_in sa4 = {.sin_family = AF_INET};
  const struct sockaddr *sa = NULL;
  if (inet_pton(AF_INET6, t->host, &sa6.sin6_addr) == 1)
    sa = (const struct sockaddr *)&sa6;
  else if (inet_aton(t->host, &sa4.sin_addr))
    sa = (const struct sockaddr *)&sa4;
  t->literal = sa != NULL;
  const char *kind = sa ? loom_ssrf_address_kind(sa) : NULL;
  if (!kind || p->allow_private)
    return LOOM_OK;
  char what[300];
  snprintf(what, sizeof what, "%s is", t->host);
  return refuse_address(e, what, kind, p->private_setting);
}

/* Fills t->host (no brackets) and t->port from the parsed URL. */
static loom_err read_host(CURLU *u, struct loom_ssrf_target *t,
                          struct loom_error *e) {
  char *h = NULL, *port = NULL;
  loom_err err = LOOM_OK;
  if (curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !*h) {
    err = loom_error_set(e, LOOM_ERR_INVALID, "the URL has no host");
    goto out;
  }
  size_t n = strlen(h);
  if (n >= 2 && h[0] == '[')
    h[n - 1] = 0, memmove(h, h + 1, n - 1), n -= 2;
  if (n >= sizeof t->host) {
    err = loom_error_set(e, LOOM_ERR_INVALID, "the URL's host is too long");
    goto out;
  }
  memcpy(t->host, h, n + 1);
  (void)curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
  snprintf(t->port, sizeof t->port, "%s", port ? port : "80");
out:
  curl_free(h);
  curl_free(port);
  return err;
}

/* Scheme and credentials. */
static loom_err check_scheme(CURLU *u, const struct loom_ssrf_policy *p,
                             struct loom_error *e) {
  char *scheme = NULL, *user = NULL, *pass = NULL;
  loom_err err = LOOM_OK;
  (void)curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
  bool https = scheme && strcasecmp(scheme, "https") == 0;
  if (!scheme || (!https && strcasecmp(scheme, "http"))) {
    err = loom_error_set(e, LOOM_ERR_INVALID,
                         "only http and https URLs are allowed, not '%s'",
                         scheme ? scheme : "");
  } else if (p->require_https && !https) {
    err = loom_error_set(
        e, LOOM_ERR_FORBIDDEN, "only https URLs are allowed%s%s%s",
        p->https_setting ? " (" : "", p->https_setting ? p->https_setting : "",
        p->https_setting ? " allows http)" : "");
  } else if (!p->allow_credentials &&
             (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
              curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK)) {
    err = loom_error_set(e, LOOM_ERR_FORBIDDEN,
                         "the URL carries credentials (user:password@), "
                         "which are not allowed; no setting allows them");
  }
  curl_free(scheme);
  curl_free(user);
  curl_free(pass);
  return err;
}

loom_err loom_ssrf_check_url(const char *url, const struct loom_ssrf_policy *p,
                             struct loom_ssrf_target *t, struct loom_error *e) {
  memset(t, 0, sizeof *t);
  CURLU *u = curl_url();
  loom_err err = LOOM_OK;
  CURLUcode rc =
      url ? curl_url_set(u, CURLUPART_URL, url, 0) : CURLUE_BAD_HANDLE;
  if (rc != CURLUE_OK) {
    /* Echoed only when it cannot hold credentials. */
    if (url && !strchr(url, '@'))
      err = loom_error_set(e, LOOM_ERR_INVALID,
                           "'%.200s' is not a valid URL (%s)", url,
                           curl_url_strerror(rc));
    else
      err = loom_error_set(e, LOOM_ERR_INVALID, "the URL is not valid (%s)",
                           curl_url_strerror(rc));
    goto out;
  }
  err = check_scheme(u, p, e);
  if (!err)
    err = read_host(u, t, e);
  if (!err && p->allowed_hosts && *p->allowed_hosts &&
      !host_allowed(t->host, p->allowed_hosts))
    err = loom_error_set(e, LOOM_ERR_FORBIDDEN,
                         "the host %s is not one of the allowed hosts%s%s",
                         t->host, p->hosts_setting ? " in " : "",
                         p->hosts_setting ? p->hosts_setting : "");
  if (!err)
    err = check_literal(t, p, e);
out:
  curl_url_cleanup(u);
  return err;
}

/* ---- resolving ---- */

static loom_ssrf_resolve_fn test_resolver;

void loom_ssrf_set_resolver(loom_ssrf_resolve_fn fn) { test_resolver = fn; }

struct lookup {
  uv_getaddrinfo_t gai;
  loom_ssrf_resolved_cb done;
  void *ud;
  bool allow_private;
  char *private_setting;
  struct loom_ssrf_target t;
};

/* "host:port:a1,a2,...", the CURLOPT_RESOLVE form of `res` (IPv6 in
 * brackets); addresses past the cap are left out. */
static char *pin_of(const char *host, const char *port,
                    const struct addrinfo *res) {
  struct loom_buf b;
  loom_buf_init(&b, 2048);
  loom_err err = loom_buf_appendf(&b, "%s:%s:", host, port);
  for (const struct addrinfo *a = res; a && !err; a = a->ai_next) {
    char ip[INET6_ADDRSTRLEN];
    bool v6 = a->ai_family == AF_INET6;
    const void *bin =
        v6 ? (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr
           : (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr;
    if (!inet_ntop(a->ai_family, bin, ip, sizeof ip))
      continue;
    err = loom_buf_appendf(&b, "%s%s%s%s", a == res ? "" : ",", v6 ? "[" : "",
                           ip, v6 ? "]" : "");
  }
  return loom_buf_take(&b, NULL);
}

/* Judges every address of `res` (freed here), then reports. */
static void judge(struct lookup *l, int status, struct addrinfo *res) {
  struct loom_error e;
  loom_error_clear(&e);
  char *pin = NULL;
  if (status < 0 || !res) {
    loom_error_set(&e, LOOM_ERR_NOT_FOUND, "cannot resolve %s: %s", l->t.host,
                   status < 0 ? uv_strerror(status) : "no address");
  } else {
    for (struct addrinfo *a = res; a && !e.code; a = a->ai_next) {
      const char *kind = loom_ssrf_address_kind(a->ai_addr);
      if (!kind || l->allow_private)
        continue;
      char ip[INET6_ADDRSTRLEN] = "?", what[400];
      const void *bin =
          a->ai_family == AF_INET6
              ? (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr
              : (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr;
      inet_ntop(a->ai_family, bin, ip, sizeof ip);
      snprintf(what, sizeof what, "%s resolves to %s,", l->t.host, ip);
      refuse_address(&e, what, kind, l->private_setting);
    }
    if (!e.code)
      pin = pin_of(l->t.host, l->t.port, res);
  }
  if (res)
    uv_freeaddrinfo(res);
  l->done(l->ud, pin, e.code ? &e : NULL);
  loom_free(pin);
  loom_free(l->private_setting);
  loom_free(l);
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  judge(req->data, status, res);
}

loom_err loom_ssrf_resolve(struct loom_loop *loop,
                           const struct loom_ssrf_target *t,
                           const struct loom_ssrf_policy *p,
                           loom_ssrf_resolved_cb done, void *ud,
                           struct loom_error *e) {
  if (t->literal) { /* judged already; nothing to resolve, nothing to rebind */
    done(ud, NULL, NULL);
    return LOOM_OK;
  }
  struct lookup *l = LOOM_NEW(struct lookup);
  l->done = done;
  l->ud = ud;
  l->allow_private = p->allow_private;
  l->private_setting =
      p->private_setting ? loom_strdup(p->private_setting) : NULL;
  l->t = *t;
  if (test_resolver) {
    struct addrinfo *res = NULL;
    int status = test_resolver(t->host, t->port, &res);
    judge(l, status, res);
    return LOOM_OK;
  }
  l->gai.data = l;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  int rc = uv_getaddrinfo(loom_loop_uv(loop), &l->gai, gai_cb, l->t.host,
                          l->t.port, &hints);
  if (rc < 0) {
    loom_free(l->private_setting);
    loom_free(l);
    return loom_error_set(e, LOOM_ERR_IO, "cannot resolve %s: %s", t->host,
                          uv_strerror(rc));
  }
  return LOOM_OK;
}
