/*
 * The request context (pw_server_ctx in pennyworth/server.h): what one
 * request went through, from its headers to its end. The pipeline
 * (pipeline.c) fills the request id, the route label and the server's
 * marks; the module that calls an upstream reports each attempt here, and
 * the handler what the request used; the done stage reads it whole.
 *
 * Invariants:
 *   1. Upstream attempts nest in pairs: every begin is followed by exactly
 *      one end before the next begin (asserted), so upstream_us is the sum
 *      of disjoint intervals and never exceeds the request's own time.
 *   2. Strings copied in are cut to whole UTF-8 characters within their
 *      field; the context holds no borrowed pointer but `route` and
 *      `method`, which live as long as the route table and the request.
 *
 * Service thread only (the context lives in the request).
 *
 * SPDX-License-Identifier: MIT
 */
#include "server/server-int.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/assert.h"
#include "pennyworth/clock.h"
#include "pennyworth/encode.h"

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

void pw_server_request_id(const char *incoming, char out[PW_SERVER_REQID_MAX])
{
    size_t n = incoming ? strlen(incoming) : 0;
    bool ok = n > 0 && n < PW_SERVER_REQID_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = id_char(incoming[i]);
    if (ok) {
        memcpy(out, incoming, n + 1);
        return;
    }
    unsigned char raw[12];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        /* Ids need to be unique, not secret: fall back to the clock. */
        int64_t t = pw_clock_wall_ms() * 1000 + pw_clock_us() % 1000;
        memset(raw, 0, sizeof raw);
        memcpy(raw, &t, sizeof t);
    }
    memcpy(out, "req_", 4);
    pw_hex_encode(out + 4, raw, sizeof raw);
}

static void copy_cut(char *dst, size_t cap, const char *src)
{
    size_t n = pw_utf8_prefix(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void server_ctx_clear(struct pw_server_ctx *c)
{
    free(c->products);
    memset(c, 0, sizeof *c);
    c->cost_micros = -1;
}

void pw_server_ctx_upstream_begin(struct pw_server_ctx *c)
{
    int64_t now = pw_clock_us();
    PW_ASSERT(!c->upstream_open); /* invariant 1 */
    c->upstream_open = now;
    if (!c->at_us[PW_SERVER_MARK_UPSTREAM_START])
        c->at_us[PW_SERVER_MARK_UPSTREAM_START] = now;
    c->upstream_attempts++;
}

int64_t pw_server_ctx_upstream_end(struct pw_server_ctx *c, int64_t first_byte_us)
{
    PW_ASSERT(c->upstream_open); /* invariant 1 */
    int64_t now = pw_clock_us();
    int64_t took = now - c->upstream_open;
    c->upstream_open = 0;
    c->upstream_us += took;
    c->at_us[PW_SERVER_MARK_UPSTREAM_END] = now;
    if (first_byte_us && !c->at_us[PW_SERVER_MARK_UPSTREAM_FIRST_BYTE])
        c->at_us[PW_SERVER_MARK_UPSTREAM_FIRST_BYTE] = first_byte_us;
    return took;
}

void pw_server_ctx_usage(struct pw_server_ctx *c, const struct pw_server_usage *u)
{
    if (u->model)
        copy_cut(c->model, sizeof c->model, u->model);
    if (u->provider)
        copy_cut(c->provider, sizeof c->provider, u->provider);
    if (u->upstream_model)
        copy_cut(c->upstream_model, sizeof c->upstream_model, u->upstream_model);
    c->prompt_tokens = u->prompt_tokens;
    c->completion_tokens = u->completion_tokens;
    c->cached_tokens = u->cached_tokens;
    c->cost_micros = u->cost_micros;
    if (u->products) {
        free(c->products);
        c->products = strdup(u->products);
    }
}

int64_t server_ctx_overhead_us(const struct pw_server_ctx *c)
{
    int64_t total = c->at_us[PW_SERVER_MARK_END] - c->at_us[PW_SERVER_MARK_RECEIVED];
    int64_t own = total - c->upstream_us;
    return own > 0 ? own : 0;
}
