/*
 * Fuzz target: the offline model (bridge/offline.c) on any JSON a client
 * could send as a chat request. It quotes the client's last user message
 * back and reads products from the injected context message, so both run
 * on client text: every request must give a body, streamed or not, that
 * is itself JSON (non-streamed) or SSE whose data lines are JSON or
 * [DONE], with an answer no larger than a constant plus the input's size
 * (once, it was ~28 times a crafted input, in quadratic time).
 *
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "bridge/offline.h"

/* The label, the fixed sentences and 20 products' decorations. */
#define ANSWER_FIXED 4096

static void check_stream(const char *body, size_t len)
{
    for (const char *p = body; p < body + len;) {
        const char *nl = memchr(p, '\n', (size_t)(body + len - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(body + len - p);
        if (n > 6 && memcmp(p, "data: ", 6) == 0 && !(n == 12 && !memcmp(p + 6, "[DONE]", 6))) {
            json_t *chunk = json_loadb(p + 6, n - 6, 0, NULL);
            if (!json_is_object(chunk))
                abort();
            json_decref(chunk);
        }
        p += n + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *req = json_loadb((const char *)data, size, 0, NULL);
    if (!json_is_object(req)) {
        json_decref(req);
        return 0;
    }
    char *answer = bridge_offline_answer(req);
    if (answer && strlen(answer) > ANSWER_FIXED + size)
        abort();
    free(answer);
    for (int stream = 0; stream < 2; stream++) {
        size_t len = 0;
        char *body = bridge_offline_body(req, "pennyworth-offline", stream, &len);
        if (body && !stream) {
            json_t *doc = json_loadb(body, len, 0, NULL);
            if (!json_is_object(doc))
                abort();
            json_decref(doc);
        } else if (body) {
            check_stream(body, len);
        }
        free(body);
    }
    json_decref(req);
    return 0;
}
