/*
 * Tests for the Bedrock provider's response side (bridge/bedrock.c): the
 * decoders, streamed and not.
 *
 * Every fixtures/bedrock/decode/NAME.json is one case over a recording made
 * by @smithy/eventstream-codec (fixtures/eventstream/<recording>/stream.bin):
 *
 *   {"recording": "converse-stream", "include_usage": true,
 *    "chunks": [every chunk appended, in order],
 *    "decode_error": null | {"code", "retryable", "message"},
 *    "finish_error": null | {"code", "retryable", "message"}}
 *
 * where "message" is text the error message must contain.
 *
 * The recording is fed whole, one byte at a time and in 7-byte pieces;
 * every way must give the same chunks and the same error, so message
 * boundaries never change the outcome. Chunks carry id "chatcmpl-test",
 * model "test-model", created 1700000000.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fixture_dir.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/eventstream.h"
#include "bridge/provider.h"

static const struct bridge_provider *const p = &bridge_provider_bedrock;

static void check_error(const char *path, const char *what, json_t *want, enum pw_err rc,
                        const struct pw_error *err, bool retryable)
{
    if (!want || json_is_null(want)) {
        if (rc != PW_OK)
            fail_msg("%s: %s failed: %s", path, what, err->message);
        return;
    }
    if (rc == PW_OK)
        fail_msg("%s: %s was expected to fail", path, what);
    assert_string_equal(pw_err_name(rc), json_string_value(json_object_get(want, "code")));
    assert_int_equal(err->code, rc);
    assert_int_equal(retryable, json_is_true(json_object_get(want, "retryable")));
    const char *text = json_string_value(json_object_get(want, "message"));
    if (!strstr(err->message, text))
        fail_msg("%s: %s error \"%s\" does not contain \"%s\"", path, what, err->message,
                 text);
}

static void decode_case(void **state)
{
    const char *path = *state;
    json_t *c = fixture_json(path);
    char *copy = strdup(path);
    assert_non_null(copy);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/../../eventstream/%s", dirname(copy),
             json_string_value(json_object_get(c, "recording")));
    free(copy);
    size_t len;
    char *bin = fixture_read(dir, "stream.bin", &len);
    assert_non_null(bin);
    const struct bridge_decode_ctx ctx = {"chatcmpl-test", "test-model", 1700000000,
                                          json_is_true(json_object_get(c, "include_usage"))};
    static const size_t pieces[] = {0, 1, 7};
    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
        struct bridge_decoder *d;
        assert_int_equal(p->decoder_new(&ctx, true, &d, NULL), PW_OK);
        json_t *chunks = json_array();
        struct pw_error err;
        pw_error_clear(&err);
        bool retryable = false;
        enum pw_err rc = PW_OK;
        for (size_t off = 0; off < len && rc == PW_OK;) {
            size_t n = pieces[k] && pieces[k] < len - off ? pieces[k] : len - off;
            rc = p->decode(d, bin + off, n, chunks, &retryable, &err);
            off += n;
        }
        check_error(path, "decode", json_object_get(c, "decode_error"), rc, &err, retryable);
        if (rc == PW_OK) {
            json_t *completion = NULL;
            retryable = false;
            rc = p->finish(d, chunks, &completion, &retryable, &err);
            assert_null(completion);
            check_error(path, "finish", json_object_get(c, "finish_error"), rc, &err,
                        retryable);
        }
        if (!json_equal(chunks, json_object_get(c, "chunks"))) {
            char *g = json_dumps(chunks, JSON_INDENT(1) | JSON_SORT_KEYS);
            print_error("%s (pieces of %zu): chunks differ; got\n%s\n", path, pieces[k], g);
            free(g);
            fail();
        }
        json_decref(chunks);
        p->decoder_free(d);
    }
    free(bin);
    json_decref(c);
}

/* Not streamed: the body is buffered and translated at the end. */
static void buffered_completion(void **state)
{
    static const char body[] =
        "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"text\":\"Two\"},"
        "{\"toolUse\":{\"toolUseId\":\"t1\",\"name\":\"f\",\"input\":{\"a\":1}}}]}},"
        "\"stopReason\":\"tool_use\",\"usage\":{\"inputTokens\":5,\"outputTokens\":2,"
        "\"totalTokens\":7}}";
    const struct bridge_decode_ctx ctx = {"chatcmpl-1", "m", 1, false};
    struct bridge_decoder *d;
    assert_int_equal(p->decoder_new(&ctx, false, &d, NULL), PW_OK);
    bool retryable = false;
    size_t half = sizeof body / 2;
    assert_int_equal(p->decode(d, body, half, NULL, &retryable, NULL), PW_OK);
    assert_int_equal(p->decode(d, body + half, sizeof body - 1 - half, NULL, &retryable, NULL),
                     PW_OK);
    json_t *out = NULL;
    assert_int_equal(p->finish(d, NULL, &out, &retryable, NULL), PW_OK);
    json_t *choice = json_array_get(json_object_get(out, "choices"), 0);
    assert_string_equal(json_string_value(json_object_get(choice, "finish_reason")),
                        "tool_calls");
    json_t *msg = json_object_get(choice, "message");
    assert_string_equal(json_string_value(json_object_get(msg, "content")), "Two");
    json_t *call = json_array_get(json_object_get(msg, "tool_calls"), 0);
    assert_string_equal(json_string_value(json_object_get(call, "id")), "t1");
    assert_string_equal(json_string_value(json_object_get(out, "id")), "chatcmpl-1");
    json_decref(out);
    p->decoder_free(d);

    /* garbage is Bedrock's failure, worth another attempt */
    assert_int_equal(p->decoder_new(&ctx, false, &d, NULL), PW_OK);
    struct pw_error err;
    pw_error_clear(&err);
    assert_int_equal(p->decode(d, "<html>", 6, NULL, &retryable, NULL), PW_OK);
    retryable = false;
    assert_int_equal(p->finish(d, NULL, &out, &retryable, &err), PW_ERR_UPSTREAM);
    assert_true(retryable);
    assert_null(out);
    assert_non_null(strstr(err.message, "not JSON"));
    p->decoder_free(d);
}

/* Frames built with our encoder, for shapes the recordings lack. */
static void append_frame(char **buf, size_t *len, const char *mtype, const char *name_hdr,
                         const char *value, const char *payload)
{
    const struct bridge_es_header h[] = {
        {.name = name_hdr, .type = BRIDGE_ES_STRING, .bytes = (const uint8_t *)value,
         .len = strlen(value)},
        {.name = ":message-type", .type = BRIDGE_ES_STRING, .bytes = (const uint8_t *)mtype,
         .len = strlen(mtype)},
    };
    uint8_t *m;
    size_t n;
    assert_int_equal(bridge_es_encode(h, 2, payload, strlen(payload), &m, &n, NULL), PW_OK);
    *buf = realloc(*buf, *len + n);
    assert_non_null(*buf);
    memcpy(*buf + *len, m, n);
    *len += n;
    free(m);
}

static void framed_tool_call_and_odd_types(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    append_frame(&buf, &len, "event", ":event-type", "messageStart", "{\"role\":\"assistant\"}");
    append_frame(&buf, &len, "event", ":event-type", "contentBlockStart",
                 "{\"contentBlockIndex\":0,\"start\":{\"toolUse\":{\"toolUseId\":\"t9\","
                 "\"name\":\"list_stores\"}}}");
    append_frame(&buf, &len, "event", ":event-type", "contentBlockStop",
                 "{\"contentBlockIndex\":0}");
    append_frame(&buf, &len, "event", ":event-type", "messageStop",
                 "{\"stopReason\":\"tool_use\"}");
    const struct bridge_decode_ctx ctx = {"c", "m", 1, false};
    struct bridge_decoder *d;
    assert_int_equal(p->decoder_new(&ctx, true, &d, NULL), PW_OK);
    json_t *chunks = json_array(), *out = NULL;
    bool retryable = false;
    assert_int_equal(p->decode(d, buf, len, chunks, &retryable, NULL), PW_OK);
    assert_int_equal(p->finish(d, chunks, &out, &retryable, NULL), PW_OK);
    assert_int_equal(json_array_size(chunks), 4);
    json_t *args = json_object_get(json_object_get(json_array_get(json_object_get(
        json_object_get(json_array_get(json_object_get(json_array_get(chunks, 2), "choices"),
                                       0), "delta"), "tool_calls"), 0), "function"),
                                   "arguments");
    assert_string_equal(json_string_value(args), "{}");
    json_decref(chunks);
    p->decoder_free(d);

    /* an unknown message type and an event without a JSON payload */
    static const char *const odd[][4] = {
        {"surprise", ":event-type", "messageStart", "bedrock: event stream message of type "
                                                    "surprise"},
        {"event", ":event-type", "contentBlockDelta", "bedrock: contentBlockDelta event "
                                                      "without a JSON payload"},
    };
    for (size_t i = 0; i < 2; i++) {
        free(buf);
        buf = NULL;
        len = 0;
        append_frame(&buf, &len, odd[i][0], odd[i][1], odd[i][2], i ? "" : "{}");
        assert_int_equal(p->decoder_new(&ctx, true, &d, NULL), PW_OK);
        chunks = json_array();
        struct pw_error err;
        pw_error_clear(&err);
        assert_int_equal(p->decode(d, buf, len, chunks, &retryable, &err), PW_ERR_UPSTREAM);
        assert_string_equal(err.message, odd[i][3]);
        json_decref(chunks);
        p->decoder_free(d);
    }
    free(buf);
}

int main(int argc, char **argv)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(buffered_completion),
        cmocka_unit_test(framed_tool_call_and_odd_types),
    };
    return fixture_run("bedrock-decode", fixed, sizeof fixed / sizeof fixed[0], decode_case,
                       ".json", argc, argv);
}
