/*
 * An exchange's upstream attempts: the walk over the alias's deployments
 * (each behind its circuit breaker), one HTTP transfer per attempt through
 * the upstream thread, its decoding by the deployment's provider, and what
 * a failure leads to: a retry after backoff (floored by Retry-After), the
 * next deployment, or the final error (exchange.c draws the states).
 *
 * Every attempt's upstream time is measured: it begins just before the
 * transfer starts and ends exactly once, when the transfer is over (a
 * body, an error, a timeout) or cancelled (a decode failure, the client
 * leaving, shutdown). The request's context learns it
 * (pw_server_ctx_upstream_begin / _end), so the gateway's own overhead is
 * the rest, and pennyworth_upstream_duration_seconds observes it.
 *
 * Each attempt is also a CLIENT span when tracing (trace.c): begun with
 * the transfer (its traceparent goes upstream), ended where the attempt's
 * outcome is known: round_end, attempt_failed, or a drop (cancelled).
 *
 * The breakers' open/closed changes are mirrored in pennyworth_circuit_open
 * (1 from opening until the breaker closes again, its half-open probe
 * included).
 *
 * Chunks of an attempt wait in `att` until the attempt ends well (then
 * they join `out`, the whole answer) or fails (then they are dropped; a
 * streaming client that was committed has seen them already).
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/exchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bridge/upstream.h"
#include "pennyworth/clock.h"
#include "pennyworth/log.h"

/* Response headers an error mapping may read after on_head. */
static const char *const saved_names[BRIDGE_SAVED_HEADERS] = {
    "retry-after", "retry-after-ms", "x-amzn-errortype", "x-amzn-requestid", "content-type",
};

/* A number in [0, 1) for jitter: xorshift64*, spread rather than secrecy. */
static double jitter(struct pw_bridge *b)
{
    unsigned long long v = b->rng;
    v ^= v >> 12;
    v ^= v << 25;
    v ^= v >> 27;
    b->rng = v;
    return (double)((v * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* Records an attempt's outcome on the deployment's breaker and mirrors a
 * change between closed and not closed in the gauge. */
static void breaker_record(struct bridge_deploy *d, bool ok)
{
    bool was_open = d->breaker.state != BRIDGE_CLOSED;
    bridge_breaker_record(&d->breaker, ok, pw_clock_ms());
    bool open = d->breaker.state != BRIDGE_CLOSED;
    if (open != was_open)
        bridge_observe_circuit(d->label, open);
}

/* Upstream time -------------------------------------------------------------------------------- */

static void timing_begin(struct bridge_exchange *x)
{
    x->timing = true;
    x->first_byte_us = 0;
    if (x->sctx)
        pw_server_ctx_upstream_begin(x->sctx);
}

/* Ends the attempt's upstream time, once per timing_begin. */
static void timing_end(struct bridge_exchange *x)
{
    if (!x->timing)
        return;
    x->timing = false;
    if (!x->sctx)
        return; /* shutdown: the request and its context are gone */
    int64_t us = pw_server_ctx_upstream_end(x->sctx, x->first_byte_us);
    bridge_observe_upstream(x->cur->t->provider->name, x->cur->t->model, (double)us / 1e6);
}

void bridge_attempt_drop(struct bridge_exchange *x)
{
    static const struct pw_error gone = {.code = PW_ERR_CANCELLED, .message = "cancelled"};
    bridge_trace_attempt_end(x, &gone); /* ended already unless cancelled */
    if (x->xfer)
        bridge_xfer_cancel(x->xfer);
    x->xfer = NULL;
    timing_end(x);
    if (x->dec)
        x->prov->decoder_free(x->dec);
    x->dec = NULL;
    pw_buf_free(&x->ebuf);
    for (size_t i = 0; i < BRIDGE_SAVED_HEADERS; i++) {
        free(x->saved[i]);
        x->saved[i] = NULL;
    }
    bridge_agg_free(x->round);
    x->round = NULL;
    json_array_clear(x->att);
    x->paused = false;
}

/* Failure and success of an attempt ------------------------------------------------------------ */

static void attempt_failed(struct bridge_exchange *x, const struct pw_error *err,
                           bool retryable)
{
    struct pw_bridge *b = x->b;
    struct bridge_deploy *d = x->alias->deps[x->dep];
    bool partial = false;
    size_t i;
    json_t *c;
    json_array_foreach(x->att, i, c)
        partial = partial || bridge_chunk_is_content(c);
    pw_error_clear(&x->last);
    pw_error_set(&x->last, err->code, err->pointer, "%s", err->message);
    bridge_trace_attempt_end(x, err);
    if (retryable)
        breaker_record(d, false);
    pw_info("bridge: %s attempt %d on %s failed: %s", x->id, x->attempts, d->label,
            err->message);
    if (x->committed) {
        bridge_attempt_drop(x);
        bridge_reply_fail(x);
        return;
    }
    /* A deadline cut a non-streaming answer that had begun: return it. */
    if (err->code == PW_ERR_TIMEOUT && partial && !x->client_stream) {
        json_array_extend(x->out, x->att);
        bridge_attempt_drop(x);
        struct pw_error notice = x->last;
        bridge_reply_completion(x, &notice);
        return;
    }
    /* Retry-After (or OpenAI's retry-after-ms) before the headers go. */
    long long ra_ms = -1;
    if (x->saved[1])
        ra_ms = strtoll(x->saved[1], NULL, 10);
    else if (x->saved[0])
        ra_ms = bridge_retry_after_ms(x->saved[0], (long long)time(NULL));
    bridge_attempt_drop(x);
    if (!retryable) {
        bridge_reply_fail(x);
        return;
    }
    if (ra_ms > b->cfg->max_retry_after_ms) {
        /* The provider asks for longer than we wait: not this deployment. */
        x->dep++;
        x->tries = 0;
        bridge_attempt_next(x);
        return;
    }
    if (x->tries < d->retries) {
        long long delay = bridge_backoff_ms(x->tries + 1, b->cfg->backoff_base_ms,
                                            b->cfg->backoff_max_ms, ra_ms,
                                            b->cfg->max_retry_after_ms, jitter(b));
        x->tries++;
        x->phase = BRIDGE_PHASE_WAIT;
        x->wait_until = pw_clock_ms() + delay;
        return;
    }
    x->dep++;
    x->tries = 0;
    bridge_attempt_next(x);
}

static void round_end(struct bridge_exchange *x)
{
    bridge_trace_attempt_end(x, NULL);
    breaker_record(x->alias->deps[x->dep], true);
    json_array_extend(x->out, x->att);
    json_array_clear(x->att);
    if (!bridge_enrich_round(x))
        bridge_reply_complete(x);
}

/* Upstream callbacks --------------------------------------------------------------------------- */

static const char *saved_header(void *hud, const char *name)
{
    struct bridge_exchange *x = hud;
    for (size_t i = 0; i < BRIDGE_SAVED_HEADERS; i++)
        if (strcasecmp(saved_names[i], name) == 0)
            return x->saved[i];
    return NULL;
}

static void on_head(struct bridge_xfer *xf, int status, void *ud)
{
    struct bridge_exchange *x = ud;
    x->status = status;
    x->first_byte_us = pw_clock_us();
    for (size_t i = 0; i < BRIDGE_SAVED_HEADERS; i++) {
        const char *v = bridge_xfer_header(xf, saved_names[i]);
        free(x->saved[i]); /* a later round's response replaces them */
        x->saved[i] = v ? strdup(v) : NULL;
    }
    if (status >= 200 && status < 300) {
        struct bridge_decode_ctx ctx = {x->id, x->model, x->created, true};
        struct pw_error e = {0};
        if (x->prov->decoder_new(&ctx, x->up_stream, &x->dec, &e) != PW_OK)
            attempt_failed(x, &e, false);
    }
}

static void on_data(struct bridge_xfer *xf, const char *data, size_t len, void *ud)
{
    struct bridge_exchange *x = ud;
    (void)xf;
    if (x->status < 200 || x->status >= 300) {
        /* The start of the body is enough to map the error; the rest is
         * dropped, and so is the body when memory runs out. */
        size_t room = x->ebuf.max - x->ebuf.len;
        pw_buf_append(&x->ebuf, data, len < room ? len : room);
        return;
    }
    if (!x->dec)
        return;
    json_t *chunks = json_array();
    bool retryable = false;
    struct pw_error e = {0};
    enum pw_err rc = chunks ? x->prov->decode(x->dec, data, len, chunks, &retryable, &e)
                            : pw_error_set(&e, PW_ERR_NOMEM, NULL, "out of memory");
    if (chunks)
        bridge_reply_chunks(x, chunks);
    json_decref(chunks);
    if (rc != PW_OK)
        attempt_failed(x, &e, retryable);
}

/* A non-streamed completion as chunks, so that one path handles both. */
static void completion_chunks(struct bridge_exchange *x, json_t *doc, json_t *chunks)
{
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(doc, "choices"), i, ch) {
        json_t *msg = json_object_get(ch, "message");
        json_t *delta = json_is_object(msg) ? json_deep_copy(msg) : json_object();
        size_t j;
        json_t *tc;
        json_array_foreach(json_object_get(delta, "tool_calls"), j, tc)
            json_object_set_new(tc, "index", json_integer((json_int_t)j));
        json_t *fin = json_object_get(ch, "finish_reason");
        json_array_append_new(
            chunks, json_pack("{s:s, s:s, s:I, s:s, s:[{s:O, s:o, s:n, s:O}]}", "id", x->id,
                              "object", "chat.completion.chunk", "created", x->created,
                              "model", x->model, "choices", "index",
                              json_object_get(ch, "index"), "delta", delta, "logprobs",
                              fin ? fin : json_null()));
    }
    json_t *u = json_object_get(doc, "usage");
    if (json_is_object(u))
        json_array_append_new(chunks, json_pack("{s:s, s:[], s:O}", "id", x->id, "choices",
                                                "usage", u));
}

static void on_done(struct bridge_xfer *xf, enum pw_err rc, const struct pw_error *err,
                    void *ud)
{
    struct bridge_exchange *x = ud;
    (void)xf;
    x->xfer = NULL;
    timing_end(x);
    struct pw_error e = {0};
    bool retryable = true;
    if (rc != PW_OK) {
        attempt_failed(x, err, true);
        return;
    }
    if (x->status < 200 || x->status >= 300) {
        x->prov->error(x->status, saved_header, x, pw_buf_str(&x->ebuf), x->ebuf.len,
                       &retryable, &e);
        attempt_failed(x, &e, retryable);
        return;
    }
    if (!x->dec) {
        pw_error_set(&e, PW_ERR_UPSTREAM, NULL, "upstream answered %d without a body",
                     x->status);
        attempt_failed(x, &e, true);
        return;
    }
    json_t *chunks = json_array();
    json_t *completion = NULL;
    rc = chunks ? x->prov->finish(x->dec, chunks, &completion, &retryable, &e)
                : pw_error_set(&e, PW_ERR_NOMEM, NULL, "out of memory");
    if (completion)
        completion_chunks(x, completion, chunks);
    json_decref(completion);
    if (chunks)
        bridge_reply_chunks(x, chunks);
    json_decref(chunks);
    if (rc != PW_OK) {
        attempt_failed(x, &e, retryable);
        return;
    }
    x->prov->decoder_free(x->dec);
    x->dec = NULL;
    round_end(x);
}

/* Attempts ------------------------------------------------------------------------------------- */

static bool start_attempt(struct bridge_exchange *x, struct bridge_deploy *d,
                          struct pw_error *err)
{
    x->cur = d;
    x->prov = d->t->provider;
    x->up_stream = x->client_stream || d->upstream_stream;
    json_t *req = bridge_enrich_request(x);
    struct bridge_http h;
    memset(&h, 0, sizeof h);
    enum pw_err rc = req ? x->prov->prepare(d->t, req, x->up_stream, (long long)time(NULL), &h,
                                            err)
                         : pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    json_decref(req);
    if (rc != PW_OK)
        return false;
    struct bridge_xfer_req xr = {
        .method = h.method,
        .url = h.url,
        .headers = (const char *const *)h.headers,
        .body = h.body,
        .body_len = h.body_len,
        .connect_timeout_ms = d->connect_ms,
        .first_byte_timeout_ms = d->first_byte_ms,
        .total_timeout_ms = d->total_ms,
        .local = h.local,
    };
    static const struct bridge_xfer_cb cb = {on_head, on_data, on_done};
    x->status = 0;
    memset(x->owned, -1, sizeof x->owned);
    x->nclient = 0;
    if (x->mode == BRIDGE_CTX_TOOLS && x->b->ctx)
        x->round = bridge_agg_new();
    bridge_trace_attempt_begin(x, d, &h);
    xr.headers = (const char *const *)h.headers; /* traceparent added */
    timing_begin(x);
    rc = bridge_xfer_start(x->b->up, &xr, &cb, x, &x->xfer, err);
    bridge_http_clear(&h);
    if (rc != PW_OK) {
        timing_end(x);
        bridge_trace_attempt_end(x, err);
        return false;
    }
    x->attempts++;
    x->phase = BRIDGE_PHASE_UPSTREAM;
    return true;
}

void bridge_attempt_next(struct bridge_exchange *x)
{
    long long now = pw_clock_ms();
    while (x->dep < x->alias->ndeps) {
        struct bridge_deploy *d = x->alias->deps[x->dep];
        if (!bridge_breaker_allow(&d->breaker, now)) {
            if (!x->last.code)
                pw_error_set(&x->last, PW_ERR_UPSTREAM, NULL,
                             "deployment %s is unavailable (circuit open)", d->label);
            x->dep++;
            x->tries = 0;
            continue;
        }
        struct pw_error e = {0};
        if (start_attempt(x, d, &e))
            return;
        /* The request cannot be built for this provider: that is the
         * request's fault (n > 1 on Bedrock...), not the deployment's. A
         * half-open probe that never went gets its chance back (the
         * breaker stays not closed: the gauge is unchanged). */
        if (d->breaker.state == BRIDGE_HALF_OPEN)
            d->breaker.state = BRIDGE_OPEN;
        pw_error_clear(&x->last);
        pw_error_set(&x->last, e.code, e.pointer, "%s", e.message);
        bridge_reply_fail(x);
        return;
    }
    bridge_reply_fail(x);
}
