/*
 * edges — which tasks follow a node: static edges, conditions, Lua routes
 * and fan-out, evaluated on the state after the step's writes.
 *
 * A task is {"node": name} or, for fan-out, {"node", "item", "as"}. Plain
 * tasks for the same node are merged (a node triggered by two finished
 * nodes runs once in the next step, as in LangGraph); fan-out tasks never
 * are.
 */
#include <string.h>

#include "core/alloc.h"
#include "engine/internal.h"
#include "engine/lua_sandbox.h"

static void add_task(json_t *next, const char *node) {
  size_t i;
  json_t *t;
  json_array_foreach(next, i, t) {
    if (!json_object_get(t, "item") &&
        !strcmp(json_string_value(json_object_get(t, "node")), node))
      return;
  }
  json_array_append_new(next, json_pack("{ss}", "node", node));
}

static loom_err run_chunk(struct loom_run *r, const struct loom_edge *ed,
                          const json_t *values, json_t **out,
                          struct loom_error *e) {
  struct loom_error le = {0};
  const json_t *args[1] = {values};
  loom_err rc =
      loom_lua_compile(loom_engine_lua(r), ed->name, ed->cond, "state", &le);
  if (!rc)
    rc = loom_lua_run(loom_engine_lua(r), ed->name, args, 1, NULL, out, &le);
  if (rc)
    return loom_error_set(e, rc, "%s:%d: %s (%s -> %s): %s", r->g->file,
                          ed->line, ed->name, ed->from,
                          ed->to ? ed->to : "route", le.message);
  return LOOM_OK;
}

static loom_err route_target(struct loom_run *r, const struct loom_edge *ed,
                             const json_t *v, json_t *next,
                             struct loom_error *e) {
  const char *name = json_string_value(v);
  if (!name || (strcmp(name, LOOM_GRAPH_END) && !loom_graph_node(r->g, name)))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "%s:%d: route from '%s' returned %s, not a node "
                          "name or END",
                          r->g->file, ed->line, ed->from,
                          name ? name : "a non-string");
  if (strcmp(name, LOOM_GRAPH_END))
    add_task(next, name);
  return LOOM_OK;
}

static loom_err follow(struct loom_run *r, const struct loom_edge *ed,
                       const json_t *values, json_t *next,
                       struct loom_error *e) {
  json_t *res = NULL;
  loom_err rc = LOOM_OK;
  switch (ed->type) {
  case LOOM_EDGE_STATIC:
    if (strcmp(ed->to, LOOM_GRAPH_END))
      add_task(next, ed->to);
    return LOOM_OK;
  case LOOM_EDGE_WHEN:
    if ((rc = run_chunk(r, ed, values, &res, e)))
      return rc;
    if (res && !json_is_false(res) && !json_is_null(res) &&
        strcmp(ed->to, LOOM_GRAPH_END))
      add_task(next, ed->to);
    break;
  case LOOM_EDGE_ROUTE:
    if ((rc = run_chunk(r, ed, values, &res, e)))
      return rc;
    if (json_is_array(res)) {
      for (size_t i = 0; !rc && i < json_array_size(res); i++)
        rc = route_target(r, ed, json_array_get(res, i), next, e);
    } else if (res) {
      rc = route_target(r, ed, res, next, e);
    }
    break;
  case LOOM_EDGE_EACH: {
    const json_t *list = json_object_get(values, ed->each);
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
      json_array_append_new(next, json_pack("{sssOss}", "node", ed->to, "item",
                                            item, "as", ed->as));
    }
    break;
  }
  }
  json_decref(res);
  return rc;
}

loom_err loom_engine_successors(struct loom_run *r, const char *node,
                                const json_t *values, json_t *next,
                                struct loom_error *e) {
  for (size_t i = 0; i < r->g->nedges; i++) {
    const struct loom_edge *ed = &r->g->edges[i];
    if (strcmp(ed->from, node))
      continue;
    loom_err rc = follow(r, ed, values, next, e);
    if (rc)
      return rc;
  }
  return LOOM_OK;
}
