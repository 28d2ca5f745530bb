/*
 * task — what node kinds see of a task, and how they finish it.
 *
 * Finishing records the outcome, stores the task's writes as pending
 * writes of the current checkpoint at once (so a crash later in the step
 * does not run this task again), and tells subscribers. If the run was
 * parked waiting for this task and it was the last one, the step goes on
 * inside this call.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/utf8.h"
#include "engine/internal.h"

const struct loom_node *loom_task_node(const struct loom_task *t) {
  return t->node;
}
const char *loom_task_id(const struct loom_task *t) { return t->id; }
const json_t *loom_task_state(const struct loom_task *t) { return t->view; }
const json_t *loom_task_item(const struct loom_task *t) { return t->item; }
size_t loom_task_resume_count(const struct loom_task *t) {
  return json_array_size(t->resume);
}
const json_t *loom_task_resume(const struct loom_task *t, size_t i) {
  return json_array_get(t->resume, i);
}
struct loom_lua *loom_task_lua(struct loom_task *t) {
  return loom_engine_lua(t->run);
}
struct loom_run *loom_task_run(struct loom_task *t) {
  return t->run;
}
void *loom_task_user(const struct loom_task *t) { return t->run->user; }
bool loom_task_wants_tokens(const struct loom_task *t) {
  return !t->run->no_token_events;
}
void loom_task_set_state(struct loom_task *t, void *state) {
  t->kind_state = state;
}
void *loom_task_get_state(const struct loom_task *t) { return t->kind_state; }

void loom_task_emit(struct loom_task *t, const json_t *value) {
  loom_engine_emit(t->run, LOOM_EVENT_CUSTOM, value ? value : json_null());
}

static void result_event(struct loom_task *t, const char *key, json_t *val) {
  if (!t->run->nsubs || t->run->no_task_events)
    return;
  json_t *ev = json_pack("{sssssO}", "id", t->id, "name", t->node->name, key,
                         val ? val : json_null());
  loom_engine_emit(t->run, LOOM_EVENT_TASK_RESULT, ev);
  json_decref(ev);
}

static void store_writes(struct loom_task *t);

void loom_task_done(struct loom_task *t, json_t *writes) {
  if (t->state != TASK_RUNNING) {
    json_decref(writes);
    return;
  }
  t->writes = writes ? writes : json_object();
  t->state = TASK_DONE;
  if (t->run->store)
    store_writes(t);
  result_event(t, "result", t->writes);
  loom_engine_task_finished(t);
}

static void store_writes(struct loom_task *t) {
  json_t *list = json_array();
  const char *k;
  json_t *v;
  json_object_foreach(t->writes, k, v) {
    json_array_append_new(list, json_pack("{sssO}", "channel", k, "value", v));
  }
  if (!json_array_size(list))
    json_array_append_new(list,
                          json_pack("{sssn}", "channel", W_DONE, "value"));
  struct loom_error e = {0};
  if (loom_engine_put_writes(t->run, t->id, list, &e)) {
    t->state = TASK_FAILED;
    t->err = e;
  }
  json_decref(list);
}

void loom_task_fail(struct loom_task *t, loom_err code, const char *fmt, ...) {
  if (t->state != TASK_RUNNING)
    return;
  t->state = TASK_FAILED;
  t->err.code = code ? code : LOOM_ERR_INTERNAL;
  va_list ap;
  va_start(ap, fmt);
  /* It quotes a model server's or a script's words: the cap may cut a
   * character, and the error event and result must be JSON. */
  loom_utf8_vformat(t->err.message, sizeof(t->err.message), fmt, ap);
  va_end(ap);
  json_t *err = json_pack("{ssss}", "code", loom_err_code(t->err.code),
                          "message", t->err.message);
  result_event(t, "error", err);
  json_decref(err);
  loom_engine_task_finished(t);
}

void loom_task_interrupt(struct loom_task *t, json_t *value) {
  if (t->state != TASK_RUNNING) {
    json_decref(value);
    return;
  }
  size_t n = json_array_size(t->resume);
  char id[33];
  loom_engine_interrupt_id(t->run->checkpoint_id, t->id, n, id);
  t->interrupt =
      json_pack("{sssOssss}", "id", id, "value", value ? value : json_null(),
                "node", t->node->name, "task_id", t->id);
  json_decref(value);
  t->state = TASK_INTERRUPTED;
  char *tid = loom_asprintf("%s#interrupt:%zu", t->id, n);
  json_t *list =
      json_pack("[{sssO}]", "channel", W_INTERRUPT, "value", t->interrupt);
  struct loom_error e = {0};
  if (loom_engine_put_writes(t->run, tid, list, &e)) {
    t->state = TASK_FAILED;
    t->err = e;
  }
  json_decref(list);
  loom_free(tid);
  json_t *arr = json_pack("[O]", t->interrupt);
  result_event(t, "interrupts", arr);
  json_decref(arr);
  loom_engine_task_finished(t);
}
