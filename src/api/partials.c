/*
 * partials — `messages/partial` events: kept as deltas, sent whole.
 *
 * LangGraph's `messages` mode sends, with each text delta of a streamed
 * message, the whole message so far. Kept that way (in memory for the
 * run's streams, in the store for replays), a message of n deltas costs
 * the square of its length. So a run keeps each such event as the delta
 * alone, {"id": message id, "delta": text} (run_events.c makes them), and
 * whoever sends the events rebuilds the message so far: a stream keeps
 * each message's text (struct api_partials), adds the deltas in event
 * order as it walks the run's events, and sends the event with the text
 * so far, byte for byte what it would have kept. A stream that starts
 * after the first event (Last-Event-ID) walks the events before it too,
 * without sending them, so it has the text the deltas before it made.
 *
 * An event kept whole (a run stored before deltas were) is sent as it is.
 */
#include <string.h>

#include "agents/llm.h"
#include "api/internal.h"
#include "core/alloc.h"
#include "core/buf.h"

json_t *api_partial_delta(const char *id, const char *text) {
  return json_pack("{s:s, s:s}", "id", id, "delta", text);
}

json_t *api_partial_message(const char *id, const char *text, size_t len) {
  return json_pack("[{s:s%, s:s, s:s, s:[], s:[], s:{}, s:{}}]", "content",
                   text, len, "type", "ai", "id", id, "tool_calls",
                   "invalid_tool_calls", "additional_kwargs",
                   "response_metadata");
}

void api_partials_cleanup(struct api_partials *p) {
  for (size_t i = 0; i < p->n; i++)
    loom_buf_cleanup(&p->texts[i]);
  loom_free(p->texts);
  json_decref(p->slots);
  *p = (struct api_partials){0};
}

/* The message id of a stored delta, or NULL for any other event. */
static const char *delta_of(const char *event, const json_t *data,
                            const char **delta) {
  size_t len = strcspn(event, "|"); /* the name without its namespace */
  if (len != 16 || strncmp(event, "messages/partial", 16) ||
      !json_is_object(data))
    return NULL;
  *delta = json_string_value(json_object_get(data, "delta"));
  const char *id = json_string_value(json_object_get(data, "id"));
  return *delta ? id : NULL;
}

/* The text so far of message `id`, made room for when new. */
static struct loom_buf *text_of(struct api_partials *p, const char *id) {
  if (!p->slots)
    p->slots = json_object();
  json_t *slot = json_object_get(p->slots, id);
  if (slot)
    return &p->texts[json_integer_value(slot)];
  if (p->n == p->cap) {
    p->cap = p->cap ? p->cap * 2 : 4;
    p->texts = loom_realloc(p->texts, p->cap * sizeof *p->texts);
  }
  /* One message is one model answer: the cap of an answer's text. */
  loom_buf_init(&p->texts[p->n], LOOM_LLM_MAX_TEXT);
  json_object_set_new(p->slots, id, json_integer((json_int_t)p->n));
  return &p->texts[p->n++];
}

/* Adds a stored delta to its message: the message's text, or NULL. */
static struct loom_buf *feed(struct api_partials *p, const char *event,
                             const json_t *data, const char **id) {
  const char *delta = NULL;
  *id = delta_of(event, data, &delta);
  if (!*id)
    return NULL;
  struct loom_buf *b = text_of(p, *id);
  (void)!loom_buf_append_str(b, delta); /* past the cap: dropped */
  return b;
}

void api_partials_feed(struct api_partials *p, const char *event,
                       const json_t *data) {
  const char *id;
  (void)feed(p, event, data, &id);
}

json_t *api_partials_wire(struct api_partials *p, const char *event,
                          const json_t *data) {
  const char *id;
  struct loom_buf *b = feed(p, event, data, &id);
  if (!b)
    return json_incref((json_t *)data);
  return api_partial_message(id, b->data ? b->data : "", b->len);
}
