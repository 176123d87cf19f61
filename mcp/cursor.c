/*
 * Opaque pagination cursors for the engine's list methods.
 *
 * A cursor is base64url("<kind>:<payload>") (the payload is an offset, or
 * for resources/list a listing position): opaque to clients as the spec
 * asks, tied to the list it came from (a tools cursor is refused by
 * prompts/list), and bounded in size. It carries no secret: a client that
 * forges one can only ask for a page it could have reached anyway.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mcp/mcp-int.h"

#include "pennyworth/encode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *mcp_cursor_encode(const char *kind, const char *payload)
{
    char raw[MCP_CURSOR_MAX];
    int n = snprintf(raw, sizeof raw, "%s:%s", kind, payload);
    if (n < 0 || (size_t)n >= sizeof raw)
        return NULL;
    char *out = malloc(PW_BASE64URL_LEN((size_t)n) + 1);
    if (out)
        pw_base64url_encode(out, raw, (size_t)n);
    return out;
}

enum pw_err mcp_cursor_decode(const char *kind, const char *cursor, char *payload,
                              size_t payload_len, struct pw_error *err)
{
    char raw[MCP_CURSOR_MAX];
    size_t len = strlen(cursor), klen = strlen(kind);
    long n = len ? pw_base64url_decode(raw, sizeof raw - 1, cursor, len) : -1;
    if (n < 0)
        goto bad;
    raw[n] = '\0';
    if ((size_t)n != strlen(raw) || strncmp(raw, kind, klen) != 0 || raw[klen] != ':')
        goto bad;
    if (strlen(raw + klen + 1) >= payload_len)
        goto bad;
    memcpy(payload, raw + klen + 1, strlen(raw + klen + 1) + 1);
    return PW_OK;
bad:
    return pw_error_set(err, PW_ERR_INVALID, "/cursor",
                        "cursor: not a cursor this server issued for this list");
}

enum pw_err mcp_cursor_offset(const char *kind, const char *cursor, size_t *offset,
                              struct pw_error *err)
{
    char payload[32], *end;
    if (mcp_cursor_decode(kind, cursor, payload, sizeof payload, err) != PW_OK)
        return PW_ERR_INVALID;
    errno = 0;
    unsigned long long off = strtoull(payload, &end, 10);
    if (!payload[0] || *end || errno || off > 100000000ULL)
        return pw_error_set(err, PW_ERR_INVALID, "/cursor", "cursor: malformed");
    *offset = (size_t)off;
    return PW_OK;
}
