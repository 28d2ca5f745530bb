/*
 * test_vector_api — the Pinecone-compatible API over HTTP, as a Pinecone
 * client sees it: create/describe/list/configure/delete indexes; upsert,
 * query (vector, id, filter), fetch, update, delete (ids, filter, all),
 * stats and list with pagination (ids by prefix in order, page after
 * page, while another client deletes the index); limits and error shapes;
 * and an index that is still there after the server restarts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/pinecone.h"
#include "test_http_harness.h"

static char dir[64];
static struct harness H;
static struct loom_config config;
static struct loom_app app;

static void start(void) {
  config.data_dir = dir;
  app.config = &config;
  H.router = loom_http_router_new();
  struct loom_error e;
  if (loom_api_pinecone_routes(H.router, &app, &e) != LOOM_OK)
    fail_msg("%s", e.message);
  struct loom_http_server_options opt = {0};
  harness_start(&H, 1, &opt);
}

static void stop(void) {
  harness_stop(&H);
  loom_api_pinecone_shutdown();
}

/* One JSON request; returns the parsed reply (caller frees), *status set. */
static json_t *call(const char *method, const char *path, const char *body,
                    long *status) {
  char url[512];
  snprintf(url, sizeof url, "%s%s", H.base, path);
  struct reply r;
  http_do(NULL, method, url, body ? "application/json" : NULL, body,
          body ? strlen(body) : 0, &r);
  *status = r.status;
  json_t *j =
      r.body.len ? json_loadb(r.body.data, r.body.len, 0, NULL) : json_object();
  reply_cleanup(&r);
  assert_non_null(j);
  return j;
}

static json_t *ok(const char *method, const char *path, const char *body,
                  long want) {
  long status;
  json_t *j = call(method, path, body, &status);
  if (status != want) {
    char *t = json_dumps(j, 0);
    fail_msg("%s %s: %ld (want %ld) %s", method, path, status, want, t);
  }
  return j;
}

static const char *dumps_at(json_t *j, const char *path_key) {
  return json_string_value(json_object_get(j, path_key));
}

static void control_plane(void **state) {
  (void)state;
  json_t *j = ok("POST", "/indexes",
                 "{\"name\":\"movies\",\"dimension\":4,\"metric\":\"cosine\","
                 "\"spec\":{\"serverless\":{\"cloud\":\"aws\",\"region\":"
                 "\"us-east-1\"}}}",
                 201);
  assert_string_equal(dumps_at(j, "name"), "movies");
  assert_int_equal(json_integer_value(json_object_get(j, "dimension")), 4);
  assert_true(strncmp(dumps_at(j, "host"), "http://", 7) == 0);
  assert_non_null(strstr(dumps_at(j, "host"), "/indexes/movies"));
  assert_true(
      json_is_true(json_object_get(json_object_get(j, "status"), "ready")));
  json_decref(j);
  long status;
  j = call("POST", "/indexes", "{\"name\":\"movies\",\"dimension\":4}",
           &status);
  assert_int_equal(status, 409);
  json_decref(j);
  j = call("POST", "/indexes", "{\"name\":\"Bad_Name\",\"dimension\":4}",
           &status);
  assert_int_equal(status, 400);
  assert_non_null(strstr(json_string_value(json_object_get(
                             json_object_get(j, "error"), "message")),
                         "index name"));
  json_decref(j);
  j = call("POST", "/indexes", "{\"name\":\"x\",\"dimension\":20001}", &status);
  assert_int_equal(status, 400);
  json_decref(j);
  j = ok("GET", "/indexes", NULL, 200);
  assert_int_equal(json_array_size(json_object_get(j, "indexes")), 1);
  json_decref(j);
  j = ok("PATCH", "/indexes/movies", "{\"deletion_protection\":\"enabled\"}",
         200);
  assert_string_equal(dumps_at(j, "deletion_protection"), "enabled");
  json_decref(j);
  j = call("DELETE", "/indexes/movies", NULL, &status);
  assert_int_equal(status, 403);
  json_decref(j);
  json_decref(ok("PATCH", "/indexes/movies",
                 "{\"deletion_protection\":\"disabled\"}", 200));
  json_decref(ok("DELETE", "/indexes/movies", NULL, 202));
  j = call("GET", "/indexes/movies", NULL, &status);
  assert_int_equal(status, 404);
  json_decref(j);
}

static void data_plane(void **state) {
  (void)state;
  json_decref(ok("POST", "/indexes",
                 "{\"name\":\"docs\",\"dimension\":3,"
                 "\"metric\":\"euclidean\"}",
                 201));
  json_t *j = ok("POST", "/indexes/docs/vectors/upsert",
                 "{\"vectors\":["
                 "{\"id\":\"a\",\"values\":[0,0,0],\"metadata\":{\"genre\":"
                 "\"drama\",\"tags\":[\"x\",\"y\"],\"year\":2019}},"
                 "{\"id\":\"b\",\"values\":[1,0,0],\"metadata\":{\"genre\":"
                 "\"comedy\",\"year\":2021}},"
                 "{\"id\":\"c\",\"values\":[2,0,0]}],\"namespace\":\"\"}",
                 200);
  assert_int_equal(json_integer_value(json_object_get(j, "upsertedCount")), 3);
  json_decref(j);
  /* default namespace under both names */
  j = ok("POST", "/indexes/docs/query",
         "{\"topK\":2,\"vector\":[0.1,0,0],\"includeMetadata\":true,"
         "\"includeValues\":true,\"namespace\":\"__default__\"}",
         200);
  json_t *m = json_object_get(j, "matches");
  assert_int_equal(json_array_size(m), 2);
  assert_string_equal(dumps_at(json_array_get(m, 0), "id"), "a");
  assert_string_equal(dumps_at(json_array_get(m, 1), "id"), "b");
  assert_int_equal(
      json_array_size(json_object_get(json_array_get(m, 0), "values")), 3);
  assert_string_equal(
      dumps_at(json_object_get(json_array_get(m, 0), "metadata"), "genre"),
      "drama");
  json_decref(j);
  j = ok("POST", "/indexes/docs/query",
         "{\"topK\":5,\"vector\":[0,0,0],\"filter\":{\"$or\":[{\"tags\":\"y\"},"
         "{\"year\":{\"$gte\":2021}}]}}",
         200);
  assert_int_equal(json_array_size(json_object_get(j, "matches")), 2);
  json_decref(j);
  j = ok("POST", "/indexes/docs/query", "{\"topK\":1,\"id\":\"c\"}", 200);
  assert_string_equal(
      dumps_at(json_array_get(json_object_get(j, "matches"), 0), "id"), "c");
  json_decref(j);
  j = ok("GET", "/indexes/docs/vectors/fetch?ids=a&ids=zz", NULL, 200);
  assert_non_null(json_object_get(json_object_get(j, "vectors"), "a"));
  assert_null(json_object_get(json_object_get(j, "vectors"), "zz"));
  json_decref(j);
  json_decref(ok("POST", "/indexes/docs/vectors/update",
                 "{\"id\":\"c\",\"setMetadata\":{\"genre\":\"doc\"}}", 200));
  j = ok("GET", "/indexes/docs/vectors/list?limit=2", NULL, 200);
  assert_int_equal(json_array_size(json_object_get(j, "vectors")), 2);
  const char *next = dumps_at(json_object_get(j, "pagination"), "next");
  assert_non_null(next);
  char path[128];
  snprintf(path, sizeof path,
           "/indexes/docs/vectors/list?limit=2&paginationToken=%s", next);
  json_decref(j);
  j = ok("GET", path, NULL, 200);
  assert_int_equal(json_array_size(json_object_get(j, "vectors")), 1);
  assert_string_equal(
      dumps_at(json_array_get(json_object_get(j, "vectors"), 0), "id"), "c");
  assert_null(json_object_get(j, "pagination"));
  json_decref(j);
  j = ok("POST", "/indexes/docs/describe_index_stats",
         "{\"filter\":{\"genre\":{\"$in\":[\"doc\",\"drama\"]}}}", 200);
  assert_int_equal(json_integer_value(json_object_get(j, "totalVectorCount")),
                   2); /* a (drama) and c (doc) of a, b, c */
  json_decref(j);
  json_decref(ok("POST", "/indexes/docs/vectors/delete",
                 "{\"filter\":{\"genre\":\"doc\"}}", 200));
  json_decref(
      ok("POST", "/indexes/docs/vectors/delete", "{\"ids\":[\"b\"]}", 200));
  j = ok("POST", "/indexes/docs/describe_index_stats", "{}", 200);
  assert_int_equal(json_integer_value(json_object_get(j, "totalVectorCount")),
                   1);
  assert_int_equal(json_integer_value(json_object_get(j, "dimension")), 3);
  json_decref(j);
}

/* Upserts ids "<prefix><n>" for n = from, from - 1, ..., to (reverse
 * order, so the slots are not sorted). */
static void upsert_ids(const char *prefix, int from, int to) {
  json_t *vs = json_array();
  for (int n = from; n >= to; n--) {
    char id[32];
    snprintf(id, sizeof id, "%s%03d", prefix, n);
    json_array_append_new(
        vs, json_pack("{s:s,s:[f,f]}", "id", id, "values", 1.0, (double)n));
  }
  json_t *b = json_pack("{s:o}", "vectors", vs);
  char *t = json_dumps(b, 0);
  json_decref(ok("POST", "/indexes/ids/vectors/upsert", t, 200));
  free(t);
  json_decref(b);
}

static void *list_until_gone(void *arg) {
  atomic_long *lists = arg;
  long status = 200;
  while (status == 200) {
    json_decref(
        call("GET", "/indexes/ids/vectors/list?prefix=doc1-", NULL, &status));
    if (status == 200)
      atomic_fetch_add(lists, 1);
  }
  return (void *)(intptr_t)status;
}

/* Lists index "ids" page by page (`prefix` may be ""); checks that the
 * pages give doc1-001..doc1-<n1>, then doc2-001..doc2-<n2> (the ones the
 * prefix selects), each once, in order, every page but the last full,
 * and that the last page says no more follow. Returns the pages. */
static int walk_pages(const char *prefix, int limit, int n1, int n2) {
  char path[160], last[32] = "";
  const char *token = NULL;
  char doc = strlen(prefix) > 3 ? prefix[3] : '\0'; /* '1', '2', '3' or none */
  int seen = 0, pages = 0;
  int want_n = (doc == '1' || !doc ? n1 : 0) + (doc == '2' || !doc ? n2 : 0);
  do {
    snprintf(path, sizeof path,
             "/indexes/ids/vectors/list?prefix=%s&limit=%d%s%s", prefix, limit,
             token ? "&paginationToken=" : "", token ? last : "");
    json_t *j = ok("GET", path, NULL, 200);
    json_t *v = json_object_get(j, "vectors");
    pages++;
    for (size_t i = 0; i < json_array_size(v); i++, seen++) {
      char want[32];
      bool first = doc != '2' && seen < n1;
      snprintf(want, sizeof want, "doc%d-%03d", first ? 1 : 2,
               first || doc == '2' ? seen + 1 : seen - n1 + 1);
      assert_string_equal(dumps_at(json_array_get(v, i), "id"), want);
    }
    token = dumps_at(json_object_get(j, "pagination"), "next");
    if (token) {
      assert_int_equal(json_array_size(v), limit);
      snprintf(last, sizeof last, "%s", token);
    }
    json_decref(j);
  } while (token && pages < 1000);
  assert_int_equal(seen, want_n);
  return pages;
}

/* list: ids with the prefix in order, page after page, each once (the
 * index keeps only a page's worth of the smallest ids: small pages,
 * pages that end exactly on the last id, no prefix); then the index
 * deleted while another client keeps listing it. */
static void list_pages(void **state) {
  (void)state;
  json_decref(
      ok("POST", "/indexes", "{\"name\":\"ids\",\"dimension\":2}", 201));
  upsert_ids("doc2-", 150, 1);
  upsert_ids("doc1-", 250, 1);
  assert_int_equal(walk_pages("doc1-", 100, 250, 150), 3);
  assert_int_equal(walk_pages("doc1-", 50, 250, 150), 5);
  assert_int_equal(walk_pages("doc2-", 1, 250, 150), 150);
  assert_int_equal(walk_pages("", 7, 250, 150), 58);
  assert_int_equal(walk_pages("doc3-", 10, 250, 150), 1);

  atomic_long lists = 0;
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, list_until_gone, &lists), 0);
  while (atomic_load(&lists) < 5)
    sleep_ms(1);
  double t0 = now_s();
  json_decref(ok("DELETE", "/indexes/ids", NULL, 202));
  assert_true(now_s() - t0 < 2.0);
  void *last_status;
  pthread_join(t, &last_status);
  assert_int_equal((intptr_t)last_status, 404);
}

static void limits_and_errors(void **state) {
  (void)state;
  long status;
  json_t *j = call("POST", "/indexes/docs/query",
                   "{\"topK\":10001,\"vector\":[0,0,0]}", &status);
  assert_int_equal(status, 400);
  assert_non_null(strstr(dumps_at(j, "message"), "topK"));
  json_decref(j);
  j = call("POST", "/indexes/docs/vectors/upsert",
           "{\"vectors\":[{\"id\":\"d\",\"values\":[1,2]}]}", &status);
  assert_int_equal(status, 400);
  assert_non_null(strstr(dumps_at(j, "message"), "dimension"));
  json_decref(j);
  j = call("POST", "/indexes/docs/query",
           "{\"topK\":1,\"vector\":[0,0,0],\"filter\":{\"a\":{\"$regex\":1}}}",
           &status);
  assert_int_equal(status, 400);
  assert_non_null(strstr(dumps_at(j, "message"), "$regex"));
  json_decref(j);
  j = call("POST", "/indexes/docs/vectors/upsert",
           "{\"vectors\":[{\"id\":\"d\",\"values\":[1,2,3],\"metadata\":{\"o\":"
           "{\"x\":1}}}]}",
           &status);
  assert_int_equal(status, 400);
  json_decref(j);
  /* 1,001 vectors */
  struct loom_buf b;
  loom_buf_init(&b, 1u << 20);
  assert_int_equal(loom_buf_append_str(&b, "{\"vectors\":["), LOOM_OK);
  for (int i = 0; i < 1001; i++)
    assert_int_equal(loom_buf_appendf(&b,
                                      "%s{\"id\":\"v%d\",\"values\":[1,1,1]}",
                                      i ? "," : "", i),
                     LOOM_OK);
  assert_int_equal(loom_buf_append_str(&b, "]}"), LOOM_OK);
  j = call("POST", "/indexes/docs/vectors/upsert", b.data, &status);
  assert_int_equal(status, 400);
  assert_non_null(strstr(dumps_at(j, "message"), "1000"));
  json_decref(j);
  loom_buf_cleanup(&b);
  j = call("POST", "/indexes/none/query", "{\"topK\":1,\"vector\":[0]}",
           &status);
  assert_int_equal(status, 404);
  json_decref(j);
}

/* One request with an extra raw header line; returns the parsed reply. */
static json_t *call_with(const char *method, const char *path,
                         const char *header, const char *body, long *status) {
  char url[512];
  snprintf(url, sizeof url, "%s%s", H.base, path);
  CURL *c = curl_easy_init();
  struct loom_buf got;
  loom_buf_init(&got, 1u << 20);
  struct curl_slist *h = curl_slist_append(NULL, header);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  if (body)
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reply_write_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
  assert_int_equal(curl_easy_perform(c), CURLE_OK);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
  json_t *j = json_loadb(got.data ? got.data : "", got.len, 0, NULL);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  loom_buf_cleanup(&got);
  return j;
}

/* Headers are bytes nobody checked: a Host that is not UTF-8 gave a
 * describe of "null" and an index missing from the list; a Content-Type
 * that is not gave a 415 without its message. */
static void headers_not_utf8(void **state) {
  (void)state;
  json_decref(
      ok("POST", "/indexes", "{\"name\":\"hosts\",\"dimension\":2}", 201));
  long status;
  json_t *j =
      call_with("GET", "/indexes/hosts", "Host: \xff\xfe", NULL, &status);
  assert_int_equal(status, 200);
  assert_string_equal(dumps_at(j, "host"), "http://localhost/indexes/hosts");
  json_decref(j);
  j = call_with("GET", "/indexes", "Host: \xff", NULL, &status);
  size_t i, listed = 0;
  json_t *x;
  json_array_foreach(json_object_get(j, "indexes"), i, x) listed +=
      !strcmp(dumps_at(x, "name"), "hosts");
  assert_int_equal(listed, 1);
  json_decref(j);
  j = call_with("POST", "/indexes", "Content-Type: text/\xff", "{}", &status);
  assert_int_equal(status, 415);
  assert_non_null(strstr(dumps_at(j, "message"), "Content-Type 'text/?'"));
  json_decref(j);
  json_decref(ok("DELETE", "/indexes/hosts", NULL, 202));
}

static void survives_restart(void **state) {
  (void)state;
  stop();
  start();
  json_t *j = ok("GET", "/indexes/docs/vectors/fetch?ids=a", NULL, 200);
  json_t *a = json_object_get(json_object_get(j, "vectors"), "a");
  assert_non_null(a);
  assert_string_equal(dumps_at(json_object_get(a, "metadata"), "genre"),
                      "drama");
  json_decref(j);
}

/* An index whose files are corrupt: the server still starts, lists it
 * as InitializationFailed without loading anything, answers its data
 * plane with a 503 (gRPC UNAVAILABLE) saying it could not be opened and
 * why, serves the other indexes, and deletes it. */
static void corrupt_index(void **state) {
  (void)state;
  stop();
  char path[128];
  snprintf(path, sizeof path, "%s/indexes/broken", dir);
  assert_int_equal(mkdir(path, 0755), 0);
  snprintf(path, sizeof path, "%s/indexes/broken/config.json", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("{\"dimension\": 3, \"metric\": \"cosine\"}", f);
  fclose(f);
  snprintf(path, sizeof path, "%s/indexes/broken/ns-.snap", dir);
  f = fopen(path, "w");
  assert_non_null(f);
  fputs("not a snapshot", f);
  fclose(f);
  start();
  json_t *j = ok("GET", "/indexes/broken", NULL, 200);
  assert_int_equal(json_integer_value(json_object_get(j, "dimension")), 3);
  json_decref(j);
  long status;
  j = call("POST", "/indexes/broken/query", "{\"topK\":1,\"vector\":[1,0,0]}",
           &status);
  assert_int_equal(status, 503);
  assert_int_equal(json_integer_value(json_object_get(j, "code")), 14);
  assert_true(json_is_array(json_object_get(j, "details")));
  const char *msg = dumps_at(j, "message");
  assert_non_null(strstr(msg, "index 'broken' could not be opened: "));
  assert_non_null(strstr(msg, "ns-.snap"));
  assert_non_null(strstr(msg, "(next attempt in "));
  json_decref(j);
  j = ok("GET", "/indexes", NULL, 200);
  json_t *v, *list = json_object_get(j, "indexes");
  size_t i;
  int failed = 0;
  json_array_foreach(list, i, v) {
    bool broken = strcmp(dumps_at(v, "name"), "broken") == 0;
    json_t *st = json_object_get(v, "status");
    assert_int_equal(json_is_true(json_object_get(st, "ready")), !broken);
    failed += strcmp(dumps_at(st, "state"), "InitializationFailed") == 0;
  }
  assert_int_equal(failed, 1);
  json_decref(j);
  json_decref(ok("GET", "/indexes/docs/vectors/fetch?ids=a", NULL, 200));
  json_decref(ok("DELETE", "/indexes/broken", NULL, 202));
  j = call("GET", "/indexes/broken", NULL, &status);
  assert_int_equal(status, 404);
  json_decref(j);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/loom-vapi-XXXXXX");
  if (!mkdtemp(dir))
    return 1;
  start();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(control_plane),    cmocka_unit_test(data_plane),
      cmocka_unit_test(list_pages),       cmocka_unit_test(limits_and_errors),
      cmocka_unit_test(survives_restart), cmocka_unit_test(corrupt_index),
      cmocka_unit_test(headers_not_utf8),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  stop();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    rc = 1;
  return rc;
}
