/*
 * The provider table: every upstream API the bridge can call, one vtable
 * row each (provider.h), looked up by the name a deployment gives, the
 * prefix of a model name routed by prefix, or a row's built-in model
 * name. Row order matters: the first row the environment configures
 * gives the default model (config.c); offline, needing nothing, is last.
 * Adding a provider is adding a row here and its own file. Also the small
 * helpers the rows share for reading their configuration (environment
 * variables, named credentials).
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/provider.h"

#include <stdlib.h>
#include <string.h>

static const struct bridge_provider *const providers[] = {
    &bridge_provider_openai,
    &bridge_provider_bedrock,
    &bridge_provider_offline,
};

#define NPROVIDERS (sizeof providers / sizeof providers[0])

const struct bridge_provider *bridge_provider_find(const char *name)
{
    for (size_t i = 0; name && i < NPROVIDERS; i++)
        if (strcmp(providers[i]->name, name) == 0)
            return providers[i];
    return NULL;
}

const struct bridge_provider *bridge_provider_for_model(const char *model)
{
    for (size_t i = 0; model && i < NPROVIDERS; i++) {
        const char *prefix = providers[i]->prefix;
        size_t n = prefix ? strlen(prefix) : 0;
        if (prefix && strncmp(model, prefix, n) == 0 && model[n])
            return providers[i];
    }
    return NULL;
}

const struct bridge_provider *bridge_provider_builtin(const char *model)
{
    for (size_t i = 0; model && i < NPROVIDERS; i++)
        if (providers[i]->builtin && strcmp(providers[i]->builtin, model) == 0)
            return providers[i];
    return NULL;
}

const struct bridge_provider *bridge_provider_at(size_t i)
{
    return i < NPROVIDERS ? providers[i] : NULL;
}

const char *bridge_env(bridge_getenv_fn getenv_fn, const char *name)
{
    const char *v = name ? getenv_fn(name) : NULL;
    return v && *v ? v : NULL;
}

char *bridge_strdup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

void bridge_cred(json_t *creds, const char *key, bridge_getenv_fn getenv_fn, char **slot)
{
    const char *name = json_string_value(json_object_get(creds, key));
    if (!name)
        return;
    free(*slot);
    *slot = bridge_strdup_or_null(bridge_env(getenv_fn, name));
}

void bridge_http_clear(struct bridge_http *h)
{
    if (!h)
        return;
    free(h->method);
    free(h->url);
    for (size_t i = 0; h->headers && h->headers[i]; i++)
        free(h->headers[i]);
    free(h->headers);
    free(h->body);
    memset(h, 0, sizeof *h);
}
