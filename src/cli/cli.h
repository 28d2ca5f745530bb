/*
 * cli — the `loom` subcommands. Each is `int loom_cli_<name>(argc, argv)`
 * with argv[0] the subcommand name, returning the process exit code.
 */
#ifndef LOOM_CLI_CLI_H
#define LOOM_CLI_CLI_H

#include "core/config.h"

int loom_cli_serve(int argc, char **argv);
int loom_cli_migrate(int argc, char **argv);
int loom_cli_ingest(int argc, char **argv);
int loom_cli_search(int argc, char **argv);

/*
 * Loads the configuration (defaults, LOOM_CONFIG file, environment) and
 * applies flags on top: `--config FILE`, and `--<setting> VALUE` or
 * `--<setting>=VALUE` for any setting (field name with '-' for '_', e.g.
 * `--data-dir`, `--addr`). Prints `usage` and the settings for --help.
 * Returns -1 to continue, or an exit code (0 after --help, 2 on a bad flag
 * or value, with the reason on stderr).
 */
int loom_cli_load_config(int argc, char **argv, const char *usage,
                         struct loom_config *c);

#endif
