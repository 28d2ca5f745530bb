/*
 * test_rag_provider — embeddings through the provider layer: against the
 * scripted OpenAI-compatible server, the embedder learns the model's
 * dimension, ingested chunks are sent as the request's input, the vectors
 * the model returns decide the vector ranking, and a provider error fails
 * the ingest with the provider's message, storing nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <sys/stat.h>

#include "agents/provider.h"
#include "agents/rag.h"
#include "llm_server_harness.h"
#include "stores/store.h"
#include "stores/vector_store.h"

static struct llm_server srv;

static int remove_cb(const char *path, const struct stat *sb, int flag,
                     struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

static void ingest_one(struct loom_rag *rag, const char *src, const char *text,
                       loom_err want, struct loom_error *e) {
  struct loom_rag_ingest_opts o = {.format = LOOM_RAG_TEXT};
  struct loom_rag_ingest_result r;
  assert_int_equal(loom_rag_ingest(rag, src, text, strlen(text), &o, &r, e),
                   want);
}

static void test_provider_embeddings(void **state) {
  (void)state;
  llm_server_script(&srv, "[{\"kind\":\"embeddings\",\"vectors\":[[1,0,0]]},"
                          "{\"kind\":\"embeddings\",\"vectors\":[[1,0,0]]},"
                          "{\"kind\":\"embeddings\",\"vectors\":[[0,1,0]]},"
                          "{\"kind\":\"embeddings\",\"vectors\":[[0.1,0.9,0]]},"
                          "{\"kind\":\"error\",\"status\":400}]");
  char url[128], dir[256];
  snprintf(url, sizeof url, "%s/v1", srv.base);
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/loom-ragp-XXXXXX", tmp ? tmp : "/tmp");
  assert_non_null(mkdtemp(dir));
  struct loom_provider *p = loom_provider_new(
      &loom_provider_openai, "openai", "text-embedding-3-small", url, "k");
  struct loom_rag_embedder *emb = NULL;
  struct loom_error e = {0};
  assert_int_equal(loom_rag_provider_embedder_new(p, &emb, &e), LOOM_OK);
  assert_int_equal(emb->dim, 3);
  struct loom_store *store = NULL;
  struct loom_vstore *vs = NULL;
  struct loom_vstore_params vp = {.dim = 3, .metric = LOOM_METRIC_COSINE};
  char *vdir = loom_asprintf("%s/vec", dir);
  assert_int_equal(loom_store_open("", dir, &store, &e), LOOM_OK);
  assert_int_equal(loom_store_migrate(store, &e), LOOM_OK);
  assert_int_equal(loom_vstore_open(vdir, &vp, &vs, &e), LOOM_OK);
  struct loom_rag rag = {.store = store,
                         .vectors = vs,
                         .embedder = emb,
                         .tenant = "t",
                         .collection = "c"};
  ingest_one(&rag, "alpha.txt", "Alpha text.", LOOM_OK, &e);
  ingest_one(&rag, "beta.txt", "Beta text.", LOOM_OK, &e);
  /* The model's vectors decide: the query's is nearest beta's. */
  struct loom_rag_query q = {
      .text = "which one", .top_k = 1, .mode = LOOM_RAG_VECTOR};
  json_t *hits = NULL;
  assert_int_equal(loom_rag_search(&rag, &q, &hits, &e), LOOM_OK);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(hits, 0), "source")),
      "beta.txt");
  json_decref(hits);
  json_t *reqs = llm_server_requests(&srv);
  json_t *second = json_object_get(json_array_get(reqs, 1), "json");
  assert_string_equal(
      json_string_value(json_array_get(json_object_get(second, "input"), 0)),
      "Alpha text.");
  json_decref(reqs);
  /* A provider error fails the ingest and stores nothing. */
  ingest_one(&rag, "gamma.txt", "Gamma.", LOOM_ERR_INVALID, &e);
  assert_non_null(strstr(e.message, "openai/text-embedding-3-small"));
  json_t *docs = NULL;
  assert_int_equal(loom_store_list_documents(store, "t", "c", &docs, &e),
                   LOOM_OK);
  assert_int_equal(json_array_size(docs), 2);
  json_decref(docs);
  loom_vstore_close(vs);
  loom_store_close(store);
  loom_rag_provider_embedder_free(emb);
  loom_free(vdir);
  nftw(dir, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state) {
  (void)state;
  if (!llm_server_start(&srv, NULL)) {
    fprintf(stderr, "node is needed for the scripted model server\n");
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  llm_server_stop(&srv);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_provider_embeddings),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
