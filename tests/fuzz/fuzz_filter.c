/*
 * fuzz_filter — libFuzzer target for the metadata filter parser and its two
 * matchers: any bytes must either compile or be rejected with a message;
 * a compiled filter, evaluated over the column index (loom_filter_eval),
 * must select exactly the documents loom_filter_match selects. Never
 * crash, leak or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stores/filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const DOCS[] = {
    "{\"genre\":\"drama\",\"year\":2019,\"ok\":true,\"tags\":[\"a\",\"b\"]}",
    "{\"genre\":\"a\",\"year\":\"2019\",\"ok\":false,\"tags\":\"a\"}",
    "{\"genre\":null,\"year\":2019.0,\"tags\":[1,\"a\"],\"o\":{\"x\":1}}",
    "{\"r\":8.5,\"tags\":[],\"ok\":1}",
    "{\"r\":-0.0,\"genre\":[\"drama\"]}",
    "{}",
};
enum { NDOCS = sizeof DOCS / sizeof DOCS[0] + 1 }; /* + no metadata */

static json_t *docs[NDOCS];
static struct loom_vmeta index_;

static const json_t *doc_cb(void *ud, uint32_t slot) {
  (void)ud;
  return docs[slot];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!docs[0]) {
    for (size_t i = 0; i + 1 < NDOCS; i++) {
      docs[i] = json_loads(DOCS[i], 0, NULL);
      loom_vmeta_set(&index_, (uint32_t)i, docs[i]);
    }
  }
  struct loom_filter *f = NULL;
  struct loom_error e;
  if (loom_filter_parse((const char *)data, size, &f, &e) == LOOM_OK) {
    uint64_t bits[1];
    loom_filter_eval(f, &index_, NDOCS, doc_cb, NULL, bits);
    for (uint32_t s = 0; s < NDOCS; s++)
      if (((bits[0] >> s) & 1) != loom_filter_match(f, docs[s]))
        __builtin_trap(); /* the two matchers disagree */
    loom_filter_free(f);
  } else if (e.message[0] == '\0') {
    __builtin_trap(); /* every rejection must say why */
  }
  return 0;
}
