/*
 * The Bedrock provider row (bridge/provider.h): Converse and ConverseStream
 * over HTTP, signed with SigV4 or sent with a Bedrock API key.
 *
 * Request: POST {base}/model/{modelId}/converse (or /converse-stream). The
 * model id (or inference-profile ARN) is ONE path segment, percent-encoded
 * once on the wire (':' -> %3A, '/' -> %2F); the signer encodes that path
 * once more for the canonical request (%253A), as every AWS service but S3
 * expects (see bridge/sigv4.c). The signing name is "bedrock" in the
 * target's region, while the host is bedrock-runtime.REGION.amazonaws.com or
 * the endpoint override. Signed headers: host, content-type, x-amz-date and,
 * with temporary credentials, x-amz-security-token, exactly what the AWS
 * SDKs sign. Nothing from the client's own request reaches the headers: they
 * are built here from the target alone. A target with an api_key
 * (AWS_BEARER_TOKEN_BEDROCK) is sent with "Authorization: Bearer" instead.
 *
 * Response, streamed: the body is application/vnd.amazon.eventstream;
 * eventstream.c checks both CRCs and frames messages; `:message-type`
 * event -> converse_stream.c -> chunks, exception (and the framing's own
 * error messages) -> bridge_converse_exception with *retryable. A body that
 * ends before messageStop is a cut stream: PW_ERR_UPSTREAM, never a quiet
 * success. Not streamed: the body is buffered (bounded) and translated at
 * the end. HTTP errors: x-amzn-ErrorType, else the body's "__type", and
 * the body's message go through the same table.
 *
 * Configuration: the AWS variables (bedrock.h lists them; the region
 * defaults to us-east-1, the endpoint to the region's own), overridden per
 * deployment by region, base_url and credentials (bearer_token_env,
 * access_key_id_env, secret_access_key_env, session_token_env; naming any
 * of them drops every default credential).
 *
 * Loop thread, like every provider function; a decoder serves one response.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/bedrock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bridge/converse.h"
#include "bridge/eventstream.h"
#include "bridge/sigv4.h"
#include "pennyworth/buf.h"
#include "pennyworth/json.h"

/* Converse answers are small; this only stops a broken upstream from
 * filling memory. */
#define MAX_BODY ((size_t)32 << 20)

#define MAX_HEADERS 8

struct bridge_decoder {
    bool stream;
    bool include_usage;
    char *id;
    char *model;
    long long created;
    struct bridge_es_decoder *es;
    struct bridge_converse_stream *st;
    json_t *chunks;        /* decode()'s output array, while feeding */
    bool from_message;     /* the failure came from a message, not the framing */
    bool retryable;        /* ...and whether it may be retried */
    struct pw_buf body;    /* not streamed: the body so far, max MAX_BODY */
};

/* ---- configuration ------------------------------------------------------ */

/* The environment's defaults. */
struct env {
    char *region, *endpoint, *key_id, *secret, *token, *bearer;
};

static void defaults_free(void *defaults)
{
    struct env *e = defaults;
    if (!e)
        return;
    free(e->region);
    free(e->endpoint);
    free(e->key_id);
    free(e->secret);
    free(e->token);
    free(e->bearer);
    free(e);
}

/* The first of two variables that is set. */
static const char *env2(bridge_getenv_fn getenv_fn, const char *name, const char *other)
{
    const char *v = bridge_env(getenv_fn, name);
    return v ? v : bridge_env(getenv_fn, other);
}

static enum pw_err defaults_new(bridge_getenv_fn getenv_fn, void **out, struct pw_error *err)
{
    struct env *e = calloc(1, sizeof *e);
    const char *region = env2(getenv_fn, "AWS_REGION", "AWS_DEFAULT_REGION");
    if (e) {
        e->region = strdup(region ? region : "us-east-1");
        e->endpoint = bridge_strdup_or_null(
            env2(getenv_fn, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL"));
        e->key_id = bridge_strdup_or_null(bridge_env(getenv_fn, "AWS_ACCESS_KEY_ID"));
        e->secret = bridge_strdup_or_null(bridge_env(getenv_fn, "AWS_SECRET_ACCESS_KEY"));
        e->token = bridge_strdup_or_null(bridge_env(getenv_fn, "AWS_SESSION_TOKEN"));
        e->bearer = bridge_strdup_or_null(bridge_env(getenv_fn, "AWS_BEARER_TOKEN_BEDROCK"));
    }
    if (!e || !e->region) {
        defaults_free(e);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    }
    *out = e;
    return PW_OK;
}

/* The endpoint for a region: the override, else AWS's own (new). */
/* Credentials: a bearer token, or an access key with its secret. */
static bool configured(const void *defaults)
{
    const struct env *e = defaults;
    return e->bearer || (e->key_id && e->secret);
}

static char *endpoint_of(const struct env *e, const char *region)
{
    if (e->endpoint)
        return strdup(e->endpoint);
    size_t n = strlen(region) + 64;
    char *u = malloc(n);
    if (u)
        snprintf(u, n, "https://bedrock-runtime.%s.amazonaws.com", region);
    return u;
}

static void target_free(struct bridge_target *base)
{
    struct bridge_bedrock_target *t = (struct bridge_bedrock_target *)base;
    if (!t)
        return;
    free(t->base.model);
    free(t->base.base_url);
    free(t->region);
    free(t->api_key);
    free(t->access_key_id);
    free(t->secret_access_key);
    free(t->session_token);
    free(t);
}

static enum pw_err target_new(const void *defaults, const char *model, json_t *deploy,
                              bridge_getenv_fn getenv_fn, const char *ptr,
                              struct bridge_target **out, struct pw_error *err)
{
    const struct env *e = defaults;
    *out = NULL;
    struct bridge_bedrock_target *t = calloc(1, sizeof *t);
    if (!t)
        return pw_error_set(err, PW_ERR_NOMEM, ptr, "%s: out of memory", ptr);
    const char *region = json_string_value(json_object_get(deploy, "region"));
    const char *base = json_string_value(json_object_get(deploy, "base_url"));
    t->base.provider = &bridge_provider_bedrock;
    t->base.model = strdup(model);
    t->region = strdup(region ? region : e->region);
    t->base.base_url = base ? strdup(base) : t->region ? endpoint_of(e, t->region) : NULL;
    json_t *creds = json_object_get(deploy, "credentials");
    if (creds) {
        bridge_cred(creds, "bearer_token_env", getenv_fn, &t->api_key);
        bridge_cred(creds, "access_key_id_env", getenv_fn, &t->access_key_id);
        bridge_cred(creds, "secret_access_key_env", getenv_fn, &t->secret_access_key);
        bridge_cred(creds, "session_token_env", getenv_fn, &t->session_token);
    } else {
        t->api_key = bridge_strdup_or_null(e->bearer);
        t->access_key_id = bridge_strdup_or_null(e->key_id);
        t->secret_access_key = bridge_strdup_or_null(e->secret);
        t->session_token = bridge_strdup_or_null(e->token);
    }
    if (!t->base.model || !t->region || !t->base.base_url) {
        target_free(&t->base);
        return pw_error_set(err, PW_ERR_NOMEM, ptr, "%s: out of memory", ptr);
    }
    *out = &t->base;
    return PW_OK;
}

/* ---- prepare ------------------------------------------------------------ */

/* Where the request goes, cut out of the base URL. */
struct endpoint {
    char scheme[8];        /* "https" or "http" */
    char authority[256];   /* host[:port] as in the URL */
    char host[256];        /* the Host header: authority without a default port */
    const char *prefix;    /* the base URL's own path (may be ""), borrowed */
    size_t prefix_len;     /* without trailing slashes */
};

static enum pw_err endpoint_parse(const char *url, struct endpoint *ep, struct pw_error *err)
{
    const char *rest;
    if (strncasecmp(url, "https://", 8) == 0) {
        snprintf(ep->scheme, sizeof ep->scheme, "https");
        rest = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        snprintf(ep->scheme, sizeof ep->scheme, "http");
        rest = url + 7;
    } else {
        return pw_error_set(err, PW_ERR_INTERNAL, NULL, "bedrock: endpoint %.100s is not an "
                            "http(s) URL", url);
    }
    size_t alen = strcspn(rest, "/?#");
    if (alen == 0 || alen >= sizeof ep->authority || memchr(rest, '@', alen) ||
        rest[alen] == '?' || rest[alen] == '#')
        return pw_error_set(err, PW_ERR_INTERNAL, NULL, "bedrock: endpoint %.100s is not a "
                            "plain scheme://host[:port][/path] URL", url);
    snprintf(ep->authority, sizeof ep->authority, "%.*s", (int)alen, rest);
    /* curl leaves the default port out of Host, so the signature must too. */
    const char *dflt = strcmp(ep->scheme, "https") == 0 ? ":443" : ":80";
    size_t dlen = strlen(dflt), hlen = alen;
    if (alen > dlen && strcmp(ep->authority + alen - dlen, dflt) == 0)
        hlen -= dlen;
    snprintf(ep->host, sizeof ep->host, "%.*s", (int)hlen, ep->authority);
    ep->prefix = rest + alen;
    ep->prefix_len = strlen(ep->prefix);
    while (ep->prefix_len > 0 && ep->prefix[ep->prefix_len - 1] == '/')
        ep->prefix_len--;
    return PW_OK;
}

/* "Name: value" (new). */
static char *header_line(const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s: %s", name, value);
    return s;
}

static enum pw_err add_header(struct bridge_http *out, size_t *n, const char *name,
                              const char *value, struct pw_error *err)
{
    if (*n >= MAX_HEADERS || !(out->headers[*n] = header_line(name, value)))
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "bedrock: out of memory for headers");
    (*n)++;
    return PW_OK;
}

static enum pw_err sign(const struct bridge_bedrock_target *t, const struct endpoint *ep,
                        const char *path, struct bridge_http *out, size_t *n, long long now,
                        struct pw_error *err)
{
    if (!t->region || !t->region[0])
        return pw_error_set(err, PW_ERR_INTERNAL, NULL, "bedrock: no region for model %.100s "
                            "(set AWS_REGION)", t->base.model);
    const struct bridge_sigv4_header signed_headers[] = {
        {"Host", ep->host},
        {"Content-Type", "application/json"},
    };
    const struct bridge_sigv4_credentials creds = {t->access_key_id, t->secret_access_key,
                                                   t->session_token};
    const struct bridge_sigv4_request req = {
        .method = "POST",
        .path = path,
        .headers = signed_headers,
        .n_headers = sizeof signed_headers / sizeof signed_headers[0],
        .payload = out->body,
        .payload_len = out->body_len,
        .region = t->region,
        .service = "bedrock",
        .creds = &creds,
        .when = (time_t)now,
        .flags = BRIDGE_SIGV4_DEFAULT,
    };
    struct bridge_sigv4_result res;
    enum pw_err rc = bridge_sigv4_sign(&req, &res, err);
    if (rc != PW_OK)
        return rc;
    for (size_t i = 0; i < res.n_add && rc == PW_OK; i++)
        rc = add_header(out, n, res.add[i].name, res.add[i].value, err);
    bridge_sigv4_result_free(&res);
    return rc;
}

static enum pw_err build(const struct bridge_bedrock_target *t, json_t *req, bool stream,
                         long long now, struct bridge_http *out, struct pw_error *err)
{
    if (!t->base.model || !t->base.model[0])
        return pw_error_set(err, PW_ERR_INTERNAL, NULL, "bedrock: the deployment names no "
                            "model");
    bool bearer = t->api_key && t->api_key[0];
    if (!bearer && (!t->access_key_id || !t->access_key_id[0] || !t->secret_access_key ||
                    !t->secret_access_key[0]))
        return pw_error_set(err, PW_ERR_INTERNAL, NULL, "bedrock: no credentials for model "
                            "%.100s (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                            "AWS_BEARER_TOKEN_BEDROCK)", t->base.model);
    char fallback[160];
    const char *base = t->base.base_url;
    if (!base || !base[0]) {
        if (!t->region || !t->region[0])
            return pw_error_set(err, PW_ERR_INTERNAL, NULL, "bedrock: no region or endpoint "
                                "for model %.100s (set AWS_REGION)", t->base.model);
        snprintf(fallback, sizeof fallback, "https://bedrock-runtime.%s.amazonaws.com",
                 t->region);
        base = fallback;
    }
    struct endpoint ep;
    enum pw_err rc = endpoint_parse(base, &ep, err);
    if (rc != PW_OK)
        return rc;

    json_t *body = NULL;
    if ((rc = bridge_converse_request(req, &body, err)) != PW_OK)
        return rc;
    out->body = json_dumps(body, PW_JSON_WIRE);
    json_decref(body);
    if (!out->body)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "bedrock: out of memory for the body");
    out->body_len = strlen(out->body);

    size_t mlen = strlen(t->base.model), cap = 3 * mlen + 1;
    const char *op = stream ? "converse-stream" : "converse";
    char *model = malloc(cap);
    size_t plen = ep.prefix_len + 3 * mlen + 32;
    char *path = malloc(plen);
    size_t ulen = plen + strlen(ep.scheme) + strlen(ep.authority) + 4;
    out->url = malloc(ulen);
    out->method = strdup("POST");
    out->headers = calloc(MAX_HEADERS + 1, sizeof *out->headers);
    if (!model || !path || !out->url || !out->method || !out->headers) {
        free(model);
        free(path);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "bedrock: out of memory");
    }
    bridge_sigv4_uri_encode(model, cap, t->base.model, mlen, 0);
    snprintf(path, plen, "%.*s/model/%s/%s", (int)ep.prefix_len, ep.prefix, model, op);
    snprintf(out->url, ulen, "%s://%s%s", ep.scheme, ep.authority, path);
    free(model);

    size_t n = 0;
    rc = add_header(out, &n, "Host", ep.host, err);
    if (rc == PW_OK)
        rc = add_header(out, &n, "Content-Type", "application/json", err);
    if (rc == PW_OK)
        rc = add_header(out, &n, "Accept", stream ? "application/vnd.amazon.eventstream"
                                                  : "application/json", err);
    if (rc == PW_OK && bearer) {
        size_t blen = strlen(t->api_key) + 8;
        char *value = malloc(blen);
        if (value)
            snprintf(value, blen, "Bearer %s", t->api_key);
        rc = value ? add_header(out, &n, "Authorization", value, err)
                   : pw_error_set(err, PW_ERR_NOMEM, NULL, "bedrock: out of memory");
        free(value);
    } else if (rc == PW_OK) {
        rc = sign(t, &ep, path, out, &n, now, err);
    }
    free(path);
    return rc;
}

static enum pw_err prepare(const struct bridge_target *t, json_t *req, bool stream,
                           long long now, struct bridge_http *out, struct pw_error *err)
{
    memset(out, 0, sizeof *out);
    enum pw_err rc = build((const struct bridge_bedrock_target *)t, req, stream, now, out, err);
    if (rc != PW_OK)
        bridge_http_clear(out);
    return rc;
}

/* ---- HTTP errors ------------------------------------------------------- */

static enum pw_err http_error(int status, const char *(*header)(void *hud, const char *name),
                              void *hud, const char *body, size_t len, bool *retryable,
                              struct pw_error *err)
{
    const char *h = header ? header(hud, "x-amzn-ErrorType") : NULL;
    json_t *j = len ? json_loadb(body, len, 0, NULL) : NULL;
    if (len && !json_is_object(j)) {
        /* Not Bedrock's JSON (a proxy's page, say): quote its start, up to
         * the first control character, so the message stays one line. */
        size_t n = 0;
        while (n < len && n < 160 && (unsigned char)body[n] >= 0x20)
            n++;
        json_decref(j);
        j = n ? json_pack("{s:s%}", "message", body, n) : NULL;
    }
    char type[128] = "";
    const char *t = h ? h : json_string_value(json_object_get(j, "__type"));
    if (t)
        snprintf(type, sizeof type, "%s", t);
    enum pw_err rc = bridge_converse_exception(type[0] ? type : NULL, status, j, retryable,
                                               err);
    json_decref(j);
    return rc;
}

/* ---- decoding ----------------------------------------------------------- */

static enum pw_err on_message(void *ud, const struct bridge_es_message *m, struct pw_error *err)
{
    struct bridge_decoder *d = ud;
    const char *type = m->message_type;
    json_t *payload = m->payload_len ? json_loadb((const char *)m->payload, m->payload_len, 0,
                                                  NULL)
                                     : NULL;
    enum pw_err rc;
    d->from_message = true;
    d->retryable = true;
    if (type && strcmp(type, "event") == 0) {
        rc = payload ? bridge_converse_stream_event(d->st, m->event_type, payload,
                                                    d->include_usage, d->chunks, err)
                     : pw_error_set(err, PW_ERR_UPSTREAM, NULL, "bedrock: %.60s event without "
                                    "a JSON payload", m->event_type ? m->event_type : "an");
    } else if (type && strcmp(type, "exception") == 0) {
        rc = bridge_converse_exception(m->exception_type, 200, payload, &d->retryable, err);
    } else if (type && strcmp(type, "error") == 0) {
        json_t *body = m->error_message ? json_pack("{s:s}", "message", m->error_message) : NULL;
        rc = bridge_converse_exception(m->error_code, 200, body, &d->retryable, err);
        json_decref(body);
    } else {
        rc = pw_error_set(err, PW_ERR_UPSTREAM, NULL, "bedrock: event stream message of type "
                          "%.60s", type ? type : "(none)");
    }
    json_decref(payload);
    if (rc == PW_OK)
        d->from_message = false;
    return rc;
}

static enum pw_err decoder_new(const struct bridge_decode_ctx *ctx, bool stream,
                               struct bridge_decoder **out, struct pw_error *err)
{
    struct bridge_decoder *d = calloc(1, sizeof *d);
    *out = NULL;
    if (!d)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "bedrock: out of memory for a decoder");
    d->stream = stream;
    pw_buf_init(&d->body, MAX_BODY);
    d->include_usage = ctx->include_usage;
    d->created = ctx->created;
    d->id = strdup(ctx->id);
    d->model = strdup(ctx->model);
    bool ok = d->id && d->model;
    if (ok && stream) {
        d->es = bridge_es_decoder_new(0, 0, on_message, d);
        ok = d->es && bridge_converse_stream_new(ctx->id, ctx->model, ctx->created, &d->st,
                                                 NULL) == PW_OK;
    }
    if (!ok) {
        bridge_es_decoder_free(d->es);
        free(d->id);
        free(d->model);
        free(d);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "bedrock: out of memory for a decoder");
    }
    *out = d;
    return PW_OK;
}

static enum pw_err buffer(struct bridge_decoder *d, const char *data, size_t len,
                          bool *retryable, struct pw_error *err)
{
    enum pw_err rc = pw_buf_append(&d->body, data, len);
    if (rc == PW_ERR_TOO_LARGE) {
        *retryable = true;
        return pw_error_set(err, PW_ERR_UPSTREAM, NULL, "bedrock: response body over %zu "
                            "bytes", d->body.max);
    }
    if (rc != PW_OK)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "bedrock: out of memory for the body");
    return PW_OK;
}

static enum pw_err decode(struct bridge_decoder *d, const char *data, size_t len,
                          json_t *chunks, bool *retryable, struct pw_error *err)
{
    if (!d->stream)
        return buffer(d, data, len, retryable, err);
    struct pw_error e;
    pw_error_clear(&e);
    d->chunks = chunks;
    d->from_message = false;
    enum pw_err rc = bridge_es_decoder_feed(d->es, data, len, &e);
    d->chunks = NULL;
    if (rc == PW_OK)
        return PW_OK;
    if (d->from_message) {
        *retryable = d->retryable;
        return pw_error_set(err, e.code, e.pointer[0] ? e.pointer : NULL, "%s", e.message);
    }
    /* The framing itself is broken (bad CRC, bad lengths): Bedrock's or the
     * network's fault, and a new attempt may well be clean. */
    *retryable = true;
    return pw_error_set(err, PW_ERR_UPSTREAM, NULL, "bedrock: bad event stream: %s",
                        e.message);
}

static enum pw_err finish(struct bridge_decoder *d, json_t *chunks, json_t **completion,
                          bool *retryable, struct pw_error *err)
{
    *completion = NULL;
    *retryable = true;
    if (d->stream) {
        struct pw_error e;
        pw_error_clear(&e);
        if (bridge_es_decoder_finish(d->es, &e) != PW_OK)
            return pw_error_set(err, PW_ERR_UPSTREAM, NULL, "bedrock: stream cut: %s",
                                e.message);
        if (!bridge_converse_stream_done(d->st))
            return pw_error_set(err, PW_ERR_UPSTREAM, NULL, "bedrock: stream cut before "
                                "messageStop");
        return PW_OK;
    }
    json_error_t je;
    json_t *body = json_loadb(pw_buf_str(&d->body), d->body.len, 0, &je);
    if (!body)
        return pw_error_set(err, PW_ERR_UPSTREAM, NULL, "bedrock: the response is not JSON: "
                            "%s", je.text);
    enum pw_err rc = bridge_converse_response(body, d->id, d->model, d->created, completion,
                                              err);
    json_decref(body);
    return rc;
}

static void decoder_free(struct bridge_decoder *d)
{
    if (!d)
        return;
    bridge_es_decoder_free(d->es);
    bridge_converse_stream_free(d->st);
    free(d->id);
    free(d->model);
    pw_buf_free(&d->body);
    free(d);
}

const struct bridge_provider bridge_provider_bedrock = {
    .name = "bedrock",
    .genai_system = "aws.bedrock",
    .prefix = "bedrock/",
    .default_model = "us.anthropic.claude-3-5-haiku-20241022-v1:0",
    .configured = configured,
    .defaults_new = defaults_new,
    .defaults_free = defaults_free,
    .target_new = target_new,
    .target_free = target_free,
    .prepare = prepare,
    .error = http_error,
    .decoder_new = decoder_new,
    .decode = decode,
    .finish = finish,
    .decoder_free = decoder_free,
};
