/*
 * vector_indexes — a table of named vector stores under one directory.
 *
 * How: DIR/<name>/ is a vector store directory (config.json, wal, snaps)
 * with an extra info.json; opening lists DIR and opens each. The table is
 * a small array (indexes are few) of separately allocated entries behind
 * a writer-preferring rwlock that is held only for a lookup or a change
 * of the array: a request pins its index (a count in the entry) instead
 * of holding the table, so steady queries never keep a create or delete
 * waiting. Create opens the new store before taking the table; delete
 * marks the entry gone (no new pins), waits for the pins on that index
 * only, then removes it and its files. An entry's info is replaced whole,
 * never edited, so a pinned request can keep a reference to it.
 */
#include "stores/vector_indexes.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

struct vindex {
  char *name;
  struct loom_vstore *store;
  json_t *info;     /* replaced whole by configure, never edited */
  atomic_uint pins; /* requests using the store (acquire..release) */
  bool gone;        /* being deleted: acquire skips it */
};

struct loom_vindexes {
  char *dir;
  /* The table: held shared to look an index up or pin it, exclusively to
   * add, mark or remove one; never across a request's work. Writers
   * first, so lookups cannot starve a create or delete. */
  pthread_rwlock_t lock;
  pthread_mutex_t admin;  /* one create, delete or configure at a time */
  pthread_mutex_t pin_mu; /* with pin_cv: a delete waits for pins */
  pthread_cond_t pin_cv;
  struct vindex **v;
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

/* The index `name` (a deleted one too when `gone_too`). */
static struct vindex *find(struct loom_vindexes *r, const char *name,
                           bool gone_too) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->v[i]->name, name) == 0 && (gone_too || !r->v[i]->gone))
      return r->v[i];
  return NULL;
}

/* Adds an entry; the caller holds the table exclusively (or alone). */
static void add(struct loom_vindexes *r, const char *name,
                struct loom_vstore *s, json_t *info) {
  if (r->n == r->cap) {
    r->cap = r->cap ? 2 * r->cap : 8;
    r->v = loom_realloc(r->v, r->cap * sizeof *r->v);
  }
  struct vindex *v = LOOM_NEW(struct vindex);
  v->name = loom_strdup(name);
  v->store = s;
  v->info = info;
  atomic_init(&v->pins, 0);
  r->v[r->n++] = v;
}

static void free_entry(struct vindex *v) {
  loom_vstore_close(v->store);
  json_decref(v->info);
  loom_free(v->name);
  loom_free(v);
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
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr,
                                PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&r->lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  pthread_mutex_init(&r->admin, NULL);
  pthread_mutex_init(&r->pin_mu, NULL);
  pthread_cond_init(&r->pin_cv, NULL);
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
  for (size_t i = 0; i < r->n; i++)
    free_entry(r->v[i]);
  loom_free(r->v);
  pthread_rwlock_destroy(&r->lock);
  pthread_mutex_destroy(&r->admin);
  pthread_mutex_destroy(&r->pin_mu);
  pthread_cond_destroy(&r->pin_cv);
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
  /* Only holders of `admin` change the table, so it can be read here
   * without the lock; the store is made before the table is taken, so
   * queries of other indexes go on meanwhile. */
  pthread_mutex_lock(&r->admin);
  loom_err err = LOOM_OK;
  char *sub = loom_asprintf("%s/%s", r->dir, name);
  if (find(r, name, true) || access(sub, F_OK) == 0) {
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
  pthread_rwlock_wrlock(&r->lock);
  add(r, name, s, copy);
  pthread_rwlock_unlock(&r->lock);
out:
  loom_free(sub);
  pthread_mutex_unlock(&r->admin);
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

/* Waits until no request has `v` pinned (it is gone: no new pins). */
static void wait_unpinned(struct loom_vindexes *r, struct vindex *v) {
  pthread_mutex_lock(&r->pin_mu);
  while (atomic_load(&v->pins))
    pthread_cond_wait(&r->pin_cv, &r->pin_mu);
  pthread_mutex_unlock(&r->pin_mu);
}

loom_err loom_vindexes_delete(struct loom_vindexes *r, const char *name,
                              struct loom_error *e) {
  pthread_mutex_lock(&r->admin);
  struct vindex *v = name ? find(r, name, false) : NULL;
  if (v) {
    pthread_rwlock_wrlock(&r->lock);
    v->gone = true;
    pthread_rwlock_unlock(&r->lock);
  }
  pthread_mutex_unlock(&r->admin);
  if (!v)
    return loom_error_set(e, LOOM_ERR_NOT_FOUND, "index '%s' not found",
                          name ? name : "");
  wait_unpinned(r, v);
  pthread_mutex_lock(&r->admin); /* the array changes under both */
  pthread_rwlock_wrlock(&r->lock);
  size_t i = 0;
  while (r->v[i] != v)
    i++;
  memmove(&r->v[i], &r->v[i + 1], (r->n - i - 1) * sizeof *r->v);
  r->n--;
  pthread_rwlock_unlock(&r->lock);
  pthread_mutex_unlock(&r->admin);
  /* Mark it gone on disk first: a crash mid-way must not leave a half
   * store. The name stays taken (the directory exists) until removed. */
  char *sub = loom_asprintf("%s/%s", r->dir, v->name);
  char *cfg = loom_asprintf("%s/config.json", sub);
  unlink(cfg);
  free_entry(v);
  remove_dir(sub);
  loom_free(cfg);
  loom_free(sub);
  return LOOM_OK;
}

loom_err loom_vindexes_configure(struct loom_vindexes *r, const char *name,
                                 const json_t *info, struct loom_error *e) {
  pthread_mutex_lock(&r->admin);
  struct vindex *v = name ? find(r, name, false) : NULL;
  loom_err err = LOOM_OK;
  if (!v) {
    err = loom_error_set(e, LOOM_ERR_NOT_FOUND, "index '%s' not found",
                         name ? name : "");
  } else {
    json_t *next = json_deep_copy(v->info), *old = v->info;
    json_object_update(next, (json_t *)info);
    char *sub = loom_asprintf("%s/%s", r->dir, name);
    err = write_info(sub, next, e);
    loom_free(sub);
    if (!err) {
      pthread_rwlock_wrlock(&r->lock);
      v->info = next;
      pthread_rwlock_unlock(&r->lock);
    }
    json_decref(err ? next : old);
  }
  pthread_mutex_unlock(&r->admin);
  return err;
}

struct loom_vstore *loom_vindexes_acquire(struct loom_vindexes *r,
                                          const char *name, json_t **info) {
  pthread_rwlock_rdlock(&r->lock);
  struct vindex *v = name ? find(r, name, false) : NULL;
  if (v) {
    atomic_fetch_add(&v->pins, 1);
    if (info)
      *info = json_incref(v->info);
  }
  pthread_rwlock_unlock(&r->lock);
  return v ? v->store : NULL;
}

void loom_vindexes_release(struct loom_vindexes *r, struct loom_vstore *s) {
  /* Shared: a gone entry is removed only exclusively, after its pins. */
  pthread_rwlock_rdlock(&r->lock);
  for (size_t i = 0; i < r->n; i++) {
    struct vindex *v = r->v[i];
    if (v->store != s)
      continue;
    if (atomic_fetch_sub(&v->pins, 1) == 1 && v->gone) {
      pthread_mutex_lock(&r->pin_mu);
      pthread_cond_broadcast(&r->pin_cv);
      pthread_mutex_unlock(&r->pin_mu);
    }
    break;
  }
  pthread_rwlock_unlock(&r->lock);
}

void loom_vindexes_each(struct loom_vindexes *r,
                        void (*cb)(void *ud, const char *name,
                                   struct loom_vstore *s, const json_t *info),
                        void *ud) {
  pthread_rwlock_rdlock(&r->lock);
  for (size_t i = 0; i < r->n; i++)
    if (!r->v[i]->gone)
      cb(ud, r->v[i]->name, r->v[i]->store, r->v[i]->info);
  pthread_rwlock_unlock(&r->lock);
}
