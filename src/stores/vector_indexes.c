/*
 * vector_indexes — a table of named vector stores under one directory.
 *
 * How: DIR/<name>/ is a vector store directory (config.json, wal, snaps)
 * with an extra info.json; opening lists DIR and opens each. The table is
 * a small array (indexes are few) behind an rwlock.
 */
#include "stores/vector_indexes.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

struct vindex {
  char *name;
  struct loom_vstore *store;
  json_t *info;
};

struct loom_vindexes {
  char *dir;
  pthread_rwlock_t lock;
  struct vindex *v;
  size_t n, cap;
};

static bool valid_name(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > LOOM_VINDEX_MAX_NAME || name[0] == '-')
    return false;
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
      return false;
  return true;
}

static struct vindex *find(struct loom_vindexes *r, const char *name) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->v[i].name, name) == 0)
      return &r->v[i];
  return NULL;
}

static void add(struct loom_vindexes *r, const char *name,
                struct loom_vstore *s, json_t *info) {
  if (r->n == r->cap) {
    r->cap = r->cap ? 2 * r->cap : 8;
    r->v = loom_realloc(r->v, r->cap * sizeof *r->v);
  }
  r->v[r->n++] = (struct vindex){loom_strdup(name), s, info};
}

static loom_err write_info(const char *dir, const json_t *info,
                           struct loom_error *e) {
  char *path = loom_asprintf("%s/info.json", dir);
  char *tmp = loom_asprintf("%s.tmp", path);
  loom_err result = LOOM_OK;
  if (json_dump_file(info, tmp, JSON_INDENT(2)) != 0 || rename(tmp, path) != 0)
    result = loom_error_set(e, LOOM_ERR_IO, "cannot write %s: %s", path,
                            strerror(errno));
  loom_free(path);
  loom_free(tmp);
  return result;
}

loom_err loom_vindexes_open(const char *dir, struct loom_vindexes **out,
                            struct loom_error *e) {
  if (mkdir(dir, 0755) != 0 && errno != EEXIST)
    return loom_error_set(e, LOOM_ERR_IO, "cannot create %s: %s", dir,
                          strerror(errno));
  DIR *d = opendir(dir);
  if (!d)
    return loom_error_set(e, LOOM_ERR_IO, "cannot list %s: %s", dir,
                          strerror(errno));
  struct loom_vindexes *r = LOOM_NEW(struct loom_vindexes);
  r->dir = loom_strdup(dir);
  pthread_rwlock_init(&r->lock, NULL);
  loom_err result = LOOM_OK;
  struct dirent *de;
  while (!result && (de = readdir(d))) {
    if (!valid_name(de->d_name))
      continue;
    char *sub = loom_asprintf("%s/%s", dir, de->d_name);
    struct loom_vstore *s;
    loom_err err = loom_vstore_open(sub, NULL, &s, e);
    if (err == LOOM_OK) {
      char *ip = loom_asprintf("%s/info.json", sub);
      json_t *info = json_load_file(ip, 0, NULL);
      loom_free(ip);
      add(r, de->d_name, s, info ? info : json_object());
    } else if (err != LOOM_ERR_NOT_FOUND) {
      result = err;
    }
    loom_free(sub);
  }
  closedir(d);
  if (result) {
    loom_vindexes_close(r);
    return result;
  }
  *out = r;
  return LOOM_OK;
}

void loom_vindexes_close(struct loom_vindexes *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->n; i++) {
    loom_vstore_close(r->v[i].store);
    json_decref(r->v[i].info);
    loom_free(r->v[i].name);
  }
  loom_free(r->v);
  pthread_rwlock_destroy(&r->lock);
  loom_free(r->dir);
  loom_free(r);
}

loom_err loom_vindexes_create(struct loom_vindexes *r, const char *name,
                              const struct loom_vstore_params *p,
                              const json_t *info, struct loom_error *e) {
  if (!name || !valid_name(name))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "index name must be 1 to %d lower-case letters, "
                          "digits or '-', not starting with '-'",
                          LOOM_VINDEX_MAX_NAME);
  pthread_rwlock_wrlock(&r->lock);
  loom_err err = LOOM_OK;
  char *sub = loom_asprintf("%s/%s", r->dir, name);
  if (find(r, name) || access(sub, F_OK) == 0) {
    err = loom_error_set(e, LOOM_ERR_EXISTS, "index '%s' already exists", name);
    goto out;
  }
  json_t *copy = info ? json_deep_copy(info) : json_object();
  struct loom_vstore *s;
  err = loom_vstore_open(sub, p, &s, e);
  if (!err && (err = write_info(sub, copy, e)))
    loom_vstore_close(s);
  if (err) {
    json_decref(copy);
    goto out;
  }
  add(r, name, s, copy);
out:
  loom_free(sub);
  pthread_rwlock_unlock(&r->lock);
  return err;
}

/* rm -r of one store directory (flat: files only). */
static void remove_dir(const char *path) {
  DIR *d = opendir(path);
  struct dirent *de;
  while (d && (de = readdir(d))) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    char *f = loom_asprintf("%s/%s", path, de->d_name);
    unlink(f);
    loom_free(f);
  }
  if (d)
    closedir(d);
  rmdir(path);
}

loom_err loom_vindexes_delete(struct loom_vindexes *r, const char *name,
                              struct loom_error *e) {
  pthread_rwlock_wrlock(&r->lock);
  struct vindex *v = name ? find(r, name) : NULL;
  if (!v) {
    pthread_rwlock_unlock(&r->lock);
    return loom_error_set(e, LOOM_ERR_NOT_FOUND, "index '%s' not found",
                          name ? name : "");
  }
  struct vindex gone = *v;
  *v = r->v[--r->n];
  pthread_rwlock_unlock(&r->lock);
  /* Mark it gone first: a crash mid-way must not leave a half store. */
  char *sub = loom_asprintf("%s/%s", r->dir, gone.name);
  char *cfg = loom_asprintf("%s/config.json", sub);
  unlink(cfg);
  loom_vstore_close(gone.store);
  remove_dir(sub);
  loom_free(cfg);
  loom_free(sub);
  json_decref(gone.info);
  loom_free(gone.name);
  return LOOM_OK;
}

loom_err loom_vindexes_configure(struct loom_vindexes *r, const char *name,
                                 const json_t *info, struct loom_error *e) {
  pthread_rwlock_wrlock(&r->lock);
  struct vindex *v = name ? find(r, name) : NULL;
  loom_err err = LOOM_OK;
  if (!v) {
    err = loom_error_set(e, LOOM_ERR_NOT_FOUND, "index '%s' not found",
                         name ? name : "");
  } else {
    json_object_update(v->info, (json_t *)info);
    char *sub = loom_asprintf("%s/%s", r->dir, name);
    err = write_info(sub, v->info, e);
    loom_free(sub);
  }
  pthread_rwlock_unlock(&r->lock);
  return err;
}

struct loom_vstore *loom_vindexes_acquire(struct loom_vindexes *r,
                                          const char *name,
                                          const json_t **info) {
  pthread_rwlock_rdlock(&r->lock);
  struct vindex *v = name ? find(r, name) : NULL;
  if (!v) {
    pthread_rwlock_unlock(&r->lock);
    return NULL;
  }
  if (info)
    *info = v->info;
  return v->store;
}

void loom_vindexes_release(struct loom_vindexes *r) {
  pthread_rwlock_unlock(&r->lock);
}

void loom_vindexes_each(struct loom_vindexes *r,
                        void (*cb)(void *ud, const char *name,
                                   struct loom_vstore *s, const json_t *info),
                        void *ud) {
  pthread_rwlock_rdlock(&r->lock);
  for (size_t i = 0; i < r->n; i++)
    cb(ud, r->v[i].name, r->v[i].store, r->v[i].info);
  pthread_rwlock_unlock(&r->lock);
}
