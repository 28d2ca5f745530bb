/*
 * tools_lua — tools whose body is Lua, run in the engine's sandbox.
 *
 * A declaration {name, description, parameters, lua, max_instructions?,
 * max_memory?} becomes a synchronous tool. Each call gets a fresh sandbox
 * (lua_sandbox.h: no io/os/package/load, memory and instruction caps), the
 * chunk sees the validated arguments as the local `args` (a table) and
 * returns a string (given to the model as is), nil (""), or any other
 * value (given as compact JSON, keys sorted). A Lua error, a limit reached, or
 * an interrupt() call is the tool's error, which loom_tools_invoke feeds back
 * to the model; it never fails the run. The body is compiled once when the
 * tool is declared, so a syntax error is reported at load.
 *
 * A tool file (YAML or JSON) is {tools: [declaration, ...]} or the list
 * itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/tools.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "engine/doc.h"
#include "engine/lua_sandbox.h"

/* Lua tools run on the caller's loop: keep a runaway body short. */
#define LUA_TOOL_INSTRUCTIONS 5000000ull
#define LUA_TOOL_MEMORY (16u << 20)

struct lua_tool {
  char *name; /* chunk name: "tool NAME" */
  char *src;
  uint64_t max_instructions;
  size_t max_memory;
};

static void lua_tool_free(void *self) {
  struct lua_tool *lt = self;
  if (!lt)
    return;
  loom_free(lt->name);
  loom_free(lt->src);
  loom_free(lt);
}

/* The chunk's first result as the text for the model. */
static char *result_text(const json_t *v) {
  if (!v || json_is_null(v))
    return loom_strdup("");
  if (json_is_string(v))
    return loom_strdup(json_string_value(v));
  /* Sorted keys: Lua tables have no order, the model should see one. */
  char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  char *out = loom_strdup(text ? text : "null");
  free(text);
  return out;
}

static loom_err lua_tool_run(void *self, const json_t *args, char **out,
                             struct loom_error *e) {
  struct lua_tool *lt = self;
  struct loom_lua *lua = loom_lua_new(lt->max_memory, lt->max_instructions);
  struct loom_lua_call call = {0};
  json_t *res = NULL;
  loom_err err = loom_lua_compile(lua, lt->name, lt->src, "args", e);
  if (!err)
    err = loom_lua_run(lua, lt->name, &args, 1, &call, &res, e);
  if (!err && call.interrupt)
    err =
        loom_error_set(e, LOOM_ERR_INVALID,
                       "[%s]: interrupt() is not available in tools", lt->name);
  if (!err)
    *out = result_text(res);
  json_decref(call.interrupt);
  json_decref(res);
  loom_lua_free(lua);
  return err;
}

static json_t *schema_or_default(const json_t *decl) {
  json_t *p = json_object_get(decl, "parameters");
  return p ? json_incref(p)
           : json_pack("{s:s, s:{}}", "type", "object", "properties");
}

loom_err loom_tools_add_lua(struct loom_tools *r, const json_t *decl,
                            struct loom_error *e) {
  const char *name = json_string_value(json_object_get(decl, "name"));
  const char *src = json_string_value(json_object_get(decl, "lua"));
  const json_t *desc = json_object_get(decl, "description");
  if (!json_is_object(decl) || !name || !src || (desc && !json_is_string(desc)))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "a Lua tool needs 'name' and 'lua' strings (and "
                          "optionally 'description' and 'parameters')");
  struct lua_tool *lt = LOOM_NEW(struct lua_tool);
  lt->name = loom_asprintf("tool %s", name);
  lt->src = loom_strdup(src);
  json_int_t mi = json_integer_value(json_object_get(decl, "max_instructions"));
  json_int_t mm = json_integer_value(json_object_get(decl, "max_memory"));
  lt->max_instructions = mi > 0 ? (uint64_t)mi : LUA_TOOL_INSTRUCTIONS;
  lt->max_memory = mm > 0 ? (size_t)mm : LUA_TOOL_MEMORY;
  /* Compile once now, so a syntax error is reported at load. */
  struct loom_lua *lua = loom_lua_new(lt->max_memory, lt->max_instructions);
  loom_err err = loom_lua_compile(lua, lt->name, src, "args", e);
  loom_lua_free(lua);
  json_t *schema = schema_or_default(decl);
  char *params = json_is_object(schema) ? loom_json_dump(schema) : NULL;
  json_decref(schema);
  if (!err) {
    struct loom_tool t = {.name = name,
                          .description = json_string_value(desc),
                          .parameters = params,
                          .run = lua_tool_run,
                          .self = lt,
                          .free_self = lua_tool_free};
    err = params ? loom_tools_add(r, &t, e)
                 : loom_error_set(e, LOOM_ERR_INVALID,
                                  "tool '%s': parameters "
                                  "must be a JSON Schema object",
                                  name);
  }
  loom_free(params);
  if (err)
    lua_tool_free(lt);
  return err;
}

static loom_err add_list(struct loom_tools *r, const json_t *list,
                         const char *path, struct loom_error *e) {
  if (!json_is_array(list))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "%s: expected {tools: [...]} or a list of tools",
                          path);
  size_t i;
  const json_t *d;
  json_array_foreach(list, i, d) {
    struct loom_error sub = {0};
    loom_err err = loom_tools_add_lua(r, d, &sub);
    if (err)
      return loom_error_set(e, err, "%s: tools[%zu]: %s", path, i, sub.message);
  }
  return LOOM_OK;
}

static loom_err read_all(const char *path, struct loom_buf *b,
                         struct loom_error *e) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return loom_error_set(e, LOOM_ERR_NOT_FOUND, "cannot read tool file '%s'",
                          path);
  char chunk[4096];
  size_t n;
  loom_err err = LOOM_OK;
  while (!err && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
    err = loom_buf_append(b, chunk, n);
  fclose(f);
  if (err)
    return loom_error_set(e, err, "tool file '%s' is over 1 MiB", path);
  return LOOM_OK;
}

loom_err loom_tools_load_file(struct loom_tools *r, const char *path,
                              struct loom_error *e) {
  struct loom_buf b;
  loom_buf_init(&b, LOOM_DOC_MAX_BYTES);
  struct loom_doc doc = {0};
  struct loom_error sub = {0};
  loom_err err = read_all(path, &b, e);
  if (err)
    goto out;
  if ((err = loom_doc_parse(b.data ? b.data : "", b.len, &doc, &sub))) {
    err = loom_error_set(e, err, "%s: %s", path, sub.message);
    goto out;
  }
  const json_t *list =
      json_is_object(doc.root) ? json_object_get(doc.root, "tools") : doc.root;
  err = add_list(r, list, path, e);
  loom_doc_cleanup(&doc);
out:
  loom_buf_cleanup(&b);
  return err;
}
