/*
 * fuzz_fetch_page — a web page http_fetch brought back, which anyone who
 * can get a URL into a prompt controls: any bytes, read as HTML by
 * loom_tools_html_text (from an exact-size copy, so a read past the page
 * is caught). The text has no tag left, no run of whitespace, and is
 * never longer than the page; scrubbed as the agent scrubs a tool's text,
 * it always becomes a JSON string for the model's next request.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agents/tools.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *page = loom_malloc(size ? size : 1);
  memcpy(page, data, size);
  struct loom_buf out;
  loom_buf_init(&out, 1u << 20);
  loom_tools_html_text(page, size, &out);
  const char *t = out.data ? out.data : "";
  if (out.len > size || memchr(t, '<', out.len) || strstr(t, "  ") ||
      strpbrk(t, "\n\r\t"))
    abort();
  char *text = loom_strndup(t, out.len);
  loom_utf8_scrub(text, strlen(text));
  json_t *s = json_string(text);
  if (!s)
    abort();
  json_decref(s);
  loom_free(text);
  loom_buf_cleanup(&out);
  loom_free(page);
  return 0;
}
