/*
 * tools_plugin — see tools_plugin.h. dlopen with RTLD_NOW (a missing
 * symbol fails at load, not at the first call) and RTLD_LOCAL (two
 * plug-ins' private names cannot collide); the handle is never closed, as
 * the registry keeps pointers into the plug-in.
 */
#include "agents/tools_plugin.h"

#include <dlfcn.h>
#include <limits.h>
#include <string.h>

static loom_err load_one(struct loom_tools *tools, const char *path,
                         struct loom_error *e) {
  /* A bare name would be looked up in the system's library paths (and
   * whatever is found there run): a plug-in is named by its path. */
  if (!strchr(path, '/'))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "LOOM_TOOL_PLUGINS: '%s' is not a path (write "
                          "./%s for a file here)",
                          path, path);
  void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!so)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "LOOM_TOOL_PLUGINS: cannot load '%s': %s", path,
                          dlerror());
  const int *abi = dlsym(so, "loom_plugin_abi");
  loom_plugin_init_fn init = (loom_plugin_init_fn)dlsym(so, "loom_plugin_init");
  loom_err err = LOOM_OK;
  if (!abi || !init)
    err = loom_error_set(e, LOOM_ERR_INVALID,
                         "LOOM_TOOL_PLUGINS: '%s' exports no %s", path,
                         !abi ? "loom_plugin_abi" : "loom_plugin_init");
  else if (*abi != LOOM_PLUGIN_ABI)
    err = loom_error_set(e, LOOM_ERR_INVALID,
                         "LOOM_TOOL_PLUGINS: '%s' was built for plug-in ABI "
                         "%d; this loom speaks %d (rebuild it)",
                         path, *abi, LOOM_PLUGIN_ABI);
  if (err) {
    dlclose(so);
    return err;
  }
  struct loom_plugin_host host = {
      .abi = LOOM_PLUGIN_ABI, .tools = tools, .add_tool = loom_tools_add};
  struct loom_error pe = {0};
  if ((err = init(&host, &pe)) != LOOM_OK) {
    /* Tools it added before failing may point into it: keep it loaded. */
    pe.message[sizeof pe.message - 1] = '\0';
    return loom_error_set(e, err, "LOOM_TOOL_PLUGINS: '%s': %s", path,
                          pe.message[0] ? pe.message : "its init failed");
  }
  return LOOM_OK;
}

loom_err loom_tools_load_plugins(struct loom_tools *tools, const char *paths,
                                 struct loom_error *e) {
  for (const char *p = paths; p && *p;) {
    size_t n = strcspn(p, ":");
    char path[PATH_MAX];
    if (n >= sizeof path)
      return loom_error_set(e, LOOM_ERR_INVALID,
                            "LOOM_TOOL_PLUGINS: a path is over %zu bytes",
                            sizeof path - 1);
    memcpy(path, p, n);
    path[n] = '\0';
    loom_err err = n ? load_one(tools, path, e) : LOOM_OK;
    if (err)
      return err;
    p += n + (p[n] == ':');
  }
  return LOOM_OK;
}
