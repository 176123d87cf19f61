/*
 * Fuzz target: the AWS event-stream decoder (bridge/eventstream.c), which
 * reads Bedrock's ConverseStream bytes. The input is the stream.
 *
 * Each input is decoded twice, in one feed and one byte at a time, and the
 * two must agree on how many messages came out and on the outcome (the
 * decoder promises that the split does not matter). Every message's
 * headers and payload are read in full in the callback, so a borrowed
 * pointer that is off shows up under ASan.
 *
 * Mutated bytes rarely keep both CRCs right, which would stop nearly every
 * input at the checks; so the input is also decoded once more with the
 * CRCs of its frames recomputed (walking them by their length fields), to
 * reach the header parser with arbitrary headers.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "bridge/eventstream.h"

struct tally {
    size_t messages;
    unsigned sum; /* of every byte the messages expose */
};

static enum pw_err on_message(void *ud, const struct bridge_es_message *msg,
                              struct pw_error *err)
{
    struct tally *t = ud;
    t->messages++;
    for (size_t i = 0; i < msg->n_headers; i++) {
        const struct bridge_es_header *h = &msg->headers[i];
        t->sum += (unsigned)strlen(h->name) + (unsigned)h->num;
        for (size_t k = 0; h->bytes && k < h->len; k++)
            t->sum += h->bytes[k];
    }
    for (size_t k = 0; k < msg->payload_len; k++)
        t->sum += msg->payload[k];
    return PW_OK;
}

/* Decodes in pieces of `step` bytes (0: all at once); the outcome code. */
static enum pw_err decode(const uint8_t *data, size_t size, size_t step, struct tally *t)
{
    struct bridge_es_decoder *d = bridge_es_decoder_new(1u << 20, 4096, on_message, t);
    if (!d)
        abort();
    enum pw_err rc = PW_OK;
    for (size_t off = 0; off < size && rc == PW_OK;) {
        size_t n = step && size - off > step ? step : size - off;
        rc = bridge_es_decoder_feed(d, data + off, n, NULL);
        off += n;
    }
    if (rc == PW_OK)
        rc = bridge_es_decoder_finish(d, NULL);
    bridge_es_decoder_free(d);
    return rc;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Rewrites both CRCs of every whole frame in `buf`. */
static void fix_crcs(uint8_t *buf, size_t size)
{
    size_t off = 0;
    while (size - off >= BRIDGE_ES_MIN_MESSAGE) {
        uint8_t *m = buf + off;
        size_t total = (size_t)m[0] << 24 | (size_t)m[1] << 16 | (size_t)m[2] << 8 | m[3];
        put32(m + 8, bridge_es_crc32(0, m, 8));
        if (total < BRIDGE_ES_MIN_MESSAGE || total > size - off)
            return;
        put32(m + total - 4, bridge_es_crc32(0, m, total - 4));
        off += total;
    }
}

static void both_ways(const uint8_t *data, size_t size)
{
    struct tally whole = {0}, bytes = {0};
    enum pw_err a = decode(data, size, 0, &whole);
    enum pw_err b = decode(data, size, 1, &bytes);
    if (a != b || whole.messages != bytes.messages || whole.sum != bytes.sum)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    both_ways(data, size);
    uint8_t *fixed = malloc(size ? size : 1);
    if (!fixed)
        abort();
    memcpy(fixed, data, size);
    fix_crcs(fixed, size);
    both_ways(fixed, size);
    free(fixed);
    return 0;
}
