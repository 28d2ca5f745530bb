/*
 * test_rag — retrieval end to end on a real SQLite store and a real vector
 * store: a small corpus on distinct topics is ingested, and the right
 * document must come first for keyword, vector and hybrid queries;
 * re-ingesting is idempotent; a changed file replaces its chunks; chunks
 * end at sentence/word boundaries and carry their heading path; HTML loses
 * its scripts and styles; tenants and filters restrict results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agents/rag.h"
#include "core/alloc.h"
#include "stores/store.h"
#include "stores/vector_store.h"

static const char sourdough_md[] =
    "# Sourdough bread\n\nA slow bread leavened by wild yeast.\n\n"
    "## Starter\n\nFeed the starter with equal weights of flour and water "
    "every day until it doubles and smells sour.\n\n"
    "## Baking\n\nShape the dough, proof it overnight in the fridge, and "
    "bake in a hot Dutch oven with steam for a crisp crust.\n";

static const char volcano_html[] =
    "<html><head><title>Volcanoes</title><style>body{color:lava}</style>"
    "<script>function erupt(){ return 'magma chamber'; }</script></head>"
    "<body><h1>Volcanoes</h1><p>A volcano erupts when molten magma rises "
    "from the mantle through cracks in the crust.</p><h2>Lava</h2>"
    "<p>Basaltic lava flows are runny; andesite forms steep cones &amp; "
    "explosive eruptions.</p><!-- hidden comment --></body></html>";

static const char chess_txt[] =
    "Chess openings. The Sicilian Defence answers e4 with c5. Knights "
    "should be developed before bishops, and castling early keeps the king "
    "safe. Control of the centre decides most middlegames.";

static const char tides_md[] =
    "# Ocean tides\n\nTides are the rise and fall of sea level caused by "
    "the gravity of the Moon and the Sun pulling on the oceans. Spring "
    "tides come at full and new moon.\n";

static const char kube_txt[] =
    "Kubernetes schedules pods onto nodes of a cluster. A deployment keeps "
    "a number of container replicas running and rolls out new images.";

struct fixture {
  char dir[256];
  struct loom_store *store;
  struct loom_vstore *vs;
  struct loom_rag_embedder emb;
  struct loom_rag rag;
};

static int remove_cb(const char *path, const struct stat *sb, int flag,
                     struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

static void ingest(struct fixture *f, const char *source, const char *text,
                   struct loom_rag_ingest_result *res) {
  struct loom_rag_ingest_opts o = {.chunk_size = 400,
                                   .default_overlap = true,
                                   .format = loom_rag_format_of(source)};
  struct loom_error e = {0};
  struct loom_rag_ingest_result tmp;
  if (loom_rag_ingest(&f->rag, source, text, strlen(text), &o, res ? res : &tmp,
                      &e) != LOOM_OK)
    fail_msg("ingest %s: %s", source, e.message);
}

static int setup(void **state) {
  struct fixture *f = LOOM_NEW(struct fixture);
  const char *tmp = getenv("TMPDIR");
  snprintf(f->dir, sizeof f->dir, "%s/loom-rag-XXXXXX", tmp ? tmp : "/tmp");
  if (!mkdtemp(f->dir))
    return -1;
  struct loom_error e = {0};
  char *vdir = loom_asprintf("%s/vec", f->dir);
  f->emb = loom_rag_hash_embedder(0);
  struct loom_vstore_params p = {.dim = f->emb.dim,
                                 .metric = LOOM_METRIC_COSINE};
  if (loom_store_open("", f->dir, &f->store, &e) ||
      loom_store_migrate(f->store, &e) ||
      loom_vstore_open(vdir, &p, &f->vs, &e)) {
    fprintf(stderr, "setup: %s\n", e.message);
    return -1;
  }
  loom_free(vdir);
  f->rag = (struct loom_rag){.store = f->store,
                             .vectors = f->vs,
                             .embedder = &f->emb,
                             .tenant = "t1",
                             .collection = "docs"};
  ingest(f, "sourdough.md", sourdough_md, NULL);
  ingest(f, "volcano.html", volcano_html, NULL);
  ingest(f, "chess.txt", chess_txt, NULL);
  ingest(f, "tides.md", tides_md, NULL);
  ingest(f, "kube.txt", kube_txt, NULL);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  loom_vstore_close(f->vs);
  loom_store_close(f->store);
  nftw(f->dir, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
  loom_free(f);
  return 0;
}

/* The source of the first hit of a query. */
static char *first_source(struct fixture *f, const char *text,
                          enum loom_rag_mode mode, const json_t *filter) {
  struct loom_rag_query q = {
      .text = text, .top_k = 3, .mode = mode, .filter = filter};
  json_t *hits = NULL;
  struct loom_error e = {0};
  if (loom_rag_search(&f->rag, &q, &hits, &e) != LOOM_OK)
    fail_msg("search: %s", e.message);
  const char *s =
      json_string_value(json_object_get(json_array_get(hits, 0), "source"));
  char *out = s ? loom_strdup(s) : NULL;
  json_decref(hits);
  return out;
}

static void expect_first(struct fixture *f, const char *text,
                         enum loom_rag_mode mode, const char *want) {
  char *got = first_source(f, text, mode, NULL);
  if (!got || strcmp(got, want))
    fail_msg("query '%s' (mode %d): first hit %s, want %s", text, (int)mode,
             got ? got : "(none)", want);
  loom_free(got);
}

static void test_keyword_vector_hybrid(void **state) {
  struct fixture *f = *state;
  expect_first(f, "magma eruption", LOOM_RAG_KEYWORD, "volcano.html");
  expect_first(f, "Sicilian Defence", LOOM_RAG_KEYWORD, "chess.txt");
  expect_first(f, "feeding a starter with flour and water", LOOM_RAG_VECTOR,
               "sourdough.md");
  expect_first(f, "container replicas in a cluster", LOOM_RAG_VECTOR,
               "kube.txt");
  expect_first(f, "why does the moon cause tides", LOOM_RAG_HYBRID, "tides.md");
  expect_first(f, "castling the king", LOOM_RAG_HYBRID, "chess.txt");
}

static void test_hits_carry_text_and_heading(void **state) {
  struct fixture *f = *state;
  struct loom_rag_query q = {.text = "proof the dough overnight", .top_k = 1};
  json_t *hits = NULL;
  struct loom_error e = {0};
  assert_int_equal(loom_rag_search(&f->rag, &q, &hits, &e), LOOM_OK);
  assert_int_equal(json_array_size(hits), 1);
  json_t *h = json_array_get(hits, 0);
  assert_string_equal(json_string_value(json_object_get(h, "heading")),
                      "Sourdough bread > Baking");
  assert_string_equal(json_string_value(json_object_get(h, "title")),
                      "Sourdough bread");
  assert_non_null(
      strstr(json_string_value(json_object_get(h, "content")), "Dutch oven"));
  json_decref(hits);
}

static void test_filter_and_tenant(void **state) {
  struct fixture *f = *state;
  json_t *filter = json_pack("{s:{s:s}}", "source", "$eq", "kube.txt");
  char *got = first_source(f, "magma eruption", LOOM_RAG_HYBRID, filter);
  assert_non_null(got);
  assert_string_equal(got, "kube.txt");
  loom_free(got);
  json_decref(filter);
  /* Another tenant sees nothing of t1's documents. */
  f->rag.tenant = "t2";
  got = first_source(f, "magma eruption", LOOM_RAG_HYBRID, NULL);
  assert_null(got);
  f->rag.tenant = "t1";
}

static void test_reingest_is_idempotent(void **state) {
  struct fixture *f = *state;
  struct loom_rag_ingest_result r;
  ingest(f, "chess.txt", chess_txt, &r);
  assert_true(r.unchanged);
  size_t before = loom_vstore_namespaces(f->vs, NULL, NULL);
  /* A changed file replaces its chunks: old words are gone. */
  ingest(f, "chess.txt", "Go is played with black and white stones.", &r);
  assert_false(r.unchanged);
  assert_int_equal(r.chunks, 1);
  char *got = first_source(f, "Sicilian", LOOM_RAG_KEYWORD, NULL);
  assert_null(got);
  expect_first(f, "black and white stones", LOOM_RAG_KEYWORD, "chess.txt");
  assert_int_equal(loom_vstore_namespaces(f->vs, NULL, NULL), before);
  /* Deleting removes the vectors too. */
  struct loom_error e = {0};
  assert_int_equal(loom_rag_delete(&f->rag, r.document_id, &e), LOOM_OK);
  assert_int_equal(loom_vstore_namespaces(f->vs, NULL, NULL), before - 1);
  json_t *docs = NULL;
  assert_int_equal(loom_store_list_documents(f->store, "t1", "docs", &docs, &e),
                   LOOM_OK);
  assert_int_equal(json_array_size(docs), 4);
  json_decref(docs);
}

static void test_shrinking_document_drops_stale_vectors(void **state) {
  struct fixture *f = *state;
  char *big = loom_malloc(4000);
  big[0] = 0;
  for (int i = 0; i < 40; i++)
    strcat(big, "Long sentence number about glaciers and ice. ");
  size_t base = loom_vstore_namespaces(f->vs, NULL, NULL);
  struct loom_rag_ingest_result r;
  ingest(f, "glacier.txt", big, &r);
  assert_true(r.chunks > 3);
  assert_int_equal(loom_vstore_namespaces(f->vs, NULL, NULL), base + r.chunks);
  ingest(f, "glacier.txt", "Glaciers melt.", &r);
  assert_int_equal(loom_vstore_namespaces(f->vs, NULL, NULL), base + 1);
  loom_free(big);
}

static void test_chunk_boundaries(void **state) {
  (void)state;
  const char *text =
      "Alpha beta gamma delta. Epsilon zeta eta theta iota. Kappa lambda mu "
      "nu xi omicron. Pi rho sigma tau upsilon. Phi chi psi omega end. "
      "Second paragraph sentence one here. And another sentence follows.";
  struct loom_rag_chunks cs = {0};
  struct loom_error e = {0};
  assert_int_equal(
      loom_rag_chunk(text, strlen(text), LOOM_RAG_TEXT, 60, 20, &cs, &e),
      LOOM_OK);
  assert_true(cs.n >= 4);
  for (size_t i = 0; i < cs.n; i++) {
    const char *c = cs.v[i].text;
    size_t n = strlen(c);
    assert_true(n <= 60);
    const char *at = strstr(text, c);
    assert_non_null(at); /* a chunk is a verbatim slice */
    /* Starts at a word start, ends at a word end. */
    assert_true(at == text || isspace((unsigned char)at[-1]));
    assert_true(at[n] == 0 || isspace((unsigned char)at[n]));
    if (i > 0) { /* overlaps the previous chunk */
      size_t prev_end = (size_t)(strstr(text, cs.v[i - 1].text) - text) +
                        strlen(cs.v[i - 1].text);
      assert_true((size_t)(at - text) < prev_end);
    }
  }
  /* The last chunk holds the end of the text. */
  assert_non_null(strstr(cs.v[cs.n - 1].text, "follows."));
  loom_rag_chunks_cleanup(&cs);
  assert_int_equal(
      loom_rag_chunk(text, strlen(text), LOOM_RAG_TEXT, 60, 30, &cs, &e),
      LOOM_ERR_INVALID);
  loom_rag_chunks_cleanup(&cs);
}

static void test_markdown_headings(void **state) {
  (void)state;
  const char *md = "# Guide\n\nIntro text.\n\n## Install\n\nRun make.\n\n"
                   "```sh\n# not a heading\nmake install\n```\n\n"
                   "### Linux\n\nUse apt.\n\n## Usage\n\nRun loom.\n";
  struct loom_rag_chunks cs = {0};
  struct loom_error e = {0};
  assert_int_equal(
      loom_rag_chunk(md, strlen(md), LOOM_RAG_MARKDOWN, 500, 50, &cs, &e),
      LOOM_OK);
  assert_int_equal(cs.n, 4);
  assert_string_equal(cs.v[0].heading, "Guide");
  assert_string_equal(cs.v[1].heading, "Guide > Install");
  assert_non_null(strstr(cs.v[1].text, "# not a heading"));
  assert_string_equal(cs.v[2].heading, "Guide > Install > Linux");
  assert_string_equal(cs.v[3].heading, "Guide > Usage");
  assert_non_null(strstr(cs.v[3].text, "## Usage"));
  loom_rag_chunks_cleanup(&cs);
}

static void test_html_stripped(void **state) {
  (void)state;
  char *t = loom_rag_html_to_text(volcano_html, strlen(volcano_html));
  assert_null(strstr(t, "function"));
  assert_null(strstr(t, "color"));
  assert_null(strstr(t, "hidden comment"));
  assert_null(strstr(t, "<"));
  assert_non_null(strstr(t, "# Volcanoes"));
  assert_non_null(strstr(t, "## Lava"));
  assert_non_null(strstr(t, "cones & explosive"));
  loom_free(t);
}

static void test_hash_embedder(void **state) {
  (void)state;
  float a[LOOM_RAG_HASH_DIM], b[LOOM_RAG_HASH_DIM], c[LOOM_RAG_HASH_DIM];
  loom_rag_hash_embed("Vector search engines", 21, LOOM_RAG_HASH_DIM, a);
  loom_rag_hash_embed("vector SEARCH engines!", 22, LOOM_RAG_HASH_DIM, b);
  loom_rag_hash_embed("baking sourdough bread", 22, LOOM_RAG_HASH_DIM, c);
  double ab = 0, ac = 0, aa = 0;
  for (int i = 0; i < LOOM_RAG_HASH_DIM; i++) {
    ab += a[i] * b[i];
    ac += a[i] * c[i];
    aa += a[i] * a[i];
  }
  assert_true(aa > 0.999 && aa < 1.001); /* unit length */
  assert_true(ab > 0.999);               /* case and punctuation ignored */
  assert_true(ac < 0.3);                 /* unrelated texts far apart */
}

/* A small valid PDF: one page per string, each shown in Helvetica. The
 * strings must not contain parentheses or backslashes. */
static char *make_pdf(const char *const *pages, size_t n) {
  size_t cap = 8192, len = 0, off[64];
  char *b = loom_malloc(cap);
#define PDF_PUT(...) len += (size_t)snprintf(b + len, cap - len, __VA_ARGS__)
  PDF_PUT("%%PDF-1.4\n");
  off[1] = len;
  PDF_PUT("1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n");
  off[2] = len;
  PDF_PUT("2 0 obj << /Type /Pages /Count %zu /Kids [", n);
  for (size_t i = 0; i < n; i++)
    PDF_PUT(" %zu 0 R", 4 + 2 * i);
  PDF_PUT(" ] >> endobj\n");
  off[3] = len;
  PDF_PUT("3 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> "
          "endobj\n");
  for (size_t i = 0; i < n; i++) {
    char stream[600];
    int sl = snprintf(stream, sizeof stream,
                      "BT /F1 12 Tf 72 720 Td (%s) Tj ET", pages[i]);
    off[4 + 2 * i] = len;
    PDF_PUT("%zu 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            "/Resources << /Font << /F1 3 0 R >> >> /Contents %zu 0 R >> "
            "endobj\n",
            4 + 2 * i, 5 + 2 * i);
    off[5 + 2 * i] = len;
    PDF_PUT("%zu 0 obj << /Length %d >> stream\n%s\nendstream endobj\n",
            5 + 2 * i, sl, stream);
  }
  size_t nobj = 4 + 2 * n, xref = len;
  PDF_PUT("xref\n0 %zu\n0000000000 65535 f \n", nobj);
  for (size_t i = 1; i < nobj; i++)
    PDF_PUT("%010zu 00000 n \n", off[i]);
  PDF_PUT("trailer << /Size %zu /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n",
          nobj, xref);
#undef PDF_PUT
  assert_true(len < cap);
  return b;
}

static void test_pdf_pages(void **state) {
  struct fixture *f = *state;
  const char *pages[] = {
      "Lighthouses guided ships along rocky coasts for centuries.",
      "The lamp rotates so sailors can tell one lighthouse from another.",
      "Modern lighthouses run automatically without a keeper."};
  char *pdf = make_pdf(pages, 3);
  struct loom_rag_chunks cs = {0};
  struct loom_error e = {0};
  assert_int_equal(
      loom_rag_chunk(pdf, strlen(pdf), LOOM_RAG_PDF, 0, 0, &cs, &e), LOOM_OK);
  assert_int_equal(cs.n, 3);
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(cs.v[i].page, i + 1);
    assert_string_equal(cs.v[i].text, pages[i]);
  }
  loom_rag_chunks_cleanup(&cs);

  ingest(f, "lighthouses.pdf", pdf, NULL);
  struct loom_rag_query q = {.text = "how sailors tell lighthouses apart",
                             .top_k = 1};
  json_t *hits = NULL;
  assert_int_equal(loom_rag_search(&f->rag, &q, &hits, &e), LOOM_OK);
  json_t *hit = json_array_get(hits, 0);
  assert_string_equal(json_string_value(json_object_get(hit, "source")),
                      "lighthouses.pdf");
  assert_string_equal(json_string_value(json_object_get(hit, "content")),
                      pages[1]);
  assert_int_equal(json_integer_value(json_object_get(
                       json_object_get(hit, "metadata"), "page")),
                   2);
  json_decref(hits);

  /* Not a PDF, and a truncated one: errors, not crashes. */
  assert_int_equal(loom_rag_chunk("hello", 5, LOOM_RAG_PDF, 0, 0, &cs, &e),
                   LOOM_ERR_PARSE);
  assert_int_equal(loom_rag_chunk(pdf, 40, LOOM_RAG_PDF, 0, 0, &cs, &e),
                   LOOM_ERR_PARSE);
  loom_rag_chunks_cleanup(&cs);
  loom_free(pdf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_keyword_vector_hybrid, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_hits_carry_text_and_heading, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_filter_and_tenant, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reingest_is_idempotent, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_shrinking_document_drops_stale_vectors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pdf_pages, setup, teardown),
      cmocka_unit_test(test_chunk_boundaries),
      cmocka_unit_test(test_markdown_headings),
      cmocka_unit_test(test_html_stripped),
      cmocka_unit_test(test_hash_embedder),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
