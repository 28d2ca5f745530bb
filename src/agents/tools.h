/*
 * tools — functions a model may call, described by JSON Schema.
 *
 * A tool is a name, a description, a JSON Schema for its arguments and a
 * function. Tools live in a registry (one per process, filled at start-up
 * by loom and by C plug-ins, read-only afterwards so every loop can use
 * it). loom_tools_invoke is the one way to call a tool: it parses the
 * arguments the model wrote, validates them against the schema and only
 * then runs the tool. Every failure — unknown tool, malformed JSON,
 * arguments that break the schema, the tool's own error — comes back as a
 * result with is_error set and a message written for the model, so the
 * agent loop feeds it back and the model can correct itself; nothing is
 * thrown.
 *
 * A tool runs either synchronously (`run`: quick, non-blocking work such
 * as the calculator) or asynchronously on the caller's loop (`start`: it
 * calls `done` later, e.g. http_fetch over the loop's HTTP client).
 *
 * Tools written in Lua (loom_tools_add_lua, loom_tools_load_file) run
 * synchronously in the engine's Lua sandbox.
 *
 * Built-ins: current_time, calculator (a safe arithmetic evaluator, no
 * names beyond a fixed list of functions) and http_fetch (GET with the io
 * layer's SSRF guard, io/ssrf.h, size and time caps; see tools_fetch.c).
 */
#ifndef LOOM_AGENTS_TOOLS_H
#define LOOM_AGENTS_TOOLS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

struct loom_loop;
struct loom_http_client;

/* Where a tool call runs; tools that need nothing may ignore it. */
struct loom_tool_env {
  struct loom_loop *loop;        /* the caller's loop (async tools) */
  struct loom_http_client *http; /* that loop's HTTP client, or NULL */
  bool allow_private_addresses;  /* http_fetch may reach private nets */
  double timeout_s;              /* cap for one call; 0 = tool default */
};

/* The result of a tool call: text for the model, heap-owned by the
 * callback's caller only for the duration of the callback. */
typedef void (*loom_tool_done_cb)(void *ud, bool is_error, const char *text);

struct loom_tool {
  const char *name;        /* [a-zA-Z0-9_-]{1,64}, as the providers demand */
  const char *description; /* what it does, for the model */
  const char *parameters;  /* JSON Schema text for the arguments object */
  /* Synchronous: on success *out is a heap string (loom_free) for the
   * model; on failure return an error with the message in e. */
  loom_err (*run)(void *self, const json_t *args, char **out,
                  struct loom_error *e);
  /* Asynchronous: must eventually call done(ud, ...) exactly once, on the
   * env's loop, possibly before returning — unless that loop stops first
   * (shutdown): then done is never called, as nothing is left to run it.
   * Return non-OK (and do not call done) when it could not start. */
  loom_err (*start)(void *self, const struct loom_tool_env *env,
                    const json_t *args, loom_tool_done_cb done, void *ud,
                    struct loom_error *e);
  void *self;                    /* passed to run/start */
  void (*free_self)(void *self); /* called when the registry is freed */
};

struct loom_tools;

struct loom_tools *loom_tools_new(void);
void loom_tools_free(struct loom_tools *r);

/*
 * Registers a tool (the struct and its strings are copied). Fails with
 * LOOM_ERR_INVALID when the name is malformed, the schema is not a JSON
 * object, or neither run nor start is set; LOOM_ERR_EXISTS for a name
 * already taken. On failure the registry does not own `self`.
 */
loom_err loom_tools_add(struct loom_tools *r, const struct loom_tool *t,
                        struct loom_error *e) LOOM_MUST_USE;

/* Registers current_time, calculator and http_fetch. */
void loom_tools_add_builtins(struct loom_tools *r);

/* Registers http_fetch alone (loom_tools_add_builtins includes it). */
loom_err loom_tools_add_fetch(struct loom_tools *r,
                              struct loom_error *e) LOOM_MUST_USE;

/*
 * Makes `r` fall back to `parent` for names it does not hold (a graph's
 * own tools over the process's). `parent` must outlive `r`.
 */
void loom_tools_set_parent(struct loom_tools *r,
                           const struct loom_tools *parent);

/*
 * Registers a tool written in Lua (tools_lua.c) from its declaration
 * {"name", "description"?, "parameters"? (JSON Schema), "lua" (the body),
 * "max_instructions"?, "max_memory"?}. The body runs in a fresh engine
 * Lua sandbox per call (no io/os, instruction and memory caps), sees the
 * validated arguments as the table `args`, and returns a string (sent as
 * is), nil ("") or a table (sent as JSON). A Lua error or a limit reached
 * becomes the tool's error message for the model. LOOM_ERR_INVALID for a
 * malformed declaration or a body that does not compile.
 */
loom_err loom_tools_add_lua(struct loom_tools *r, const json_t *decl,
                            struct loom_error *e) LOOM_MUST_USE;

/*
 * Registers every Lua tool of a tool file (YAML or JSON): {tools: [decl,
 * ...]} or the list itself. Errors name the file and the entry.
 */
loom_err loom_tools_load_file(struct loom_tools *r, const char *path,
                              struct loom_error *e) LOOM_MUST_USE;

/* True when a tool of that name is registered. */
bool loom_tools_has(const struct loom_tools *r, const char *name);

/*
 * The declarations of the named tools (all when `names` is NULL; a
 * NULL-terminated list otherwise) as an array of {"name","description",
 * "parameters"} for loom_llm_request.tools. An unknown name is
 * LOOM_ERR_NOT_FOUND with the name in e. The caller owns the array.
 */
loom_err loom_tools_describe(const struct loom_tools *r,
                             const char *const *names, json_t **out,
                             struct loom_error *e) LOOM_MUST_USE;

/*
 * Calls tool `name` with `arguments` (the JSON text the model wrote).
 * done(ud, is_error, text) runs exactly once: synchronously for sync tools
 * and for every validation failure, later on env->loop for async ones.
 */
void loom_tools_invoke(const struct loom_tools *r,
                       const struct loom_tool_env *env, const char *name,
                       const char *arguments, loom_tool_done_cb done, void *ud);

/*
 * Validates `value` against `schema` (a JSON Schema subset: type, enum,
 * const, properties, required, additionalProperties, items, min/max
 * Items/Length, minimum, maximum, exclusiveMinimum/Maximum, pattern,
 * anyOf, oneOf, allOf, not). On failure LOOM_ERR_INVALID with a message
 * naming the place, e.g. "$.city must be a string".
 */
loom_err loom_json_schema_validate(const json_t *schema, const json_t *value,
                                   struct loom_error *e) LOOM_MUST_USE;

/* The calculator's evaluator: LOOM_ERR_INVALID with the reason (bad
 * syntax, unknown name, division by zero, result not finite). */
loom_err loom_calc_eval(const char *expr, double *out,
                        struct loom_error *e) LOOM_MUST_USE;

/*
 * http_fetch's reading of an HTML page for the model (a fetched page is
 * outside input: fuzz_fetch_page): the text of the n bytes at s (which
 * need not be NUL-terminated), tags dropped, script and style skipped,
 * whitespace runs collapsed, appended to `out` until its cap.
 */
struct loom_buf;
void loom_tools_html_text(const char *s, size_t n, struct loom_buf *out);

#endif
