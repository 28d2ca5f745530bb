/*
 * fuzz_rag_chunk — libFuzzer target for the document chunkers: any bytes,
 * read as text, Markdown and HTML, must chunk without crashing, leaking or
 * reading out of bounds; every chunk is non-empty, within the size limit
 * in every format (the hard cut never exceeds it).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agents/rag_chunk.h"
#include "core/alloc.h"

#define SIZE 64
#define OVERLAP 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  for (int f = LOOM_RAG_TEXT; f <= LOOM_RAG_HTML; f++) {
    struct loom_rag_chunks cs = {0};
    struct loom_error e;
    if (loom_rag_chunk(text, size, (enum loom_rag_format)f, SIZE, OVERLAP, &cs,
                       &e) != LOOM_OK)
      __builtin_trap();
    for (size_t i = 0; i < cs.n; i++) {
      size_t n = strlen(cs.v[i].text);
      if (n == 0 || n > SIZE)
        __builtin_trap();
    }
    loom_rag_chunks_cleanup(&cs);
  }
  loom_free(loom_rag_html_to_text(text, size));
  return 0;
}
