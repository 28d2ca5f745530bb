/*
 * provider — the registry of configured providers and named endpoints, and
 * resolution of a model string to a provider.
 *
 * The registry is built once at start-up and read-only afterwards, so any
 * loop may resolve from it without a lock.
 */
#include "agents/provider.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_dump.h"
#include "core/alloc.h"
#include "core/json.h"

#define MAX_ENDPOINTS 32
#define OPENAI_OFFICIAL "https://api.openai.com/v1"
#define ANTHROPIC_OFFICIAL "https://api.anthropic.com"

struct endpoint {
  char *name;
  const struct loom_provider_ops *ops;
  char *base_url;
  char *api_key;
};

struct loom_providers {
  struct endpoint openai;
  struct endpoint anthropic;
  struct endpoint endpoints[MAX_ENDPOINTS];
  size_t n_endpoints;
  char *default_model;
};

void loom_http_spec_cleanup(struct loom_http_spec *s) {
  loom_free(s->url);
  for (size_t i = 0; i < s->n_headers; i++)
    loom_free(s->headers[i]);
  loom_free(s->body);
  memset(s, 0, sizeof *s);
}

loom_err loom_provider_spec_json(struct loom_http_spec *out, const char *url,
                                 json_t *body) {
  out->url = loom_strdup(url);
  out->body = loom_json_dump_fast(body, &out->body_len);
  loom_provider_spec_header(out, "Content-Type: application/json");
  loom_provider_spec_header(out, "User-Agent: loom/%s", LOOM_VERSION);
  json_decref(body);
  return LOOM_OK;
}

void loom_provider_spec_header(struct loom_http_spec *out, const char *fmt,
                               ...) {
  if (out->n_headers == LOOM_HTTP_SPEC_MAX_HEADERS)
    return;
  va_list ap;
  va_start(ap, fmt);
  char tmp[2048];
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  out->headers[out->n_headers++] = loom_strdup(tmp);
}

static char *strip_slash(const char *url) {
  char *s = loom_strdup(url ? url : "");
  size_t n = strlen(s);
  while (n > 0 && s[n - 1] == '/')
    s[--n] = 0;
  return s;
}

static void endpoint_set(struct endpoint *ep, const char *name,
                         const struct loom_provider_ops *ops, const char *url,
                         const char *key) {
  loom_free(ep->name);
  loom_free(ep->base_url);
  loom_free(ep->api_key);
  ep->name = loom_strdup(name);
  ep->ops = ops;
  ep->base_url = strip_slash(url);
  ep->api_key = loom_strdup(key ? key : "");
}

static void endpoint_cleanup(struct endpoint *ep) {
  loom_free(ep->name);
  loom_free(ep->base_url);
  loom_free(ep->api_key);
}

loom_err loom_providers_add_endpoint(struct loom_providers *ps,
                                     const char *name, const char *kind,
                                     const char *base_url, const char *api_key,
                                     struct loom_error *e) {
  const struct loom_provider_ops *ops = NULL;
  if (strcmp(kind, "openai") == 0)
    ops = &loom_provider_openai;
  else if (strcmp(kind, "anthropic") == 0)
    ops = &loom_provider_anthropic;
  else
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "endpoint '%s': kind must be openai or anthropic",
                          name);
  if (!*name || strchr(name, '/') || strcmp(name, "openai") == 0 ||
      strcmp(name, "anthropic") == 0 || strcmp(name, "offline") == 0)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "endpoint name '%s' is empty, has a '/' or is "
                          "reserved (openai, anthropic, offline)",
                          name);
  if (strncmp(base_url, "http://", 7) != 0 &&
      strncmp(base_url, "https://", 8) != 0)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "endpoint '%s': URL '%s' must start with http:// "
                          "or https://",
                          name, base_url);
  for (size_t i = 0; i < ps->n_endpoints; i++)
    if (strcmp(ps->endpoints[i].name, name) == 0) {
      endpoint_set(&ps->endpoints[i], name, ops, base_url, api_key);
      return LOOM_OK;
    }
  if (ps->n_endpoints == MAX_ENDPOINTS)
    return loom_error_set(e, LOOM_ERR_LIMIT, "more than %d endpoints",
                          MAX_ENDPOINTS);
  endpoint_set(&ps->endpoints[ps->n_endpoints++], name, ops, base_url, api_key);
  return LOOM_OK;
}

/* One "name=url" or "name=anthropic+url" entry of LOOM_ENDPOINTS. */
static loom_err parse_endpoint(struct loom_providers *ps, char *entry,
                               struct loom_error *e) {
  char *eq = strchr(entry, '=');
  if (!eq)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "LOOM_ENDPOINTS entry '%s' must be name=url", entry);
  *eq = 0;
  const char *url = eq + 1;
  const char *kind = "openai";
  if (strncmp(url, "anthropic+", 10) == 0) {
    kind = "anthropic";
    url += 10;
  } else if (strncmp(url, "openai+", 7) == 0) {
    url += 7;
  }
  /* Sized to the name: a fixed buffer here was overrun by a long one. */
  char *var = loom_asprintf("LOOM_ENDPOINT_%s_KEY", entry);
  for (size_t i = 14, n = strlen(var); i + 4 < n; i++)
    var[i] =
        (char)(isalnum((unsigned char)var[i]) ? toupper((unsigned char)var[i])
                                              : '_');
  loom_err err =
      loom_providers_add_endpoint(ps, entry, kind, url, getenv(var), e);
  loom_free(var);
  return err;
}

static bool set(const char *s) { return s && *s; }

loom_err loom_providers_check_default(const struct loom_providers *ps,
                                      struct loom_error *e) {
  struct loom_provider *p = NULL;
  struct loom_error sub = {0};
  loom_err err = loom_providers_resolve(ps, ps->default_model, &p, &sub);
  loom_provider_free(p);
  return err ? loom_error_set(e, err, "LOOM_MODEL: %s", sub.message) : LOOM_OK;
}

loom_err loom_providers_new(const struct loom_config *cfg,
                            struct loom_providers **out, struct loom_error *e) {
  struct loom_providers *ps = LOOM_NEW(struct loom_providers);
  endpoint_set(&ps->openai, "openai", &loom_provider_openai,
               set(cfg->openai_base_url) ? cfg->openai_base_url
                                         : OPENAI_OFFICIAL,
               cfg->openai_api_key);
  endpoint_set(&ps->anthropic, "anthropic", &loom_provider_anthropic,
               set(cfg->anthropic_base_url) ? cfg->anthropic_base_url
                                            : ANTHROPIC_OFFICIAL,
               cfg->anthropic_api_key);
  loom_err err = LOOM_OK;
  const char *list = cfg->endpoints;
  if (set(list)) {
    char *copy = loom_strdup(list), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && !err;
         tok = strtok_r(NULL, ",", &save))
      err = parse_endpoint(ps, tok, e);
    loom_free(copy);
  }
  if (set(cfg->model))
    ps->default_model = loom_strdup(cfg->model);
  else if (set(cfg->openai_api_key) ||
           strcmp(ps->openai.base_url, OPENAI_OFFICIAL) != 0)
    ps->default_model = loom_strdup("openai/gpt-4o-mini");
  else if (set(cfg->anthropic_api_key))
    ps->default_model = loom_strdup("anthropic/claude-3-5-haiku-latest");
  else if (ps->n_endpoints)
    ps->default_model = loom_asprintf("%s/default", ps->endpoints[0].name);
  else
    ps->default_model = loom_strdup("offline/extractive");
  if (err) {
    loom_providers_free(ps);
    return err;
  }
  *out = ps;
  return LOOM_OK;
}

void loom_providers_free(struct loom_providers *ps) {
  if (!ps)
    return;
  endpoint_cleanup(&ps->openai);
  endpoint_cleanup(&ps->anthropic);
  for (size_t i = 0; i < ps->n_endpoints; i++)
    endpoint_cleanup(&ps->endpoints[i]);
  loom_free(ps->default_model);
  loom_free(ps);
}

const char *loom_providers_default_model(const struct loom_providers *ps) {
  return ps->default_model;
}

struct loom_provider *loom_provider_new(const struct loom_provider_ops *ops,
                                        const char *name, const char *model,
                                        const char *base_url,
                                        const char *api_key) {
  struct loom_provider *p = LOOM_NEW(struct loom_provider);
  p->ops = ops;
  p->name = loom_strdup(name);
  p->model = loom_strdup(model);
  p->label = loom_asprintf("%s/%s", name, model);
  p->base_url = strip_slash(base_url);
  p->api_key = loom_strdup(api_key ? api_key : "");
  p->official = strcmp(p->base_url, OPENAI_OFFICIAL) == 0 ||
                strcmp(p->base_url, ANTHROPIC_OFFICIAL) == 0;
  p->max_retries = 2;
  p->connect_timeout_ms = 10000;
  p->first_byte_timeout_ms = 60000;
  p->idle_timeout_ms = 60000;
  p->timeout_ms = 600000;
  return p;
}

void loom_provider_free(struct loom_provider *p) {
  if (!p)
    return;
  loom_free(p->name);
  loom_free(p->model);
  loom_free(p->label);
  loom_free(p->base_url);
  loom_free(p->api_key);
  loom_free(p);
}

static const struct endpoint *find(const struct loom_providers *ps,
                                   const char *prefix, size_t n) {
  if (n == 6 && memcmp(prefix, "openai", 6) == 0)
    return &ps->openai;
  if (n == 9 && memcmp(prefix, "anthropic", 9) == 0)
    return &ps->anthropic;
  for (size_t i = 0; i < ps->n_endpoints; i++)
    if (strlen(ps->endpoints[i].name) == n &&
        memcmp(ps->endpoints[i].name, prefix, n) == 0)
      return &ps->endpoints[i];
  return NULL;
}

loom_err loom_providers_resolve(const struct loom_providers *ps,
                                const char *model, struct loom_provider **out,
                                struct loom_error *e) {
  if (!set(model))
    model = ps->default_model;
  const char *slash = strchr(model, '/');
  if (!slash || slash == model || !slash[1])
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "model '%s' must be provider/model, e.g. "
                          "openai/gpt-4o-mini",
                          model);
  size_t n = (size_t)(slash - model);
  if (n == 7 && memcmp(model, "offline", 7) == 0) {
    *out =
        loom_provider_new(&loom_provider_offline, "offline", slash + 1, "", "");
    return LOOM_OK;
  }
  const struct endpoint *ep = find(ps, model, n);
  if (!ep)
    return loom_error_set(e, LOOM_ERR_NOT_FOUND,
                          "model '%s': unknown provider '%.*s' (use openai, "
                          "anthropic, offline or a name from LOOM_ENDPOINTS)",
                          model, (int)n, model);
  bool official = strcmp(ep->base_url, OPENAI_OFFICIAL) == 0 ||
                  strcmp(ep->base_url, ANTHROPIC_OFFICIAL) == 0;
  if (official && !set(ep->api_key))
    return loom_error_set(
        e, LOOM_ERR_INVALID, "model '%s' needs %s to be set", model,
        ep == &ps->openai ? "OPENAI_API_KEY" : "ANTHROPIC_API_KEY");
  *out = loom_provider_new(ep->ops, ep->name, slash + 1, ep->base_url,
                           ep->api_key);
  return LOOM_OK;
}
