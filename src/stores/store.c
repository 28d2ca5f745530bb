/*
 * store — picks the storage backend from the configuration, and the pieces
 * every backend shares (freeing checkpoints, metadata filters, tenant
 * checks).
 *
 * An empty DATABASE_URL means the embedded SQLite file <data_dir>/loom.db
 * (the directory is created); postgres:// is recognised but not built yet.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/id.h"
#include "stores/internal.h"
#include "stores/store.h"

/* mkdir -p: creates `dir` and its missing parents. */
static loom_err make_dirs(const char *dir, struct loom_error *e) {
  char *path = loom_strdup(dir);
  loom_err result = LOOM_OK;
  for (char *p = path + 1;; p++) {
    bool end = *p == '\0';
    if (*p != '/' && !end)
      continue;
    *p = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
      result = loom_error_set(e, LOOM_ERR_IO,
                              "cannot create data directory '%s': %s; choose "
                              "another with --data-dir (LOOM_DATA_DIR)",
                              path, strerror(errno));
      goto out;
    }
    if (end)
      break;
    *p = '/';
  }
out:
  loom_free(path);
  return result;
}

/*
 * The data directory and its database must be usable by this user. Said
 * here, naming the setting, because SQLite's own words for it are
 * "unable to open database file" (a file where the directory should be)
 * and "attempt to write a readonly database" (a directory or loom.db made
 * by another user), neither naming a path.
 */
static loom_err check_data_dir(const char *dir, const char *db,
                               struct loom_error *e) {
  struct stat st;
  if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "data directory '%s' is a file, not a directory; "
                          "choose a directory with --data-dir (LOOM_DATA_DIR)",
                          dir);
  const char *bad = access(dir, W_OK | X_OK) != 0                    ? dir
                    : access(db, F_OK) == 0 && access(db, W_OK) != 0 ? db
                                                                     : NULL;
  if (bad)
    return loom_error_set(e, LOOM_ERR_FORBIDDEN,
                          "'%s' is not writable by this user (%s); fix its "
                          "permissions, or choose another data directory "
                          "with --data-dir (LOOM_DATA_DIR)",
                          bad, strerror(errno));
  return LOOM_OK;
}

static bool has_prefix(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

loom_err loom_store_open(const char *database_url, const char *data_dir,
                         struct loom_store **out, struct loom_error *e) {
  *out = NULL;
  if (!database_url || !*database_url) {
    if (!data_dir || !*data_dir)
      return loom_error_set(e, LOOM_ERR_INVALID,
                            "LOOM_DATA_DIR is empty: set it to the directory "
                            "that should hold loom.db");
    loom_err err = make_dirs(data_dir, e);
    if (err)
      return err;
    size_t len = strlen(data_dir);
    char *path = loom_asprintf("%s%sloom.db", data_dir,
                               data_dir[len - 1] == '/' ? "" : "/");
    err = check_data_dir(data_dir, path, e);
    if (!err)
      err = sqlite_store_open(path, out, e);
    loom_free(path);
    return err;
  }
  if (has_prefix(database_url, "postgres://") ||
      has_prefix(database_url, "postgresql://"))
    return loom_error_set(e, LOOM_ERR_UNSUPPORTED,
                          "DATABASE_URL names PostgreSQL, whose backend is "
                          "not built yet; unset DATABASE_URL to use the "
                          "embedded SQLite database");
  return loom_error_set(e, LOOM_ERR_INVALID,
                        "DATABASE_URL must be empty (embedded SQLite) or "
                        "start with postgres://");
}

void loom_checkpoint_free(struct loom_checkpoint *cp) {
  if (!cp)
    return;
  loom_free(cp->thread_id);
  loom_free(cp->ns);
  loom_free(cp->id);
  loom_free(cp->parent_id);
  json_decref(cp->checkpoint);
  json_decref(cp->metadata);
  json_decref(cp->values);
  json_decref(cp->pending_writes);
  loom_free(cp);
}

bool store_json_contains(const json_t *obj, const json_t *filter) {
  if (!filter || !json_is_object(filter))
    return true;
  const char *key;
  json_t *want;
  json_object_foreach((json_t *)filter, key, want) {
    json_t *have = obj ? json_object_get(obj, key) : NULL;
    if (!have || !json_equal(have, want))
      return false;
  }
  return true;
}

loom_err store_check_tenant(const char *tenant, struct loom_error *e) {
  if (!tenant || !*tenant)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "a tenant is required for every storage call");
  return LOOM_OK;
}

size_t search_limit(const struct loom_search *q) {
  if (!q || q->limit == 0)
    return LOOM_SEARCH_DEFAULT_LIMIT;
  return q->limit > LOOM_SEARCH_MAX_LIMIT ? LOOM_SEARCH_MAX_LIMIT : q->limit;
}

loom_err sort_column(const char *sort_by, const char *const *allowed,
                     const char **column, struct loom_error *e) {
  if (!sort_by || !*sort_by)
    sort_by = "created_at";
  for (size_t i = 0; allowed[i]; i += 2) {
    if (strcmp(allowed[i], sort_by) == 0) {
      *column = allowed[i + 1];
      return LOOM_OK;
    }
  }
  return loom_error_set(e, LOOM_ERR_INVALID,
                        "cannot sort by '%s': use created_at, updated_at or "
                        "an id field",
                        sort_by);
}

void merge_patch(json_t *row, const json_t *patch, const char *const *keys) {
  for (size_t i = 0; keys[i]; i++) {
    json_t *v = json_object_get(patch, keys[i]);
    if (v)
      json_object_set(row, keys[i], v);
  }
  json_t *meta = json_object_get(patch, "metadata");
  if (json_is_object(meta)) {
    json_t *have = json_object_get(row, "metadata");
    if (!json_is_object(have)) {
      have = json_object();
      json_object_set_new(row, "metadata", have);
    }
    json_object_update(have, meta);
  }
}

char *row_id_or_new(const json_t *row, const char *key) {
  const char *given = json_string_value(json_object_get(row, key));
  if (given && *given)
    return loom_strdup(given);
  char id[LOOM_ID_LEN + 1];
  return loom_strdup(loom_id_new(id));
}

loom_err loom_store_unsupported(const struct loom_store *s, const char *op,
                                struct loom_error *e) {
  return loom_error_set(e, LOOM_ERR_UNSUPPORTED,
                        "the %s store does not implement %s", s->ops->name, op);
}

bool store_row_matches(const json_t *row, const struct loom_search *q,
                       const char *id_key) {
  if (!q)
    return true;
  if (!store_json_contains(json_object_get(row, "metadata"), q->metadata) ||
      !store_json_contains(json_object_get(row, "values"), q->values))
    return false;
  if (!q->ids || !json_is_array(q->ids) || !id_key)
    return true;
  const char *id = json_string_value(json_object_get(row, id_key));
  size_t i;
  json_t *want;
  json_array_foreach(q->ids, i, want) {
    if (id && json_is_string(want) && strcmp(id, json_string_value(want)) == 0)
      return true;
  }
  return false;
}
