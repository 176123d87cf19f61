/*
 * What the catalog adds to an exchange, through the in-process MCP
 * session (context.h).
 *
 * Auto mode: before the first attempt, the latest user text is searched in
 * the catalog and the products found are injected as a system message
 * after the leading system and developer messages. A failed search is
 * logged and skipped: the request goes on without context.
 *
 * Tools mode: the catalog tools (prefixed, context.h) are added to the
 * client's. Deltas of calls to them are withheld from the client (client
 * calls are renumbered to stay 0, 1, 2); a round whose only calls are
 * ours is run here and the conversation goes back to the model, at most
 * MAX_ROUNDS times (the last round is offered no catalog tools, so it must
 * answer). A round with a client call ends the exchange as usual.
 *
 * Either way the ids of the products the model was shown are collected in
 * x->products (unique, in order) for the products header and the usage.
 * The search, and each tool round, is a "catalog context" span when
 * tracing (trace.c), current while the in-process MCP calls are made so
 * that their tools/call spans are its children.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/exchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/context.h"
#include "pennyworth/log.h"

#define MAX_ROUNDS 4

struct bridge_tool_call {
    struct bridge_exchange *x;
    char *id, *name, *args;
    char *result;                  /* the tool message text, once answered */
    struct bridge_context_op *op;
};

static void add_products(struct bridge_exchange *x, json_t *ids)
{
    size_t i, j;
    json_t *v, *w;
    json_array_foreach(ids, i, v) {
        if (!json_is_string(v))
            continue;
        bool dup = false;
        json_array_foreach(x->products, j, w)
            dup = dup || json_equal(v, w);
        if (!dup)
            json_array_append(x->products, v);
    }
}

/* Context (auto mode) -------------------------------------------------------------------------- */

/* Inserts `text` as a system message after the leading system and
 * developer messages. */
static void inject_system(json_t *req, const char *text)
{
    json_t *msgs = json_object_get(req, "messages");
    size_t at = 0;
    while (at < json_array_size(msgs)) {
        const char *role =
            json_string_value(json_object_get(json_array_get(msgs, at), "role"));
        if (!role || (strcmp(role, "system") != 0 && strcmp(role, "developer") != 0))
            break;
        at++;
    }
    json_array_insert_new(msgs, at, json_pack("{s:s, s:s}", "role", "system", "content", text));
}

static void on_search(void *ud, json_t *products, const struct pw_error *err)
{
    struct bridge_exchange *x = ud;
    x->op = NULL;
    if (products) {
        char *msg = bridge_context_message(products);
        if (msg)
            inject_system(x->req, msg);
        free(msg);
        size_t i;
        json_t *p;
        json_t *ids = json_array();
        json_array_foreach(products, i, p) {
            json_t *id = json_object_get(p, "id");
            if (json_is_string(id))
                json_array_append(ids, id);
            else if (json_is_integer(id))
                json_array_append_new(ids, json_sprintf("%" JSON_INTEGER_FORMAT,
                                                        json_integer_value(id)));
        }
        add_products(x, ids);
        json_decref(ids);
    } else if (err) {
        pw_warn("bridge: %s: catalog context skipped: %s", x->id, err->message);
    }
    bridge_trace_context_end(x, products ? NULL : err ? err->message : "no answer");
    bridge_attempt_next(x);
}

void bridge_enrich_begin(struct bridge_exchange *x)
{
    if (x->mode == BRIDGE_CTX_AUTO && x->b->ctx) {
        char *text = bridge_context_user_text(json_object_get(x->req, "messages"));
        struct pw_error e = {0};
        /* The search's tools/call span is the context span's child. */
        const struct pw_trace_ctx *prev = pw_trace_enter(text ? bridge_trace_context_begin(x)
                                                              : NULL);
        enum pw_err rc = text ? bridge_context_search(x->b->ctx, text,
                                                      BRIDGE_CONTEXT_DEFAULT_LIMIT, on_search,
                                                      x, &x->op, &e)
                              : PW_ERR_NOT_FOUND;
        pw_trace_leave(prev);
        if (rc == PW_OK) {
            free(text);
            x->phase = BRIDGE_PHASE_CONTEXT;
            return;
        }
        bridge_trace_context_end(x, e.message);
        if (text)
            pw_warn("bridge: %s: catalog context skipped: %s", x->id, e.message);
        free(text);
    }
    bridge_attempt_next(x);
}

/* Tool rounds (tools mode) --------------------------------------------------------------------- */

json_t *bridge_enrich_request(struct bridge_exchange *x)
{
    json_t *req = json_copy(x->req);
    if (!req || x->mode != BRIDGE_CTX_TOOLS || !x->b->ctx || x->rounds >= MAX_ROUNDS)
        return req;
    json_t *ours = bridge_context_tools(x->b->ctx);
    if (!json_array_size(ours))
        return req;
    json_t *tools = json_object_get(req, "tools");
    json_t *all = json_is_array(tools) ? json_copy(tools) : json_array();
    json_array_extend(all, ours);
    json_object_set_new(req, "tools", all);
    return req;
}

bool bridge_enrich_filter(struct bridge_exchange *x, json_t *chunk)
{
    bool keep = false;
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(chunk, "choices"), i, ch) {
        json_t *delta = json_object_get(ch, "delta");
        json_t *calls = json_object_get(delta, "tool_calls");
        for (size_t j = 0; j < json_array_size(calls);) {
            json_t *tc = json_array_get(calls, j);
            long long ix = json_integer_value(json_object_get(tc, "index"));
            if (ix < 0 || ix >= BRIDGE_MAX_CALLS) {
                json_array_remove(calls, j);
                continue;
            }
            const char *name =
                json_string_value(json_object_get(json_object_get(tc, "function"), "name"));
            if (x->owned[ix] < 0 && name) {
                x->owned[ix] = bridge_context_owns(x->b->ctx, name) ? 1 : 0;
                if (!x->owned[ix])
                    x->client_index[ix] = x->nclient++;
            }
            if (x->owned[ix] != 0) {
                json_array_remove(calls, j);
                continue;
            }
            json_object_set_new(tc, "index", json_integer(x->client_index[ix]));
            j++;
        }
        if (calls && json_array_size(calls) == 0)
            json_object_del(delta, "tool_calls");
        /* A round that only called our tools is not over for the client. */
        const char *fin = json_string_value(json_object_get(ch, "finish_reason"));
        if (fin && strcmp(fin, "tool_calls") == 0 && x->nclient == 0 &&
            x->rounds < MAX_ROUNDS)
            json_object_set_new(ch, "finish_reason", json_null());
        if (bridge_chunk_is_content(chunk) || json_object_size(delta) > 1 ||
            (json_object_size(delta) == 1 && !json_object_get(delta, "role")))
            keep = true;
    }
    return keep;
}

void bridge_enrich_clear(struct bridge_exchange *x)
{
    for (size_t i = 0; i < x->ncalls; i++) {
        if (x->calls[i].op)
            bridge_context_cancel(x->calls[i].op);
        free(x->calls[i].id);
        free(x->calls[i].name);
        free(x->calls[i].args);
        free(x->calls[i].result);
    }
    free(x->calls);
    x->calls = NULL;
    x->ncalls = x->pending = 0;
}

/* Every call of the round answered: the assistant's calls and the tool
 * messages join the conversation, and the model gets it back. */
static void tools_done(struct bridge_exchange *x)
{
    bridge_trace_context_end(x, NULL);
    json_t *msgs = json_object_get(x->req, "messages");
    json_t *calls = json_array();
    for (size_t i = 0; i < x->ncalls; i++)
        json_array_append_new(calls, json_pack("{s:s?, s:s, s:{s:s?, s:s?}}", "id",
                                               x->calls[i].id,
                                               "type", "function", "function", "name",
                                               x->calls[i].name, "arguments",
                                               x->calls[i].args));
    json_t *done = bridge_agg_result(x->round, x->id, x->model, x->created);
    json_t *msg = json_object_get(json_array_get(json_object_get(done, "choices"), 0),
                                  "message");
    json_t *content = json_object_get(msg, "content");
    json_array_append_new(msgs, json_pack("{s:s, s:O, s:o}", "role", "assistant", "content",
                                          content ? content : json_null(), "tool_calls",
                                          calls));
    json_decref(done);
    for (size_t i = 0; i < x->ncalls; i++)
        json_array_append_new(msgs, json_pack("{s:s, s:s?, s:s}", "role", "tool", "tool_call_id",
                                              x->calls[i].id, "content",
                                              x->calls[i].result ? x->calls[i].result : ""));
    bridge_enrich_clear(x);
    bridge_agg_free(x->round);
    x->round = NULL;
    x->rounds++;
    x->tries = 0;
    bridge_attempt_next(x);
}

static void on_call(void *ud, const char *text, json_t *ids, const struct pw_error *err)
{
    struct bridge_tool_call *c = ud;
    struct bridge_exchange *x = c->x;
    c->op = NULL;
    if (text) {
        c->result = strdup(text);
    } else {
        size_t n = strlen(err ? err->message : "") + 8;
        c->result = malloc(n);
        if (c->result)
            snprintf(c->result, n, "error: %s", err ? err->message : "");
    }
    add_products(x, ids);
    if (--x->pending == 0)
        tools_done(x);
}

static void run_tools(struct bridge_exchange *x)
{
    json_t *done = bridge_agg_result(x->round, x->id, x->model, x->created);
    json_t *msg = json_object_get(json_array_get(json_object_get(done, "choices"), 0),
                                  "message");
    json_t *calls = json_object_get(msg, "tool_calls");
    x->calls = calloc(json_array_size(calls) + 1, sizeof *x->calls);
    if (!x->calls) {
        json_decref(done);
        pw_error_set(&x->last, PW_ERR_NOMEM, NULL, "out of memory");
        bridge_reply_fail(x);
        return;
    }
    size_t i;
    json_t *tc;
    json_array_foreach(calls, i, tc) {
        json_t *fn = json_object_get(tc, "function");
        const char *name = json_string_value(json_object_get(fn, "name"));
        if (!name || !bridge_context_owns(x->b->ctx, name))
            continue;
        struct bridge_tool_call *c = &x->calls[x->ncalls++];
        const char *id = json_string_value(json_object_get(tc, "id"));
        const char *args = json_string_value(json_object_get(fn, "arguments"));
        char fallback[32];
        snprintf(fallback, sizeof fallback, "call_%d_%zu", x->rounds, i);
        c->x = x;
        c->id = strdup(id && *id ? id : fallback);
        c->name = strdup(name);
        c->args = strdup(args && *args ? args : "{}");
    }
    json_decref(done);
    x->phase = BRIDGE_PHASE_TOOLS;
    x->pending = x->ncalls;
    /* The calls' tools/call spans are the round's context span's children. */
    const struct pw_trace_ctx *prev = pw_trace_enter(bridge_trace_context_begin(x));
    for (size_t k = 0; k < x->ncalls; k++) {
        struct bridge_tool_call *c = &x->calls[k];
        struct pw_error e = {0};
        if (c->id && c->name && c->args &&
            bridge_context_call(x->b->ctx, c->name, c->args, on_call, c, &c->op, &e) == PW_OK)
            continue;
        size_t n = strlen(e.message) + 8;
        c->result = malloc(n);
        if (c->result)
            snprintf(c->result, n, "error: %s", e.message[0] ? e.message : "out of memory");
        x->pending--;
    }
    pw_trace_leave(prev);
    if (x->pending == 0)
        tools_done(x);
}

bool bridge_enrich_round(struct bridge_exchange *x)
{
    bool ours = false;
    for (int i = 0; i < BRIDGE_MAX_CALLS; i++)
        ours = ours || x->owned[i] == 1;
    if (!x->round || !ours || x->nclient != 0 || x->rounds >= MAX_ROUNDS)
        return false;
    run_tools(x);
    return true;
}
