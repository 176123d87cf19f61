/*
 * Fuzz target: an OpenAI chat completions request body as a client POSTs
 * it to /v1/chat/completions, taken the way the bridge takes it after the
 * HTTP layer: parsed (duplicate keys refused), its model routed through a
 * configuration built from a fixed environment (passthrough "openai/NAME"
 * and "bedrock/ID"), its latest user text picked out for the catalog
 * search, its response-cache key computed, and the upstream request built
 * by the routed provider (OpenAI: passed through; Bedrock: translated to
 * Converse and signed with SigV4), streamed and not.
 *
 * The field-by-field validation (bridge_chat_validate) runs first, as in
 * production; a body it refuses goes no further.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "bridge/bridge-int.h"
#include "bridge/context.h"

static const char *fake_env(const char *name)
{
    static const char *const vars[][2] = {
        {"OPENAI_API_KEY", "sk-fuzz"},
        {"AWS_REGION", "us-east-1"},
        {"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
        {"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
        {"AWS_SESSION_TOKEN", "fuzz-token"},
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (strcmp(vars[i][0], name) == 0)
            return vars[i][1];
    return NULL;
}

/* Builds the upstream request the way attempt.c does for one attempt. */
static void prepare(const struct bridge_alias *alias, json_t *body)
{
    const struct bridge_target *t = alias->deps[0]->t;
    const struct bridge_provider *p = t->provider;
    for (int stream = 0; stream < 2; stream++) {
        struct bridge_http http;
        if (p->prepare(t, body, stream, 1700000000, &http, NULL) == PW_OK)
            bridge_http_clear(&http);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    struct bridge_config *cfg = NULL;
    if (!json_is_object(body) || bridge_config_build(NULL, NULL, fake_env, &cfg, NULL) != PW_OK) {
        json_decref(body);
        return 0;
    }
    struct pw_error e = {0};
    if (!bridge_chat_validate(body, &e)) {
        bridge_config_free(cfg);
        json_decref(body);
        return 0;
    }
    char *text = bridge_context_user_text(json_object_get(body, "messages"));
    free(text);
    struct bridge_cache_key key;
    bridge_cache_key(body, BRIDGE_CTX_AUTO, "fuzz", &key);
    const char *model = json_string_value(json_object_get(body, "model"));
    const struct bridge_alias *alias = model ? bridge_config_route(cfg, model, NULL) : NULL;
    if (alias)
        prepare(alias, body);
    bridge_config_free(cfg);
    json_decref(body);
    return 0;
}
