/*
 * A plug-in whose init fails with a message: loom must report it, naming
 * the file.
 */
#include <stdio.h>

#include "agents/tools_plugin.h"

const int loom_plugin_abi = LOOM_PLUGIN_ABI;

loom_err loom_plugin_init(const struct loom_plugin_host *host,
                          struct loom_error *e);

loom_err loom_plugin_init(const struct loom_plugin_host *host,
                          struct loom_error *e) {
  (void)host;
  e->code = LOOM_ERR_INVALID;
  snprintf(e->message, sizeof e->message, "WEATHER_API_KEY is not set");
  return LOOM_ERR_INVALID;
}
