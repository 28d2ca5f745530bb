/*
 * provider_offline — "offline/extractive": answers without any model.
 *
 * Used only when no provider is configured, so examples run end to end on a
 * fresh machine. It is deterministic and does not generate text:
 *  - while some declared tool has not been called in the conversation, it
 *    calls the next one in declaration order, filling required string
 *    arguments with the question, numbers with 0 and booleans with false;
 *  - then it answers with the sentences of the context (earlier user,
 *    assistant and tool messages, and the material of the last user
 *    message: what it holds besides the sentences ending in '?', e.g. the
 *    findings of "Question: {q} Findings: {f}") that share the most words
 *    with the question (those '?' sentences, or the whole message when it
 *    asks none), at most three, in their original order, prefixed by a
 *    label saying what it is (labels of earlier offline answers quoted in
 *    the context are left out). When none shares a word: the message's
 *    material as it comes; else the system prompt's sentences that share
 *    a word (context given as a system prompt); else what the tools
 *    returned. The system prompt comes last because it is the node's
 *    instructions: "You write short, plain briefs." is not an answer.
 *    With a response schema it answers a JSON object whose string fields
 *    hold that text.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/provider.h"
#include "core/alloc.h"
#include "core/json.h"

#define LABEL "[offline extractive answer: no model is configured] "
#define MAX_SENTENCES 2048
#define PICK 3

static const char *text_of(const json_t *m) {
  return json_string_value(json_object_get(m, "content"));
}

static bool tool_called(const json_t *messages, const char *name) {
  size_t i, j;
  const json_t *m, *c;
  json_array_foreach(messages, i, m) {
    json_array_foreach(json_object_get(m, "tool_calls"), j, c) {
      const char *n = json_string_value(json_object_get(c, "name"));
      if (n && strcmp(n, name) == 0)
        return true;
    }
  }
  return false;
}

static json_t *default_args(const json_t *schema, const char *question) {
  json_t *args = json_object();
  json_t *props = json_object_get(schema, "properties");
  size_t i;
  json_t *req;
  json_array_foreach(json_object_get(schema, "required"), i, req) {
    const char *name = json_string_value(req);
    const char *type = json_string_value(
        json_object_get(json_object_get(props, name ? name : ""), "type"));
    if (!name)
      continue;
    if (!type || strcmp(type, "string") == 0)
      json_object_set_new(args, name, json_string(question));
    else if (!strcmp(type, "number") || !strcmp(type, "integer"))
      json_object_set_new(args, name, json_integer(0));
    else if (strcmp(type, "boolean") == 0)
      json_object_set_new(args, name, json_false());
    else if (strcmp(type, "array") == 0)
      json_object_set_new(args, name, json_array());
    else
      json_object_set_new(args, name, json_object());
  }
  return args;
}

/* Words too common to say whether a sentence answers a question. */
static const char STOP[] =
    "|the|and|are|was|were|what|which|who|whom|whose|why|how|when|where|"
    "this|that|these|those|for|with|from|into|does|did|has|have|had|not|"
    "can|could|would|should|will|you|your|its|our|their|there|then|than|"
    "about|some|any|all|but|also|tell|please|give|list|";

static bool stopword(const char *w, size_t n) {
  char needle[24];
  if (n + 2 >= sizeof needle)
    return false;
  needle[0] = '|';
  for (size_t i = 0; i < n; i++)
    needle[i + 1] = (char)tolower((unsigned char)w[i]);
  needle[n + 1] = '|';
  needle[n + 2] = 0;
  return strstr(STOP, needle) != NULL;
}

/* Appends the lower-cased words of s[0..n) of at least 3 letters or
 * digits, stop words left out, each followed by '|', to `out` (which
 * starts with '|'). */
static void add_words(const char *s, size_t n, struct loom_buf *out) {
  size_t i = 0;
  while (i < n) {
    while (i < n && !isalnum((unsigned char)s[i]))
      i++;
    size_t start = i;
    while (i < n && isalnum((unsigned char)s[i]))
      i++;
    if (i - start >= 3 && !stopword(s + start, i - start)) {
      for (size_t k = start; k < i; k++) {
        char c = (char)tolower((unsigned char)s[k]);
        if (loom_buf_append(out, &c, 1))
          return;
      }
      if (loom_buf_append(out, "|", 1))
        return;
    }
  }
}

/* The words of s[0..n) as "|w1|w2|...|" (see add_words). */
static void words_of(const char *s, size_t n, struct loom_buf *out) {
  loom_buf_reset(out);
  if (!loom_buf_append(out, "|", 1))
    add_words(s, n, out);
}

static int overlap(const struct loom_buf *q, const char *s, size_t n,
                   struct loom_buf *tmp) {
  words_of(s, n, tmp);
  int score = 0;
  const char *w = q->data + 1;
  while (*w) {
    const char *end = strchr(w, '|');
    if (!end)
      break; /* the word list was cut at its cap */
    char needle[80];
    size_t wl = (size_t)(end - w);
    if (wl + 2 < sizeof needle) {
      needle[0] = '|';
      memcpy(needle + 1, w, wl);
      needle[wl + 1] = '|';
      needle[wl + 2] = 0;
      if (strstr(tmp->data, needle))
        score++;
    }
    w = end + 1;
  }
  return score;
}

/* Where a sentence comes from, which says what it may answer with. */
enum source {
  SRC_CONTEXT,  /* user, assistant and tool messages before the question */
  SRC_MATERIAL, /* the question's message, besides what it asks */
  SRC_ASK,      /* what the question's message asks (never an answer) */
  SRC_SYSTEM,   /* the instructions: an answer only when nothing else is */
};

struct sentence {
  const char *s;
  size_t n;
  int score;
  enum source src;
};

/* Splits `text` at . ! ? and newlines into sentences from `src`, scored
 * against the words `q` (NULL: not yet). */
static size_t split(const char *text, const struct loom_buf *q, enum source src,
                    struct sentence *out, size_t n, struct loom_buf *tmp) {
  const char *p = text;
  while (*p && n < MAX_SENTENCES) {
    while (*p && isspace((unsigned char)*p))
      p++;
    const char *start = p;
    while (*p && !strchr(".!?\n", *p))
      p++;
    if (*p && *p != '\n')
      p++;
    if (p > start) {
      out[n] = (struct sentence){start, (size_t)(p - start), 0, src};
      if (q)
        out[n].score = overlap(q, start, out[n].n, tmp);
      n++;
    }
  }
  return n;
}

/* `t` without the label of earlier offline answers (an answer quoted in a
 * later prompt is context, its label is not); the caller frees it. */
static char *unlabel(const char *t) {
  char *out = loom_strdup(t), *hit;
  while ((hit = strstr(out, LABEL)))
    memmove(hit, hit + strlen(LABEL), strlen(hit + strlen(LABEL)) + 1);
  return out;
}

/* When no sentence shares a word with the question, what the tools
 * returned (failed calls left out) is the best answer there is: a tool's
 * JSON or a date rarely shares the question's words, and "the context
 * does not answer this" hid results the agent had just fetched. */
static void tool_results(const json_t *messages, struct loom_buf *ans) {
  size_t i;
  const json_t *m;
  json_array_foreach(messages, i, m) {
    const char *role = json_string_value(json_object_get(m, "role"));
    if (!role || strcmp(role, "tool") || !text_of(m) ||
        json_is_true(json_object_get(m, "is_error")))
      continue;
    if (loom_buf_appendf(ans, "%s%s",
                         ans->len ? "; " : "The tools returned: ", text_of(m)))
      break; /* capped: what fits is enough */
  }
}

/* Appends to `ans` the PICK best sentences whose source is in `srcs` (a
 * mask of 1 << src) and that share a word with the question (ties:
 * earlier first), in their original order; with `any`, the first PICK of
 * them whatever their score. */
static void pick(const struct sentence *ss, size_t n, unsigned srcs, bool any,
                 struct loom_buf *ans) {
  bool keep[MAX_SENTENCES] = {0};
  for (int k = 0; k < PICK; k++) {
    long best = -1;
    for (size_t j = 0; j < n; j++)
      if (!keep[j] && (srcs & (1u << ss[j].src)) &&
          (any ? best < 0
               : ss[j].score > 0 && (best < 0 || ss[j].score > ss[best].score)))
        best = (long)j;
    if (best >= 0)
      keep[best] = true;
  }
  for (size_t j = 0; j < n; j++)
    if (keep[j] && loom_buf_appendf(ans, "%s%.*s", ans->len ? " " : "",
                                    (int)ss[j].n, ss[j].s))
      break; /* the answer is capped; what fits is enough */
}

/*
 * The question's message as sentences (ss[0..n)): those ending in '?' are
 * what it asks, the rest its material (a prompt such as "Question: {q}
 * Findings: {f}" carries both). The words of what it asks go to `q`; with
 * nothing asked, the whole message is the question, and its material is
 * only what a message of several sentences holds. Returns n.
 */
static size_t read_question(const char *text, struct sentence *ss,
                            struct loom_buf *q, struct loom_buf *tmp) {
  size_t n = split(text, NULL, SRC_MATERIAL, ss, 0, tmp), asks = 0;
  for (size_t j = 0; j < n; j++)
    if (ss[j].s[ss[j].n - 1] == '?') {
      ss[j].src = SRC_ASK;
      asks++;
    }
  if (asks == 0 || asks == n) {
    words_of(text, strlen(text), q);
    for (size_t j = 0; j < n && n < 2; j++)
      ss[j].src = SRC_ASK; /* one sentence: the request itself */
    return n;              /* material unscored: it is the question */
  }
  words_of("", 0, q);
  for (size_t j = 0; j < n; j++)
    if (ss[j].src == SRC_ASK)
      add_words(ss[j].s, ss[j].n, q);
  for (size_t j = 0; j < n; j++)
    if (ss[j].src == SRC_MATERIAL)
      ss[j].score = overlap(q, ss[j].s, ss[j].n, tmp);
  return n;
}

/*
 * The answer: the sentences of the context that share the most words
 * with the question; else the question's own material; else (context
 * given in a system prompt) the instructions' sentences that share a
 * word with it; else what the tools returned. Instructions come after
 * the rest, so a node is not answered with its own system prompt.
 */
static char *extract(const json_t *messages, const char *question) {
  struct loom_buf q, tmp, ans;
  loom_buf_init(&q, 1 << 16);
  loom_buf_init(&tmp, 1 << 20);
  loom_buf_init(&ans, 1 << 16);
  struct sentence *ss = loom_calloc(MAX_SENTENCES, sizeof *ss);
  char **texts = loom_calloc(json_array_size(messages) + 1, sizeof *texts);
  size_t nt = 0, i;
  texts[nt] = unlabel(question);
  size_t n = read_question(texts[nt++], ss, &q, &tmp);
  const json_t *m;
  json_array_foreach(messages, i, m) {
    const char *t = text_of(m);
    const char *role = json_string_value(json_object_get(m, "role"));
    if (!t || t == question)
      continue;
    texts[nt] = unlabel(t);
    n = split(texts[nt++], &q,
              role && !strcmp(role, "system") ? SRC_SYSTEM : SRC_CONTEXT, ss, n,
              &tmp);
  }
  pick(ss, n, 1u << SRC_CONTEXT | 1u << SRC_MATERIAL, false, &ans);
  if (!ans.len)
    pick(ss, n, 1u << SRC_MATERIAL, true, &ans);
  if (!ans.len)
    pick(ss, n, 1u << SRC_SYSTEM, false, &ans);
  if (!ans.len)
    tool_results(messages, &ans);
  if (!ans.len && loom_buf_append_str(&ans, "The given context does not "
                                            "answer this."))
    abort();
  for (i = 0; i < nt; i++)
    loom_free(texts[i]);
  loom_free(texts);
  loom_free(ss);
  loom_buf_cleanup(&q);
  loom_buf_cleanup(&tmp);
  return loom_buf_take(&ans, NULL);
}

static json_t *schema_answer(const json_t *schema, const char *text) {
  json_t *obj = json_object();
  const char *k;
  json_t *v;
  json_object_foreach(json_object_get(schema, "properties"), k, v) {
    const char *type = json_string_value(json_object_get(v, "type"));
    if (!type || strcmp(type, "string") == 0)
      json_object_set_new(obj, k, json_string(text));
    else if (strcmp(type, "array") == 0)
      json_object_set_new(obj, k, json_array());
    else if (strcmp(type, "boolean") == 0)
      json_object_set_new(obj, k, json_false());
    else if (!strcmp(type, "number") || !strcmp(type, "integer"))
      json_object_set_new(obj, k, json_integer(0));
  }
  return obj;
}

static const char *last_user(const json_t *messages) {
  for (size_t i = json_array_size(messages); i-- > 0;) {
    const json_t *m = json_array_get(messages, i);
    const char *role = json_string_value(json_object_get(m, "role"));
    if (role && strcmp(role, "user") == 0 && text_of(m))
      return text_of(m);
  }
  return "";
}

static loom_err local(const struct loom_provider *p,
                      const struct loom_llm_request *req,
                      struct loom_llm_acc *acc, struct loom_error *e) {
  (void)e;
  const char *question = last_user(req->messages);
  loom_llm_acc_set(&acc->model, "offline/extractive");
  loom_llm_acc_set(&acc->id, "offline");
  acc->done = true;
  bool tools_allowed = !req->tool_choice || strcmp(req->tool_choice, "none");
  size_t i;
  const json_t *t;
  json_array_foreach(tools_allowed ? req->tools : NULL, i, t) {
    const char *name = json_string_value(json_object_get(t, "name"));
    if (!name || tool_called(req->messages, name))
      continue;
    json_t *args = default_args(json_object_get(t, "parameters"), question);
    char *a = loom_json_dump(args);
    json_decref(args);
    char id[48];
    snprintf(id, sizeof id, "offline_call_%zu", i);
    loom_err err = loom_llm_acc_tool(acc, 0, id, name, a, strlen(a));
    loom_free(a);
    loom_llm_acc_set(&acc->finish_reason, "tool_calls");
    return err;
  }
  char *answer = extract(req->messages, question);
  loom_err err;
  if (req->response_schema) {
    json_t *obj = schema_answer(req->response_schema, answer);
    char *j = loom_json_dump(obj);
    json_decref(obj);
    err = loom_llm_acc_text(acc, j, strlen(j));
    loom_free(j);
  } else {
    err = loom_llm_acc_text(acc, LABEL, strlen(LABEL));
    if (!err)
      err = loom_llm_acc_text(acc, answer, strlen(answer));
  }
  loom_free(answer);
  loom_llm_acc_set(&acc->finish_reason, "stop");
  acc->usage.prompt_tokens = 0;
  acc->usage.completion_tokens = 0;
  (void)p;
  return err;
}

const struct loom_provider_ops loom_provider_offline = {
    .kind = "offline",
    .local = local,
};
