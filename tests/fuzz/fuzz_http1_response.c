/*
 * fuzz_http1_response — what a plain-HTTP server sends back to loom's own
 * HTTP/1.1 client (io/http1_reader.c): any bytes, in any pieces, then
 * possibly the close. Whatever arrives, the reader stays inside what it
 * was given, the body and headers kept stay within their caps, a streamed
 * 2xx body never lands in the buffer, and once the reader has given its
 * verdict it keeps it.
 *
 * Input: a first byte choosing HEAD, streaming, a small body cap and
 * whether the peer closes at the end; a second one the piece size; then
 * the response.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/http_call.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int chunks_left;
static volatile unsigned sink;

static bool chunk_cb(const char *data, size_t len, void *ud) {
  (void)ud;
  for (size_t i = 0; i < len; i++) /* every byte read: ASan checks them */
    sink += (unsigned char)data[i];
  return --chunks_left != 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  unsigned opts = data[0], piece = data[1] % 64 + 1;
  struct loom_http_call call = {0};
  call.on_chunk = opts & 2 ? chunk_cb : NULL;
  chunks_left = opts & 8 ? 3 : -1;
  loom_buf_init(&call.body, opts & 4 ? 64 : 1u << 20);
  loom_http_client_headers_init(&call.resp_headers, HTTP_CALL_MAX_HEADER_BYTES);
  struct h1_reader r;
  h1_reader_init(&r);
  h1_reader_start(&r, &call, opts & 1);
  enum h1_read verdict = H1_MORE;
  for (size_t at = 2; at < size && verdict == H1_MORE; at += piece) {
    size_t n = size - at < piece ? size - at : piece;
    /* an exact copy, so a read past the piece is caught */
    char *copy = loom_malloc(n);
    memcpy(copy, data + at, n);
    verdict = h1_reader_feed(&r, copy, n);
    loom_free(copy);
  }
  if (verdict == H1_MORE && opts & 16)
    verdict = h1_reader_feed(&r, NULL, 0);
  if (verdict != H1_MORE && h1_reader_feed(&r, "x", 1) == H1_MORE)
    abort(); /* a verdict is final */
  if (verdict == H1_BAD && !*h1_reader_error(&r))
    abort();
  if (call.body.len > call.body.max ||
      call.resp_headers.pairs.len > HTTP_CALL_MAX_HEADER_BYTES)
    abort();
  if (call.on_chunk && r.status >= 200 && r.status < 300 && call.body.len)
    abort();
  (void)loom_http_client_header(&call, "content-type");
  (void)h1_reader_keep_alive(&r);
  h1_reader_cleanup(&r);
  loom_buf_cleanup(&call.body);
  loom_http_client_headers_cleanup(&call.resp_headers);
  return 0;
}
