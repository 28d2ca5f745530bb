/*
 * lifecycle — creating, starting, observing and freeing runs.
 */
#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/internal.h"
#include "engine/lua_sandbox.h"

static char *dup_or(const char *s, const char *fallback) {
  return loom_strdup(s ? s : fallback);
}

static json_t *names(char *const *graph_list, size_t ng,
                     const char *const *run_list, size_t nr) {
  json_t *a = json_array();
  for (size_t i = 0; i < ng; i++)
    json_array_append_new(a, json_string(graph_list[i]));
  for (size_t i = 0; i < nr; i++)
    if (run_list[i])
      json_array_append_new(a, json_string(run_list[i]));
  return a;
}

/* One idle sandbox per thread, kept for the next run of the same graph:
 * making a Lua state and compiling the graph's chunks costs more than a
 * whole step. A thread that ends frees its own (idle_key's destructor). */
static __thread struct {
  unsigned long serial;
  struct loom_lua *lua;
} idle;
static pthread_key_t idle_key;
static pthread_once_t idle_key_once = PTHREAD_ONCE_INIT;

static void idle_free_cb(void *lua) { loom_lua_free(lua); }
static void idle_key_make(void) {
  (void)pthread_key_create(&idle_key, idle_free_cb);
}

/* Keeps `lua` (or nothing) as this thread's idle sandbox. */
static void idle_set(struct loom_lua *lua, unsigned long serial) {
  pthread_once(&idle_key_once, idle_key_make);
  idle.lua = lua;
  idle.serial = serial;
  (void)pthread_setspecific(idle_key, lua);
}

struct loom_lua *loom_engine_lua(struct loom_run *r) {
  if (r->lua)
    return r->lua;
  if (idle.lua && idle.serial == r->g->serial &&
      loom_lua_reusable(idle.lua, r->lua_memory, r->lua_instructions)) {
    r->lua = idle.lua;
    idle_set(NULL, 0);
    return r->lua;
  }
  r->lua = loom_lua_new(r->lua_memory, r->lua_instructions);
  return r->lua;
}

static void release_lua(struct loom_run *r) {
  if (!r->lua)
    return;
  if (!loom_lua_reusable(r->lua, r->lua_memory, r->lua_instructions)) {
    loom_lua_free(r->lua);
    return;
  }
  loom_lua_free(idle.lua);
  idle_set(r->lua, r->g->serial);
}

loom_err loom_run_new(const struct loom_graph *g,
                      const struct loom_run_opts *opts, struct loom_run **out,
                      struct loom_error *e) {
  if (!opts->store && (opts->command || opts->checkpoint_id))
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "resuming or replaying a thread needs a store");
  if (!opts->store && !opts->input)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "a run without a store needs input");
  if (opts->recursion_limit < 0)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "recursion_limit must be positive");
  struct loom_run *r = LOOM_NEW(struct loom_run);
  r->g = g;
  r->store = opts->store;
  r->tenant = dup_or(opts->tenant, "default");
  char id[LOOM_ID_LEN + 1];
  r->thread_id = dup_or(opts->thread_id, loom_id_new(id));
  r->ns = dup_or(opts->ns, "");
  r->from_checkpoint =
      opts->checkpoint_id ? loom_strdup(opts->checkpoint_id) : NULL;
  r->input = opts->input ? json_deep_copy(opts->input) : NULL;
  r->command = opts->command ? json_deep_copy(opts->command) : NULL;
  r->metadata = opts->metadata ? json_deep_copy(opts->metadata) : NULL;
  r->recursion_limit = opts->recursion_limit
                           ? opts->recursion_limit
                           : LOOM_ENGINE_DEFAULT_RECURSION_LIMIT;
  r->durability = opts->durability;
  r->before = names(g->interrupt_before, g->ninterrupt_before,
                    opts->interrupt_before, opts->ninterrupt_before);
  r->after = names(g->interrupt_after, g->ninterrupt_after,
                   opts->interrupt_after, opts->ninterrupt_after);
  r->user = opts->user;
  r->no_token_events = opts->no_token_events;
  r->no_checkpoint_events = opts->no_checkpoint_events;
  r->no_task_events = opts->no_task_events;
  r->root = r;
  r->wake_cb = opts->wake_cb;
  r->wake_arg = opts->wake_arg;
  r->yield_cb = opts->wake_cb ? opts->yield_cb : NULL;
  loom_engine_mailbox_init(r);
  r->lua_memory = opts->lua_memory;
  r->lua_instructions = opts->lua_instructions;
  r->version_seed = loom_random_u64(); /* no syscall per run */
  r->status = LOOM_RUN_PENDING;
  r->interrupts = json_array();
  r->unsaved = json_array();
  r->unsaved_writes = json_array();
  *out = r;
  return LOOM_OK;
}

void loom_run_subscribe(struct loom_run *r, loom_event_cb cb, void *arg) {
  if (r->nsubs < RUN_MAX_SUBSCRIBERS)
    r->subs[r->nsubs++] = (struct subscriber){cb, arg};
}

void loom_run_on_done(struct loom_run *r,
                      void (*done_cb)(struct loom_run *r, void *arg),
                      void *arg) {
  r->done_cb = done_cb;
  r->done_arg = arg;
}

/* Loads the checkpoint and takes the start step when there is one (see
 * load.c). New input writes two checkpoints there, input then step 0:
 * with sync durability they share one commit (measured on SQLite, two
 * loaded cores: a commit of its own made a 3-step run on a thread answer
 * ~19% later at p50, sharing it ~3%, both noisy), and a crash
 * between them leaves neither, as if the run had not started; so does a
 * failed start (on a store without group commit, the memory store, the
 * input checkpoint stays). */
static loom_err load_and_start(struct loom_run *r, struct loom_error *e) {
  struct loom_error be = {0};
  bool batch = r->input && r->store && r->durability == LOOM_DURABILITY_SYNC &&
               loom_store_batch_begin(r->store, &be) == LOOM_OK;
  loom_err rc = loom_engine_load(r, e);
  if (!rc && loom_engine_at_start(r))
    rc = loom_engine_start_step(r, e);
  loom_err ended = batch ? loom_store_batch_end(r->store, !rc, &be) : LOOM_OK;
  if (!rc && ended) {
    *e = be;
    rc = ended;
  }
  return rc;
}

/* Loads the checkpoint and runs steps until the run stops or parks. */
static void start(struct loom_run *r) {
  r->status = LOOM_RUN_RUNNING;
  struct loom_error e = {0};
  if (load_and_start(r, &e)) {
    r->error = e;
    r->status = LOOM_RUN_ERROR;
    loom_engine_mailbox_close(r);
    json_t *err = json_pack("{ssss}", "code", loom_err_code(e.code), "message",
                            e.message);
    loom_engine_emit(r, LOOM_EVENT_ERROR, err);
    json_decref(err);
    if (r->done_cb)
      r->done_cb(r, r->done_arg);
    return;
  }
  /* As LangGraph's values stream does: the state the run starts from
   * (input applied, or the checkpoint it resumes) before any step. */
  loom_engine_emit(r, LOOM_EVENT_VALUES, r->values);
  loom_engine_drive(r);
}

enum loom_run_status loom_run_start(struct loom_run *r) {
  if (r->status != LOOM_RUN_PENDING)
    return r->status;
  if (r->root != r) { /* a subgraph: already inside its root's call */
    start(r);
    return r->status;
  }
  loom_engine_mailbox_enter(r);
  start(r);
  /* Not stopped: the run is parked, and may already be resuming on
   * another thread, so its status is not read here. */
  return loom_engine_mailbox_leave(r) ? r->status : LOOM_RUN_WAITING;
}

void loom_run_cancel(struct loom_run *r) {
  r->cancelled = true;
  for (size_t i = 0; i < r->ntasks; i++) {
    struct loom_task *t = &r->tasks[i];
    if (t->state == TASK_RUNNING && t->node->kind->cancel)
      t->node->kind->cancel(t);
  }
  if (r->status == LOOM_RUN_WAITING) {
    /* Tasks the kinds did not finish on cancel count as interrupted-free
     * failures: the step is abandoned and can run again later. */
    for (size_t i = 0; i < r->ntasks; i++)
      if (r->tasks[i].state == TASK_RUNNING)
        loom_task_fail(&r->tasks[i], LOOM_ERR_CANCELLED, "cancelled");
  }
}

enum loom_run_status loom_run_status(const struct loom_run *r) {
  return r->status;
}

const char *loom_run_status_name(enum loom_run_status s) {
  static const char *const n[] = {"pending",     "running", "waiting",
                                  "interrupted", "success", "error",
                                  "cancelled"};
  return s <= LOOM_RUN_CANCELLED ? n[s] : "unknown";
}

const char *loom_event_name(enum loom_event_type type) {
  static const char *const n[] = {"values",      "updates",     "tasks",
                                  "task_result", "checkpoints", "custom",
                                  "interrupt",   "error",       "end"};
  return type <= LOOM_EVENT_END ? n[type] : "unknown";
}

const json_t *loom_run_values(const struct loom_run *r) { return r->values; }
const json_t *loom_run_interrupts(const struct loom_run *r) {
  return r->interrupts;
}
json_t *loom_run_next_tasks(const struct loom_run *r) {
  return loom_engine_next_tasks(r->next, NULL, NULL);
}
const struct loom_error *loom_run_error(const struct loom_run *r) {
  return &r->error;
}
const char *loom_run_thread_id(const struct loom_run *r) {
  return r->thread_id;
}
const char *loom_run_checkpoint_id(const struct loom_run *r) {
  return r->checkpoint_id;
}
int loom_run_steps(const struct loom_run *r) { return r->steps_run; }

void loom_run_free(struct loom_run *r) {
  if (!r)
    return;
  if (r->durability == LOOM_DURABILITY_ASYNC) /* the writer may still */
    (void)loom_engine_writer_drain(r, NULL);  /* hold jobs of this run */
  for (size_t i = 0; i < r->ntasks; i++) {
    struct loom_task *t = &r->tasks[i];
    json_decref(t->item), json_decref(t->view), json_decref(t->resume);
    json_decref(t->writes), json_decref(t->interrupt);
  }
  loom_free(r->tasks);
  for (size_t i = 0; i < r->nchildren; i++)
    loom_run_free(r->children[i]);
  loom_free(r->children);
  loom_free(r->tenant), loom_free(r->thread_id), loom_free(r->ns);
  loom_free(r->from_checkpoint);
  json_decref(r->input), json_decref(r->command);
  json_decref(r->metadata);
  json_decref(r->before), json_decref(r->after);
  json_decref(r->values), json_decref(r->versions);
  json_decref(r->saved_versions), json_decref(r->next);
  json_decref(r->queued_versions);
  json_decref(r->pending), json_decref(r->interrupts);
  json_decref(r->unsaved), json_decref(r->unsaved_writes);
  release_lua(r);
  loom_engine_mailbox_cleanup(r);
  loom_free(r);
}
