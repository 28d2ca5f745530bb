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

/* As LangGraph does, checkpoints carry the run's metadata and ids, so
 * history can be filtered by run. */
json_t *api_run_checkpoint_metadata(const struct api_run *r) {
  json_t *meta = json_deep_copy(r->metadata ? r->metadata : json_null());
  if (!json_is_object(meta)) {
    json_decref(meta);
    meta = json_object();
  }
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
