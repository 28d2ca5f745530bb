/*
 * sse_parse — line splitting over chunks, then the EventSource field rules.
 *
 * Bytes go into `line` until a CR or LF; a CR followed (possibly in the next
 * chunk) by LF is one terminator, tracked by `after_cr`. A finished line is
 * interpreted at once, so only one line and one event are ever buffered.
 */
#include "agents/sse_parse.h"

#include <string.h>

static const unsigned char BOM[3] = {0xEF, 0xBB, 0xBF};

void loom_sse_init(struct loom_sse_parser *p, size_t max_event,
                   loom_sse_event_cb cb, void *ud) {
  memset(p, 0, sizeof *p);
  loom_buf_init(&p->line, max_event);
  loom_buf_init(&p->data, max_event);
  loom_buf_init(&p->event, 256);
  loom_buf_init(&p->id, 1024);
  p->cb = cb;
  p->ud = ud;
}

void loom_sse_cleanup(struct loom_sse_parser *p) {
  loom_buf_cleanup(&p->line);
  loom_buf_cleanup(&p->data);
  loom_buf_cleanup(&p->event);
  loom_buf_cleanup(&p->id);
}

static loom_err dispatch(struct loom_sse_parser *p) {
  loom_err err = LOOM_OK;
  if (p->have_data) {
    /* Each data line added a trailing "\n"; the last one is not data. */
    if (p->data.len > 0)
      p->data.data[--p->data.len] = 0;
    struct loom_sse_event ev = {
        .event = p->event.len ? p->event.data : "message",
        .data = p->data.data ? p->data.data : "",
        .data_len = p->data.len,
        .id = p->id.data ? p->id.data : "",
    };
    err = p->cb(p->ud, &ev);
  }
  loom_buf_reset(&p->data);
  loom_buf_reset(&p->event);
  p->have_data = false;
  return err;
}

/* Applies one complete line (without its terminator). */
static loom_err process_line(struct loom_sse_parser *p, const char *line,
                             size_t len) {
  if (len == 0)
    return dispatch(p);
  if (line[0] == ':')
    return LOOM_OK; /* comment, e.g. ": OPENROUTER PROCESSING" keep-alives */
  const char *colon = memchr(line, ':', len);
  size_t name_len = colon ? (size_t)(colon - line) : len;
  const char *value = colon ? colon + 1 : line + len;
  size_t value_len = (size_t)(line + len - value);
  if (value_len > 0 && value[0] == ' ') {
    value++;
    value_len--;
  }
  loom_err err = LOOM_OK;
  if (name_len == 4 && memcmp(line, "data", 4) == 0) {
    err = loom_buf_append(&p->data, value, value_len);
    if (!err)
      err = loom_buf_append(&p->data, "\n", 1);
    p->have_data = true;
  } else if (name_len == 5 && memcmp(line, "event", 5) == 0) {
    loom_buf_reset(&p->event);
    err = loom_buf_append(&p->event, value, value_len);
  } else if (name_len == 2 && memcmp(line, "id", 2) == 0) {
    if (!memchr(value, 0, value_len)) {
      loom_buf_reset(&p->id);
      err = loom_buf_append(&p->id, value, value_len);
    }
  }
  /* "retry" and unknown fields are ignored, as the standard says. */
  return err;
}

/* Skips a UTF-8 BOM at the very start, even when split across chunks.
 * Returns how many bytes of `bytes` were consumed. */
static size_t skip_bom(struct loom_sse_parser *p, const char *bytes,
                       size_t len) {
  size_t i = 0;
  while (!p->started && i < len) {
    if ((unsigned char)bytes[i] == BOM[p->bom_seen]) {
      i++;
      if (++p->bom_seen == 3)
        p->started = true;
    } else {
      /* Not a BOM after all: the bytes matched so far were real input. */
      p->started = true;
      if (p->bom_seen && loom_buf_append(&p->line, BOM, p->bom_seen))
        return len; /* cannot happen with any sane cap; drop the chunk */
    }
  }
  return i;
}

loom_err loom_sse_feed(struct loom_sse_parser *p, const char *bytes,
                       size_t len) {
  size_t i = skip_bom(p, bytes, len);
  while (i < len) {
    char c = bytes[i];
    if (p->after_cr) {
      p->after_cr = false;
      if (c == '\n') {
        i++;
        continue;
      }
    }
    /* Copy the run of ordinary bytes in one go. */
    size_t start = i;
    while (i < len && bytes[i] != '\r' && bytes[i] != '\n')
      i++;
    if (i > start) {
      loom_err err = loom_buf_append(&p->line, bytes + start, i - start);
      if (err)
        return err;
    }
    if (i == len)
      break;
    p->after_cr = bytes[i] == '\r';
    i++;
    loom_err err =
        process_line(p, p->line.data ? p->line.data : "", p->line.len);
    loom_buf_reset(&p->line);
    if (err)
      return err;
  }
  return LOOM_OK;
}

loom_err loom_sse_finish(struct loom_sse_parser *p) {
  loom_err err = LOOM_OK;
  if (p->line.len > 0) {
    err = process_line(p, p->line.data, p->line.len);
    loom_buf_reset(&p->line);
  }
  if (!err)
    err = dispatch(p);
  return err;
}
