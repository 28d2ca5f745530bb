/*
 * channels — state channels: defaults, reducers, versions, applying writes.
 *
 * Values are treated as immutable once stored: a reducer builds a new value
 * (a shallow copy plus the update) instead of changing the old one, so a
 * checkpoint waiting to be written, or a task still reading the state,
 * never sees a later step's writes. Versions are "<20-digit counter>.<16
 * hex random>": they sort by counter, and two branches forked from the
 * same checkpoint never give the same version to different values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/id.h"
#include "engine/internal.h"
#include "engine/lua_sandbox.h"

json_t *loom_engine_initial_values(const struct loom_graph *g) {
  json_t *values = json_object();
  for (size_t i = 0; i < g->nchannels; i++)
    if (g->channels[i].fallback)
      json_object_set(values, g->channels[i].name, g->channels[i].fallback);
  return values;
}

static loom_err reduce_append(json_t *cur, const json_t *value, json_t **out) {
  json_t *next = json_is_array(cur) ? json_copy(cur) : json_array();
  if (cur && !json_is_array(cur) && !json_is_null(cur))
    json_array_append(next, cur);
  if (json_is_array(value))
    json_array_extend(next, (json_t *)value);
  else if (!(json_is_object(value) && !json_object_size(value)))
    json_array_append(next, (json_t *)value); /* {} is Lua's empty list */
  *out = next;
  return LOOM_OK;
}

static loom_err reduce_add(const struct loom_channel *ch, json_t *cur,
                           const json_t *value, json_t **out,
                           struct loom_error *e) {
  if (!json_is_number(value) ||
      (cur && !json_is_null(cur) && !json_is_number(cur)))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "channel '%s' (reducer add) takes numbers", ch->name);
  if ((!cur || json_is_integer(cur) || json_is_null(cur)) &&
      json_is_integer(value))
    *out = json_integer((cur ? json_integer_value(cur) : 0) +
                        json_integer_value(value));
  else
    *out = json_real((cur ? json_number_value(cur) : 0) +
                     json_number_value(value));
  return LOOM_OK;
}

static loom_err reduce_lua(struct loom_lua *lua, const struct loom_channel *ch,
                           json_t *cur, const json_t *value, json_t **out,
                           struct loom_error *e) {
  char *name = loom_asprintf("reducer %s", ch->name);
  const json_t *args[2] = {cur, value};
  loom_err rc =
      loom_lua_compile(lua, name, ch->reducer_lua, "current, update", e);
  if (!rc)
    rc = loom_lua_run(lua, name, args, 2, NULL, out, e);
  loom_free(name);
  if (!rc && !*out)
    *out = json_null();
  return rc;
}

loom_err loom_engine_reduce(struct loom_lua *lua, const struct loom_channel *ch,
                            json_t *values, const json_t *value,
                            struct loom_error *e) {
  json_t *cur = json_object_get(values, ch->name);
  json_t *next = NULL;
  loom_err rc = LOOM_OK;
  switch (ch->reducer) {
  case LOOM_REDUCER_REPLACE:
    next = json_incref((json_t *)value);
    break;
  case LOOM_REDUCER_APPEND:
    rc = reduce_append(cur, value, &next);
    break;
  case LOOM_REDUCER_MERGE:
    if (!json_is_object(value))
      return loom_error_set(e, LOOM_ERR_INVALID,
                            "channel '%s' (reducer merge) takes objects",
                            ch->name);
    next = json_is_object(cur) ? json_copy(cur) : json_object();
    json_object_update(next, (json_t *)value);
    break;
  case LOOM_REDUCER_ADD:
    rc = reduce_add(ch, cur, value, &next, e);
    break;
  case LOOM_REDUCER_LUA:
    rc = reduce_lua(lua, ch, cur, value, &next, e);
    break;
  }
  if (!rc)
    json_object_set_new(values, ch->name, next);
  return rc;
}

static bool type_ok(const struct loom_channel *ch, const json_t *v) {
  const char *t = ch->type;
  if (!t || json_is_null(v) || ch->reducer != LOOM_REDUCER_REPLACE)
    return true;
  if (!strcmp(t, "string"))
    return json_is_string(v);
  if (!strcmp(t, "number"))
    return json_is_number(v);
  if (!strcmp(t, "integer"))
    return json_is_integer(v);
  if (!strcmp(t, "boolean"))
    return json_is_boolean(v);
  if (!strcmp(t, "array") || !strcmp(t, "list"))
    return json_is_array(v);
  if (!strcmp(t, "object"))
    return json_is_object(v);
  return true;
}

static void bump_version(struct loom_run *r, const char *channel) {
  const char *cur = json_string_value(json_object_get(r->versions, channel));
  unsigned long long n = cur ? strtoull(cur, NULL, 10) : 0;
  /* splitmix64 over a per-run random seed: unique enough across branches,
   * and no system call per write. */
  uint64_t z = (r->version_seed += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  unsigned long long rnd = z ^ (z >> 31);
  char v[48];
  snprintf(v, sizeof(v), "%020llu.%016llx", n + 1, rnd);
  json_object_set_new(r->versions, channel, json_string(v));
}

/* Who wrote, for messages: "node 'x'", or "the run's input" and "the
 * command's update" for the writes applied as writers named "input" and
 * "command" ("node 'input'" sent users looking for a node they never
 * declared). */
struct writer_name {
  char text[160];
};
static struct writer_name writer_name(const struct loom_run *r,
                                      const char *node) {
  struct writer_name w;
  if (!strcmp(node, "input") && !loom_graph_node(r->g, node))
    snprintf(w.text, sizeof w.text, "the run's input");
  else if (!strcmp(node, "command") && !loom_graph_node(r->g, node))
    snprintf(w.text, sizeof w.text, "the command's update");
  else
    snprintf(w.text, sizeof w.text, "node '%s'", node);
  return w;
}

static loom_err apply_one(struct loom_run *r, const char *node,
                          const struct loom_channel *ch, const json_t *value,
                          json_t *seen, struct loom_error *e) {
  if (ch->reducer == LOOM_REDUCER_REPLACE && seen) {
    const char *other = json_string_value(json_object_get(seen, ch->name));
    if (other)
      return loom_error_set(
          e, LOOM_ERR_CONFLICT,
          "channel '%s' (reducer replace) was written by '%s' and '%s' in "
          "the same step; give it a reducer (append, merge, add) or write "
          "it from one node",
          ch->name, other, node);
    json_object_set_new(seen, ch->name, json_string(node));
  }
  if (!type_ok(ch, value))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "%s wrote a %s to channel '%s' of type %s",
                          writer_name(r, node).text,
                          json_is_string(value)    ? "string"
                          : json_is_number(value)  ? "number"
                          : json_is_boolean(value) ? "boolean"
                          : json_is_array(value)   ? "list"
                                                   : "object",
                          ch->name, ch->type);
  /* The sandbox only for Lua reducers: a run that never runs Lua (an llm
   * node's) must not cost a Lua state. */
  struct loom_lua *lua =
      ch->reducer == LOOM_REDUCER_LUA ? loom_engine_lua(r) : NULL;
  loom_err rc = loom_engine_reduce(lua, ch, r->values, value, e);
  if (rc)
    return rc;
  bump_version(r, ch->name);
  return LOOM_OK;
}

loom_err loom_engine_apply_writes(struct loom_run *r, const char *node,
                                  const json_t *writes, json_t *seen,
                                  struct loom_error *e) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)writes, k, v) {
    if (!strncmp(k, "__", 2))
      continue;
    const struct loom_channel *ch = loom_graph_channel(r->g, k);
    if (!ch)
      return loom_error_set(e, LOOM_ERR_INVALID,
                            "%s wrote to unknown channel '%s'; declare it "
                            "under state: in graph '%s'",
                            writer_name(r, node).text, k, r->g->name);
    loom_err rc = apply_one(r, node, ch, v, seen, e);
    if (rc)
      return rc;
  }
  return LOOM_OK;
}
