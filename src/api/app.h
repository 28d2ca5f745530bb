/*
 * app — what every HTTP route can reach: the configuration and the
 * backends chosen at start-up. Built by `loom serve` (src/cli/serve.c),
 * read-only once the server runs; each backend documents its own thread
 * safety.
 */
#ifndef LOOM_API_APP_H
#define LOOM_API_APP_H

#include <stdint.h>

#include "core/config.h"
#include "io/loop.h"
#include "stores/store.h"

struct loom_app {
  const struct loom_config *config;
  struct loom_store *store;
  struct loom_loop_group *loops;
  uint64_t started_ms; /* wall clock at start, for /info uptime */
};

#endif
