/*
 * lua_sandbox — Lua 5.4 for graph nodes, conditions and reducers, fenced in.
 *
 * One sandbox per run (never shared between threads). It opens only the
 * base, string, table, math and utf8 libraries, and removes everything that
 * reaches outside: no io, os, package, debug, coroutine, require, load,
 * loadfile, dofile, collectgarbage or string.dump, so no bytecode is ever
 * loaded. A custom allocator caps memory; a count hook caps instructions
 * per call. The hook stops a script by yielding out of the coroutine the
 * call runs in, which a `pcall` inside the script cannot catch; the same
 * mechanism carries `interrupt(value)` out of a node.
 *
 * Chunks see their arguments as locals (`state`, `item` for nodes;
 * `current`, `update` for reducers). A chunk may instead return a
 * function, which is then called with those arguments. JSON maps to Lua
 * tables (arrays keep a marker so [] stays []), JSON null to the global
 * `null`, and back.
 */
#ifndef LOOM_ENGINE_LUA_SANDBOX_H
#define LOOM_ENGINE_LUA_SANDBOX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define LOOM_LUA_DEFAULT_MEMORY (32u << 20)
#define LOOM_LUA_DEFAULT_INSTRUCTIONS 10000000ull

struct loom_lua;

/* What a call may do besides returning: raise interrupts, emit events. */
struct loom_lua_call {
  const json_t *const *resume; /* resume values for interrupt() calls, */
  size_t nresume;              /* in order; borrowed */
  /* Set when the call stopped at interrupt(value) with no resume value
   * left: the value passed (new reference, caller decrefs). */
  json_t *interrupt;
  /* Called by emit(value) in the script; `value` is borrowed. */
  void (*emit_cb)(const json_t *value, void *arg);
  void *arg;
};

/* Creates a sandbox; limits of 0 take the defaults above. */
struct loom_lua *loom_lua_new(size_t max_memory, uint64_t max_instructions);
void loom_lua_free(struct loom_lua *lua);

/*
 * Compiles `src` (text only) once under `name` ("node write", used in
 * error messages as "[node write]:LINE: ...") with the given argument
 * names ("state, item"). Later calls with the same `name` reuse it.
 * LOOM_ERR_INVALID with Lua's message on a syntax error.
 */
loom_err loom_lua_compile(struct loom_lua *lua, const char *name,
                          const char *src, const char *params,
                          struct loom_error *e) LOOM_MUST_USE;

/*
 * Runs the chunk compiled as `name` with `nargs` JSON arguments (NULL args
 * become nil) and converts its first result to JSON in `*out` (NULL for
 * nil). `call` may be NULL. Returns LOOM_ERR_INVALID for a runtime error
 * (message names the chunk and line), LOOM_ERR_LIMIT past the memory or
 * instruction limit, and LOOM_OK with call->interrupt set when the script
 * called interrupt() beyond the resume values given.
 */
loom_err loom_lua_run(struct loom_lua *lua, const char *name,
                      const json_t *const *args, size_t nargs,
                      struct loom_lua_call *call, json_t **out,
                      struct loom_error *e) LOOM_MUST_USE;

/* Whether the sandbox may serve another run of the same graph: created
 * with these limits, and no call failed or left a function (with
 * upvalues) behind. Globals and libraries are read-only to scripts. */
bool loom_lua_reusable(const struct loom_lua *lua, size_t max_memory,
                       uint64_t max_instructions);

/* Whether a chunk was compiled under `name` in this sandbox. */
bool loom_lua_has(struct loom_lua *lua, const char *name);

#endif
