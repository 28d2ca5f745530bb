/*
 * config_flags — command-line flags as a last configuration layer, so
 * every setting can be given as --flag without a table of flags to keep
 * in step with the settings.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/log.h"

static int fail(const char *what, const char *arg) {
  fprintf(stderr, "loom: %s: %s (see --help)\n", what, arg);
  return 2;
}

/* "--data-dir" → "data_dir" in `out`. */
static void flag_to_field(const char *flag, char *out, size_t size) {
  snprintf(out, size, "%s", flag + 2);
  for (char *p = out; *p; p++)
    if (*p == '-')
      *p = '_';
}

/* The setting (field name) an unknown flag `name` most likely meant:
 * names people bring from other servers, else the nearest setting;
 * NULL when none is near. */
static const char *meant(const char *name) {
  static const char *const alias[][2] = {
      {"port", "addr"},         {"host", "addr"},    {"listen", "addr"},
      {"bind", "addr"},         {"db", "data_dir"},  {"data", "data_dir"},
      {"dir", "data_dir"},      {"graph", "graphs"}, {"log", "log_level"},
      {"loglevel", "log_level"}};
  for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
    if (!strcmp(name, alias[i][0]))
      return alias[i][1];
  return loom_config_suggest(name);
}

static int unknown_flag(const char *arg, const char *name) {
  const char *m = meant(name);
  if (!m)
    return fail("unknown flag", arg);
  char flag[64];
  snprintf(flag, sizeof flag, "%s", m);
  for (char *p = flag; *p; p++)
    if (*p == '_')
      *p = '-';
  fprintf(stderr,
          "loom: unknown flag: %s (did you mean --%s%s?) (see --help)\n", arg,
          flag, !strcmp(m, "addr") ? " HOST:PORT" : "");
  return 2;
}

static int apply_flags(int argc, char **argv, struct loom_config *c) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strncmp(arg, "--", 2) != 0)
      return fail("unexpected argument", arg);
    char name[64];
    flag_to_field(arg, name, sizeof name);
    const char *value;
    char *eq = strchr(name, '=');
    if (eq) {
      *eq = 0;
      value = strchr(arg, '=') + 1;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return fail("missing value for", arg);
    }
    if (strcmp(name, "config") == 0) {
      struct loom_error e;
      if (loom_config_load_file(c, value, &e) != LOOM_OK)
        return fail(e.message, value);
    } else if (loom_config_set(c, name, value) != LOOM_OK) {
      return unknown_flag(arg, name);
    }
  }
  return -1;
}

int loom_cli_load_config(int argc, char **argv, const char *usage,
                         struct loom_config *c) {
  *c = (struct loom_config){0}; /* the caller cleans it up whatever we say */
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("%s\n", usage);
      printf("Every setting below is also a flag: LOOM_DATA_DIR is "
             "--data-dir, DATABASE_URL is --database-url.\n\n");
      loom_config_print_help();
      return 0;
    }
  struct loom_error e;
  if (loom_config_load(c, &e) != LOOM_OK) {
    fprintf(stderr, "loom: %s\n", e.message);
    return 2;
  }
  int rc = apply_flags(argc, argv, c);
  if (rc >= 0)
    return rc;
  if (loom_config_validate(c, &e) != LOOM_OK) {
    fprintf(stderr, "loom: %s\n", e.message);
    return 2;
  }
  enum loom_log_level level;
  if (loom_log_parse_level(c->log_level, &level))
    loom_log_set_level(level);
  return -1;
}
