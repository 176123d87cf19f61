/*
 * The error enum's names and its mappings onto protocol error shapes.
 *
 * One table row per code keeps the JSON-RPC code, the HTTP status and the
 * OpenAI error type together, so the protocols cannot drift apart. The
 * first-error-wins rule lives in pw_error_setv.
 *
 * SPDX-License-Identifier: MIT
 */
#include "pennyworth/error.h"

#include <stdio.h>
#include <string.h>

struct err_row {
    enum pw_err code;
    const char *name;
    int jsonrpc;
    int http;
    const char *openai;
};

static const struct err_row rows[] = {
    {PW_OK, "ok", 0, 200, ""},
    {PW_ERR_INVALID, "invalid", -32602, 400, "invalid_request_error"},
    {PW_ERR_NOT_FOUND, "not_found", -32602, 404, "not_found_error"},
    {PW_ERR_NOMEM, "nomem", -32603, 500, "server_error"},
    {PW_ERR_IO, "io", -32603, 500, "server_error"},
    {PW_ERR_DB, "db", -32603, 500, "server_error"},
    {PW_ERR_PARSE, "parse", -32700, 400, "invalid_request_error"},
    {PW_ERR_UNSUPPORTED, "unsupported", -32601, 400, "invalid_request_error"},
    {PW_ERR_TOO_LARGE, "too_large", -32600, 413, "invalid_request_error"},
    {PW_ERR_CANCELLED, "cancelled", -32800, 499, "cancelled"},
    {PW_ERR_TIMEOUT, "timeout", -32001, 504, "timeout"},
    {PW_ERR_INTERNAL, "internal", -32603, 500, "server_error"},
    {PW_ERR_METHOD, "method", -32601, 404, "invalid_request_error"},
    {PW_ERR_STATE, "state", -32600, 409, "invalid_request_error"},
    {PW_ERR_AUTH, "auth", -32001, 401, "authentication_error"},
    {PW_ERR_FORBIDDEN, "forbidden", -32001, 403, "permission_error"},
    {PW_ERR_RATE_LIMITED, "rate_limited", -32001, 429, "rate_limit_error"},
    {PW_ERR_UPSTREAM, "upstream", -32603, 502, "api_error"},
};

static const struct err_row *row(enum pw_err code)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].code == code)
            return &rows[i];
    return &rows[11]; /* PW_ERR_INTERNAL: an unknown code is our bug */
}

void pw_error_clear(struct pw_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

enum pw_err pw_error_setv(struct pw_error *err, enum pw_err code,
                          const char *pointer, const char *fmt, va_list ap)
{
    if (!err || err->code != PW_OK)
        return code;
    err->code = code;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    snprintf(err->pointer, sizeof err->pointer, "%s", pointer ? pointer : "");
    return code;
}

enum pw_err pw_error_set(struct pw_error *err, enum pw_err code,
                         const char *pointer, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pw_error_setv(err, code, pointer, fmt, ap);
    va_end(ap);
    return code;
}

const char *pw_err_name(enum pw_err code) { return row(code)->name; }
int pw_err_jsonrpc_code(enum pw_err code) { return row(code)->jsonrpc; }
int pw_err_http_status(enum pw_err code) { return row(code)->http; }
const char *pw_err_openai_type(enum pw_err code) { return row(code)->openai; }

/* The statuses a server decides itself whose OpenAI type is not the
 * default for their class. */
static const struct {
    int status;
    const char *type;
} status_types[] = {
    {401, "authentication_error"}, {403, "permission_error"}, {429, "rate_limit_error"},
};

const char *pw_http_status_openai_type(int status)
{
    for (size_t i = 0; i < sizeof status_types / sizeof status_types[0]; i++)
        if (status_types[i].status == status)
            return status_types[i].type;
    return status >= 500 ? "server_error" : "invalid_request_error";
}
