/*
 * test_filter — Pinecone's metadata filter language as a user writes it:
 * each operator, implicit $eq, list-of-strings fields, missing fields,
 * $and/$or nesting, error messages that name the bad operator, and a
 * filtered HNSW search that returns what a brute-force filtered scan does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stores/filter.h"
#include "stores/hnsw.h"

static const char *DOC =
    "{\"genre\":\"drama\",\"year\":2019,\"rating\":8.5,\"free\":true,"
    "\"tags\":[\"classic\",\"award\"],\"empty\":null}";

static bool matches(const char *filter) {
  json_t *meta = json_loads(DOC, 0, NULL);
  struct loom_filter *f;
  struct loom_error e;
  if (loom_filter_parse(filter, strlen(filter), &f, &e) != LOOM_OK)
    fail_msg("filter %s rejected: %s", filter, e.message);
  bool m = loom_filter_match(f, meta);
  loom_filter_free(f);
  json_decref(meta);
  return m;
}

static void operators_match_like_pinecone(void **state) {
  (void)state;
  assert_true(matches("{}"));
  assert_true(matches("{\"genre\":\"drama\"}"));
  assert_false(matches("{\"genre\":\"comedy\"}"));
  assert_true(matches("{\"year\":2019.0}"));
  assert_true(matches("{\"free\":true}"));
  assert_false(matches("{\"free\":false}"));
  assert_true(matches("{\"genre\":{\"$eq\":\"drama\"}}"));
  assert_true(matches("{\"genre\":{\"$ne\":\"comedy\"}}"));
  assert_false(matches("{\"genre\":{\"$ne\":\"drama\"}}"));
  assert_true(matches("{\"year\":{\"$gt\":2018,\"$lte\":2019}}"));
  assert_false(matches("{\"year\":{\"$gt\":2019}}"));
  assert_true(matches("{\"rating\":{\"$gte\":8.5,\"$lt\":9}}"));
  assert_false(matches("{\"genre\":{\"$gt\":1}}")); /* not a number */
  assert_true(matches("{\"genre\":{\"$in\":[\"comedy\",\"drama\"]}}"));
  assert_false(matches("{\"genre\":{\"$nin\":[\"comedy\",\"drama\"]}}"));
  assert_true(matches("{\"year\":{\"$in\":[2018,2019]}}"));
  assert_true(matches("{\"free\":{\"$in\":[true]}}"));
  assert_true(matches("{\"genre\":{\"$exists\":true}}"));
  assert_true(matches("{\"missing\":{\"$exists\":false}}"));
  assert_true(matches("{\"empty\":{\"$exists\":false}}"));
  /* a missing field matches only the negative operators */
  assert_false(matches("{\"missing\":\"x\"}"));
  assert_true(matches("{\"missing\":{\"$ne\":\"x\"}}"));
  assert_true(matches("{\"missing\":{\"$nin\":[\"x\"]}}"));
  assert_false(matches("{\"missing\":{\"$in\":[\"x\"]}}"));
  assert_false(matches("{\"missing\":{\"$lt\":5}}"));
}

static void list_fields_match_any_element(void **state) {
  (void)state;
  assert_true(matches("{\"tags\":\"award\"}"));
  assert_true(matches("{\"tags\":{\"$eq\":\"classic\"}}"));
  assert_false(matches("{\"tags\":\"new\"}"));
  assert_true(matches("{\"tags\":{\"$in\":[\"new\",\"award\"]}}"));
  assert_false(matches("{\"tags\":{\"$in\":[\"new\"]}}"));
  assert_false(matches("{\"tags\":{\"$ne\":\"award\"}}"));
  assert_true(matches("{\"tags\":{\"$nin\":[\"new\"]}}"));
  assert_false(matches("{\"tags\":{\"$nin\":[\"classic\"]}}"));
}

static void and_or_nest(void **state) {
  (void)state;
  assert_true(matches("{\"$and\":[{\"genre\":\"drama\"},{\"year\":2019}]}"));
  assert_false(matches("{\"$and\":[{\"genre\":\"drama\"},{\"year\":2020}]}"));
  assert_true(matches("{\"$or\":[{\"genre\":\"comedy\"},{\"year\":2019}]}"));
  assert_false(matches("{\"$or\":[{\"genre\":\"comedy\"},{\"year\":1}]}"));
  assert_true(matches("{\"$or\":[{\"$and\":[{\"free\":true},{\"rating\":"
                      "{\"$gt\":8}}]},{\"genre\":\"x\"}],\"year\":2019}"));
  assert_false(matches("{\"genre\":\"drama\",\"year\":2020}"));
}

static void expect_error(const char *filter, loom_err code,
                         const char *needle) {
  struct loom_filter *f = NULL;
  struct loom_error e;
  loom_err err = loom_filter_parse(filter, strlen(filter), &f, &e);
  if (err != code)
    fail_msg("%s: got %s", filter, loom_err_name(err));
  if (!strstr(e.message, needle))
    fail_msg("%s: message '%s' lacks '%s'", filter, e.message, needle);
  assert_null(f);
}

static void errors_name_the_problem(void **state) {
  (void)state;
  expect_error("{\"genre\":{\"$regex\":\"d.*\"}}", LOOM_ERR_INVALID, "$regex");
  expect_error("{\"genre\":{\"$regex\":\"d.*\"}}", LOOM_ERR_INVALID, "genre");
  expect_error("{\"$not\":{\"a\":1}}", LOOM_ERR_INVALID, "$not");
  expect_error("{\"year\":{\"$gt\":\"2019\"}}", LOOM_ERR_INVALID, "$gt");
  expect_error("{\"genre\":{\"$in\":\"drama\"}}", LOOM_ERR_INVALID, "array");
  expect_error("{\"genre\":{\"$in\":[{\"a\":1}]}}", LOOM_ERR_INVALID, "$in");
  expect_error("{\"genre\":[\"a\"]}", LOOM_ERR_INVALID, "$in");
  expect_error("{\"genre\":{}}", LOOM_ERR_INVALID, "empty");
  expect_error("{\"$and\":[]}", LOOM_ERR_INVALID, "$and");
  expect_error("{\"$or\":[1]}", LOOM_ERR_INVALID, "object");
  expect_error("{\"x\":{\"$exists\":1}}", LOOM_ERR_INVALID, "$exists");
  expect_error("[1]", LOOM_ERR_INVALID, "object");
  expect_error("{\"a\":", LOOM_ERR_PARSE, "line");
  char deep[4096] = "";
  for (int i = 0; i < 40; i++)
    strcat(deep, "{\"$and\":[");
  strcat(deep, "{\"a\":1}");
  for (int i = 0; i < 40; i++)
    strcat(deep, "]}");
  expect_error(deep, LOOM_ERR_INVALID, "nested");
}

/* ---- filtered search versus a brute-force filtered scan ---------------- */

enum { N = 3000, DIM = 16, K = 10 };

static void filtered_search_matches_scan(void **state) {
  (void)state;
  static const char *colors[] = {"red", "green", "blue", "black"};
  uint64_t r = 42;
  float *base = malloc(N * DIM * sizeof *base);
  json_t **meta = malloc(N * sizeof *meta);
  struct loom_hnsw_params p = {.dim = DIM, .metric = LOOM_METRIC_EUCLIDEAN};
  struct loom_hnsw *h;
  assert_int_equal(loom_hnsw_new(&p, &h, NULL), LOOM_OK);
  for (size_t i = 0; i < N; i++) {
    for (int j = 0; j < DIM; j++) {
      r = r * 6364136223846793005ull + 1442695040888963407ull;
      base[i * DIM + j] = (float)(r >> 40) / 16777216.0f;
    }
    meta[i] = json_pack("{s:i,s:[s,s]}", "n", (int)i, "colors", colors[i % 4],
                        colors[(i / 4) % 4]);
    char id[16];
    snprintf(id, sizeof id, "%zu", i);
    assert_int_equal(loom_hnsw_upsert(h, id, base + i * DIM, meta[i], NULL),
                     LOOM_OK);
  }
  const char *filters[] = {
      "{\"colors\":\"red\"}",                                   /* ~44% */
      "{\"colors\":{\"$in\":[\"blue\"]},\"n\":{\"$lt\":1500}}", /* ~22% */
      "{\"n\":{\"$in\":[7,77,777,2777]}}",                      /* 4 items */
      "{\"$or\":[{\"n\":{\"$lt\":3}},{\"n\":{\"$gte\":2990}}]}",
  };
  for (size_t fi = 0; fi < sizeof filters / sizeof *filters; fi++) {
    struct loom_filter *f;
    assert_int_equal(
        loom_filter_parse(filters[fi], strlen(filters[fi]), &f, NULL), LOOM_OK);
    size_t hits = 0, total = 0;
    for (size_t q = 0; q < 30; q++) {
      const float *qv = base + (q * 97 % N) * DIM;
      size_t truth[K], nt = 0;
      float td[K];
      for (size_t i = 0; i < N; i++) {
        if (!loom_filter_match(f, meta[i]))
          continue;
        float d = 0;
        for (int j = 0; j < DIM; j++)
          d += (qv[j] - base[i * DIM + j]) * (qv[j] - base[i * DIM + j]);
        if (nt == K && d >= td[K - 1])
          continue;
        size_t k = nt < K ? nt++ : K - 1;
        while (k > 0 && td[k - 1] > d)
          td[k] = td[k - 1], truth[k] = truth[k - 1], k--;
        td[k] = d, truth[k] = i;
      }
      struct loom_hnsw_hit out[K];
      struct loom_hnsw_query query = {.vector = qv, .k = K, .ef = 64};
      if (q % 2) { /* the compiled filter over the column index */
        query.where = f;
      } else {
        query.filter = loom_filter_match_cb;
        query.filter_ud = f;
      }
      size_t n = loom_hnsw_search(h, &query, out);
      assert_int_equal(n, nt);
      for (size_t i = 0; i < n; i++) {
        size_t got = strtoul(loom_hnsw_slot_id(h, out[i].slot), NULL, 10);
        assert_true(loom_filter_match(f, meta[got]));
        for (size_t j = 0; j < nt; j++)
          hits += truth[j] == got;
      }
      total += nt;
    }
    double recall = (double)hits / total;
    if (fi >= 2 ? recall != 1.0 : recall < 0.95)
      fail_msg("filter %s recall %.3f", filters[fi], recall);
    loom_filter_free(f);
  }
  for (size_t i = 0; i < N; i++)
    json_decref(meta[i]);
  loom_hnsw_free(h);
  free(meta), free(base);
}

/* Varied metadata: strings, numbers, booleans, lists, nulls, objects,
 * lists holding numbers, fields that come and go. */
static json_t *varied_meta(size_t i) {
  static const char *genres[] = {"drama", "comedy", "noir", "doc", "x y"};
  json_t *m = json_object();
  if (i % 7 != 0)
    json_object_set_new(m, "genre", json_string(genres[i % 5]));
  if (i % 5 != 1)
    json_object_set_new(m, "year", json_integer(1990 + (int)(i % 35)));
  if (i % 3 == 0)
    json_object_set_new(m, "free", json_boolean(i % 2));
  if (i % 4 == 2)
    json_object_set_new(m, "tags",
                        json_pack("[s,s]", genres[i % 3], genres[(i + 2) % 5]));
  if (i % 11 == 3)
    json_object_set_new(m, "genre", json_null());
  if (i % 13 == 4)
    json_object_set_new(m, "tags", json_pack("[i,s]", (int)i, "noir"));
  if (i % 17 == 5)
    json_object_set_new(m, "year", json_pack("{s:i}", "v", 1));
  if (i % 6 == 1)
    json_object_set_new(m, "year", json_string("2001"));
  return m;
}

static const char *VARIED_FILTERS[] = {
    "{}",
    "{\"genre\":\"drama\"}",
    "{\"genre\":{\"$ne\":\"drama\"}}",
    "{\"genre\":\"unknown\"}",
    "{\"genre\":{\"$ne\":\"unknown\"}}",
    "{\"year\":{\"$gte\":2000,\"$lt\":2010}}",
    "{\"year\":2001}",
    "{\"year\":\"2001\"}",
    "{\"year\":{\"$in\":[1990,1995,\"2001\"]}}",
    "{\"year\":{\"$nin\":[1990,1995]}}",
    "{\"free\":true}",
    "{\"free\":{\"$ne\":false}}",
    "{\"free\":{\"$in\":[false]}}",
    "{\"tags\":\"noir\"}",
    "{\"tags\":{\"$in\":[\"comedy\",\"x y\"]}}",
    "{\"tags\":{\"$nin\":[\"drama\"]}}",
    "{\"tags\":{\"$ne\":\"noir\"}}",
    "{\"tags\":{\"$exists\":true}}",
    "{\"genre\":{\"$exists\":false}}",
    "{\"nope\":{\"$exists\":false}}",
    "{\"nope\":{\"$nin\":[\"a\"]}}",
    "{\"nope\":3}",
    "{\"$or\":[{\"genre\":\"noir\"},{\"year\":{\"$lt\":1995}}]}",
    ("{\"$and\":[{\"genre\":{\"$in\":[\"doc\",\"noir\"]}},"
     "{\"$or\":[{\"free\":true},{\"tags\":\"noir\"}]}]}"),
    "{\"f300\":3}",
    "{\"f300\":{\"$exists\":false}}",
};

static const json_t *meta_at_cb(void *ud, uint32_t slot) {
  return ((json_t **)ud)[slot];
}

/* Every filter, evaluated over the column index, selects exactly the
 * items loom_filter_match selects: with and without fields past the
 * index's field limit, and after items are replaced and cleared. */
static void column_eval_equals_match(void **state) {
  (void)state;
  enum { NV = 700 };
  for (int overflow = 0; overflow < 2; overflow++) {
    struct loom_vmeta m = {0};
    json_t *meta[NV];
    for (size_t i = 0; i < NV; i++) {
      meta[i] = varied_meta(i);
      if (overflow) { /* one new field name per item: past the limit */
        char k[16];
        snprintf(k, sizeof k, "f%zu", i);
        json_object_set_new(meta[i], k, json_integer(3));
      }
      loom_vmeta_set(&m, (uint32_t)i, meta[i]);
    }
    for (size_t i = 0; i < NV; i += 9) { /* replace some, clear others */
      json_decref(meta[i]);
      meta[i] = i % 2 ? varied_meta(i + 1) : NULL;
      loom_vmeta_set(&m, (uint32_t)i, meta[i]);
    }
    assert_int_equal(m.overflow, overflow);
    uint64_t bits[(NV + 63) / 64];
    for (size_t fi = 0; fi < sizeof VARIED_FILTERS / sizeof *VARIED_FILTERS;
         fi++) {
      struct loom_filter *f;
      const char *text = VARIED_FILTERS[fi];
      assert_int_equal(loom_filter_parse(text, strlen(text), &f, NULL),
                       LOOM_OK);
      loom_filter_eval(f, &m, NV, meta_at_cb, meta, bits);
      size_t count = 0;
      for (size_t i = 0; i < NV; i++) {
        bool want = loom_filter_match(f, meta[i]);
        bool got = (bits[i / 64] >> (i % 64)) & 1;
        count += want;
        if (want != got)
          fail_msg("filter %s item %zu: match %d, column index %d", text, i,
                   want, got);
      }
      if (fi > 0 && fi < 3 && count == 0)
        fail_msg("filter %s selects nothing: a weak test", text);
      loom_filter_free(f);
    }
    for (size_t i = 0; i < NV; i++)
      json_decref(meta[i]);
    loom_vmeta_cleanup(&m);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(operators_match_like_pinecone),
      cmocka_unit_test(list_fields_match_any_element),
      cmocka_unit_test(and_or_nest),
      cmocka_unit_test(errors_name_the_problem),
      cmocka_unit_test(filtered_search_matches_scan),
      cmocka_unit_test(column_eval_equals_match),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
