/*
 * The provider table: every upstream API the bridge can call, one vtable
 * row each (provider.h), looked up by the name a deployment gives. Adding a
 * provider is adding a row here and its own file.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/provider.h"

#include <stdlib.h>
#include <string.h>

static const struct bridge_provider *const providers[] = {
    &bridge_provider_openai,
    &bridge_provider_bedrock,
};

const struct bridge_provider *bridge_provider_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof providers / sizeof providers[0]; i++)
        if (strcmp(providers[i]->name, name) == 0)
            return providers[i];
    return NULL;
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
