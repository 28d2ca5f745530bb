/*
 * checkpoint — a run's link to the store: load where a thread stopped,
 * save after every step, store finished tasks' writes at once.
 *
 * A checkpoint holds {"v":1, "id", "ts", "channel_versions", "next":
 * [tasks], "step"} and metadata {"source", "step", "writes", "parents"}.
 * Blobs go out only for channels whose version changed since the last
 * checkpoint this run wrote (or loaded), so a large channel that does not
 * change is stored once. Durability: sync writes each checkpoint before
 * the next step; async hands it to a writer thread (writer.c) and goes on,
 * draining the queue before the run stops; exit keeps only the newest and
 * writes it when the run stops (its parent is the last one in the store).
 */
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "engine/internal.h"

void loom_engine_interrupt_id(const char *checkpoint_id, const char *task_id,
                              size_t n, char out[33]) {
  uint64_t h[2] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull};
  char buf[256];
  int len = snprintf(buf, sizeof(buf), "%s|%s|%zu", checkpoint_id, task_id, n);
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < len && i < (int)sizeof(buf); i++) {
      h[k] ^= (unsigned char)buf[i];
      h[k] *= 0x100000001b3ull;
    }
  snprintf(out, 33, "%016llx%016llx", (unsigned long long)h[0],
           (unsigned long long)h[1]);
}

static loom_err write_parts(struct loom_run *r, const char *id, json_t *ckpt,
                            json_t *meta, json_t *values,
                            struct loom_error *e) {
  json_t *versions = json_object_get(ckpt, "channel_versions");
  size_t n = 0, cap = json_object_size(versions) + 1;
  struct loom_blob *blobs = loom_calloc(cap, sizeof(*blobs));
  const char *ch;
  json_t *v;
  json_object_foreach(versions, ch, v) {
    if (json_equal(v, json_object_get(r->saved_versions, ch)) ||
        (r->durability == LOOM_DURABILITY_ASYNC &&
         !json_object_get(values, ch)))
      continue; /* async: unchanged since the last queued checkpoint */
    blobs[n++] = (struct loom_blob){ch, json_string_value(v),
                                    json_object_get(values, ch)};
  }
  struct loom_checkpoint cp = {.thread_id = r->thread_id,
                               .ns = r->ns,
                               .id = (char *)id,
                               .parent_id =
                                   r->persisted_id[0] ? r->persisted_id : NULL,
                               .checkpoint = ckpt,
                               .metadata = meta};
  loom_err rc =
      r->store->ops->put_checkpoint(r->store, r->tenant, &cp, blobs, n, e);
  loom_free(blobs);
  if (rc)
    return rc;
  json_decref(r->saved_versions);
  r->saved_versions = json_copy(versions);
  snprintf(r->persisted_id, sizeof(r->persisted_id), "%s", id);
  return LOOM_OK;
}

loom_err loom_engine_write_record(struct loom_run *r, json_t *rec,
                                  struct loom_error *e) {
  return write_parts(r, json_string_value(json_object_get(rec, "id")),
                     json_object_get(rec, "checkpoint"),
                     json_object_get(rec, "metadata"),
                     json_object_get(rec, "values"), e);
}

loom_err loom_engine_flush(struct loom_run *r, struct loom_error *e) {
  if (!r->store)
    return LOOM_OK;
  if (r->durability == LOOM_DURABILITY_ASYNC)
    return loom_engine_writer_drain(r, e);
  size_t i;
  json_t *rec, *w;
  loom_err rc = LOOM_OK;
  json_array_foreach(r->unsaved, i, rec) {
    if ((rc = loom_engine_write_record(r, rec, e)))
      break;
  }
  json_array_clear(r->unsaved);
  json_array_foreach(r->unsaved_writes, i, w) {
    const char *cp = json_string_value(json_object_get(w, "checkpoint_id"));
    if (rc ||
        (r->durability == LOOM_DURABILITY_EXIT && strcmp(cp, r->persisted_id)))
      continue;
    rc = r->store->ops->put_writes(
        r->store, r->tenant, r->thread_id, r->ns, cp,
        json_string_value(json_object_get(w, "task_id")),
        json_object_get(w, "writes"), e);
  }
  json_array_clear(r->unsaved_writes);
  return rc;
}

loom_err loom_engine_put_writes(struct loom_run *r, const char *task_id,
                                json_t *writes, struct loom_error *e) {
  if (!r->store)
    return LOOM_OK;
  if (r->durability == LOOM_DURABILITY_SYNC)
    return r->store->ops->put_writes(r->store, r->tenant, r->thread_id, r->ns,
                                     r->checkpoint_id, task_id, writes, e);
  json_t *job = json_pack("{sssssO}", "checkpoint_id", r->checkpoint_id,
                          "task_id", task_id, "writes", writes);
  if (r->durability == LOOM_DURABILITY_ASYNC) {
    json_t *own = json_deep_copy(job);
    json_decref(job);
    return loom_engine_writer_push(r, NULL, own, e);
  }
  json_array_append_new(r->unsaved_writes, job);
  return LOOM_OK;
}

static void add_names(json_t *names, const json_t *writes) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)writes, k, v) {
    json_array_append_new(names, json_string(k));
  }
}

json_t *loom_engine_written(const json_t *updates) {
  json_t *out = json_object();
  const char *node;
  json_t *w;
  json_object_foreach((json_t *)updates, node, w) {
    json_t *names = json_array();
    if (json_is_array(w)) {
      size_t i;
      json_t *one;
      json_array_foreach(w, i, one) { add_names(names, one); }
    } else {
      add_names(names, w);
    }
    json_object_set_new(out, node, names);
  }
  return out;
}

/* What LangGraph's checkpoints stream shows of a checkpoint: its ids,
 * metadata, the state (the run's own values: a subscriber copies what it
 * keeps), the next nodes and the tasks they become. */
static void checkpoint_event(struct loom_run *r, const char *id, json_t *meta) {
  json_t *ev = json_object();
  json_object_set_new(ev, "checkpoint_id", json_string(id));
  json_object_set_new(ev, "parent_id", json_string(r->parent_id));
  json_object_set(ev, "metadata", meta);
  json_object_set(ev, "values", r->values);
  json_object_set_new(ev, "next", loom_engine_next_names(r->next));
  json_object_set_new(ev, "tasks",
                      loom_engine_next_tasks(r->next, r->pending, NULL));
  loom_engine_emit(r, LOOM_EVENT_CHECKPOINT, ev);
  json_decref(ev);
}

/* Deep copies of the values whose version changed since the last
 * checkpoint handed to the writer (the only ones it stores). */
static json_t *changed_values(struct loom_run *r) {
  json_t *out = json_object();
  /* The first call comes before any checkpoint is queued, so the writer
   * has not touched saved_versions yet. */
  if (!r->queued_versions)
    r->queued_versions = json_deep_copy(r->saved_versions);
  const char *ch;
  json_t *v;
  json_object_foreach(r->versions, ch, v) {
    json_t *val = json_object_get(r->values, ch);
    if (val && !json_equal(v, json_object_get(r->queued_versions, ch)))
      json_object_set_new(out, ch, json_deep_copy(val));
  }
  json_decref(r->queued_versions);
  r->queued_versions = json_deep_copy(r->versions);
  return out;
}

/* Queues or writes the checkpoint as the durability mode says. */
static loom_err persist(struct loom_run *r, const char *id, json_t *ckpt,
                        json_t *meta, struct loom_error *e) {
  if (r->durability == LOOM_DURABILITY_SYNC)
    return write_parts(r, id, ckpt, meta, r->values, e);
  json_t *rec = json_object();
  json_object_set_new(rec, "id", json_string(id));
  if (r->durability == LOOM_DURABILITY_ASYNC) {
    /* The writer thread gets its own copies of everything it reads: no
     * JSON value is shared between the two threads. */
    json_object_set_new(rec, "checkpoint", json_deep_copy(ckpt));
    json_object_set_new(rec, "metadata", json_deep_copy(meta));
    json_object_set_new(rec, "values", changed_values(r));
    return loom_engine_writer_push(r, rec, NULL, e);
  }
  json_object_set(rec, "checkpoint", ckpt);
  json_object_set(rec, "metadata", meta);
  json_object_set_new(rec, "values", json_copy(r->values));
  json_array_clear(r->unsaved); /* exit: only the newest is written */
  json_array_append_new(r->unsaved, rec);
  return LOOM_OK;
}

loom_err loom_engine_save(struct loom_run *r, const char *source,
                          json_t *writes_meta, struct loom_error *e) {
  char id[LOOM_ID_LEN + 1], ts[33];
  loom_id_new(id);
  snprintf(r->parent_id, sizeof(r->parent_id), "%s", r->checkpoint_id);
  snprintf(r->checkpoint_id, sizeof(r->checkpoint_id), "%s", id);
  json_array_clear(r->pending);
  if (!r->store && (!r->nsubs || r->no_checkpoint_events)) {
    /* nobody would see it: skip the JSON */
    json_decref(writes_meta);
    return LOOM_OK;
  }
  json_t *ckpt = json_object(), *meta = json_object();
  json_object_set_new(ckpt, "v", json_integer(1));
  json_object_set_new(ckpt, "id", json_string(id));
  json_object_set_new(
      ckpt, "ts", json_string(loom_clock_format_iso(loom_clock_wall_ms(), ts)));
  json_object_set_new(ckpt, "channel_versions", json_copy(r->versions));
  json_object_set_new(ckpt, "next", json_copy(r->next));
  json_object_set_new(ckpt, "step", json_integer(r->step));
  json_object_set_new(meta, "source", json_string(source));
  json_object_set_new(meta, "step", json_integer(r->step));
  json_object_set_new(meta, "writes", writes_meta ? writes_meta : json_null());
  json_object_set_new(meta, "parents", json_object());
  if (r->metadata)
    json_object_update_missing(meta, r->metadata);
  loom_err rc = r->store ? persist(r, id, ckpt, meta, e) : LOOM_OK;
  if (r->nsubs && !r->no_checkpoint_events)
    checkpoint_event(r, id, meta);
  json_decref(ckpt);
  json_decref(meta);
  return rc;
}
