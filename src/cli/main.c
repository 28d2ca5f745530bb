/*
 * main — `loom <command>`: dispatches to the subcommands in src/cli/.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/run.h"

static const char usage[] =
    "usage: loom <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve     serve the HTTP API (embedded SQLite by default)\n"
    "  migrate   apply database schema migrations\n"
    "  run       run a graph file on a thread, printing events\n"
    "  resume    continue an interrupted thread\n"
    "  ingest    index documents into a retrieval collection\n"
    "  search    query a retrieval collection\n"
    "  version   print the version\n"
    "\n"
    "`loom <command> --help` describes each.";

int main(int argc, char **argv) {
  static const struct {
    const char *name;
    int (*fn)(int, char **);
  } commands[] = {
      {"serve", loom_cli_serve},   {"migrate", loom_cli_migrate},
      {"run", loom_cli_run},       {"resume", loom_cli_resume},
      {"ingest", loom_cli_ingest}, {"search", loom_cli_search},
  };
  if (argc < 2) { /* a usage error: the text goes with errors */
    fprintf(stderr, "%s\n", usage);
    return 2;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    puts(usage);
    return 0;
  }
  if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
    printf("loom %s\n", LOOM_VERSION);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(argv[1], commands[i].name) == 0)
      return commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "loom: unknown command '%s'\n\n%s\n", argv[1], usage);
  return 2;
}
