/*
 * run_start — what a run's body says about how its engine run starts:
 * from which checkpoint, with what durability, with which metadata on its
 * checkpoints, and whether a stateless run needs a store at all. Pure
 * reading of the run (and, for a run recovered after a crash, of its
 * thread's latest checkpoint); the executor builds the engine run from it.
 */
#include <string.h>

#include "api/internal.h"
#include "core/alloc.h"
#include "engine/engine.h"
#include "stores/store.h"

const char **api_string_list(const json_t *v, size_t *n) {
  *n = json_array_size(v);
  const char **out = loom_calloc(*n ? *n : 1, sizeof *out);
  for (size_t i = 0; i < *n; i++)
    out[i] = json_string_value(json_array_get(v, i));
  return out;
}

/* Unset means sync, where LangGraph's server means async: loom's steps
 * are short, so the writer thread that async hands each checkpoint to
 * costs more than it overlaps (measured: a 3-step run on a thread answers
 * 0.5-1 ms sooner with sync), and sync loses nothing in a crash. */
enum loom_durability api_run_durability(const json_t *kwargs) {
  const char *s = json_string_value(json_object_get(kwargs, "durability"));
  if (s && !strcmp(s, "exit"))
    return LOOM_DURABILITY_EXIT;
  if (s && !strcmp(s, "async"))
    return LOOM_DURABILITY_ASYNC;
  return LOOM_DURABILITY_SYNC;
}

/* Also decides how the run starts: from its own last checkpoint when it
 * wrote one before a crash (its status may still read "pending": that
 * write is behind), otherwise from the start, with its input. */
void api_run_find_start(struct api_run *r, struct loom_store *store) {
  struct loom_checkpoint *cp = NULL;
  const char *by = NULL;
  if (loom_store_get_checkpoint(store, API_TENANT, r->thread_id, "", NULL, &cp,
                                NULL) == LOOM_OK) {
    r->start_checkpoint = loom_strdup(cp->id);
    by = json_string_value(json_object_get(cp->metadata, "run_id"));
  }
  r->recovered = by && !strcmp(by, r->id);
  loom_checkpoint_free(cp);
}

/* A configurable key a client set on an assistant that is not kept in
 * a run's: the identity api_auth_configurable writes comes from the
 * request only. */
static bool identity_key(const char *k) {
  return !strncmp(k, "langgraph_auth_", 15);
}

/* o[key] as an object in o (made when missing or not an object). */
static json_t *object_at(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (!json_is_object(v))
    json_object_set_new(o, key, v = json_object());
  return v;
}

/* Adds config `from` under what `top` (its top-level keys) and `conf`
 * (its configurable, but no identity) already hold: only keys they lack. */
static void config_under(json_t *top, json_t *conf, const json_t *from) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)from, k, v) {
    if (!strcmp(k, "configurable")) {
      const char *ck;
      json_t *cv;
      json_object_foreach(v, ck, cv) {
        if (!identity_key(ck) && !json_object_get(conf, ck))
          json_object_set_new(conf, ck, json_deep_copy(cv));
      }
    } else if (!json_object_get(top, k)) {
      json_object_set_new(top, k, json_deep_copy(v));
    }
  }
}

void api_run_merge_config(json_t *kw, const json_t *assistant,
                          const json_t *thread_config) {
  json_t *cfg = object_at(kw, "config");
  json_t *conf = json_object(), *under = json_object();
  /* The thread's top-level keys win over the assistant's, the body's over
   * both; configurable alike, key by key. */
  config_under(under, conf, thread_config);
  config_under(under, conf, json_object_get(assistant, "config"));
  json_object_update_missing(cfg, under);
  json_decref(under);
  json_object_update(conf, object_at(cfg, "configurable"));
  json_object_set_new(cfg, "configurable", conf);
  json_t *ctx = json_deep_copy(json_object_get(assistant, "context"));
  if (!json_is_object(ctx)) {
    json_decref(ctx);
    ctx = json_object();
  }
  json_t *body_ctx = json_object_get(kw, "context");
  if (json_is_object(body_ctx))
    json_object_update(ctx, body_ctx);
  json_object_set_new(kw, "context", ctx);
}

json_t *api_run_thread_config(const json_t *kw) {
  json_t *cfg = json_deep_copy(json_object_get(kw, "config"));
  if (!json_is_object(cfg)) {
    json_decref(cfg);
    cfg = json_object();
  }
  json_t *conf = object_at(cfg, "configurable");
  const char *k;
  json_t *v, *tmp;
  json_object_foreach_safe(conf, tmp, k, v) {
    if (identity_key(k))
      json_object_del(conf, k);
  }
  json_object_del(cfg, "metadata");
  return cfg;
}

json_t *api_run_merge_metadata(const json_t *assistant,
                               const json_t *thread_metadata,
                               const json_t *kw) {
  json_t *md = json_object();
  const json_t *parts[] = {json_object_get(assistant, "metadata"),
                           thread_metadata, json_object_get(kw, "metadata")};
  for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
    if (json_is_object(parts[i]))
      json_object_update(md, (json_t *)parts[i]);
  return md;
}

void api_run_stamp_kwargs(struct api_run *r) {
  json_t *cfg = object_at(r->kwargs, "config");
  json_t *conf = object_at(cfg, "configurable");
  json_object_set_new(conf, "run_id", json_string(r->id));
  json_object_set_new(conf, "thread_id", json_string(r->thread_id));
  json_object_set_new(conf, "graph_id", json_string(r->graph_id));
  json_object_set_new(conf, "assistant_id", json_string(r->assistant_id));
  /* A copy: the run adds its model usage to its own metadata later. */
  json_object_set_new(cfg, "metadata", json_deep_copy(r->metadata));
  json_t *kw = r->kwargs;
  json_object_set_new(
      kw, "temporary",
      json_boolean(json_is_true(json_object_get(kw, "temporary"))));
  json_object_set_new(
      kw, "subgraphs",
      json_boolean(json_is_true(json_object_get(kw, "stream_subgraphs"))));
  json_object_set_new(
      kw, "resumable",
      json_boolean(json_is_true(json_object_get(kw, "stream_resumable"))));
}

/* Whether configurable key `k` with value `v` goes into checkpoint
 * metadata, as LangGraph copies them: scalars only, none of its own
 * (dunder, checkpoint_*) and no identity. */
static bool metadata_worthy(const char *k, const json_t *v) {
  return (json_is_string(v) || json_is_number(v) || json_is_boolean(v)) &&
         strncmp(k, "__", 2) && strncmp(k, "checkpoint_", 11) &&
         !identity_key(k);
}

/* As LangGraph does, checkpoints carry the run's configurable scalars, its
 * merged metadata (assistant, thread, run) and its ids, so history can be
 * filtered by any of them. */
json_t *api_run_checkpoint_metadata(const struct api_run *r) {
  json_t *meta = json_object();
  const json_t *conf =
      json_object_get(json_object_get(r->kwargs, "config"), "configurable");
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)conf, k, v) {
    if (metadata_worthy(k, v))
      json_object_set(meta, k, v);
  }
  if (json_is_object(r->metadata))
    json_object_update(meta, r->metadata);
  json_object_set_new(meta, "run_id", json_string(r->id));
  json_object_set_new(meta, "assistant_id", json_string(r->assistant_id));
  json_object_set_new(meta, "graph_id", json_string(r->graph_id));
  json_object_set_new(meta, "thread_id", json_string(r->thread_id));
  return meta;
}

/* The checkpoint the body names (top-level checkpoint_id first, then
 * checkpoint.checkpoint_id), or NULL for the thread's latest. A run
 * recovered after a restart continues where its thread stopped: its input
 * or command was applied before. */
const char *api_run_start_checkpoint_id(const struct api_run *r) {
  const json_t *kw = r->kwargs;
  const json_t *cp =
      json_object_get(json_object_get(kw, "checkpoint"), "checkpoint_id");
  const char *checkpoint_id =
      json_string_value(json_object_get(kw, "checkpoint_id"));
  return r->recovered    ? NULL
         : checkpoint_id ? checkpoint_id
                         : json_string_value(cp);
}

/* Whether a run on a new thread reads checkpoints back (replay, command)
 * or has no input: else it keeps none. */
bool api_run_needs_store(const json_t *kw) {
  const json_t *input = json_object_get(kw, "input");
  const json_t *cmd = json_object_get(kw, "command");
  return !input || json_is_null(input) || (cmd && !json_is_null(cmd)) ||
         json_object_get(kw, "checkpoint_id") ||
         json_object_get(kw, "checkpoint");
}
