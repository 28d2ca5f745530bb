/*
 * vector_store — namespaces of HNSW indexes made durable by a WAL and
 * snapshots (see vector_store.h for the directory layout and guarantees).
 *
 * How: every write runs under `write_lock`: validate, assign LSNs, encode
 * WAL records, commit (fsync), then apply them with the same function that
 * replay uses, so a replayed store is the store that was acknowledged.
 * The namespace table has its own writer-preferring rwlock: queries hold
 * it shared for their whole run (so a namespace cannot be freed under
 * them); only creating or dropping a namespace takes it exclusively, and
 * waits only for the queries already running. Nothing takes it shared
 * twice in one thread (with a writer waiting, the second would block).
 */
#include "stores/vector_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "stores/vector_wal.h"

struct ns_entry {
  char *name;
  struct loom_hnsw *h;
  uint64_t snap_lsn; /* records up to this LSN are in its snapshot */
};

struct loom_vstore {
  char *dir;
  int owner_fd; /* DIR/lock, flock'ed while open; -1 before */
  struct loom_vstore_params p;
  struct loom_vwal *wal;
  uint64_t lsn; /* last LSN assigned */
  pthread_mutex_t write_lock;
  pthread_rwlock_t table_lock;
  struct ns_entry *ns;
  size_t nns, cap;
};

static const char *norm_ns(const char *ns) {
  return !ns || strcmp(ns, "__default__") == 0 ? "" : ns;
}

static char *snap_path(const struct loom_vstore *s, const char *ns) {
  size_t n = strlen(ns);
  char *hex = loom_malloc(2 * n + 1);
  for (size_t i = 0; i < n; i++)
    sprintf(hex + 2 * i, "%02x", (unsigned char)ns[i]);
  hex[2 * n] = '\0';
  char *path = loom_asprintf("%s/ns-%s.snap", s->dir, hex);
  loom_free(hex);
  return path;
}

/* Caller holds table_lock (either way). */
static struct ns_entry *find_ns(struct loom_vstore *s, const char *ns) {
  for (size_t i = 0; i < s->nns; i++)
    if (strcmp(s->ns[i].name, ns) == 0)
      return &s->ns[i];
  return NULL;
}

/* Adds a namespace (takes `h`); caller holds write_lock, not table_lock. */
static struct ns_entry *add_ns(struct loom_vstore *s, const char *ns,
                               struct loom_hnsw *h, uint64_t snap_lsn) {
  pthread_rwlock_wrlock(&s->table_lock);
  if (s->nns == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 8;
    s->ns = loom_realloc(s->ns, s->cap * sizeof *s->ns);
  }
  struct ns_entry *e = &s->ns[s->nns++];
  e->name = loom_strdup(ns);
  e->h = h;
  e->snap_lsn = snap_lsn;
  pthread_rwlock_unlock(&s->table_lock);
  return e;
}

static struct ns_entry *get_or_add_ns(struct loom_vstore *s, const char *ns) {
  struct ns_entry *e = find_ns(s, ns); /* writers are the only mutators */
  if (e)
    return e;
  struct loom_hnsw_params hp = {.dim = s->p.dim,
                                .metric = s->p.metric,
                                .m = s->p.m,
                                .ef_construction = s->p.ef_construction,
                                .quantize = s->p.walk == LOOM_VSTORE_WALK_INT8};
  struct loom_hnsw *h;
  if (loom_hnsw_new(&hp, &h, NULL) != LOOM_OK)
    return NULL;
  return add_ns(s, ns, h, 0);
}

static void drop_ns(struct loom_vstore *s, const char *ns) {
  pthread_rwlock_wrlock(&s->table_lock);
  struct ns_entry *e = find_ns(s, ns);
  if (e) {
    loom_hnsw_free(e->h);
    loom_free(e->name);
    *e = s->ns[--s->nns];
  }
  pthread_rwlock_unlock(&s->table_lock);
}

/* ---- applying records (live and replay) --------------------------------- */

static void apply(struct loom_vstore *s, uint64_t lsn, enum loom_vwal_op op,
                  const char *ns, const char *id, const float *values,
                  json_t *meta) {
  if (op == LOOM_VWAL_DROP) {
    drop_ns(s, ns);
    return;
  }
  struct ns_entry *e =
      op == LOOM_VWAL_UPSERT ? get_or_add_ns(s, ns) : find_ns(s, ns);
  if (!e || lsn <= e->snap_lsn)
    return;
  struct loom_error err;
  loom_err rc = LOOM_OK;
  if (op == LOOM_VWAL_UPSERT)
    rc = loom_hnsw_upsert(e->h, id, values, meta, &err);
  else if (op == LOOM_VWAL_UPDATE)
    rc = loom_hnsw_update(e->h, id, values, meta, &err);
  else
    (void)loom_hnsw_delete(e->h, id);
  if (rc && rc != LOOM_ERR_NOT_FOUND)
    LOOM_WARN("vector store: record %llu not applied: %s",
              (unsigned long long)lsn, err.message);
}

static void replay_cb(void *ud, const struct loom_vwal_rec *r) {
  struct loom_vstore *s = ud;
  /* Records no writer logs are skipped: a namespace past the limit (its
   * snapshot's file name would be too long, failing every checkpoint). */
  if ((r->op == LOOM_VWAL_UPSERT && r->nvalues != s->p.dim) ||
      (r->op == LOOM_VWAL_UPDATE && r->nvalues && r->nvalues != s->p.dim) ||
      (r->op != LOOM_VWAL_DROP && !r->id) || strlen(r->ns) > LOOM_VSTORE_MAX_NS)
    return;
  json_t *meta = r->meta ? json_loadb(r->meta, r->metalen, 0, NULL) : NULL;
  /* A DROP older than the namespace's snapshot must not drop it. */
  if (r->op == LOOM_VWAL_DROP) {
    struct ns_entry *e = find_ns(s, r->ns);
    if (e && r->lsn <= e->snap_lsn)
      r = NULL;
  }
  if (r)
    apply(s, r->lsn, r->op, r->ns, r->id, r->values, meta);
  if (meta)
    json_decref(meta);
}

/* ---- open / close
 * ------------------------------------------------------------ */

/* Whether an index can have the shape `p` (loom_hnsw_new's rules: it
 * builds nothing until the first vector). A store opened with a shape it
 * refuses would log every write and apply none. */
static loom_err probe_params(const struct loom_vstore_params *p,
                             struct loom_error *e) {
  struct loom_hnsw *probe;
  loom_err err = loom_hnsw_new(
      &(struct loom_hnsw_params){.dim = p->dim,
                                 .metric = p->metric,
                                 .m = p->m,
                                 .ef_construction = p->ef_construction},
      &probe, e);
  loom_hnsw_free(err ? NULL : probe);
  return err;
}

/* A non-negative integer member that fits in 32 bits (absent: 0). */
static bool get_u32(const json_t *j, const char *key, uint32_t *out) {
  const json_t *v = json_object_get(j, key);
  json_int_t n = json_integer_value(v);
  *out = (uint32_t)n;
  return (!v || json_is_integer(v)) && n >= 0 && n <= UINT32_MAX;
}

static loom_err read_config(struct loom_vstore_params *p, const char *path,
                            struct loom_error *e) {
  json_error_t je;
  json_t *j = json_load_file(path, 0, &je);
  if (!j)
    return loom_error_set(e, LOOM_ERR_PARSE, "%s: %s", path, je.text);
  const char *metric = json_string_value(json_object_get(j, "metric"));
  int m = loom_metric_parse(metric);
  bool ok = get_u32(j, "dimension", &p->dim) && get_u32(j, "m", &p->m) &&
            get_u32(j, "ef_construction", &p->ef_construction);
  p->walk = json_is_true(json_object_get(j, "quantize"))
                ? LOOM_VSTORE_WALK_INT8
                : LOOM_VSTORE_WALK_FLOAT;
  json_decref(j);
  if (m < 0 || !ok || p->dim == 0)
    return loom_error_set(e, LOOM_ERR_PARSE, "%s: bad metric or dimension",
                          path);
  p->metric = (enum loom_metric)m;
  struct loom_error pe;
  if (probe_params(p, &pe) != LOOM_OK)
    return loom_error_set(e, LOOM_ERR_PARSE, "%s: %s", path, pe.message);
  return LOOM_OK;
}

loom_err loom_vstore_read_params(const char *dir, struct loom_vstore_params *p,
                                 struct loom_error *e) {
  char *config = loom_asprintf("%s/config.json", dir);
  *p = (struct loom_vstore_params){0};
  loom_err err =
      access(config, F_OK) == 0
          ? read_config(p, config, e)
          : loom_error_set(e, LOOM_ERR_NOT_FOUND, "no vector store in %s", dir);
  loom_free(config);
  return err;
}

static loom_err write_config(struct loom_vstore *s, const char *path,
                             struct loom_error *e) {
  json_t *j =
      json_pack("{s:i,s:s,s:i,s:i,s:b}", "dimension", (int)s->p.dim, "metric",
                loom_metric_name(s->p.metric), "m", (int)s->p.m,
                "ef_construction", (int)s->p.ef_construction, "quantize",
                s->p.walk == LOOM_VSTORE_WALK_INT8);
  char *tmp = loom_asprintf("%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  bool ok = f && json_dumpf(j, f, JSON_INDENT(2)) == 0 && fflush(f) == 0 &&
            fsync(fileno(f)) == 0;
  if (f && fclose(f) != 0)
    ok = false;
  ok = ok && rename(tmp, path) == 0;
  json_decref(j);
  loom_free(tmp);
  if (!ok)
    return loom_error_set(e, LOOM_ERR_IO, "cannot write %s: %s", path,
                          strerror(errno));
  return LOOM_OK;
}

static bool unhex(const char *hex, size_t n, char *out) {
  if (n % 2)
    return false;
  for (size_t i = 0; i < n / 2; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1)
      return false;
    out[i] = (char)v;
  }
  out[n / 2] = '\0';
  return true;
}

/* A snapshot of another shape than config.json's would be handed vectors
 * of the store's dimension (and read past them). Frees `h` when refused. */
static loom_err check_shape(const struct loom_vstore *s, struct loom_hnsw *h,
                            const char *path, struct loom_error *e) {
  const struct loom_hnsw_params *hp = loom_hnsw_params(h);
  if (hp->dim == s->p.dim && hp->metric == s->p.metric)
    return LOOM_OK;
  loom_error_set(e, LOOM_ERR_PARSE,
                 "%s holds %u-dimensional %s vectors, but config.json says "
                 "%u-dimensional %s: restore the matching config.json or "
                 "remove the snapshot",
                 path, hp->dim, loom_metric_name(hp->metric), s->p.dim,
                 loom_metric_name(s->p.metric));
  loom_hnsw_free(h);
  return LOOM_ERR_PARSE;
}

static loom_err load_snapshots(struct loom_vstore *s, struct loom_error *e) {
  DIR *d = opendir(s->dir);
  if (!d)
    return loom_error_set(e, LOOM_ERR_IO, "cannot list %s: %s", s->dir,
                          strerror(errno));
  loom_err result = LOOM_OK;
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t n = strlen(de->d_name);
    char name[600];
    if (n < 8 || strncmp(de->d_name, "ns-", 3) != 0 ||
        strcmp(de->d_name + n - 5, ".snap") != 0 || n - 8 > 1024 ||
        !unhex(de->d_name + 3, n - 8, name))
      continue;
    char *path = loom_asprintf("%s/%s", s->dir, de->d_name);
    struct loom_hnsw *h;
    uint64_t lsn;
    result = loom_hnsw_load(path, &h, &lsn, e);
    if (!result)
      result = check_shape(s, h, path, e);
    loom_free(path);
    if (result)
      break;
    add_ns(s, name, h, lsn);
    if (lsn > s->lsn)
      s->lsn = lsn;
  }
  closedir(d);
  return result;
}

/* One owner per store directory, other processes included: a second one
 * (loom ingest or loom search beside loom serve) replaying the WAL would
 * cut off the tail the first is appending, and appending too would
 * interleave records. An flock on DIR/lock, held until close, refuses
 * it; the kernel drops the lock with a process that dies. */
static loom_err take_ownership(struct loom_vstore *s, struct loom_error *e) {
  char *path = loom_asprintf("%s/lock", s->dir);
  s->owner_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  loom_free(path);
  if (s->owner_fd < 0)
    return loom_error_set(e, LOOM_ERR_IO, "cannot open %s/lock: %s", s->dir,
                          strerror(errno));
  if (flock(s->owner_fd, LOCK_EX | LOCK_NB) == 0)
    return LOOM_OK;
  return errno == EWOULDBLOCK
             ? loom_error_set(e, LOOM_ERR_CONFLICT,
                              "vector store %s is open elsewhere (another "
                              "loom process, such as loom serve, has it); "
                              "use that one (a server's API: POST "
                              "/indexes/NAME/search and /documents), or stop "
                              "it first",
                              s->dir)
             : loom_error_set(e, LOOM_ERR_IO, "cannot lock %s/lock: %s", s->dir,
                              strerror(errno));
}

loom_err loom_vstore_open(const char *dir,
                          const struct loom_vstore_params *create,
                          struct loom_vstore **out, struct loom_error *e) {
  struct loom_vstore *s = LOOM_NEW(struct loom_vstore);
  s->dir = loom_strdup(dir);
  s->owner_fd = -1;
  pthread_mutex_init(&s->write_lock, NULL);
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  /* Writers first: steady queries must not keep a new namespace (an
   * upsert, holding write_lock) or a drop waiting. */
  pthread_rwlockattr_setkind_np(&attr,
                                PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&s->table_lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  char *config = loom_asprintf("%s/config.json", dir);
  char *wal = loom_asprintf("%s/wal", dir);
  loom_err result = LOOM_OK;
  if (access(config, F_OK) == 0) {
    result = read_config(&s->p, config, e);
  } else if (!create) {
    result =
        loom_error_set(e, LOOM_ERR_NOT_FOUND, "no vector store in %s", dir);
  } else {
    s->p = *create;
    if (!s->p.m)
      s->p.m = 16;
    if (!s->p.ef_construction)
      s->p.ef_construction = 200;
    result = probe_params(&s->p, e);
    if (!result && mkdir(dir, 0755) != 0 && errno != EEXIST)
      result = loom_error_set(e, LOOM_ERR_IO, "cannot create %s: %s", dir,
                              strerror(errno));
    if (!result)
      result = write_config(s, config, e);
  }
  s->p.wal_max_bytes =
      create && create->wal_max_bytes ? create->wal_max_bytes : 64u << 20;
  if (!result)
    result = take_ownership(s, e);
  if (!result)
    result = load_snapshots(s, e);
  uint64_t wal_lsn = 0;
  if (!result)
    result = loom_vwal_open(wal, replay_cb, s, &s->wal, &wal_lsn, e);
  if (wal_lsn > s->lsn)
    s->lsn = wal_lsn;
  loom_free(config);
  loom_free(wal);
  if (result) {
    loom_vwal_close(s->wal);
    s->wal = NULL;
    loom_vstore_close(s);
    return result;
  }
  *out = s;
  return LOOM_OK;
}

void loom_vstore_close(struct loom_vstore *s) {
  if (!s)
    return;
  if (s->wal && loom_vwal_size(s->wal) > 0) {
    struct loom_error e;
    if (loom_vstore_checkpoint(s, &e) != LOOM_OK)
      LOOM_WARN("vector store %s: checkpoint on close failed: %s", s->dir,
                e.message);
  }
  loom_vwal_close(s->wal);
  for (size_t i = 0; i < s->nns; i++) {
    loom_hnsw_free(s->ns[i].h);
    loom_free(s->ns[i].name);
  }
  loom_free(s->ns);
  pthread_mutex_destroy(&s->write_lock);
  pthread_rwlock_destroy(&s->table_lock);
  if (s->owner_fd >= 0)
    close(s->owner_fd); /* the last: the next owner may start at once */
  loom_free(s->dir);
  loom_free(s);
}

const struct loom_vstore_params *
loom_vstore_params(const struct loom_vstore *s) {
  return &s->p;
}

/* ---- checkpoints
 * --------------------------------------------------------------- */

/* Removes snapshot files of namespaces that no longer exist. */
static void remove_stale(struct loom_vstore *s) {
  DIR *d = opendir(s->dir);
  struct dirent *de;
  while (d && (de = readdir(d))) {
    size_t n = strlen(de->d_name);
    char name[600];
    if (n < 8 || strncmp(de->d_name, "ns-", 3) != 0 ||
        strcmp(de->d_name + n - 5, ".snap") != 0 || n - 8 > 1024 ||
        !unhex(de->d_name + 3, n - 8, name))
      continue;
    struct ns_entry *e = find_ns(s, name);
    if (!e || loom_hnsw_count(e->h) == 0) {
      char *path = loom_asprintf("%s/%s", s->dir, de->d_name);
      unlink(path);
      loom_free(path);
    }
  }
  if (d)
    closedir(d);
}

/* Caller holds write_lock. */
static loom_err checkpoint_locked(struct loom_vstore *s, struct loom_error *e) {
  for (size_t i = 0; i < s->nns; i++) {
    struct ns_entry *ns = &s->ns[i];
    if (loom_hnsw_count(ns->h) == 0)
      continue;
    char *path = snap_path(s, ns->name);
    loom_err err = loom_hnsw_save(ns->h, path, s->lsn, e);
    loom_free(path);
    if (err)
      return err;
    ns->snap_lsn = s->lsn;
  }
  remove_stale(s);
  return loom_vwal_reset(s->wal, e);
}

loom_err loom_vstore_checkpoint(struct loom_vstore *s, struct loom_error *e) {
  pthread_mutex_lock(&s->write_lock);
  loom_err err = checkpoint_locked(s, e);
  pthread_mutex_unlock(&s->write_lock);
  return err;
}

/* After a write: checkpoint when the log is large (failures are logged;
 * the log still holds everything). */
static void maybe_checkpoint(struct loom_vstore *s) {
  if (loom_vwal_size(s->wal) < s->p.wal_max_bytes)
    return;
  struct loom_error e;
  if (checkpoint_locked(s, &e) != LOOM_OK)
    LOOM_WARN("vector store %s: checkpoint failed: %s", s->dir, e.message);
}

/* ---- writes
 * -------------------------------------------------------------------- */

static loom_err check_record(const struct loom_vstore *s, const char *id,
                             const float *values, size_t index,
                             struct loom_error *e) {
  size_t idlen = id ? strlen(id) : 0;
  if (idlen == 0 || idlen > LOOM_HNSW_MAX_ID)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "vector %zu: id must be 1 to %d bytes long", index,
                          LOOM_HNSW_MAX_ID);
  if (!values)
    return LOOM_OK;
  bool nonzero = false;
  for (uint32_t i = 0; i < s->p.dim; i++) {
    if (!isfinite(values[i]))
      return loom_error_set(e, LOOM_ERR_INVALID,
                            "vector '%s': value %u is not a finite number", id,
                            i);
    nonzero |= values[i] != 0.0f;
  }
  if (!nonzero && s->p.metric == LOOM_METRIC_COSINE)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "vector '%s' is all zeros, which has no direction "
                          "under the cosine metric",
                          id);
  /* What the index itself would refuse when applying it, after the log
   * had acknowledged it (a cosine length too small or large). */
  struct loom_error he;
  if (loom_hnsw_check_vector(
          &(struct loom_hnsw_params){.dim = s->p.dim, .metric = s->p.metric},
          values, &he) != LOOM_OK)
    return loom_error_set(e, LOOM_ERR_INVALID, "vector '%s': %s", id,
                          he.message);
  return LOOM_OK;
}

/* Namespace names become file names (hex, two characters a byte). */
static loom_err check_ns(const char *ns, struct loom_error *e) {
  if (strlen(ns) > LOOM_VSTORE_MAX_NS)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "namespace names are at most %d bytes",
                          LOOM_VSTORE_MAX_NS);
  return LOOM_OK;
}

static void log_rec(struct loom_vstore *s, enum loom_vwal_op op, const char *ns,
                    const char *id, const float *values, const char *meta) {
  struct loom_vwal_rec r = {.lsn = ++s->lsn,
                            .op = op,
                            .ns = ns,
                            .id = id,
                            .values = values,
                            .nvalues = values ? s->p.dim : 0,
                            .meta = meta,
                            .metalen = meta ? (uint32_t)strlen(meta) : 0};
  loom_vwal_add(s->wal, &r);
}

loom_err loom_vstore_upsert(struct loom_vstore *s, const char *ns,
                            const struct loom_vrecord *recs, size_t n,
                            struct loom_error *e) {
  ns = norm_ns(ns);
  if (check_ns(ns, e))
    return LOOM_ERR_INVALID;
  for (size_t i = 0; i < n; i++) {
    loom_err err = check_record(s, recs[i].id, recs[i].values, i, e);
    if (!err && !recs[i].values)
      err = loom_error_set(e, LOOM_ERR_INVALID, "vector %zu has no values", i);
    if (!err && recs[i].metadata && !json_is_object(recs[i].metadata))
      err =
          loom_error_set(e, LOOM_ERR_INVALID,
                         "vector '%s': metadata must be an object", recs[i].id);
    if (err)
      return err;
  }
  pthread_mutex_lock(&s->write_lock);
  uint64_t first = s->lsn + 1;
  for (size_t i = 0; i < n; i++) {
    char *meta =
        recs[i].metadata ? json_dumps(recs[i].metadata, JSON_COMPACT) : NULL;
    log_rec(s, LOOM_VWAL_UPSERT, ns, recs[i].id, recs[i].values, meta);
    free(meta);
  }
  loom_err err = loom_vwal_commit(s->wal, e);
  if (err) {
    s->lsn = first - 1;
  } else {
    for (size_t i = 0; i < n; i++)
      apply(s, first + i, LOOM_VWAL_UPSERT, ns, recs[i].id, recs[i].values,
            recs[i].metadata);
    maybe_checkpoint(s);
  }
  pthread_mutex_unlock(&s->write_lock);
  return err;
}

static void noop_cb(void *ud, const char *id, float d, const float *v,
                    const json_t *m) {
  (void)ud, (void)id, (void)d, (void)v, (void)m;
}

loom_err loom_vstore_update(struct loom_vstore *s, const char *ns,
                            const char *id, const float *values,
                            const json_t *set_metadata, struct loom_error *e) {
  ns = norm_ns(ns);
  loom_err err = check_record(s, id, values, 0, e);
  if (!err)
    err = check_ns(ns, e);
  if (err)
    return err;
  if (set_metadata && !json_is_object(set_metadata))
    return loom_error_set(e, LOOM_ERR_INVALID, "metadata must be an object");
  pthread_mutex_lock(&s->write_lock);
  struct ns_entry *entry = find_ns(s, ns);
  if (!entry || !loom_hnsw_get(entry->h, id, noop_cb, NULL)) {
    err = loom_error_set(e, LOOM_ERR_NOT_FOUND,
                         "no vector with id '%s' in namespace '%s'", id, ns);
    goto out;
  }
  char *meta = set_metadata ? json_dumps(set_metadata, JSON_COMPACT) : NULL;
  log_rec(s, LOOM_VWAL_UPDATE, ns, id, values, meta);
  free(meta);
  err = loom_vwal_commit(s->wal, e);
  if (err) {
    s->lsn--;
    goto out;
  }
  apply(s, s->lsn, LOOM_VWAL_UPDATE, ns, id, values, (json_t *)set_metadata);
  maybe_checkpoint(s);
out:
  pthread_mutex_unlock(&s->write_lock);
  return err;
}

/* Caller holds write_lock. */
static loom_err delete_locked(struct loom_vstore *s, const char *ns,
                              const char *const *ids, size_t n,
                              struct loom_error *e) {
  if (!find_ns(s, ns) || n == 0)
    return LOOM_OK;
  uint64_t first = s->lsn + 1;
  for (size_t i = 0; i < n; i++)
    log_rec(s, LOOM_VWAL_DELETE, ns, ids[i], NULL, NULL);
  loom_err err = loom_vwal_commit(s->wal, e);
  if (err) {
    s->lsn = first - 1;
    return err;
  }
  for (size_t i = 0; i < n; i++)
    apply(s, first + i, LOOM_VWAL_DELETE, ns, ids[i], NULL, NULL);
  maybe_checkpoint(s);
  return LOOM_OK;
}

loom_err loom_vstore_delete(struct loom_vstore *s, const char *ns,
                            const char *const *ids, size_t n,
                            struct loom_error *e) {
  ns = norm_ns(ns);
  for (size_t i = 0; i < n; i++) {
    loom_err err = check_record(s, ids[i], NULL, i, e);
    if (err)
      return err;
  }
  pthread_mutex_lock(&s->write_lock);
  loom_err err = delete_locked(s, ns, ids, n, e);
  pthread_mutex_unlock(&s->write_lock);
  return err;
}

struct collect {
  char **ids;
  size_t n, cap;
};

static void collect_cb(void *ud, const char *id, float d, const float *v,
                       const json_t *meta) {
  struct collect *c = ud;
  (void)d, (void)v, (void)meta;
  if (c->n == c->cap) {
    c->cap = c->cap ? 2 * c->cap : 64;
    c->ids = loom_realloc(c->ids, c->cap * sizeof *c->ids);
  }
  c->ids[c->n++] = loom_strdup(id);
}

loom_err loom_vstore_delete_where(struct loom_vstore *s, const char *ns,
                                  const struct loom_filter *filter,
                                  size_t *deleted, struct loom_error *e) {
  ns = norm_ns(ns);
  struct collect c = {0};
  pthread_mutex_lock(&s->write_lock);
  struct ns_entry *entry = find_ns(s, ns);
  if (entry)
    loom_hnsw_each_where(entry->h, filter, collect_cb, &c);
  loom_err err = delete_locked(s, ns, (const char *const *)c.ids, c.n, e);
  pthread_mutex_unlock(&s->write_lock);
  if (deleted)
    *deleted = err ? 0 : c.n;
  for (size_t i = 0; i < c.n; i++)
    loom_free(c.ids[i]);
  loom_free(c.ids);
  return err;
}

loom_err loom_vstore_delete_all(struct loom_vstore *s, const char *ns,
                                struct loom_error *e) {
  ns = norm_ns(ns);
  pthread_mutex_lock(&s->write_lock);
  loom_err err = LOOM_OK;
  if (find_ns(s, ns)) {
    log_rec(s, LOOM_VWAL_DROP, ns, NULL, NULL, NULL);
    err = loom_vwal_commit(s->wal, e);
    if (err)
      s->lsn--;
    else
      apply(s, s->lsn, LOOM_VWAL_DROP, ns, NULL, NULL, NULL);
  }
  pthread_mutex_unlock(&s->write_lock);
  return err;
}

/* ---- reads
 * ------------------------------------------------------------------------ */

size_t loom_vstore_query(struct loom_vstore *s, const char *ns,
                         const struct loom_hnsw_query *q, loom_hnsw_item_cb cb,
                         void *ud) {
  pthread_rwlock_rdlock(&s->table_lock);
  struct ns_entry *e = find_ns(s, norm_ns(ns));
  size_t n = e ? loom_hnsw_query(e->h, q, cb, ud) : 0;
  pthread_rwlock_unlock(&s->table_lock);
  return n;
}

bool loom_vstore_fetch(struct loom_vstore *s, const char *ns, const char *id,
                       loom_hnsw_item_cb cb, void *ud) {
  pthread_rwlock_rdlock(&s->table_lock);
  struct ns_entry *e = find_ns(s, norm_ns(ns));
  bool found = e && loom_hnsw_get(e->h, id, cb, ud);
  pthread_rwlock_unlock(&s->table_lock);
  return found;
}

void loom_vstore_each(struct loom_vstore *s, const char *ns,
                      loom_hnsw_item_cb cb, void *ud) {
  pthread_rwlock_rdlock(&s->table_lock);
  struct ns_entry *e = find_ns(s, norm_ns(ns));
  if (e)
    loom_hnsw_each(e->h, cb, ud);
  pthread_rwlock_unlock(&s->table_lock);
}

char **loom_vstore_ids(struct loom_vstore *s, const char *ns,
                       const char *prefix, const char *after, size_t max,
                       size_t *n) {
  pthread_rwlock_rdlock(&s->table_lock);
  struct ns_entry *e = find_ns(s, norm_ns(ns));
  char **ids = NULL;
  *n = 0;
  if (e)
    ids = loom_hnsw_ids(e->h, prefix, after, max, n);
  pthread_rwlock_unlock(&s->table_lock);
  return ids;
}

size_t loom_vstore_each_where(struct loom_vstore *s, const char *ns,
                              const struct loom_filter *where,
                              loom_hnsw_item_cb cb, void *ud) {
  pthread_rwlock_rdlock(&s->table_lock);
  struct ns_entry *e = find_ns(s, norm_ns(ns));
  size_t n = e ? loom_hnsw_each_where(e->h, where, cb, ud) : 0;
  pthread_rwlock_unlock(&s->table_lock);
  return n;
}

struct ns_count {
  char *name;
  size_t count;
};

size_t loom_vstore_namespaces(struct loom_vstore *s,
                              void (*cb)(void *ud, const char *ns,
                                         size_t count),
                              void *ud) {
  /* Names and counts are copied, then reported without the lock, so `cb`
   * may query the store (the lock prefers writers: taking it again while
   * holding it would wait behind a writer that waits for us). */
  size_t total = 0, n = 0;
  pthread_rwlock_rdlock(&s->table_lock);
  struct ns_count *seen = loom_calloc(s->nns ? s->nns : 1, sizeof *seen);
  for (size_t i = 0; i < s->nns; i++) {
    size_t c = loom_hnsw_count(s->ns[i].h);
    if (c && cb)
      seen[n++] = (struct ns_count){loom_strdup(s->ns[i].name), c};
    total += c;
  }
  pthread_rwlock_unlock(&s->table_lock);
  for (size_t i = 0; i < n; i++) {
    cb(ud, seen[i].name, seen[i].count);
    loom_free(seen[i].name);
  }
  loom_free(seen);
  return total;
}
