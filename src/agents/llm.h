/*
 * llm — what a model call is: the request, the answer, streamed deltas.
 *
 * The types here are the same for every provider. Messages and tools are
 * JSON (jansson) in one neutral shape, so the engine can keep a
 * conversation in a state channel and hand it to any provider unchanged:
 *
 *   {"role":"system"|"user", "content":"..."}
 *   {"role":"assistant", "content":"..." | null,
 *    "tool_calls":[{"id":"call_1","name":"f","arguments":"{\"x\":1}"}]}
 *   {"role":"tool", "tool_call_id":"call_1", "name":"f", "content":"..."}
 *
 * A tool is {"name":..., "description":..., "parameters":{JSON Schema}}.
 * Each provider translates these to its wire format (provider.h). While a
 * streamed answer arrives, a struct loom_llm_acc joins the pieces (text,
 * tool-call argument fragments, usage) into a loom_llm_response and hands
 * each text delta to a callback as it comes.
 */
#ifndef LOOM_AGENTS_LLM_H
#define LOOM_AGENTS_LLM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

/* Largest answer (text, or one tool call's arguments) accepted: 8 MiB. */
#define LOOM_LLM_MAX_TEXT (8u << 20)
/* Most tool calls accepted in one answer. */
#define LOOM_LLM_MAX_TOOL_CALLS 64

struct loom_llm_request {
  const char *model;       /* wire model id ("gpt-4o-mini"); NULL: provider's */
  json_t *messages;        /* array, neutral shape above (borrowed) */
  json_t *tools;           /* array of tools or NULL (borrowed) */
  const char *tool_choice; /* NULL, "auto", "none", "required" or a name */
  json_t *response_schema; /* JSON Schema the answer must follow, or NULL */
  const char *response_schema_name; /* its name; NULL gives "response" */
  bool parallel_tool_calls_off;     /* ask for at most one tool call */
  double temperature;               /* < 0: not sent */
  long max_tokens; /* 0: not sent (Anthropic requires it: 4096) */
  bool stream;     /* ask for SSE; the call layer sets this */
};

struct loom_llm_usage {
  long prompt_tokens;
  long completion_tokens;
};

struct loom_llm_tool_call {
  char *id; /* provider's id ("call_…", "toolu_…") */
  char *name;
  char *arguments; /* JSON text as the model wrote it ("{}" when empty) */
};

struct loom_llm_response {
  char *content; /* text answer, "" when the model only called tools */
  struct loom_llm_tool_call *calls;
  size_t n_calls;
  char *finish_reason; /* normalised: stop, tool_calls, length, other */
  char *model;         /* model id the server reported, or NULL */
  char *id;            /* response id, or NULL */
  struct loom_llm_usage usage;
};

/* Releases everything the response owns and zeroes it. */
void loom_llm_response_cleanup(struct loom_llm_response *r);

/*
 * The answer as a neutral assistant message (a new reference), ready to be
 * appended to the conversation.
 */
json_t *loom_llm_response_message(const struct loom_llm_response *r);

/* Text deltas while an answer streams in; `text` is not NUL-terminated. */
typedef void (*loom_llm_delta_cb)(void *ud, const char *text, size_t len);

/* One tool call being joined (struct loom_llm_acc). */
struct loom_llm_acc_call {
  char *id;
  char *name;
  struct loom_buf args;
  long index; /* the stream's index for this call (or block index) */
};

/* Joins a streamed answer. Caller-owned: _init / _cleanup. The tool-call
 * slots are allocated with the first tool call: most answers are text,
 * and thousands of calls may be in flight at once. */
struct loom_llm_acc {
  struct loom_buf content;
  struct loom_llm_acc_call *calls; /* LOOM_LLM_MAX_TOOL_CALLS, or NULL */
  size_t n_calls;
  char *finish_reason;
  char *model;
  char *id;
  struct loom_llm_usage usage;
  bool done; /* the stream said it is complete */
  loom_llm_delta_cb delta_cb;
  void *delta_ud;
};

void loom_llm_acc_init(struct loom_llm_acc *a, loom_llm_delta_cb cb, void *ud);
void loom_llm_acc_cleanup(struct loom_llm_acc *a);

/* Appends answer text and forwards it to the delta callback. */
loom_err loom_llm_acc_text(struct loom_llm_acc *a, const char *text,
                           size_t len) LOOM_MUST_USE;

/*
 * A tool-call fragment. `index` < 0 means the server sent none: a fragment
 * with an `id` then starts a new call and one without continues the last
 * call (what servers that omit the index mean). With an index, fragments
 * are joined by it. `id`, `name` and `args` may each be NULL.
 */
loom_err loom_llm_acc_tool(struct loom_llm_acc *a, long index, const char *id,
                           const char *name, const char *args,
                           size_t args_len) LOOM_MUST_USE;

/* Replaces a string field (finish_reason, model, id) with a copy of `v`. */
void loom_llm_acc_set(char **field, const char *v);

/*
 * Moves what was joined into `out` (which the caller cleans up); `a` is
 * left empty. Calls with empty arguments get "{}".
 */
void loom_llm_acc_take(struct loom_llm_acc *a, struct loom_llm_response *out);

/* Embeddings: one vector per input, in input order. */
struct loom_embeddings {
  float *data; /* n * dims floats, row-major */
  size_t n;
  size_t dims;
  long prompt_tokens;
};

void loom_embeddings_cleanup(struct loom_embeddings *e);

#endif
