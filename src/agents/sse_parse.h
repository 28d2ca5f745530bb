/*
 * sse_parse — an incremental parser for Server-Sent Events streams.
 *
 * LLM servers stream their answers as SSE (text/event-stream). Bytes arrive
 * in chunks split anywhere — inside a field name, between CR and LF, inside
 * a UTF-8 sequence — so the parser keeps the unfinished line between calls
 * and dispatches an event at each blank line, as the WHATWG EventSource
 * algorithm does: lines end in CRLF, LF or CR; `data:` lines accumulate
 * joined by "\n"; `event:` names the event; `id:` sets the last event id;
 * lines starting with ':' are comments; one space after the colon is
 * dropped; an event without data is not dispatched; a leading UTF-8 BOM is
 * skipped. Every buffer is capped, so a hostile server cannot grow memory
 * past `max_event` bytes. Caller-owned: loom_sse_init / loom_sse_cleanup.
 */
#ifndef LOOM_AGENTS_SSE_PARSE_H
#define LOOM_AGENTS_SSE_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

/* One dispatched event; the strings are NUL-terminated and borrowed (valid
 * during the callback only). `event` is "message" when no name was given. */
struct loom_sse_event {
  const char *event;
  const char *data;
  size_t data_len;
  const char *id; /* last event id seen on the stream, "" if none */
};

/* Called for each event; a non-OK return stops parsing and is returned by
 * loom_sse_feed. */
typedef loom_err (*loom_sse_event_cb)(void *ud,
                                      const struct loom_sse_event *ev);

struct loom_sse_parser {
  struct loom_buf line;  /* the unfinished line */
  struct loom_buf data;  /* data of the event being built */
  struct loom_buf event; /* its event name */
  struct loom_buf id;    /* last event id */
  bool have_data;        /* a data: line was seen since the last dispatch */
  bool after_cr;         /* the previous byte ended a line with CR */
  bool started;          /* past the optional BOM */
  unsigned bom_seen;     /* BOM bytes matched so far */
  loom_sse_event_cb cb;
  void *ud;
};

/* Starts a parser that calls `cb(ud, event)` per event. A line or an
 * event's data longer than `max_event` bytes fails with LOOM_ERR_TOO_LARGE. */
void loom_sse_init(struct loom_sse_parser *p, size_t max_event,
                   loom_sse_event_cb cb, void *ud);

/* Feeds `len` bytes. Returns LOOM_OK, LOOM_ERR_TOO_LARGE, or the first
 * non-OK value the callback returned (the rest of the chunk is dropped). */
loom_err loom_sse_feed(struct loom_sse_parser *p, const char *bytes,
                       size_t len) LOOM_MUST_USE;

/* End of stream: a last line without its terminator is processed and an
 * event still being built is dispatched (servers that close without the
 * final blank line are common among LLM servers). */
loom_err loom_sse_finish(struct loom_sse_parser *p) LOOM_MUST_USE;

void loom_sse_cleanup(struct loom_sse_parser *p);

#endif
