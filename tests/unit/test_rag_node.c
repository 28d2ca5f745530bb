/*
 * test_rag_node — retrieval from graphs and agents: a graph with a
 * `retrieve` node returns the expected chunks into its channel, a missing
 * index fails the run with a message naming it, a bad node config fails
 * at load, and the `retrieve` tool answers with numbered passages. The
 * corpus is ingested into `<dir>/indexes/docs` and found through the
 * data-directory resolver, as `loom run` does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agents/rag_backends.h"
#include "agents/rag_node.h"
#include "agents/rag_pool.h"
#include "tool_result.h"
#include "agents/tools.h"
#include "core/alloc.h"
#include "core/config.h"
#include "engine_helpers.h"
#include "stores/store.h"

struct fixture {
  char dir[256];
  struct loom_store *store;
  struct loom_config config; /* empty: hash embedder, local indexes */
  struct loom_rag_backends *backends;
  struct loom_rag_resolver resolver; /* the backends' */
};

static int remove_cb(const char *path, const struct stat *sb, int flag,
                     struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

static const struct {
  const char *source, *text;
} corpus[] = {
    {"volcano.md", "# Volcanoes\n\nMagma rises through the crust and erupts "
                   "as lava.\n"},
    {"tides.md", "# Tides\n\nThe gravity of the Moon raises ocean tides.\n"},
    {"chess.txt", "Chess players castle early to keep the king safe."},
};

static int setup(void **state) {
  struct fixture *f = LOOM_NEW(struct fixture);
  const char *tmp = getenv("TMPDIR");
  snprintf(f->dir, sizeof f->dir, "%s/loom-ragn-XXXXXX", tmp ? tmp : "/tmp");
  if (!mkdtemp(f->dir))
    return -1;
  struct loom_error e = {0};
  if (loom_store_open("", f->dir, &f->store, &e) ||
      loom_store_migrate(f->store, &e))
    return -1;
  /* The collection "docs" as loom serve and loom run find it: through
   * rag_backends over <dir>/indexes. */
  char *idx = loom_asprintf("%s/indexes", f->dir);
  f->backends = loom_rag_backends_new(&(struct loom_rag_backends_opts){
      .config = &f->config, .store = f->store, .indexes_dir = idx});
  loom_free(idx);
  f->resolver = loom_rag_backends_resolver(f->backends);
  loom_rag_set_resolver(&f->resolver);
  struct loom_rag rag;
  if (loom_rag_backends_create(f->backends, "docs", &e) ||
      loom_rag_resolve("docs", &rag, &e))
    return -1;
  for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
    struct loom_rag_ingest_opts o = {.format =
                                         loom_rag_format_of(corpus[i].source)};
    struct loom_rag_ingest_result r;
    if (loom_rag_ingest(&rag, corpus[i].source, corpus[i].text,
                        strlen(corpus[i].text), &o, &r, &e))
      return -1;
  }
  loom_rag_release(&rag);
  if (loom_rag_node_kind_register(&e))
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  loom_rag_pool_shutdown();
  loom_rag_set_resolver(NULL);
  loom_rag_backends_free(f->backends);
  loom_store_close(f->store);
  nftw(f->dir, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
  loom_free(f);
  return 0;
}

static const char qa_graph[] =
    "name: qa\n"
    "state:\n"
    "  question: {type: string}\n"
    "  documents: {type: array}\n"
    "  top: {type: string}\n"
    "nodes:\n"
    "  search:\n"
    "    retrieve: {index: %s, query: question, top_k: 2}\n"
    "  pick: {lua: 'return {top = state.documents[1].source}'}\n"
    "edges: ['START -> search', 'search -> pick', 'pick -> END']\n";

static void test_graph_retrieves(void **state) {
  (void)state;
  char *yaml = loom_asprintf(qa_graph, "docs");
  struct loom_graph *g = load_graph(yaml);
  json_t *in = J("{\"question\": \"where does lava come from\"}");
  struct loom_run_opts o = {.input = in};
  json_t *values = NULL;
  assert_int_equal(run_graph(g, &o, &values, NULL, NULL), LOOM_RUN_SUCCESS);
  assert_string_equal(json_string_value(json_object_get(values, "top")),
                      "volcano.md");
  json_t *docs = json_object_get(values, "documents");
  assert_int_equal(json_array_size(docs), 2);
  const char *content =
      json_string_value(json_object_get(json_array_get(docs, 0), "content"));
  assert_non_null(strstr(content, "Magma rises"));
  json_decref(values);
  json_decref(in);
  loom_graph_free(g);
  loom_free(yaml);
}

/* A resolver that holds every search at a gate until the test opens it. */
static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool open, entered;
  struct loom_rag_resolver *inner;
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false,
          NULL};

static loom_err gated_open_cb(void *ud, const char *name, struct loom_rag *out,
                              struct loom_error *e) {
  (void)ud;
  pthread_mutex_lock(&gate.mu);
  gate.entered = true;
  pthread_cond_broadcast(&gate.cv);
  while (!gate.open)
    pthread_cond_wait(&gate.cv, &gate.mu);
  pthread_mutex_unlock(&gate.mu);
  return gate.inner->open(gate.inner->ud, name, out, e);
}

static void gated_close_cb(void *ud, struct loom_rag *r) {
  (void)ud;
  if (gate.inner->close)
    gate.inner->close(gate.inner->ud, r);
}

/* Holds searches at the gate from now on. */
static void gate_close(struct fixture *f) {
  gate.inner = &f->resolver;
  gate.open = gate.entered = false;
  static struct loom_rag_resolver gated = {.open = gated_open_cb,
                                           .close = gated_close_cb};
  loom_rag_set_resolver(&gated);
}

static void gate_wait_entered(void) {
  pthread_mutex_lock(&gate.mu);
  while (!gate.entered)
    pthread_cond_wait(&gate.cv, &gate.mu);
  pthread_mutex_unlock(&gate.mu);
}

/* Lets the searches through, and searches resolve directly again. */
static void gate_open(struct fixture *f) {
  pthread_mutex_lock(&gate.mu);
  gate.open = true;
  pthread_cond_broadcast(&gate.cv);
  pthread_mutex_unlock(&gate.mu);
  loom_rag_set_resolver(&f->resolver);
}

/* The retrieve node parks its run: start returns with the run waiting
 * while the search is held (it is on retrieval's threads, not the
 * caller's), then the run ends with the hits once the search is let go. */
static void test_retrieve_parks_the_run(void **state) {
  struct fixture *f = *state;
  gate_close(f);
  char *yaml = loom_asprintf(qa_graph, "docs");
  struct loom_graph *g = load_graph(yaml);
  json_t *in = J("{\"question\": \"the Moon and ocean tides\"}");
  struct loom_run_opts o = {.input = in};
  struct loom_run *r = new_run(g, &o);
  assert_int_equal(loom_run_start(r), LOOM_RUN_WAITING);
  gate_wait_entered();
  gate_open(f);
  assert_int_equal(loom_run_wait(r), LOOM_RUN_SUCCESS);
  assert_string_equal(
      json_string_value(json_object_get(loom_run_values(r), "top")),
      "tides.md");
  loom_run_free(r);
  json_decref(in);
  loom_graph_free(g);
  loom_free(yaml);
}

static void cancel_cb(void *arg) { loom_run_cancel(arg); }

/* Cancelling a run parked on a search stops it at once; the search that
 * finishes later is dropped (ASan checks nothing leaks or is touched after
 * the run is freed). */
static void test_cancel_while_searching(void **state) {
  struct fixture *f = *state;
  gate_close(f);
  char *yaml = loom_asprintf(qa_graph, "docs");
  struct loom_graph *g = load_graph(yaml);
  json_t *in = J("{\"question\": \"castle the king\"}");
  struct loom_run_opts o = {.input = in};
  struct loom_run *r = new_run(g, &o);
  assert_int_equal(loom_run_start(r), LOOM_RUN_WAITING);
  gate_wait_entered();
  assert_int_equal(loom_run_post(r, cancel_cb, r), LOOM_OK);
  assert_int_equal(loom_run_wait(r), LOOM_RUN_CANCELLED);
  loom_run_free(r);
  gate_open(f);
  loom_rag_pool_shutdown(); /* waits for the dropped search */
  json_decref(in);
  loom_graph_free(g);
  loom_free(yaml);
}

static void test_missing_index_fails_the_run(void **state) {
  (void)state;
  char *yaml = loom_asprintf(qa_graph, "nope");
  struct loom_graph *g = load_graph(yaml);
  json_t *in = J("{\"question\": \"lava\"}");
  struct loom_run_opts o = {.input = in};
  struct loom_error err = {0};
  assert_int_equal(run_graph(g, &o, NULL, NULL, &err), LOOM_RUN_ERROR);
  assert_non_null(strstr(err.message, "no index 'nope'"));
  json_decref(in);
  loom_graph_free(g);
  loom_free(yaml);
}

static void test_bad_config_fails_at_load(void **state) {
  (void)state;
  const char *yaml = "name: bad\n"
                     "nodes:\n"
                     "  s: {retrieve: {index: docs, top_k: 0}}\n"
                     "edges: ['START -> s', 's -> END']\n";
  assert_true(graph_load_fails_with(yaml, "top_k"));
}

static void test_tool(void **state) {
  (void)state;
  struct loom_tools *tools = loom_tools_new();
  struct loom_error e = {0};
  assert_int_equal(loom_rag_tool_add(tools, "docs", &e), LOOM_OK);
  struct loom_tool_env env = {0};
  struct result a = {0};
  loom_tools_invoke(tools, &env, "retrieve",
                    "{\"query\": \"moon and ocean tides\", \"top_k\": 1}",
                    done_cb, &a);
  assert_int_equal(a.calls, 1);
  assert_false(a.is_error);
  assert_non_null(strstr(a.text, "[1] Tides"));
  assert_non_null(strstr(a.text, "(tides.md)"));
  assert_null(strstr(a.text, "[2]"));
  memset(&a, 0, sizeof a);
  loom_tools_invoke(tools, &env, "retrieve", "{\"top_k\": 1}", done_cb, &a);
  assert_int_equal(a.calls, 1);
  assert_true(a.is_error); /* query is required */
  loom_tools_free(tools);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_graph_retrieves),
      cmocka_unit_test(test_retrieve_parks_the_run),
      cmocka_unit_test(test_cancel_while_searching),
      cmocka_unit_test(test_missing_index_fails_the_run),
      cmocka_unit_test(test_bad_config_fails_at_load),
      cmocka_unit_test(test_tool),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
