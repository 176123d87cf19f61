/*
 * Bedrock failures -> our error codes: one table for HTTP error bodies and
 * for exception events inside a 200 event stream, so both paths agree.
 *
 * The type comes in several spellings: "throttlingException" (the
 * ":exception-type" header), "ThrottlingException" (x-amzn-ErrorType, which
 * may carry ":http://internal..." after it) or
 * "com.amazonaws.bedrock#ThrottlingException" ("__type" in a body). The
 * namespace and the suffix are cut and the name compared without case.
 *
 * Retryable means "another attempt, or the alias's next deployment, may
 * succeed": throttling, timeouts and Bedrock's own failures are; a request
 * Bedrock finds invalid, or credentials it refuses, are not. An unknown type
 * falls back to the HTTP status (200 for a stream: a failure mid-stream is
 * Bedrock's, so retryable).
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/converse.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *type;
    enum pw_err code;
    bool retryable;
} exceptions[] = {
    {"throttlingException", PW_ERR_RATE_LIMITED, true},
    {"serviceQuotaExceededException", PW_ERR_RATE_LIMITED, true},
    {"validationException", PW_ERR_INVALID, false},
    {"accessDeniedException", PW_ERR_FORBIDDEN, false},
    {"resourceNotFoundException", PW_ERR_NOT_FOUND, false},
    {"modelTimeoutException", PW_ERR_TIMEOUT, true},
    {"modelNotReadyException", PW_ERR_UPSTREAM, true},
    {"modelErrorException", PW_ERR_UPSTREAM, true},
    {"modelStreamErrorException", PW_ERR_UPSTREAM, true},
    {"internalServerException", PW_ERR_UPSTREAM, true},
    {"serviceUnavailableException", PW_ERR_UPSTREAM, true},
};

/* By status, for types not in the table. */
static enum pw_err by_status(int status, bool *retryable)
{
    *retryable = status == 429 || status == 408 || status >= 500 || status < 300;
    switch (status) {
    case 400:
        return PW_ERR_INVALID;
    case 403:
        return PW_ERR_FORBIDDEN;
    case 404:
        return PW_ERR_NOT_FOUND;
    case 408:
        return PW_ERR_TIMEOUT;
    case 429:
        return PW_ERR_RATE_LIMITED;
    default:
        return PW_ERR_UPSTREAM;
    }
}

enum pw_err bridge_converse_exception(const char *exception_type, int status, json_t *body,
                                      bool *retryable, struct pw_error *err)
{
    char name[80] = "";
    if (exception_type) {
        const char *hash = strrchr(exception_type, '#');
        const char *start = hash ? hash + 1 : exception_type;
        size_t len = strcspn(start, ":");
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1),
                 start);
    }
    enum pw_err code = PW_ERR_UPSTREAM;
    bool found = false;
    for (size_t i = 0; name[0] && i < sizeof exceptions / sizeof exceptions[0]; i++)
        if (strcasecmp(exceptions[i].type, name) == 0) {
            code = exceptions[i].code;
            *retryable = exceptions[i].retryable;
            found = true;
        }
    if (!found)
        code = by_status(status, retryable);
    const char *msg = json_string_value(json_object_get(body, "message"));
    if (!msg)
        msg = json_string_value(json_object_get(body, "Message"));
    if (name[0] && msg)
        return pw_error_set(err, code, NULL, "bedrock %s: %s", name, msg);
    if (name[0])
        return pw_error_set(err, code, NULL, "bedrock %s (HTTP %d)", name, status);
    if (msg)
        return pw_error_set(err, code, NULL, "bedrock: %s (HTTP %d)", msg, status);
    return pw_error_set(err, code, NULL, "bedrock: HTTP %d", status);
}
