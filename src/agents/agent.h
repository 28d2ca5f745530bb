/*
 * agent — the tool-using loop of an agent, asynchronous on one event loop.
 *
 * The `agent` node kind (and crews) run this: call the model with the
 * conversation and the agent's tools; if it asks for tools, run them all
 * concurrently (results go back in the order of the calls), append the
 * results, and call the model again; stop when it answers without tools.
 *
 * Guards:
 *  - max_iterations model calls at most; the last one is made with
 *    tool_choice "none" and a note asking for the final answer, so an
 *    agent always ends with an answer rather than a dangling tool call;
 *  - a call of the same tool with the same arguments (compared as
 *    normalised JSON) is not run again: the model gets an error result
 *    telling it so;
 *  - tool failures and argument validation errors are results with
 *    is_error, fed back to the model (tools.h), never a failed run.
 *
 * Each model call is one assistant message with an id of its own
 * ("run-<uuid>"), made when the call starts: on_call hands it to the
 * caller before any of the call's text, and the message appended to the
 * conversation carries it as "id", so text streamed under it can be
 * matched to the message kept (as LangGraph matches a streamed AIMessage
 * to the one in state).
 *
 * ReAct fallback (opts.react) for models without native function calling:
 * the tools are described in the system prompt, the model writes
 * "Action: <tool>" / "Action Input: <json>" or "Final Answer: <text>",
 * and tool results go back as "Observation: ..." user messages.
 */
#ifndef LOOM_AGENTS_AGENT_H
#define LOOM_AGENTS_AGENT_H

#include <jansson.h>
#include <stdbool.h>

#include "agents/llm_call.h"
#include "agents/tools.h"
#include "core/err.h"

struct loom_agent;

struct loom_agent_result {
  loom_err err;                /* LOOM_OK, or the failing model call's error */
  const char *error;           /* message, "" on success */
  json_t *messages;            /* the whole conversation, new messages appended
                                  (borrowed: json_incref to keep) */
  const char *answer;          /* the final answer text */
  int iterations;              /* model calls made */
  int tool_calls;              /* tools run (repeats refused are not counted) */
  struct loom_llm_usage usage; /* summed over the model calls */
  double cost_usd;             /* summed, from env->prices */
};

/* Progress for subscribers: type is "tool_call" ({id,name,arguments}),
 * "tool_result" ({id,name,is_error,content}) or "llm_end" ({iteration,
 * finish_reason, usage}). `data` is borrowed. */
typedef void (*loom_agent_event_cb)(void *ud, const char *type,
                                    const json_t *data);

struct loom_agent_opts {
  const struct loom_provider *provider; /* must outlive the agent */
  const struct loom_tools *tools;       /* registry; may be NULL */
  const char *const *tool_names;        /* NULL-ended; NULL: no tools */
  int max_iterations;                   /* 0: 10 */
  bool react;                           /* text-format tool use */
  double temperature;                   /* < 0: provider default */
  struct loom_tool_env tool_env;        /* loop/http default to the env's */
  loom_llm_delta_cb on_delta;           /* answer text as it streams */
  /* A model call starts: the text on_delta gets from now on is that
   * call's, and the assistant message it ends in carries `message_id`
   * (borrowed) as its "id". May be NULL. */
  void (*on_call)(void *ud, const char *message_id);
  loom_agent_event_cb on_event;                           /* may be NULL */
  void (*on_done)(void *ud, struct loom_agent_result *r); /* required */
  void *ud;
};

/*
 * Starts the loop on env->loop (call on that loop's thread) with a copy of
 * `messages` (neutral shape, llm.h). LOOM_ERR_NOT_FOUND for an unknown tool
 * name, LOOM_ERR_INVALID for a request the provider cannot build; then
 * on_done does not run. `*out` (may be NULL) is valid until on_done ran.
 */
loom_err loom_agent_start(const struct loom_llm_env *env,
                          const struct loom_agent_opts *o,
                          const json_t *messages, struct loom_agent **out,
                          struct loom_error *e) LOOM_MUST_USE;

/* Cancels: on_done runs with LOOM_ERR_CANCELLED (now, or once the tools in
 * flight have returned). */
void loom_agent_cancel(struct loom_agent *a);

/* The ReAct parser, for tests and the text fallback of other callers:
 * fills *tool and *input (heap, loom_free) for an action, or *answer for a
 * final answer; false when the text has neither. */
bool loom_agent_react_parse(const char *text, char **tool, char **input,
                            char **answer);

#endif
