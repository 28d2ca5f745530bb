/*
 * fuzz_graph_spec — libFuzzer target for the graph spec loader: YAML or
 * JSON text through libyaml, the line-keeping document tree, validation,
 * the expression compiler and Lua syntax checks. Any input must give a
 * graph or an error, never a crash, leak or hang. A graph that loads is
 * also run once (no store, tight Lua limits) to cover the scheduler.
 */
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct loom_graph *g = NULL;
  struct loom_error e = {0};
  if (loom_graph_load((const char *)data, size, "fuzz.yaml", &g, &e))
    return 0;
  json_t *in = json_object();
  struct loom_run_opts o = {.input = in,
                            .recursion_limit = 8,
                            .lua_memory = 1 << 20,
                            .lua_instructions = 20000};
  struct loom_run *r = NULL;
  if (!loom_run_new(g, &o, &r, &e))
    loom_run_start(r);
  loom_run_free(r);
  json_decref(in);
  loom_graph_free(g);
  return 0;
}
