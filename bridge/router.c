/*
 * One chat request from the moment it was admitted until the client has
 * its answer (an "exchange"): catalog context, the walk over the alias's
 * deployments with retries, backoff and circuit breakers, the upstream
 * transfer and its decoding, and the response, streamed or aggregated.
 *
 * States (function of each transition in brackets):
 *
 *   CONTEXT --search answered / none needed [begin]--> attempt
 *   attempt [next_attempt]: the first deployment from `dep` whose breaker
 *       allows it; none left -> failed [fail_final]
 *   UPSTREAM --error status, cut, timeout, bad stream [attempt_failed]-->
 *       retryable and tries left: WAIT (backoff; the timer [tick] resumes)
 *       retryable: next deployment; otherwise: failed
 *   UPSTREAM --body ended [round_end]--> catalog tool calls (tools mode):
 *       TOOLS (calls run through the MCP session) --all answered--> attempt
 *       (same deployment, one more round); else: done [complete]
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
 * Chunks of an attempt wait in `att` until the attempt ends well (then
 * they join `out`, the whole answer) or fails (then they are dropped; a
 * streaming client that was committed has seen them already). Usage-only
 * chunks never pass: usage is summed over rounds and the usage chunk is
 * written at the end, only when the client asked for it.
 *
 * Tools mode: the catalog tools (prefixed, context.h) are added to the
 * client's. Deltas of calls to them are withheld from the client (client
 * calls are renumbered to stay 0, 1, 2); a round whose only calls are
 * ours is run here and the conversation goes back to the model, at most
 * MAX_ROUNDS times (the last round is offered no catalog tools, so it must
 * answer). A round with a client call ends the exchange as usual.
 *
 * Every exchange is on the bridge's list (for the timer and shutdown) and
 * ends exactly once in finish(), which answers the usage hook and frees.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/bridge-int.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bridge/context.h"
#include "bridge/upstream.h"
#include "pennyworth/json.h"
#include "pennyworth/log.h"

#define MAX_ROUNDS 4
#define MAX_CALLS 128
#define MAX_ERROR_BODY ((size_t)64 * 1024)
#define KEEPALIVE_MS 15000
#define PAUSE_ABOVE ((size_t)1024 * 1024)
#define RESUME_BELOW ((size_t)256 * 1024)
#define SAVED_HEADERS 5

enum phase { P_CONTEXT, P_WAIT, P_UPSTREAM, P_TOOLS };

/* Response headers an error mapping may read after on_head. */
static const char *const saved_names[SAVED_HEADERS] = {
    "retry-after", "retry-after-ms", "x-amzn-errortype", "x-amzn-requestid", "content-type",
};

struct tool_call {
    struct bridge_exchange *x;
    char *id, *name, *args;
    char *result;                  /* the tool message text, once answered */
    struct bridge_context_op *op;
};

struct bridge_exchange {
    struct bridge_exchange *prev, *next;
    struct pw_bridge *b;
    struct pw_server_req *r;
    json_t *req;                   /* the client's request, context applied */
    const struct bridge_alias *alias;
    enum bridge_mode mode;
    char id[40];
    char *model;
    long long created;
    bool client_stream, include_usage;
    void *ticket;
    long long t0, t_first;
    enum phase phase;
    /* routing */
    size_t dep;
    int tries;                     /* retries made on deps[dep] */
    int attempts;
    long long wait_until;
    struct pw_error last;
    const struct bridge_deploy *cur;
    const struct bridge_provider *prov;
    bool up_stream;
    struct bridge_xfer *xfer;
    struct bridge_decoder *dec;
    int status;
    char *ebuf;
    size_t elen;
    char *saved[SAVED_HEADERS];
    /* output */
    json_t *att, *out;             /* chunks: this attempt, accepted */
    bool committed;
    long long last_write;
    bool paused;
    long long usage_in, usage_out, usage_cached;
    bool usage_seen;
    /* context */
    struct bridge_context_op *op;
    json_t *products;              /* product ids, unique, in order */
    int rounds;
    struct bridge_agg *round;      /* tools mode: this attempt, unfiltered */
    signed char owned[MAX_CALLS];  /* per upstream call index: 1 ours, 0 client, -1 unseen */
    int client_index[MAX_CALLS];
    int nclient;
    struct tool_call *calls;
    size_t ncalls, pending;
    /* response cache: a complete answer is stored under this key */
    bool cached;
    struct bridge_cache_key cache_key;
};

static void next_attempt(struct bridge_exchange *x);

/* Utilities ------------------------------------------------------------------------------------ */

long long bridge_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double bridge_random(struct pw_bridge *b)
{
    /* xorshift64*: jitter needs spread, not secrecy. */
    unsigned long long v = b->rng;
    v ^= v >> 12;
    v ^= v << 25;
    v ^= v >> 27;
    b->rng = v;
    return (double)((v * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

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

/* Ending --------------------------------------------------------------------------------------- */

static void drop_upstream(struct bridge_exchange *x)
{
    if (x->xfer)
        bridge_xfer_cancel(x->xfer);
    x->xfer = NULL;
    if (x->dec)
        x->prov->decoder_free(x->dec);
    x->dec = NULL;
    free(x->ebuf);
    x->ebuf = NULL;
    x->elen = 0;
    for (size_t i = 0; i < SAVED_HEADERS; i++) {
        free(x->saved[i]);
        x->saved[i] = NULL;
    }
    bridge_agg_free(x->round);
    x->round = NULL;
    json_array_clear(x->att);
    x->paused = false;
}

static void clear_calls(struct bridge_exchange *x)
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

/* Tokens and cost, then the usage hook, unlink and free. `x` is gone after. */
static void finish(struct bridge_exchange *x, int status)
{
    struct pw_bridge *b = x->b;
    drop_upstream(x);
    if (x->op)
        bridge_context_cancel(x->op);
    clear_calls(x);
    if (b->hooks.usage) {
        const struct bridge_deploy *d = x->cur;
        long long cost = 0;
        if (d)
            cost = (x->usage_in * d->price_in + x->usage_out * d->price_out) / 1000000;
        struct pw_bridge_usage u = {
            .request_id = x->id,
            .model = x->model,
            .provider = d ? d->t.provider : NULL,
            .upstream_model = d ? d->t.model : NULL,
            .status = status,
            .stream = x->client_stream,
            .prompt_tokens = x->usage_in,
            .completion_tokens = x->usage_out,
            .cached_tokens = x->usage_cached,
            .cost_micros = cost,
            .latency_ms = bridge_now_ms() - x->t0,
            .first_token_ms = x->t_first >= 0 ? x->t_first - x->t0 : -1,
            .attempts = x->attempts,
        };
        b->hooks.usage(b->hooks.ud, x->ticket, &u);
    }
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
    x->last_write = bridge_now_ms();
}

static void commit(struct bridge_exchange *x)
{
    char *products = products_header(x);
    const char *hdrs[] = {"cache-control", "no-cache", "x-request-id", x->id,
                          "x-pennyworth-context-products", products ? products : "",
                          "connection", "close", NULL};
    pw_server_req_start(x->r, 200, "text/event-stream", hdrs);
    free(products);
    x->committed = true;
    x->last_write = bridge_now_ms();
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
    pw_server_req_end(x->r);
    finish(x, pw_err_http_status(err->code));
}

static void fail_final(struct bridge_exchange *x)
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
    bridge_respond_error(x->r, &x->last, products);
    free(products);
    finish(x, pw_err_http_status(x->last.code));
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

/* Non-streaming answer from `out` (+ a notice when cut by a deadline). */
static void respond_completion(struct bridge_exchange *x, const struct pw_error *notice)
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
    if (!body) {
        struct pw_error e = {0};
        pw_error_set(&e, PW_ERR_NOMEM, NULL, "out of memory");
        bridge_respond_error(x->r, &e, NULL);
        finish(x, 500);
        return;
    }
    char *products = products_header(x);
    const char *hdrs[] = {"x-request-id", x->id, "x-pennyworth-context-products",
                          products ? products : "", NULL};
    pw_server_req_respond(x->r, 200, "application/json", hdrs, body, strlen(body));
    if (x->cached && !notice && x->b->cache)
        bridge_cache_put(x->b->cache, &x->cache_key, body, products, bridge_now_ms());
    free(products);
    free(body);
    finish(x, 200);
}

static void complete(struct bridge_exchange *x)
{
    if (!x->client_stream) {
        respond_completion(x, NULL);
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
    pw_server_req_end(x->r);
    finish(x, 200);
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

/* Tools mode: withholds our calls' deltas, renumbers the client's. Returns
 * false when nothing of the chunk is left for the client. */
static bool filter_tools(struct bridge_exchange *x, json_t *chunk)
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
            if (ix < 0 || ix >= MAX_CALLS) {
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

static void take_chunks(struct bridge_exchange *x, json_t *chunks)
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
            if (!filter_tools(x, c))
                continue;
        }
        json_array_append(x->att, c);
        bool content = bridge_chunk_is_content(c);
        if (content && x->t_first < 0)
            x->t_first = bridge_now_ms();
        if (!x->client_stream || !x->r)
            continue;
        if (!x->committed) {
            if (!content)
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
    if (retryable)
        bridge_breaker_record(&d->breaker, false, bridge_now_ms());
    pw_info("bridge: %s attempt %d on %s failed: %s", x->id, x->attempts, d->label,
            err->message);
    if (x->committed) {
        drop_upstream(x);
        stream_failed(x, &x->last);
        return;
    }
    /* A deadline cut a non-streaming answer that had begun: return it. */
    if (err->code == PW_ERR_TIMEOUT && partial && !x->client_stream) {
        json_array_extend(x->out, x->att);
        drop_upstream(x);
        struct pw_error notice = x->last;
        respond_completion(x, &notice);
        return;
    }
    /* Retry-After (or OpenAI's retry-after-ms) before the headers go. */
    long long ra_ms = -1;
    if (x->saved[1])
        ra_ms = strtoll(x->saved[1], NULL, 10);
    else if (x->saved[0])
        ra_ms = bridge_retry_after_ms(x->saved[0], (long long)time(NULL));
    drop_upstream(x);
    if (!retryable) {
        fail_final(x);
        return;
    }
    if (ra_ms > b->cfg->max_retry_after_ms) {
        /* The provider asks for longer than we wait: not this deployment. */
        x->dep++;
        x->tries = 0;
        next_attempt(x);
        return;
    }
    if (x->tries < d->retries) {
        long long delay = bridge_backoff_ms(x->tries + 1, b->cfg->backoff_base_ms,
                                            b->cfg->backoff_max_ms, ra_ms,
                                            b->cfg->max_retry_after_ms, bridge_random(b));
        x->tries++;
        x->phase = P_WAIT;
        x->wait_until = bridge_now_ms() + delay;
        return;
    }
    x->dep++;
    x->tries = 0;
    next_attempt(x);
}

static void run_tools(struct bridge_exchange *x);

static void round_end(struct bridge_exchange *x)
{
    struct bridge_deploy *d = x->alias->deps[x->dep];
    bridge_breaker_record(&d->breaker, true, bridge_now_ms());
    json_array_extend(x->out, x->att);
    json_array_clear(x->att);
    bool ours = false;
    for (int i = 0; i < MAX_CALLS; i++)
        ours = ours || x->owned[i] == 1;
    if (x->round && ours && x->nclient == 0 && x->rounds < MAX_ROUNDS) {
        run_tools(x);
        return;
    }
    complete(x);
}

/* Upstream callbacks --------------------------------------------------------------------------- */

static const char *saved_header(void *hud, const char *name)
{
    struct bridge_exchange *x = hud;
    for (size_t i = 0; i < SAVED_HEADERS; i++)
        if (strcasecmp(saved_names[i], name) == 0)
            return x->saved[i];
    return NULL;
}

static void on_head(struct bridge_xfer *xf, int status, void *ud)
{
    struct bridge_exchange *x = ud;
    x->status = status;
    for (size_t i = 0; i < SAVED_HEADERS; i++) {
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
        size_t take = x->elen + len > MAX_ERROR_BODY ? MAX_ERROR_BODY - x->elen : len;
        char *nb = take ? realloc(x->ebuf, x->elen + take + 1) : x->ebuf;
        if (nb) {
            memcpy(nb + x->elen, data, take);
            x->elen += take;
            nb[x->elen] = '\0';
            x->ebuf = nb;
        }
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
        take_chunks(x, chunks);
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
    struct pw_error e = {0};
    bool retryable = true;
    if (rc != PW_OK) {
        attempt_failed(x, err, true);
        return;
    }
    if (x->status < 200 || x->status >= 300) {
        x->prov->error(x->status, saved_header, x, x->ebuf, x->elen, &retryable, &e);
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
        take_chunks(x, chunks);
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

/* The request for this attempt (new): tools mode adds the catalog tools
 * while rounds remain. */
static json_t *attempt_request(struct bridge_exchange *x)
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

static bool start_attempt(struct bridge_exchange *x, struct bridge_deploy *d,
                          struct pw_error *err)
{
    x->cur = d;
    x->prov = bridge_provider_find(d->t.provider);
    if (!x->prov) {
        pw_error_set(err, PW_ERR_INTERNAL, NULL, "no provider '%s'", d->t.provider);
        return false;
    }
    x->up_stream = x->client_stream || d->upstream_stream;
    json_t *req = attempt_request(x);
    struct bridge_http h;
    memset(&h, 0, sizeof h);
    enum pw_err rc = req ? x->prov->prepare(&d->t, req, x->up_stream, (long long)time(NULL), &h,
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
    };
    static const struct bridge_xfer_cb cb = {on_head, on_data, on_done};
    x->status = 0;
    memset(x->owned, -1, sizeof x->owned);
    x->nclient = 0;
    if (x->mode == BRIDGE_CTX_TOOLS && x->b->ctx)
        x->round = bridge_agg_new();
    rc = bridge_xfer_start(x->b->up, &xr, &cb, x, &x->xfer, err);
    bridge_http_clear(&h);
    if (rc != PW_OK)
        return false;
    x->attempts++;
    x->phase = P_UPSTREAM;
    return true;
}

static void next_attempt(struct bridge_exchange *x)
{
    long long now = bridge_now_ms();
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
         * half-open probe that never went gets its chance back. */
        if (d->breaker.state == BRIDGE_HALF_OPEN)
            d->breaker.state = BRIDGE_OPEN;
        pw_error_clear(&x->last);
        pw_error_set(&x->last, e.code, e.pointer, "%s", e.message);
        fail_final(x);
        return;
    }
    fail_final(x);
}

/* Tools mode: running the model's catalog calls ------------------------------------------------ */

static void tools_done(struct bridge_exchange *x)
{
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
    clear_calls(x);
    bridge_agg_free(x->round);
    x->round = NULL;
    x->rounds++;
    x->tries = 0;
    next_attempt(x);
}

static void on_call(void *ud, const char *text, json_t *ids, const struct pw_error *err)
{
    struct tool_call *c = ud;
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
        fail_final(x);
        return;
    }
    size_t i;
    json_t *tc;
    json_array_foreach(calls, i, tc) {
        json_t *fn = json_object_get(tc, "function");
        const char *name = json_string_value(json_object_get(fn, "name"));
        if (!name || !bridge_context_owns(x->b->ctx, name))
            continue;
        struct tool_call *c = &x->calls[x->ncalls++];
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
    x->phase = P_TOOLS;
    x->pending = x->ncalls;
    for (size_t k = 0; k < x->ncalls; k++) {
        struct tool_call *c = &x->calls[k];
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
    if (x->pending == 0)
        tools_done(x);
}

/* Context -------------------------------------------------------------------------------------- */

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
    next_attempt(x);
}

static void begin(struct bridge_exchange *x)
{
    if (x->mode == BRIDGE_CTX_AUTO && x->b->ctx) {
        char *text = bridge_context_user_text(json_object_get(x->req, "messages"));
        struct pw_error e = {0};
        if (text && bridge_context_search(x->b->ctx, text, BRIDGE_CONTEXT_DEFAULT_LIMIT,
                                          on_search, x, &x->op, &e) == PW_OK) {
            free(text);
            x->phase = P_CONTEXT;
            return;
        }
        if (text)
            pw_warn("bridge: %s: catalog context skipped: %s", x->id, e.message);
        free(text);
    }
    next_attempt(x);
}

/* Entry points --------------------------------------------------------------------------------- */

void bridge_exchange_start(struct pw_bridge *b, struct pw_server_req *r, json_t *body,
                           const struct bridge_alias *alias, enum bridge_mode mode,
                           void *ticket)
{
    bridge_exchange_start_cached(b, r, body, alias, mode, ticket, NULL);
}

void bridge_exchange_start_cached(struct pw_bridge *b, struct pw_server_req *r, json_t *body,
                                  const struct bridge_alias *alias, enum bridge_mode mode,
                                  void *ticket, const struct bridge_cache_key *key)
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
        bridge_respond_error(r, &e, NULL);
        if (b->hooks.usage) {
            struct pw_bridge_usage u = {.model = model, .status = 500, .first_token_ms = -1};
            b->hooks.usage(b->hooks.ud, ticket, &u);
        }
        json_decref(body); /* last: `model` is borrowed from it */
        return;
    }
    x->b = b;
    x->r = r;
    x->req = body;
    x->alias = alias;
    x->mode = mode;
    x->ticket = ticket;
    if (key) {
        x->cached = true;
        x->cache_key = *key;
    }
    x->t0 = bridge_now_ms();
    x->t_first = -1;
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
    begin(x);
}

void bridge_exchange_closed(struct bridge_exchange *x)
{
    x->r = NULL;
    finish(x, 499);
}

void bridge_exchanges_tick(struct pw_bridge *b)
{
    long long now = bridge_now_ms();
    struct bridge_exchange *x = b->exchanges;
    while (x) {
        struct bridge_exchange *next = x->next; /* x may end below */
        if (x->phase == P_WAIT && now >= x->wait_until) {
            next_attempt(x);
        } else if (x->committed && x->r) {
            if (x->paused && x->xfer && pw_server_req_queued(x->r) < RESUME_BELOW) {
                x->paused = false;
                bridge_xfer_pause(x->xfer, false);
            }
            if (now - x->last_write >= KEEPALIVE_MS) {
                pw_server_req_write(x->r, ": keep-alive\n\n", 14);
                x->last_write = now;
            }
        }
        x = next;
    }
}

void bridge_exchanges_free(struct pw_bridge *b)
{
    while (b->exchanges) {
        struct bridge_exchange *x = b->exchanges;
        x->r = NULL; /* the server has closed every connection by now */
        finish(x, 499);
    }
}
