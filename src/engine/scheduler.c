/*
 * scheduler — the super-step loop (LangGraph's Pregel model).
 *
 * A step: take the tasks the last checkpoint names as next (stop first if
 * one is listed in interrupt_before), reuse the writes of tasks that
 * finished before a crash, start the others, and wait until every task has
 * finished. Then: a failed task fails the run; an interrupted task stops
 * it (the finished tasks' writes stay stored); otherwise all writes go
 * through the reducers in task order, the next tasks are worked out from
 * the edges, a checkpoint is saved, and events go out.
 *
 * States of a run (engine.h): PENDING -> RUNNING <-> WAITING -> one of
 * INTERRUPTED, SUCCESS, ERROR, CANCELLED.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/internal.h"
#include "engine/lua_sandbox.h"

void loom_engine_emit(struct loom_run *r, enum loom_event_type type,
                      const json_t *data) {
  struct loom_event ev = {
      .type = type, .step = r->step, .ns = r->ns, .data = data};
  for (size_t i = 0; i < r->nsubs; i++)
    r->subs[i].cb(&ev, r->subs[i].arg);
}

static void free_tasks(struct loom_run *r) {
  for (size_t i = 0; i < r->ntasks; i++) {
    struct loom_task *t = &r->tasks[i];
    json_decref(t->item), json_decref(t->view), json_decref(t->resume);
    json_decref(t->writes), json_decref(t->interrupt);
  }
  loom_free(r->tasks);
  r->tasks = NULL;
  r->ntasks = r->nfinished = 0;
}

static void stop(struct loom_run *r, enum loom_run_status status) {
  r->status = status;
  struct loom_error fe = {0};
  if (loom_engine_flush(r, &fe) && status != LOOM_RUN_ERROR) {
    r->status = LOOM_RUN_ERROR;
    r->error = fe;
  }
  loom_engine_mailbox_close(r);
  if (r->status == LOOM_RUN_ERROR) {
    json_t *err = json_pack("{ssss}", "code", loom_err_code(r->error.code),
                            "message", r->error.message);
    loom_engine_emit(r, LOOM_EVENT_ERROR, err);
    json_decref(err);
  }
  json_t *end = json_pack("{sssO}", "status", loom_run_status_name(r->status),
                          "values", r->values);
  loom_engine_emit(r, LOOM_EVENT_END, end);
  json_decref(end);
  if (r->done_cb)
    r->done_cb(r, r->done_arg);
}

static void fail(struct loom_run *r, const struct loom_error *e) {
  r->error = *e;
  free_tasks(r);
  stop(r, LOOM_RUN_ERROR);
}

static bool listed(const json_t *names, const char *node) {
  size_t i;
  json_t *v;
  json_array_foreach(names, i, v) {
    const char *s = json_string_value(v);
    if (!strcmp(s, "*") || !strcmp(s, node))
      return true;
  }
  return false;
}

static bool has_command(const struct loom_run *r) {
  size_t i;
  json_t *w;
  json_array_foreach(r->pending, i, w) {
    const char *tid = json_string_value(json_object_get(w, "task_id"));
    if (tid && !strncmp(tid, "__command__", 11))
      return true;
  }
  return false;
}

static int task_cmp(const void *a, const void *b) {
  const struct loom_task *x = a, *y = b;
  int c = strcmp(x->node->name, y->node->name);
  return c ? c : strcmp(x->id, y->id);
}

/* Writes that finished before a crash, and resume values, by task id. */
static void attach_pending(struct loom_run *r, struct loom_task *t) {
  size_t idlen = strlen(t->id), i;
  json_t *w;
  json_array_foreach(r->pending, i, w) {
    const char *tid = json_string_value(json_object_get(w, "task_id"));
    const char *ch = json_string_value(json_object_get(w, "channel"));
    json_t *val = json_object_get(w, "value");
    if (!tid || !ch || strncmp(tid, t->id, idlen))
      continue;
    if (!tid[idlen]) {
      if (!t->writes)
        t->writes = json_object();
      if (strcmp(ch, W_DONE))
        json_object_set(t->writes, ch, val);
    } else if (!strncmp(tid + idlen, "#resume:", 8)) {
      size_t k = strtoul(tid + idlen + 8, NULL, 10);
      while (json_array_size(t->resume) <= k)
        json_array_append_new(t->resume, json_null());
      json_array_set(t->resume, k, val);
    }
  }
  if (t->writes) {
    t->cached = true;
    t->state = TASK_DONE;
  }
}

/* Goto targets and update writes a Command left at this checkpoint. */
static void command_gotos(struct loom_run *r) {
  size_t i;
  json_t *w;
  json_array_foreach(r->pending, i, w) {
    const char *tid = json_string_value(json_object_get(w, "task_id"));
    const char *ch = json_string_value(json_object_get(w, "channel"));
    if (!tid || !ch || strncmp(tid, "__command__", 11) ||
        strcmp(ch, "__goto__"))
      continue;
    size_t j;
    json_t *node;
    json_array_foreach(json_object_get(w, "value"), j, node) {
      json_array_append_new(r->next, json_pack("{sO}", "node", node));
    }
    json_object_set_new(w, "channel", json_string("__goto_done__"));
  }
}

static loom_err make_tasks(struct loom_run *r, struct loom_error *e) {
  command_gotos(r);
  size_t n = json_array_size(r->next);
  r->tasks = loom_calloc(n, sizeof(*r->tasks));
  for (size_t i = 0; i < n; i++) {
    const json_t *spec = json_array_get(r->next, i);
    const char *name = json_string_value(json_object_get(spec, "node"));
    const struct loom_node *node = name ? loom_graph_node(r->g, name) : NULL;
    if (!node)
      return loom_error_set(e, LOOM_ERR_INVALID,
                            "checkpoint names node '%s', which the graph "
                            "does not have",
                            name ? name : "?");
    struct loom_task *t = &r->tasks[r->ntasks++];
    size_t same = 0;
    for (size_t j = 0; j + 1 < r->ntasks; j++)
      same += r->tasks[j].node == node;
    *t = (struct loom_task){.run = r, .node = node, .resume = json_array()};
    snprintf(t->id, sizeof(t->id), "%s:%zu", name, same);
    t->item = json_incref(json_object_get(spec, "item"));
    if (t->item) {
      t->view = json_copy(r->values);
      json_object_set(t->view,
                      json_string_value(json_object_get(spec, "as")) ?: "item",
                      t->item);
    } else {
      t->view = json_incref(r->values);
    }
  }
  qsort(r->tasks, r->ntasks, sizeof(*r->tasks), task_cmp);
  for (size_t i = 0; i < r->ntasks; i++)
    attach_pending(r, &r->tasks[i]);
  return LOOM_OK;
}

static void tasks_event(struct loom_run *r) {
  if (!r->nsubs || r->no_task_events)
    return;
  json_t *list = json_array();
  for (size_t i = 0; i < r->ntasks; i++) {
    struct loom_task *t = &r->tasks[i];
    json_array_append_new(list, json_pack("{sssssbsO}", "id", t->id, "name",
                                          t->node->name, "cached", t->cached,
                                          "input", t->view));
  }
  loom_engine_emit(r, LOOM_EVENT_TASKS, list);
  json_decref(list);
}

/* Update writes of a Command, applied before the step's tasks read the
 * state (again on every attempt of the step: values restart from the
 * checkpoint each time). */
static loom_err apply_command(struct loom_run *r, struct loom_error *e) {
  size_t i;
  json_t *w;
  json_array_foreach(r->pending, i, w) {
    const char *tid = json_string_value(json_object_get(w, "task_id"));
    const char *ch = json_string_value(json_object_get(w, "channel"));
    if (!tid || !ch || strncmp(tid, "__command__", 11) || !strncmp(ch, "__", 2))
      continue;
    json_t *one = json_pack("{sO}", ch, json_object_get(w, "value"));
    loom_err rc = loom_engine_apply_writes(r, "command", one, NULL, e);
    json_decref(one);
    if (rc)
      return rc;
  }
  return LOOM_OK;
}

/* Returns false when the run stopped instead of starting a step. */
static bool begin_step(struct loom_run *r) {
  struct loom_error e = {0};
  if (!json_array_size(r->next) && !has_command(r)) {
    stop(r, LOOM_RUN_SUCCESS);
    return false;
  }
  if (r->steps_run >= r->recursion_limit) {
    loom_error_set(&e, LOOM_ERR_LIMIT,
                   "recursion limit of %d steps reached without reaching "
                   "END; raise recursion_limit for this run if the graph "
                   "needs more steps",
                   r->recursion_limit);
    fail(r, &e);
    return false;
  }
  for (size_t i = 0; !r->skip_before && i < json_array_size(r->next); i++) {
    const char *n =
        json_string_value(json_object_get(json_array_get(r->next, i), "node"));
    if (listed(r->before, n)) {
      json_array_clear(r->interrupts);
      loom_engine_emit(r, LOOM_EVENT_INTERRUPT, r->interrupts);
      stop(r, LOOM_RUN_INTERRUPTED);
      return false;
    }
  }
  r->skip_before = false;
  if (apply_command(r, &e) || make_tasks(r, &e)) {
    fail(r, &e);
    return false;
  }
  tasks_event(r);
  r->dispatching = true;
  for (size_t i = 0; i < r->ntasks && !r->cancelled; i++) {
    struct loom_task *t = &r->tasks[i];
    if (t->state == TASK_DONE) {
      r->nfinished++;
      continue;
    }
    t->state = TASK_RUNNING;
    t->node->kind->start(t);
  }
  r->dispatching = false;
  return true;
}

/* Node -> writes (a list of them for fan-out nodes). */
static void add_update(json_t *updates, const char *node, json_t *writes) {
  json_t *prev = json_object_get(updates, node);
  if (!prev) {
    json_object_set(updates, node, writes);
  } else if (json_is_array(prev)) {
    json_array_append(prev, writes);
  } else {
    json_object_set_new(updates, node, json_pack("[OO]", prev, writes));
  }
}

static loom_err apply_step(struct loom_run *r, json_t *updates,
                           struct loom_error *e) {
  json_t *seen = json_object();
  loom_err rc = LOOM_OK;
  for (size_t i = 0; !rc && i < r->ntasks; i++) {
    struct loom_task *t = &r->tasks[i];
    rc = loom_engine_apply_writes(r, t->node->name, t->writes, seen, e);
    add_update(updates, t->node->name, t->writes);
  }
  json_decref(seen);
  json_t *next = json_array();
  for (size_t i = 0; !rc && i < r->ntasks; i++)
    rc = loom_engine_successors(r, r->tasks[i].node->name, r->values, next, e);
  json_decref(r->next);
  r->next = next;
  return rc;
}

/* Fails the run with `t`'s error, named after its node once: kinds that
 * name the node in their own message (llm, agent, retrieve) are not
 * prefixed again ("node 'a': node 'a': ..."). */
static void fail_task(struct loom_run *r, const struct loom_task *t) {
  struct loom_error e = {0};
  char prefix[sizeof e.message];
  snprintf(prefix, sizeof prefix, "node '%s': ", t->node->name);
  if (strncmp(t->err.message, prefix, strlen(prefix)) == 0)
    loom_error_set(&e, t->err.code, "%s", t->err.message);
  else
    loom_error_set(&e, t->err.code, "%s%s", prefix, t->err.message);
  fail(r, &e);
}

/* Every task finished: fail, interrupt, or apply and checkpoint. */
static void end_step(struct loom_run *r) {
  struct loom_error e = {0};
  if (r->cancelled) {
    free_tasks(r);
    stop(r, LOOM_RUN_CANCELLED);
    return;
  }
  json_t *interrupts = json_array();
  for (size_t i = 0; i < r->ntasks; i++) {
    struct loom_task *t = &r->tasks[i];
    if (t->state == TASK_FAILED) {
      json_decref(interrupts);
      fail_task(r, t);
      return;
    }
    if (t->state == TASK_INTERRUPTED)
      json_array_append(interrupts, t->interrupt);
  }
  if (json_array_size(interrupts) || r->cancelled) {
    json_decref(r->interrupts);
    r->interrupts = interrupts;
    free_tasks(r);
    if (!r->cancelled)
      loom_engine_emit(r, LOOM_EVENT_INTERRUPT, r->interrupts);
    stop(r, r->cancelled ? LOOM_RUN_CANCELLED : LOOM_RUN_INTERRUPTED);
    return;
  }
  json_decref(interrupts);
  json_t *updates = json_object();
  bool after = false;
  for (size_t i = 0; i < r->ntasks; i++)
    after |= listed(r->after, r->tasks[i].node->name);
  if (apply_step(r, updates, &e) ||
      (r->step++, r->steps_run++,
       loom_engine_save(r, "loop", loom_engine_written(updates), &e))) {
    json_decref(updates);
    fail(r, &e);
    return;
  }
  free_tasks(r);
  if (r->nsubs)
    loom_engine_emit(r, LOOM_EVENT_UPDATES, updates);
  loom_engine_emit(r, LOOM_EVENT_VALUES, r->values);
  json_decref(updates);
  if (after && json_array_size(r->next)) {
    json_array_clear(r->interrupts);
    loom_engine_emit(r, LOOM_EVENT_INTERRUPT, r->interrupts);
    stop(r, LOOM_RUN_INTERRUPTED);
  }
}

static void continue_cb(void *arg) {
  struct loom_run *r = arg;
  r->status = LOOM_RUN_RUNNING;
  loom_engine_drive(r);
}

/* Between two steps of a top run that has taken one here and has another
 * to take: the owner may want its thread back (yield_cb); the run parks
 * and the rest goes on where the owner resumes it. */
static bool yield(struct loom_run *r, int steps_here) {
  bool more = json_array_size(r->next) || has_command(r);
  if (r->root != r || !r->yield_cb || steps_here == r->steps_run || !more ||
      !r->yield_cb(r, r->wake_arg))
    return false;
  r->status = LOOM_RUN_WAITING;
  loom_engine_mailbox_hand_over(r, continue_cb, r);
  return true;
}

void loom_engine_drive(struct loom_run *r) {
  int steps_before = r->steps_run;
  while (r->status == LOOM_RUN_RUNNING) {
    if (!r->tasks) {
      if (yield(r, steps_before))
        return;
      if (!begin_step(r))
        return;
      /* Cancelled while starting tasks: the ones started were cancelled
       * and will not finish; end_step stops the run. */
      if (r->nfinished < r->ntasks && !r->cancelled) {
        r->status = LOOM_RUN_WAITING;
        return;
      }
    }
    end_step(r);
  }
}

void loom_engine_task_finished(struct loom_task *t) {
  struct loom_run *r = t->run;
  r->nfinished++;
  if (!r->dispatching && r->nfinished == r->ntasks &&
      r->status == LOOM_RUN_WAITING) {
    r->status = LOOM_RUN_RUNNING;
    end_step(r);
    loom_engine_drive(r);
  }
}
