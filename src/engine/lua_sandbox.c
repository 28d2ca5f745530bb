/*
 * lua_sandbox — see lua_sandbox.h for the rules; this is how they hold.
 *
 * Memory: the allocator counts live bytes and refuses to grow past the cap
 * (Lua raises "not enough memory"). Instructions: a count hook every
 * HOOK_EVERY instructions draws down a per-call budget and, when it runs
 * out, yields out of the call's coroutine. Chunks live in a registry table
 * keyed by name; a chunk that returned a function is replaced by that
 * function after its first call.
 */
#include "engine/lua_sandbox.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"

#define HOOK_EVERY 1000
#define CONVERT_MAX_DEPTH 64

enum stop { STOP_NONE, STOP_LIMIT, STOP_INTERRUPT };

struct loom_lua {
  lua_State *L;
  size_t used, max_memory;
  uint64_t max_instructions, budget;
  enum stop stop;
  bool tainted; /* holds state from a run: not to be reused */
  struct loom_lua_call *call;
  size_t interrupts_seen;
};

static char null_key, array_key, chunks_key, direct_key;

static struct loom_lua *sandbox_of(lua_State *L) {
  return *(struct loom_lua **)lua_getextraspace(L);
}

static void *alloc_cb(void *ud, void *ptr, size_t osize, size_t nsize) {
  struct loom_lua *s = ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    s->used -= old;
    free(ptr);
    return NULL;
  }
  if (nsize > old && s->used + (nsize - old) > s->max_memory)
    return NULL;
  void *p = realloc(ptr, nsize);
  if (p)
    s->used = s->used - old + nsize;
  return p;
}

static void hook_cb(lua_State *L, lua_Debug *ar) {
  (void)ar;
  struct loom_lua *s = sandbox_of(L);
  if (s->budget <= HOOK_EVERY) {
    s->stop = STOP_LIMIT;
    lua_yield(L, 0);
    return;
  }
  s->budget -= HOOK_EVERY;
}

/* ---- JSON <-> Lua ---- */

static void push_json(lua_State *L, const json_t *v, int depth) {
  if (!v || depth > CONVERT_MAX_DEPTH || !lua_checkstack(L, 4)) {
    lua_pushnil(L);
    return;
  }
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    lua_createtable(L, 0, (int)json_object_size(v));
    const char *k;
    json_t *item;
    json_object_foreach((json_t *)v, k, item) {
      push_json(L, item, depth + 1);
      lua_setfield(L, -2, k);
    }
    break;
  }
  case JSON_ARRAY: {
    lua_createtable(L, (int)json_array_size(v), 0);
    for (size_t i = 0; i < json_array_size(v); i++) {
      const json_t *item = json_array_get(v, i);
      if (json_is_null(item))
        lua_pushlightuserdata(L, &null_key);
      else
        push_json(L, item, depth + 1);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &array_key);
    lua_setmetatable(L, -2);
    break;
  }
  case JSON_STRING:
    lua_pushlstring(L, json_string_value(v), json_string_length(v));
    break;
  case JSON_INTEGER:
    lua_pushinteger(L, json_integer_value(v));
    break;
  case JSON_REAL:
    lua_pushnumber(L, json_real_value(v));
    break;
  case JSON_TRUE:
    lua_pushboolean(L, 1);
    break;
  case JSON_FALSE:
    lua_pushboolean(L, 0);
    break;
  default:
    lua_pushnil(L);
  }
}

static loom_err to_json(lua_State *L, int idx, int depth, json_t **out,
                        struct loom_error *e);

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Tables with the array marker, or keys exactly 1..n (n > 0), are arrays. */
static bool table_is_array(lua_State *L, int idx, size_t *n) {
  *n = (size_t)lua_rawlen(L, idx);
  if (lua_getmetatable(L, idx)) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &array_key);
    bool marked = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (marked)
      return true;
  }
  if (*n == 0)
    return false;
  size_t count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    count++;
  }
  return count == *n;
}

static loom_err table_to_json(lua_State *L, int idx, int depth, json_t **out,
                              struct loom_error *e) {
  size_t n;
  loom_err rc = LOOM_OK;
  if (table_is_array(L, idx, &n)) {
    json_t *arr = json_array();
    for (size_t i = 1; i <= n && !rc; i++) {
      lua_rawgeti(L, idx, (lua_Integer)i);
      json_t *item = NULL;
      rc = to_json(L, lua_gettop(L), depth + 1, &item, e);
      lua_pop(L, 1);
      if (!rc)
        json_array_append_new(arr, item ? item : json_null());
      else
        json_decref(item);
    }
    if (rc)
      json_decref(arr);
    *out = rc ? NULL : arr;
    return rc;
  }
  /* Collect keys first so objects come out in a stable (sorted) order. */
  size_t cap = 16, nkeys = 0;
  char **keys = loom_malloc(cap * sizeof(*keys));
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      rc = loom_error_set(e, LOOM_ERR_INVALID,
                          "a table key is not a string; use string keys for "
                          "objects or 1..n for lists");
      lua_pop(L, 1);
      break;
    }
    if (nkeys == cap)
      keys = loom_realloc(keys, (cap *= 2) * sizeof(*keys));
    keys[nkeys++] = loom_strdup(lua_tostring(L, -1));
  }
  qsort(keys, nkeys, sizeof(*keys), cmp_str);
  json_t *obj = json_object();
  for (size_t i = 0; i < nkeys; i++) {
    if (!rc) {
      lua_getfield(L, idx, keys[i]);
      json_t *item = NULL;
      rc = to_json(L, lua_gettop(L), depth + 1, &item, e);
      lua_pop(L, 1);
      if (!rc && item)
        json_object_set_new(obj, keys[i], item);
      else
        json_decref(item);
    }
    loom_free(keys[i]);
  }
  loom_free(keys);
  if (rc)
    json_decref(obj);
  *out = rc ? NULL : obj;
  return rc;
}

/* Converts the value at `idx`; nil gives *out = NULL. */
static loom_err to_json(lua_State *L, int idx, int depth, json_t **out,
                        struct loom_error *e) {
  *out = NULL;
  if (depth > CONVERT_MAX_DEPTH)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "value nested deeper than %d levels (a cycle?)",
                          CONVERT_MAX_DEPTH);
  if (!lua_checkstack(L, 4))
    return loom_error_set(e, LOOM_ERR_LIMIT, "Lua stack exhausted");
  switch (lua_type(L, idx)) {
  case LUA_TNIL:
    return LOOM_OK;
  case LUA_TBOOLEAN:
    *out = json_boolean(lua_toboolean(L, idx));
    return LOOM_OK;
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) {
      *out = json_integer(lua_tointeger(L, idx));
      return LOOM_OK;
    }
    if (!isfinite(lua_tonumber(L, idx)))
      return loom_error_set(e, LOOM_ERR_INVALID, "NaN or infinity in result");
    *out = json_real(lua_tonumber(L, idx));
    return LOOM_OK;
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    *out = json_stringn(s, len);
    if (!*out)
      return loom_error_set(e, LOOM_ERR_INVALID, "string is not UTF-8");
    return LOOM_OK;
  }
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == &null_key) {
      *out = json_null();
      return LOOM_OK;
    }
    break;
  case LUA_TTABLE:
    return table_to_json(L, idx, depth, out, e);
  default:
    break;
  }
  return loom_error_set(e, LOOM_ERR_INVALID, "a %s cannot become JSON",
                        luaL_typename(L, idx));
}

/* ---- functions given to scripts ---- */

static int interrupt_fn(lua_State *L) {
  struct loom_lua *s = sandbox_of(L);
  struct loom_lua_call *call = s->call;
  size_t n = s->interrupts_seen++;
  if (call && n < call->nresume) {
    push_json(L, call->resume[n], 0);
    return 1;
  }
  if (!call)
    return luaL_error(L, "interrupt() is only available inside a node");
  json_t *v = NULL;
  struct loom_error e = {0};
  if (to_json(L, 1, 0, &v, &e))
    return luaL_error(L, "interrupt(value): %s", e.message);
  call->interrupt = v ? v : json_null();
  s->stop = STOP_INTERRUPT;
  return lua_yield(L, 0);
}

static int emit_fn(lua_State *L) {
  struct loom_lua *s = sandbox_of(L);
  json_t *v = NULL;
  struct loom_error e = {0};
  if (to_json(L, 1, 0, &v, &e))
    return luaL_error(L, "emit(value): %s", e.message);
  if (s->call && s->call->emit_cb)
    s->call->emit_cb(v, s->call->arg);
  json_decref(v);
  return 0;
}

static int print_fn(lua_State *L) {
  (void)L;
  return 0; /* nodes have no terminal; emit() is the way out */
}

static void strip_globals(lua_State *L) {
  static const char *const banned[] = {
      "dofile", "loadfile", "load", "require", "collectgarbage", "loadstring"};
  for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++) {
    lua_pushnil(L);
    lua_setglobal(L, banned[i]);
  }
  lua_getglobal(L, "string");
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  lua_pop(L, 1);
}

static void open_libs(lua_State *L) {
  static const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},
                                  {LUA_STRLIBNAME, luaopen_string},
                                  {LUA_TABLIBNAME, luaopen_table},
                                  {LUA_MATHLIBNAME, luaopen_math},
                                  {LUA_UTF8LIBNAME, luaopen_utf8}};
  for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
    luaL_requiref(L, libs[i].name, libs[i].func, 1);
    lua_pop(L, 1);
  }
  strip_globals(L);
  lua_register(L, "interrupt", interrupt_fn);
  lua_register(L, "emit", emit_fn);
  lua_register(L, "print", print_fn);
  lua_pushlightuserdata(L, &null_key);
  lua_setglobal(L, "null");
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &array_key);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &chunks_key);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &direct_key);
  /* Globals and libraries are read-only, so a sandbox reused for the next
   * run of the same graph carries nothing over from the last one. */
  static const char lock[] =
      "local function lock(t, name)\n"
      "  return setmetatable({}, {__index = t, __metatable = false,\n"
      "    __newindex = function() error(name .. ' is read-only', 2) end})\n"
      "end\n"
      "for _, n in ipairs({'string', 'table', 'math', 'utf8'}) do\n"
      "  _G[n] = lock(_G[n], n)\n"
      "end\n"
      "getmetatable('').__metatable = false\n"
      "rawset = nil\n"
      "setmetatable(_G, {__metatable = false, __newindex = function(_, k)\n"
      "  error(\"cannot set global '\" .. tostring(k) ..\n"
      "        \"': globals are read-only; use local\", 2) end})\n";
  if (luaL_loadbufferx(L, lock, sizeof(lock) - 1, "=lock", "t") ||
      lua_pcall(L, 0, 0, 0))
    abort(); /* fixed code: cannot fail short of memory */
}

struct loom_lua *loom_lua_new(size_t max_memory, uint64_t max_instructions) {
  struct loom_lua *s = LOOM_NEW(struct loom_lua);
  s->max_memory = max_memory ? max_memory : LOOM_LUA_DEFAULT_MEMORY;
  s->max_instructions =
      max_instructions ? max_instructions : LOOM_LUA_DEFAULT_INSTRUCTIONS;
  s->L = lua_newstate(alloc_cb, s);
  if (!s->L)
    abort(); /* the cap is far above what an empty state needs */
  *(struct loom_lua **)lua_getextraspace(s->L) = s;
  open_libs(s->L);
  return s;
}

void loom_lua_free(struct loom_lua *lua) {
  if (!lua)
    return;
  lua_close(lua->L);
  loom_free(lua);
}

bool loom_lua_has(struct loom_lua *lua, const char *name) {
  lua_rawgetp(lua->L, LUA_REGISTRYINDEX, &chunks_key);
  bool has = lua_getfield(lua->L, -1, name) == LUA_TFUNCTION;
  lua_pop(lua->L, 2);
  return has;
}

loom_err loom_lua_compile(struct loom_lua *lua, const char *name,
                          const char *src, const char *params,
                          struct loom_error *e) {
  if (loom_lua_has(lua, name))
    return LOOM_OK;
  lua_State *L = lua->L;
  /* The parameter line shares line 1 with the source: line numbers in
   * messages stay those of the spec's code. */
  char *code = loom_asprintf("local %s = ...; %s", params, src);
  char *chunkname = loom_asprintf("=[%s]", name);
  lua->budget = lua->max_instructions;
  int rc = luaL_loadbufferx(L, code, strlen(code), chunkname, "t");
  loom_free(code);
  loom_free(chunkname);
  if (rc != LUA_OK) {
    loom_err err =
        loom_error_set(e, LOOM_ERR_INVALID, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return err;
  }
  lua_rawgetp(L, LUA_REGISTRYINDEX, &chunks_key);
  lua_insert(L, -2);
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
  return LOOM_OK;
}

static bool is_direct(lua_State *L, const char *name) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &direct_key);
  bool d = lua_getfield(L, -1, name) == LUA_TBOOLEAN;
  lua_pop(L, 2);
  return d;
}

/* The chunk returned a function: from now on, `name` is that function. */
static void make_direct(lua_State *L, lua_State *co, int idx,
                        const char *name) {
  lua_pushvalue(co, idx);
  lua_xmove(co, L, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &chunks_key);
  lua_insert(L, -2);
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &direct_key);
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
}

static loom_err failed(struct loom_lua *s, lua_State *co, int status,
                       const char *name, struct loom_error *e) {
  if (status == LUA_YIELD)
    return loom_error_set(e, LOOM_ERR_LIMIT,
                          "[%s]: instruction limit of %llu reached", name,
                          (unsigned long long)s->max_instructions);
  if (status == LUA_ERRMEM)
    return loom_error_set(e, LOOM_ERR_LIMIT,
                          "[%s]: memory limit of %zu bytes reached", name,
                          s->max_memory);
  const char *msg = lua_tostring(co, -1);
  return loom_error_set(e, LOOM_ERR_INVALID, "%s",
                        msg ? msg : "error with a non-string value");
}

loom_err loom_lua_run(struct loom_lua *lua, const char *name,
                      const json_t *const *args, size_t nargs,
                      struct loom_lua_call *call, json_t **out,
                      struct loom_error *e) {
  lua_State *L = lua->L;
  *out = NULL;
  int base = lua_gettop(L);
  lua_State *co = lua_newthread(L);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &chunks_key);
  if (lua_getfield(L, -1, name) != LUA_TFUNCTION) {
    lua_settop(L, base);
    return loom_error_set(e, LOOM_ERR_INTERNAL, "no Lua chunk named '%s'",
                          name);
  }
  lua_xmove(L, co, 1);
  bool direct = is_direct(L, name);
  for (size_t i = 0; i < nargs; i++)
    push_json(co, args[i], 0);
  lua->budget = lua->max_instructions;
  lua->stop = STOP_NONE;
  lua->call = call;
  lua->interrupts_seen = 0;
  lua_sethook(co, hook_cb, LUA_MASKCOUNT, HOOK_EVERY);
  int nres = 0;
  int status = lua_resume(co, L, (int)nargs, &nres);
  lua->call = NULL;
  loom_err rc = LOOM_OK;
  if (status == LUA_YIELD && lua->stop == STOP_INTERRUPT) {
    rc = LOOM_OK;
  } else if (status != LUA_OK) {
    lua->tainted = true;
    rc = failed(lua, co, status, name, e);
  } else if (nres > 0) {
    int idx = lua_gettop(co) - nres + 1;
    if (!direct && lua_type(co, idx) == LUA_TFUNCTION) {
      lua->tainted = true; /* the function may keep upvalues */
      make_direct(L, co, idx, name);
      lua_settop(L, base);
      return loom_lua_run(lua, name, args, nargs, call, out, e);
    }
    struct loom_error ce = {0};
    if (to_json(co, idx, 0, out, &ce))
      rc = loom_error_set(e, LOOM_ERR_INVALID, "[%s]: result: %s", name,
                          ce.message);
  }
  lua_settop(L, base);
  return rc;
}

bool loom_lua_reusable(const struct loom_lua *lua, size_t max_memory,
                       uint64_t max_instructions) {
  return !lua->tainted &&
         lua->max_memory ==
             (max_memory ? max_memory : LOOM_LUA_DEFAULT_MEMORY) &&
         lua->max_instructions == (max_instructions
                                       ? max_instructions
                                       : LOOM_LUA_DEFAULT_INSTRUCTIONS);
}
