/*
 * Errors: one enum for every module, plus an optional caller-owned detail.
 *
 * Every fallible function returns `enum pw_err` (0 is success, negative is
 * failure) and takes an optional `struct pw_error *` that the caller owns,
 * usually on the stack. The first error set wins, so the innermost cause
 * survives as the error travels outwards (jansson's json_error_t does the
 * same). The code maps straight onto a JSON-RPC error code and an OpenAI
 * error type/status, so protocol layers never invent their own mapping.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_ERROR_H
#define PENNYWORTH_ERROR_H

#include <stdarg.h>
#include <stddef.h>

enum pw_err {
    PW_OK = 0,
    PW_ERR_INVALID = -1,      /* a peer's input is wrong (bad param, bad row) */
    PW_ERR_NOT_FOUND = -2,    /* the named thing does not exist */
    PW_ERR_NOMEM = -3,        /* allocation failed */
    PW_ERR_IO = -4,           /* a file or socket operation failed */
    PW_ERR_DB = -5,           /* SQLite reported an error */
    PW_ERR_PARSE = -6,        /* the input is not well-formed (JSON, CSV) */
    PW_ERR_UNSUPPORTED = -7,  /* valid, but not something we do */
    PW_ERR_TOO_LARGE = -8,    /* over a configured bound */
    PW_ERR_CANCELLED = -9,    /* the caller gave up */
    PW_ERR_TIMEOUT = -10,     /* a deadline passed */
    PW_ERR_INTERNAL = -11,    /* our bug; never a peer's fault */
    PW_ERR_METHOD = -12,      /* unknown method or route */
    PW_ERR_STATE = -13,       /* not allowed in the current state */
    PW_ERR_AUTH = -14,        /* missing or wrong credentials */
    PW_ERR_FORBIDDEN = -15,   /* credentials fine, permission missing */
    PW_ERR_RATE_LIMITED = -16,/* over a rate limit or budget */
    PW_ERR_UPSTREAM = -17,    /* a provider failed */
};

#define PW_ERROR_MESSAGE_MAX 256
#define PW_ERROR_POINTER_MAX 128

/*
 * Detail for a failure. `pointer` is a JSON pointer (RFC 6901) to the
 * offending part of the input when there is one ("" otherwise). Zero it (or
 * call pw_error_clear) before use; `code == PW_OK` means nothing was set.
 */
struct pw_error {
    enum pw_err code;
    char message[PW_ERROR_MESSAGE_MAX];
    char pointer[PW_ERROR_POINTER_MAX];
};

void pw_error_clear(struct pw_error *err);

/*
 * Record an error unless one is already recorded; returns `code` so callers
 * can `return pw_error_set(err, ...)`. `err` may be NULL, `pointer` may be
 * NULL. Safe on any thread for a thread-private `err`.
 */
enum pw_err pw_error_set(struct pw_error *err, enum pw_err code,
                         const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
enum pw_err pw_error_setv(struct pw_error *err, enum pw_err code,
                          const char *pointer, const char *fmt, va_list ap);

/* Stable lower-case name of a code ("invalid", "not_found", ...). */
const char *pw_err_name(enum pw_err code);

/* The JSON-RPC 2.0 error code for a failure (-32602 for PW_ERR_INVALID...). */
int pw_err_jsonrpc_code(enum pw_err code);

/* The HTTP status for a failure (400, 404, 429, 500, 502...). */
int pw_err_http_status(enum pw_err code);

/* The OpenAI error `type` string for a failure. */
const char *pw_err_openai_type(enum pw_err code);

/* The OpenAI error `type` for an HTTP status a server decided itself (413,
 * 503...): "authentication_error" for 401, "server_error" for 5xx... */
const char *pw_http_status_openai_type(int status);

#endif
