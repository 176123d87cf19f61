/*
 * Fuzz target: what an OpenAI-compatible upstream answers, as the OpenAI
 * provider (bridge/openai.c) reads it: the input is the response body.
 *
 * Streamed, it goes through the SSE parser (bridge/stream.c) and the chunk
 * normalisation, twice: in one piece and in pieces of 1 to 7 bytes (so
 * CRLF and "data:" split across reads); the two must produce the same
 * chunks and outcome. The chunks are then folded as for a non-streaming
 * client (bridge/aggregate.c). The same bytes are also read as a
 * non-streamed body and as an HTTP error body.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include <stdlib.h>

#include "bridge/bridge-int.h"

static const struct bridge_provider *const p = &bridge_provider_openai;
static const struct bridge_decode_ctx ctx = {"chatcmpl-fuzz", "fuzz-model", 1700000000, true};

/* Streams the body in pieces of `step` bytes and more (0: whole); the
 * outcome, with the chunks in *chunks (new). */
static enum pw_err stream(const uint8_t *data, size_t size, size_t step, json_t **chunks)
{
    struct bridge_decoder *d = NULL;
    bool retryable;
    *chunks = json_array();
    if (p->decoder_new(&ctx, true, &d, NULL) != PW_OK)
        abort();
    enum pw_err rc = PW_OK;
    for (size_t off = 0, i = 0; off < size && rc == PW_OK; i++) {
        size_t n = step ? step + i % 7 : size;
        n = n < size - off ? n : size - off;
        rc = p->decode(d, (const char *)data + off, n, *chunks, &retryable, NULL);
        off += n;
    }
    json_t *completion = NULL;
    if (rc == PW_OK)
        rc = p->finish(d, *chunks, &completion, &retryable, NULL);
    if (completion)
        abort(); /* streamed: chunks only */
    p->decoder_free(d);
    return rc;
}

static void aggregate(json_t *chunks)
{
    struct bridge_agg *a = bridge_agg_new();
    size_t i;
    json_t *c;
    json_array_foreach(chunks, i, c) {
        bridge_chunk_is_content(c);
        if (bridge_agg_add(a, c, NULL) != PW_OK)
            break;
    }
    json_decref(bridge_agg_result(a, "chatcmpl-fuzz", "fuzz-model", 1700000000));
    bridge_agg_free(a);
}

static void whole_body(const uint8_t *data, size_t size)
{
    struct bridge_decoder *d = NULL;
    bool retryable;
    json_t *completion = NULL;
    if (p->decoder_new(&ctx, false, &d, NULL) != PW_OK)
        abort();
    if (p->decode(d, (const char *)data, size, NULL, &retryable, NULL) == PW_OK)
        p->finish(d, NULL, &completion, &retryable, NULL);
    json_decref(completion);
    p->decoder_free(d);
    p->error(429, NULL, NULL, (const char *)data, size, &retryable, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *whole, *pieces;
    enum pw_err a = stream(data, size, 0, &whole);
    enum pw_err b = stream(data, size, 1, &pieces);
    if (a != b || !json_equal(whole, pieces))
        abort();
    aggregate(whole);
    json_decref(whole);
    json_decref(pieces);
    whole_body(data, size);
    return 0;
}
