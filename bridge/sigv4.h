/*
 * AWS Signature Version 4 (header and presigned-query variants), bridge-private.
 *
 * The Bedrock provider signs every upstream request with these functions.
 * They are pure: no clock, no I/O, no globals, so any thread may call them
 * and tests can pin the timestamp. The request is described as it will be
 * sent on the wire (path already percent-encoded once); the result carries
 * the canonical request and string to sign (for tests and debugging, never
 * for logs: they name the access key id and session token) and the headers
 * to add to the outgoing request.
 *
 * Path rules: see the comment at the top of bridge/sigv4.c. In short, every
 * service but S3 wants BRIDGE_SIGV4_NORMALIZE_PATH | BRIDGE_SIGV4_DOUBLE_ENCODE
 * (BRIDGE_SIGV4_DEFAULT); S3 wants neither.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_BRIDGE_SIGV4_H
#define PENNYWORTH_BRIDGE_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "pennyworth/error.h"

/* One header, borrowed strings. */
struct bridge_sigv4_header {
    const char *name;
    const char *value;
};

/* Borrowed for the duration of the call; never logged, never copied except
 * the session token (into the result, as a header value to send). */
struct bridge_sigv4_credentials {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL or "" when there is none */
};

enum bridge_sigv4_flags {
    /* Remove "." and ".." segments and empty segments ("//") before encoding. */
    BRIDGE_SIGV4_NORMALIZE_PATH = 1u << 0,
    /* Percent-encode the (already encoded) path once more: '%' -> "%25". */
    BRIDGE_SIGV4_DOUBLE_ENCODE = 1u << 1,
    /* Add and sign x-amz-content-sha256 (header variant only). */
    BRIDGE_SIGV4_CONTENT_SHA256 = 1u << 2,
    /* Send the session token but leave it out of the signature (a few
     * services, e.g. IoT, want this); default is to sign it. */
    BRIDGE_SIGV4_UNSIGNED_TOKEN = 1u << 3,
};

/* What every service except S3 expects. */
#define BRIDGE_SIGV4_DEFAULT (BRIDGE_SIGV4_NORMALIZE_PATH | BRIDGE_SIGV4_DOUBLE_ENCODE)

/* Longest accepted literal payload hash ("UNSIGNED-PAYLOAD", 64 hex digits). */
#define BRIDGE_SIGV4_HASH_MAX 64

struct bridge_sigv4_request {
    const char *method;  /* "GET", "POST" ... */
    const char *path;    /* as sent: starts with '/', percent-encoded once */
    const char *query;   /* as sent, without '?'; NULL or "" for none */
    const struct bridge_sigv4_header *headers; /* must include Host */
    size_t n_headers;
    const void *payload; /* hashed unless payload_sha256 is set */
    size_t payload_len;
    const char *payload_sha256; /* NULL, or lower-case hex, or a literal such
                                   as "UNSIGNED-PAYLOAD" used verbatim */
    const char *region;  /* "us-east-1" */
    const char *service; /* "bedrock" (the signing name, not the host label) */
    const struct bridge_sigv4_credentials *creds;
    time_t when;         /* signing time, UTC seconds */
    unsigned flags;      /* enum bridge_sigv4_flags */
};

/*
 * Output of a signing call; everything is owned by the struct and released
 * by bridge_sigv4_result_free. `add` lists the headers the caller must add to
 * the request (X-Amz-Date, X-Amz-Security-Token, x-amz-content-sha256,
 * Authorization, as applicable); its strings point into this struct.
 */
struct bridge_sigv4_result {
    char *canonical_request;
    char *string_to_sign;
    char *authorization; /* header variant: Authorization value; else NULL */
    char *query;         /* presigned variant: the full query string to send
                            (caller's parameters, X-Amz-*, X-Amz-Signature,
                            without '?'); else NULL */
    char *session_token; /* copy of the token when one was given, else NULL */
    char signature[65];
    char amz_date[17];   /* "20150830T123600Z" */
    char payload_hash[BRIDGE_SIGV4_HASH_MAX + 1];
    struct bridge_sigv4_header add[4];
    size_t n_add;
};

/*
 * Sign `req` for the Authorization header variant. On success fills `out`
 * (which the caller must later pass to bridge_sigv4_result_free); on failure
 * `out` holds nothing to free and `err` says why (PW_ERR_INVALID for a bad
 * request: no Host, a header value with CR/LF, a path without a leading '/',
 * a caller-supplied X-Amz-Date/Authorization/...; PW_ERR_NOMEM;
 * PW_ERR_INTERNAL if OpenSSL fails). Any thread.
 */
enum pw_err bridge_sigv4_sign(const struct bridge_sigv4_request *req,
                              struct bridge_sigv4_result *out, struct pw_error *err);

/*
 * Sign `req` for the presigned-URL (query) variant, valid `expires` seconds
 * (1..604800). Only the request's own headers are signed; the session token
 * travels as X-Amz-Security-Token in the query. Same contract as above.
 */
enum pw_err bridge_sigv4_presign(const struct bridge_sigv4_request *req, long expires,
                                 struct bridge_sigv4_result *out, struct pw_error *err);

/* Release what a successful sign/presign put in `res`; NULL and a zeroed
 * struct are fine. Wipes the copied session token. */
void bridge_sigv4_result_free(struct bridge_sigv4_result *res);

/*
 * Percent-encode `len` bytes of `s` into `dst` (capacity `cap`), every byte
 * outside the RFC 3986 unreserved set (A-Z a-z 0-9 - . _ ~) as %XX in upper
 * case; '/' is kept when `keep_slash`. This is how a Bedrock model id or
 * inference-profile ARN becomes one path segment ("v1:0" -> "v1%3A0").
 * Returns the encoded length (excluding the NUL, which is always written
 * when cap > 0); if that is >= cap the output was truncated, as snprintf.
 */
size_t bridge_sigv4_uri_encode(char *dst, size_t cap, const char *s, size_t len,
                               int keep_slash);

#endif
