/*
 * router — a tree with one node per path segment.
 *
 * Each node has literal children (searched linearly: route tables are
 * small and fan-out per level is a handful) and at most one parameter
 * child. A node where a pattern ends holds the routes (one per method).
 * Lookup is depth-first, literal before parameter, and backtracks: the
 * first node that matches the whole path is remembered for a 405, and the
 * search goes on for one that also has the method, so "GET /threads/search"
 * can reach "GET /threads/{id}" even though "POST /threads/search" exists.
 */
#include "io/router.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

struct route {
  char method[16];
  loom_http_handler_cb handler;
  void *userdata;
};

struct node {
  char *literal;      /* segment text; NULL for the parameter node */
  char *param_name;   /* for the parameter node */
  struct node **kids; /* literal children */
  size_t nkids;
  struct node *param;                      /* the parameter child */
  char *pattern;                           /* set where a pattern ends */
  const char *names[LOOM_HTTP_MAX_PARAMS]; /* parameter names, in order */
  size_t nparams;
  struct route *routes;
  size_t nroutes;
};

struct loom_http_router {
  struct node root;
};

struct loom_http_router *loom_http_router_new(void) {
  return LOOM_NEW(struct loom_http_router);
}

static void node_cleanup(struct node *n) {
  for (size_t i = 0; i < n->nkids; i++) {
    node_cleanup(n->kids[i]);
    loom_free(n->kids[i]);
  }
  if (n->param) {
    node_cleanup(n->param);
    loom_free(n->param);
  }
  loom_free(n->kids);
  loom_free(n->literal);
  loom_free(n->param_name);
  loom_free(n->pattern);
  loom_free(n->routes);
}

void loom_http_router_free(struct loom_http_router *router) {
  if (!router)
    return;
  node_cleanup(&router->root);
  loom_free(router);
}

/* The child for one pattern segment, created when missing. */
static loom_err child_for(struct node *n, const char *seg, size_t len,
                          struct node **out, struct loom_error *e) {
  if (len >= 2 && seg[0] == '{' && seg[len - 1] == '}') {
    if (len == 2 || memchr(seg + 1, '{', len - 2) ||
        memchr(seg + 1, '}', len - 2))
      return loom_error_set(e, LOOM_ERR_INVALID, "bad parameter segment '%.*s'",
                            (int)len, seg);
    if (!n->param) {
      n->param = LOOM_NEW(struct node);
      n->param->param_name = loom_strndup(seg + 1, len - 2);
    } else if (strlen(n->param->param_name) != len - 2 ||
               strncmp(n->param->param_name, seg + 1, len - 2) != 0) {
      return loom_error_set(e, LOOM_ERR_EXISTS,
                            "parameter '%.*s' clashes with '{%s}' of an "
                            "existing route at the same place",
                            (int)len, seg, n->param->param_name);
    }
    *out = n->param;
    return LOOM_OK;
  }
  if (memchr(seg, '{', len) || memchr(seg, '}', len))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "braces must enclose a whole segment: '%.*s'",
                          (int)len, seg);
  for (size_t i = 0; i < n->nkids; i++)
    if (strlen(n->kids[i]->literal) == len &&
        memcmp(n->kids[i]->literal, seg, len) == 0) {
      *out = n->kids[i];
      return LOOM_OK;
    }
  n->kids = loom_realloc(n->kids, (n->nkids + 1) * sizeof *n->kids);
  *out = n->kids[n->nkids++] = LOOM_NEW(struct node);
  (*out)->literal = loom_strndup(seg, len);
  return LOOM_OK;
}

static loom_err add_route(struct node *n, const char *method,
                          loom_http_handler_cb handler, void *userdata,
                          const char *pattern, struct loom_error *e) {
  for (size_t i = 0; i < n->nroutes; i++)
    if (strcmp(n->routes[i].method, method) == 0)
      return loom_error_set(e, LOOM_ERR_EXISTS, "route %s %s already exists",
                            method, pattern);
  n->routes = loom_realloc(n->routes, (n->nroutes + 1) * sizeof *n->routes);
  struct route *r = &n->routes[n->nroutes++];
  snprintf(r->method, sizeof r->method, "%s", method);
  r->handler = handler;
  r->userdata = userdata;
  return LOOM_OK;
}

loom_err loom_http_route_add(struct loom_http_router *router,
                             const char *method, const char *pattern,
                             loom_http_handler_cb handler, void *userdata,
                             struct loom_error *e) {
  if (!method || !*method || strlen(method) >= 16 || !handler)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "route needs a method and a handler");
  if (!pattern || pattern[0] != '/')
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "route pattern must start with '/': '%s'",
                          pattern ? pattern : "(null)");
  struct node *n = &router->root;
  const char *names[LOOM_HTTP_MAX_PARAMS];
  size_t nparams = 0;
  for (const char *p = pattern; *p;) {
    while (*p == '/')
      p++;
    size_t len = strcspn(p, "/");
    if (len == 0)
      break;
    loom_err err = child_for(n, p, len, &n, e);
    if (err)
      return err;
    if (n->param_name && n->literal == NULL) {
      if (nparams == LOOM_HTTP_MAX_PARAMS)
        return loom_error_set(e, LOOM_ERR_INVALID,
                              "more than %d parameters in '%s'",
                              LOOM_HTTP_MAX_PARAMS, pattern);
      names[nparams++] = n->param_name;
    }
    p += len;
  }
  if (!n->pattern) {
    size_t len = strlen(pattern);
    while (len > 1 && pattern[len - 1] == '/')
      len--;
    n->pattern = loom_strndup(pattern, len);
    memcpy(n->names, names, nparams * sizeof *names);
    n->nparams = nparams;
  }
  return add_route(n, method, handler, userdata, pattern, e);
}

static const struct route *find_method(const struct node *n,
                                       const char *method) {
  for (size_t i = 0; i < n->nroutes; i++)
    if (strcmp(n->routes[i].method, method) == 0)
      return &n->routes[i];
  if (strcmp(method, "HEAD") == 0)
    return find_method(n, "GET");
  return NULL;
}

struct search {
  const char *method;
  const struct node *first; /* first node matching the path */
  const struct node *found; /* node with the method */
  const struct route *route;
  const char *vals[LOOM_HTTP_MAX_PARAMS]; /* parameter text, current path */
  size_t lens[LOOM_HTTP_MAX_PARAMS];
  const char *found_vals[LOOM_HTTP_MAX_PARAMS];
  size_t found_lens[LOOM_HTTP_MAX_PARAMS];
};

/* Matches path from `p` below node `n`; depth = parameters so far. */
static bool search(const struct node *n, const char *p, size_t depth,
                   struct search *s) {
  while (*p == '/')
    p++;
  size_t len = strcspn(p, "/");
  if (len == 0) {
    if (!n->pattern)
      return false;
    if (!s->first)
      s->first = n;
    const struct route *r = find_method(n, s->method);
    if (!r)
      return false;
    s->found = n;
    s->route = r;
    memcpy(s->found_vals, s->vals, depth * sizeof *s->vals);
    memcpy(s->found_lens, s->lens, depth * sizeof *s->lens);
    return true;
  }
  for (size_t i = 0; i < n->nkids; i++) {
    const struct node *k = n->kids[i];
    if (strlen(k->literal) == len && memcmp(k->literal, p, len) == 0 &&
        search(k, p + len, depth, s))
      return true;
  }
  if (n->param && depth < LOOM_HTTP_MAX_PARAMS) {
    s->vals[depth] = p;
    s->lens[depth] = len;
    if (search(n->param, p + len, depth + 1, s))
      return true;
  }
  return false;
}

static void allow_list(const struct node *n, char *out, size_t size) {
  size_t used = 0;
  out[0] = 0;
  bool get = false, head = false;
  for (size_t i = 0; i < n->nroutes; i++) {
    get |= strcmp(n->routes[i].method, "GET") == 0;
    head |= strcmp(n->routes[i].method, "HEAD") == 0;
  }
  for (size_t i = 0; i <= n->nroutes && used < size; i++) {
    const char *m =
        i < n->nroutes ? n->routes[i].method : (get && !head ? "HEAD" : NULL);
    if (!m)
      break;
    int w = snprintf(out + used, size - used, "%s%s", used ? ", " : "", m);
    if (w < 0 || (size_t)w >= size - used)
      break;
    used += (size_t)w;
  }
}

void loom_http_router_match(const struct loom_http_router *router,
                            const char *method, const char *path,
                            struct loom_http_match *m) {
  memset(m, 0, sizeof *m);
  struct search s = {.method = method};
  if (search(&router->root, path, 0, &s)) {
    const struct node *n = s.found;
    m->kind = LOOM_HTTP_MATCH_FOUND;
    m->handler = s.route->handler;
    m->userdata = s.route->userdata;
    m->pattern = n->pattern;
    m->nparams = n->nparams;
    for (size_t i = 0; i < n->nparams; i++) {
      m->param_names[i] = n->names[i];
      m->param_values[i] = loom_strndup(s.found_vals[i], s.found_lens[i]);
    }
  } else if (s.first) {
    m->kind = LOOM_HTTP_MATCH_BAD_METHOD;
    m->pattern = s.first->pattern;
    allow_list(s.first, m->allow, sizeof m->allow);
  } else {
    m->kind = LOOM_HTTP_MATCH_NOT_FOUND;
  }
}

void loom_http_match_cleanup(struct loom_http_match *m) {
  for (size_t i = 0; i < m->nparams; i++) {
    loom_free(m->param_values[i]);
    m->param_values[i] = NULL;
  }
  m->nparams = 0;
}

loom_err loom_http_routes_add(struct loom_http_router *router,
                              const struct loom_http_route *routes, size_t n,
                              void *userdata, struct loom_error *e) {
  for (size_t i = 0; i < n; i++) {
    loom_err err =
        loom_http_route_add(router, routes[i].method, routes[i].pattern,
                            routes[i].handler, userdata, e);
    if (err)
      return err;
  }
  return LOOM_OK;
}
