/*
 * llm — response lifetime and the stream accumulator.
 *
 * Tool-call fragments are matched to a call by the stream's index when
 * there is one; servers that omit it (some OpenAI-compatible servers) send
 * an id with the first fragment of each call and nothing after, so an id
 * starts a call and a bare fragment extends the newest one.
 */
#include "agents/llm.h"

#include <string.h>

#include "core/alloc.h"

void loom_llm_response_cleanup(struct loom_llm_response *r) {
  loom_free(r->content);
  for (size_t i = 0; i < r->n_calls; i++) {
    loom_free(r->calls[i].id);
    loom_free(r->calls[i].name);
    loom_free(r->calls[i].arguments);
  }
  loom_free(r->calls);
  loom_free(r->finish_reason);
  loom_free(r->model);
  loom_free(r->id);
  memset(r, 0, sizeof *r);
}

json_t *loom_llm_response_message(const struct loom_llm_response *r) {
  json_t *m = json_pack("{s:s}", "role", "assistant");
  json_object_set_new(m, "content",
                      r->content && r->content[0] ? json_string(r->content)
                                                  : json_null());
  if (r->n_calls) {
    json_t *calls = json_array();
    for (size_t i = 0; i < r->n_calls; i++)
      json_array_append_new(calls,
                            json_pack("{s:s, s:s, s:s}", "id", r->calls[i].id,
                                      "name", r->calls[i].name, "arguments",
                                      r->calls[i].arguments));
    json_object_set_new(m, "tool_calls", calls);
  }
  return m;
}

void loom_llm_acc_init(struct loom_llm_acc *a, loom_llm_delta_cb cb, void *ud) {
  memset(a, 0, sizeof *a);
  loom_buf_init(&a->content, LOOM_LLM_MAX_TEXT);
  a->delta_cb = cb;
  a->delta_ud = ud;
}

void loom_llm_acc_cleanup(struct loom_llm_acc *a) {
  loom_buf_cleanup(&a->content);
  for (size_t i = 0; i < a->n_calls; i++) {
    loom_free(a->calls[i].id);
    loom_free(a->calls[i].name);
    loom_buf_cleanup(&a->calls[i].args);
  }
  loom_free(a->calls);
  loom_free(a->finish_reason);
  loom_free(a->model);
  loom_free(a->id);
  memset(a, 0, sizeof *a);
}

loom_err loom_llm_acc_text(struct loom_llm_acc *a, const char *text,
                           size_t len) {
  if (len == 0)
    return LOOM_OK;
  loom_err err = loom_buf_append(&a->content, text, len);
  if (!err && a->delta_cb)
    a->delta_cb(a->delta_ud, text, len);
  return err;
}

void loom_llm_acc_set(char **field, const char *v) {
  loom_free(*field);
  *field = v ? loom_strdup(v) : NULL;
}

static loom_err new_call(struct loom_llm_acc *a, long index, size_t *slot) {
  if (a->n_calls == LOOM_LLM_MAX_TOOL_CALLS)
    return LOOM_ERR_TOO_LARGE;
  if (!a->calls)
    a->calls = loom_calloc(LOOM_LLM_MAX_TOOL_CALLS, sizeof *a->calls);
  *slot = a->n_calls++;
  a->calls[*slot].index = index;
  loom_buf_init(&a->calls[*slot].args, LOOM_LLM_MAX_TEXT);
  return LOOM_OK;
}

/* Which call a fragment belongs to, creating it when it starts one. */
static loom_err find_call(struct loom_llm_acc *a, long index, const char *id,
                          size_t *slot) {
  if (index >= 0) {
    for (size_t i = 0; i < a->n_calls; i++)
      if (a->calls[i].index == index) {
        *slot = i;
        return LOOM_OK;
      }
    return new_call(a, index, slot);
  }
  if (id && *id) {
    for (size_t i = 0; i < a->n_calls; i++)
      if (a->calls[i].id && strcmp(a->calls[i].id, id) == 0) {
        *slot = i;
        return LOOM_OK;
      }
    return new_call(a, (long)a->n_calls, slot);
  }
  if (a->n_calls == 0)
    return new_call(a, 0, slot);
  *slot = a->n_calls - 1;
  return LOOM_OK;
}

loom_err loom_llm_acc_tool(struct loom_llm_acc *a, long index, const char *id,
                           const char *name, const char *args,
                           size_t args_len) {
  size_t slot;
  loom_err err = find_call(a, index, id, &slot);
  if (err)
    return err;
  if (id && *id && !a->calls[slot].id)
    a->calls[slot].id = loom_strdup(id);
  if (name && *name) {
    if (!a->calls[slot].name)
      a->calls[slot].name = loom_strdup(name);
  }
  if (args && args_len)
    err = loom_buf_append(&a->calls[slot].args, args, args_len);
  return err;
}

void loom_llm_acc_take(struct loom_llm_acc *a, struct loom_llm_response *out) {
  memset(out, 0, sizeof *out);
  out->content = loom_buf_take(&a->content, NULL);
  if (a->n_calls)
    out->calls = loom_calloc(a->n_calls, sizeof *out->calls);
  for (size_t i = 0; i < a->n_calls; i++) {
    struct loom_llm_tool_call *c = &out->calls[i];
    c->id = a->calls[i].id ? a->calls[i].id
                           : loom_asprintf("call_%zu", i); /* servers w/o ids */
    c->name = a->calls[i].name ? a->calls[i].name : loom_strdup("");
    c->arguments = a->calls[i].args.len ? loom_buf_take(&a->calls[i].args, NULL)
                                        : loom_strdup("{}");
    loom_buf_cleanup(&a->calls[i].args);
    a->calls[i].id = a->calls[i].name = NULL;
  }
  out->n_calls = a->n_calls;
  a->n_calls = 0;
  out->finish_reason = a->finish_reason ? a->finish_reason
                       : out->n_calls   ? loom_strdup("tool_calls")
                                        : loom_strdup("stop");
  out->model = a->model;
  out->id = a->id;
  out->usage = a->usage;
  a->finish_reason = a->model = a->id = NULL;
}

void loom_embeddings_cleanup(struct loom_embeddings *e) {
  loom_free(e->data);
  memset(e, 0, sizeof *e);
}
