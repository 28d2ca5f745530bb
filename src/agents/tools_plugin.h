/*
 * tools_plugin — tools written in C, compiled apart from loom into a
 * shared object and loaded at start-up (LOOM_TOOL_PLUGINS, a ':'-separated
 * list of paths), so a team adds its own tools to an installed loom
 * without rebuilding it.
 *
 * A plug-in includes this header and exports two symbols:
 *
 *   const int loom_plugin_abi = LOOM_PLUGIN_ABI;
 *   loom_err loom_plugin_init(const struct loom_plugin_host *host,
 *                             struct loom_error *e);
 *
 * loom refuses a plug-in built against another ABI version before calling
 * anything in it. loom_plugin_init registers the plug-in's tools through
 * host->add_tool (the same contract as loom_tools_add: name, description,
 * JSON Schema of the arguments, a synchronous `run` or an asynchronous
 * `start`; arguments are validated against the schema before the tool is
 * called). The plug-in calls nothing else in loom, so loom need not export
 * its symbols; it may link what it likes (jansson for the arguments).
 * Plug-ins stay loaded for the life of the process. examples/plugins/ has
 * one to start from.
 */
#ifndef LOOM_AGENTS_TOOLS_PLUGIN_H
#define LOOM_AGENTS_TOOLS_PLUGIN_H

#include "agents/tools.h"
#include "core/err.h"

/* Bumped whenever struct loom_plugin_host or struct loom_tool changes. */
#define LOOM_PLUGIN_ABI 1

struct loom_plugin_host {
  int abi; /* LOOM_PLUGIN_ABI of the loom loading the plug-in */
  struct loom_tools *tools;
  loom_err (*add_tool)(struct loom_tools *tools, const struct loom_tool *t,
                       struct loom_error *e);
};

typedef loom_err (*loom_plugin_init_fn)(const struct loom_plugin_host *host,
                                        struct loom_error *e);

/*
 * Loads each plug-in named in `paths` (':'-separated paths, each with a
 * '/'; empty entries are skipped) into `tools`, in order. Stops at the first
 * that cannot be loaded, has no loom_plugin_init, was built for another ABI or
 * fails its init; the message names the file and says which.
 */
loom_err loom_tools_load_plugins(struct loom_tools *tools, const char *paths,
                                 struct loom_error *e) LOOM_MUST_USE;

#endif
