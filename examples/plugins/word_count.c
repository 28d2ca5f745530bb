/*
 * word_count — an example tool plug-in: a C tool built apart from loom and
 * loaded at start-up.
 *
 * Build it (into build/plugins/word_count.so) and name it at start-up:
 *
 *   cmake --build build --target word_count
 *   LOOM_TOOL_PLUGINS=$PWD/build/plugins/word_count.so build/loom serve
 *
 * Then any agent node may list `word_count` in its tools. The tool counts
 * the words, sentences and characters of a text. The arguments arrive
 * already checked against the schema below, so `text` is a string here.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/tools_plugin.h"

const int loom_plugin_abi = LOOM_PLUGIN_ABI;

/* Exported for loom; declared here as the plug-in's only entry point. */
loom_err loom_plugin_init(const struct loom_plugin_host *host,
                          struct loom_error *e);

static const char SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\","
    "\"description\":\"the text to count\"}},\"required\":[\"text\"],"
    "\"additionalProperties\":false}";

/* Synchronous: quick, and blocks on nothing. *out is malloc'd; loom frees
 * it. */
static loom_err count_run(void *self, const json_t *args, char **out,
                          struct loom_error *e) {
  (void)self, (void)e;
  const char *text = json_string_value(json_object_get(args, "text"));
  size_t words = 0, sentences = 0, chars = strlen(text);
  for (const char *p = text; *p; p++) {
    bool starts_word = !isspace((unsigned char)*p) &&
                       (p == text || isspace((unsigned char)p[-1]));
    words += starts_word;
    sentences += (*p == '.' || *p == '!' || *p == '?') &&
                 (p[1] == '\0' || isspace((unsigned char)p[1]));
  }
  char buf[128];
  snprintf(buf, sizeof buf, "%zu words, %zu sentences, %zu characters", words,
           sentences, chars);
  *out = strdup(buf);
  return *out ? LOOM_OK : LOOM_ERR_INTERNAL;
}

loom_err loom_plugin_init(const struct loom_plugin_host *host,
                          struct loom_error *e) {
  struct loom_tool t = {
      .name = "word_count",
      .description = "Count the words, sentences and characters of a text.",
      .parameters = SCHEMA,
      .run = count_run,
  };
  return host->add_tool(host->tools, &t, e);
}
