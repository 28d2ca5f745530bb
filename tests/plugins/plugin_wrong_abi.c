/*
 * A plug-in built for another ABI version: loom must refuse it without
 * calling its init (which would fail the test if it ran).
 */
#include <stdlib.h>

#include "agents/tools_plugin.h"

const int loom_plugin_abi = LOOM_PLUGIN_ABI + 1;

loom_err loom_plugin_init(const struct loom_plugin_host *host,
                          struct loom_error *e);

loom_err loom_plugin_init(const struct loom_plugin_host *host,
                          struct loom_error *e) {
  (void)host, (void)e;
  abort();
}
