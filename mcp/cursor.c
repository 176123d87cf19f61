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

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64val(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

char *mcp_cursor_encode(const char *kind, const char *payload)
{
    char raw[MCP_CURSOR_MAX];
    int n = snprintf(raw, sizeof raw, "%s:%s", kind, payload);
    if (n < 0 || (size_t)n >= sizeof raw)
        return NULL;
    char *out = malloc((size_t)n * 4 / 3 + 4);
    if (!out)
        return NULL;
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    for (int i = 0; i < n; i++) {
        v = (v << 8) | (unsigned char)raw[i];
        bits += 8;
        while (bits >= 6) {
            out[o++] = b64[(v >> (bits - 6)) & 63];
            bits -= 6;
        }
    }
    if (bits)
        out[o++] = b64[(v << (6 - bits)) & 63];
    out[o] = '\0';
    return out;
}

enum pw_err mcp_cursor_decode(const char *kind, const char *cursor, char *payload,
                              size_t payload_len, struct pw_error *err)
{
    char raw[MCP_CURSOR_MAX];
    size_t o = 0, len = strlen(cursor);
    unsigned v = 0;
    int bits = 0;
    if (len == 0 || len > (MCP_CURSOR_MAX - 1) * 4 / 3)
        goto bad;
    for (size_t i = 0; i < len; i++) {
        int d = b64val(cursor[i]);
        if (d < 0)
            goto bad;
        v = (v << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            raw[o++] = (char)((v >> (bits - 8)) & 0xff);
            bits -= 8;
        }
    }
    raw[o] = '\0';
    size_t klen = strlen(kind);
    if (o != strlen(raw) || strncmp(raw, kind, klen) != 0 || raw[klen] != ':')
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
