/*
 * The OpenAI provider's target (openai.c): a deployment of the chat
 * completions API at its base URL, with a bearer key. Made by the row's
 * target_new from OPENAI_BASE_URL / OPENAI_API_KEY and the deployment's
 * base_url and credentials.api_key_env; declared here for tests that build
 * one directly.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_BRIDGE_OPENAI_H
#define PENNYWORTH_BRIDGE_OPENAI_H

#include "bridge/provider.h"

struct bridge_openai_target {
    struct bridge_target base;   /* base_url: ".../v1" */
    char *api_key;               /* bearer key; NULL sends none */
};

#endif
