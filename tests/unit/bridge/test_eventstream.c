/*
 * Data-driven tests for bridge/eventstream.c, plus explicit edge cases.
 *
 * argv[1] is fixtures/eventstream; every subdirectory is one recorded stream
 * made by @smithy/eventstream-codec (tests/tools/gen_eventstream.mjs):
 * stream.bin, expected.jsonl (the messages the decoder must deliver, in
 * order) and, for streams that must fail, `error` ("<code>: <text the error
 * message contains>"). Each stream is fed whole, in pseudo-random chunks
 * (several fixed seeds) and one byte at a time; every way must deliver the
 * same messages and end with the same error. Streams without an error are
 * also re-encoded with our encoder, which must reproduce stream.bin byte for
 * byte. Adding a case is adding a directory.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bridge/eventstream.h"
#include "fixture_dir.h"

/* ---- fixture helpers --------------------------------------------------- */

static const char *const type_names[] = {
    "boolean", "boolean", "byte", "short", "integer", "long", "binary", "string",
    "timestamp", "uuid",
};

/* A decoded message as the JSON shape of expected.jsonl (new reference). */
static json_t *message_json(const struct bridge_es_message *m)
{
    static const char hex[] = "0123456789abcdef";
    json_t *headers = json_array();
    for (size_t i = 0; i < m->n_headers; i++) {
        const struct bridge_es_header *h = &m->headers[i];
        json_t *v = NULL;
        char buf[2 * 65535 + 1];
        switch (h->type) {
        case BRIDGE_ES_TRUE:
        case BRIDGE_ES_FALSE:
            v = json_boolean(h->type == BRIDGE_ES_TRUE);
            break;
        case BRIDGE_ES_BYTE:
        case BRIDGE_ES_SHORT:
        case BRIDGE_ES_INT:
        case BRIDGE_ES_LONG:
        case BRIDGE_ES_TIMESTAMP:
            v = json_integer((json_int_t)h->num);
            break;
        case BRIDGE_ES_BYTES:
            for (size_t k = 0; k < h->len; k++) {
                buf[2 * k] = hex[h->bytes[k] >> 4];
                buf[2 * k + 1] = hex[h->bytes[k] & 15];
            }
            v = json_stringn(buf, 2 * h->len);
            break;
        case BRIDGE_ES_STRING:
            v = json_stringn((const char *)h->bytes, h->len);
            break;
        case BRIDGE_ES_UUID: {
            size_t o = 0;
            for (size_t k = 0; k < 16; k++) {
                if (k == 4 || k == 6 || k == 8 || k == 10)
                    buf[o++] = '-';
                buf[o++] = hex[h->bytes[k] >> 4];
                buf[o++] = hex[h->bytes[k] & 15];
            }
            v = json_stringn(buf, o);
            break;
        }
        }
        assert_non_null(v);
        assert_int_equal(strlen(h->name), h->name_len);
        json_array_append_new(headers, json_pack("{s:s, s:s, s:o}", "name", h->name, "type",
                                                 type_names[h->type], "value", v));
    }
    json_t *payload = json_stringn((const char *)m->payload, m->payload_len);
    assert_non_null(payload);
    return json_pack("{s:o, s:o}", "headers", headers, "payload", payload);
}

struct sink {
    json_t *messages; /* array */
    uint8_t *reencoded;
    size_t reencoded_len;
};

/* The decoder callback: record the message and re-encode it with our
 * encoder (the headers and payload go back in exactly as decoded). */
static enum pw_err collect(void *ud, const struct bridge_es_message *m, struct pw_error *err)
{
    struct sink *s = ud;
    json_array_append_new(s->messages, message_json(m));
    /* the picked-out well-known headers agree with the header list */
    for (size_t i = 0; i < m->n_headers; i++)
        if (strcmp(m->headers[i].name, ":message-type") == 0)
            assert_ptr_equal(m->message_type, m->headers[i].bytes);
    uint8_t *out;
    size_t len;
    assert_int_equal(bridge_es_encode(m->headers, m->n_headers, m->payload, m->payload_len,
                                      &out, &len, err),
                     PW_OK);
    s->reencoded = realloc(s->reencoded, s->reencoded_len + len);
    assert_non_null(s->reencoded);
    memcpy(s->reencoded + s->reencoded_len, out, len);
    s->reencoded_len += len;
    free(out);
    return PW_OK;
}

/* xorshift32: deterministic chunk sizes */
static uint32_t next_rand(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Feed `bin` with chunk sizes from `mode` (0 whole, 1 one byte, else a
 * seed), then finish. Returns the error code; fills `s` and `err`. */
static enum pw_err run(const unsigned char *bin, size_t len, uint32_t mode, struct sink *s,
                       struct pw_error *err)
{
    struct bridge_es_decoder *d = bridge_es_decoder_new(0, 0, collect, s);
    assert_non_null(d);
    enum pw_err rc = PW_OK;
    size_t off = 0;
    uint32_t seed = mode;
    while (off < len && rc == PW_OK) {
        size_t n = len - off;
        if (mode == 1)
            n = 1;
        else if (mode > 1) {
            uint32_t r = next_rand(&seed);
            size_t c = (r & 1) ? r % 16 + 1 : r % 700 + 1; /* mostly small */
            n = c < n ? c : n;
        }
        rc = bridge_es_decoder_feed(d, bin + off, n, err);
        off += n;
    }
    if (rc == PW_OK) {
        rc = bridge_es_decoder_finish(d, err);
        if (rc == PW_OK)
            assert_int_equal(bridge_es_decoder_pending(d), 0);
    } else {
        /* stopped: later input is refused */
        struct pw_error again;
        pw_error_clear(&again);
        assert_int_equal(bridge_es_decoder_feed(d, "x", 1, &again), PW_ERR_STATE);
    }
    bridge_es_decoder_free(d);
    return rc;
}

static void stream_case(void **state)
{
    const char *dir = *state;
    size_t len, jlen, elen = 0;
    unsigned char *bin = (unsigned char *)fixture_read(dir, "stream.bin", &len);
    unsigned char *jl = (unsigned char *)fixture_read(dir, "expected.jsonl", &jlen);
    unsigned char *want_err = (unsigned char *)fixture_read(dir, "error", &elen);
    assert_non_null(bin);
    assert_non_null(jl);

    json_t *want = json_array();
    for (char *cur = (char *)jl; *cur;) {
        char *nl = strchr(cur, '\n');
        size_t n = nl ? (size_t)(nl - cur) : strlen(cur);
        if (n > 0) {
            json_error_t jerr;
            json_t *m = json_loadb(cur, n, 0, &jerr);
            if (!m)
                fail_msg("%s/expected.jsonl: %s", dir, jerr.text);
            json_array_append_new(want, m);
        }
        cur += n + (nl ? 1 : 0);
    }
    char *err_code = NULL, *err_text = NULL;
    if (want_err) {
        while (elen > 0 && (want_err[elen - 1] == '\n' || want_err[elen - 1] == '\r'))
            want_err[--elen] = '\0';
        char *sep = strstr((char *)want_err, ": ");
        assert_non_null(sep);
        *sep = '\0';
        err_code = (char *)want_err;
        err_text = sep + 2;
    }

    static const uint32_t modes[] = {0, 1, 2, 0x9e3779b9u, 12345u, 777u, 31337u};
    char first_message[PW_ERROR_MESSAGE_MAX] = "";
    for (size_t k = 0; k < sizeof modes / sizeof modes[0]; k++) {
        struct sink s = {json_array(), NULL, 0};
        struct pw_error err;
        pw_error_clear(&err);
        enum pw_err rc = run(bin, len, modes[k], &s, &err);
        if (!json_equal(s.messages, want)) {
            char *got = json_dumps(s.messages, JSON_INDENT(1));
            print_error("%s (mode %u): messages differ; got\n%s\n", dir, (unsigned)modes[k], got);
            free(got);
            fail();
        }
        if (err_code) {
            if (rc == PW_OK)
                fail_msg("%s (mode %u): expected an error, got none", dir, (unsigned)modes[k]);
            assert_string_equal(pw_err_name(rc), err_code);
            assert_int_equal(err.code, rc);
            if (!strstr(err.message, err_text))
                fail_msg("%s: error \"%s\" does not contain \"%s\"", dir, err.message, err_text);
            if (k == 0)
                memcpy(first_message, err.message, sizeof first_message);
            else
                assert_string_equal(err.message, first_message);
        } else {
            if (rc != PW_OK)
                fail_msg("%s (mode %u): %s", dir, (unsigned)modes[k], err.message);
            /* our encoder reproduces the recording */
            assert_int_equal(s.reencoded_len, len);
            if (len)
                assert_memory_equal(s.reencoded, bin, len);
        }
        json_decref(s.messages);
        free(s.reencoded);
    }
    json_decref(want);
    free(bin);
    free(jl);
    free(want_err);
}

/* ---- explicit cases ---------------------------------------------------- */

static void crc32_check_value(void **state)
{
    assert_int_equal(bridge_es_crc32(0, "123456789", 9), 0xcbf43926u);
    assert_int_equal(bridge_es_crc32(0, "", 0), 0);
    /* continuing a CRC equals computing it in one go */
    assert_int_equal(bridge_es_crc32(bridge_es_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
}

static enum pw_err refuse(void *ud, const struct bridge_es_message *m, struct pw_error *err)
{
    int *calls = ud;
    (*calls)++;
    return pw_error_set(err, PW_ERR_CANCELLED, NULL, "handler says stop");
}

static void callback_stops_decoder(void **state)
{
    static const struct bridge_es_header h[] = {
        {.name = ":message-type", .type = BRIDGE_ES_STRING, .bytes = (const uint8_t *)"event",
         .len = 5},
    };
    uint8_t *m;
    size_t len;
    assert_int_equal(bridge_es_encode(h, 1, "{}", 2, &m, &len, NULL), PW_OK);
    uint8_t two[256];
    assert_true(2 * len <= sizeof two);
    memcpy(two, m, len);
    memcpy(two + len, m, len);
    int calls = 0;
    struct pw_error err;
    pw_error_clear(&err);
    struct bridge_es_decoder *d = bridge_es_decoder_new(0, 0, refuse, &calls);
    assert_int_equal(bridge_es_decoder_feed(d, two, 2 * len, &err), PW_ERR_CANCELLED);
    assert_int_equal(calls, 1);
    assert_string_equal(err.message, "handler says stop");
    assert_int_equal(bridge_es_decoder_finish(d, NULL), PW_ERR_STATE);
    bridge_es_decoder_free(d);
    free(m);
}

static enum pw_err count(void *ud, const struct bridge_es_message *m, struct pw_error *err)
{
    (*(int *)ud)++;
    return PW_OK;
}

static void limits(void **state)
{
    char payload[100] = {0};
    static const struct bridge_es_header h[] = {
        {.name = "k", .type = BRIDGE_ES_STRING, .bytes = (const uint8_t *)"0123456789",
         .len = 10},
    };
    uint8_t *m;
    size_t len;
    assert_int_equal(bridge_es_encode(h, 1, payload, sizeof payload, &m, &len, NULL), PW_OK);
    assert_int_equal(len, 16 + 15 + 100);
    int calls = 0;
    struct pw_error err;

    /* exactly at both limits: fine */
    struct bridge_es_decoder *d = bridge_es_decoder_new(len, 15, count, &calls);
    assert_int_equal(bridge_es_decoder_feed(d, m, len, NULL), PW_OK);
    assert_int_equal(calls, 1);
    bridge_es_decoder_free(d);

    /* one under the message limit: refused at the prelude, chunked too */
    pw_error_clear(&err);
    d = bridge_es_decoder_new(len - 1, 0, count, &calls);
    assert_int_equal(bridge_es_decoder_feed(d, m, 12, &err), PW_ERR_TOO_LARGE);
    assert_non_null(strstr(err.message, "over the limit"));
    bridge_es_decoder_free(d);

    /* one under the headers limit */
    pw_error_clear(&err);
    d = bridge_es_decoder_new(0, 14, count, &calls);
    assert_int_equal(bridge_es_decoder_feed(d, m, len, &err), PW_ERR_TOO_LARGE);
    assert_non_null(strstr(err.message, "headers of 15 bytes"));
    bridge_es_decoder_free(d);
    free(m);
}

static void encoder_rejects(void **state)
{
    char name[257];
    memset(name, 'n', 256);
    name[256] = '\0';
    uint8_t *m = (uint8_t *)"unchanged";
    size_t len = 1;
    struct bridge_es_header h = {.name = name, .type = BRIDGE_ES_TRUE};
    assert_int_equal(bridge_es_encode(&h, 1, NULL, 0, &m, &len, NULL), PW_ERR_INVALID);
    assert_null(m);
    assert_int_equal(len, 0);
    h.name = "";
    assert_int_equal(bridge_es_encode(&h, 1, NULL, 0, &m, &len, NULL), PW_ERR_INVALID);
    h = (struct bridge_es_header){.name = "u", .type = BRIDGE_ES_UUID,
                                  .bytes = (const uint8_t *)"short", .len = 5};
    assert_int_equal(bridge_es_encode(&h, 1, NULL, 0, &m, &len, NULL), PW_ERR_INVALID);
    h = (struct bridge_es_header){.name = "s", .type = BRIDGE_ES_STRING,
                                  .bytes = (const uint8_t *)"", .len = 65536};
    assert_int_equal(bridge_es_encode(&h, 1, NULL, 0, &m, &len, NULL), PW_ERR_INVALID);
    h = (struct bridge_es_header){.name = "t", .type = (enum bridge_es_type)10};
    assert_int_equal(bridge_es_encode(&h, 1, NULL, 0, &m, &len, NULL), PW_ERR_INVALID);
    /* the smallest message: no headers, no payload */
    assert_int_equal(bridge_es_encode(NULL, 0, NULL, 0, &m, &len, NULL), PW_OK);
    assert_int_equal(len, 16);
    int calls = 0;
    struct bridge_es_decoder *d = bridge_es_decoder_new(0, 0, count, &calls);
    assert_int_equal(bridge_es_decoder_feed(d, m, len, NULL), PW_OK);
    assert_int_equal(calls, 1);
    bridge_es_decoder_free(d);
    free(m);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Every single-byte corruption of a message, with and without CRCs fixed up
 * afterwards (so the header parser sees the garbage): the decoder delivers
 * or fails cleanly, never reads out of bounds (run under ASan). */
static void mutations_never_crash(void **state)
{
    static const uint8_t uuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    const struct bridge_es_header h[] = {
        {.name = ":event-type", .type = BRIDGE_ES_STRING,
         .bytes = (const uint8_t *)"contentBlockDelta", .len = 17},
        {.name = "b", .type = BRIDGE_ES_BYTES, .bytes = (const uint8_t *)"\x01\x02", .len = 2},
        {.name = "t", .type = BRIDGE_ES_TRUE},
        {.name = "l", .type = BRIDGE_ES_LONG, .num = -5},
        {.name = "u", .type = BRIDGE_ES_UUID, .bytes = uuid, .len = 16},
        {.name = "s", .type = BRIDGE_ES_SHORT, .num = 300},
    };
    uint8_t *m;
    size_t len;
    assert_int_equal(bridge_es_encode(h, 6, "{\"x\":1}", 7, &m, &len, NULL), PW_OK);
    uint8_t *w = malloc(len);
    assert_non_null(w);
    for (int fix = 0; fix < 2; fix++)
        for (size_t i = 0; i < len; i++)
            for (unsigned flip = 1; flip < 256; flip <<= 1) {
                memcpy(w, m, len);
                w[i] ^= (uint8_t)flip;
                if (fix) {
                    put_be32(w + 8, bridge_es_crc32(0, w, 8));
                    put_be32(w + len - 4, bridge_es_crc32(0, w, len - 4));
                }
                int calls = 0;
                struct pw_error err;
                pw_error_clear(&err);
                struct bridge_es_decoder *d = bridge_es_decoder_new(0, 0, count, &calls);
                enum pw_err rc = PW_OK;
                for (size_t off = 0; off < len && rc == PW_OK; off += 7)
                    rc = bridge_es_decoder_feed(d, w + off, len - off < 7 ? len - off : 7,
                                                &err);
                if (rc == PW_OK)
                    rc = bridge_es_decoder_finish(d, &err);
                assert_true(rc == PW_OK || rc == PW_ERR_PARSE || rc == PW_ERR_TOO_LARGE);
                assert_true(rc != PW_OK || calls >= 1 || fix);
                assert_true(rc == PW_OK || err.message[0]);
                bridge_es_decoder_free(d);
            }
    free(w);
    free(m);
}

/* ---- driver ------------------------------------------------------------ */

int main(int argc, char **argv)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(crc32_check_value),
        cmocka_unit_test(callback_stops_decoder),
        cmocka_unit_test(limits),
        cmocka_unit_test(encoder_rejects),
        cmocka_unit_test(mutations_never_crash),
    };
    return fixture_run("eventstream", fixed, sizeof fixed / sizeof fixed[0], stream_case, NULL,
                       argc, argv);
}
