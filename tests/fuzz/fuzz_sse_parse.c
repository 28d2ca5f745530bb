/*
 * fuzz_sse_parse — the SSE parser over arbitrary bytes, fed in pieces whose
 * sizes come from the input itself; the events must not depend on the split.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agents/sse_parse.h"
#include "core/alloc.h"
#include "core/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static loom_err record_cb(void *ud, const struct loom_sse_event *ev) {
  struct loom_buf *out = ud;
  if (strlen(ev->data) > ev->data_len)
    abort();
  (void)loom_buf_appendf(out, "%s|%s|%zu|", ev->event, ev->id, ev->data_len);
  (void)loom_buf_append(out, ev->data, ev->data_len);
  return LOOM_OK;
}

static char *run(const uint8_t *data, size_t size, size_t step) {
  struct loom_buf out;
  loom_buf_init(&out, 1 << 24);
  struct loom_sse_parser p;
  loom_sse_init(&p, 4096, record_cb, &out);
  loom_err err = LOOM_OK;
  for (size_t pos = 0; pos < size && !err; pos += step) {
    size_t n = size - pos < step ? size - pos : step;
    err = loom_sse_feed(&p, (const char *)data + pos, n);
  }
  if (!err)
    err = loom_sse_finish(&p);
  loom_sse_cleanup(&p);
  if (err) {
    loom_buf_cleanup(&out);
    return loom_strdup("<error>");
  }
  return loom_buf_take(&out, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  size_t step = 1 + data[0] % 7;
  char *whole = run(data + 1, size - 1, size);
  char *pieces = run(data + 1, size - 1, step);
  if (strcmp(whole, pieces) != 0)
    abort();
  loom_free(whole);
  loom_free(pieces);
  return 0;
}
