/*
 * store_items — LangGraph's long-term memory store, the routes the SDK's
 * `client.store` calls:
 *
 *   PUT    /store/items             {namespace, key, value, index?, ttl?}
 *   GET    /store/items?namespace=a.b&key=k[&refresh_ttl=true]
 *   DELETE /store/items             {namespace, key}
 *   POST   /store/items/search      {namespace_prefix, filter?, limit?,
 *                                    offset?, query?, refresh_ttl?}
 *   POST   /store/namespaces        {prefix?, suffix?, max_depth?, limit?,
 *                                    offset?}
 *
 * Items are agent memories (the store's memories table) of kind
 * "store_item": the namespace's labels joined by '.' (so a label holds no
 * '.'), the value's JSON as content, and the ttl in milliseconds in the
 * metadata, which a refresh_ttl read sets the expiry from again. Putting
 * an existing item replaces it in place (created_at stays). `filter` is
 * the Pinecone metadata filter (stores/filter.h) over the value's
 * top-level keys. `query` is accepted and ignored: there is no embedding
 * index over items, so results are never ranked and score is null.
 * Validation runs on the loop; the store calls go to the pool.
 *
 * Expired items: reads, searches and namespace listings never return
 * them (the store filters by expiry). They are deleted by a sweep that
 * a request on the pool runs after its own work once the earliest
 * expiry known has passed (`next_sweep_ms`: lowered by every put with a
 * ttl, set from the store's next expiry after each sweep), at most once
 * per SWEEP_MIN_MS (unless the last one left expired items behind) and
 * SWEEP_BATCH items at a time, so no request pays for a table scan and a
 * namespace never written again does not keep its dead items. The first request
 * after a start sweeps what an earlier process left.
 */
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/internal.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "obs/metrics.h"
#include "stores/filter.h"
#include "stores/store.h"

#define ITEM_KIND "store_item"
#define ITEM_MAX_LIMIT 1000
#define ITEM_MAX_TTL_MIN 1e9 /* minutes; ~1900 years */
#define SWEEP_MIN_MS 1000    /* between two sweeps of expired items */
#define SWEEP_BATCH 500      /* expired items one sweep deletes at most */

static struct loom_app *the_app;
/* Wall-clock ms from which the next request sweeps expired items (0: the
 * first one does); when the last sweep began, for SWEEP_MIN_MS. */
static _Atomic long long next_sweep_ms, last_sweep_ms;

enum item_op { OP_PUT, OP_GET, OP_DELETE, OP_SEARCH, OP_NAMESPACES };

struct item_job {
  enum item_op op;
  char *ns;      /* joined labels; the literal prefix for search/namespaces */
  char *key;     /* get, delete */
  json_t *row;   /* put: the memory row */
  json_t *match; /* namespaces: {prefix, suffix} label arrays, "*" any */
  struct loom_filter *filter; /* search */
  long long max_depth;        /* namespaces; 0: none */
  size_t limit, offset;
  bool refresh;
  json_t *out; /* the answer; NULL with OP_PUT/OP_DELETE: 204 */
  struct loom_error e;
  loom_err err;
};

static void job_free(struct item_job *j) {
  loom_free(j->ns);
  loom_free(j->key);
  json_decref(j->row);
  json_decref(j->match);
  loom_filter_free(j->filter);
  json_decref(j->out);
  loom_free(j);
}

/* ---- namespaces as labels ---- */

/* `field` as a list of labels: non-empty strings without '.' ("*" too
 * when `wild`), at least one unless `may_be_empty`. `*joined` (may be
 * NULL) gets them joined by '.', up to the first "*" when `wild`. */
static loom_err read_labels(const json_t *body, const char *field,
                            bool may_be_empty, bool wild, char **joined,
                            struct loom_error *e) {
  const json_t *a = json_object_get(body, field);
  if (!json_is_array(a))
    return api_invalid(e, field, "must be a list of labels (strings)");
  if (!may_be_empty && json_array_size(a) == 0)
    return api_invalid(e, field, "must hold at least one label");
  size_t i, len = 0;
  const json_t *l;
  json_array_foreach(a, i, l) {
    const char *s = json_string_value(l);
    if (!s || !s[0] || strchr(s, '.'))
      return loom_error_set(e, LOOM_ERR_INVALID,
                            "%s: label %zu must be a non-empty string "
                            "without '.' (labels are joined by '.')",
                            field, i);
    len += strlen(s) + 1;
  }
  if (!joined)
    return LOOM_OK;
  char *out = loom_malloc(len + 1), *p = out;
  *p = '\0';
  json_array_foreach(a, i, l) {
    const char *s = json_string_value(l);
    if (wild && !strcmp(s, "*"))
      break;
    p += sprintf(p, "%s%s", p == out ? "" : ".", s);
  }
  *joined = out;
  return LOOM_OK;
}

/* "a.b.c" as ["a", "b", "c"]. */
static json_t *split_labels(const char *ns) {
  json_t *a = json_array();
  for (const char *p = ns; *p;) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    json_array_append_new(a, json_stringn(p, n));
    p += n + (dot != NULL);
  }
  return a;
}

/* An item as the API shows it, from a memory row ("value" set by
 * parse_value, or parsed from the content here). */
static json_t *item_json(json_t *row, bool with_score) {
  json_t *value = json_object_get(row, "value");
  if (!value) {
    value =
        json_loads(json_string_value(json_object_get(row, "content")), 0, NULL);
    json_object_set_new(row, "value", value ? value : json_object());
    value = json_object_get(row, "value");
  }
  json_t *item = json_pack(
      "{s:o, s:O, s:O, s:O, s:O}", "namespace",
      split_labels(json_string_value(json_object_get(row, "namespace"))), "key",
      json_object_get(row, "key"), "value", value, "created_at",
      json_object_get(row, "created_at"), "updated_at",
      json_object_get(row, "updated_at"));
  if (with_score)
    json_object_set_new(item, "score", json_null());
  return item;
}

/* Refreshes the expiry of the item `row` when it has a ttl. */
static void refresh_row(const json_t *row) {
  json_t *ttl = json_object_get(json_object_get(row, "metadata"), "ttl_ms");
  if (json_is_integer(ttl))
    (void)loom_store_touch_memory(
        the_app->store, API_TENANT,
        json_string_value(json_object_get(row, "memory_id")),
        json_integer_value(ttl), NULL);
}

/* ---- namespaces: match, cut, sort, page ---- */

/* Whether `labels` starts (`at_end` false) or ends with `want`, whose "*"
 * labels match any one label. */
static bool labels_match(const json_t *labels, const json_t *want,
                         bool at_end) {
  size_t n = json_array_size(labels), m = json_array_size(want);
  if (m > n)
    return false;
  for (size_t i = 0; i < m; i++) {
    const char *w = json_string_value(json_array_get(want, i));
    const char *l =
        json_string_value(json_array_get(labels, at_end ? n - m + i : i));
    if (strcmp(w, "*") && strcmp(w, l))
      return false;
  }
  return true;
}

/* Label lists compared label by label, a prefix first (tuple order). */
static int labels_cmp_cb(const void *a, const void *b) {
  const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
  size_t n = json_array_size(x), m = json_array_size(y);
  for (size_t i = 0; i < n && i < m; i++) {
    int c = strcmp(json_string_value(json_array_get(x, i)),
                   json_string_value(json_array_get(y, i)));
    if (c)
      return c;
  }
  return (n > m) - (n < m);
}

/* The answer of POST /store/namespaces from the stored namespaces. */
static json_t *namespaces_answer(const struct item_job *j, json_t *names) {
  size_t n = 0, i, kept = 0;
  json_t **all = loom_malloc((json_array_size(names) + 1) * sizeof *all);
  const json_t *name;
  json_array_foreach(names, i, name) {
    json_t *labels = split_labels(json_string_value(name));
    const json_t *prefix = json_object_get(j->match, "prefix");
    const json_t *suffix = json_object_get(j->match, "suffix");
    if (!labels_match(labels, prefix, false) ||
        !labels_match(labels, suffix, true)) {
      json_decref(labels);
      continue;
    }
    while (j->max_depth && json_array_size(labels) > (size_t)j->max_depth)
      json_array_remove(labels, json_array_size(labels) - 1);
    all[n++] = labels;
  }
  qsort(all, n, sizeof *all, labels_cmp_cb);
  json_t *out = json_array();
  for (i = 0; i < n; i++) {
    bool dup = i > 0 && labels_cmp_cb(&all[i - 1], &all[i]) == 0;
    if (!dup && kept++ >= j->offset && json_array_size(out) < j->limit)
      json_array_append(out, all[i]);
  }
  for (i = 0; i < n; i++)
    json_decref(all[i]);
  loom_free(all);
  return json_pack("{s:o}", "namespaces", out);
}

/* ---- the store calls, on the pool ---- */

/* Makes the next sweep due at `at` if that is sooner than planned (but
 * not within SWEEP_MIN_MS of the last one). */
static void sweep_by(long long at) {
  long long floor = atomic_load(&last_sweep_ms) + SWEEP_MIN_MS;
  if (at < floor)
    at = floor;
  long long cur = atomic_load(&next_sweep_ms);
  while (at < cur && !atomic_compare_exchange_weak(&next_sweep_ms, &cur, at))
    ;
}

/* Deletes expired items when a sweep is due and no other request is
 * running one (see the top of the file). */
static void sweep_expired(void) {
  long long now = (long long)loom_clock_wall_ms();
  long long due = atomic_load(&next_sweep_ms);
  if (now < due ||
      !atomic_compare_exchange_strong(&next_sweep_ms, &due, now + SWEEP_MIN_MS))
    return;
  atomic_store(&last_sweep_ms, now);
  size_t deleted = 0;
  long long next = 0;
  struct loom_error e = {0};
  long long then = now + SWEEP_MIN_MS; /* on failure: try again then */
  if (loom_store_purge_memories(the_app->store, API_TENANT, ITEM_KIND,
                                SWEEP_BATCH, &deleted, &next, &e))
    LOOM_WARN("store items: deleting expired items failed: %s", e.message);
  else if (deleted == SWEEP_BATCH) /* more are expired: the next request */
    then = now;
  else
    then = next ? (next > then ? next : then) : LLONG_MAX;
  if (deleted)
    loom_metric_inc(loom_metrics_counter("loom_store_items_expired_total",
                                         "Store items deleted from the "
                                         "database after their ttl ran out",
                                         NULL),
                    NULL, (double)deleted);
  /* A put may have made it sooner meanwhile: keep that. */
  long long planned = now + SWEEP_MIN_MS;
  if (!atomic_compare_exchange_strong(&next_sweep_ms, &planned, then) &&
      then < planned)
    sweep_by(then);
}

/* search_memories' keep: parses the value and applies the filter. */
static bool keep_cb(void *ud, json_t *row) {
  const struct item_job *j = ud;
  json_t *v =
      json_loads(json_string_value(json_object_get(row, "content")), 0, NULL);
  if (!json_is_object(v)) {
    json_decref(v);
    v = json_object();
  }
  json_object_set_new(row, "value", v);
  return !j->filter || loom_filter_match(j->filter, v);
}

/* The item (namespace, key) as a memory row, or NULL. */
static loom_err find_item(struct item_job *j, json_t **row) {
  json_t *rows = NULL;
  *row = NULL;
  loom_err err = loom_store_list_memories(the_app->store, API_TENANT, j->ns,
                                          ITEM_KIND, j->key, 1, &rows, &j->e);
  if (!err)
    *row = json_incref(json_array_get(rows, 0));
  json_decref(rows);
  return err;
}

static loom_err search_work(struct item_job *j) {
  json_t *rows = NULL, *items = json_array(), *row;
  j->out = json_pack("{s:o}", "items", items);
  if (j->limit == 0)
    return LOOM_OK;
  loom_err err =
      loom_store_search_memories(the_app->store, API_TENANT, ITEM_KIND, j->ns,
                                 keep_cb, j, j->offset, j->limit, &rows, &j->e);
  size_t i;
  json_array_foreach(rows, i, row) {
    if (j->refresh)
      refresh_row(row);
    json_array_append_new(items, item_json(row, true));
  }
  json_decref(rows);
  return err;
}

static void work_cb(void *arg) {
  struct item_job *j = arg;
  struct loom_store *s = the_app->store;
  json_t *row = NULL;
  switch (j->op) {
  case OP_PUT:
    j->err = loom_store_put_memory(s, API_TENANT, j->row, NULL, &j->e);
    if (!j->err && json_object_get(j->row, "ttl_ms"))
      sweep_by((long long)loom_clock_wall_ms() +
               json_integer_value(json_object_get(j->row, "ttl_ms")));
    break;
  case OP_GET:
    if (!(j->err = find_item(j, &row)) && row && j->refresh)
      refresh_row(row);
    j->out = row ? item_json(row, false) : json_null();
    break;
  case OP_DELETE:
    if (!(j->err = find_item(j, &row)) && row)
      j->err = loom_store_delete_memories(
          s, API_TENANT, j->ns,
          json_string_value(json_object_get(row, "memory_id")), NULL, &j->e);
    break;
  case OP_SEARCH:
    j->err = search_work(j);
    break;
  case OP_NAMESPACES:
    if (!(j->err = loom_store_list_memory_namespaces(s, API_TENANT, ITEM_KIND,
                                                     j->ns, 0, &row, &j->e)))
      j->out = namespaces_answer(j, row);
    break;
  }
  json_decref(row);
  sweep_expired();
}

static void done_cb(struct loom_http_req *req, void *arg) {
  struct item_job *j = arg;
  if (req && j->err)
    api_fail_err(req, &j->e);
  else if (req && j->out) {
    loom_http_respond_json(req, 200, j->out);
    j->out = NULL;
  } else if (req)
    loom_http_respond_raw(req, 204, NULL, "", 0);
  job_free(j);
}

/* ---- handlers: validate on the loop, then offload ---- */

/* Offloads `j`, or answers the validation error in `e` when `err`. */
static void start(struct loom_http_req *req, struct item_job *j, loom_err err,
                  const struct loom_error *e, json_t *body) {
  json_decref(body);
  if (err) {
    api_fail_err(req, e);
    job_free(j);
  } else
    api_offload(req, work_cb, done_cb, j);
}

/* `key`: a non-empty string, copied to j->key. */
static loom_err read_key(const json_t *body, struct item_job *j,
                         struct loom_error *e) {
  const char *key = json_string_value(json_object_get(body, "key"));
  if (!key || !key[0])
    return api_invalid(e, "key", "must be a non-empty string");
  j->key = loom_strdup(key);
  return LOOM_OK;
}

/* `index` (false or a list of paths: accepted, unused) and `ttl` (minutes,
 * null for none) into the row. */
static loom_err read_put_options(const json_t *body, json_t *row,
                                 struct loom_error *e) {
  const json_t *index = json_object_get(body, "index");
  const json_t *ttl = json_object_get(body, "ttl");
  size_t i;
  const json_t *p;
  if (index && !json_is_null(index) && !json_is_boolean(index) &&
      !json_is_array(index))
    return api_invalid(e, "index", "must be false or a list of paths");
  json_array_foreach(index, i, p) {
    if (!json_is_string(p))
      return api_invalid(e, "index", "must be false or a list of paths");
  }
  if (!ttl || json_is_null(ttl))
    return LOOM_OK;
  double min = json_number_value(ttl);
  if (!json_is_number(ttl) || !(min > 0) || min > ITEM_MAX_TTL_MIN)
    return api_invalid(e, "ttl",
                       "must be a positive number of minutes, or null");
  json_int_t ms = (json_int_t)ceil(min * 60000.0);
  json_object_set_new(row, "ttl_ms", json_integer(ms));
  json_object_set_new(row, "metadata", json_pack("{s:I}", "ttl_ms", ms));
  return LOOM_OK;
}

static void put_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *body = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  struct item_job *j = LOOM_NEW(struct item_job);
  struct loom_error e = {0};
  j->op = OP_PUT;
  json_t *value = json_object_get(body, "value");
  loom_err err = read_labels(body, "namespace", false, false, &j->ns, &e);
  if (!err && !(err = read_key(body, j, &e)) && !json_is_object(value))
    err = api_invalid(&e, "value", "must be an object");
  if (!err) {
    char *content = json_dumps(value, JSON_COMPACT);
    j->row = json_pack("{s:s, s:s, s:s, s:s}", "namespace", j->ns, "kind",
                       ITEM_KIND, "key", j->key, "content", content);
    free(content);
    err = read_put_options(body, j->row, &e);
  }
  start(req, j, err, &e, body);
}

static void get_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  const char *ns = loom_http_query(req, "namespace");
  const char *key = loom_http_query(req, "key");
  const char *refresh = loom_http_query(req, "refresh_ttl");
  struct item_job *j = LOOM_NEW(struct item_job);
  struct loom_error e = {0};
  j->op = OP_GET;
  j->ns = loom_strdup(ns ? ns : "");
  j->refresh =
      refresh && (!strcasecmp(refresh, "true") || !strcmp(refresh, "1") ||
                  !strcasecmp(refresh, "yes"));
  loom_err err = LOOM_OK;
  if (!key || !key[0])
    err = api_invalid(&e, "key", "must be a non-empty string");
  else
    j->key = loom_strdup(key);
  start(req, j, err, &e, NULL);
}

static void delete_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *body = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  struct item_job *j = LOOM_NEW(struct item_job);
  struct loom_error e = {0};
  j->op = OP_DELETE;
  loom_err err = LOOM_OK;
  const json_t *ns = json_object_get(body, "namespace");
  if (!ns || json_is_null(ns))
    j->ns = loom_strdup(""); /* LangGraph's default: nothing lives there */
  else
    err = read_labels(body, "namespace", true, false, &j->ns, &e);
  if (!err)
    err = read_key(body, j, &e);
  start(req, j, err, &e, body);
}

/* `limit` (default `def`, at most ITEM_MAX_LIMIT) and `offset`. */
static loom_err read_page(const json_t *body, long long def, struct item_job *j,
                          struct loom_error *e) {
  long long limit = def, offset = 0;
  loom_err err = api_opt_int(body, "limit", 0, LLONG_MAX, &limit, e);
  if (!err)
    err = api_opt_int(body, "offset", 0, LLONG_MAX, &offset, e);
  j->limit = (size_t)(limit < ITEM_MAX_LIMIT ? limit : ITEM_MAX_LIMIT);
  j->offset = (size_t)offset;
  return err;
}

static void search_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *body = NULL, *filter = NULL; /* filter: borrowed */
  if (!loom_http_json_object(req, &body))
    return;
  struct item_job *j = LOOM_NEW(struct item_job);
  struct loom_error e = {0};
  const char *query = NULL;
  const json_t *refresh = json_object_get(body, "refresh_ttl");
  j->op = OP_SEARCH;
  loom_err err = read_labels(body, "namespace_prefix", true, false, &j->ns, &e);
  if (!err)
    err = read_page(body, 10, j, &e);
  if (!err)
    err = api_opt_string(body, "query", &query, &e); /* ignored: no index */
  if (!err && refresh && !json_is_null(refresh) && !json_is_boolean(refresh))
    err = api_invalid(&e, "refresh_ttl", "must be a boolean");
  if (!err && !(err = api_opt_object(body, "filter", &filter, &e)) && filter &&
      (err = loom_filter_compile(filter, &j->filter, &e))) {
    char why[sizeof e.message];
    memcpy(why, e.message, sizeof why);
    loom_error_set(&e, LOOM_ERR_INVALID, "filter: %s", why);
  }
  j->refresh = json_is_true(refresh);
  start(req, j, err, &e, body);
}

static void namespaces_cb(struct loom_http_req *req, void *ud) {
  (void)ud;
  json_t *body = NULL;
  if (!loom_http_json_object(req, &body))
    return;
  struct item_job *j = LOOM_NEW(struct item_job);
  struct loom_error e = {0};
  j->op = OP_NAMESPACES;
  j->match = json_object();
  loom_err err = LOOM_OK;
  static const char *const sides[] = {"prefix", "suffix"};
  for (size_t i = 0; i < 2 && !err; i++) {
    const json_t *v = json_object_get(body, sides[i]);
    if (!v || json_is_null(v))
      json_object_set_new(j->match, sides[i], json_array());
    else if (!(err = read_labels(body, sides[i], true, true,
                                 i == 0 ? &j->ns : NULL, &e)))
      json_object_set(j->match, sides[i], (json_t *)v);
  }
  if (!j->ns)
    j->ns = loom_strdup("");
  if (!err)
    err = api_opt_int(body, "max_depth", 1, INT_MAX, &j->max_depth, &e);
  if (!err)
    err = read_page(body, 100, j, &e);
  start(req, j, err, &e, body);
}

loom_err api_store_routes(struct loom_http_router *r, struct loom_app *app,
                          struct loom_error *e) {
  static const struct loom_http_route routes[] = {
      {"PUT", "/store/items", put_cb},
      {"GET", "/store/items", get_cb},
      {"DELETE", "/store/items", delete_cb},
      {"POST", "/store/items/search", search_cb},
      {"POST", "/store/namespaces", namespaces_cb},
  };
  the_app = app;
  atomic_store(&next_sweep_ms, 0);
  atomic_store(&last_sweep_ms, 0);
  return LOOM_HTTP_ROUTES_ADD(r, routes, app, e);
}
