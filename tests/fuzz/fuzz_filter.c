/*
 * fuzz_filter — libFuzzer target for the metadata filter parser: any bytes
 * must either compile (then match a fixed document without crashing) or be
 * rejected with a message; never crash, leak or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stores/filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static json_t *doc;
  if (!doc)
    doc = json_loads("{\"genre\":\"drama\",\"year\":2019,\"r\":8.5,\"ok\":true,"
                     "\"tags\":[\"a\",\"b\"]}",
                     0, NULL);
  struct loom_filter *f = NULL;
  struct loom_error e;
  if (loom_filter_parse((const char *)data, size, &f, &e) == LOOM_OK) {
    (void)loom_filter_match(f, doc);
    (void)loom_filter_match(f, NULL);
    loom_filter_free(f);
  } else if (e.message[0] == '\0') {
    __builtin_trap(); /* every rejection must say why */
  }
  return 0;
}
