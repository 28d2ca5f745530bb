/*
 * load — where a run begins: a thread's checkpoint (latest or named),
 * then new input, or a Command (resume / update / goto) on top of it.
 *
 * Resume values, Command updates and new input are stored as pending
 * writes of the checkpoint before any task runs, under task ids read back
 * later ("<task>#resume:<n>", "__command__#<id>", "__start__:0"), so a
 * crash right after resuming or starting loses nothing. Input goes in as
 * LangGraph's does: an "input" checkpoint of the state before it (next:
 * __start__), then the start step applies it and writes a "loop"
 * checkpoint whose next tasks are the graph's first nodes.
 */
#include <string.h>

#include "core/alloc.h"
#include "engine/internal.h"

static loom_err add_write(struct loom_run *r, const char *task_id, json_t *list,
                          struct loom_error *e);

static void restore(struct loom_run *r, const struct loom_checkpoint *cp) {
  const char *k;
  json_t *v;
  json_object_foreach(cp->values, k, v) { json_object_set(r->values, k, v); }
  json_t *versions = json_object_get(cp->checkpoint, "channel_versions");
  json_object_update(r->versions, versions);
  json_object_update(r->saved_versions, versions);
  json_t *next = json_object_get(cp->checkpoint, "next");
  if (json_is_array(next))
    json_array_extend(r->next, next);
  r->step = (int)json_integer_value(json_object_get(cp->metadata, "step"));
  snprintf(r->checkpoint_id, sizeof(r->checkpoint_id), "%s", cp->id);
  snprintf(r->persisted_id, sizeof(r->persisted_id), "%s", cp->id);
  if (cp->pending_writes)
    json_array_extend(r->pending, cp->pending_writes);
}

/* Where new input starts, as in LangGraph: an "input" checkpoint of the
 * state before it, whose one task is __start__ and whose pending writes
 * (task __start__:0) are the input; the start step (below) applies them.
 * The input is checked for being an object only: a write it cannot make
 * fails the start step, as a node's would fail its step. */
static loom_err start_input(struct loom_run *r, bool had_checkpoint,
                            struct loom_error *e) {
  if (!json_is_object(r->input))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "input must be an object of channel values");
  r->step = had_checkpoint ? r->step + 1 : -1;
  json_array_clear(r->next);
  json_array_append_new(r->next, json_pack("{ss}", "node", LOOM_START_TASK));
  json_t *w = json_pack("{sO}", LOOM_START_TASK, r->input);
  loom_err rc = loom_engine_save(r, "input", loom_engine_written(w), e);
  json_decref(w);
  if (rc)
    return rc;
  json_t *list = json_array();
  const char *k;
  json_t *v;
  json_object_foreach(r->input, k, v) {
    json_array_append_new(list, json_pack("{sssO}", "channel", k, "value", v));
  }
  return add_write(r, LOOM_START_TASK ":0", list, e);
}

bool loom_engine_at_start(const struct loom_run *r) {
  const char *n =
      json_string_value(json_object_get(json_array_get(r->next, 0), "node"));
  return json_array_size(r->next) == 1 && n && !strcmp(n, LOOM_START_TASK);
}

loom_err loom_engine_start_step(struct loom_run *r, struct loom_error *e) {
  json_t *input = json_object();
  size_t i;
  json_t *w;
  json_array_foreach(r->pending, i, w) {
    const char *tid = json_string_value(json_object_get(w, "task_id"));
    const char *ch = json_string_value(json_object_get(w, "channel"));
    if (tid && ch && !strcmp(tid, LOOM_START_TASK ":0"))
      json_object_set(input, ch, json_object_get(w, "value"));
  }
  loom_err rc = loom_engine_apply_writes(r, "input", input, NULL, e);
  json_array_clear(r->next);
  if (!rc)
    rc = loom_engine_successors(r, LOOM_GRAPH_START, r->values, r->next, e);
  if (!rc) {
    r->step++;
    r->skip_before = false; /* a step was taken: the next one may stop */
    json_t *writes = json_pack("{sO}", LOOM_START_TASK, input);
    rc = loom_engine_save(r, "loop", loom_engine_written(writes), e);
    json_decref(writes);
  }
  json_decref(input);
  return rc;
}

/* Interrupts raised at this checkpoint that no resume value answers. */
static json_t *open_interrupts(const json_t *pending) {
  json_t *open = json_array();
  size_t i;
  json_t *w;
  json_array_foreach(pending, i, w) {
    const char *tid = json_string_value(json_object_get(w, "task_id"));
    const char *ch = json_string_value(json_object_get(w, "channel"));
    if (!tid || !ch || strcmp(ch, W_INTERRUPT))
      continue;
    const char *hash = strstr(tid, "#interrupt:");
    if (!hash)
      continue;
    char *answer =
        loom_asprintf("%.*s#resume:%s", (int)(hash - tid), tid, hash + 11);
    bool answered = false;
    size_t j;
    json_t *x;
    json_array_foreach(pending, j, x) {
      answered |= !strcmp(
          json_string_value(json_object_get(x, "task_id")) ?: "", answer);
    }
    if (!answered)
      json_array_append_new(open, json_pack("{sOss}", "interrupt",
                                            json_object_get(w, "value"),
                                            "answer", answer));
    loom_free(answer);
  }
  return open;
}

static loom_err add_write(struct loom_run *r, const char *task_id, json_t *list,
                          struct loom_error *e) {
  loom_err rc = loom_engine_put_writes(r, task_id, list, e);
  size_t i;
  json_t *w;
  json_array_foreach(list, i, w) {
    json_array_append_new(r->pending,
                          json_pack("{sssOsO}", "task_id", task_id, "channel",
                                    json_object_get(w, "channel"), "value",
                                    json_object_get(w, "value")));
  }
  json_decref(list);
  return rc;
}

static loom_err resume_one(struct loom_run *r, const json_t *open_item,
                           const json_t *value, struct loom_error *e) {
  const char *answer = json_string_value(json_object_get(open_item, "answer"));
  return add_write(
      r, answer, json_pack("[{sssO}]", "channel", W_RESUME, "value", value), e);
}

static bool is_id_map(const json_t *resume, const json_t *open) {
  if (!json_is_object(resume) || !json_object_size(resume))
    return false;
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)resume, k, v) {
    bool found = false;
    size_t i;
    json_t *o;
    json_array_foreach(open, i, o) {
      /* Stored rows are read, not trusted: an interrupt without an id
       * (a damaged row) matches no key rather than crashing strcmp. */
      const char *id = json_string_value(
          json_object_get(json_object_get(o, "interrupt"), "id"));
      found |= id && !strcmp(id, k);
    }
    if (!found)
      return false;
  }
  return true;
}

static loom_err apply_resume(struct loom_run *r, const json_t *resume,
                             struct loom_error *e) {
  json_t *open = open_interrupts(r->pending);
  size_t n = json_array_size(open), i;
  json_t *o;
  loom_err rc = LOOM_OK;
  if (!n) {
    rc = loom_error_set(e, LOOM_ERR_CONFLICT,
                        "thread %s is not waiting on an interrupt, so "
                        "there is nothing to resume; start a new run on it "
                        "with input instead",
                        r->thread_id);
  } else if (is_id_map(resume, open)) {
    json_array_foreach(open, i, o) {
      const char *id = json_string_value(
          json_object_get(json_object_get(o, "interrupt"), "id"));
      const json_t *v = json_object_get(resume, id);
      if (v && !rc)
        rc = resume_one(r, o, v, e);
    }
  } else if (n == 1) {
    rc = resume_one(r, json_array_get(open, 0), resume, e);
  } else {
    rc = loom_error_set(e, LOOM_ERR_INVALID,
                        "%zu interrupts are pending; resume with an object "
                        "{interrupt_id: value}",
                        n);
  }
  json_decref(open);
  return rc;
}

static loom_err apply_command(struct loom_run *r, struct loom_error *e) {
  const json_t *resume = json_object_get(r->command, "resume");
  const json_t *update = json_object_get(r->command, "update");
  const json_t *go = json_object_get(r->command, "goto");
  if (!json_is_object(r->command))
    return loom_error_set(e, LOOM_ERR_INVALID, "command must be an object");
  loom_err rc = resume ? apply_resume(r, resume, e) : LOOM_OK;
  if (rc || (!update && !go))
    return rc;
  if (update && !json_is_object(update))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "command.update must be an object");
  json_t *list = json_array();
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)update, k, v) {
    json_array_append_new(list, json_pack("{sssO}", "channel", k, "value", v));
  }
  if (go) {
    json_t *targets =
        json_is_array(go) ? json_incref((json_t *)go) : json_pack("[O]", go);
    for (size_t i = 0; i < json_array_size(targets); i++) {
      const char *n = json_string_value(json_array_get(targets, i));
      if (!n || !loom_graph_node(r->g, n)) {
        json_decref(targets), json_decref(list);
        return loom_error_set(e, LOOM_ERR_INVALID,
                              "command.goto: unknown node '%s'", n ? n : "?");
      }
    }
    json_array_append_new(
        list, json_pack("{ssso}", "channel", "__goto__", "value", targets));
  }
  char id[LOOM_ID_LEN + 1];
  char *tid = loom_asprintf("__command__#%s", loom_id_new(id));
  rc = add_write(r, tid, list, e);
  loom_free(tid);
  return rc;
}

loom_err loom_engine_load(struct loom_run *r, struct loom_error *e) {
  r->values = loom_engine_initial_values(r->g);
  r->versions = json_object();
  r->saved_versions = json_object();
  r->next = json_array();
  r->pending = json_array();
  r->step = -1;
  if (!r->store)
    return start_input(r, false, e);
  struct loom_checkpoint *cp = NULL;
  struct loom_error ge = {0};
  loom_err rc = r->store->ops->get_checkpoint(
      r->store, r->tenant, r->thread_id, r->ns, r->from_checkpoint, &cp, &ge);
  if (rc && (rc != LOOM_ERR_NOT_FOUND || r->from_checkpoint))
    return loom_error_set(e, rc, "loading thread %s: %s", r->thread_id,
                          ge.message);
  if (cp)
    restore(r, cp);
  loom_checkpoint_free(cp);
  if (r->input)
    return start_input(r, cp != NULL, e);
  if (!cp)
    return loom_error_set(e, LOOM_ERR_NOT_FOUND,
                          "thread %s has no checkpoint to continue; start it "
                          "with input",
                          r->thread_id);
  r->skip_before = true;
  return r->command ? apply_command(r, e) : LOOM_OK;
}
