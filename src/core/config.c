/*
 * config — one table (LOOM_CONFIG_MAP) drives defaults, environment
 * names, file keys and help text, so a setting is added in one place.
 */
#include "core/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"

struct setting {
  const char *field;
  const char *env;
  const char *def;
  const char *desc;
  size_t offset;
};

static const struct setting settings[] = {
#define ROW(field, env, def, desc)                                             \
  {#field, #env, def, desc, offsetof(struct loom_config, field)},
    LOOM_CONFIG_MAP(ROW)
#undef ROW
};
#define NSETTINGS (sizeof settings / sizeof settings[0])

static char **slot(struct loom_config *c, const struct setting *s) {
  return (char **)((char *)c + s->offset);
}

static const struct setting *find(const char *name) {
  for (size_t i = 0; i < NSETTINGS; i++)
    if (strcmp(settings[i].env, name) == 0 ||
        strcmp(settings[i].field, name) == 0)
      return &settings[i];
  return NULL;
}

/* Edit distance of two short names (insert, delete, substitute). */
static size_t distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b), row[64];
  if (la >= 63 || lb >= 63)
    return 99;
  for (size_t j = 0; j <= lb; j++)
    row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      diag = up;
      row[j] = best;
    }
  }
  return row[lb];
}

const char *loom_config_suggest(const char *name) {
  /* One edit is a typo; two only in a long name (past "LOOM_"): else
   * LOOM_NOPE would be "meant" as LOOM_ROLE. */
  size_t core = strlen(name) - (strncmp(name, "LOOM_", 5) ? 0 : 5);
  const char *best = NULL;
  size_t best_d = core >= 8 ? 3 : 2;
  for (size_t i = 0; i < NSETTINGS; i++) {
    size_t de = distance(name, settings[i].env);
    size_t df = distance(name, settings[i].field);
    if (de < best_d)
      best = settings[i].env, best_d = de;
    if (df < best_d)
      best = settings[i].field, best_d = df;
  }
  return best;
}

loom_err loom_config_set(struct loom_config *c, const char *name,
                         const char *value) {
  const struct setting *s = find(name);
  if (!s)
    return LOOM_ERR_NOT_FOUND;
  char **p = slot(c, s);
  loom_free(*p);
  *p = loom_strdup(value);
  return LOOM_OK;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t')
    s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
               s[n - 1] == '\r'))
    s[--n] = 0;
  return s;
}

loom_err loom_config_load_file(struct loom_config *c, const char *path,
                               struct loom_error *e) {
  FILE *f = fopen(path, "r");
  if (!f)
    return loom_error_set(e, LOOM_ERR_INVALID, "cannot read config file %s: %s",
                          path, strerror(errno));
  loom_err result = LOOM_OK;
  char line[4096];
  for (int lineno = 1; fgets(line, sizeof line, f); lineno++) {
    char *t = trim(line);
    if (!*t || *t == '#')
      continue;
    char *eq = strchr(t, '=');
    if (!eq) {
      result = loom_error_set(e, LOOM_ERR_INVALID, "%s:%d: expected NAME=value",
                              path, lineno);
      goto out;
    }
    *eq = 0;
    char *value = trim(eq + 1);
    size_t vlen = strlen(value);
    if (vlen >= 2 && (value[0] == '"' || value[0] == '\'') &&
        value[vlen - 1] == value[0]) { /* NAME="quoted value" */
      value[vlen - 1] = 0;
      value++;
    }
    if (loom_config_set(c, trim(t), value) != LOOM_OK) {
      const char *m = loom_config_suggest(trim(t));
      result = loom_error_set(e, LOOM_ERR_INVALID,
                              "%s:%d: unknown setting '%s'%s%s%s", path, lineno,
                              trim(t), m ? " (did you mean " : "", m ? m : "",
                              m ? "?)" : "");
      goto out;
    }
  }
out:
  fclose(f);
  return result;
}

loom_err loom_config_load(struct loom_config *c, struct loom_error *e) {
  memset(c, 0, sizeof *c);
  for (size_t i = 0; i < NSETTINGS; i++)
    *slot(c, &settings[i]) = loom_strdup(settings[i].def);

  const char *file = getenv("LOOM_CONFIG");
  if (file && *file) {
    loom_err err = loom_config_load_file(c, file, e);
    if (err)
      return err;
  }
  for (size_t i = 0; i < NSETTINGS; i++) {
    const char *v = getenv(settings[i].env);
    if (v) {
      char **p = slot(c, &settings[i]);
      loom_free(*p);
      *p = loom_strdup(v);
    }
  }
  return loom_config_validate(c, e);
}

static bool parse_number(const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  /* Written so NaN fails too: "nan" parses, and compares false both ways
   * (LOOM_MAX_BODY=nan passed, then became a size: undefined behaviour). */
  if (errno || end == s || *end || !(v >= lo && v <= hi))
    return false;
  *out = v;
  return true;
}

static bool one_of(const char *v, const char *const *allowed) {
  for (; *allowed; allowed++)
    if (strcmp(v, *allowed) == 0)
      return true;
  return false;
}

/* The numeric settings and their ranges, checked in this order. */
static const struct number_rule {
  size_t offset; /* of the field in struct loom_config */
  const char *env;
  double min, max;
  const char *unit; /* appended to the range in the message, or "" */
} number_rules[] = {
#define NUM(field, env, min, max, unit)                                        \
  { offsetof(struct loom_config, field), #env, min, max, unit }
    NUM(max_body, LOOM_MAX_BODY, 1, 1e12, " bytes"),
    NUM(grace_seconds, LOOM_GRACE_SECONDS, 0, 3600, " seconds"),
    NUM(idle_timeout, LOOM_IDLE_TIMEOUT, 1, 86400, " seconds"),
    NUM(threads, LOOM_THREADS, 0, 256, ""),
    NUM(run_timeout, LOOM_RUN_TIMEOUT, 0, 31536000, " seconds"),
    NUM(llm_loops, LOOM_LLM_LOOPS, 1, 16, ""),
    NUM(llm_max_connections, LOOM_LLM_MAX_CONNECTIONS, 1, 1000000, ""),
    NUM(sentry_traces_sample_rate, SENTRY_TRACES_SAMPLE_RATE, 0, 1, ""),
#undef NUM
};

loom_err loom_config_validate(const struct loom_config *c,
                              struct loom_error *e) {
  double d;
  enum loom_log_level level;
  static const char *const auths[] = {"none", "apikey", "clerk", NULL};
  static const char *const roles[] = {"all", "api", "worker", NULL};
  static const char *const booleans[] = {"true", "false", "1", "0", NULL};
  static const char *const clients[] = {"auto", "curl", NULL};
  for (size_t i = 0; i < sizeof number_rules / sizeof number_rules[0]; i++) {
    const struct number_rule *n = &number_rules[i];
    const char *v = *(char *const *)((const char *)c + n->offset);
    if (!parse_number(v, n->min, n->max, &d))
      return loom_error_set(e, LOOM_ERR_INVALID,
                            "%s must be %.0f..%.0f%s, got '%s'", n->env, n->min,
                            n->max, n->unit, v ? v : "");
  }
  if (!loom_log_parse_level(c->log_level, &level))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "LOOM_LOG_LEVEL must be debug, info, warn, error or "
                          "off, got '%s'",
                          c->log_level);
  if (!one_of(c->auth, auths))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "LOOM_AUTH must be none, apikey or clerk, got '%s'",
                          c->auth);
  if (!one_of(c->role, roles))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "LOOM_ROLE must be all, api or worker, got '%s'",
                          c->role);
  const struct {
    const char *env, *value;
  } flags[] = {
      {"LOOM_WEBHOOK_ALLOW_PRIVATE", c->webhook_allow_private},
      {"LOOM_WEBHOOK_REQUIRE_HTTPS", c->webhook_require_https},
  };
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
    if (!one_of(flags[i].value ? flags[i].value : "", booleans))
      return loom_error_set(e, LOOM_ERR_INVALID,
                            "%s must be true or false, got '%s'", flags[i].env,
                            flags[i].value ? flags[i].value : "");
  if (!one_of(c->http_client, clients))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "LOOM_HTTP_CLIENT must be auto or curl, got '%s'",
                          c->http_client);
  if (!strchr(c->addr, ':'))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "LOOM_ADDR must be host:port, got '%s'", c->addr);
  return LOOM_OK;
}

size_t loom_config_max_body(const struct loom_config *c) {
  return (size_t)strtod(c->max_body, NULL);
}

double loom_config_run_timeout(const struct loom_config *c) {
  return c->run_timeout ? strtod(c->run_timeout, NULL) : 0;
}

double loom_config_grace_seconds(const struct loom_config *c) {
  return strtod(c->grace_seconds, NULL);
}

bool loom_config_flag(const char *value) {
  return value && (!strcmp(value, "true") || !strcmp(value, "1"));
}

void loom_config_print_help(void) {
  printf("Settings (environment, or NAME=value lines in $LOOM_CONFIG):\n");
  for (size_t i = 0; i < NSETTINGS; i++)
    printf("  %-27s %s%s%s%s\n", settings[i].env, settings[i].desc,
           *settings[i].def ? " [default: " : "", settings[i].def,
           *settings[i].def ? "]" : "");
}

void loom_config_cleanup(struct loom_config *c) {
  for (size_t i = 0; i < NSETTINGS; i++) {
    char **p = slot(c, &settings[i]);
    loom_free(*p);
    *p = NULL;
  }
}
