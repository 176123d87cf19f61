/*
 * Chunk aggregation: folds OpenAI chat.completion.chunk objects into one
 * chat.completion, for clients that did not ask for a stream while the
 * bridge streams from the provider (so that a deadline can still return
 * the text generated so far), and for the tool rounds of `tools` context.
 *
 * Per choice index: delta.content and delta.refusal are appended; tool
 * calls are keyed by their `index`, take id, type and function.name from
 * the first delta that has them and append function.arguments; the last
 * non-null finish_reason wins; the role defaults to "assistant". A chunk's
 * `usage` (non-null) replaces what was seen. Choices and tool calls come
 * out in index order.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/bridge-int.h"

#include <stdlib.h>
#include <string.h>

#include "pennyworth/buf.h"

struct call {
    long long index;
    json_t *id, *type, *name; /* owned or NULL */
    struct pw_buf args;
};

struct choice {
    long long index;
    struct pw_buf text, refusal;
    bool has_text, has_refusal;
    char *finish;
    struct call *calls;
    size_t ncalls;
};

struct bridge_agg {
    struct choice *choices;
    size_t nchoices;
    json_t *usage;
    json_t *fingerprint;
    bool content;
};

struct bridge_agg *bridge_agg_new(void) { return calloc(1, sizeof(struct bridge_agg)); }

void bridge_agg_free(struct bridge_agg *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nchoices; i++) {
        struct choice *c = &a->choices[i];
        for (size_t j = 0; j < c->ncalls; j++) {
            json_decref(c->calls[j].id);
            json_decref(c->calls[j].type);
            json_decref(c->calls[j].name);
            pw_buf_free(&c->calls[j].args);
        }
        free(c->calls);
        pw_buf_free(&c->text);
        pw_buf_free(&c->refusal);
        free(c->finish);
    }
    free(a->choices);
    json_decref(a->usage);
    json_decref(a->fingerprint);
    free(a);
}

static struct choice *choice_at(struct bridge_agg *a, long long index)
{
    for (size_t i = 0; i < a->nchoices; i++)
        if (a->choices[i].index == index)
            return &a->choices[i];
    struct choice *nc = realloc(a->choices, (a->nchoices + 1) * sizeof *nc);
    if (!nc)
        return NULL;
    a->choices = nc;
    struct choice *c = &nc[a->nchoices++];
    memset(c, 0, sizeof *c);
    c->index = index;
    return c;
}

static struct call *call_at(struct choice *c, long long index)
{
    for (size_t i = 0; i < c->ncalls; i++)
        if (c->calls[i].index == index)
            return &c->calls[i];
    struct call *nc = realloc(c->calls, (c->ncalls + 1) * sizeof *nc);
    if (!nc)
        return NULL;
    c->calls = nc;
    struct call *t = &nc[c->ncalls++];
    memset(t, 0, sizeof *t);
    t->index = index;
    return t;
}

static void keep(json_t **slot, json_t *v)
{
    if (!*slot && v && !json_is_null(v))
        *slot = json_incref(v);
}

static enum pw_err add_calls(struct choice *c, json_t *calls, struct pw_error *err)
{
    size_t i;
    json_t *tc;
    json_array_foreach(calls, i, tc) {
        json_t *ix = json_object_get(tc, "index");
        long long index = json_is_integer(ix) ? json_integer_value(ix) : (long long)i;
        struct call *t = call_at(c, index);
        if (!t)
            return pw_error_set(err, PW_ERR_NOMEM, NULL, "aggregate: out of memory");
        json_t *fn = json_object_get(tc, "function");
        keep(&t->id, json_object_get(tc, "id"));
        keep(&t->type, json_object_get(tc, "type"));
        keep(&t->name, json_object_get(fn, "name"));
        const char *args = json_string_value(json_object_get(fn, "arguments"));
        if (args && pw_buf_append_str(&t->args, args) != PW_OK)
            return pw_error_set(err, PW_ERR_NOMEM, NULL, "aggregate: out of memory");
    }
    return PW_OK;
}

enum pw_err bridge_agg_add(struct bridge_agg *a, json_t *chunk, struct pw_error *err)
{
    json_t *usage = json_object_get(chunk, "usage");
    if (json_is_object(usage)) {
        json_decref(a->usage);
        a->usage = json_deep_copy(usage);
    }
    keep(&a->fingerprint, json_object_get(chunk, "system_fingerprint"));
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(chunk, "choices"), i, ch) {
        json_t *ix = json_object_get(ch, "index");
        struct choice *c = choice_at(a, json_is_integer(ix) ? json_integer_value(ix) : 0);
        if (!c)
            return pw_error_set(err, PW_ERR_NOMEM, NULL, "aggregate: out of memory");
        json_t *delta = json_object_get(ch, "delta");
        const char *text = json_string_value(json_object_get(delta, "content"));
        if (text) {
            if (pw_buf_append_str(&c->text, text) != PW_OK)
                return pw_error_set(err, PW_ERR_NOMEM, NULL, "aggregate: out of memory");
            c->has_text = true;
            a->content = a->content || *text;
        }
        const char *refusal = json_string_value(json_object_get(delta, "refusal"));
        if (refusal) {
            if (pw_buf_append_str(&c->refusal, refusal) != PW_OK)
                return pw_error_set(err, PW_ERR_NOMEM, NULL, "aggregate: out of memory");
            c->has_refusal = true;
            a->content = a->content || *refusal;
        }
        json_t *calls = json_object_get(delta, "tool_calls");
        if (json_array_size(calls)) {
            a->content = true;
            if (add_calls(c, calls, err) != PW_OK)
                return err ? err->code : PW_ERR_NOMEM;
        }
        const char *fin = json_string_value(json_object_get(ch, "finish_reason"));
        if (fin) {
            char *f = strdup(fin);
            if (!f)
                return pw_error_set(err, PW_ERR_NOMEM, NULL, "aggregate: out of memory");
            free(c->finish);
            c->finish = f;
        }
    }
    return PW_OK;
}

static json_t *tool_calls(const struct choice *c)
{
    json_t *arr = json_array();
    const struct call **order = malloc((c->ncalls ? c->ncalls : 1) * sizeof *order);
    if (!arr || !order) {
        free(order);
        json_decref(arr);
        return NULL;
    }
    for (size_t i = 0; i < c->ncalls; i++)
        order[i] = &c->calls[i];
    for (size_t i = 1; i < c->ncalls; i++) /* few calls: insertion sort by index */
        for (size_t j = i; j > 0 && order[j - 1]->index > order[j]->index; j--) {
            const struct call *t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (size_t i = 0; i < c->ncalls; i++) {
        const struct call *t = order[i];
        const char *type = json_string_value(t->type);
        json_array_append_new(arr, json_pack("{s:O?, s:s, s:{s:O?, s:s}}", "id", t->id, "type",
                                             type ? type : "function", "function", "name",
                                             t->name, "arguments", pw_buf_str(&t->args)));
    }
    free(order);
    return arr;
}

json_t *bridge_agg_result(const struct bridge_agg *a, const char *id, const char *model,
                          long long created)
{
    json_t *choices = json_array();
    struct choice **order = malloc((a->nchoices ? a->nchoices : 1) * sizeof *order);
    if (!choices || !order) {
        free(order);
        json_decref(choices);
        return NULL;
    }
    for (size_t i = 0; i < a->nchoices; i++)
        order[i] = &a->choices[i];
    for (size_t i = 1; i < a->nchoices; i++)
        for (size_t j = i; j > 0 && order[j - 1]->index > order[j]->index; j--) {
            struct choice *t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (size_t i = 0; i < a->nchoices; i++) {
        const struct choice *c = order[i];
        json_t *msg = json_pack("{s:s, s:s?, s:s*}", "role", "assistant", "content",
                                c->has_text ? pw_buf_str(&c->text) : NULL, "refusal",
                                c->has_refusal ? pw_buf_str(&c->refusal) : NULL);
        if (msg && !c->has_text)
            json_object_set_new(msg, "content", json_null());
        if (msg && c->ncalls)
            json_object_set_new(msg, "tool_calls", tool_calls(c));
        json_array_append_new(choices,
                              json_pack("{s:I, s:o, s:O, s:s?}", "index", c->index, "message",
                                        msg, "logprobs", json_null(), "finish_reason",
                                        c->finish));
    }
    free(order);
    if (a->nchoices == 0)
        json_array_append_new(choices, json_pack("{s:i, s:{s:s, s:n}, s:n, s:n}", "index", 0,
                                                 "message", "role", "assistant", "content",
                                                 "logprobs", "finish_reason"));
    json_t *out = json_pack("{s:s, s:s, s:I, s:s, s:o}", "id", id, "object", "chat.completion",
                            "created", created, "model", model, "choices", choices);
    if (out && a->usage)
        json_object_set(out, "usage", a->usage);
    if (out && a->fingerprint)
        json_object_set(out, "system_fingerprint", a->fingerprint);
    return out;
}

json_t *bridge_agg_usage(const struct bridge_agg *a) { return a->usage; }
bool bridge_agg_has_content(const struct bridge_agg *a) { return a->content; }

bool bridge_chunk_is_content(json_t *chunk)
{
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(chunk, "choices"), i, ch) {
        json_t *delta = json_object_get(ch, "delta");
        const char *text = json_string_value(json_object_get(delta, "content"));
        const char *refusal = json_string_value(json_object_get(delta, "refusal"));
        if ((text && *text) || (refusal && *refusal) ||
            json_array_size(json_object_get(delta, "tool_calls")) ||
            json_is_string(json_object_get(ch, "finish_reason")))
            return true;
    }
    return false;
}
