/*
 * ConverseStream events -> OpenAI chat.completion.chunk objects, one
 * translator per streamed response.
 *
 *   messageStart                 {"role":"assistant","content":""}
 *   contentBlockStart (toolUse)  tool_calls[{index, id, type, function:
 *                                {name, arguments:""}}]; the call gets the
 *                                next number 0, 1, 2 (Bedrock's
 *                                contentBlockIndex counts text blocks too)
 *   contentBlockDelta text       {"content": text}
 *   contentBlockDelta toolUse    tool_calls[{index, function:{arguments:
 *                                fragment}}]; no id/type/name after the
 *                                call's first delta
 *   contentBlockStop             a tool call that streamed no input gets
 *                                arguments "{}" (a call without arguments
 *                                may stream none, and "" is not JSON)
 *   messageStop                  {} with finish_reason
 *   metadata                     the usage chunk {"choices": [], "usage"}
 *                                when the client asked for it
 *
 * Text blocks have no start event: a delta for a block we have not seen
 * start is text. Whatever chunk comes first carries role "assistant", even
 * if messageStart was lost. Reasoning blocks and unknown events are not
 * representable in OpenAI's chunks and are skipped, so a newer Bedrock does
 * not break older bridges. With include_usage every chunk carries
 * "usage": null until the usage chunk, as OpenAI does.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/converse.h"

#include <stdlib.h>
#include <string.h>

#include "bridge/converse-int.h"

/* Bedrock numbers content blocks from 0; a response has a handful. The
 * bound keeps a hostile index from sizing our table. */
#define MAX_BLOCKS 1024

struct slot {
    int call;   /* tool call number, -1 for a text (or unknown) block */
    bool input; /* the call streamed some input */
    bool open;  /* started and not stopped */
};

struct bridge_converse_stream {
    char *id;
    char *model;
    long long created;
    bool role_sent;
    bool stopped;
    int next_call;
    struct slot *slots;
    size_t n_slots;
    json_t *usage;
};

enum pw_err bridge_converse_stream_new(const char *id, const char *model, long long created,
                                       struct bridge_converse_stream **out,
                                       struct pw_error *err)
{
    struct bridge_converse_stream *st = calloc(1, sizeof *st);
    if (st) {
        st->id = strdup(id);
        st->model = strdup(model);
        st->created = created;
    }
    if (!st || !st->id || !st->model) {
        bridge_converse_stream_free(st);
        *out = NULL;
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory starting a stream");
    }
    *out = st;
    return PW_OK;
}

void bridge_converse_stream_free(struct bridge_converse_stream *st)
{
    if (!st)
        return;
    free(st->id);
    free(st->model);
    free(st->slots);
    json_decref(st->usage);
    free(st);
}

bool bridge_converse_stream_done(const struct bridge_converse_stream *st)
{
    return st->stopped;
}

json_t *bridge_converse_stream_usage(const struct bridge_converse_stream *st)
{
    return st->usage ? json_deep_copy(st->usage) : NULL;
}

static enum pw_err malformed(struct pw_error *err, const char *event)
{
    return pw_error_set(err, PW_ERR_UPSTREAM, NULL, "bedrock: malformed %s event", event);
}

static enum pw_err nomem(struct pw_error *err)
{
    return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory translating the stream");
}

/* Appends a chunk with `delta` (stolen) and `finish` (NULL: null). */
static enum pw_err emit(struct bridge_converse_stream *st, json_t *delta, const char *finish,
                        bool include_usage, json_t *chunks, struct pw_error *err)
{
    if (delta && !st->role_sent) {
        json_object_set_new(delta, "role", json_string("assistant"));
        st->role_sent = true;
    }
    json_t *choice = json_pack("{s:i, s:o, s:n, s:o}", "index", 0, "delta", delta, "logprobs",
                               "finish_reason", finish ? json_string(finish) : json_null());
    json_t *c = json_pack("{s:s, s:s, s:I, s:s, s:[o]}", "id", st->id, "object",
                          "chat.completion.chunk", "created", (json_int_t)st->created, "model",
                          st->model, "choices", choice);
    if (c && include_usage)
        json_object_set_new(c, "usage", json_null());
    if (json_array_append_new(chunks, c) != 0)
        return nomem(err);
    return PW_OK;
}

/* The slot of block `index` (grown as needed), or NULL if out of range. */
static struct slot *slot_at(struct bridge_converse_stream *st, json_t *index)
{
    if (!json_is_integer(index) || json_integer_value(index) < 0 ||
        json_integer_value(index) >= MAX_BLOCKS)
        return NULL;
    size_t i = (size_t)json_integer_value(index);
    if (i >= st->n_slots) {
        struct slot *more = realloc(st->slots, (i + 1) * sizeof *more);
        if (!more)
            return NULL;
        for (size_t k = st->n_slots; k <= i; k++)
            more[k] = (struct slot){-1, false, false};
        st->slots = more;
        st->n_slots = i + 1;
    }
    return &st->slots[i];
}

static json_t *call_delta(int call, json_t *fields)
{
    json_object_set_new(fields, "index", json_integer(call));
    return json_pack("{s:[o]}", "tool_calls", fields);
}

/* Closes a tool call that streamed nothing with arguments "{}". */
static enum pw_err close_slot(struct bridge_converse_stream *st, struct slot *s,
                              bool include_usage, json_t *chunks, struct pw_error *err)
{
    bool was_open = s->open;
    s->open = false;
    if (!was_open || s->call < 0 || s->input)
        return PW_OK;
    s->input = true;
    return emit(st, call_delta(s->call, json_pack("{s:{s:s}}", "function", "arguments", "{}")),
                NULL, include_usage, chunks, err);
}

static enum pw_err block_start(struct bridge_converse_stream *st, json_t *p, bool inc,
                               json_t *chunks, struct pw_error *err)
{
    json_t *use = json_object_get(json_object_get(p, "start"), "toolUse");
    struct slot *s = slot_at(st, json_object_get(p, "contentBlockIndex"));
    if (!s)
        return malformed(err, "contentBlockStart");
    s->open = true;
    if (!use)
        return PW_OK;
    const char *id = json_string_value(json_object_get(use, "toolUseId"));
    const char *name = json_string_value(json_object_get(use, "name"));
    if (!id || !name)
        return malformed(err, "contentBlockStart");
    s->call = st->next_call++;
    s->input = false;
    json_t *fields = json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id, "type", "function",
                               "function", "name", name, "arguments", "");
    return emit(st, call_delta(s->call, fields), NULL, inc, chunks, err);
}

static enum pw_err block_delta(struct bridge_converse_stream *st, json_t *p, bool inc,
                               json_t *chunks, struct pw_error *err)
{
    json_t *delta = json_object_get(p, "delta");
    json_t *text = json_object_get(delta, "text");
    json_t *use = json_object_get(delta, "toolUse");
    struct slot *s = slot_at(st, json_object_get(p, "contentBlockIndex"));
    if (!s || !json_is_object(delta))
        return malformed(err, "contentBlockDelta");
    if (json_is_string(text)) {
        s->open = true;
        if (json_string_length(text) == 0)
            return PW_OK;
        return emit(st, json_pack("{s:O}", "content", text), NULL, inc, chunks, err);
    }
    if (!use)
        return PW_OK;
    json_t *input = json_object_get(use, "input");
    if (s->call < 0 || !json_is_string(input))
        return malformed(err, "contentBlockDelta");
    if (json_string_length(input) == 0)
        return PW_OK;
    s->input = true;
    return emit(st, call_delta(s->call, json_pack("{s:{s:O}}", "function", "arguments", input)),
                NULL, inc, chunks, err);
}

static enum pw_err block_stop(struct bridge_converse_stream *st, json_t *p, bool inc,
                              json_t *chunks, struct pw_error *err)
{
    struct slot *s = slot_at(st, json_object_get(p, "contentBlockIndex"));
    if (!s)
        return malformed(err, "contentBlockStop");
    return close_slot(st, s, inc, chunks, err);
}

static enum pw_err message_start(struct bridge_converse_stream *st, json_t *p, bool inc,
                                 json_t *chunks, struct pw_error *err)
{
    if (st->role_sent)
        return PW_OK;
    return emit(st, json_pack("{s:s}", "content", ""), NULL, inc, chunks, err);
}

static enum pw_err message_stop(struct bridge_converse_stream *st, json_t *p, bool inc,
                                json_t *chunks, struct pw_error *err)
{
    /* A call whose contentBlockStop was skipped still gets its "{}". */
    for (size_t i = 0; i < st->n_slots; i++) {
        enum pw_err rc = close_slot(st, &st->slots[i], inc, chunks, err);
        if (rc != PW_OK)
            return rc;
    }
    st->stopped = true;
    const char *reason = json_string_value(json_object_get(p, "stopReason"));
    return emit(st, json_object(), bridge_converse_finish_reason(reason), inc, chunks, err);
}

static enum pw_err metadata(struct bridge_converse_stream *st, json_t *p, bool inc,
                            json_t *chunks, struct pw_error *err)
{
    json_t *usage = bridge_converse_usage(json_object_get(p, "usage"));
    if (!usage)
        return PW_OK;
    json_decref(st->usage);
    st->usage = usage;
    if (!inc)
        return PW_OK;
    json_t *c = json_pack("{s:s, s:s, s:I, s:s, s:[], s:O}", "id", st->id, "object",
                          "chat.completion.chunk", "created", (json_int_t)st->created, "model",
                          st->model, "choices", "usage", usage);
    if (json_array_append_new(chunks, c) != 0)
        return nomem(err);
    return PW_OK;
}

static const struct {
    const char *type;
    enum pw_err (*fn)(struct bridge_converse_stream *st, json_t *payload, bool include_usage,
                      json_t *chunks, struct pw_error *err);
} events[] = {
    {"messageStart", message_start},
    {"contentBlockStart", block_start},
    {"contentBlockDelta", block_delta},
    {"contentBlockStop", block_stop},
    {"messageStop", message_stop},
    {"metadata", metadata},
};

enum pw_err bridge_converse_stream_event(struct bridge_converse_stream *st,
                                         const char *event_type, json_t *payload,
                                         bool include_usage, json_t *chunks,
                                         struct pw_error *err)
{
    for (size_t i = 0; event_type && i < sizeof events / sizeof events[0]; i++) {
        if (strcmp(events[i].type, event_type) != 0)
            continue;
        if (!json_is_object(payload))
            return malformed(err, event_type);
        return events[i].fn(st, payload, include_usage, chunks, err);
    }
    return PW_OK;
}
