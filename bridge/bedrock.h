/*
 * The Bedrock provider's target (bedrock.c): a model (or inference
 * profile) in a region, with SigV4 credentials or a Bedrock API key. Made
 * by the row's target_new from the AWS variables (AWS_REGION,
 * AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_BEDROCK_RUNTIME, AWS_ENDPOINT_URL,
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
 * AWS_BEARER_TOKEN_BEDROCK) and the deployment's region, base_url and
 * credentials; declared here for tests that build one directly.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_BRIDGE_BEDROCK_H
#define PENNYWORTH_BRIDGE_BEDROCK_H

#include "bridge/provider.h"

struct bridge_bedrock_target {
    struct bridge_target base;   /* base_url: the endpoint
                                    ("https://bedrock-runtime.REGION.amazonaws.com"
                                    or an override); NULL: from the region */
    char *region;
    char *api_key;               /* AWS_BEARER_TOKEN_BEDROCK: sent instead of signing */
    char *access_key_id;         /* SigV4 */
    char *secret_access_key;
    char *session_token;         /* may be NULL */
};

#endif
