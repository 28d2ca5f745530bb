/*
 * memstore — checkpoints in memory, behind the same ops as the database
 * stores (LangGraph's MemorySaver): for tests, benchmarks and runs that do
 * not need to survive the process.
 *
 * Everything lives in one JSON object keyed by "tenant|thread|ns", each
 * holding the checkpoints in id order, the blobs by "channel|version" and
 * the writes by checkpoint id. One mutex guards it all.
 */
#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/engine.h"

struct memstore {
  struct loom_store base;
  pthread_mutex_t mu;
  json_t *threads;
};

static json_t *space(struct memstore *m, const char *tenant, const char *thread,
                     const char *ns, bool create) {
  char *key = loom_asprintf("%s|%s|%s", tenant, thread, ns ? ns : "");
  json_t *sp = json_object_get(m->threads, key);
  if (!sp && create) {
    sp = json_pack("{s[]s{}s{}}", "cps", "blobs", "writes");
    json_object_set_new(m->threads, key, sp);
  }
  loom_free(key);
  return sp;
}

static loom_err mem_migrate(struct loom_store *s, struct loom_error *e) {
  (void)s, (void)e;
  return LOOM_OK;
}
static loom_err mem_schema_version(struct loom_store *s, int *out) {
  (void)s;
  *out = 1;
  return LOOM_OK;
}
static loom_err mem_ping(struct loom_store *s) {
  (void)s;
  return LOOM_OK;
}

static loom_err mem_put_checkpoint(struct loom_store *s, const char *tenant,
                                   const struct loom_checkpoint *cp,
                                   const struct loom_blob *blobs, size_t nblobs,
                                   struct loom_error *e) {
  struct memstore *m = (struct memstore *)s;
  if (!cp->thread_id || !cp->id || !json_is_object(cp->checkpoint))
    return loom_error_set(e, LOOM_ERR_INVALID, "incomplete checkpoint");
  pthread_mutex_lock(&m->mu);
  json_t *sp = space(m, tenant, cp->thread_id, cp->ns, true);
  json_t *b = json_object_get(sp, "blobs");
  for (size_t i = 0; i < nblobs; i++) {
    char *key = loom_asprintf("%s|%s", blobs[i].channel, blobs[i].version);
    if (!json_object_get(b, key))
      json_object_set_new(b, key,
                          blobs[i].value ? json_deep_copy(blobs[i].value)
                                         : json_pack("{sb}", "__empty__", 1));
    loom_free(key);
  }
  json_t *cps = json_object_get(sp, "cps");
  json_t *row = json_pack(
      "{sssosOsO}", "id", cp->id, "parent",
      cp->parent_id ? json_string(cp->parent_id) : json_null(), "checkpoint",
      cp->checkpoint, "metadata", cp->metadata ? cp->metadata : json_object());
  size_t at = json_array_size(cps);
  while (at > 0 && strcmp(json_string_value(json_object_get(
                              json_array_get(cps, at - 1), "id")),
                          cp->id) > 0)
    at--;
  json_t *prev = at > 0 ? json_array_get(cps, at - 1) : NULL;
  if (prev && !strcmp(json_string_value(json_object_get(prev, "id")), cp->id))
    json_array_set_new(cps, at - 1, row);
  else
    json_array_insert_new(cps, at, row);
  pthread_mutex_unlock(&m->mu);
  return LOOM_OK;
}

static struct loom_checkpoint *to_cp(const json_t *row, const char *thread,
                                     const char *ns, const json_t *sp,
                                     bool full) {
  struct loom_checkpoint *cp = LOOM_NEW(struct loom_checkpoint);
  cp->thread_id = loom_strdup(thread);
  cp->ns = loom_strdup(ns ? ns : "");
  cp->id = loom_strdup(json_string_value(json_object_get(row, "id")));
  const char *parent = json_string_value(json_object_get(row, "parent"));
  cp->parent_id = parent ? loom_strdup(parent) : NULL;
  cp->checkpoint = json_deep_copy(json_object_get(row, "checkpoint"));
  cp->metadata = json_deep_copy(json_object_get(row, "metadata"));
  if (!full)
    return cp;
  cp->values = json_object();
  const char *ch;
  json_t *v;
  json_object_foreach(json_object_get(cp->checkpoint, "channel_versions"), ch,
                      v) {
    char *key = loom_asprintf("%s|%s", ch, json_string_value(v));
    json_t *val = json_object_get(json_object_get(sp, "blobs"), key);
    if (val && !json_object_get(val, "__empty__"))
      json_object_set_new(cp->values, ch, json_deep_copy(val));
    loom_free(key);
  }
  cp->pending_writes =
      json_deep_copy(json_object_get(json_object_get(sp, "writes"), cp->id));
  if (!cp->pending_writes)
    cp->pending_writes = json_array();
  return cp;
}

static loom_err mem_get_checkpoint(struct loom_store *s, const char *tenant,
                                   const char *thread_id, const char *ns,
                                   const char *id, struct loom_checkpoint **out,
                                   struct loom_error *e) {
  struct memstore *m = (struct memstore *)s;
  pthread_mutex_lock(&m->mu);
  json_t *sp = space(m, tenant, thread_id, ns, false);
  json_t *cps = json_object_get(sp, "cps");
  const json_t *row = NULL;
  if (!id) {
    row = json_array_get(cps, json_array_size(cps) - 1);
  } else {
    size_t i;
    json_t *r;
    json_array_foreach(cps, i, r) {
      if (!strcmp(json_string_value(json_object_get(r, "id")), id))
        row = r;
    }
  }
  *out = row ? to_cp(row, thread_id, ns, sp, true) : NULL;
  pthread_mutex_unlock(&m->mu);
  if (!row)
    return loom_error_set(e, LOOM_ERR_NOT_FOUND, "no checkpoint %s",
                          id ? id : "for this thread");
  return LOOM_OK;
}

static bool matches(const json_t *meta, const json_t *filter) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)filter, k, v) {
    if (!json_equal(json_object_get(meta, k), v))
      return false;
  }
  return true;
}

static loom_err
mem_list_checkpoints(struct loom_store *s, const char *tenant,
                     const struct loom_checkpoint_query *q,
                     bool (*each)(const struct loom_checkpoint *cp, void *arg),
                     void *arg, struct loom_error *e) {
  (void)e;
  struct memstore *m = (struct memstore *)s;
  pthread_mutex_lock(&m->mu);
  json_t *sp = space(m, tenant, q->thread_id, q->ns, false);
  json_t *cps = json_deep_copy(json_object_get(sp, "cps"));
  pthread_mutex_unlock(&m->mu);
  size_t sent = 0;
  for (size_t i = json_array_size(cps); i-- > 0;) {
    json_t *row = json_array_get(cps, i);
    const char *id = json_string_value(json_object_get(row, "id"));
    if ((q->before_id && strcmp(id, q->before_id) >= 0) ||
        (q->metadata_filter &&
         !matches(json_object_get(row, "metadata"), q->metadata_filter)))
      continue;
    struct loom_checkpoint *cp = to_cp(row, q->thread_id, q->ns, NULL, false);
    bool more = each(cp, arg);
    loom_checkpoint_free(cp);
    if (!more || (q->limit && ++sent >= q->limit))
      break;
  }
  json_decref(cps);
  return LOOM_OK;
}

static loom_err mem_put_writes(struct loom_store *s, const char *tenant,
                               const char *thread_id, const char *ns,
                               const char *checkpoint_id, const char *task_id,
                               const json_t *writes, struct loom_error *e) {
  (void)e;
  struct memstore *m = (struct memstore *)s;
  pthread_mutex_lock(&m->mu);
  json_t *sp = space(m, tenant, thread_id, ns, true);
  json_t *all = json_object_get(sp, "writes");
  json_t *list = json_object_get(all, checkpoint_id);
  if (!list)
    json_object_set_new(all, checkpoint_id, list = json_array());
  bool have = false;
  size_t i;
  json_t *w;
  json_array_foreach(list, i, w) {
    have |= !strcmp(json_string_value(json_object_get(w, "task_id")), task_id);
  }
  for (i = 0; !have && i < json_array_size(writes); i++) {
    const json_t *x = json_array_get(writes, i);
    json_t *val = json_object_get(x, "value");
    json_array_append_new(
        list, json_pack("{sssOsOsI}", "task_id", task_id, "channel",
                        json_object_get(x, "channel"), "value",
                        val ? val : json_null(), "idx", (json_int_t)i));
  }
  pthread_mutex_unlock(&m->mu);
  return LOOM_OK;
}

static loom_err mem_delete_thread(struct loom_store *s, const char *tenant,
                                  const char *thread_id, struct loom_error *e) {
  (void)e;
  struct memstore *m = (struct memstore *)s;
  char *prefix = loom_asprintf("%s|%s|", tenant, thread_id);
  pthread_mutex_lock(&m->mu);
  const char *k;
  void *tmp;
  json_t *v;
  json_object_foreach_safe(m->threads, tmp, k, v) {
    if (!strncmp(k, prefix, strlen(prefix)))
      json_object_del(m->threads, k);
  }
  pthread_mutex_unlock(&m->mu);
  loom_free(prefix);
  return LOOM_OK;
}

static void mem_close(struct loom_store *s) {
  struct memstore *m = (struct memstore *)s;
  json_decref(m->threads);
  pthread_mutex_destroy(&m->mu);
  loom_free(m);
}

static const struct loom_store_ops mem_ops = {
    .name = "memory",
    .migrate = mem_migrate,
    .schema_version = mem_schema_version,
    .ping = mem_ping,
    .put_checkpoint = mem_put_checkpoint,
    .get_checkpoint = mem_get_checkpoint,
    .list_checkpoints = mem_list_checkpoints,
    .put_writes = mem_put_writes,
    .delete_thread_checkpoints = mem_delete_thread,
    .close = mem_close,
};

struct loom_store *loom_engine_memstore_new(void) {
  struct memstore *m = LOOM_NEW(struct memstore);
  m->base.ops = &mem_ops;
  pthread_mutex_init(&m->mu, NULL);
  m->threads = json_object();
  return &m->base;
}
