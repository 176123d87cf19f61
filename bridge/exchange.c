/*
 * One chat request from the moment it was admitted until the client has
 * its answer (an "exchange"): its life and state machine. The parts live
 * in attempt.c (upstream attempts, retries, fallback, breakers), reply.c
 * (the answer) and enrich.c (catalog context and tool rounds); exchange.h
 * has the shared state.
 *
 * States (function of each transition in brackets):
 *
 *   CONTEXT --search answered / none needed [bridge_enrich_begin]--> attempt
 *   attempt [bridge_attempt_next]: the first deployment from `dep` whose
 *       breaker allows it; none left -> failed [bridge_reply_fail]
 *   UPSTREAM --error status, cut, timeout, bad stream [attempt.c: failed]-->
 *       retryable and tries left: WAIT (backoff; the timer
 *       [bridge_exchanges_tick] resumes); retryable: next deployment;
 *       otherwise: failed
 *   UPSTREAM --body ended [attempt.c: round_end]--> catalog tool calls
 *       (tools mode, [bridge_enrich_round]): TOOLS (calls run through the
 *       MCP session) --all answered--> attempt (same deployment, one more
 *       round); else: done [bridge_reply_complete]
 *
 * The client's response is held until the first chunk that carries
 * content (text, a refusal, a tool call or a finish): until then a failure
 * is still a proper status code or a silent fallback. A streaming client's
 * response starts at that chunk ("committed"); after it there is no retry
 * and no provider switch: a failure ends the stream with an SSE error
 * event, never with [DONE]. Non-streaming clients get the aggregate of the
 * chunks at the end; when the total deadline cuts a response that had
 * content, they get that partial completion with finish_reason "length"
 * and an `error` member (streaming clients: a "length" chunk, then the
 * error event).
 *
 * Every exchange is on the bridge's list (for the timer and shutdown) and
 * ends exactly once in bridge_exchange_finish. What it used (model,
 * deployment, tokens, cost, products) goes into the request's context
 * before its answer is queued, or as the client leaves.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/exchange.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/context.h"
#include "pennyworth/clock.h"

static void make_id(char *buf, size_t size)
{
    unsigned char raw[12];
    static const char hex[] = "0123456789abcdef";
    if (RAND_bytes(raw, sizeof raw) != 1)
        memset(raw, 0, sizeof raw);
    char tail[25];
    for (size_t i = 0; i < sizeof raw; i++) {
        tail[2 * i] = hex[raw[i] >> 4];
        tail[2 * i + 1] = hex[raw[i] & 15];
    }
    tail[24] = '\0';
    snprintf(buf, size, "chatcmpl-%s", tail);
}

void bridge_exchange_finish(struct bridge_exchange *x)
{
    struct pw_bridge *b = x->b;
    bridge_attempt_drop(x);
    if (x->op)
        bridge_context_cancel(x->op);
    bridge_enrich_clear(x);
    bridge_trace_finish(x);
    if (x->r)
        pw_server_req_set_data(x->r, NULL);
    if (x->prev)
        x->prev->next = x->next;
    else
        b->exchanges = x->next;
    if (x->next)
        x->next->prev = x->prev;
    json_decref(x->req);
    json_decref(x->att);
    json_decref(x->out);
    json_decref(x->products);
    free(x->model);
    free(x);
}

void bridge_exchange_start(struct pw_bridge *b, struct pw_server_req *r, json_t *body,
                           const struct bridge_alias *alias, enum bridge_mode mode,
                           const struct bridge_cache_key *key)
{
    struct bridge_exchange *x = calloc(1, sizeof *x);
    const char *model = json_string_value(json_object_get(body, "model"));
    if (!x || !(x->model = strdup(model ? model : "")) || !(x->att = json_array()) ||
        !(x->out = json_array()) || !(x->products = json_array())) {
        if (x) {
            free(x->model);
            json_decref(x->att);
            json_decref(x->out);
        }
        free(x);
        struct pw_error e = {0};
        pw_error_set(&e, PW_ERR_NOMEM, NULL, "out of memory");
        bridge_report_model(r, model);
        bridge_respond_error(r, &e, NULL);
        json_decref(body); /* last: `model` is borrowed from it */
        return;
    }
    x->b = b;
    x->r = r;
    pw_buf_init(&x->ebuf, BRIDGE_MAX_ERROR_BODY);
    x->sctx = pw_server_req_ctx(r);
    bridge_trace_start(x);
    x->req = body;
    x->alias = alias;
    x->mode = mode;
    if (key) {
        x->cached = true;
        x->cache_key = *key;
    }
    x->created = (long long)time(NULL);
    make_id(x->id, sizeof x->id);
    x->client_stream = json_is_true(json_object_get(body, "stream"));
    x->include_usage =
        x->client_stream &&
        json_is_true(json_object_get(json_object_get(body, "stream_options"), "include_usage"));
    x->next = b->exchanges;
    if (b->exchanges)
        b->exchanges->prev = x;
    b->exchanges = x;
    pw_server_req_set_data(r, x);
    bridge_enrich_begin(x);
}

void bridge_exchange_closed(struct bridge_exchange *x)
{
    /* The context lives until on_close returns: what was used so far
     * (tokens of a stream cut short) is still reported. */
    x->r = NULL;
    bridge_attempt_drop(x);
    bridge_reply_usage(x);
    bridge_exchange_finish(x);
}

void bridge_exchanges_tick(struct pw_bridge *b)
{
    long long now = pw_clock_ms();
    struct bridge_exchange *x = b->exchanges;
    while (x) {
        struct bridge_exchange *next = x->next; /* x may end below */
        if (x->phase == BRIDGE_PHASE_WAIT && now >= x->wait_until)
            bridge_attempt_next(x);
        else
            bridge_reply_tick(x, now);
        x = next;
    }
}

void bridge_exchanges_free(struct pw_bridge *b)
{
    while (b->exchanges) {
        struct bridge_exchange *x = b->exchanges;
        x->r = NULL; /* the server has closed every connection by now */
        x->sctx = NULL;
        bridge_exchange_finish(x);
    }
}
