/*
 * AWS event stream framing: incremental decoder, encoder, CRC-32.
 *
 * Wire format of one message (all integers big-endian):
 *
 *   +------------------+-------------------+------------------+
 *   | total length u32 | headers length u32| prelude CRC u32  |  prelude, 12 bytes
 *   +------------------+-------------------+------------------+
 *   | headers (headers length bytes)                          |
 *   | payload (total - headers length - 16 bytes)             |
 *   +---------------------------------------------------------+
 *   | message CRC u32 (over every byte before it)             |
 *   +---------------------------------------------------------+
 *
 * A header is: name length u8 (1..255), name, type u8, value; values are
 * 0 true / 1 false (no bytes), 2 int8, 3 int16, 4 int32, 5 int64, 6 bytes
 * (u16 length + data), 7 string (u16 length + UTF-8), 8 timestamp (int64 ms),
 * 9 uuid (16 bytes). The prelude CRC covers the first 8 bytes; both CRCs are
 * the IEEE/zlib CRC-32, implemented here with a 256-entry table.
 *
 * Decoder states (d->have counts bytes of the current message in d->buf):
 *
 *    PRELUDE --12 bytes, CRC and bounds ok (check_prelude)--> BODY
 *    BODY ----total bytes, message CRC ok (deliver)---------> PRELUDE
 *    any -----a check fails or the callback refuses---------> STOPPED
 *
 * When a whole message is already in the caller's chunk and nothing is
 * buffered, it is decoded in place without copying (the common case with
 * large reads). Invariants: d->have < d->total once the prelude is in; a
 * message is delivered only after both CRCs match; a length is checked
 * against the bounds before anything is allocated for it; header parsing
 * never reads outside the headers section.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/eventstream.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A message buffer above this size is released once its message is out. */
#define KEEP_BUFFER (64u << 10)

static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
    0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
    0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
    0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
    0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
    0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
    0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
    0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
    0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
    0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
    0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
    0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
    0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
    0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
    0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
    0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
    0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
    0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
    0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
    0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
    0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
    0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
    0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
    0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
    0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
    0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
    0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
    0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
    0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
    0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
    0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
    0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
    0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
    0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
    0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
    0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
    0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

uint32_t bridge_es_crc32(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- decoder ----------------------------------------------------------- */

struct bridge_es_decoder {
    bridge_es_message_fn fn;
    void *ud;
    size_t max_message, max_headers;
    uint8_t *buf; /* the message being assembled */
    size_t cap;
    size_t have;  /* bytes of it in buf */
    size_t total; /* its length, once the prelude is in (else 0) */
    char *scratch; /* NUL-terminated copies of names and string values */
    size_t scratch_cap;
    struct bridge_es_header *hdrs;
    size_t hdrs_cap;
    bool stopped;
};

struct bridge_es_decoder *bridge_es_decoder_new(size_t max_message, size_t max_headers,
                                                bridge_es_message_fn fn, void *ud)
{
    struct bridge_es_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->fn = fn;
    d->ud = ud;
    d->max_message = max_message ? max_message : BRIDGE_ES_DEFAULT_MAX_MESSAGE;
    d->max_headers = max_headers ? max_headers : BRIDGE_ES_DEFAULT_MAX_HEADERS;
    if (d->max_message > UINT32_MAX)
        d->max_message = UINT32_MAX;
    if (d->max_message < BRIDGE_ES_MIN_MESSAGE)
        d->max_message = BRIDGE_ES_MIN_MESSAGE;
    return d;
}

void bridge_es_decoder_free(struct bridge_es_decoder *d)
{
    if (!d)
        return;
    free(d->buf);
    free(d->scratch);
    free(d->hdrs);
    free(d);
}

size_t bridge_es_decoder_pending(const struct bridge_es_decoder *d)
{
    return d->have;
}

static enum pw_err stop(struct bridge_es_decoder *d, enum pw_err rc)
{
    d->stopped = true;
    return rc;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (*cap >= need)
        return true;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

/* Validate a 12-byte prelude; on success *total is the message length. */
static enum pw_err check_prelude(const struct bridge_es_decoder *d, const uint8_t *p,
                                 size_t *total, struct pw_error *err)
{
    uint32_t tl = be32(p), hl = be32(p + 4), want = be32(p + 8);
    uint32_t got = bridge_es_crc32(0, p, 8);
    if (got != want)
        return pw_error_set(err, PW_ERR_PARSE, NULL,
                            "eventstream: prelude CRC mismatch (carried %08x, computed %08x)",
                            (unsigned)want, (unsigned)got);
    if (tl < BRIDGE_ES_MIN_MESSAGE)
        return pw_error_set(err, PW_ERR_PARSE, NULL,
                            "eventstream: lengths inconsistent: total length %u is below %u",
                            (unsigned)tl, BRIDGE_ES_MIN_MESSAGE);
    if (hl > tl - BRIDGE_ES_MIN_MESSAGE)
        return pw_error_set(err, PW_ERR_PARSE, NULL,
                            "eventstream: lengths inconsistent: headers length %u does not "
                            "fit total length %u",
                            (unsigned)hl, (unsigned)tl);
    if (tl > d->max_message)
        return pw_error_set(err, PW_ERR_TOO_LARGE, NULL,
                            "eventstream: message of %u bytes is over the limit of %zu",
                            (unsigned)tl, d->max_message);
    if (hl > d->max_headers)
        return pw_error_set(err, PW_ERR_TOO_LARGE, NULL,
                            "eventstream: headers of %u bytes are over the limit of %zu",
                            (unsigned)hl, d->max_headers);
    *total = tl;
    return PW_OK;
}

/* The fixed size of a value of `type`, or -1 for length-prefixed or unknown. */
static int fixed_size(unsigned type)
{
    static const signed char sizes[] = {0, 0, 1, 2, 4, 8, -1, -1, 8, 16};
    return type < sizeof sizes ? sizes[type] : -1;
}

static const char *pick(const struct bridge_es_message *m, const char *name)
{
    for (size_t i = 0; i < m->n_headers; i++)
        if (m->headers[i].type == BRIDGE_ES_STRING && strcmp(m->headers[i].name, name) == 0)
            return (const char *)m->headers[i].bytes;
    return NULL;
}

/* Parse the headers section `h` (`hl` bytes) into d->hdrs / d->scratch. */
static enum pw_err parse_headers(struct bridge_es_decoder *d, const uint8_t *h, size_t hl,
                                 size_t *count, struct pw_error *err)
{
    /* Each copy (name+NUL, value+NUL) is no longer than the wire bytes it
     * came from (length prefix included), so hl+1 bytes of scratch suffice;
     * each header takes at least 3 wire bytes. */
    if (!grow((void **)&d->scratch, &d->scratch_cap, hl + 1, 1) ||
        !grow((void **)&d->hdrs, &d->hdrs_cap, hl / 3 + 1, sizeof *d->hdrs))
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "eventstream: out of memory");
    size_t i = 0, s = 0, n = 0;
    while (i < hl) {
        struct bridge_es_header *x = &d->hdrs[n];
        size_t nl = h[i++];
        if (nl == 0)
            return pw_error_set(err, PW_ERR_PARSE, NULL,
                                "eventstream: header %zu has an empty name", n);
        if (hl - i < nl + 1)
            return pw_error_set(err, PW_ERR_PARSE, NULL,
                                "eventstream: header %zu overruns the headers section", n);
        memcpy(d->scratch + s, h + i, nl);
        d->scratch[s + nl] = '\0';
        *x = (struct bridge_es_header){.name = d->scratch + s, .name_len = nl};
        s += nl + 1;
        i += nl;
        unsigned type = h[i++];
        int fs = fixed_size(type);
        size_t vl;
        if (type == BRIDGE_ES_BYTES || type == BRIDGE_ES_STRING) {
            if (hl - i < 2)
                return pw_error_set(err, PW_ERR_PARSE, NULL,
                                    "eventstream: header %zu overruns the headers section",
                                    n);
            vl = (size_t)h[i] << 8 | h[i + 1];
            i += 2;
        } else if (fs >= 0) {
            vl = (size_t)fs;
        } else {
            return pw_error_set(err, PW_ERR_PARSE, NULL,
                                "eventstream: header %zu has unknown value type %u", n,
                                type);
        }
        if (hl - i < vl)
            return pw_error_set(err, PW_ERR_PARSE, NULL,
                                "eventstream: header %zu overruns the headers section", n);
        const uint8_t *v = h + i;
        x->type = (enum bridge_es_type)type;
        switch (x->type) {
        case BRIDGE_ES_TRUE:
        case BRIDGE_ES_FALSE:
            break;
        case BRIDGE_ES_BYTE:
            x->num = (int8_t)v[0];
            break;
        case BRIDGE_ES_SHORT:
            x->num = (int16_t)(uint16_t)((unsigned)v[0] << 8 | v[1]);
            break;
        case BRIDGE_ES_INT:
            x->num = (int32_t)be32(v);
            break;
        case BRIDGE_ES_LONG:
        case BRIDGE_ES_TIMESTAMP:
            x->num = (int64_t)be64(v);
            break;
        case BRIDGE_ES_BYTES:
        case BRIDGE_ES_STRING:
            memcpy(d->scratch + s, v, vl);
            d->scratch[s + vl] = '\0';
            x->bytes = (const uint8_t *)d->scratch + s;
            x->len = vl;
            s += vl + 1;
            break;
        case BRIDGE_ES_UUID:
            x->bytes = v;
            x->len = 16;
            break;
        }
        i += vl;
        n++;
    }
    *count = n;
    return PW_OK;
}

/* Check the message CRC of the complete message `m` and hand it over. */
static enum pw_err deliver(struct bridge_es_decoder *d, const uint8_t *m, size_t total,
                           struct pw_error *err)
{
    uint32_t want = be32(m + total - 4), got = bridge_es_crc32(0, m, total - 4);
    if (got != want)
        return pw_error_set(err, PW_ERR_PARSE, NULL,
                            "eventstream: message CRC mismatch (carried %08x, computed %08x)",
                            (unsigned)want, (unsigned)got);
    size_t hl = be32(m + 4), n = 0;
    enum pw_err rc = parse_headers(d, m + BRIDGE_ES_PRELUDE_LEN, hl, &n, err);
    if (rc != PW_OK)
        return rc;
    struct bridge_es_message msg = {
        .headers = d->hdrs,
        .n_headers = n,
        .payload = m + BRIDGE_ES_PRELUDE_LEN + hl,
        .payload_len = total - BRIDGE_ES_MIN_MESSAGE - hl,
    };
    msg.message_type = pick(&msg, ":message-type");
    msg.event_type = pick(&msg, ":event-type");
    msg.exception_type = pick(&msg, ":exception-type");
    msg.error_code = pick(&msg, ":error-code");
    msg.error_message = pick(&msg, ":error-message");
    msg.content_type = pick(&msg, ":content-type");
    rc = d->fn ? d->fn(d->ud, &msg, err) : PW_OK;
    if (rc != PW_OK)
        pw_error_set(err, rc, NULL, "eventstream: message handler failed");
    return rc;
}

enum pw_err bridge_es_decoder_feed(struct bridge_es_decoder *d, const void *data, size_t len,
                                   struct pw_error *err)
{
    const uint8_t *p = data;
    enum pw_err rc;
    if (d->stopped)
        return pw_error_set(err, PW_ERR_STATE, NULL,
                            "eventstream: decoder stopped after an earlier error");
    while (len > 0) {
        size_t total;
        /* Fast path: a whole message in the caller's chunk, nothing buffered. */
        if (d->have == 0 && len >= BRIDGE_ES_PRELUDE_LEN) {
            if ((rc = check_prelude(d, p, &total, err)) != PW_OK)
                return stop(d, rc);
            if (len >= total) {
                if ((rc = deliver(d, p, total, err)) != PW_OK)
                    return stop(d, rc);
                p += total;
                len -= total;
                continue;
            }
            d->total = total; /* BODY, with the prelude already checked */
        }
        size_t want = d->total ? d->total : BRIDGE_ES_PRELUDE_LEN;
        if (!grow((void **)&d->buf, &d->cap, want, 1))
            return stop(d, pw_error_set(err, PW_ERR_NOMEM, NULL, "eventstream: out of memory"));
        size_t n = want - d->have < len ? want - d->have : len;
        memcpy(d->buf + d->have, p, n);
        d->have += n;
        p += n;
        len -= n;
        if (d->have < want)
            break;
        if (!d->total) {
            if ((rc = check_prelude(d, d->buf, &d->total, err)) != PW_OK)
                return stop(d, rc);
            continue; /* BODY: total >= 16 > 12, so more bytes are needed */
        }
        total = d->total;
        d->have = 0;
        d->total = 0;
        if ((rc = deliver(d, d->buf, total, err)) != PW_OK)
            return stop(d, rc);
        if (d->cap > KEEP_BUFFER) { /* do not pin a rare large message's buffer */
            free(d->buf);
            d->buf = NULL;
            d->cap = 0;
        }
    }
    return PW_OK;
}

enum pw_err bridge_es_decoder_finish(struct bridge_es_decoder *d, struct pw_error *err)
{
    if (d->stopped)
        return pw_error_set(err, PW_ERR_STATE, NULL,
                            "eventstream: decoder stopped after an earlier error");
    if (d->have == 0)
        return PW_OK;
    size_t want = d->total ? d->total : BRIDGE_ES_PRELUDE_LEN;
    return stop(d, pw_error_set(err, PW_ERR_PARSE, NULL,
                                "eventstream: incomplete message at end of stream "
                                "(%zu of %zu %s bytes)",
                                d->have, want, d->total ? "message" : "prelude"));
}

/* ---- encoder ----------------------------------------------------------- */

/* Wire size of one header's value (without name and type), or 0 if invalid
 * (every valid value of a length-prefixed type takes at least 2 bytes, and
 * the two boolean types are handled by the caller). */
static size_t value_size(const struct bridge_es_header *h)
{
    switch (h->type) {
    case BRIDGE_ES_BYTES:
    case BRIDGE_ES_STRING:
        return h->len <= 0xffff && (h->bytes || h->len == 0) ? 2 + h->len : 0;
    case BRIDGE_ES_UUID:
        return h->len == 16 && h->bytes ? 16 : 0;
    default:
        return fixed_size(h->type) > 0 ? (size_t)fixed_size(h->type) : 0;
    }
}

enum pw_err bridge_es_encode(const struct bridge_es_header *headers, size_t n_headers,
                             const void *payload, size_t payload_len, uint8_t **out,
                             size_t *out_len, struct pw_error *err)
{
    *out = NULL;
    *out_len = 0;
    size_t hl = 0;
    for (size_t i = 0; i < n_headers; i++) {
        const struct bridge_es_header *h = &headers[i];
        size_t nl = h->name ? (h->name_len ? h->name_len : strlen(h->name)) : 0;
        if (nl == 0 || nl > 255)
            return pw_error_set(err, PW_ERR_INVALID, NULL,
                                "eventstream: header %zu: name must be 1..255 bytes", i);
        bool boolean = h->type == BRIDGE_ES_TRUE || h->type == BRIDGE_ES_FALSE;
        size_t vs = boolean ? 0 : value_size(h);
        if (!boolean && vs == 0)
            return pw_error_set(err, PW_ERR_INVALID, NULL,
                                "eventstream: header %zu: bad type or value", i);
        hl += 2 + nl + vs;
    }
    if (hl > UINT32_MAX - BRIDGE_ES_MIN_MESSAGE ||
        payload_len > UINT32_MAX - BRIDGE_ES_MIN_MESSAGE - hl)
        return pw_error_set(err, PW_ERR_TOO_LARGE, NULL,
                            "eventstream: message over 4 GiB");
    size_t total = BRIDGE_ES_MIN_MESSAGE + hl + payload_len;
    uint8_t *m = malloc(total);
    if (!m)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "eventstream: out of memory");
    put32(m, (uint32_t)total);
    put32(m + 4, (uint32_t)hl);
    put32(m + 8, bridge_es_crc32(0, m, 8));
    uint8_t *w = m + BRIDGE_ES_PRELUDE_LEN;
    for (size_t i = 0; i < n_headers; i++) {
        const struct bridge_es_header *h = &headers[i];
        size_t nl = h->name_len ? h->name_len : strlen(h->name);
        *w++ = (uint8_t)nl;
        memcpy(w, h->name, nl);
        w += nl;
        *w++ = (uint8_t)h->type;
        uint64_t v = (uint64_t)h->num;
        switch (h->type) {
        case BRIDGE_ES_TRUE:
        case BRIDGE_ES_FALSE:
            break;
        case BRIDGE_ES_BYTE:
            *w++ = (uint8_t)v;
            break;
        case BRIDGE_ES_SHORT:
            *w++ = (uint8_t)(v >> 8);
            *w++ = (uint8_t)v;
            break;
        case BRIDGE_ES_INT:
            put32(w, (uint32_t)v);
            w += 4;
            break;
        case BRIDGE_ES_LONG:
        case BRIDGE_ES_TIMESTAMP:
            put32(w, (uint32_t)(v >> 32));
            put32(w + 4, (uint32_t)v);
            w += 8;
            break;
        case BRIDGE_ES_BYTES:
        case BRIDGE_ES_STRING:
            *w++ = (uint8_t)(h->len >> 8);
            *w++ = (uint8_t)h->len;
            if (h->len)
                memcpy(w, h->bytes, h->len);
            w += h->len;
            break;
        case BRIDGE_ES_UUID:
            memcpy(w, h->bytes, 16);
            w += 16;
            break;
        }
    }
    if (payload_len)
        memcpy(w, payload, payload_len);
    w += payload_len;
    put32(w, bridge_es_crc32(0, m, total - 4));
    *out = m;
    *out_len = total;
    return PW_OK;
}
