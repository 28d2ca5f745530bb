/*
 * test_llm_node — prompt templates from state, and structured answers
 * validated against their schema with one repair attempt, against the
 * scripted model server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agents/llm_node.h"
#include "llm_server_harness.h"

static struct llm_server srv;

static void templates(void **state) {
  (void)state;
  json_t *st = json_pack("{s:s, s:i, s:{s:s}, s:[i,i]}", "topic", "owls", "n",
                         3, "user", "name", "Ada", "list", 1, 2);
  char *out;
  struct loom_error e;
  assert_int_equal(
      loom_llm_template_render(
          "Write {n} facts about {topic} for {user.name}: {list} {{ok}}", st,
          &out, &e),
      LOOM_OK);
  assert_string_equal(out, "Write 3 facts about owls for Ada: [1,2] {ok}");
  loom_free(out);
  assert_int_equal(loom_llm_template_render("About {topc}", st, &out, &e),
                   LOOM_ERR_INVALID);
  assert_string_equal(e.message,
                      "prompt template: the state has no field 'topc'");
  assert_int_equal(loom_llm_template_render("oops {topic", st, &out, &e),
                   LOOM_ERR_INVALID);
  json_decref(st);
}

static void answer_json(void **state) {
  (void)state;
  json_t *v = loom_llm_answer_json("```json\n{\"a\": 1}\n```");
  assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
  json_decref(v);
  v = loom_llm_answer_json(" [1, 2] ");
  assert_int_equal(json_array_size(v), 2);
  json_decref(v);
  assert_null(loom_llm_answer_json("Sure! Here it is: {"));
}

struct outcome {
  sem_t done;
  loom_err err;
  char error[800];
  char value[512];
  int attempts;
};

static void on_done(void *ud, struct loom_llm_structured_result *r) {
  struct outcome *o = ud;
  o->err = r->err;
  o->attempts = r->attempts;
  snprintf(o->error, sizeof o->error, "%s", r->error);
  char *s = r->value ? loom_json_dump(r->value) : loom_strdup("");
  snprintf(o->value, sizeof o->value, "%s", s);
  loom_free(s);
  sem_post(&o->done);
}

struct job {
  struct loom_provider *p;
  struct loom_llm_request *req;
  struct outcome *o;
  loom_err start_err;
};

static void start_cb(struct loom_loop *loop, void *arg) {
  struct job *j = arg;
  struct loom_llm_env env = {.loop = loop, .http = srv.http};
  struct loom_error e;
  j->start_err =
      loom_llm_structured_start(&env, j->p, j->req, on_done, j->o, NULL, &e);
}

static void run(struct loom_provider *p, struct loom_llm_request *req,
                struct outcome *o) {
  memset(o, 0, sizeof *o);
  struct job j = {p, req, o, LOOM_OK};
  assert_true(llm_server_call_wait(&srv, start_cb, &j, &o->done, &j.start_err));
}

static void structured_with_repair(void **state) {
  (void)state;
  struct loom_provider *p = llm_server_openai(&srv, "gpt-4o-mini", "k");
  json_t *schema =
      json_pack("{s:s, s:{s:{s:s}, s:{s:s, s:i}}, s:[s,s]}", "type", "object",
                "properties", "title", "type", "string", "score", "type",
                "integer", "maximum", 10, "required", "title", "score");
  json_t *msgs =
      json_pack("[{s:s, s:s}]", "role", "user", "content", "Rate it.");
  struct loom_llm_request req = {.messages = msgs,
                                 .response_schema = schema,
                                 .response_schema_name = "rating",
                                 .temperature = -1};
  struct outcome o;
  /* Valid at once (inside a fence). */
  llm_server_script(&srv, "[{\"content\":\"```json\\n{\\\"title\\\":\\\"A\\\","
                          "\\\"score\\\":7}\\n```\"}]");
  run(p, &req, &o);
  assert_int_equal(o.err, LOOM_OK);
  assert_int_equal(o.attempts, 1);
  assert_string_equal(o.value, "{\"title\":\"A\",\"score\":7}");
  /* Invalid, then repaired: the repair request names the problem. */
  llm_server_script(
      &srv, "[{\"content\":\"{\\\"title\\\":\\\"A\\\",\\\"score\\\":70}\"},"
            "{\"content\":\"{\\\"title\\\":\\\"A\\\",\\\"score\\\":7}\"}]");
  run(p, &req, &o);
  assert_int_equal(o.err, LOOM_OK);
  assert_int_equal(o.attempts, 2);
  json_t *all = llm_server_requests(&srv);
  json_t *second = json_object_get(json_array_get(all, 1), "json");
  json_t *m = json_object_get(second, "messages");
  assert_int_equal(json_array_size(m), 3);
  assert_non_null(strstr(
      json_string_value(json_object_get(json_array_get(m, 2), "content")),
      "$.score must be at most 10"));
  assert_string_equal(
      json_string_value(json_object_get(
          json_object_get(json_object_get(second, "response_format"),
                          "json_schema"),
          "name")),
      "rating");
  json_decref(all);
  /* Still wrong after the repair: a clear failure. */
  llm_server_script(
      &srv, "[{\"content\":\"no JSON here\"},{\"content\":\"still none\"}]");
  run(p, &req, &o);
  assert_int_equal(o.err, LOOM_ERR_UPSTREAM);
  assert_non_null(
      strstr(o.error, "after a repair attempt: the answer is not JSON"));
  /* The offline provider fills the schema's fields. */
  struct loom_provider *off = loom_provider_new(
      &loom_provider_offline, "offline", "extractive", "", "");
  run(off, &req, &o);
  assert_int_equal(o.err, LOOM_OK);
  json_decref(msgs);
  json_decref(schema);
  loom_provider_free(p);
  loom_provider_free(off);
}

static int setup(void **state) {
  (void)state;
  return llm_server_start(&srv, NULL) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  llm_server_stop(&srv);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(templates),
      cmocka_unit_test(answer_json),
      cmocka_unit_test(structured_with_repair),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
