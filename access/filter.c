/*
 * Access as a stage of the server's request pipeline (pennyworth/server.h,
 * stage 6 and 8): every HTTP route that needs a key declares one of the
 * route classes below (pw_server_route.admit), and this one filter admits
 * it before its handler runs, so /v1, /mcp, /admin and /auth share one
 * credential reading, one set of limits and one refusal path.
 *
 * The class table says, per class: the scope the key needs, whether the
 * request's JSON body names a model and an amount of tokens to reserve
 * (chat), how a refusal is written (OpenAI's error object with access's
 * own `type`, or the route's own error shape, e.g. JSON-RPC on /mcp), and
 * whether the grant is kept for a usage record at the end. The admin class
 * also takes PENNYWORTH_ADMIN_KEY, compared as SHA-256 digests in constant
 * time, and never admits open mode; a key without the admin scope gets
 * 403, a limited one 429, anything else 401.
 *
 * At the end of the request (`done`) the grant is reconciled with what the
 * handler reported in the context (tokens, cost, model, products) and the
 * usage record queued: pw_access_finish.
 *
 * Invariants:
 *   1. A grant in ctx->grant is finished and freed exactly once, in `done`.
 *   2. The credential's plaintext lives only in a stack buffer, cleansed
 *      before admit returns.
 *
 * Threads: the service thread (admission never blocks: the key cache
 * answers from memory).
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/server.h"

#define CRED_MAX (PW_ACCESS_KEY_MAX + 64)

enum shape { OPENAI, ROUTE };

static const struct route_class {
    unsigned cls;
    unsigned scope;
    bool model;                 /* the body names the model and the tokens */
    enum shape shape;           /* how a refusal is written */
    bool record;                /* a usage record at the end */
    bool guard_ip;              /* failed credentials count for the per-IP guard */
} classes[] = {
    {PW_ACCESS_ROUTE_CHAT, PW_ACCESS_SCOPE_CHAT, true, OPENAI, true, true},
    {PW_ACCESS_ROUTE_MCP, PW_ACCESS_SCOPE_MCP, false, ROUTE, true, true},
    {PW_ACCESS_ROUTE_TICKET, PW_ACCESS_SCOPE_MCP, false, OPENAI, false, false},
    {PW_ACCESS_ROUTE_ADMIN, PW_ACCESS_SCOPE_ADMIN, false, OPENAI, false, false},
};

static const struct route_class *class_of(unsigned cls)
{
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        if (classes[i].cls == cls)
            return &classes[i];
    return NULL;
}

/* The model and the token estimate of a chat request's JSON body. */
static void read_model(struct pw_server_req *r, struct pw_access_request *req, char *model,
                       size_t size)
{
    size_t len;
    const char *body = pw_server_req_body(r, &len);
    json_t *doc = len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *m = json_string_value(json_object_get(doc, "model"));
    if (m && *m) {
        snprintf(model, size, "%s", m);
        req->model = model;
    }
    req->est_tokens = doc ? pw_access_estimate_tokens(doc) : 0;
    json_decref(doc);
}

static bool admin_key(const struct access_routes *rt, const char *cred)
{
    if (!cred[0] || !rt->has_admin_key)
        return false;
    unsigned char digest[ACCESS_HASH_LEN];
    access_key_hash(cred, digest);
    return CRYPTO_memcmp(digest, rt->admin_hash, ACCESS_HASH_LEN) == 0;
}

static void refuse(struct pw_server_req *r, const struct route_class *k,
                   const struct pw_access_grant *g)
{
    struct pw_access_headers h;
    const char *const *headers = pw_access_headers(g, &h);
    if (k->shape == ROUTE) {
        pw_server_req_add_headers(r, headers);
        pw_server_req_error(r, g->status, g->message);
        return;
    }
    char *body = pw_access_error_body(g);
    pw_server_req_respond(r, g->status, "application/json", headers, body ? body : "",
                          body ? strlen(body) : 0);
    free(body);
}

static void refuse_admin(struct pw_server_req *r, const struct access_routes *rt)
{
    access_respond_error(r, 401, "invalid_api_key",
                         rt->has_admin_key
                             ? "the admin API needs the admin key or a key with the admin scope"
                             : "the admin API needs a key with the admin scope "
                               "(PENNYWORTH_ADMIN_KEY is not set)",
                         NULL);
}

static bool admit(struct pw_server_req *r, unsigned cls, struct pw_server_ctx *ctx, void *ud)
{
    struct access_routes *rt = ud;
    const struct route_class *k = class_of(cls);
    if (!k) {
        pw_server_req_error(r, 500, "Internal Server Error: unknown admission class");
        return false;
    }
    char cred[CRED_MAX], model[PW_SERVER_LABEL_MAX];
    access_req_credential(r, cred, sizeof cred);
    if (k->scope == PW_ACCESS_SCOPE_ADMIN && admin_key(rt, cred)) {
        OPENSSL_cleanse(cred, sizeof cred);
        snprintf(ctx->principal, sizeof ctx->principal, "admin");
        return true;
    }
    struct pw_access_request req = {
        .api_key = cred,
        .client_ip = k->guard_ip ? pw_server_req_peer(r) : NULL,
        .scope = k->scope,
    };
    if (k->model)
        read_model(r, &req, model, sizeof model);
    struct access_held *held = calloc(1, sizeof *held);
    if (!held) {
        OPENSSL_cleanse(cred, sizeof cred);
        pw_server_req_error(r, 503, "Service Unavailable: out of memory");
        return false;
    }
    struct pw_access_grant *g = &held->grant;
    bool keyed = strncmp(cred, "pw_", 3) == 0;
    pw_access_admit(rt->acc, &req, g);
    OPENSSL_cleanse(cred, sizeof cred); /* invariant 2 */
    if (k->scope == PW_ACCESS_SCOPE_ADMIN) {
        /* Nothing is reserved for admin requests and none is recorded. */
        bool ok = keyed && g->status == 0 && !g->open;
        if (ok)
            snprintf(ctx->principal, sizeof ctx->principal, "%s", g->key_id);
        else if (keyed && g->status && g->status != 401) /* a key's scope, a limit */
            refuse(r, k, g);
        else
            refuse_admin(r, rt);
        if (!ok)
            snprintf(ctx->error, sizeof ctx->error, "%s",
                     g->status && g->type ? g->type : "invalid_api_key");
        free(held);
        return ok;
    }
    snprintf(ctx->principal, sizeof ctx->principal, "%s", g->open ? "" : g->key_id);
    /* Invariant 1: `done` counts a refusal, records a use, frees the rest. */
    held->record = k->record || g->status;
    ctx->grant = held;
    if (g->status) {
        snprintf(ctx->error, sizeof ctx->error, "%s", g->type ? g->type : "refused");
        refuse(r, k, g);
        return false;
    }
    struct pw_access_headers h;
    pw_server_req_add_headers(r, pw_access_headers(g, &h));
    return true;
}

static void done(struct pw_server_ctx *ctx, void *ud)
{
    struct access_routes *rt = ud;
    struct access_held *held = ctx->grant;
    if (!held)
        return;
    ctx->grant = NULL;
    int64_t total = ctx->at_us[PW_SERVER_MARK_END] - ctx->at_us[PW_SERVER_MARK_RECEIVED];
    struct pw_access_usage u = {
        .request_id = ctx->request_id,
        .route = ctx->route,
        .model = ctx->upstream_model[0] ? ctx->upstream_model
                                        : (ctx->model[0] ? ctx->model : NULL),
        .provider = ctx->provider[0] ? ctx->provider : NULL,
        .status = ctx->status,
        .prompt_tokens = ctx->prompt_tokens,
        .completion_tokens = ctx->completion_tokens,
        .cached_tokens = ctx->cached_tokens,
        .cost_micros = ctx->cost_micros,
        .priced = ctx->cost_micros >= 0,
        .latency_us = total,
        .upstream_us = ctx->upstream_us,
        .products = ctx->products,
    };
    if (held->record)
        pw_access_finish(rt->acc, &held->grant, &u);
    free(held);
}

void access_filter_install(struct access_routes *rt, struct pw_server *srv)
{
    struct pw_server_admission a = {.admit = admit, .done = done, .ud = rt};
    pw_server_set_admission(srv, &a);
}
