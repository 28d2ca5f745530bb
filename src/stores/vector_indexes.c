/*
 * vector_indexes — a table of named vector stores under one directory.
 *
 * How: DIR/<name>/ is a vector store directory (config.json, wal, snaps)
 * with an extra info.json; opening lists DIR and reads each index's
 * config.json and info.json, nothing more. The table is a small array
 * (indexes are few) of separately allocated entries behind a
 * writer-preferring rwlock that is held only for a lookup or a change of
 * the array: a request pins its index (a count in the entry) instead of
 * holding the table, so steady queries never keep a create or delete
 * waiting. The first request to find an entry's store unloaded loads it
 * with only the entry's mutex taken around the state changes (`loading`
 * set, then the result published); requests arriving meanwhile wait on
 * the entry's condition for that load's result. A failed load keeps its
 * message and starts a backoff window (1 s, doubling per consecutive
 * failure up to 60 s, on r->now_ns): requests within it get the kept
 * message at once, without touching the files, and the first request
 * after it tries again (not one that waited for a load). Once loaded
 * the store pointer is read without the mutex. Create
 * opens the new store before taking the table; delete marks the entry
 * gone (no new pins), waits for the pins on that index only (a load in
 * progress holds one), then removes it and its files. An entry's info is
 * replaced whole, never edited, so a pinned request can keep a reference
 * to it. A name that is not in the table is looked for on disk (another
 * process may have made it: loom ingest beside loom serve) under the
 * admin mutex, and listed unloaded when there; a name not there is
 * remembered for a while in a small ring, so requests for a name that
 * does not exist are not a stat each. A listing looks for new
 * directories when DIR's modification time moved since the last look.
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
#include "core/clock.h"

#define NS_PER_MS 1000000ull

struct vindex {
  char *name;
  _Atomic(struct loom_vstore *) store; /* NULL until loaded */
  json_t *info;       /* replaced whole by configure, never edited */
  atomic_uint pins;   /* requests using the store (acquire..release) */
  atomic_bool gone;   /* being deleted: acquire skips it */
  pthread_mutex_t mu; /* guards the rest; never held across a load */
  pthread_cond_t loaded_cv;
  bool loading;
  bool has_params;
  struct loom_vstore_params params;
  char *why;         /* why the last load failed, or NULL */
  uint64_t retry_at; /* with why: no load before this (r->now_ns) */
  uint64_t backoff;  /* the window the last failure set; 0 after success */
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
  pthread_t warmer; /* loom_vindexes_warm's thread, joined by close */
  bool warming;
  atomic_bool closing;      /* the warmer stops between two indexes */
  uint64_t (*now_ns)(void); /* the backoff's clock (monotonic) */
  bool one_shot;            /* its process will not retry: say no "when" */
  /* Names looked for on disk and not there (under `admin`): not looked
   * for again before `until`, so a client asking for a name that does
   * not exist costs one stat per name per window, not one per request. */
  struct {
    char name[LOOM_VINDEX_MAX_NAME + 1];
    uint64_t until;
  } misses[LOOM_VINDEX_MISSES];
  size_t next_miss; /* the slot the next miss takes (round robin) */
  /* DIR's modification time when a listing last found every directory
   * in it complete (under `admin`): until it moves, nothing is new. */
  bool scanned;
  struct timespec scanned_mtim;
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

/* Adds an entry (`s` may be NULL: not loaded; `why` is copied); the
 * caller holds the table exclusively (or alone). */
static void add(struct loom_vindexes *r, const char *name,
                struct loom_vstore *s, const struct loom_vstore_params *p,
                const char *why, json_t *info) {
  if (r->n == r->cap) {
    r->cap = r->cap ? 2 * r->cap : 8;
    r->v = loom_realloc(r->v, r->cap * sizeof *r->v);
  }
  struct vindex *v = LOOM_NEW(struct vindex);
  v->name = loom_strdup(name);
  atomic_init(&v->store, s);
  v->info = info;
  atomic_init(&v->pins, 0);
  atomic_init(&v->gone, false);
  pthread_mutex_init(&v->mu, NULL);
  pthread_cond_init(&v->loaded_cv, NULL);
  v->has_params = p != NULL;
  if (p)
    v->params = *p;
  v->why = why ? loom_strdup(why) : NULL;
  r->v[r->n++] = v;
}

static void free_entry(struct vindex *v) {
  loom_vstore_close(atomic_load(&v->store));
  json_decref(v->info);
  pthread_mutex_destroy(&v->mu);
  pthread_cond_destroy(&v->loaded_cv);
  loom_free(v->why);
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

/* With config.json unreadable: the dimension or metric `info` lacks (an
 * index made before info.json kept them, or info.json lost too), from
 * the header of the first snapshot that has one, as each records the
 * shape its index was built with. In memory only (a configure writes it
 * out with the rest); nothing else of the snapshot is read. */
static void shape_from_snapshots(const char *sub, json_t *info) {
  if (json_object_get(info, "dimension") && json_object_get(info, "metric"))
    return;
  DIR *d = opendir(sub);
  struct dirent *de;
  struct loom_hnsw_params p;
  while (d && (de = readdir(d))) {
    size_t n = strlen(de->d_name);
    if (n < 5 || strcmp(de->d_name + n - 5, ".snap") != 0)
      continue;
    char *path = loom_asprintf("%s/%s", sub, de->d_name);
    loom_err err = loom_hnsw_peek(path, &p, NULL);
    loom_free(path);
    if (err)
      continue;
    if (!json_object_get(info, "dimension"))
      json_object_set_new(info, "dimension", json_integer(p.dim));
    if (!json_object_get(info, "metric"))
      json_object_set_new(info, "metric",
                          json_string(loom_metric_name(p.metric)));
    break;
  }
  if (d)
    closedir(d);
}

/* Adds DIR/name to the table, unloaded, when it holds a store (its
 * config.json exists); an unreadable config.json makes it a failed one,
 * whose shape info.json or a snapshot may still tell. */
static void list_one(struct loom_vindexes *r, const char *name) {
  char *sub = loom_asprintf("%s/%s", r->dir, name);
  struct loom_vstore_params p;
  struct loom_error e;
  loom_err err = loom_vstore_read_params(sub, &p, &e);
  if (err != LOOM_ERR_NOT_FOUND) {
    char *ip = loom_asprintf("%s/info.json", sub);
    json_t *info = json_load_file(ip, 0, NULL);
    loom_free(ip);
    if (!json_is_object(info)) {
      json_decref(info);
      info = json_object();
    }
    if (err)
      shape_from_snapshots(sub, info);
    pthread_rwlock_wrlock(&r->lock);
    add(r, name, NULL, err ? NULL : &p, err ? e.message : NULL, info);
    pthread_rwlock_unlock(&r->lock);
  }
  loom_free(sub);
}

/*
 * With `admin` held and `name` not in the table: lists DIR/name when
 * another process (loom ingest beside loom serve) made it since the
 * table was listed, unloaded, so the request that named it loads it as
 * any first request does (backoff included). Not while an entry of that
 * name is being deleted (its files are going), and not for a name
 * looked for in the last LOOM_VINDEX_RESCAN_MS. True when it is listed
 * now (by this call or a concurrent one).
 */
static bool discover_locked(struct loom_vindexes *r, const char *name) {
  struct vindex *v = find(r, name, true);
  if (v)
    return !atomic_load(&v->gone);
  if (!valid_name(name))
    return false;
  uint64_t now = r->now_ns();
  for (size_t i = 0; i < LOOM_VINDEX_MISSES; i++)
    if (strcmp(r->misses[i].name, name) == 0 && now < r->misses[i].until)
      return false;
  list_one(r, name);
  if (find(r, name, false))
    return true;
  size_t slot = LOOM_VINDEX_MISSES;
  for (size_t i = 0; i < LOOM_VINDEX_MISSES && slot == LOOM_VINDEX_MISSES; i++)
    if (strcmp(r->misses[i].name, name) == 0)
      slot = i; /* an expired miss of the same name: renewed */
  if (slot == LOOM_VINDEX_MISSES) {
    slot = r->next_miss;
    r->next_miss = (r->next_miss + 1) % LOOM_VINDEX_MISSES;
  }
  snprintf(r->misses[slot].name, sizeof r->misses[slot].name, "%s", name);
  r->misses[slot].until = now + LOOM_VINDEX_RESCAN_MS * NS_PER_MS;
  return false;
}

static bool discover(struct loom_vindexes *r, const char *name) {
  pthread_mutex_lock(&r->admin);
  bool found = discover_locked(r, name);
  pthread_mutex_unlock(&r->admin);
  return found;
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
  r->now_ns = loom_clock_mono_ns;
  struct dirent *de;
  while ((de = readdir(d)))
    if (valid_name(de->d_name))
      list_one(r, de->d_name);
  closedir(d);
  *out = r;
  return LOOM_OK;
}

/* Loads every index there is now, one after the other, as a request
 * would (a failed one stays failed until a request retries it). */
static void *warm_main(void *arg) {
  struct loom_vindexes *r = arg;
  pthread_rwlock_rdlock(&r->lock);
  size_t n = r->n;
  char **names = loom_calloc(n ? n : 1, sizeof *names);
  for (size_t i = 0; i < n; i++)
    names[i] = loom_strdup(r->v[i]->name);
  pthread_rwlock_unlock(&r->lock);
  for (size_t i = 0; i < n; i++) {
    struct loom_vstore *vs =
        atomic_load(&r->closing)
            ? NULL
            : loom_vindexes_acquire(r, names[i], NULL, NULL);
    if (vs)
      loom_vindexes_release(r, vs);
    loom_free(names[i]);
  }
  loom_free(names);
  return NULL;
}

void loom_vindexes_warm(struct loom_vindexes *r) {
  if (!r->warming)
    r->warming = pthread_create(&r->warmer, NULL, warm_main, r) == 0;
}

void loom_vindexes_set_clock(struct loom_vindexes *r,
                             uint64_t (*now_ns)(void)) {
  r->now_ns = now_ns ? now_ns : loom_clock_mono_ns;
}

void loom_vindexes_set_one_shot(struct loom_vindexes *r) { r->one_shot = true; }

void loom_vindexes_close(struct loom_vindexes *r) {
  if (!r)
    return;
  atomic_store(&r->closing, true);
  if (r->warming)
    pthread_join(r->warmer, NULL);
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
    if (!find(r, name, true))
      list_one(r, name); /* made by another process: listed from now on */
    err = loom_error_set(e, LOOM_ERR_EXISTS, "index '%s' already exists", name);
    goto out;
  }
  json_t *copy = info ? json_deep_copy(info) : json_object();
  /* The shape once more beside config.json, so that an index whose
   * config.json is lost can still be described with it. */
  json_object_set_new(copy, "dimension", json_integer(p->dim));
  json_object_set_new(copy, "metric", json_string(loom_metric_name(p->metric)));
  struct loom_vstore *s;
  err = loom_vstore_open(sub, p, &s, e);
  if (!err && (err = write_info(sub, copy, e)))
    loom_vstore_close(s);
  if (err) {
    json_decref(copy);
    goto out;
  }
  pthread_rwlock_wrlock(&r->lock);
  add(r, name, s, loom_vstore_params(s), NULL, copy);
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
  struct vindex *v =
      name && discover_locked(r, name) ? find(r, name, false) : NULL;
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
  char *sub = loom_asprintf("%s/%s", r->dir, v->name);
  char *cfg = loom_asprintf("%s/config.json", sub);
  pthread_mutex_lock(&r->admin); /* the array changes under both */
  /* Mark it gone on disk first: a crash mid-way must not leave a half
   * store. Before the entry leaves the table, so that a lookup of the
   * name (discover_locked) cannot list it again from its files. The name
   * stays taken (the directory exists) until removed. */
  unlink(cfg);
  pthread_rwlock_wrlock(&r->lock);
  size_t i = 0;
  while (r->v[i] != v)
    i++;
  memmove(&r->v[i], &r->v[i + 1], (r->n - i - 1) * sizeof *r->v);
  r->n--;
  pthread_rwlock_unlock(&r->lock);
  pthread_mutex_unlock(&r->admin);
  free_entry(v);
  remove_dir(sub);
  loom_free(cfg);
  loom_free(sub);
  return LOOM_OK;
}

loom_err loom_vindexes_configure(struct loom_vindexes *r, const char *name,
                                 const json_t *info, struct loom_error *e) {
  pthread_mutex_lock(&r->admin);
  struct vindex *v =
      name && discover_locked(r, name) ? find(r, name, false) : NULL;
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

/* Unpins `v`, waking a delete waiting for its last pin. */
static void unpin(struct loom_vindexes *r, struct vindex *v) {
  if (atomic_fetch_sub(&v->pins, 1) == 1 && v->gone) {
    pthread_mutex_lock(&r->pin_mu);
    pthread_cond_broadcast(&r->pin_cv);
    pthread_mutex_unlock(&r->pin_mu);
  }
}

/* Records the outcome of a load of `v` (v->mu held): a failure keeps
 * `why` and widens the backoff window (LOOM_VINDEX_RETRY_MIN_MS, doubled
 * per consecutive failure, at most LOOM_VINDEX_RETRY_MAX_MS), so a client
 * hammering a broken index costs loom one read of its files per window,
 * not one per request; a success forgets both. */
static void note_load(struct loom_vindexes *r, struct vindex *v,
                      const char *why) {
  loom_free(v->why);
  v->why = why ? loom_strdup(why) : NULL;
  if (!why) {
    v->backoff = v->retry_at = 0;
    return;
  }
  const uint64_t lo = LOOM_VINDEX_RETRY_MIN_MS * NS_PER_MS,
                 hi = LOOM_VINDEX_RETRY_MAX_MS * NS_PER_MS;
  v->backoff = v->backoff ? v->backoff * 2 : lo;
  if (v->backoff > hi)
    v->backoff = hi;
  v->retry_at = r->now_ns() + v->backoff;
}

/* Milliseconds until `v` may be loaded again (v->mu held); 0: now. */
static uint64_t retry_in_ms(struct loom_vindexes *r, const struct vindex *v) {
  if (!v->why || !v->retry_at)
    return 0;
  uint64_t now = r->now_ns();
  return v->retry_at > now ? (v->retry_at - now + NS_PER_MS - 1) / NS_PER_MS
                           : 0;
}

/* Loads v's store (v is pinned); with v->mu held on entry and exit, not
 * during the load itself. */
static struct loom_vstore *load_locked(struct loom_vindexes *r,
                                       struct vindex *v) {
  v->loading = true;
  pthread_mutex_unlock(&v->mu);
  char *sub = loom_asprintf("%s/%s", r->dir, v->name);
  struct loom_vstore *s = NULL;
  struct loom_error le;
  loom_err err = loom_vstore_open(sub, NULL, &s, &le);
  loom_free(sub);
  pthread_mutex_lock(&v->mu);
  note_load(r, v, err ? le.message : NULL);
  if (!err) {
    v->params = *loom_vstore_params(s);
    v->has_params = true;
    atomic_store_explicit(&v->store, s, memory_order_release);
  }
  v->loading = false;
  pthread_cond_broadcast(&v->loaded_cv);
  return err ? NULL : s;
}

/* v's store (v is pinned), loaded by this call if nobody else is loading
 * it and its backoff window is over; a request that finds a load in
 * progress waits for its result, one within the window gets the last
 * failure's reason without a load. */
static struct loom_vstore *load(struct loom_vindexes *r, struct vindex *v,
                                struct loom_error *e) {
  struct loom_vstore *s = atomic_load_explicit(&v->store, memory_order_acquire);
  if (s)
    return s;
  pthread_mutex_lock(&v->mu);
  if (v->loading) {
    while (v->loading)
      pthread_cond_wait(&v->loaded_cv, &v->mu);
    s = atomic_load(&v->store);
  } else if (!(s = atomic_load(&v->store)) && retry_in_ms(r, v) == 0) {
    s = load_locked(r, v);
  }
  /* Unavailable, not an I/O error: the index exists and may serve once
   * its files are fixed, which the message says when is looked at (to a
   * process that will look again: a one-shot command will not). */
  if (!s && r->one_shot)
    loom_error_set(e, LOOM_ERR_UNAVAILABLE,
                   "index '%s' could not be opened: %s", v->name,
                   v->why ? v->why : "unknown error");
  else if (!s)
    loom_error_set(e, LOOM_ERR_UNAVAILABLE,
                   "index '%s' could not be opened: %s (next attempt in "
                   "%.1f s)",
                   v->name, v->why ? v->why : "unknown error",
                   (double)retry_in_ms(r, v) / 1000.0);
  pthread_mutex_unlock(&v->mu);
  return s;
}

/* Pins index `name` when listed (and not being deleted); *info gets a
 * new reference to its settings. */
static struct vindex *pin(struct loom_vindexes *r, const char *name,
                          json_t **info) {
  pthread_rwlock_rdlock(&r->lock);
  struct vindex *v = find(r, name, false);
  if (v) {
    atomic_fetch_add(&v->pins, 1);
    *info = json_incref(v->info);
  }
  pthread_rwlock_unlock(&r->lock);
  return v;
}

struct loom_vstore *loom_vindexes_acquire(struct loom_vindexes *r,
                                          const char *name, json_t **info,
                                          struct loom_error *e) {
  json_t *got = NULL;
  struct vindex *v = name ? pin(r, name, &got) : NULL;
  if (!v && name && discover(r, name))
    v = pin(r, name, &got);
  if (!v) {
    loom_error_set(e, LOOM_ERR_NOT_FOUND, "index '%s' not found",
                   name ? name : "");
    return NULL;
  }
  struct loom_vstore *s = load(r, v, e);
  if (!s) {
    json_decref(got);
    unpin(r, v);
    return NULL;
  }
  if (info)
    *info = got;
  else
    json_decref(got);
  return s;
}

void loom_vindexes_release(struct loom_vindexes *r, struct loom_vstore *s) {
  /* Shared: a gone entry is removed only exclusively, after its pins. */
  pthread_rwlock_rdlock(&r->lock);
  for (size_t i = 0; i < r->n; i++)
    if (atomic_load(&r->v[i]->store) == s) {
      unpin(r, r->v[i]);
      break;
    }
  pthread_rwlock_unlock(&r->lock);
}

/* What is known of `v` (info borrowed); the caller holds the table. */
static void describe(struct loom_vindexes *r, struct vindex *v,
                     struct loom_vindex_desc *d) {
  pthread_mutex_lock(&v->mu);
  *d = (struct loom_vindex_desc){.name = v->name,
                                 .has_params = v->has_params,
                                 .params = v->params,
                                 .info = v->info,
                                 .loaded = atomic_load(&v->store) != NULL};
  if (v->why && !d->loaded) {
    snprintf(d->error, sizeof d->error, "%s", v->why);
    d->retry_in_ms = retry_in_ms(r, v);
  }
  pthread_mutex_unlock(&v->mu);
}

loom_err loom_vindexes_describe(struct loom_vindexes *r, const char *name,
                                struct loom_vindex_desc *d,
                                struct loom_error *e) {
  bool found = false;
  for (int round = 0; name && !found && round < 2; round++) {
    if (round == 1 && !discover(r, name))
      break;
    pthread_rwlock_rdlock(&r->lock);
    struct vindex *v = find(r, name, false);
    if (v) {
      describe(r, v, d);
      d->name = NULL;
      json_incref(d->info);
      found = true;
    }
    pthread_rwlock_unlock(&r->lock);
  }
  return found ? LOOM_OK
               : loom_error_set(e, LOOM_ERR_NOT_FOUND, "index '%s' not found",
                                name ? name : "");
}

/* Lists the index directories other processes made since the table last
 * looked, for a listing (lookups by name use discover). DIR's
 * modification time moves when a directory is made or removed in it, so
 * an unchanged one is a stat; a directory without its config.json yet
 * (being made) makes the next listing look again. */
static void rescan(struct loom_vindexes *r) {
  struct stat st;
  if (stat(r->dir, &st) != 0)
    return;
  pthread_mutex_lock(&r->admin);
  DIR *d = NULL;
  if (r->scanned && st.st_mtim.tv_sec == r->scanned_mtim.tv_sec &&
      st.st_mtim.tv_nsec == r->scanned_mtim.tv_nsec)
    goto out;
  if (!(d = opendir(r->dir)))
    goto out;
  bool complete = true;
  struct dirent *de;
  while ((de = readdir(d)))
    if (valid_name(de->d_name) && !find(r, de->d_name, true)) {
      list_one(r, de->d_name);
      complete = complete && find(r, de->d_name, false);
    }
  closedir(d);
  r->scanned = complete;
  r->scanned_mtim = st.st_mtim;
out:
  pthread_mutex_unlock(&r->admin);
}

void loom_vindexes_each(struct loom_vindexes *r,
                        void (*cb)(void *ud, const struct loom_vindex_desc *d),
                        void *ud) {
  rescan(r);
  pthread_rwlock_rdlock(&r->lock);
  for (size_t i = 0; i < r->n; i++)
    if (!r->v[i]->gone) {
      struct loom_vindex_desc d;
      describe(r, r->v[i], &d);
      cb(ud, &d);
    }
  pthread_rwlock_unlock(&r->lock);
}
