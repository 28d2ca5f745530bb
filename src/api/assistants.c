/*
 * assistants — LangGraph's assistants: a graph plus configuration, with
 * versions.
 *
 *   POST   /assistants                      create (if_exists raise|do_nothing)
 *   GET    /assistants/{id}                 get (an id or a graph id)
 *   PATCH  /assistants/{id}                 update: a new version
 *   DELETE /assistants/{id}                 delete
 *   POST   /assistants/search               filter, sort, page
 *   POST   /assistants/count                count matches
 *   POST   /assistants/{id}/versions        every version, newest first
 *   POST   /assistants/{id}/latest          make a version the current one
 *   GET    /assistants/{id}/graph           nodes and edges for drawing
 *   GET    /assistants/{id}/schemas         JSON Schemas of the state
 *   GET    /assistants/{id}/subgraphs       subgraphs (none drawn yet: {})
 */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "core/alloc.h"
#include "engine/spec.h"

static const char *str(const json_t *row, const char *key) {
  return json_string_value(json_object_get(row, key));
}

/* Looks up the assistant of the path; answers 404 itself. Lock held. */
static json_t *path_assistant(struct loom_http_req *req) {
  const char *id = loom_http_param(req, "assistant_id");
  json_t *row = api_assistant_resolve(id);
  if (!row)
    api_not_found(req, "assistant", id);
  return row;
}

/* The fields create and update share, validated. */
struct fields {
  const char *graph_id, *name, *description, *assistant_id, *if_exists;
  json_t *config, *context, *metadata;
};

static loom_err read_fields(const json_t *body, struct fields *f,
                            struct loom_error *e) {
  static const char *const if_exists[] = {"raise", "do_nothing", NULL};
  loom_err err = api_opt_string(body, "graph_id", &f->graph_id, e);
  if (!err)
    err = api_opt_string(body, "name", &f->name, e);
  if (!err)
    err = api_opt_string(body, "description", &f->description, e);
  if (!err)
    err = api_opt_string(body, "assistant_id", &f->assistant_id, e);
  if (!err)
    err = api_opt_enum(body, "if_exists", if_exists, &f->if_exists, e);
  if (!err)
    err = api_opt_object(body, "config", &f->config, e);
  if (!err)
    err = api_opt_object(body, "context", &f->context, e);
  if (!err)
    err = api_opt_object(body, "metadata", &f->metadata, e);
  if (!err && f->assistant_id && !loom_id_is_uuid(f->assistant_id))
    err = api_invalid(e, "assistant_id", "must be a UUID");
  return err;
}

static bool graph_exists(const char *graph_id) {
  struct api_graph *g = api_graph_get(graph_id);
  api_graph_release(g);
  return g != NULL;
}

static void create_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  json_t *body = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  struct fields f = {0};
  struct loom_error e = {0};
  if (read_fields(body, &f, &e) ||
      (!f.graph_id && api_invalid(&e, "graph_id", "is required"))) {
    api_fail_err(req, &e);
    goto out;
  }
  if (!graph_exists(f.graph_id)) {
    api_not_found(req, "graph", f.graph_id);
    goto out;
  }
  char id[LOOM_ID_LEN + 1];
  if (f.assistant_id)
    snprintf(id, sizeof id, "%s", f.assistant_id);
  else
    loom_id_new(id);
  api_lock();
  json_t *old = api_assistant_find(id);
  if (old) {
    json_t *copy = json_deep_copy(old);
    api_unlock();
    if (f.if_exists && !strcmp(f.if_exists, "do_nothing"))
      loom_http_respond_json(req, 200, copy);
    else {
      json_decref(copy);
      api_fail(req, 409, "conflict", "assistant '%s' already exists", id);
    }
    goto out;
  }
  json_t *now = api_now();
  json_t *row = json_pack(
      "{s:s, s:s, s:o, s:o, s:o, s:s, s:s?, s:i, s:O, s:O}", "assistant_id", id,
      "graph_id", f.graph_id, "config",
      f.config ? json_deep_copy(f.config) : json_pack("{s:{}}", "configurable"),
      "context", f.context ? json_deep_copy(f.context) : json_object(),
      "metadata", f.metadata ? json_deep_copy(f.metadata) : json_object(),
      "name", f.name ? f.name : "Untitled", "description", f.description,
      "version", 1, "created_at", now, "updated_at", now);
  json_decref(now);
  if (!json_object_get(row, "description"))
    json_object_set_new(row, "description", json_null());
  api_assistant_add_version(id, json_deep_copy(row));
  api_assistant_put(json_incref(row));
  api_persist_assistant(row, API_PERSIST_CREATE);
  api_unlock();
  loom_http_respond_json(req, 200, row);
out:
  json_decref(body);
}

static void get_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  api_lock();
  json_t *row = path_assistant(req);
  json_t *copy = row ? json_deep_copy(row) : NULL;
  api_unlock();
  if (copy)
    loom_http_respond_json(req, 200, copy);
}

static int max_version(json_t *vers) {
  int max = 0;
  size_t i;
  json_t *v;
  json_array_foreach(vers, i, v) {
    int n = (int)json_integer_value(json_object_get(v, "version"));
    if (n > max)
      max = n;
  }
  return max;
}

static void update_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  json_t *body = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  struct fields f = {0};
  struct loom_error e = {0};
  if (read_fields(body, &f, &e)) {
    api_fail_err(req, &e);
    goto out;
  }
  if (f.graph_id && !graph_exists(f.graph_id)) {
    api_not_found(req, "graph", f.graph_id);
    goto out;
  }
  api_lock();
  json_t *row = path_assistant(req);
  if (!row) {
    api_unlock();
    goto out;
  }
  const char *id = str(row, "assistant_id");
  json_t *next = json_deep_copy(row);
  if (f.graph_id)
    json_object_set_new(next, "graph_id", json_string(f.graph_id));
  if (f.name)
    json_object_set_new(next, "name", json_string(f.name));
  if (f.description)
    json_object_set_new(next, "description", json_string(f.description));
  if (f.config)
    json_object_set(next, "config", f.config);
  if (f.context)
    json_object_set(next, "context", f.context);
  if (f.metadata)
    json_object_update(json_object_get(next, "metadata"), f.metadata);
  json_object_set_new(
      next, "version",
      json_integer(max_version(api_assistant_versions(id)) + 1));
  json_object_set_new(next, "updated_at", api_now());
  api_assistant_add_version(id, json_deep_copy(next));
  api_assistant_put(json_incref(next));
  api_persist_assistant(next, API_PERSIST_UPDATE);
  api_unlock();
  loom_http_respond_json(req, 200, next);
out:
  json_decref(body);
}

static void delete_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  api_lock();
  json_t *row = path_assistant(req);
  if (row) {
    api_persist_assistant(row, API_PERSIST_DELETE);
    api_assistant_remove(str(row, "assistant_id"));
  }
  api_unlock();
  if (row)
    loom_http_respond_raw(req, 204, NULL, "", 0);
}

/* ---- search ---- */

struct search {
  const json_t *metadata;
  const char *graph_id, *name, *sort_by, *sort_order;
  json_t *hits;
};

static bool search_each(json_t *row, void *arg) {
  struct search *s = arg;
  if (s->graph_id && strcmp(str(row, "graph_id"), s->graph_id))
    return true;
  if (s->name && !strstr(str(row, "name") ? str(row, "name") : "", s->name))
    return true;
  if (!api_json_contains(json_object_get(row, "metadata"), s->metadata))
    return true;
  json_array_append_new(s->hits, json_deep_copy(row));
  return true;
}

/* What a sort compares by; passed to qsort_r, as loop threads may sort at
 * the same time. */
struct sort_by {
  const char *key;
  bool desc;
};

static int compare_rows(const void *a, const void *b, void *arg) {
  const struct sort_by *by = arg;
  const json_t *x = json_object_get(*(json_t *const *)a, by->key);
  const json_t *y = json_object_get(*(json_t *const *)b, by->key);
  int c;
  if (json_is_integer(x) && json_is_integer(y))
    c = (json_integer_value(x) > json_integer_value(y)) -
        (json_integer_value(x) < json_integer_value(y));
  else
    c = strcmp(json_string_value(x) ? json_string_value(x) : "",
               json_string_value(y) ? json_string_value(y) : "");
  return by->desc ? -c : c;
}

/* Sorts `rows` in place by `key`. */
static void sort_rows(json_t *rows, const char *key, bool desc) {
  size_t n = json_array_size(rows);
  json_t **v = loom_malloc((n ? n : 1) * sizeof *v);
  for (size_t i = 0; i < n; i++)
    v[i] = json_incref(json_array_get(rows, i));
  struct sort_by by = {key, desc};
  qsort_r(v, n, sizeof *v, compare_rows, &by);
  json_array_clear(rows);
  for (size_t i = 0; i < n; i++)
    json_array_append_new(rows, v[i]);
  loom_free(v);
}

static loom_err read_search(const json_t *body, struct search *s,
                            long long *limit, long long *offset,
                            struct loom_error *e) {
  static const char *const sort_by[] = {"assistant_id", "graph_id",   "name",
                                        "created_at",   "updated_at", NULL};
  static const char *const order[] = {"asc", "desc", NULL};
  json_t *md = NULL;
  loom_err err = api_opt_object(body, "metadata", &md, e);
  s->metadata = md;
  if (!err)
    err = api_opt_string(body, "graph_id", &s->graph_id, e);
  if (!err)
    err = api_opt_string(body, "name", &s->name, e);
  if (!err)
    err = api_opt_enum(body, "sort_by", sort_by, &s->sort_by, e);
  if (!err)
    err = api_opt_enum(body, "sort_order", order, &s->sort_order, e);
  if (!err && limit)
    err = api_opt_int(body, "limit", 1, 1000, limit, e);
  if (!err && offset)
    err = api_opt_int(body, "offset", 0, 1000000000, offset, e);
  return err;
}

static void search_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  json_t *body = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  struct search s = {0};
  long long limit = 10, offset = 0;
  struct loom_error e = {0};
  if (read_search(body, &s, &limit, &offset, &e)) {
    api_fail_err(req, &e);
    json_decref(body);
    return;
  }
  s.hits = json_array();
  api_lock();
  api_assistants_each(search_each, &s);
  sort_rows(s.hits, s.sort_by ? s.sort_by : "created_at",
            !s.sort_order || !strcmp(s.sort_order, "desc"));
  api_unlock();
  json_t *page = json_array();
  for (size_t i = (size_t)offset;
       i < json_array_size(s.hits) && json_array_size(page) < (size_t)limit;
       i++)
    json_array_append(page, json_array_get(s.hits, i));
  json_decref(s.hits);
  json_decref(body);
  loom_http_respond_json(req, 200, page);
}

static void count_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  json_t *body = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  struct search s = {0};
  struct loom_error e = {0};
  if (read_search(body, &s, NULL, NULL, &e)) {
    api_fail_err(req, &e);
    json_decref(body);
    return;
  }
  s.hits = json_array();
  api_lock();
  api_assistants_each(search_each, &s);
  api_unlock();
  size_t n = json_array_size(s.hits);
  json_decref(s.hits);
  json_decref(body);
  loom_http_respond_json(req, 200, json_integer((json_int_t)n));
}

static void versions_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  json_t *body = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  json_t *md = NULL;
  long long limit = 10, offset = 0;
  struct loom_error e = {0};
  if (api_opt_object(body, "metadata", &md, &e) ||
      api_opt_int(body, "limit", 1, 1000, &limit, &e) ||
      api_opt_int(body, "offset", 0, 1000000000, &offset, &e)) {
    api_fail_err(req, &e);
    json_decref(body);
    return;
  }
  json_t *out = NULL;
  api_lock();
  json_t *row = path_assistant(req);
  if (row) {
    json_t *vers = api_assistant_versions(str(row, "assistant_id"));
    out = json_array();
    size_t skipped = 0;
    for (size_t i = json_array_size(vers); i-- > 0;) {
      json_t *v = json_array_get(vers, i);
      if (!api_json_contains(json_object_get(v, "metadata"), md))
        continue;
      if (skipped++ < (size_t)offset)
        continue;
      if (json_array_size(out) >= (size_t)limit)
        break;
      json_array_append_new(out, json_deep_copy(v));
    }
  }
  api_unlock();
  json_decref(body);
  if (out)
    loom_http_respond_json(req, 200, out);
}

static void latest_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  json_t *body = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  long long version = -1;
  struct loom_error e = {0};
  if (api_opt_int(body, "version", 1, 1000000000, &version, &e) ||
      (version < 0 && api_invalid(&e, "version", "is required"))) {
    api_fail_err(req, &e);
    json_decref(body);
    return;
  }
  json_decref(body);
  api_lock();
  json_t *row = path_assistant(req);
  if (!row) {
    api_unlock();
    return;
  }
  const char *id = str(row, "assistant_id");
  json_t *vers = api_assistant_versions(id), *hit = NULL, *v;
  size_t i;
  json_array_foreach(vers, i, v) {
    if (json_integer_value(json_object_get(v, "version")) == version)
      hit = v;
  }
  json_t *out = hit ? json_deep_copy(hit) : NULL;
  char idcopy[LOOM_ID_LEN + 1];
  snprintf(idcopy, sizeof idcopy, "%s", id);
  if (out) {
    api_assistant_put(json_incref(out));
    api_persist_assistant(out, API_PERSIST_LATEST);
  }
  api_unlock();
  if (!out)
    api_fail(req, 404, "not_found", "assistant '%s' has no version %lld",
             idcopy, version);
  else
    loom_http_respond_json(req, 200, out);
}

/* The graph of the path's assistant (reference held), or NULL answered. */
static struct api_graph *path_graph(struct loom_http_req *req) {
  api_lock();
  json_t *row = path_assistant(req);
  char *graph_id = row ? loom_strdup(str(row, "graph_id")) : NULL;
  api_unlock();
  if (!graph_id)
    return NULL;
  struct api_graph *g = api_graph_get(graph_id);
  if (!g)
    api_not_found(req, "graph", graph_id);
  loom_free(graph_id);
  return g;
}

static void graph_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  struct api_graph *g = path_graph(req);
  if (!g)
    return;
  const char *xray = loom_http_query(req, "xray");
  json_t *out = api_graph_drawable(g->graph, xray && strcmp(xray, "false"));
  api_graph_release(g);
  loom_http_respond_json(req, 200, out);
}

static void schemas_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  struct api_graph *g = path_graph(req);
  if (!g)
    return;
  json_t *state = api_graph_state_schema(g->graph);
  json_t *out = json_pack(
      "{s:s, s:O, s:O, s:o, s:{s:s, s:s, s:{}}, s:{s:s, s:s, s:{}}}",
      "graph_id", g->id, "input_schema", state, "output_schema", state,
      "state_schema", state, "config_schema", "title", "Configurable", "type",
      "object", "properties", "context_schema", "title", "Context", "type",
      "object", "properties");
  api_graph_release(g);
  loom_http_respond_json(req, 200, out);
}

static void subgraphs_cb(struct loom_http_req *req, void *userdata) {
  (void)userdata;
  struct api_graph *g = path_graph(req);
  if (!g)
    return;
  api_graph_release(g);
  loom_http_respond_json(req, 200, json_object());
}

loom_err api_assistant_routes(struct loom_http_router *r, struct loom_app *app,
                              struct loom_error *e) {
  static const struct loom_http_route routes[] = {
      {"POST", "/assistants", create_cb},
      {"POST", "/assistants/search", search_cb},
      {"POST", "/assistants/count", count_cb},
      {"GET", "/assistants/{assistant_id}", get_cb},
      {"PATCH", "/assistants/{assistant_id}", update_cb},
      {"DELETE", "/assistants/{assistant_id}", delete_cb},
      {"POST", "/assistants/{assistant_id}/versions", versions_cb},
      {"POST", "/assistants/{assistant_id}/latest", latest_cb},
      {"GET", "/assistants/{assistant_id}/graph", graph_cb},
      {"GET", "/assistants/{assistant_id}/schemas", schemas_cb},
      {"GET", "/assistants/{assistant_id}/subgraphs", subgraphs_cb},
      {"GET", "/assistants/{assistant_id}/subgraphs/{namespace}", subgraphs_cb},
  };
  return LOOM_HTTP_ROUTES_ADD(r, routes, app, e);
}
