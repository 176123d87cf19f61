/*
 * The bridge's admission and usage hooks (pennyworth/bridge.h), so that
 * wiring access into `pennyworth serve` is one call:
 *
 *   struct pw_bridge_hooks hooks;
 *   pw_access_bridge_hooks(acc, &hooks);
 *   ... pw_bridge_options.hooks = &hooks ...
 *
 * `admit` reads the credential headers and the client's address, estimates
 * the request's tokens from its body and runs pw_access_admit with the chat
 * scope. The grant's x-ratelimit-* headers go on the request
 * (pw_server_req_add_headers), so every answer carries them, whatever part
 * of the bridge writes it. An admitted request's grant travels as the
 * hook's ticket to `usage`, which prices and records it with
 * pw_access_finish; a refused one to `refuse`, which answers with access's
 * own error body (its `type`, e.g. budget_exceeded) and the refusal's
 * retry-after / x-should-retry headers. `model_visible` filters /v1/models
 * by the key's allowed models. `cache_partition` keeps the response cache
 * from sharing an answer between keys whose model permissions differ: the
 * partition is the key's model list ("*" for every model; open mode has
 * its own).
 *
 * Threads: the service thread, like the hooks themselves.
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/bridge.h"
#include "pennyworth/server.h"

static enum pw_err admit(void *ud, struct pw_server_req *r, const char *model, json_t *body,
                         void **ticket, struct pw_error *err)
{
    struct pw_access *acc = ud;
    char cred[PW_ACCESS_KEY_MAX + 64];
    access_req_credential(r, cred, sizeof cred);
    struct pw_access_request req = {
        .api_key = cred,
        .client_ip = pw_server_req_peer(r),
        .scope = PW_ACCESS_SCOPE_CHAT,
        .model = model && *model ? model : NULL,
        .est_tokens = body ? pw_access_estimate_tokens(body) : 0,
    };
    struct pw_access_grant *g = malloc(sizeof *g);
    if (!g) {
        OPENSSL_cleanse(cred, sizeof cred);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    }
    pw_access_admit(acc, &req, g);
    OPENSSL_cleanse(cred, sizeof cred);
    *ticket = g;
    if (g->status)
        return pw_error_set(err, g->code, NULL, "%s", g->message);
    struct pw_access_headers h;
    pw_server_req_add_headers(r, pw_access_headers(g, &h));
    return PW_OK;
}

static void refuse(void *ud, struct pw_server_req *r, void *ticket, const struct pw_error *err)
{
    struct pw_access *acc = ud;
    struct pw_access_grant *g = ticket;
    (void)err; /* the grant says it all */
    struct pw_access_headers h;
    char *body = pw_access_error_body(g);
    pw_server_req_respond(r, g->status, "application/json", pw_access_headers(g, &h),
                          body ? body : "", body ? strlen(body) : 0);
    free(body);
    pw_access_finish(acc, g, NULL);
    free(g);
}

static bool model_visible(void *ud, void *ticket, const char *model)
{
    struct pw_access_grant *g = ticket;
    return !g || g->open || pw_access_model_allowed(ud, g->key_id, model);
}

static void usage(void *ud, void *ticket, const struct pw_bridge_usage *u)
{
    struct pw_access *acc = ud;
    struct pw_access_grant *g = ticket;
    if (!g)
        return;
    struct pw_access_usage au = {
        .request_id = u->request_id,
        .route = u->model ? "/v1/chat/completions" : "/v1/models",
        .model = u->upstream_model ? u->upstream_model : u->model,
        .provider = u->provider,
        .status = u->status,
        .prompt_tokens = u->prompt_tokens,
        .completion_tokens = u->completion_tokens,
        .cached_tokens = u->cached_tokens,
        .cost_micros = u->cost_micros,
        .latency_us = u->latency_ms * 1000,
    };
    pw_access_finish(acc, g, &au);
    free(g);
}

static bool cache_partition(void *ud, void *ticket, char *out, size_t size)
{
    struct pw_access *acc = ud;
    struct pw_access_grant *g = ticket;
    if (!g || g->open) {
        snprintf(out, size, "open");
        return true;
    }
    pthread_mutex_lock(&acc->keys_lock);
    const struct access_key *k = access_keycache_get_locked(acc, g->key_id);
    bool ok = k != NULL;
    size_t n = (size_t)snprintf(out, size, "m:%s", k && k->models ? "" : "*");
    for (size_t i = 0; ok && k->models && i < k->nmodels; i++) {
        int w = snprintf(out + n, size - n, "%s%s", i ? "," : "", k->models[i]);
        ok = w >= 0 && (size_t)w < size - n; /* a list too long to key: no cache */
        n += ok ? (size_t)w : 0;
    }
    pthread_mutex_unlock(&acc->keys_lock);
    return ok;
}

void pw_access_bridge_hooks(struct pw_access *acc, struct pw_bridge_hooks *out)
{
    memset(out, 0, sizeof *out);
    out->admit = admit;
    out->usage = usage;
    out->refuse = refuse;
    out->model_visible = model_visible;
    out->cache_partition = cache_partition;
    out->ud = acc;
}
