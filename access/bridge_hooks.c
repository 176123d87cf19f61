/*
 * The bridge's admission and usage hooks (pennyworth/bridge.h), so that
 * wiring access into `pennyworth serve` is one call:
 *
 *   struct pw_bridge_hooks hooks;
 *   pw_access_bridge_hooks(acc, &hooks);
 *   ... pw_bridge_options.hooks = &hooks ...
 *
 * `admit` reads the credential headers, estimates the request's tokens from
 * its body and runs pw_access_admit with the chat scope; an admitted
 * request's grant travels as the hook's ticket to `usage`, which prices
 * and records it with pw_access_finish. A refusal maps onto the hook's
 * error (401, 403, 429 by code) with the grant's message.
 *
 * Threads: the service thread, like the hooks themselves.
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <openssl/crypto.h>
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
        .scope = PW_ACCESS_SCOPE_CHAT,
        .model = model,
        .est_tokens = pw_access_estimate_tokens(body),
    };
    struct pw_access_grant *g = malloc(sizeof *g);
    if (!g) {
        OPENSSL_cleanse(cred, sizeof cred);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    }
    pw_access_admit(acc, &req, g);
    OPENSSL_cleanse(cred, sizeof cred);
    if (g->status) {
        enum pw_err code = g->code;
        pw_error_set(err, code, NULL, "%s", g->message);
        pw_access_finish(acc, g, NULL);
        free(g);
        return code;
    }
    *ticket = g;
    return PW_OK;
}

static void usage(void *ud, void *ticket, const struct pw_bridge_usage *u)
{
    struct pw_access *acc = ud;
    struct pw_access_grant *g = ticket;
    if (!g)
        return;
    struct pw_access_usage au = {
        .request_id = u->request_id,
        .route = "/v1/chat/completions",
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

void pw_access_bridge_hooks(struct pw_access *acc, struct pw_bridge_hooks *out)
{
    memset(out, 0, sizeof *out);
    out->admit = admit;
    out->usage = usage;
    out->ud = acc;
}
