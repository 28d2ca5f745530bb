/*
 * fuzz_tools — tool calls as a model makes them: a model (or a prompt
 * injected into what it read) picks the tool name and writes the
 * arguments, so both are outside input. They go through
 * loom_tools_invoke — JSON parse, JSON Schema validation, then the tool:
 * the calculator's evaluator, the clock, a Lua tool with a schema that
 * uses most keywords (its body echoes the arguments or raises an error
 * with the model's text), or an unknown name — and, as a ReAct reply,
 * through loom_agent_react_parse, and as a structured answer through
 * loom_llm_answer_json (JSON, maybe in a ``` fence) and the schema
 * validation a model node applies. Every call must answer exactly once,
 * synchronously (no env: http_fetch refuses at once), with some text; a
 * calculator success is a number.
 *
 * Input: the first byte picks the tool; then, when it picks "by name",
 * a name up to the first newline; the rest is the arguments text. The
 * whole input is also read as a ReAct reply.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent.h"
#include "agents/llm_node.h"
#include "agents/tools.h"
#include "core/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char LUA_TOOL[] =
    "{\"name\":\"lookup\",\"description\":\"echo\",\"max_instructions\":20000,"
    "\"max_memory\":1048576,\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"q\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":64,\"pattern\":\"^[a-z ]+$\"},\"n\":{\"type\":\"integer\","
    "\"minimum\":0,\"maximum\":10},\"tags\":{\"type\":\"array\",\"items\":"
    "{\"enum\":[\"a\",\"b\",1]},\"maxItems\":3},\"o\":{\"anyOf\":[{\"type\":"
    "\"null\"},{\"type\":\"object\",\"properties\":{\"x\":{\"type\":"
    "\"number\",\"exclusiveMinimum\":0}},\"required\":[\"x\"]}]},\"k\":"
    "{\"oneOf\":[{\"const\":1},{\"type\":\"string\"}],\"not\":{\"const\":"
    "\"no\"}}},\"required\":[\"q\"],\"additionalProperties\":false},"
    "\"lua\":\"if args.n == 3 then error(args.q) end return args\"}";

static const char *const NAMES[] = {"calculator", "current_time", "http_fetch",
                                    "lookup"};

struct answer {
  int calls;
  bool is_error;
  char *text;
};

static void done_cb(void *ud, bool is_error, const char *text) {
  struct answer *a = ud;
  if (!text || a->calls++)
    abort(); /* no text, or a second answer */
  a->is_error = is_error;
  a->text = loom_strdup(text);
}

static struct loom_tools *registry(void) {
  static struct loom_tools *r;
  if (r)
    return r;
  r = loom_tools_new();
  loom_tools_add_builtins(r);
  json_t *decl = json_loads(LUA_TOOL, 0, NULL);
  struct loom_error e;
  if (!decl || loom_tools_add_lua(r, decl, &e) != LOOM_OK)
    abort();
  json_decref(decl);
  return r;
}

/* A structured answer: its JSON (fenced or not) against a schema that
 * uses most keywords; a value that passes is an object. */
static void structured(const char *text) {
  static json_t *decl; /* kept, so the schema inside it is not a leak */
  if (!decl)
    decl = json_loads(LUA_TOOL, 0, NULL);
  const json_t *schema = json_object_get(decl, "parameters");
  json_t *v = loom_llm_answer_json(text);
  struct loom_error e;
  if (v && loom_json_schema_validate(schema, v, &e) == LOOM_OK &&
      !json_is_object(v))
    abort();
  json_decref(v);
}

static void react(const char *text) {
  char *tool, *input, *answer;
  if (loom_agent_react_parse(text, &tool, &input, &answer) &&
      !(tool && input) && !answer)
    abort(); /* parsed, but neither an action nor an answer */
  loom_free(tool);
  loom_free(input);
  loom_free(answer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  char *text = loom_strndup((const char *)data + 1, size - 1);
  const char *args = text;
  char *name = NULL;
  unsigned pick = data[0] % 5;
  if (pick == 4) { /* a name of the model's own */
    char *nl = strchr(text, '\n');
    name = loom_strndup(text, nl ? (size_t)(nl - text) : strlen(text));
    args = nl ? nl + 1 : "";
  }
  struct answer a = {0};
  loom_tools_invoke(registry(), NULL, name ? name : NAMES[pick], args, done_cb,
                    &a);
  if (a.calls != 1)
    abort(); /* no answer, or not synchronously */
  if (pick == 0 && !a.is_error) {
    char *end;
    strtod(a.text, &end);
    if (end == a.text || *end)
      abort(); /* the calculator answers a number */
  }
  react(text);
  structured(args);
  loom_free(a.text);
  loom_free(name);
  loom_free(text);
  return 0;
}
