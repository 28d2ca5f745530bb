/*
 * tables — the in-process resource tables of the LangGraph API: assistants
 * (JSON rows with their versions), threads, runs and each run's stream
 * events, plus the watchers that follow a run.
 *
 * How: one mutex guards everything (see internal.h for why one lock is
 * enough); each table is a small open-addressing hash map from id to
 * pointer, kept in insertion order through a list so searches and listings
 * are stable. Graph state itself (checkpoints) lives in the store; these
 * tables hold what the embedded shape keeps in memory. The production
 * issue moves them to store rows behind the same functions.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "api/internal.h"
#include "core/alloc.h"
#include "core/log.h"
#include "io/loop.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void api_lock(void) { pthread_mutex_lock(&lock); }
void api_unlock(void) { pthread_mutex_unlock(&lock); }

/* ---- a string → pointer map with insertion order ---- */

struct entry {
  char *key;
  void *val;
  size_t order; /* index in `seq` */
};

struct map {
  struct entry *slots; /* open addressing, linear probing; key NULL = free,
                          key == TOMB = deleted */
  size_t cap, used, live;
  void **seq; /* values in insertion order; NULL where removed */
  size_t nseq, capseq;
};

static char tomb_key[1];
#define TOMB tomb_key

static uint64_t hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  while (*s)
    h = (h ^ (unsigned char)*s++) * 1099511628211ull;
  return h;
}

static struct entry *slot_for(struct map *m, const char *key, bool insert) {
  if (!m->cap)
    return NULL;
  size_t i = hash(key) & (m->cap - 1);
  struct entry *first_tomb = NULL;
  for (;;) {
    struct entry *e = &m->slots[i];
    if (!e->key)
      return insert ? (first_tomb ? first_tomb : e) : NULL;
    if (e->key == TOMB) {
      if (!first_tomb)
        first_tomb = e;
    } else if (!strcmp(e->key, key)) {
      return e;
    }
    i = (i + 1) & (m->cap - 1);
  }
}

/* Drops the holes removed entries left in `seq`, keeping the order. */
static void map_compact_seq(struct map *m, struct entry *slots, size_t cap) {
  size_t *to = loom_calloc(m->nseq ? m->nseq : 1, sizeof *to);
  for (size_t i = 0; i < cap; i++)
    if (slots[i].key && slots[i].key != TOMB)
      to[slots[i].order] = 1;
  size_t n = 0;
  for (size_t i = 0; i < m->nseq; i++)
    if (to[i]) {
      m->seq[n] = m->seq[i];
      to[i] = n++;
    }
  for (size_t i = 0; i < cap; i++)
    if (slots[i].key && slots[i].key != TOMB)
      slots[i].order = to[slots[i].order];
  m->nseq = n;
  loom_free(to);
}

/* Rehashes without the tombstones, growing only when the live entries
 * need it: runs come and go by the thousand, and neither the slots nor
 * `seq` may grow with every id ever seen. */
static void map_grow(struct map *m) {
  struct entry *old = m->slots;
  size_t oldcap = m->cap;
  if (m->nseq > 2 * m->live)
    map_compact_seq(m, old, oldcap);
  size_t cap = 64;
  while (cap < (m->live + 1) * 2)
    cap *= 2;
  m->cap = cap;
  m->slots = loom_calloc(m->cap, sizeof *m->slots);
  m->used = m->live;
  for (size_t i = 0; i < oldcap; i++) {
    if (!old[i].key || old[i].key == TOMB)
      continue;
    struct entry *e = slot_for(m, old[i].key, true);
    *e = old[i];
  }
  loom_free(old);
}

static void *map_get(struct map *m, const char *key) {
  struct entry *e = slot_for(m, key, false);
  return e ? e->val : NULL;
}

static void map_put(struct map *m, const char *key, void *val) {
  if ((m->used + 1) * 4 >= m->cap * 3)
    map_grow(m);
  struct entry *e = slot_for(m, key, true);
  if (e->key && e->key != TOMB) {
    m->seq[e->order] = val;
    e->val = val;
    return;
  }
  if (!e->key)
    m->used++;
  m->live++;
  if (m->nseq == m->capseq) {
    m->capseq = m->capseq ? m->capseq * 2 : 64;
    m->seq = loom_realloc(m->seq, m->capseq * sizeof *m->seq);
  }
  *e = (struct entry){loom_strdup(key), val, m->nseq};
  m->seq[m->nseq++] = val;
}

static void map_del(struct map *m, const char *key) {
  struct entry *e = slot_for(m, key, false);
  if (!e)
    return;
  m->seq[e->order] = NULL;
  loom_free(e->key);
  e->key = TOMB;
  e->val = NULL;
  m->live--;
}

static struct map threads, assistants, versions, runs;

/* ---- threads ---- */

struct api_thread *api_thread_find(const char *id) {
  return id ? map_get(&threads, id) : NULL;
}

struct api_thread *api_thread_add(const char *id, json_t *metadata) {
  struct api_thread *t = LOOM_NEW(struct api_thread);
  if (id)
    snprintf(t->id, sizeof t->id, "%s", id);
  else
    loom_id_new(t->id);
  t->metadata = metadata ? metadata : json_object();
  t->created_at = api_now();
  t->updated_at = json_incref(t->created_at);
  t->status = loom_strdup("idle");
  map_put(&threads, t->id, t);
  return t;
}

static void wake_one(struct api_watch *w);

void api_thread_remove(struct api_thread *t) {
  map_del(&threads, t->id);
  while (t->watchers) { /* they see the thread gone */
    struct api_watch *w = t->watchers;
    t->watchers = w->next;
    w->thread = NULL;
    w->next = NULL;
    wake_one(w);
  }
  json_decref(t->metadata);
  json_decref(t->created_at);
  json_decref(t->updated_at);
  json_decref(t->values);
  json_decref(t->interrupts);
  json_decref(t->config);
  loom_free(t->runs);
  loom_free(t->graph_id);
  loom_free(t->status);
  loom_free(t);
}

json_t *api_thread_json(const struct api_thread *t) {
  return json_pack(
      "{s:s, s:O, s:O, s:O, s:s, s:O, s:o, s:o}", "thread_id", t->id,
      "created_at", t->created_at, "updated_at", t->updated_at, "metadata",
      t->metadata, "status", t->status, "values",
      t->values ? t->values : json_null(), "interrupts",
      t->interrupts ? json_incref(t->interrupts) : json_object(), "config",
      t->config ? json_incref(t->config) : json_pack("{s:{}}", "configurable"));
}

void api_threads_each(bool (*each)(struct api_thread *t, void *arg),
                      void *arg) {
  for (size_t i = 0; i < threads.nseq; i++)
    if (threads.seq[i] && !each(threads.seq[i], arg))
      return;
}

/* ---- assistants ---- */

json_t *api_assistant_find(const char *id) {
  return id ? map_get(&assistants, id) : NULL;
}

void api_assistant_put(json_t *row) {
  const char *id = json_string_value(json_object_get(row, "assistant_id"));
  json_t *old = map_get(&assistants, id);
  map_put(&assistants, id, row);
  json_decref(old);
}

void api_assistant_remove(const char *id) {
  json_t *row = map_get(&assistants, id);
  json_t *vers = map_get(&versions, id);
  map_del(&assistants, id);
  map_del(&versions, id);
  json_decref(row);
  json_decref(vers);
}

json_t *api_assistant_versions(const char *id) {
  return map_get(&versions, id);
}

void api_assistant_add_version(const char *id, json_t *row) {
  json_t *vers = map_get(&versions, id);
  if (!vers) {
    vers = json_array();
    map_put(&versions, id, vers);
  }
  json_array_append_new(vers, row);
}

void api_assistants_each(bool (*each)(json_t *row, void *arg), void *arg) {
  for (size_t i = 0; i < assistants.nseq; i++)
    if (assistants.seq[i] && !each(assistants.seq[i], arg))
      return;
}

/* LangGraph's namespace for the system assistants' uuid5 ids. */
#define GRAPH_NAMESPACE "6ba7b821-9dad-11d1-80b4-00c04fd430c8"

/* Graph id → its system assistant's id, for the graphs asked for by
 * graph id (a SHA-1 each time otherwise); only ids that resolved, so
 * its size is bounded by the graphs there were. */
static struct map system_ids;

json_t *api_assistant_resolve(const char *id_or_graph) {
  json_t *row = api_assistant_find(id_or_graph);
  if (row || !id_or_graph)
    return row;
  const char *known = map_get(&system_ids, id_or_graph);
  if (known)
    return api_assistant_find(known);
  char id[LOOM_ID_LEN + 1];
  api_uuid5(GRAPH_NAMESPACE, id_or_graph, id);
  row = api_assistant_find(id);
  if (row)
    map_put(&system_ids, id_or_graph, loom_strdup(id));
  return row;
}

void api_assistant_ensure_system(const char *graph_id) {
  char id[LOOM_ID_LEN + 1];
  api_uuid5(GRAPH_NAMESPACE, graph_id, id);
  if (api_assistant_find(id))
    return;
  json_t *now = api_now();
  json_t *row = json_pack(
      "{s:s, s:s, s:{s:{}}, s:{}, s:{s:s}, s:s, s:n, s:i, s:O, s:O}",
      "assistant_id", id, "graph_id", graph_id, "config", "configurable",
      "context", "metadata", "created_by", "system", "name", graph_id,
      "description", "version", 1, "created_at", now, "updated_at", now);
  json_decref(now);
  api_assistant_add_version(id, json_deep_copy(row));
  api_assistant_put(row);
}

/* ---- runs ---- */

static const char *const status_names[] = {
    [API_RUN_PENDING] = "pending", [API_RUN_RUNNING] = "running",
    [API_RUN_SUCCESS] = "success", [API_RUN_ERROR] = "error",
    [API_RUN_TIMEOUT] = "timeout", [API_RUN_INTERRUPTED] = "interrupted",
};

const char *api_run_status_name(enum api_run_status s) {
  return status_names[s];
}

struct api_run *api_run_new(const char *id) {
  struct api_run *r = LOOM_NEW(struct api_run);
  if (id)
    snprintf(r->id, sizeof r->id, "%s", id);
  else
    loom_id_new(r->id);
  r->refs = 1;
  r->all_modes = true; /* loaded runs: whoever joins may ask for any */
  r->created_at = api_now();
  r->updated_at = json_incref(r->created_at);
  map_put(&runs, r->id, r);
  return r;
}

struct api_run *api_run_find(const char *id) {
  return id ? map_get(&runs, id) : NULL;
}

void api_run_ref(struct api_run *r) { r->refs++; }

static void run_free(struct api_run *r) {
  for (size_t i = 0; i < r->nevents; i++) {
    loom_free(r->events[i].mode);
    loom_free(r->events[i].event);
    json_decref(r->events[i].data);
  }
  loom_free(r->events);
  loom_free(r->graph_id);
  loom_free(r->multitask_strategy);
  loom_free(r->start_checkpoint);
  json_decref(r->kwargs);
  json_decref(r->metadata);
  json_decref(r->created_at);
  json_decref(r->updated_at);
  json_decref(r->result);
  loom_free(r);
}

void api_run_unref(struct api_run *r) {
  if (--r->refs == 0)
    run_free(r);
}

static void detach(struct api_run *r) {
  struct api_thread *t = api_thread_find(r->thread_id);
  for (size_t i = 0; t && i < t->nruns; i++)
    if (t->runs[i] == r) {
      memmove(&t->runs[i], &t->runs[i + 1],
              (t->nruns - i - 1) * sizeof *t->runs);
      t->nruns--;
      return;
    }
}

void api_run_attach(struct api_thread *t, struct api_run *r) {
  if (t->nruns == t->capruns) {
    t->capruns = t->capruns ? t->capruns * 2 : 8;
    t->runs = loom_realloc(t->runs, t->capruns * sizeof *t->runs);
  }
  t->runs[t->nruns++] = r;
  for (struct api_watch *w = t->watchers; w; w = w->next)
    wake_one(w);
}

void api_thread_runs_each(struct api_thread *t,
                          bool (*each)(struct api_run *r, void *arg),
                          void *arg) {
  for (size_t i = 0; i < t->nruns; i++)
    if (!each(t->runs[i], arg))
      return;
}

void api_run_remove(struct api_run *r) {
  if (r->deleted)
    return;
  detach(r);
  r->deleted = true;
  map_del(&runs, r->id);
  api_run_unref(r);
}

json_t *api_run_json(const struct api_run *r) {
  return json_pack("{s:s, s:s, s:s, s:O, s:O, s:s, s:O, s:O, s:s?}", "run_id",
                   r->id, "thread_id", r->thread_id, "assistant_id",
                   r->assistant_id, "created_at", r->created_at, "updated_at",
                   r->updated_at, "status", api_run_status_name(r->status),
                   "metadata", r->metadata ? r->metadata : json_null(),
                   "kwargs", r->kwargs ? r->kwargs : json_null(),
                   "multitask_strategy", r->multitask_strategy);
}

void api_runs_each(bool (*each)(struct api_run *r, void *arg), void *arg) {
  for (size_t i = 0; i < runs.nseq; i++)
    if (runs.seq[i] && !each(runs.seq[i], arg))
      return;
}

struct api_run *api_run_next_pending(const char *thread_id) {
  struct api_thread *t = api_thread_find(thread_id);
  for (size_t i = 0; t && i < t->nruns; i++) {
    struct api_run *r = t->runs[i];
    if (r->status == API_RUN_PENDING && !r->started)
      return r;
  }
  return NULL;
}

/* ---- retention of finished runs' events ---- */

static struct api_run *retired[API_KEEP_EVENTS_RUNS];
static size_t nretired, retired_head;

static void trim_events(struct api_run *r) {
  r->events_gone = true; /* a replay reads them from the store */
  for (size_t i = 0; i + 1 < r->nevents; i++) {
    loom_free(r->events[i].mode);
    loom_free(r->events[i].event);
    json_decref(r->events[i].data);
    r->events[i] = (struct api_event){NULL, NULL, NULL};
  }
}

void api_run_retire(struct api_run *r) {
  api_run_ref(r);
  if (nretired < API_KEEP_EVENTS_RUNS) {
    retired[(retired_head + nretired++) % API_KEEP_EVENTS_RUNS] = r;
    return;
  }
  struct api_run *old = retired[retired_head];
  retired[retired_head] = r;
  retired_head = (retired_head + 1) % API_KEEP_EVENTS_RUNS;
  trim_events(old);
  api_run_unref(old);
}

/* ---- events and watchers ---- */

static void watch_deliver_cb(struct loom_loop *loop, void *arg) {
  (void)loop;
  struct api_watch *w = arg;
  api_lock();
  w->queued = false;
  bool gone = w->detached;
  api_unlock();
  if (gone) {
    loom_free(w);
    return;
  }
  w->cb(w);
}

static void wake_one(struct api_watch *w) {
  if (w->queued || w->detached)
    return;
  w->queued = true;
  if (loom_loop_post(w->loop, watch_deliver_cb, w) != LOOM_OK)
    w->queued = false; /* the loop is stopping; the watcher is abandoned */
}

void api_run_wake(struct api_run *r) {
  for (struct api_watch *w = r->watchers; w; w = w->next)
    wake_one(w);
}

static void push_event(struct api_run *r, const char *mode, const char *event,
                       json_t *data) {
  if (r->nevents == r->capevents) {
    r->capevents = r->capevents ? r->capevents * 2 : 16;
    r->events = loom_realloc(r->events, r->capevents * sizeof *r->events);
  }
  r->events[r->nevents++] =
      (struct api_event){loom_strdup(mode), loom_strdup(event), data};
  if (!strcmp(event, "end"))
    r->ended = true;
}

void api_run_emit(struct api_run *r, const char *mode, const char *event,
                  json_t *data) {
  push_event(r, mode, event, data);
  /* Queued in emit order, so the store's seq equals the event's id. */
  api_persist_event(r, event, data);
  bool end = r->ended;
  for (struct api_watch *w = r->watchers; w; w = w->next)
    if (end || !w->final_only)
      wake_one(w);
}

void api_run_restore_event(struct api_run *r, const char *event, json_t *data) {
  char mode[64];
  push_event(r, api_event_mode(event, mode, sizeof mode), event, data);
}

const char *api_event_mode(const char *event, char *buf, size_t size) {
  if (!strcmp(event, "metadata") || !strcmp(event, "end") ||
      !strcmp(event, "error"))
    return "*";
  int len = (int)strcspn(event, "|"); /* the name without its namespace */
  /* Two modes name their events otherwise (run_events.c): messages-tuple
   * sends `messages`, and messages `messages/metadata`, `.../partial`. */
  if (len == 8 && !strncmp(event, "messages", 8))
    return "messages-tuple";
  if (!strncmp(event, "messages/", 9))
    return "messages";
  snprintf(buf, size, "%.*s", len, event);
  return buf;
}

struct api_watch *api_watch_add(struct api_run *r, struct loom_loop *loop,
                                bool final_only, api_watch_cb cb,
                                void *userdata) {
  struct api_watch *w = LOOM_NEW(struct api_watch);
  *w = (struct api_watch){.loop = loop,
                          .cb = cb,
                          .userdata = userdata,
                          .run = r,
                          .final_only = final_only,
                          .next = r->watchers};
  r->watchers = w;
  api_run_ref(r);
  wake_one(w); /* deliver what is already there */
  return w;
}

struct api_watch *api_thread_watch_add(struct api_thread *t,
                                       struct loom_loop *loop, api_watch_cb cb,
                                       void *userdata) {
  struct api_watch *w = LOOM_NEW(struct api_watch);
  *w = (struct api_watch){.loop = loop,
                          .cb = cb,
                          .userdata = userdata,
                          .thread = t,
                          .next = t->watchers};
  t->watchers = w;
  wake_one(w);
  return w;
}

void api_watch_remove(struct api_watch *w) {
  struct api_run *r = w->run;
  struct api_watch **list = r           ? &r->watchers
                            : w->thread ? &w->thread->watchers
                                        : NULL;
  for (struct api_watch **p = list; p && *p; p = &(*p)->next)
    if (*p == w) {
      *p = w->next;
      break;
    }
  w->run = NULL;
  w->thread = NULL;
  if (r)
    api_run_unref(r);
  if (w->queued)
    w->detached = true; /* freed when the posted wake-up arrives */
  else
    loom_free(w);
}
