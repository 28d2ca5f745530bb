/*
 * spec — builds and checks a struct loom_graph from a parsed document.
 *
 * Every problem is reported with the line of the value at fault (doc.h
 * keeps them), in the form "file:line: field: problem". The order is:
 * state channels, nodes (each kind checks its own config), edges, the
 * interrupt lists, then whole-graph checks (START has an edge, every node
 * is reachable from START).
 */
#include "engine/spec.h"

#include <ctype.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "engine/doc.h"
#include "engine/engine.h"
#include "engine/internal.h"
#include "engine/lua_sandbox.h"

struct ctx {
  const struct loom_doc *doc;
  const char *file;
  const char *dir;
  int depth;
  struct loom_lua *lua; /* syntax checks only */
  struct loom_error *e;
};

static loom_err bad(struct ctx *c, const json_t *at, const char *field,
                    const char *fmt, ...) LOOM_PRINTF(4, 5);

static loom_err bad(struct ctx *c, const json_t *at, const char *field,
                    const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  int line = at ? loom_doc_line(c->doc, at) : 0;
  return loom_error_set(c->e, LOOM_ERR_INVALID, "%s:%d: %s: %s", c->file, line,
                        field, msg);
}

static bool valid_name(const char *s) {
  if (!*s || strlen(s) > 128)
    return false;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
      return false;
  return true;
}

/* ---- state ---- */

static loom_err parse_reducer(struct ctx *c, const char *name, const json_t *r,
                              struct loom_channel *ch) {
  static const char *const names[] = {"replace", "append", "merge", "add"};
  char field[200];
  snprintf(field, sizeof(field), "state.%s.reducer", name);
  if (!r)
    return LOOM_OK;
  if (json_is_string(r)) {
    for (size_t i = 0; i < 4; i++)
      if (!strcmp(json_string_value(r), names[i])) {
        ch->reducer = (enum loom_reducer)i;
        return LOOM_OK;
      }
    return bad(c, r, field,
               "unknown reducer '%s'; use replace, append, merge, add or "
               "{lua: CODE}",
               json_string_value(r));
  }
  const json_t *src = json_object_get(r, "lua");
  if (!json_is_object(r) || !json_is_string(src) || json_object_size(r) != 1)
    return bad(c, r, field, "must be a reducer name or {lua: CODE}");
  ch->reducer = LOOM_REDUCER_LUA;
  ch->reducer_lua = loom_strdup(json_string_value(src));
  char *chunk = loom_asprintf("reducer %s", name);
  struct loom_error le = {0};
  loom_err rc =
      loom_lua_compile(c->lua, chunk, ch->reducer_lua, "current, update", &le);
  loom_free(chunk);
  return rc ? bad(c, src, field, "%s", le.message) : LOOM_OK;
}

static loom_err parse_channel(struct ctx *c, const char *name,
                              const json_t *def, struct loom_channel *ch) {
  static const char *const types[] = {"string", "number", "integer", "boolean",
                                      "array",  "object", "any",     "list"};
  char field[200];
  snprintf(field, sizeof(field), "state.%s", name);
  ch->name = loom_strdup(name);
  ch->line = loom_doc_line(c->doc, def);
  if (!valid_name(name))
    return bad(c, def, field, "channel names use letters, digits, _ - .");
  if (json_is_null(def))
    return LOOM_OK;
  if (!json_is_object(def))
    return bad(c, def, field, "must be a mapping {type, default, reducer}");
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)def, k, v) {
    if (strcmp(k, "type") && strcmp(k, "default") && strcmp(k, "reducer") &&
        strcmp(k, "description"))
      return bad(c, v, field,
                 "unknown field '%s'; a channel has type, default, reducer, "
                 "description",
                 k);
  }
  const json_t *type = json_object_get(def, "type");
  if (type) {
    bool ok = false;
    for (size_t i = 0; json_is_string(type) && i < 8; i++)
      ok |= !strcmp(json_string_value(type), types[i]);
    if (!ok)
      return bad(c, type, field,
                 "type must be string, number, integer, boolean, array, "
                 "object or any");
    ch->type = loom_strdup(json_string_value(type));
  }
  const json_t *dflt = json_object_get(def, "default");
  if (dflt)
    ch->fallback = json_deep_copy(dflt);
  return parse_reducer(c, name, json_object_get(def, "reducer"), ch);
}

static loom_err parse_state(struct ctx *c, const json_t *state,
                            struct loom_graph *g) {
  if (!state)
    return LOOM_OK;
  if (!json_is_object(state))
    return bad(c, state, "state", "must be a mapping of channel names");
  g->channels = loom_calloc(json_object_size(state), sizeof(*g->channels));
  const char *name;
  json_t *def;
  json_object_foreach((json_t *)state, name, def) {
    loom_err rc = parse_channel(c, name, def, &g->channels[g->nchannels++]);
    if (rc)
      return rc;
  }
  return LOOM_OK;
}

/* ---- nodes ---- */

static loom_err load_subgraph(struct ctx *c, struct loom_node *n,
                              const json_t *sub);

/* Which kind a node mapping selects: `kind: NAME`, or a key naming a
 * registered kind (`lua:`, `interrupt:`, `llm:` ...). */
static const struct loom_node_kind *pick_kind(const json_t *def,
                                              const json_t **at) {
  const json_t *kind = json_object_get(def, "kind");
  if (json_is_string(kind)) {
    *at = kind;
    return loom_engine_node_kind(json_string_value(kind));
  }
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)def, k, v) {
    const struct loom_node_kind *found = loom_engine_node_kind(k);
    if (found) {
      *at = v;
      return found;
    }
  }
  *at = def;
  return NULL;
}

static loom_err compile_node(struct ctx *c, struct loom_node *n,
                             const json_t *at, char *field) {
  if (!strcmp(n->kind->name, "lua")) {
    if (!json_is_string(at))
      return bad(c, at, field, "lua: must be the node's code (a string)");
    n->lua = loom_strdup(json_string_value(at));
    char *chunk = loom_asprintf("node %s", n->name);
    struct loom_error le = {0};
    loom_err rc = loom_lua_compile(c->lua, chunk, n->lua, "state, item", &le);
    loom_free(chunk);
    return rc ? bad(c, at, field, "%s", le.message) : LOOM_OK;
  }
  if (!strcmp(n->kind->name, "subgraph"))
    return load_subgraph(c, n, at);
  if (!n->kind->compile)
    return LOOM_OK;
  struct loom_error ke = {0};
  if (n->kind->compile(n, c->dir, c->depth, &ke))
    return bad(c, at, field, "%s", ke.message);
  return LOOM_OK;
}

/* A node whose mapping selects no kind. With `kind:` the name given is
 * unknown; without, the mapping's keys are said, since a misspelt kind
 * key ("lau:") is the likely cause and "unknown node kind" alone does not
 * point at it. */
static loom_err unknown_kind(struct ctx *c, const json_t *def,
                             const char *field) {
  const json_t *kind = json_object_get(def, "kind");
  if (kind)
    return bad(c, kind, field, "unknown node kind %s; known kinds: %s",
               json_is_string(kind) ? json_string_value(kind) : "(not a name)",
               loom_engine_node_kind_names());
  char keys[256] = "";
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)def, k, v) {
    size_t len = strlen(keys);
    snprintf(keys + len, sizeof keys - len, "%s%s", len ? ", " : "", k);
  }
  return bad(c, def, field,
             "no node kind among its keys (%s); a node needs one of %s as a "
             "key, or kind: NAME",
             keys[0] ? keys : "none", loom_engine_node_kind_names());
}

static loom_err parse_node(struct ctx *c, const char *name, const json_t *def,
                           struct loom_node *n) {
  char field[200];
  snprintf(field, sizeof(field), "nodes.%s", name);
  n->name = loom_strdup(name);
  n->line = loom_doc_line(c->doc, def);
  if (!valid_name(name) || !strcmp(name, LOOM_GRAPH_START) ||
      !strcmp(name, LOOM_GRAPH_END))
    return bad(c, def, field,
               "node names use letters, digits, _ - . and are not START/END");
  if (!json_is_object(def))
    return bad(c, def, field,
               "must be a mapping such as {lua: CODE} or {interrupt: {...}}");
  n->config = json_incref((json_t *)def);
  const json_t *at;
  n->kind = pick_kind(def, &at);
  if (!n->kind)
    return unknown_kind(c, def, field);
  return compile_node(c, n, at, field);
}

static loom_err parse_nodes(struct ctx *c, const json_t *nodes,
                            struct loom_graph *g) {
  if (!json_is_object(nodes) || !json_object_size(nodes))
    return bad(c, nodes ? nodes : c->doc->root, "nodes",
               "a graph needs a mapping of at least one node");
  g->nodes = loom_calloc(json_object_size(nodes), sizeof(*g->nodes));
  const char *name;
  json_t *def;
  json_object_foreach((json_t *)nodes, name, def) {
    loom_err rc = parse_node(c, name, def, &g->nodes[g->nnodes++]);
    if (rc)
      return rc;
  }
  return LOOM_OK;
}

static loom_err load_subgraph(struct ctx *c, struct loom_node *n,
                              const json_t *sub) {
  char field[200];
  snprintf(field, sizeof(field), "nodes.%s.subgraph", n->name);
  if (c->depth + 1 >= LOOM_GRAPH_MAX_SUBGRAPH_DEPTH)
    return bad(c, sub, field, "subgraphs nest deeper than %d levels",
               LOOM_GRAPH_MAX_SUBGRAPH_DEPTH);
  struct loom_error se = {0};
  loom_err rc;
  if (json_is_string(sub)) {
    const char *p = json_string_value(sub);
    char *path =
        p[0] == '/' ? loom_strdup(p) : loom_asprintf("%s/%s", c->dir, p);
    rc = loom_graph_load_file_depth(path, c->depth + 1, &n->subgraph, &se);
    loom_free(path);
  } else if (json_is_object(sub)) {
    rc = loom_graph_build(c->doc, sub, c->file, c->dir, c->depth + 1,
                          &n->subgraph, &se);
  } else {
    return bad(c, sub, field, "must be a file path or an inline graph");
  }
  if (rc)
    return loom_error_set(c->e, rc, "%s (in subgraph %s)", se.message, n->name);
  return LOOM_OK;
}

/* ---- edges ---- */

static char *trimmed(const char *s, size_t n) {
  while (n && isspace((unsigned char)*s))
    s++, n--;
  while (n && isspace((unsigned char)s[n - 1]))
    n--;
  return loom_strndup(s, n);
}

static bool is_node(const struct loom_graph *g, const char *name) {
  return loom_graph_node(g, name) != NULL;
}

static loom_err check_ends(struct ctx *c, const struct loom_graph *g,
                           const json_t *at, const char *field,
                           const struct loom_edge *ed) {
  if (strcmp(ed->from, LOOM_GRAPH_START) && !is_node(g, ed->from))
    return bad(c, at, field, "unknown node '%s' (edge source)", ed->from);
  if (ed->to && strcmp(ed->to, LOOM_GRAPH_END) && !is_node(g, ed->to))
    return bad(c, at, field, "unknown node '%s' (edge target)", ed->to);
  if (ed->to && !strcmp(ed->to, LOOM_GRAPH_START))
    return bad(c, at, field, "no edge can lead to START");
  if (ed->type == LOOM_EDGE_EACH && !strcmp(ed->to, LOOM_GRAPH_END))
    return bad(c, at, field, "a fan-out edge must lead to a node");
  return LOOM_OK;
}

/* "A -> B" or "A -> B: expr" */
static loom_err split_arrow(struct ctx *c, const json_t *at, const char *field,
                            const char *text, struct loom_edge *ed,
                            char **expr) {
  const char *arrow = strstr(text, "->");
  if (!arrow)
    return bad(c, at, field,
               "expected 'FROM -> TO' or 'FROM -> TO: CONDITION'");
  ed->from = trimmed(text, (size_t)(arrow - text));
  const char *rest = arrow + 2;
  const char *colon = strchr(rest, ':');
  ed->to = trimmed(rest, colon ? (size_t)(colon - rest) : strlen(rest));
  if (colon && expr)
    *expr = trimmed(colon + 1, strlen(colon + 1));
  if (!*ed->from || !*ed->to)
    return bad(c, at, field, "expected 'FROM -> TO'");
  return LOOM_OK;
}

static loom_err set_condition(struct ctx *c, const json_t *at,
                              const char *field, struct loom_edge *ed,
                              const char *expr, bool is_lua) {
  struct loom_error le = {0};
  if (is_lua) {
    ed->cond = loom_strdup(expr);
  } else {
    ed->cond = loom_graph_expr_to_lua(expr, &le);
    if (!ed->cond)
      return bad(c, at, field, "%s", le.message);
  }
  if (loom_lua_compile(c->lua, ed->name, ed->cond, "state", &le))
    return bad(c, at, field, "%s", le.message);
  return LOOM_OK;
}

static loom_err edge_from_object(struct ctx *c, const json_t *item,
                                 const char *field, struct loom_edge *ed) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)item, k, v) {
    if (strcmp(k, "from") && strcmp(k, "to") && strcmp(k, "when") &&
        strcmp(k, "route") && strcmp(k, "each") && strcmp(k, "as") &&
        strcmp(k, "targets"))
      return bad(c, v, field,
                 "unknown field '%s'; an edge has from, to, when, route, "
                 "targets, each, as",
                 k);
    if (strcmp(k, "targets") && !json_is_string(v))
      return bad(c, v, field, "'%s' must be a string", k);
  }
  const json_t *from = json_object_get(item, "from");
  const json_t *to = json_object_get(item, "to");
  const json_t *route = json_object_get(item, "route");
  const json_t *each = json_object_get(item, "each");
  const json_t *when = json_object_get(item, "when");
  if (!from || (!to && !route) || (to && route))
    return bad(c, item, field, "needs 'from' and either 'to' or 'route'");
  ed->from = loom_strdup(json_string_value(from));
  ed->to = to ? loom_strdup(json_string_value(to)) : NULL;
  if (route) {
    ed->type = LOOM_EDGE_ROUTE;
    ed->targets = json_incref(json_object_get(item, "targets"));
    return set_condition(c, route, field, ed, json_string_value(route), true);
  }
  if (each) {
    const json_t *as = json_object_get(item, "as");
    ed->type = LOOM_EDGE_EACH;
    ed->each = loom_strdup(json_string_value(each));
    ed->as = loom_strdup(as ? json_string_value(as) : "item");
  }
  if (when) {
    if (ed->type == LOOM_EDGE_EACH)
      return bad(c, when, field, "a fan-out edge takes no condition");
    ed->type = LOOM_EDGE_WHEN;
    return set_condition(c, when, field, ed, json_string_value(when), false);
  }
  return LOOM_OK;
}

static loom_err parse_edge(struct ctx *c, const json_t *item, size_t i,
                           struct loom_edge *ed) {
  char field[64];
  snprintf(field, sizeof(field), "edges[%zu]", i);
  ed->line = loom_doc_line(c->doc, item);
  ed->name = loom_asprintf("edge %zu", i);
  if (json_is_string(item)) {
    char *expr = NULL;
    loom_err rc =
        split_arrow(c, item, field, json_string_value(item), ed, &expr);
    if (!rc && expr && *expr) {
      ed->type = LOOM_EDGE_WHEN;
      rc = set_condition(c, item, field, ed, expr, false);
    }
    loom_free(expr);
    return rc;
  }
  if (!json_is_object(item))
    return bad(c, item, field, "must be 'FROM -> TO' or a mapping");
  if (json_object_get(item, "from"))
    return edge_from_object(c, item, field, ed);
  const char *key = json_object_iter_key(json_object_iter((json_t *)item));
  const json_t *val = json_object_get(item, key);
  if (json_object_size(item) != 1)
    return bad(c, item, field, "expected 'FROM -> TO: CONDITION'");
  loom_err rc = split_arrow(c, item, field, key, ed, NULL);
  if (rc || json_is_true(val))
    return rc;
  char *expr = json_is_string(val) ? loom_strdup(json_string_value(val))
                                   : loom_json_dump(val);
  ed->type = LOOM_EDGE_WHEN;
  rc = set_condition(c, val, field, ed, expr, false);
  loom_free(expr);
  return rc;
}

static loom_err parse_edges(struct ctx *c, const json_t *edges,
                            struct loom_graph *g) {
  if (!json_is_array(edges) || !json_array_size(edges))
    return bad(c, edges ? edges : c->doc->root, "edges",
               "a graph needs a list of edges, starting with 'START -> ...'");
  g->edges = loom_calloc(json_array_size(edges), sizeof(*g->edges));
  for (size_t i = 0; i < json_array_size(edges); i++) {
    const json_t *item = json_array_get(edges, i);
    struct loom_edge *ed = &g->edges[g->nedges++];
    loom_err rc = parse_edge(c, item, i, ed);
    if (!rc) {
      char field[64];
      snprintf(field, sizeof(field), "edges[%zu]", i);
      rc = check_ends(c, g, item, field, ed);
      if (!rc && ed->each && !loom_graph_channel(g, ed->each))
        rc = bad(c, item, field, "fan-out over unknown channel '%s'", ed->each);
      if (!rc && !strcmp(ed->from, LOOM_GRAPH_END))
        rc = bad(c, item, field, "no edge can leave END");
    }
    if (rc)
      return rc;
  }
  return LOOM_OK;
}

/* ---- interrupts and whole-graph checks ---- */

static loom_err parse_names(struct ctx *c, const json_t *list,
                            const char *field, const struct loom_graph *g,
                            char ***out, size_t *n) {
  if (!list)
    return LOOM_OK;
  if (!json_is_array(list))
    return bad(c, list, field, "must be a list of node names");
  *out = loom_calloc(json_array_size(list), sizeof(**out));
  for (size_t i = 0; i < json_array_size(list); i++) {
    const json_t *v = json_array_get(list, i);
    const char *s = json_string_value(v);
    if (!s || (strcmp(s, "*") && !is_node(g, s)))
      return bad(c, v, field, "unknown node '%s'", s ? s : "(not a string)");
    (*out)[(*n)++] = loom_strdup(s);
  }
  return LOOM_OK;
}

static void mark_targets(const struct loom_graph *g, const struct loom_edge *ed,
                         bool *seen, size_t *queue, size_t *tail) {
  for (size_t j = 0; j < g->nnodes; j++) {
    bool hit;
    if (ed->type != LOOM_EDGE_ROUTE) {
      hit = !strcmp(g->nodes[j].name, ed->to);
    } else if (!json_is_array(ed->targets)) {
      hit = true; /* a route without declared targets may go anywhere */
    } else {
      hit = false;
      for (size_t k = 0; k < json_array_size(ed->targets); k++)
        hit |= !strcmp(g->nodes[j].name,
                       json_string_value(json_array_get(ed->targets, k)) ?: "");
    }
    if (hit && !seen[j]) {
      seen[j] = true;
      queue[(*tail)++] = j;
    }
  }
}

static loom_err check_reachable(struct ctx *c, const struct loom_graph *g) {
  bool *seen = loom_calloc(g->nnodes, sizeof(bool));
  size_t *queue = loom_calloc(g->nnodes + 1, sizeof(size_t));
  size_t head = 0, tail = 0;
  const char *from = LOOM_GRAPH_START;
  bool start_edge = false, at_start = true;
  for (;;) {
    for (size_t i = 0; i < g->nedges; i++)
      if (!strcmp(g->edges[i].from, from)) {
        start_edge |= at_start;
        mark_targets(g, &g->edges[i], seen, queue, &tail);
      }
    at_start = false;
    if (head == tail)
      break;
    from = g->nodes[queue[head++]].name;
  }
  loom_err rc = LOOM_OK;
  if (!start_edge)
    rc = bad(c, json_object_get(c->doc->root, "edges"), "edges",
             "no edge leaves START; add 'START -> FIRST_NODE'");
  for (size_t j = 0; !rc && j < g->nnodes; j++)
    if (!seen[j])
      rc = loom_error_set(c->e, LOOM_ERR_INVALID,
                          "%s:%d: nodes.%s: unreachable: no edge leads to it "
                          "from START",
                          c->file, g->nodes[j].line, g->nodes[j].name);
  loom_free(seen);
  loom_free(queue);
  return rc;
}

static loom_err check_top(struct ctx *c, const json_t *root) {
  static const char *const known[] = {
      "name",  "description",      "state",           "nodes",
      "edges", "interrupt_before", "interrupt_after", "version"};
  if (!json_is_object(root))
    return bad(c, root, "(top)", "a graph spec is a mapping");
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)root, k, v) {
    bool ok = false;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
      ok |= !strcmp(k, known[i]);
    if (!ok) /* the known ones, so a misspelling is seen at once */
      return bad(c, v, k,
                 "unknown field; a graph has name, description, state, "
                 "nodes, edges, interrupt_before, interrupt_after, version");
  }
  return LOOM_OK;
}

static loom_err build(struct ctx *c, const json_t *root, struct loom_graph *g) {
  loom_err rc = check_top(c, root);
  if (rc)
    return rc;
  const json_t *name = json_object_get(root, "name");
  const json_t *desc = json_object_get(root, "description");
  g->name = loom_strdup(json_is_string(name) ? json_string_value(name) : "");
  g->description =
      loom_strdup(json_is_string(desc) ? json_string_value(desc) : "");
  if ((rc = parse_state(c, json_object_get(root, "state"), g)) ||
      (rc = parse_nodes(c, json_object_get(root, "nodes"), g)) ||
      (rc = parse_edges(c, json_object_get(root, "edges"), g)) ||
      (rc = parse_names(c, json_object_get(root, "interrupt_before"),
                        "interrupt_before", g, &g->interrupt_before,
                        &g->ninterrupt_before)) ||
      (rc = parse_names(c, json_object_get(root, "interrupt_after"),
                        "interrupt_after", g, &g->interrupt_after,
                        &g->ninterrupt_after)))
    return rc;
  return check_reachable(c, g);
}

loom_err loom_graph_build(const struct loom_doc *doc, const json_t *root,
                          const char *file, const char *dir, int depth,
                          struct loom_graph **out, struct loom_error *e) {
  static unsigned long serials;
  struct loom_graph *g = LOOM_NEW(struct loom_graph);
  g->serial = __atomic_add_fetch(&serials, 1, __ATOMIC_RELAXED);
  g->file = loom_strdup(file ? file : "<spec>");
  g->source = json_incref((json_t *)root);
  struct ctx c = {.doc = doc,
                  .file = g->file,
                  .dir = dir ? dir : ".",
                  .depth = depth,
                  .lua = loom_lua_new(0, 0),
                  .e = e};
  loom_err rc = build(&c, root, g);
  loom_lua_free(c.lua);
  if (rc) {
    loom_graph_free(g);
    return rc;
  }
  *out = g;
  return LOOM_OK;
}

static loom_err load_text(const char *text, size_t len, const char *file,
                          int depth, struct loom_graph **out,
                          struct loom_error *e) {
  struct loom_doc doc;
  struct loom_error pe = {0};
  if (loom_doc_parse(text, len, &doc, &pe)) {
    /* "line 3, column 2: x" reads "file:3, column 2: x"; a message with
     * no position ("the document is empty") gets "file: ". */
    bool at_line = strncmp(pe.message, "line ", 5) == 0;
    return loom_error_set(e, pe.code, "%s:%s%s", file ? file : "<spec>",
                          at_line ? "" : " ", pe.message + (at_line ? 5 : 0));
  }
  char *copy = loom_strdup(file ? file : ".");
  const char *dir = file ? dirname(copy) : ".";
  loom_err rc = loom_graph_build(&doc, doc.root, file, dir, depth, out, e);
  loom_free(copy);
  loom_doc_cleanup(&doc);
  return rc;
}

loom_err loom_graph_load(const char *text, size_t len, const char *file,
                         struct loom_graph **out, struct loom_error *e) {
  return load_text(text, len, file, 0, out, e);
}

loom_err loom_graph_load_file_depth(const char *path, int depth,
                                    struct loom_graph **out,
                                    struct loom_error *e) {
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) /* fopen would take it */
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "%s: is a directory; give a graph file (.yaml, "
                          ".yml or .json)",
                          path);
  FILE *f = fopen(path, "rb");
  if (!f)
    return loom_error_set(e, LOOM_ERR_NOT_FOUND, "%s: cannot open: %m", path);
  struct loom_buf b;
  loom_buf_init(&b, LOOM_DOC_MAX_BYTES);
  char chunk[8192];
  size_t n;
  loom_err rc = LOOM_OK;
  while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
    rc = loom_buf_append(&b, chunk, n);
  fclose(f);
  if (rc)
    rc = loom_error_set(e, rc, "%s: larger than %u bytes", path,
                        LOOM_DOC_MAX_BYTES);
  else
    rc = load_text(b.data ? b.data : "", b.len, path, depth, out, e);
  loom_buf_cleanup(&b);
  return rc;
}

loom_err loom_graph_load_file(const char *path, struct loom_graph **out,
                              struct loom_error *e) {
  return loom_graph_load_file_depth(path, 0, out, e);
}

static void free_node(struct loom_node *n) {
  if (n->kind && n->kind->free_data && n->kind_data)
    n->kind->free_data(n->kind_data);
  loom_free(n->name);
  loom_free(n->lua);
  json_decref(n->config);
  loom_graph_free(n->subgraph);
}

void loom_graph_free(struct loom_graph *g) {
  if (!g)
    return;
  for (size_t i = 0; i < g->nchannels; i++) {
    loom_free(g->channels[i].name);
    loom_free(g->channels[i].type);
    loom_free(g->channels[i].reducer_lua);
    json_decref(g->channels[i].fallback);
  }
  for (size_t i = 0; i < g->nnodes; i++)
    free_node(&g->nodes[i]);
  for (size_t i = 0; i < g->nedges; i++) {
    struct loom_edge *ed = &g->edges[i];
    loom_free(ed->from), loom_free(ed->to), loom_free(ed->cond);
    loom_free(ed->each), loom_free(ed->as), loom_free(ed->name);
    json_decref(ed->targets);
  }
  for (size_t i = 0; i < g->ninterrupt_before; i++)
    loom_free(g->interrupt_before[i]);
  for (size_t i = 0; i < g->ninterrupt_after; i++)
    loom_free(g->interrupt_after[i]);
  loom_free(g->interrupt_before), loom_free(g->interrupt_after);
  loom_free(g->channels), loom_free(g->nodes), loom_free(g->edges);
  loom_free(g->name), loom_free(g->description), loom_free(g->file);
  json_decref(g->source);
  loom_free(g);
}

const struct loom_node *loom_graph_node(const struct loom_graph *g,
                                        const char *name) {
  for (size_t i = 0; i < g->nnodes; i++)
    if (!strcmp(g->nodes[i].name, name))
      return &g->nodes[i];
  return NULL;
}

const struct loom_channel *loom_graph_channel(const struct loom_graph *g,
                                              const char *name) {
  for (size_t i = 0; i < g->nchannels; i++)
    if (!strcmp(g->channels[i].name, name))
      return &g->channels[i];
  return NULL;
}
