/*
 * test_llm_agent — the agent loop against the scripted model server:
 * parallel tool calls with results sent back in order, the repeat guard,
 * the forced final answer, validation errors fed back, the ReAct text
 * fallback, and an offline agent end to end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agents/agent.h"
#include "llm_server_harness.h"

static struct llm_server srv;
static struct loom_tools *tools;

struct outcome {
  sem_t done;
  loom_err err;
  char error[512];
  char answer[1024];
  int iterations, tool_calls, events;
  char deltas[1024];
  long prompt_tokens;
  json_t *messages;
};

static void on_event(void *ud, const char *type, const json_t *data) {
  (void)type;
  (void)data;
  ((struct outcome *)ud)->events++;
}

static void on_delta(void *ud, const char *text, size_t len) {
  struct outcome *o = ud;
  strncat(o->deltas, text,
          len < sizeof o->deltas - strlen(o->deltas) - 1
              ? len
              : sizeof o->deltas - strlen(o->deltas) - 1);
}

static void on_done(void *ud, struct loom_agent_result *r) {
  struct outcome *o = ud;
  o->err = r->err;
  snprintf(o->error, sizeof o->error, "%s", r->error);
  snprintf(o->answer, sizeof o->answer, "%s", r->answer);
  o->iterations = r->iterations;
  o->tool_calls = r->tool_calls;
  o->prompt_tokens = r->usage.prompt_tokens;
  o->messages = json_incref(r->messages);
  sem_post(&o->done);
}

struct job {
  struct loom_provider *p;
  const char *const *names;
  int max_iterations;
  bool react;
  bool allow_private; /* http_fetch may reach the scripted server */
  json_t *messages;
  struct outcome *o;
  loom_err start_err;
};

static void start_cb(struct loom_loop *loop, void *arg) {
  struct job *j = arg;
  struct loom_llm_env env = {.loop = loop, .http = srv.http};
  struct loom_agent_opts o = {.provider = j->p,
                              .tools = tools,
                              .tool_names = j->names,
                              .max_iterations = j->max_iterations,
                              .react = j->react,
                              .tool_env.allow_private_addresses =
                                  j->allow_private,
                              .temperature = -1,
                              .on_event = on_event,
                              .on_delta = on_delta,
                              .on_done = on_done,
                              .ud = j->o};
  struct loom_error e;
  j->start_err = loom_agent_start(&env, &o, j->messages, NULL, &e);
}

static void run(struct job *j) {
  memset(j->o, 0, sizeof *j->o);
  assert_true(
      llm_server_call_wait(&srv, start_cb, j, &j->o->done, &j->start_err));
}

static struct loom_provider *openai(void) {
  return llm_server_openai(&srv, "gpt-4o-mini", "k");
}

static json_t *question(const char *q) {
  return json_pack("[{s:s, s:s}]", "role", "user", "content", q);
}

static json_t *request_json(size_t i) {
  json_t *all = llm_server_requests(&srv);
  json_t *r = json_incref(json_object_get(json_array_get(all, i), "json"));
  json_decref(all);
  return r;
}

static const char *const CALC_AND_TIME[] = {"calculator", "current_time", NULL};

static void parallel_tools_then_answer(void **state) {
  (void)state;
  llm_server_script(
      &srv,
      "[{\"tool_calls\":[{\"id\":\"c1\",\"name\":\"calculator\",\"arguments\":"
      "\"{\\\"expression\\\":\\\"6*7\\\"}\"},{\"id\":\"c2\",\"name\":"
      "\"calculator\","
      "\"arguments\":\"{\\\"expr\\\":1}\"},{\"id\":\"c3\",\"name\":\"current_"
      "time\","
      "\"arguments\":\"{}\"}]},{\"content\":\"It is 42.\"}]");
  struct loom_provider *p = openai();
  json_t *q = question("What is 6*7?");
  struct outcome o;
  struct job j = {.p = p, .names = CALC_AND_TIME, .messages = q, .o = &o};
  run(&j);
  assert_int_equal(o.err, LOOM_OK);
  assert_string_equal(o.answer, "It is 42.");
  assert_string_equal(o.deltas, "It is 42."); /* streamed to on_delta */
  assert_int_equal(o.iterations, 2);
  assert_int_equal(o.tool_calls, 3);
  assert_int_equal(o.prompt_tokens, 18);
  /* The second request carries the three results, in call order. */
  json_t *body = request_json(1);
  json_t *msgs = json_object_get(body, "messages");
  assert_int_equal(json_array_size(msgs), 5);
  json_t *t1 = json_array_get(msgs, 2), *t2 = json_array_get(msgs, 3);
  assert_string_equal(json_string_value(json_object_get(t1, "tool_call_id")),
                      "c1");
  assert_string_equal(json_string_value(json_object_get(t1, "content")), "42");
  assert_string_equal(json_string_value(json_object_get(t2, "tool_call_id")),
                      "c2");
  assert_non_null(strstr(json_string_value(json_object_get(t2, "content")),
                         "invalid arguments for 'calculator'"));
  json_t *first = request_json(0);
  assert_int_equal(json_array_size(json_object_get(first, "tools")), 2);
  json_decref(first);
  json_decref(body);
  json_decref(o.messages);
  json_decref(q);
  loom_provider_free(p);
}

static void repeats_refused_and_final_answer_forced(void **state) {
  (void)state;
  const char *again =
      "{\"tool_calls\":[{\"id\":\"x\",\"name\":\"calculator\",\"arguments\":"
      "\"{\\\"expression\\\": \\\"1+1\\\"}\"}]}";
  char script[1024];
  snprintf(script, sizeof script, "[%s,%s,{\"content\":\"Two.\"}]", again,
           again);
  llm_server_script(&srv, script);
  struct loom_provider *p = openai();
  json_t *q = question("1+1?");
  struct outcome o;
  struct job j = {.p = p,
                  .names = CALC_AND_TIME,
                  .max_iterations = 3,
                  .messages = q,
                  .o = &o};
  run(&j);
  assert_int_equal(o.err, LOOM_OK);
  assert_string_equal(o.answer, "Two.");
  assert_int_equal(o.tool_calls, 1); /* the repeat was not run */
  json_t *body = request_json(2);
  json_t *msgs = json_object_get(body, "messages");
  json_t *refusal = json_array_get(msgs, json_array_size(msgs) - 2);
  assert_non_null(strstr(json_string_value(json_object_get(refusal, "content")),
                         "already called with these arguments"));
  /* The last allowed call asks for the answer: no tools, a note. */
  assert_string_equal(json_string_value(json_object_get(body, "tool_choice")),
                      "none");
  json_t *note = json_array_get(msgs, json_array_size(msgs) - 1);
  assert_non_null(strstr(json_string_value(json_object_get(note, "content")),
                         "final answer"));
  json_decref(body);
  json_decref(o.messages);
  json_decref(q);
  loom_provider_free(p);
}

static void react_fallback(void **state) {
  (void)state;
  llm_server_script(
      &srv, "[{\"content\":\"Thought: compute it\\nAction: calculator\\nAction "
            "Input: "
            "{\\\"expression\\\": \\\"2^10\\\"}\\nObservation: (made up)\"},"
            "{\"content\":\"Thought: done\\nFinal Answer: 1024\"}]");
  struct loom_provider *p = openai();
  json_t *q = question("2^10?");
  struct outcome o;
  struct job j = {
      .p = p, .names = CALC_AND_TIME, .react = true, .messages = q, .o = &o};
  run(&j);
  assert_int_equal(o.err, LOOM_OK);
  assert_string_equal(o.answer, "1024");
  json_t *first = request_json(0);
  assert_null(json_object_get(first, "tools")); /* no native tools */
  json_t *sys = json_array_get(json_object_get(first, "messages"), 0);
  assert_non_null(strstr(json_string_value(json_object_get(sys, "content")),
                         "Action Input:"));
  json_t *second = request_json(1);
  json_t *msgs = json_object_get(second, "messages");
  json_t *obs = json_array_get(msgs, json_array_size(msgs) - 1);
  assert_string_equal(json_string_value(json_object_get(obs, "content")),
                      "Observation: 1024");
  json_decref(first);
  json_decref(second);
  json_decref(o.messages);
  json_decref(q);
  loom_provider_free(p);
}

static void react_parser(void **state) {
  (void)state;
  char *tool, *input, *answer;
  assert_true(loom_agent_react_parse(
      "Action: search\nAction Input: {\"q\":1}\n", &tool, &input, &answer));
  assert_string_equal(tool, "search");
  assert_string_equal(input, "{\"q\":1}");
  assert_null(answer);
  loom_free(tool);
  loom_free(input);
  assert_true(loom_agent_react_parse("Thought: ok\nFinal Answer:  Paris \n",
                                     &tool, &input, &answer));
  assert_string_equal(answer, "Paris");
  loom_free(answer);
  assert_false(loom_agent_react_parse("just text", &tool, &input, &answer));
}

static void offline_agent_end_to_end(void **state) {
  (void)state;
  struct loom_provider *p = loom_provider_new(&loom_provider_offline, "offline",
                                              "extractive", "", "");
  json_t *q = json_pack("[{s:s, s:s}, {s:s, s:s}]", "role", "system", "content",
                        "The meeting is on Tuesday. Lunch is at noon.", "role",
                        "user", "content", "When is the meeting?");
  static const char *const time_only[] = {"current_time", NULL};
  struct outcome o;
  struct job j = {.p = p, .names = time_only, .messages = q, .o = &o};
  run(&j);
  assert_int_equal(o.err, LOOM_OK);
  assert_int_equal(o.iterations, 2);
  assert_int_equal(o.tool_calls, 1);
  assert_string_equal(o.answer,
                      "[offline extractive answer: no model is configured] "
                      "The meeting is on Tuesday.");
  assert_int_equal(o.events, 4); /* llm_end, tool_call, tool_result, llm_end */
  json_decref(o.messages);
  json_decref(q);
  loom_provider_free(p);
}

/* A fetched page cut at max_bytes in the middle of a character is not
 * UTF-8: the tool's result reaches the model with the cut byte replaced
 * (it was lost: a JSON string refused it, the next request carried null). */
static void fetched_text_cut_mid_character(void **state) {
  (void)state;
  char script[1024];
  snprintf(
      script, sizeof script,
      "[{\"tool_calls\":[{\"id\":\"f\",\"name\":\"http_fetch\","
      "\"arguments\":\"{\\\"url\\\":\\\"%s/page\\\",\\\"max_bytes\\\":3}"
      "\"}]},{\"kind\":\"raw\",\"headers\":{\"content-type\":"
      "\"text/plain\"},\"body\":\"\\u00e9\\u00e9\"},{\"content\":\"Read.\"}]",
      srv.base);
  llm_server_script(&srv, script);
  struct loom_provider *p = openai();
  json_t *q = question("Read the page.");
  static const char *const fetch_only[] = {"http_fetch", NULL};
  struct outcome o;
  struct job j = {.p = p,
                  .names = fetch_only,
                  .allow_private = true,
                  .messages = q,
                  .o = &o};
  run(&j);
  assert_int_equal(o.err, LOOM_OK);
  assert_string_equal(o.answer, "Read.");
  json_t *body = request_json(2); /* 0: model, 1: the page, 2: model */
  json_t *msgs = json_object_get(body, "messages");
  json_t *result = json_array_get(msgs, json_array_size(msgs) - 1);
  assert_string_equal(json_string_value(json_object_get(result, "content")),
                      "HTTP 200, text/plain, truncated\n\n\xc3\xa9?");
  json_decref(body);
  json_decref(o.messages);
  json_decref(q);
  loom_provider_free(p);
}

static void unknown_tool_name_fails_to_start(void **state) {
  (void)state;
  struct loom_provider *p = openai();
  static const char *const bad[] = {"no_such_tool", NULL};
  json_t *q = question("?");
  struct outcome o;
  struct job j = {.p = p, .names = bad, .messages = q, .o = &o};
  assert_int_equal(loom_loop_call(srv.loop, start_cb, &j), LOOM_OK);
  assert_int_equal(j.start_err, LOOM_ERR_NOT_FOUND);
  json_decref(q);
  loom_provider_free(p);
}

static int setup(void **state) {
  (void)state;
  if (!llm_server_start(&srv, NULL))
    return -1;
  tools = loom_tools_new();
  loom_tools_add_builtins(tools);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  llm_server_stop(&srv);
  loom_tools_free(tools);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parallel_tools_then_answer),
      cmocka_unit_test(repeats_refused_and_final_answer_forced),
      cmocka_unit_test(react_fallback),
      cmocka_unit_test(react_parser),
      cmocka_unit_test(offline_agent_end_to_end),
      cmocka_unit_test(unknown_tool_name_fails_to_start),
      cmocka_unit_test(fetched_text_cut_mid_character),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
