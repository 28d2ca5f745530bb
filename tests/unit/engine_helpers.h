/*
 * engine_helpers — shared by the engine's unit tests: load a graph from
 * text, run it to a stop, and read values back.
 */
#ifndef LOOM_TESTS_ENGINE_HELPERS_H
#define LOOM_TESTS_ENGINE_HELPERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

static inline struct loom_graph *load_graph(const char *yaml) {
  struct loom_graph *g = NULL;
  struct loom_error e = {0};
  if (loom_graph_load(yaml, strlen(yaml), "test.yaml", &g, &e)) {
    fprintf(stderr, "load failed: %s\n", e.message);
    abort();
  }
  return g;
}

/* Whether loading `yaml` is refused with a message containing `needle`;
 * says what the message was when it is not. */
static inline bool graph_load_fails_with(const char *yaml, const char *needle) {
  struct loom_graph *g = NULL;
  struct loom_error e = {0};
  if (loom_graph_load(yaml, strlen(yaml), "test.yaml", &g, &e) == LOOM_OK) {
    loom_graph_free(g);
    fprintf(stderr, "loaded, expected an error with '%s'\n", needle);
    return false;
  }
  if (!strstr(e.message, needle)) {
    fprintf(stderr, "error '%s' lacks '%s'\n", e.message, needle);
    return false;
  }
  return true;
}

/* A new run of `g` with options `o`; aborts (the reason on stderr) when
 * the options are refused. Free with loom_run_free. */
static inline struct loom_run *new_run(const struct loom_graph *g,
                                       const struct loom_run_opts *o) {
  struct loom_run *r = NULL;
  struct loom_error e = {0};
  if (loom_run_new(g, o, &r, &e)) {
    fprintf(stderr, "run_new failed: %s\n", e.message);
    abort();
  }
  return r;
}

/* Starts `r` and, when it parks on kinds that post back (model calls,
 * async nodes), waits until it stops; returns the status it stopped in. */
static inline enum loom_run_status run_to_stop(struct loom_run *r) {
  enum loom_run_status st = loom_run_start(r);
  if (st == LOOM_RUN_WAITING)
    st = loom_run_wait(r);
  return st;
}

/* Runs to a stop; returns the status and leaves values in *values (new
 * reference) when values is not NULL, the error message in err. */
static inline enum loom_run_status
run_graph(const struct loom_graph *g, struct loom_run_opts *o, json_t **values,
          json_t **interrupts, struct loom_error *err) {
  struct loom_run *r = new_run(g, o);
  enum loom_run_status st = run_to_stop(r);
  if (values)
    *values = json_deep_copy(loom_run_values(r));
  if (interrupts)
    *interrupts = json_deep_copy(loom_run_interrupts(r));
  if (err)
    *err = *loom_run_error(r);
  if (st == LOOM_RUN_ERROR && getenv("LOOM_TEST_VERBOSE"))
    fprintf(stderr, "run error: %s\n", loom_run_error(r)->message);
  loom_run_free(r);
  return st;
}

static inline json_t *J(const char *text) {
  json_error_t je;
  json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
  if (!v) {
    fprintf(stderr, "bad test JSON %s: %s\n", text, je.text);
    abort();
  }
  return v;
}

/* True when `v` equals the JSON `text`. */
static inline int json_is(const json_t *v, const char *text) {
  json_t *want = J(text);
  int eq = json_equal(v, want);
  if (!eq) {
    char *got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    fprintf(stderr, "got %s\nwant %s\n", got, text);
    free(got);
  }
  json_decref(want);
  return eq;
}

#endif
