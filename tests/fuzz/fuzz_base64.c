/*
 * fuzz_base64 — any characters through the base64 decoder (a PDF posted to
 * the documents API, embeddings a model server sends packed). The output
 * buffer is exactly LOOM_BASE64_DECODED_MAX bytes, so the sanitizers catch
 * a write past what the header promises; a success never yields more.
 */
#include <stdint.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t cap = LOOM_BASE64_DECODED_MAX(size), n = 0;
  unsigned char *out = loom_malloc(cap);
  if (loom_base64_decode((const char *)data, size, out, &n, NULL) == LOOM_OK &&
      n > cap)
    abort();
  loom_free(out);
  return 0;
}
