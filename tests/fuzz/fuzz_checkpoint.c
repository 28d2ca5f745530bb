/*
 * fuzz_checkpoint — a thread's stored rows as a damaged database (or a
 * hand edit, or an older loom) may hold them: the checkpoint document
 * (channel_versions, next), its metadata (step), the channel blobs and
 * the pending writes (interrupts, resume values, commands) are any JSON.
 * loom reads them back to show the thread's state and history, and to
 * continue it (with new input, or a Command that resumes, updates or
 * jumps). That must fail with a message or work, never crash, leak or
 * hang: the engine may not trust the shape of what it once wrote.
 *
 * Input: one JSON object {"checkpoint": {...}, "metadata": {...},
 * "blobs": [[channel, version, value], ...], "writes": [[task_id,
 * [{"channel", "value"}, ...]], ...], "input": {...}, "command": {...}}
 * (every key optional), on the example approval graph, in memory.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/engine.h"
#include "fuzz_approval_graph.h"
#include "stores/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BLOBS 16

static const char CKPT[] = "0190a0b0-0000-7000-8000-000000000002";

static struct loom_graph *graph(void) {
  static struct loom_graph *g;
  struct loom_error e;
  if (!g && loom_graph_load(GRAPH, strlen(GRAPH), "fuzz.yaml", &g, &e))
    abort();
  return g;
}

/* The rows of `in` put in `s` as one checkpoint of THREAD. */
static void store_rows(struct loom_store *s, const json_t *in) {
  json_t *ck = json_object_get(in, "checkpoint");
  json_t *meta = json_object_get(in, "metadata");
  struct loom_checkpoint cp = {
      .thread_id = (char *)THREAD,
      .ns = "",
      .id = (char *)CKPT,
      .checkpoint = json_is_object(ck) ? ck : json_object(),
      .metadata = json_is_object(meta) ? meta : json_object()};
  struct loom_blob blobs[MAX_BLOBS];
  size_t nb = 0, i;
  json_t *b;
  json_array_foreach(json_object_get(in, "blobs"), i, b) {
    const char *ch = json_string_value(json_array_get(b, 0));
    const char *ver = json_string_value(json_array_get(b, 1));
    if (ch && ver && nb < MAX_BLOBS)
      blobs[nb++] = (struct loom_blob){ch, ver, json_array_get(b, 2)};
  }
  struct loom_error e;
  (void)loom_store_put_checkpoint(s, "default", &cp, blobs, nb, &e);
  json_t *w;
  json_array_foreach(json_object_get(in, "writes"), i, w) {
    const char *task = json_string_value(json_array_get(w, 0));
    json_t *list = json_array_get(w, 1);
    if (task && json_is_array(list))
      (void)loom_store_put_writes(s, "default", THREAD, "", CKPT, task, list,
                                  &e);
  }
  if (cp.checkpoint != ck)
    json_decref(cp.checkpoint);
  if (cp.metadata != meta)
    json_decref(cp.metadata);
}

static void read_back(struct loom_store *s) {
  json_t *out = NULL;
  struct loom_error e;
  if (loom_engine_get_state(s, "default", graph(), THREAD, NULL, &out, &e) ==
      LOOM_OK)
    json_decref(out);
  out = NULL;
  if (loom_engine_history(s, "default", graph(), THREAD, NULL, 4, &out, &e) ==
      LOOM_OK)
    json_decref(out);
}

static void continue_thread(struct loom_store *s, const json_t *in) {
  json_t *input = json_object_get(in, "input");
  json_t *command = json_object_get(in, "command");
  struct loom_run_opts o = {.store = s,
                            .thread_id = THREAD,
                            .input = json_is_object(input) ? input : NULL,
                            .command = json_is_object(command) ? command : NULL,
                            .recursion_limit = 6,
                            .lua_memory = 1 << 20,
                            .lua_instructions = 20000};
  struct loom_run *r = NULL;
  struct loom_error e;
  if (loom_run_new(graph(), &o, &r, &e) == LOOM_OK)
    loom_run_start(r);
  loom_run_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *in = json_loadb((const char *)data, size, 0, NULL);
  if (!json_is_object(in)) {
    json_decref(in);
    return 0;
  }
  struct loom_store *s = loom_engine_memstore_new();
  store_rows(s, in);
  read_back(s);
  continue_thread(s, in);
  loom_store_close(s);
  json_decref(in);
  return 0;
}
