/*
 * tools — the registry and the validated invocation path.
 *
 * The registry is a small array searched by name (tens of tools). Each
 * entry keeps its parsed schema so validation does not re-parse it.
 */
#include "agents/tools.h"

#include <ctype.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"

#define MAX_TOOLS 256
#define MAX_ARGUMENTS (1u << 20)

struct entry {
  struct loom_tool t; /* strings owned */
  json_t *schema;
};

struct loom_tools {
  struct entry e[MAX_TOOLS];
  size_t n;
  const struct loom_tools *parent; /* looked up when a name is not here */
};

void loom_tools_set_parent(struct loom_tools *r,
                           const struct loom_tools *parent) {
  r->parent = parent;
}

struct loom_tools *loom_tools_new(void) {
  return LOOM_NEW(struct loom_tools);
}

void loom_tools_free(struct loom_tools *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->n; i++) {
    if (r->e[i].t.free_self)
      r->e[i].t.free_self(r->e[i].t.self);
    loom_free((char *)r->e[i].t.name);
    loom_free((char *)r->e[i].t.description);
    loom_free((char *)r->e[i].t.parameters);
    json_decref(r->e[i].schema);
  }
  loom_free(r);
}

static bool valid_name(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > 64)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
      return false;
  return true;
}

static const struct entry *find(const struct loom_tools *r, const char *name) {
  for (; r; r = r->parent)
    for (size_t i = 0; i < r->n; i++)
      if (strcmp(r->e[i].t.name, name) == 0)
        return &r->e[i];
  return NULL;
}

bool loom_tools_has(const struct loom_tools *r, const char *name) {
  return name && find(r, name) != NULL;
}

loom_err loom_tools_add(struct loom_tools *r, const struct loom_tool *t,
                        struct loom_error *e) {
  if (!valid_name(t->name))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "tool name '%s' must be 1-64 letters, digits, _ or -",
                          t->name ? t->name : "");
  if (!t->run == !t->start)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "tool '%s' needs exactly one of run and start",
                          t->name);
  if (find(r, t->name))
    return loom_error_set(e, LOOM_ERR_EXISTS, "tool '%s' already exists",
                          t->name);
  if (r->n == MAX_TOOLS)
    return loom_error_set(e, LOOM_ERR_LIMIT, "more than %d tools", MAX_TOOLS);
  const char *params =
      t->parameters ? t->parameters : "{\"type\":\"object\",\"properties\":{}}";
  json_t *schema = loom_json_parse(params, strlen(params), e);
  if (!json_is_object(schema)) {
    json_decref(schema);
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "tool '%s': parameters must be a JSON Schema object",
                          t->name);
  }
  struct entry *en = &r->e[r->n++];
  en->t = *t;
  en->t.name = loom_strdup(t->name);
  en->t.description = loom_strdup(t->description ? t->description : "");
  en->t.parameters = loom_strdup(params);
  en->schema = schema;
  return LOOM_OK;
}

static json_t *declaration(const struct entry *en) {
  return json_pack("{s:s, s:s, s:O}", "name", en->t.name, "description",
                   en->t.description, "parameters", en->schema);
}

loom_err loom_tools_describe(const struct loom_tools *r,
                             const char *const *names, json_t **out,
                             struct loom_error *e) {
  json_t *arr = json_array();
  if (!names) {
    for (size_t i = 0; i < r->n; i++)
      json_array_append_new(arr, declaration(&r->e[i]));
    *out = arr;
    return LOOM_OK;
  }
  for (size_t i = 0; names[i]; i++) {
    const struct entry *en = find(r, names[i]);
    if (!en) {
      json_decref(arr);
      return loom_error_set(e, LOOM_ERR_NOT_FOUND, "unknown tool '%s'",
                            names[i]);
    }
    json_array_append_new(arr, declaration(en));
  }
  *out = arr;
  return LOOM_OK;
}

/* "unknown tool 'x'; the tools are: a, b" for the model. */
static void unknown_tool(const struct loom_tools *r, const char *name,
                         loom_tool_done_cb done, void *ud) {
  struct loom_buf b;
  loom_buf_init(&b, 8192);
  if (loom_buf_appendf(
          &b, "Error: there is no tool named '%s'. The tools are:", name))
    goto out;
  for (size_t i = 0; i < r->n; i++)
    if (loom_buf_appendf(&b, "%s %s", i ? "," : "", r->e[i].t.name))
      break;
out:
  done(ud, true, b.data ? b.data : "Error: unknown tool");
  loom_buf_cleanup(&b);
}

void loom_tools_invoke(const struct loom_tools *r,
                       const struct loom_tool_env *env, const char *name,
                       const char *arguments, loom_tool_done_cb done,
                       void *ud) {
  const struct entry *en = name ? find(r, name) : NULL;
  if (!en) {
    unknown_tool(r, name ? name : "", done, ud);
    return;
  }
  struct loom_error e = {0};
  char *msg = NULL;
  const char *text = arguments && *arguments ? arguments : "{}";
  size_t len = strlen(text);
  json_t *args = len <= MAX_ARGUMENTS ? loom_json_parse(text, len, &e) : NULL;
  if (!args) {
    msg = loom_asprintf("Error: the arguments for '%s' are not valid JSON "
                        "(%s). Send one JSON object matching the tool's "
                        "parameters.",
                        name, len > MAX_ARGUMENTS ? "too large" : e.message);
  } else if (loom_json_schema_validate(en->schema, args, &e)) {
    msg = loom_asprintf("Error: invalid arguments for '%s': %s. Fix them and "
                        "call the tool again.",
                        name, e.message);
  }
  if (msg) {
    done(ud, true, msg);
    goto out;
  }
  if (en->t.start) {
    if (en->t.start(en->t.self, env, args, done, ud, &e)) {
      msg = loom_asprintf("Error: %s", e.message);
      done(ud, true, msg);
    }
    goto out;
  }
  char *result = NULL;
  if (en->t.run(en->t.self, args, &result, &e)) {
    msg = loom_asprintf("Error: %s", e.message);
    done(ud, true, msg);
  } else {
    done(ud, false, result ? result : "");
  }
  loom_free(result);
out:
  loom_free(msg);
  json_decref(args);
}
