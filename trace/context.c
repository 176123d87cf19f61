/*
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the
 * traceparent header, which arrives from clients (peer input: refused
 * whole when anything about it is off, never half-used) and goes to
 * upstreams, and the random ids of new traces and spans.
 *
 *   traceparent = version "-" trace-id "-" parent-id "-" trace-flags
 *                 2 hex     32 hex       16 hex        2 hex   (lower case)
 *
 * Version ff is invalid; version 00 is exactly 55 characters; a later
 * version is read as 00 when what follows the first 55 characters starts
 * with '-' (the spec's forward compatibility rule). All-zero ids are
 * invalid.
 *
 * Ids come from OpenSSL's CSPRNG: trace ids are used by collectors as
 * keys and must not collide across processes; if the CSPRNG fails, the
 * clock and a counter keep ids unique, which is all a trace needs.
 *
 * Threads: any; no shared state but an atomic counter.
 *
 * SPDX-License-Identifier: MIT
 */
#include "trace/trace-int.h"

#include <openssl/rand.h>
#include <stdatomic.h>
#include <string.h>

#include "pennyworth/clock.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* n bytes from 2n lower-case hex digits; false on any other character. */
static bool unhex(uint8_t *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static bool all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

bool pw_trace_parse_traceparent(const char *s, size_t len, struct pw_trace_ctx *out)
{
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len < PW_TRACE_TRACEPARENT_LEN)
        return false;
    uint8_t version;
    if (!unhex(&version, s, 1) || version == 0xff)
        return false;
    if (version == 0 && len != PW_TRACE_TRACEPARENT_LEN)
        return false;
    if (len > PW_TRACE_TRACEPARENT_LEN && s[PW_TRACE_TRACEPARENT_LEN] != '-')
        return false;
    if (s[2] != '-' || s[35] != '-' || s[52] != '-')
        return false;
    memset(out, 0, sizeof *out);
    if (!unhex(out->trace_id, s + 3, 16) || !unhex(out->span_id, s + 36, 8) ||
        !unhex(&out->flags, s + 53, 1))
        return false;
    return !all_zero(out->trace_id, 16) && !all_zero(out->span_id, 8);
}

void trace_hex(char *out, const uint8_t *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void pw_trace_format_traceparent(const struct pw_trace_ctx *c,
                                 char out[PW_TRACE_TRACEPARENT_LEN + 1])
{
    memcpy(out, "00-", 3);
    trace_hex(out + 3, c->trace_id, 16);
    out[35] = '-';
    trace_hex(out + 36, c->span_id, 8);
    out[52] = '-';
    trace_hex(out + 53, &c->flags, 1);
}

void trace_random_id(uint8_t *out, size_t n)
{
    static atomic_ullong counter;
    if (RAND_bytes(out, (int)n) == 1 && !all_zero(out, n))
        return;
    unsigned long long v[2] = {(unsigned long long)pw_clock_wall_ms() ^
                                   (unsigned long long)pw_clock_us() << 20,
                               atomic_fetch_add(&counter, 1) + 1};
    memset(out, 0, n);
    memcpy(out, v, n < sizeof v ? n : sizeof v);
    if (all_zero(out, n))
        out[n - 1] = 1;
}
