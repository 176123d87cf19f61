/*
 * The bridge's questions about a caller (pennyworth/bridge.h), answered
 * from the grant that admission (filter.c) left in the request's context:
 *
 *   struct pw_bridge_hooks hooks;
 *   pw_access_bridge_hooks(acc, &hooks);
 *   ... pw_bridge_options.hooks = &hooks ...
 *
 * Admission itself and the usage record are the server pipeline's stages
 * (filter.c), not hooks. `model_visible` filters /v1/models
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

/* The grant admission (filter.c) left in the request's context, or NULL. */
static const struct pw_access_grant *grant_of(const struct pw_server_ctx *ctx)
{
    const struct access_held *held = ctx ? ctx->grant : NULL;
    return held ? &held->grant : NULL;
}

static bool model_visible(void *ud, const struct pw_server_ctx *ctx, const char *model)
{
    const struct pw_access_grant *g = grant_of(ctx);
    return !g || g->open || pw_access_model_allowed(ud, g->key_id, model);
}

static bool cache_partition(void *ud, const struct pw_server_ctx *ctx, char *out, size_t size)
{
    struct pw_access *acc = ud;
    const struct pw_access_grant *g = grant_of(ctx);
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
    out->model_visible = model_visible;
    out->cache_partition = cache_partition;
    out->ud = acc;
}
