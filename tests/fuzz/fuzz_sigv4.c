/*
 * Fuzz target: SigV4 canonicalisation (bridge/sigv4.c) of the path, query
 * and headers, which carry peer-chosen text (a model id or inference
 * profile ARN from the client's "model") into what we sign.
 *
 * The input is written like AWS's own test requests (fixtures/sigv4/
 * CASE/request.txt): "METHOD PATH[?QUERY] HTTP/1.1", then "Name:value"
 * lines, a blank line, and the payload. Lines without a colon are skipped.
 * Each request is signed in the header variant with the flags of every
 * service and of S3, and presigned.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "bridge/sigv4.h"

#define MAX_HEADERS 64

static const struct bridge_sigv4_credentials creds = {
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "fuzz-session-token"};

static void sign_all(struct bridge_sigv4_request *req)
{
    static const unsigned flags[] = {BRIDGE_SIGV4_DEFAULT, 0,
                                     BRIDGE_SIGV4_DEFAULT | BRIDGE_SIGV4_CONTENT_SHA256 |
                                         BRIDGE_SIGV4_UNSIGNED_TOKEN};
    struct bridge_sigv4_result res;
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        req->flags = flags[i];
        if (bridge_sigv4_sign(req, &res, NULL) == PW_OK)
            bridge_sigv4_result_free(&res);
    }
    if (bridge_sigv4_presign(req, 3600, &res, NULL) == PW_OK)
        bridge_sigv4_result_free(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    char *line = text, *payload = text + strlen(text);
    char *blank = strstr(text, "\n\n");
    if (blank) {
        *blank = '\0';
        payload = blank + 2;
    }
    char *save = NULL;
    char *first = strtok_r(line, "\n", &save);
    char *sp = first ? strchr(first, ' ') : NULL;
    if (!sp) {
        free(text);
        return 0;
    }
    *sp = '\0';
    char *path = sp + 1, *end = strrchr(path, ' '), *q = strchr(path, '?');
    if (end && end != path)
        *end = '\0';
    if (q)
        *q++ = '\0';
    struct bridge_sigv4_header headers[MAX_HEADERS];
    size_t n = 0;
    for (char *h; n < MAX_HEADERS && (h = strtok_r(NULL, "\n", &save));) {
        char *colon = strchr(h, ':');
        if (!colon)
            continue;
        *colon = '\0';
        headers[n++] = (struct bridge_sigv4_header){h, colon + 1};
    }
    struct bridge_sigv4_request req = {
        .method = first, .path = path, .query = q, .headers = headers, .n_headers = n,
        .payload = payload, .payload_len = strlen(payload), .region = "us-east-1",
        .service = "bedrock", .creds = &creds, .when = 1440938160,
    };
    sign_all(&req);
    free(text);
    return 0;
}
