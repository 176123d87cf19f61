/*
 * An exchange's answer to its client. Chunks from every attempt come in
 * here (bridge_reply_chunks): usage is taken out of them, catalog calls
 * withheld (enrich.c), and the rest held in the attempt's `att` until a
 * chunk carries content. A streaming client's response then starts
 * ("commit": 200, text/event-stream, the products header) and every chunk
 * after is one SSE line; a non-streaming client gets the aggregate of the
 * accepted chunks at the end (bridge_reply_completion). Failures become an
 * OpenAI error answer, or, once committed, an SSE error event that ends
 * the stream (never [DONE]).
 *
 * Usage-only chunks never pass: usage is summed over rounds and the usage
 * chunk is written at the end, only when the client asked for it. What
 * the exchange used is reported into the request's context
 * (pw_server_ctx_usage) before the final answer is queued, since the
 * server reads the context when the request ends.
 *
 * Back-pressure: above PAUSE_ABOVE bytes queued for the client the
 * upstream transfer is paused, below RESUME_BELOW resumed (the timer
 * checks); an idle stream gets an SSE comment every KEEPALIVE_MS.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/exchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/upstream.h"
#include "pennyworth/clock.h"
#include "pennyworth/json.h"
#include "pennyworth/log.h"

#define KEEPALIVE_MS 15000
#define PAUSE_ABOVE ((size_t)1024 * 1024)
#define RESUME_BELOW ((size_t)256 * 1024)

/* The product ids as one header value ("" for none); new. */
static char *products_header(const struct bridge_exchange *x)
{
    size_t n = 1;
    size_t i;
    json_t *v;
    json_array_foreach(x->products, i, v)
        n += strlen(json_string_value(v)) + 2;
    char *s = malloc(n);
    if (!s)
        return NULL;
    size_t len = 0;
    json_array_foreach(x->products, i, v) {
        const char *id = json_string_value(v);
        len += (size_t)snprintf(s + len, n - len, "%s%s", i ? ", " : "", id);
    }
    s[len] = '\0';
    return s;
}

void bridge_reply_usage(struct bridge_exchange *x)
{
    if (!x->sctx)
        return;
    const struct bridge_deploy *d = x->cur;
    long long cost = -1;
    if (d && d->priced)
        cost = (x->usage_in * d->price_in + x->usage_out * d->price_out) / 1000000;
    char *products = json_array_size(x->products) ? json_dumps(x->products, PW_JSON_WIRE)
                                                  : NULL;
    struct pw_server_usage u = {
        .model = x->model,
        .provider = d ? d->t->provider->name : NULL,
        .upstream_model = d ? d->t->model : NULL,
        .prompt_tokens = x->usage_in,
        .completion_tokens = x->usage_out,
        .cached_tokens = x->usage_cached,
        .cost_micros = cost,
        .products = products,
    };
    pw_server_ctx_usage(x->sctx, &u);
    free(products);
}

/* Writing to the client ------------------------------------------------------------------------ */

static void write_sse(struct bridge_exchange *x, json_t *obj)
{
    char *s = json_dumps(obj, PW_JSON_WIRE);
    if (!s)
        return;
    size_t n = strlen(s);
    char *line = malloc(n + 9);
    if (line) {
        memcpy(line, "data: ", 6);
        memcpy(line + 6, s, n);
        memcpy(line + 6 + n, "\n\n", 2);
        pw_server_req_write(x->r, line, n + 8);
        free(line);
    }
    free(s);
    x->last_write = pw_clock_ms();
}

static void commit(struct bridge_exchange *x)
{
    char *products = products_header(x);
    /* X-Request-Id is the pipeline's (every answer carries the request's). */
    const char *hdrs[] = {"cache-control", "no-cache",
                          "x-pennyworth-context-products", products ? products : "",
                          "connection", "close", NULL};
    pw_server_req_start(x->r, 200, "text/event-stream", hdrs);
    free(products);
    x->committed = true;
    x->last_write = pw_clock_ms();
}

/* An OpenAI error object (new). */
static json_t *error_object(const struct pw_error *err)
{
    char *s = bridge_error_body(err->message, pw_err_openai_type(err->code), NULL,
                                err->code == PW_ERR_TIMEOUT ? "timeout" : NULL);
    json_t *o = s ? json_loads(s, 0, NULL) : NULL;
    free(s);
    return o;
}

/* A chunk that only finishes every choice seen with `reason` (new). */
static json_t *finish_chunk(const struct bridge_exchange *x, const char *reason)
{
    return json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:{}, s:n, s:s}]}", "id", x->id, "object",
                     "chat.completion.chunk", "created", x->created, "model", x->model,
                     "choices", "index", 0, "delta", "logprobs", "finish_reason", reason);
}

/* Committed stream failed: say so in the stream and end it. */
static void stream_failed(struct bridge_exchange *x, const struct pw_error *err)
{
    if (err->code == PW_ERR_TIMEOUT) {
        json_t *fin = finish_chunk(x, "length");
        if (fin)
            write_sse(x, fin);
        json_decref(fin);
    }
    json_t *e = error_object(err);
    if (e)
        write_sse(x, e);
    json_decref(e);
    bridge_reply_usage(x);
    pw_server_req_end(x->r);
    bridge_exchange_finish(x);
}

void bridge_reply_fail(struct bridge_exchange *x)
{
    if (!x->last.code)
        pw_error_set(&x->last, PW_ERR_UPSTREAM, NULL,
                     "no deployment of model '%s' is available (circuit open)", x->model);
    pw_warn("bridge: %s (%s): %s", x->id, x->model, x->last.message);
    if (x->committed) {
        stream_failed(x, &x->last);
        return;
    }
    char *products = products_header(x);
    bridge_reply_usage(x);
    bridge_respond_error(x->r, &x->last, products);
    free(products);
    bridge_exchange_finish(x);
}

/* The usage object of the whole exchange (new). */
static json_t *usage_total(const struct bridge_exchange *x)
{
    json_t *u = json_pack("{s:I, s:I, s:I}", "prompt_tokens", x->usage_in, "completion_tokens",
                          x->usage_out, "total_tokens", x->usage_in + x->usage_out);
    if (u && x->usage_cached)
        json_object_set_new(u, "prompt_tokens_details",
                            json_pack("{s:I}", "cached_tokens", x->usage_cached));
    return u;
}

void bridge_reply_completion(struct bridge_exchange *x, const struct pw_error *notice)
{
    struct bridge_agg *a = bridge_agg_new();
    size_t i;
    json_t *c;
    if (a)
        json_array_foreach(x->out, i, c)
            bridge_agg_add(a, c, NULL);
    json_t *doc = a ? bridge_agg_result(a, x->id, x->model, x->created) : NULL;
    bridge_agg_free(a);
    if (doc && x->usage_seen)
        json_object_set_new(doc, "usage", usage_total(x));
    if (doc && notice) {
        json_array_foreach(json_object_get(doc, "choices"), i, c)
            if (!json_is_string(json_object_get(c, "finish_reason")))
                json_object_set_new(c, "finish_reason", json_string("length"));
        json_t *e = error_object(notice);
        if (e)
            json_object_set(doc, "error", json_object_get(e, "error"));
        json_decref(e);
    }
    char *body = doc ? json_dumps(doc, PW_JSON_WIRE) : NULL;
    json_decref(doc);
    bridge_reply_usage(x);
    if (!body) {
        struct pw_error e = {0};
        pw_error_set(&e, PW_ERR_NOMEM, NULL, "out of memory");
        bridge_respond_error(x->r, &e, NULL);
        bridge_exchange_finish(x);
        return;
    }
    char *products = products_header(x);
    const char *hdrs[] = {"x-pennyworth-context-products", products ? products : "", NULL};
    pw_server_req_respond(x->r, 200, "application/json", hdrs, body, strlen(body));
    if (x->cached && !notice && x->b->cache)
        bridge_cache_put(x->b->cache, &x->cache_key, body, products, pw_clock_ms());
    free(products);
    free(body);
    bridge_exchange_finish(x);
}

void bridge_reply_complete(struct bridge_exchange *x)
{
    if (!x->client_stream) {
        bridge_reply_completion(x, NULL);
        return;
    }
    if (!x->committed)
        commit(x);
    if (x->include_usage) {
        json_t *u = json_pack("{s:s, s:s, s:I, s:s, s:[], s:o}", "id", x->id, "object",
                              "chat.completion.chunk", "created", x->created, "model",
                              x->model, "choices", "usage", usage_total(x));
        if (u)
            write_sse(x, u);
        json_decref(u);
    }
    pw_server_req_write(x->r, "data: [DONE]\n\n", 14);
    bridge_reply_usage(x);
    pw_server_req_end(x->r);
    bridge_exchange_finish(x);
}

/* Chunks from the provider --------------------------------------------------------------------- */

static void take_usage(struct bridge_exchange *x, json_t *u)
{
    x->usage_seen = true;
    x->usage_in += json_integer_value(json_object_get(u, "prompt_tokens"));
    x->usage_out += json_integer_value(json_object_get(u, "completion_tokens"));
    x->usage_cached += json_integer_value(
        json_object_get(json_object_get(u, "prompt_tokens_details"), "cached_tokens"));
}

void bridge_reply_chunks(struct bridge_exchange *x, json_t *chunks)
{
    size_t i;
    json_t *c;
    json_array_foreach(chunks, i, c) {
        json_t *u = json_object_get(c, "usage");
        if (json_is_object(u))
            take_usage(x, u);
        json_object_del(c, "usage");
        if (json_array_size(json_object_get(c, "choices")) == 0)
            continue; /* the usage chunk: ours comes at the end */
        if (x->round) {
            bridge_agg_add(x->round, c, NULL);
            if (!bridge_enrich_filter(x, c))
                continue;
        }
        json_array_append(x->att, c);
        if (!x->client_stream || !x->r)
            continue;
        if (!x->committed) {
            if (!bridge_chunk_is_content(c))
                continue;
            commit(x);
            size_t j;
            json_t *held;
            json_array_foreach(x->att, j, held)
                write_sse(x, held);
            continue;
        }
        write_sse(x, c);
    }
    if (x->committed && x->xfer && !x->paused && pw_server_req_queued(x->r) > PAUSE_ABOVE) {
        x->paused = true;
        bridge_xfer_pause(x->xfer, true);
    }
}

void bridge_reply_tick(struct bridge_exchange *x, long long now_ms)
{
    if (!x->committed || !x->r)
        return;
    if (x->paused && x->xfer && pw_server_req_queued(x->r) < RESUME_BELOW) {
        x->paused = false;
        bridge_xfer_pause(x->xfer, false);
    }
    if (now_ms - x->last_write >= KEEPALIVE_MS) {
        pw_server_req_write(x->r, ": keep-alive\n\n", 14);
        x->last_write = now_ms;
    }
}
