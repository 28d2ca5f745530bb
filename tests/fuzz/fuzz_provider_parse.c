/*
 * fuzz_provider_parse — what a model server sends back, as the OpenAI and
 * Anthropic translations read it: a whole chat answer, an embeddings
 * answer, or a streamed answer cut into SSE events. The first byte picks
 * the provider and the form; the rest is the server's bytes. A model
 * server is outside input like any client: nothing it sends may crash
 * loom or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agents/llm.h"
#include "agents/provider.h"
#include "agents/sse_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct stream {
  const struct loom_provider_ops *ops;
  struct loom_llm_acc acc;
};

/* Reads every byte of a delta, so the sanitizers see one that lies. */
static void delta_cb(void *ud, const char *text, size_t len) {
  unsigned *sum = ud;
  for (size_t i = 0; i < len; i++)
    *sum += (unsigned char)text[i];
}

static loom_err event_cb(void *ud, const struct loom_sse_event *ev) {
  struct stream *s = ud;
  struct loom_error e = {0};
  return s->ops->stream_event(&s->acc, ev, &e);
}

static void parse_stream(const struct loom_provider_ops *ops, const char *body,
                         size_t len) {
  struct stream s = {.ops = ops};
  unsigned sum = 0;
  loom_llm_acc_init(&s.acc, delta_cb, &sum);
  struct loom_sse_parser p;
  loom_sse_init(&p, 1 << 16, event_cb, &s);
  if (loom_sse_feed(&p, body, len) == LOOM_OK)
    (void)loom_sse_finish(&p);
  loom_sse_cleanup(&p);
  struct loom_llm_response r = {0};
  loom_llm_acc_take(&s.acc, &r);
  json_decref(loom_llm_response_message(&r));
  loom_llm_response_cleanup(&r);
  loom_llm_acc_cleanup(&s.acc);
}

static void parse_whole(const struct loom_provider_ops *ops, const char *body,
                        size_t len) {
  struct loom_llm_response r = {0};
  struct loom_error e = {0};
  if (ops->chat_parse(body, len, &r, &e) == LOOM_OK)
    json_decref(loom_llm_response_message(&r));
  loom_llm_response_cleanup(&r);
}

static void parse_embeddings(const char *body, size_t len) {
  struct loom_embeddings out = {0};
  struct loom_error e = {0};
  if (loom_provider_openai.embed_parse(body, len, &out, &e) == LOOM_OK &&
      out.n * out.dims && !out.data)
    abort();
  loom_embeddings_cleanup(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  const char *body = (const char *)data + 1;
  size_t len = size - 1;
  switch (data[0] % 5) {
  case 0:
    parse_whole(&loom_provider_openai, body, len);
    break;
  case 1:
    parse_whole(&loom_provider_anthropic, body, len);
    break;
  case 2:
    parse_embeddings(body, len);
    break;
  case 3:
    parse_stream(&loom_provider_openai, body, len);
    break;
  default:
    parse_stream(&loom_provider_anthropic, body, len);
  }
  return 0;
}
