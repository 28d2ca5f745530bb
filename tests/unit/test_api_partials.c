/*
 * Unit tests for how `messages` mode keeps and sends a streamed message
 * (src/api/partials.c with run_events.c): a run keeps each
 * messages/partial event as its delta, so what it keeps (and the store
 * gets) grows linearly with the answer, while what a stream sends is the
 * whole text so far per event, as LangGraph's protocol has it, also when
 * the stream starts in the middle of the message. Messages named by their
 * token events (an agent's model calls) stay apart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "core/alloc.h"
#include "engine/engine.h"

#define WORD "word " /* one delta */

/* A run that makes `messages` events only and is never stored. The
 * test's own thread is the only one touching it, so it is read without
 * the api lock (which api_run_engine_event takes to append). */
static struct api_run *messages_run(struct api_run_events *st) {
  api_lock();
  struct api_run *r = api_run_new(NULL);
  api_unlock();
  r->all_modes = false;
  r->memory_only = true;
  r->graph_id = loom_strdup("g");
  r->kwargs = json_pack("{s:[s]}", "stream_mode", "messages");
  *st = (struct api_run_events){.modes = api_run_modes(r)};
  return r;
}

/* A token event of task a:0, in message `message` when not NULL. */
static void token(struct api_run *r, struct api_run_events *st,
                  const char *message, const char *text) {
  json_t *d = json_pack("{s:s, s:s, s:s, s:s}", "event", "token", "node", "a",
                        "task", "a:0", "text", text);
  if (message)
    json_object_set_new(d, "message", json_string(message));
  struct loom_event ev = {.type = LOOM_EVENT_CUSTOM, .step = 0, .data = d};
  assert_false(api_run_engine_event(r, st, &ev));
  json_decref(d);
}

/* What the run keeps of its events' data, in bytes: what the store gets. */
static size_t kept_bytes(const struct api_run *r) {
  size_t n = 0;
  for (size_t i = 0; i < r->nevents; i++) {
    char *s = json_dumps(r->events[i].data, JSON_COMPACT | JSON_ENCODE_ANY);
    n += strlen(s);
    free(s);
  }
  return n;
}

/* The bytes a run of `n` deltas keeps, after checking that a stream sends
 * each partial with the whole text so far. */
static size_t bytes_for(size_t n) {
  struct api_run_events st;
  struct api_run *r = messages_run(&st);
  for (size_t i = 0; i < n; i++)
    token(r, &st, NULL, WORD);
  assert_int_equal(r->nevents, n + 1); /* messages/metadata, n partials */
  struct api_partials p = {0};
  size_t partials = 0;
  for (size_t i = 0; i < r->nevents; i++) {
    json_t *wire = api_partials_wire(&p, r->events[i].event, r->events[i].data);
    if (!strcmp(r->events[i].event, "messages/partial")) {
      partials++;
      const json_t *m = json_array_get(wire, 0);
      assert_string_equal(json_string_value(json_object_get(m, "type")), "ai");
      assert_int_equal(json_string_length(json_object_get(m, "content")),
                       partials *
                           strlen(WORD)); /* the text so far, not the delta */
    }
    json_decref(wire);
  }
  assert_int_equal(partials, n);
  api_partials_cleanup(&p);
  size_t bytes = kept_bytes(r);
  api_run_events_cleanup(&st);
  api_lock();
  api_run_remove(r);
  api_unlock();
  return bytes;
}

static void kept_bytes_grow_linearly_with_the_answer(void **state) {
  (void)state;
  size_t small = bytes_for(200), big = bytes_for(2000);
  /* Ten times the deltas: about ten times the bytes (each partial kept
   * whole would make it about a hundred). */
  print_message("messages mode keeps %zu bytes for 200 deltas, %zu for 2000 "
                "(x%.1f)\n",
                small, big, (double)big / (double)small);
  assert_true(big < 11 * small);
  /* ... and about the deltas' own size: no copy of the text so far. */
  assert_true(big < 2000 * (strlen(WORD) + 80));
}

/* The SSE data of an event as a stream sends it. */
static char *sent(struct api_partials *p, const struct api_event *ev) {
  json_t *wire = api_partials_wire(p, ev->event, ev->data);
  char *s = json_dumps(wire, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(wire);
  return s;
}

static void a_stream_from_the_middle_sends_what_a_whole_one_does(void **state) {
  (void)state;
  struct api_run_events st;
  struct api_run *r = messages_run(&st);
  const char *parts[] = {"The ", "cat ", "sat ", "on ", "the ", "mat."};
  for (size_t i = 0; i < 6; i++)
    token(r, &st, NULL, parts[i]);
  struct api_partials whole = {0};
  for (size_t from = 0; from < r->nevents; from++) {
    struct api_partials mid = {0};
    for (size_t i = 0; i < from; i++) /* walked, not sent */
      api_partials_feed(&mid, r->events[i].event, r->events[i].data);
    char *a = sent(&mid, &r->events[from]);
    char *b = sent(&whole, &r->events[from]);
    assert_string_equal(a, b);
    free(a);
    free(b);
    api_partials_cleanup(&mid);
  }
  /* The last one, byte for byte as LangGraph's server sends it. */
  struct api_partials again = {0};
  char *last = NULL;
  for (size_t i = 0; i < r->nevents; i++) {
    free(last);
    last = sent(&again, &r->events[i]);
  }
  char *want = loom_asprintf(
      "[{\"content\":\"The cat sat on the mat.\",\"type\":\"ai\",\"id\":"
      "\"run-%s-a:0-1\",\"tool_calls\":[],\"invalid_tool_calls\":[],"
      "\"additional_kwargs\":{},\"response_metadata\":{}}]",
      r->id);
  assert_string_equal(last, want);
  free(last);
  loom_free(want);
  api_partials_cleanup(&again);
  api_partials_cleanup(&whole);
  api_run_events_cleanup(&st);
  api_lock();
  api_run_remove(r);
  api_unlock();
}

/* Two model calls of one task (an agent): two messages, each with its
 * metadata, whose partials never join the other's text. */
static void messages_named_by_their_tokens_stay_apart(void **state) {
  (void)state;
  struct api_run_events st;
  struct api_run *r = messages_run(&st);
  token(r, &st, "run-one", "Let me ");
  token(r, &st, "run-one", "check.");
  token(r, &st, "run-two", "It is ");
  token(r, &st, "run-two", "42.");
  struct api_partials p = {0};
  json_t *seen = json_array();
  for (size_t i = 0; i < r->nevents; i++) {
    json_t *wire = api_partials_wire(&p, r->events[i].event, r->events[i].data);
    if (!strcmp(r->events[i].event, "messages/metadata"))
      json_array_append_new(
          seen, json_string(json_object_iter_key(json_object_iter(wire))));
    else
      json_array_append_new(seen, json_copy(json_array_get(wire, 0)));
    json_decref(wire);
  }
  assert_int_equal(json_array_size(seen), 6);
  const char *want[][2] = {
      {"run-one", NULL}, {"run-one", "Let me "}, {"run-one", "Let me check."},
      {"run-two", NULL}, {"run-two", "It is "},  {"run-two", "It is 42."}};
  for (size_t i = 0; i < 6; i++) {
    const json_t *v = json_array_get(seen, i);
    if (!want[i][1]) {
      assert_string_equal(json_string_value(v), want[i][0]);
      continue;
    }
    assert_string_equal(json_string_value(json_object_get(v, "id")),
                        want[i][0]);
    assert_string_equal(json_string_value(json_object_get(v, "content")),
                        want[i][1]);
  }
  json_decref(seen);
  api_partials_cleanup(&p);
  api_run_events_cleanup(&st);
  api_lock();
  api_run_remove(r);
  api_unlock();
}

/* A run stored before partials were kept as deltas: sent as stored. */
static void partials_kept_whole_are_sent_as_they_are(void **state) {
  (void)state;
  struct api_partials p = {0};
  json_t *old = api_partial_message("run-x", "Hello", 5);
  json_t *wire = api_partials_wire(&p, "messages/partial", old);
  assert_ptr_equal(wire, old);
  json_decref(wire);
  json_decref(old);
  api_partials_cleanup(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(kept_bytes_grow_linearly_with_the_answer),
      cmocka_unit_test(a_stream_from_the_middle_sends_what_a_whole_one_does),
      cmocka_unit_test(messages_named_by_their_tokens_stay_apart),
      cmocka_unit_test(partials_kept_whole_are_sent_as_they_are),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
