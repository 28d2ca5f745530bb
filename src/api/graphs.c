/*
 * graphs — the graph registry and its routes.
 *
 *   GET    /graphs             every registered graph (id, description, file)
 *   GET    /graphs/{graph_id}  one graph: its spec as JSON, nodes and edges
 *   PUT    /graphs/{graph_id}  registers or replaces a graph from a YAML or
 *                              JSON spec in the body; 422 with the file
 *                              position of the first problem
 *   DELETE /graphs/{graph_id}  unregisters it
 *
 * Graphs come from the LOOM_GRAPHS directories at start-up (every .yaml,
 * .yml and .json file at the top of each directory; folders are crews and
 * belong to the agents module) and from PUT. A PUT graph is also written
 * to <data dir>/graphs/<graph_id>.yaml, loaded after LOOM_GRAPHS at the
 * next start, so registered graphs survive a restart. Each graph gets a system
 * assistant whose id is uuid5(graph_id), so a graph id works wherever an
 * assistant id does. A graph in use by a run is reference counted: a PUT
 * or DELETE never frees it under a running run.
 */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#include "api/internal.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "engine/engine.h"
#include "engine/spec.h"

static struct api_graph **graphs;
static char *saved_dir; /* <data dir>/graphs */
/* Why specs in LOOM_GRAPHS did not load, by the id their file would
 * have given ({stem: "file:line: problem"}), told with every "not found":
 * the start's warning scrolls away, and "the graphs are: a, b" alone hid
 * why the edited graph was not there. A graph registered later under
 * that id takes its entry out. */
static json_t *skipped;
#define SKIPPED_MAX 32 /* past that the first ones say what is wrong */
static size_t ngraphs, capgraphs;

static struct api_graph *find_locked(const char *id, size_t *index) {
  for (size_t i = 0; i < ngraphs; i++)
    if (!strcmp(graphs[i]->id, id)) {
      if (index)
        *index = i;
      return graphs[i];
    }
  return NULL;
}

static void graph_unref_locked(struct api_graph *g) {
  if (--g->refs > 0)
    return;
  loom_graph_free(g->graph);
  loom_free(g->id);
  loom_free(g->file);
  loom_free(g);
}

/* Whether every node only computes: Lua and interrupt nodes, and
 * subgraphs made of those (see api_graph.quick). */
static bool graph_quick(const struct loom_graph *g) {
  for (size_t i = 0; i < g->nnodes; i++) {
    const struct loom_node *n = &g->nodes[i];
    const char *kind = n->kind ? n->kind->name : "";
    if (n->subgraph ? !graph_quick(n->subgraph)
                    : strcmp(kind, "lua") && strcmp(kind, "interrupt"))
      return false;
  }
  return true;
}

/* Adds or replaces `id`; takes `lg`. Returns true when it replaced one. */
static bool register_locked(const char *id, struct loom_graph *lg,
                            const char *file) {
  struct api_graph *g = LOOM_NEW(struct api_graph);
  g->id = loom_strdup(id);
  g->graph = lg;
  g->file = file ? loom_strdup(file) : NULL;
  g->refs = 1;
  g->speed = graph_quick(lg) ? API_GRAPH_UNPROVEN : API_GRAPH_POOL;
  size_t i;
  struct api_graph *old = find_locked(id, &i);
  if (old) {
    graphs[i] = g;
    graph_unref_locked(old);
  } else {
    if (ngraphs == capgraphs) {
      capgraphs = capgraphs ? capgraphs * 2 : 16;
      graphs = loom_realloc(graphs, capgraphs * sizeof *graphs);
    }
    graphs[ngraphs++] = g;
  }
  api_assistant_ensure_system(id);
  if (skipped)
    json_object_del(skipped, id);
  return old != NULL;
}

struct api_graph *api_graph_find_locked(const char *id) {
  return id ? find_locked(id, NULL) : NULL;
}

void api_graph_ids_locked(char *out, size_t size) {
  size_t len = 0;
  out[0] = '\0';
  for (size_t i = 0; i < ngraphs && len + 1 < size; i++) {
    int n =
        snprintf(out + len, size - len, "%s%s", i ? ", " : "", graphs[i]->id);
    len += n > 0 ? (size_t)n : 0;
  }
  const char *stem;
  const json_t *why;
  bool first = true;
  json_object_foreach(skipped, stem, why) {
    if (len + 1 >= size)
      break;
    int n = snprintf(out + len, size - len, "%s%s",
                     first ? (len ? "; not loaded at start: "
                                  : "none; not loaded at start: ")
                           : "; ",
                     json_string_value(why));
    len += n > 0 ? (size_t)n : 0;
    first = false;
  }
}

struct api_graph *api_graph_get(const char *id) {
  api_lock();
  struct api_graph *g = id ? find_locked(id, NULL) : NULL;
  if (g)
    g->refs++;
  api_unlock();
  return g;
}

/* How many graphs have a streak: while none do, a fast run of a QUICK
 * graph has nothing to reset and takes no lock. Changed under the lock.
 * (A graph replaced mid-streak leaves it one too high: runs then take the
 * lock to find nothing to reset, nothing worse.) */
static atomic_int graphs_with_streak;

/* Lock held. A slow run on a loop lengthens the streak towards POOL, a
 * fast one on the pool towards QUICK; anything else ends it. */
static void count_run_locked(struct api_graph *g, bool slow, bool on_loop) {
  int before = g->streak;
  bool counts = on_loop ? g->speed == API_GRAPH_QUICK && slow
                        : g->speed == API_GRAPH_UNPROVEN && !slow;
  g->streak = counts ? g->streak + 1 : 0;
  if (g->streak >= API_QUICK_RUNS) {
    g->streak = 0;
    __atomic_store_n(&g->speed, on_loop ? API_GRAPH_POOL : API_GRAPH_QUICK,
                     __ATOMIC_RELAXED);
    LOOM_INFO(on_loop ? "graph %s: %d runs in a row cost over %d ms; its runs "
                        "go to the pool"
                      : "graph %s: %d runs in a row cost at most %d ms; "
                        "stateless waits of it run on their request's loop",
              g->id, API_QUICK_RUNS, API_QUICK_MS);
  }
  atomic_fetch_add(&graphs_with_streak, (g->streak > 0) - (before > 0));
}

void api_graph_timed(struct api_graph *g, uint64_t ms, bool on_loop) {
  bool slow = ms > API_QUICK_MS;
  enum api_graph_speed speed = __atomic_load_n(&g->speed, __ATOMIC_RELAXED);
  if (speed == API_GRAPH_POOL || (speed == API_GRAPH_QUICK && !on_loop) ||
      (speed == API_GRAPH_QUICK && !slow &&
       atomic_load(&graphs_with_streak) == 0))
    return; /* the usual cases: nothing to count or reset */
  api_lock();
  count_run_locked(g, slow, on_loop);
  api_unlock();
}

void api_graph_release(struct api_graph *g) {
  if (!g)
    return;
  api_lock();
  graph_unref_locked(g);
  api_unlock();
}

void api_graphs_free(void) {
  api_lock();
  for (size_t i = 0; i < ngraphs; i++)
    graph_unref_locked(graphs[i]);
  loom_free(graphs);
  loom_free(saved_dir);
  saved_dir = NULL;
  graphs = NULL;
  ngraphs = capgraphs = 0;
  json_decref(skipped);
  skipped = NULL;
  api_unlock();
}

static bool spec_file(const char *name) {
  const char *dot = strrchr(name, '.');
  return dot && name[0] != '.' &&
         (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml") ||
          !strcmp(dot, ".json"));
}

/* Loads the specs of `dir`; the id is the spec's name, or with
 * `id_from_file` (saved PUT specs) the file name without extension. */
static void load_dir(const char *dir, bool id_from_file) {
  DIR *d = opendir(dir);
  if (!d) {
    LOOM_WARN("graphs: cannot open directory %s (in LOOM_GRAPHS): %s", dir,
              strerror(errno));
    return;
  }
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!spec_file(de->d_name))
      continue;
    char *path = loom_asprintf("%s/%s", dir, de->d_name);
    struct loom_graph *lg = NULL;
    struct loom_error e = {0};
    if (loom_graph_load_file(path, &lg, &e) != LOOM_OK) {
      const char *why = e.message[0] ? e.message : path;
      LOOM_WARN("graphs: skipping %s", why);
      api_lock();
      if (!skipped)
        skipped = json_object();
      if (json_object_size(skipped) < SKIPPED_MAX) {
        char *stem = loom_strndup(
            de->d_name, (size_t)(strrchr(de->d_name, '.') - de->d_name));
        json_object_set_new(skipped, stem, json_string(why));
        loom_free(stem);
      }
      api_unlock();
    } else {
      char *id =
          !id_from_file && lg->name && *lg->name
              ? loom_strdup(lg->name)
              : loom_strndup(de->d_name,
                             (size_t)(strrchr(de->d_name, '.') - de->d_name));
      api_lock();
      if (!id_from_file && find_locked(id, NULL))
        LOOM_WARN("graphs: %s redefines graph '%s'", path, id);
      register_locked(id, lg, path);
      api_unlock();
      loom_free(id);
    }
    loom_free(path);
  }
  closedir(d);
}

void api_graphs_load_dirs(struct loom_app *app, const char *dirs) {
  char *copy = loom_strdup(dirs ? dirs : "");
  char *save = NULL;
  for (char *dir = strtok_r(copy, ":", &save); dir;
       dir = strtok_r(NULL, ":", &save))
    load_dir(dir, false);
  loom_free(copy);
  const char *data = app->config ? app->config->data_dir : NULL;
  if (data && *data) {
    loom_free(saved_dir);
    saved_dir = loom_asprintf("%s/graphs", data);
    if (access(saved_dir, F_OK) == 0)
      load_dir(saved_dir, true);
  }
}

/* Keeps a PUT spec for the next start (errors are logged, not fatal). */
static void save_spec(const char *id, const char *body, size_t len) {
  if (!saved_dir)
    return;
  if (mkdir(saved_dir, 0755) != 0 && errno != EEXIST) {
    LOOM_WARN("graphs: cannot create %s", saved_dir);
    return;
  }
  char *path = loom_asprintf("%s/%s.yaml", saved_dir, id);
  FILE *f = fopen(path, "w");
  if (!f || fwrite(body, 1, len, f) != len)
    LOOM_WARN("graphs: cannot write %s", path);
  if (f)
    fclose(f);
  loom_free(path);
}

static void forget_spec(const char *id) {
  if (!saved_dir)
    return;
  char *path = loom_asprintf("%s/%s.yaml", saved_dir, id);
  unlink(path);
  loom_free(path);
}

/* ---- drawing and schemas ---- */

static const char *node_id(const char *name) {
  if (!strcmp(name, LOOM_GRAPH_START))
    return "__start__";
  if (!strcmp(name, LOOM_GRAPH_END))
    return "__end__";
  return name;
}

json_t *api_graph_drawable(const struct loom_graph *g, bool xray) {
  (void)xray;
  json_t *nodes = json_array(), *edges = json_array();
  json_array_append_new(nodes,
                        json_pack("{s:s, s:s, s:s}", "id", "__start__", "type",
                                  "schema", "data", "__start__"));
  for (size_t i = 0; i < g->nnodes; i++) {
    const struct loom_node *n = &g->nodes[i];
    /* data.id is a path naming what runs the node, as LangGraph's lc_id
     * names a runnable's class: here loom's node kind. */
    json_array_append_new(
        nodes, json_pack("{s:s, s:s, s:{s:[s, s], s:s}, s:{}}", "id", n->name,
                         "type", "runnable", "data", "id", "loom",
                         n->kind->name, "name", n->name, "metadata"));
  }
  json_array_append_new(nodes, json_pack("{s:s, s:s, s:s}", "id", "__end__",
                                         "type", "schema", "data", "__end__"));
  for (size_t i = 0; i < g->nedges; i++) {
    const struct loom_edge *ed = &g->edges[i];
    if (!ed->to) /* a Lua router: its targets are only known at run time */
      continue;
    json_t *edge = json_pack("{s:s, s:s}", "source", node_id(ed->from),
                             "target", node_id(ed->to));
    if (ed->type != LOOM_EDGE_STATIC)
      json_object_set_new(edge, "conditional", json_true());
    json_array_append_new(edges, edge);
  }
  return json_pack("{s:o, s:o}", "nodes", nodes, "edges", edges);
}

static json_t *channel_schema(const struct loom_channel *c) {
  json_t *s = json_object();
  static const char *const types[] = {"string", "number", "integer", "boolean",
                                      "array",  "object", NULL};
  for (size_t i = 0; c->type && types[i]; i++)
    if (!strcmp(c->type, types[i]))
      json_object_set_new(s, "type", json_string(types[i]));
  if (c->fallback)
    json_object_set(s, "default", c->fallback);
  static const char *const reducers[] = {"replace", "append", "merge", "add",
                                         "lua"};
  json_object_set_new(s, "x-reducer", json_string(reducers[c->reducer]));
  return s;
}

json_t *api_graph_state_schema(const struct loom_graph *g) {
  json_t *props = json_object();
  for (size_t i = 0; i < g->nchannels; i++)
    json_object_set_new(props, g->channels[i].name,
                        channel_schema(&g->channels[i]));
  return json_pack("{s:s, s:s, s:o}", "title", g->name ? g->name : "State",
                   "type", "object", "properties", props);
}

/* ---- routes ---- */

static json_t *graph_summary(const struct api_graph *g) {
  json_t *nodes = json_array();
  for (size_t i = 0; i < g->graph->nnodes; i++)
    json_array_append_new(nodes, json_string(g->graph->nodes[i].name));
  return json_pack("{s:s, s:s?, s:s?, s:o}", "graph_id", g->id, "description",
                   g->graph->description, "file", g->file, "nodes", nodes);
}

static void list_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  json_t *out = json_array();
  api_lock();
  for (size_t i = 0; i < ngraphs; i++)
    json_array_append_new(out, graph_summary(graphs[i]));
  api_unlock();
  loom_http_respond_json(req, 200, out);
}

/* 404 for an unknown graph id, naming the graphs there are. */
static void graph_not_found(struct loom_http_req *req, const char *id) {
  char ids[1024];
  api_lock();
  api_graph_ids_locked(ids, sizeof ids);
  api_unlock();
  api_fail(req, 404, "not_found", "graph '%s' not found; the graphs are: %s",
           id ? id : "", ids[0] ? ids : "none");
}

static void get_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  const char *id = loom_http_param(req, "graph_id");
  struct api_graph *g = api_graph_get(id);
  if (!g) {
    graph_not_found(req, id);
    return;
  }
  json_t *out = graph_summary(g);
  json_object_set(out, "spec",
                  g->graph->source ? g->graph->source : json_null());
  json_object_set_new(out, "graph", api_graph_drawable(g->graph, false));
  api_graph_release(g);
  loom_http_respond_json(req, 200, out);
}

static bool valid_graph_id(const char *id) {
  size_t n = strlen(id);
  if (!n || n > 128)
    return false;
  for (const char *p = id; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
      return false;
  return true;
}

static void put_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  const char *id = loom_http_param(req, "graph_id");
  if (!valid_graph_id(id)) {
    api_fail(req, 422, "invalid_request",
             "graph_id: use 1 to 128 letters, digits, '_', '-' or '.'");
    return;
  }
  size_t len = 0;
  const char *body = loom_http_body(req, &len);
  struct loom_graph *lg = NULL;
  struct loom_error e = {0};
  char *file = loom_asprintf("%s.yaml", id);
  loom_err err = loom_graph_load(body, len, file, &lg, &e);
  loom_free(file);
  if (err) {
    loom_http_respond_json(req, 422,
                           json_pack("{s:s, s:s, s:s}", "error",
                                     "invalid_graph", "message", e.message,
                                     "detail", e.message));
    return;
  }
  save_spec(id, body, len);
  api_lock();
  bool replaced = register_locked(id, lg, NULL);
  struct api_graph *g = find_locked(id, NULL);
  json_t *out = graph_summary(g);
  api_unlock();
  loom_http_respond_json(req, replaced ? 200 : 201, out);
}

static void delete_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  const char *id = loom_http_param(req, "graph_id");
  api_lock();
  size_t i;
  struct api_graph *g = find_locked(id, &i);
  if (g) {
    graphs[i] = graphs[--ngraphs];
    graph_unref_locked(g);
    json_t *sys = api_assistant_resolve(id);
    if (sys && !strcmp(json_string_value(json_object_get(sys, "graph_id")), id))
      api_assistant_remove(
          json_string_value(json_object_get(sys, "assistant_id")));
  }
  api_unlock();
  if (!g) {
    graph_not_found(req, id);
    return;
  }
  forget_spec(id);
  loom_http_respond_raw(req, 204, NULL, "", 0);
}

loom_err api_graph_routes(struct loom_http_router *r, struct loom_app *app,
                          struct loom_error *e) {
  static const struct loom_http_route routes[] = {
      {"GET", "/graphs", list_cb},
      {"GET", "/graphs/{graph_id}", get_cb},
      {"PUT", "/graphs/{graph_id}", put_cb},
      {"DELETE", "/graphs/{graph_id}", delete_cb},
  };
  return LOOM_HTTP_ROUTES_ADD(r, routes, app, e);
}
