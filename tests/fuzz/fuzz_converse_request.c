/*
 * Fuzz target: the OpenAI -> Bedrock Converse request translation
 * (bridge/converse_request.c and converse_messages.c) on any JSON a client
 * could send as a chat request. The translation re-checks every field
 * itself, so it gets the parsed document with no validation in front; an
 * accepted request must come out as a JSON object.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include <stdlib.h>

#include "bridge/converse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *req = json_loadb((const char *)data, size, 0, NULL);
    json_t *out = NULL;
    if (req && bridge_converse_request(req, &out, NULL) == PW_OK && !json_is_object(out))
        abort();
    json_decref(out);
    json_decref(req);
    return 0;
}
