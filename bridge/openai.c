/*
 * The OpenAI provider: chat completions at BASE_URL/chat/completions, for
 * OpenAI itself and any server that speaks its API (base URL from the
 * deployment). Requests are the client's own, passed through with every
 * field we do not know, with `model` replaced by the upstream model and,
 * when streaming, stream_options.include_usage forced on (the bridge meters
 * every request; the usage chunk is dropped again for clients that did not
 * ask for it).
 *
 * Streamed responses are read with the SSE parser (stream.c): every data
 * payload is JSON except the final "[DONE]"; an `error` object in the
 * stream is a provider failure (mapped like an HTTP error). Chunks are
 * normalised on the way through: id, model and created become ours, tool
 * calls are renumbered 0, 1, 2 in order of first appearance per choice
 * (some compatible servers number every call 0 or leave the index out),
 * and id, type and function.name stay only in a call's first delta.
 *
 * Configuration: OPENAI_BASE_URL (else DEFAULT_BASE) and OPENAI_API_KEY,
 * the variables of the openai SDKs, overridden per deployment by base_url
 * and credentials.api_key_env (naming any credential drops the default
 * key).
 *
 * A stream ends properly with [DONE], or with every choice finished (some
 * compatible servers omit [DONE]); anything else is a cut (PW_ERR_UPSTREAM,
 * retryable).
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/bridge-int.h"
#include "bridge/openai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/buf.h"
#include "pennyworth/json.h"

#define MAX_BODY ((size_t)64 * 1024 * 1024)
#define DEFAULT_BASE "https://api.openai.com/v1"
#define MAX_CALLS 128

/* One choice's tool-call numbering. */
struct numbering {
    long long choice;
    size_t ncalls;
    char *ids[MAX_CALLS];       /* upstream ids, by our index */
    long long up_index[MAX_CALLS]; /* the upstream index last seen, by our index */
    long long last;             /* our index of the latest call, -1 none */
};

struct bridge_decoder {
    struct bridge_decode_ctx ctx;
    char *id, *model;
    bool stream;
    struct bridge_sse sse;
    bool done;                  /* [DONE] seen */
    bool finished;              /* a finish_reason seen */
    struct numbering *nums;
    size_t nnums;
    struct pw_buf body;         /* non-streamed body, max MAX_BODY */
    json_t *out;                /* where decode appends (during a call) */
    bool retryable;
};

/* configuration ----------------------------------------------------------------- */

/* The environment's defaults. */
struct env {
    char *base, *key;
    bool base_set;              /* OPENAI_BASE_URL named a server of its own */
};

static void defaults_free(void *defaults)
{
    struct env *e = defaults;
    if (!e)
        return;
    free(e->base);
    free(e->key);
    free(e);
}

static enum pw_err defaults_new(bridge_getenv_fn getenv_fn, void **out, struct pw_error *err)
{
    struct env *e = calloc(1, sizeof *e);
    const char *base = bridge_env(getenv_fn, "OPENAI_BASE_URL");
    if (e) {
        e->base = strdup(base ? base : DEFAULT_BASE);
        e->key = bridge_strdup_or_null(bridge_env(getenv_fn, "OPENAI_API_KEY"));
        e->base_set = base != NULL;
    }
    if (!e || !e->base) {
        defaults_free(e);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    }
    *out = e;
    return PW_OK;
}

/* A key, or a compatible server of its own (a local one may need no key). */
static bool configured(const void *defaults)
{
    const struct env *e = defaults;
    return e->key || e->base_set;
}

static void target_free(struct bridge_target *base)
{
    struct bridge_openai_target *t = (struct bridge_openai_target *)base;
    if (!t)
        return;
    free(t->base.model);
    free(t->base.base_url);
    free(t->api_key);
    free(t);
}

static enum pw_err target_new(const void *defaults, const char *model, json_t *deploy,
                              bridge_getenv_fn getenv_fn, const char *ptr,
                              struct bridge_target **out, struct pw_error *err)
{
    const struct env *e = defaults;
    *out = NULL;
    json_t *creds = json_object_get(deploy, "credentials");
    if (json_object_get(creds, "bearer_token_env"))
        return pw_error_set(err, PW_ERR_INVALID, ptr,
                            "%s/credentials: bearer_token_env is for bedrock; openai takes "
                            "api_key_env", ptr);
    struct bridge_openai_target *t = calloc(1, sizeof *t);
    if (!t)
        return pw_error_set(err, PW_ERR_NOMEM, ptr, "%s: out of memory", ptr);
    const char *base = json_string_value(json_object_get(deploy, "base_url"));
    t->base.provider = &bridge_provider_openai;
    t->base.model = strdup(model);
    t->base.base_url = strdup(base ? base : e->base);
    if (creds)
        bridge_cred(creds, "api_key_env", getenv_fn, &t->api_key);
    else
        t->api_key = bridge_strdup_or_null(e->key);
    if (!t->base.model || !t->base.base_url) {
        target_free(&t->base);
        return pw_error_set(err, PW_ERR_NOMEM, ptr, "%s: out of memory", ptr);
    }
    *out = &t->base;
    return PW_OK;
}

/* prepare ----------------------------------------------------------------------- */

static char *join_url(const char *base, const char *path)
{
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    size_t n = bl + strlen(path) + 1;
    char *u = malloc(n);
    if (u)
        snprintf(u, n, "%.*s%s", (int)bl, base, path);
    return u;
}

static char *header_line(const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *h = malloc(n);
    if (h)
        snprintf(h, n, "%s: %s", name, value);
    return h;
}

static enum pw_err prepare(const struct bridge_target *target, json_t *req, bool stream,
                           long long now, struct bridge_http *out, struct pw_error *err)
{
    const struct bridge_openai_target *t = (const struct bridge_openai_target *)target;
    memset(out, 0, sizeof *out);
    json_t *body = json_copy(req);
    if (!body)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "openai: out of memory");
    json_object_set_new(body, "model", json_string(t->base.model));
    json_object_set_new(body, "stream", json_boolean(stream));
    if (stream) {
        json_t *so = json_object_get(body, "stream_options");
        json_t *nso = json_is_object(so) ? json_copy(so) : json_object();
        json_object_set_new(nso, "include_usage", json_true());
        json_object_set_new(body, "stream_options", nso);
    } else {
        json_object_del(body, "stream_options");
    }
    out->body = json_dumps(body, PW_JSON_WIRE);
    json_decref(body);
    out->method = strdup("POST");
    out->url = join_url(t->base.base_url ? t->base.base_url : DEFAULT_BASE,
                        "/chat/completions");
    out->headers = calloc(5, sizeof *out->headers);
    if (!out->body || !out->method || !out->url || !out->headers) {
        bridge_http_clear(out);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "openai: out of memory");
    }
    out->body_len = strlen(out->body);
    size_t n = 0;
    out->headers[n++] = strdup("Content-Type: application/json");
    out->headers[n++] = strdup(stream ? "Accept: text/event-stream" : "Accept: application/json");
    if (t->api_key && *t->api_key) {
        size_t kl = strlen(t->api_key) + 8;
        char *v = malloc(kl);
        if (v)
            snprintf(v, kl, "Bearer %s", t->api_key);
        out->headers[n++] = v ? header_line("Authorization", v) : NULL;
        free(v);
    }
    for (size_t i = 0; i < n; i++)
        if (!out->headers[i]) {
            bridge_http_clear(out);
            return pw_error_set(err, PW_ERR_NOMEM, NULL, "openai: out of memory");
        }
    (void)now;
    return PW_OK;
}

/* errors ------------------------------------------------------------------------- */

static const struct {
    int status;
    enum pw_err code;
    bool retryable;
} status_map[] = {
    {400, PW_ERR_INVALID, false},      {401, PW_ERR_AUTH, false},
    {403, PW_ERR_FORBIDDEN, false},    {404, PW_ERR_NOT_FOUND, false},
    {408, PW_ERR_TIMEOUT, true},       {409, PW_ERR_UPSTREAM, true},
    {413, PW_ERR_TOO_LARGE, false},    {422, PW_ERR_INVALID, false},
    {429, PW_ERR_RATE_LIMITED, true},  {504, PW_ERR_TIMEOUT, true},
};

/* The message of an OpenAI error object {"error":{...}} or {"message"}. */
static const char *error_message(json_t *doc)
{
    json_t *e = json_object_get(doc, "error");
    const char *m = json_string_value(json_object_get(e, "message"));
    if (!m)
        m = json_string_value(e);
    if (!m)
        m = json_string_value(json_object_get(doc, "message"));
    return m;
}

static enum pw_err error(int status, const char *(*header)(void *hud, const char *name),
                         void *hud, const char *body, size_t len, bool *retryable,
                         struct pw_error *err)
{
    (void)header;
    (void)hud;
    enum pw_err code = status >= 500 ? PW_ERR_UPSTREAM : PW_ERR_INVALID;
    *retryable = status >= 500;
    for (size_t i = 0; i < sizeof status_map / sizeof status_map[0]; i++)
        if (status_map[i].status == status) {
            code = status_map[i].code;
            *retryable = status_map[i].retryable;
        }
    json_t *doc = json_loadb(body ? body : "", len, 0, NULL);
    const char *m = error_message(doc);
    if (m)
        pw_error_set(err, code, NULL, "upstream %d: %s", status, m);
    else
        pw_error_set(err, code, NULL, "upstream %d: %.*s", status, (int)(len > 200 ? 200 : len),
                     body ? body : "");
    json_decref(doc);
    return code;
}

/* An `error` inside a 200 stream; its type and code decide the mapping. */
static enum pw_err stream_error(json_t *doc, bool *retryable, struct pw_error *err)
{
    json_t *e = json_object_get(doc, "error");
    const char *type = json_string_value(json_object_get(e, "type"));
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *m = error_message(doc);
    enum pw_err rc = PW_ERR_UPSTREAM;
    *retryable = true;
    if ((type && strstr(type, "rate_limit")) || (code && strstr(code, "rate_limit")))
        rc = PW_ERR_RATE_LIMITED;
    else if (type && strcmp(type, "invalid_request_error") == 0) {
        rc = PW_ERR_INVALID;
        *retryable = false;
    }
    return pw_error_set(err, rc, NULL, "upstream stream error: %s", m ? m : "(no message)");
}

/* decoding --------------------------------------------------------------------------- */

static enum pw_err decoder_new(const struct bridge_decode_ctx *ctx, bool stream,
                               struct bridge_decoder **out, struct pw_error *err)
{
    struct bridge_decoder *d = calloc(1, sizeof *d);
    if (!d || !(d->id = strdup(ctx->id)) || !(d->model = strdup(ctx->model))) {
        if (d)
            free(d->id);
        free(d);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "openai: out of memory");
    }
    d->ctx = *ctx;
    d->ctx.id = d->id;
    d->ctx.model = d->model;
    d->stream = stream;
    pw_buf_init(&d->body, MAX_BODY);
    *out = d;
    return PW_OK;
}

static struct numbering *numbering_for(struct bridge_decoder *d, long long choice)
{
    for (size_t i = 0; i < d->nnums; i++)
        if (d->nums[i].choice == choice)
            return &d->nums[i];
    struct numbering *nn = realloc(d->nums, (d->nnums + 1) * sizeof *nn);
    if (!nn)
        return NULL;
    d->nums = nn;
    struct numbering *n = &nn[d->nnums++];
    memset(n, 0, sizeof *n);
    n->choice = choice;
    n->last = -1;
    return n;
}

/* Gives one tool-call delta our index and trims what only a first delta
 * carries. */
static enum pw_err renumber(struct numbering *n, json_t *tc, struct pw_error *err)
{
    const char *id = json_string_value(json_object_get(tc, "id"));
    json_t *ix = json_object_get(tc, "index");
    long long upi = json_is_integer(ix) ? json_integer_value(ix) : -1;
    long long ours = -1;
    if (id && *id) {
        for (size_t i = 0; i < n->ncalls; i++)
            if (n->ids[i] && strcmp(n->ids[i], id) == 0)
                ours = (long long)i;
    } else if (upi >= 0) {
        for (size_t i = n->ncalls; i-- > 0;)
            if (n->up_index[i] == upi) {
                ours = (long long)i;
                break;
            }
    } else {
        ours = n->last;
    }
    bool first = ours < 0;
    if (first) {
        if (n->ncalls == MAX_CALLS)
            return pw_error_set(err, PW_ERR_UPSTREAM, NULL,
                                "upstream: more than %d tool calls", MAX_CALLS);
        ours = (long long)n->ncalls++;
        n->ids[ours] = id && *id ? strdup(id) : NULL;
    }
    n->up_index[ours] = upi;
    n->last = ours;
    json_object_set_new(tc, "index", json_integer(ours));
    json_t *fn = json_object_get(tc, "function");
    if (first) {
        if (!json_object_get(tc, "type"))
            json_object_set_new(tc, "type", json_string("function"));
    } else {
        json_object_del(tc, "id");
        json_object_del(tc, "type");
        if (json_is_object(fn))
            json_object_del(fn, "name");
    }
    return PW_OK;
}

static enum pw_err normalise(struct bridge_decoder *d, json_t *chunk, struct pw_error *err)
{
    json_object_set_new(chunk, "id", json_string(d->ctx.id));
    json_object_set_new(chunk, "object", json_string("chat.completion.chunk"));
    json_object_set_new(chunk, "created", json_integer(d->ctx.created));
    json_object_set_new(chunk, "model", json_string(d->ctx.model));
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(chunk, "choices"), i, ch) {
        json_t *ix = json_object_get(ch, "index");
        long long choice = json_is_integer(ix) ? json_integer_value(ix) : 0;
        if (json_is_string(json_object_get(ch, "finish_reason")))
            d->finished = true;
        json_t *calls = json_object_get(json_object_get(ch, "delta"), "tool_calls");
        if (!json_array_size(calls))
            continue;
        struct numbering *n = numbering_for(d, choice);
        if (!n)
            return pw_error_set(err, PW_ERR_NOMEM, NULL, "openai: out of memory");
        size_t j;
        json_t *tc;
        json_array_foreach(calls, j, tc) {
            if (!json_is_object(tc))
                return pw_error_set(err, PW_ERR_UPSTREAM, NULL,
                                    "upstream: a tool call delta that is not an object");
            enum pw_err rc = renumber(n, tc, err);
            if (rc != PW_OK)
                return rc;
        }
    }
    if (!d->ctx.include_usage) {
        if (json_array_size(json_object_get(chunk, "choices")) == 0 &&
            json_object_get(chunk, "usage"))
            return PW_OK; /* the usage chunk nobody asked for */
        json_object_del(chunk, "usage");
    }
    return json_array_append(d->out, chunk) ? pw_error_set(err, PW_ERR_NOMEM, NULL,
                                                           "openai: out of memory")
                                            : PW_OK;
}

static enum pw_err on_event(void *ud, const char *data, size_t len, struct pw_error *err)
{
    struct bridge_decoder *d = ud;
    if (d->done)
        return PW_OK; /* nothing counts after [DONE] */
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        d->done = true;
        return PW_OK;
    }
    json_error_t je;
    json_t *doc = json_loadb(data, len, 0, &je);
    if (!json_is_object(doc)) {
        json_decref(doc);
        d->retryable = true;
        return pw_error_set(err, PW_ERR_UPSTREAM, NULL,
                            "upstream sent a data line that is not a JSON object: %s",
                            doc ? "not an object" : je.text);
    }
    enum pw_err rc;
    if (json_object_get(doc, "error"))
        rc = stream_error(doc, &d->retryable, err);
    else
        rc = normalise(d, doc, err);
    json_decref(doc);
    return rc;
}

static enum pw_err decode(struct bridge_decoder *d, const char *data, size_t len, json_t *chunks,
                          bool *retryable, struct pw_error *err)
{
    *retryable = false;
    if (!d->stream) {
        enum pw_err rc = pw_buf_append(&d->body, data, len);
        if (rc == PW_ERR_TOO_LARGE)
            return pw_error_set(err, PW_ERR_UPSTREAM, NULL, "upstream body over %zu bytes",
                                d->body.max);
        if (rc != PW_OK)
            return pw_error_set(err, PW_ERR_NOMEM, NULL, "openai: out of memory");
        return PW_OK;
    }
    d->out = chunks;
    d->retryable = false;
    enum pw_err rc = bridge_sse_feed(&d->sse, data, len, on_event, d, err);
    d->out = NULL;
    *retryable = d->retryable;
    return rc;
}

static enum pw_err finish(struct bridge_decoder *d, json_t *chunks, json_t **completion,
                          bool *retryable, struct pw_error *err)
{
    *retryable = false;
    if (d->stream) {
        enum pw_err rc = decode(d, "\n\n", 2, chunks, retryable, err);
        if (rc != PW_OK)
            return rc;
        if (!d->done && !d->finished) {
            *retryable = true;
            return pw_error_set(err, PW_ERR_UPSTREAM, NULL,
                                "upstream stream ended before its end ([DONE])");
        }
        return PW_OK;
    }
    json_error_t je;
    json_t *doc = json_loadb(pw_buf_str(&d->body), d->body.len, 0, &je);
    if (!json_is_object(doc) || !json_is_array(json_object_get(doc, "choices"))) {
        json_decref(doc);
        *retryable = true;
        return pw_error_set(err, PW_ERR_UPSTREAM, NULL,
                            "upstream sent a response that is not a chat completion");
    }
    json_object_set_new(doc, "id", json_string(d->ctx.id));
    json_object_set_new(doc, "created", json_integer(d->ctx.created));
    json_object_set_new(doc, "model", json_string(d->ctx.model));
    *completion = doc;
    return PW_OK;
}

static void decoder_free(struct bridge_decoder *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nnums; i++)
        for (size_t j = 0; j < d->nums[i].ncalls; j++)
            free(d->nums[i].ids[j]);
    free(d->nums);
    bridge_sse_clear(&d->sse);
    pw_buf_free(&d->body);
    free(d->id);
    free(d->model);
    free(d);
}

const struct bridge_provider bridge_provider_openai = {
    .name = "openai",
    .genai_system = "openai",
    .prefix = "openai/",
    .default_model = "gpt-4o-mini",
    .configured = configured,
    .defaults_new = defaults_new,
    .defaults_free = defaults_free,
    .target_new = target_new,
    .target_free = target_free,
    .prepare = prepare,
    .error = error,
    .decoder_new = decoder_new,
    .decode = decode,
    .finish = finish,
    .decoder_free = decoder_free,
};
