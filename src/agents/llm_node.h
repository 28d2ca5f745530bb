/*
 * llm_node — the work of an `llm` graph node, apart from the engine:
 * a prompt template filled from the state, and a call whose answer must
 * follow a JSON Schema, with one repair attempt.
 *
 * Templates: `{name}` is replaced by the state field `name` (`{a.b}` walks
 * into objects); strings go in as they are, other values as compact JSON;
 * `{{` and `}}` are literal braces. A field that is missing is an error
 * naming it, so a typo in a graph fails at the first run, loudly.
 *
 * Structured answers: the request's response_schema is sent (providers
 * map it to their mechanism); the answer text is parsed as JSON (a
 * ```json fence around it is tolerated) and validated. If that fails, the
 * model is asked once more with the error; a second failure is
 * LOOM_ERR_UPSTREAM with the validation message.
 */
#ifndef LOOM_AGENTS_LLM_NODE_H
#define LOOM_AGENTS_LLM_NODE_H

#include <jansson.h>

#include "agents/llm_call.h"
#include "core/err.h"

/* Fills `tmpl` from `state`; *out is a heap string (loom_free). Fails with
 * LOOM_ERR_INVALID naming the missing field or the unclosed brace. */
loom_err loom_llm_template_render(const char *tmpl, const json_t *state,
                                  char **out,
                                  struct loom_error *e) LOOM_MUST_USE;

struct loom_llm_structured_result {
  loom_err err;
  const char *error;
  json_t *value; /* the validated answer (borrowed: incref to keep) */
  int attempts;  /* model calls: 1, or 2 after a repair */
  struct loom_llm_usage usage;
  double cost_usd;
};

typedef void (*loom_llm_structured_cb)(void *ud,
                                       struct loom_llm_structured_result *r);

struct loom_llm_structured;

/*
 * Starts a call whose answer must be JSON valid against
 * req->response_schema (required). `p` must outlive the call. on_done runs
 * exactly once, on env->loop, unless this returns an error. `*out` (may be
 * NULL) is valid until on_done has run.
 */
loom_err loom_llm_structured_start(const struct loom_llm_env *env,
                                   const struct loom_provider *p,
                                   const struct loom_llm_request *req,
                                   loom_llm_structured_cb on_done, void *ud,
                                   struct loom_llm_structured **out,
                                   struct loom_error *e) LOOM_MUST_USE;

/* Cancels it (on its loop): on_done runs with LOOM_ERR_CANCELLED before
 * this returns. Do not call after on_done ran. */
void loom_llm_structured_cancel(struct loom_llm_structured *s);

/* Parses an answer as JSON, tolerating a ``` fence; NULL if it is not. */
json_t *loom_llm_answer_json(const char *text);

#endif
