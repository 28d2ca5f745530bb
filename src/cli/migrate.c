/*
 * migrate — `loom migrate`: brings the database schema to the current
 * version and prints it. Safe to run again (already applied migrations are
 * skipped), and on a database that serving processes are using.
 */
#include <stdio.h>

#include "cli/cli.h"
#include "stores/store.h"

static const char usage[] =
    "usage: loom migrate [--database-url URL] [--data-dir DIR]\n"
    "\n"
    "Applies the pending schema migrations to the configured database.";

int loom_cli_migrate(int argc, char **argv) {
  struct loom_config c;
  int rc = loom_cli_load_config(argc, argv, usage, &c);
  if (rc >= 0)
    goto out;
  struct loom_error e = {0};
  struct loom_store *store = NULL;
  int version = 0;
  rc = 1;
  if (loom_store_open(c.database_url, c.data_dir, &store, &e) ||
      loom_store_migrate(store, &e) ||
      store->ops->schema_version(store, &version)) {
    fprintf(stderr, "loom migrate: %s\n",
            e.message[0] ? e.message : loom_strerror(e.code));
  } else {
    printf("%s schema at version %d\n", loom_store_backend(store), version);
    rc = 0;
  }
  loom_store_close(store);
out:
  loom_config_cleanup(&c);
  return rc;
}
