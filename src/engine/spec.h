/*
 * spec — a graph declared in YAML or JSON, loaded into a validated graph.
 *
 * Format (see docs/graphs.md):
 *   name, description
 *   state:   channel -> {type, default, reducer: replace|append|merge|add,
 *            or reducer: {lua: "return function(current, update) ... end"}}
 *   nodes:   name -> {lua: CODE} | {interrupt: {...}} | {subgraph: FILE or
 *            inline spec} | {kind: NAME, ...config} for native kinds
 *   edges:   "A -> B", "A -> B: EXPR" (conditional), {from, to, when},
 *            {from, route: LUA} (returns target names), {from, to, each:
 *            CHANNEL, as: FIELD} (fan-out: one task per list item)
 *   interrupt_before / interrupt_after: [node, ...]
 *
 * Loading checks every reference and reports "file:line: field: problem":
 * unknown nodes in edges, nodes no edge reaches, unknown reducers and node
 * kinds, bad expressions. A loaded graph is immutable and may be shared by
 * many runs on many threads.
 */
#ifndef LOOM_ENGINE_SPEC_H
#define LOOM_ENGINE_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

#define LOOM_GRAPH_START "START"
#define LOOM_GRAPH_END "END"
#define LOOM_GRAPH_MAX_SUBGRAPH_DEPTH 8

enum loom_reducer {
  LOOM_REDUCER_REPLACE, /* last write wins; two writes in a step: error */
  LOOM_REDUCER_APPEND,  /* list: arrays are concatenated, values pushed */
  LOOM_REDUCER_MERGE,   /* object: shallow key update */
  LOOM_REDUCER_ADD,     /* number: sum */
  LOOM_REDUCER_LUA,     /* function(current, update) in Lua */
};

struct loom_channel {
  char *name;
  char *type;       /* "string", "number", ... or NULL (any) */
  json_t *fallback; /* default value, or NULL */
  enum loom_reducer reducer;
  char *reducer_lua; /* chunk returning function(current, update) */
  int line;
};

struct loom_graph;
struct loom_node_kind;

struct loom_node {
  char *name;
  const struct loom_node_kind *kind;
  json_t *config;              /* the node's mapping as written */
  char *lua;                   /* lua kind: chunk source */
  struct loom_graph *subgraph; /* subgraph kind */
  void *kind_data;             /* what the kind's compile step built */
  int line;
};

enum loom_edge_type {
  LOOM_EDGE_STATIC, /* always */
  LOOM_EDGE_WHEN,   /* when the expression holds */
  LOOM_EDGE_ROUTE,  /* Lua returning a target name or a list of them */
  LOOM_EDGE_EACH,   /* one task of `to` per item of channel `each` */
};

struct loom_edge {
  enum loom_edge_type type;
  char *from;
  char *to;   /* NULL for ROUTE */
  char *cond; /* WHEN: Lua chunk compiled from the expression; ROUTE: Lua */
  char *each; /* EACH: channel holding the list */
  char *as;   /* EACH: field the item is given as (default "item") */
  json_t *targets; /* ROUTE: the nodes it may return (optional) */
  char *name;      /* "edge N": names its Lua chunk in messages */
  int line;
};

struct loom_graph {
  char *name;
  char *description;
  char *file; /* for messages; "<spec>" when loaded from memory */
  struct loom_channel *channels;
  size_t nchannels;
  struct loom_node *nodes;
  size_t nnodes;
  struct loom_edge *edges;
  size_t nedges;
  char **interrupt_before, **interrupt_after;
  size_t ninterrupt_before, ninterrupt_after;
  json_t *source;       /* the whole spec as JSON, for GET /graphs/{id} */
  unsigned long serial; /* unique per loaded graph in this process */
};

/*
 * Loads a spec from text. `file` names it in messages (may be NULL) and is
 * the base for relative subgraph paths. LOOM_ERR_PARSE/INVALID with
 * "file:line: field: problem" in `e`. Free with loom_graph_free.
 */
loom_err loom_graph_load(const char *text, size_t len, const char *file,
                         struct loom_graph **out,
                         struct loom_error *e) LOOM_MUST_USE;

/* Reads and loads a spec file (.yaml, .yml or .json). */
loom_err loom_graph_load_file(const char *path, struct loom_graph **out,
                              struct loom_error *e) LOOM_MUST_USE;

void loom_graph_free(struct loom_graph *g);

/* Lookups; NULL when absent. */
const struct loom_node *loom_graph_node(const struct loom_graph *g,
                                        const char *name);
const struct loom_channel *loom_graph_channel(const struct loom_graph *g,
                                              const char *name);

/*
 * Translates a condition in the expression language to a Lua chunk that
 * returns its truth value over the global `state` (e.g. `approved == true
 * and count < 3` -> `return (state.approved == true and state.count < 3)`).
 * Grammar: or/and/not, == != < <= > >=, field paths a.b.c, strings in
 * single or double quotes, numbers, true, false, null, parentheses.
 * Returns NULL and sets `e` on a syntax error. Caller frees.
 */
char *loom_graph_expr_to_lua(const char *expr, struct loom_error *e);

#endif
