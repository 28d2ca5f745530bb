/*
 * nodes — the `llm` and `agent` graph node kinds.
 *
 *   summarize:
 *     kind: llm
 *     model: openai/gpt-4o-mini      # optional: the configured default
 *     system: "You write briefly."   # optional template
 *     prompt: "Summarize: {text}"    # template over the state
 *     schema: {type: object, ...}    # optional: structured answer (one repair)
 *     output: summary                # channel for the answer (default output)
 *     temperature: 0.2               # optional; max_tokens too
 *   research:
 *     kind: agent
 *     prompt: "{question}"
 *     tools:                         # names, or inline Lua tools
 *       - calculator
 *       - {name: shout, parameters: {...}, lua: "return args.s:upper()"}
 *     tools_file: tools.yaml         # optional: more Lua tools (tools.h)
 *     max_iterations: 6              # optional (default 10)
 *     react: false                   # text-format tools for models without
 *     output: answer
 *     messages: transcript           # optional channel: the conversation
 *
 * Model calls run on dedicated model loops (LOOM_LLM_LOOPS, default 1),
 * each with its own HTTP client (LOOM_LLM_MAX_CONNECTIONS per host,
 * default 16384), and the process's providers, tools and prices. Text
 * deltas are forwarded to the run's subscribers as `custom` events
 * {"event":"token","node","text"},
 * and each node reports {"event":"llm_usage","node","model",
 * "prompt_tokens","completion_tokens","cost_usd","calls"}; llm_usage.h sums
 * those per run and tenant. LOOM_TOOLS_FILE names a tool file whose Lua
 * tools every graph may use by name; LOOM_TOOL_PLUGINS names shared
 * objects whose C tools they may use too (tools_plugin.h).
 *
 * A task's `start` returns at once: the run parks, holding no thread, and
 * the model loop posts the task's continuations back to the run
 * (loom_task_post), where the deltas are emitted and the task finished.
 * Cancelling the run cancels its calls.
 */
#ifndef LOOM_AGENTS_NODES_H
#define LOOM_AGENTS_NODES_H

#include "agents/tools.h"
#include "core/config.h"
#include "core/err.h"

/*
 * Starts the model loop, reads providers from `cfg` (and LOOM_ENDPOINTS),
 * prices (built-in, plus LOOM_LLM_PRICES: inline JSON or a file), registers
 * the built-in tools, and registers the `llm` and `agent` kinds with the
 * engine. Call once at start-up before graphs load; a second call is a
 * no-op. LOOM_ERR_INVALID for a malformed endpoint list or price table.
 */
loom_err loom_agents_nodes_register(const struct loom_config *cfg,
                                    struct loom_error *e) LOOM_MUST_USE;

/* The process's tool registry, to add C plug-in tools at start-up (before
 * graphs load). NULL before loom_agents_nodes_register. */
struct loom_tools *loom_agents_tools(void);

/* Stops the model loop (at exit, after the runs stopped). */
void loom_agents_nodes_shutdown(void);

#endif
