/*
 * libFuzzer target for the JSON request path handlers use
 * (loom_http_json_check: Content-Type check, then loom_json_parse with
 * positions). Input: the Content-Type on the first line ("-" for none),
 * then the body. A body that is accepted must dump and parse back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "io/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  const char *nl = memchr(text, '\n', size);
  size_t ct_len = nl ? (size_t)(nl - text) : size;
  char *ct = loom_strndup(text, ct_len);
  const char *body = nl ? nl + 1 : text + size;
  size_t body_len = size - (size_t)(body - text);
  struct loom_error e;
  loom_error_clear(&e);
  json_t *value = NULL;
  unsigned status = loom_http_json_check(strcmp(ct, "-") == 0 ? NULL : ct, body,
                                         body_len, &value, &e);
  if (status == 0) {
    if (!value)
      abort();
    char *dumped = loom_json_dump(value);
    json_t *again = loom_json_parse(dumped, strlen(dumped), NULL);
    if (!again)
      abort(); /* what we accept must survive a round trip */
    json_decref(again);
    loom_free(dumped);
    json_decref(value);
  } else if ((status != 400 && status != 415) || value || !e.message[0]) {
    abort();
  }
  loom_free(ct);
  return 0;
}
