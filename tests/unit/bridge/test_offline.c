/*
 * Tests for the offline model (bridge/offline.c), data-driven: every
 * fixtures/bridge/offline/NAME.json is one case,
 *
 *   {"comment": "...", "request": {an OpenAI chat request, context injected},
 *    "answer": "the exact text", "prompt_tokens": N, "completion_tokens": M}
 *
 * and each is checked three ways: the composed answer and its token counts;
 * the non-streamed body (a chat.completion with that text, finish_reason
 * "stop" and the usage); and the streamed body decoded by the provider row
 * itself (its decoders) and folded by the bridge's aggregation, which must
 * give the same text, finish_reason and usage, one content chunk per line.
 * Adding a case is adding a file.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fixture_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/bridge-int.h"
#include "bridge/offline.h"

static const struct bridge_provider *p = &bridge_provider_offline;

static void check_usage(json_t *usage, long long in, long long out)
{
    assert_int_equal(json_integer_value(json_object_get(usage, "prompt_tokens")), in);
    assert_int_equal(json_integer_value(json_object_get(usage, "completion_tokens")), out);
    assert_int_equal(json_integer_value(json_object_get(usage, "total_tokens")), in + out);
}

/* The streamed body through the row's decoder, folded into a completion. */
static json_t *decode_stream(const char *body, size_t len, size_t *ncontent)
{
    struct bridge_decode_ctx ctx = {"chatcmpl-test", "pennyworth-offline", 7, true};
    struct bridge_decoder *d = NULL;
    assert_int_equal(p->decoder_new(&ctx, true, &d, NULL), PW_OK);
    json_t *chunks = json_array();
    bool retryable = false;
    json_t *completion = NULL;
    assert_int_equal(p->decode(d, body, len, chunks, &retryable, NULL), PW_OK);
    assert_int_equal(p->finish(d, chunks, &completion, &retryable, NULL), PW_OK);
    p->decoder_free(d);
    assert_null(completion);
    struct bridge_agg *a = bridge_agg_new();
    size_t i;
    json_t *c;
    *ncontent = 0;
    json_array_foreach(chunks, i, c) {
        assert_int_equal(bridge_agg_add(a, c, NULL), PW_OK);
        json_t *delta = json_object_get(json_array_get(json_object_get(c, "choices"), 0),
                                        "delta");
        *ncontent += json_string_length(json_object_get(delta, "content")) > 0;
    }
    json_t *out = bridge_agg_result(a, "chatcmpl-test", "pennyworth-offline", 7);
    json_t *usage = bridge_agg_usage(a);
    if (usage)
        json_object_set(out, "usage", usage);
    bridge_agg_free(a);
    json_decref(chunks);
    return out;
}

static void run_case(void **state)
{
    const char *path = *state;
    json_t *c = fixture_json(path);
    json_t *req = json_object_get(c, "request");
    const char *want = json_string_value(json_object_get(c, "answer"));
    long long in = json_integer_value(json_object_get(c, "prompt_tokens"));
    long long out = json_integer_value(json_object_get(c, "completion_tokens"));
    assert_non_null(want);

    char *answer = bridge_offline_answer(req);
    assert_non_null(answer);
    if (strcmp(answer, want) != 0)
        fail_msg("%s: answer\n--- want\n%s\n--- got\n%s", path, want, answer);
    assert_true(strncmp(answer, BRIDGE_OFFLINE_LABEL, strlen(BRIDGE_OFFLINE_LABEL)) == 0);
    assert_int_equal(bridge_offline_prompt_tokens(req), in);
    assert_int_equal(bridge_offline_tokens(answer), out);
    free(answer);

    size_t len = 0;
    char *body = bridge_offline_body(req, "pennyworth-offline", false, &len);
    assert_non_null(body);
    json_t *doc = json_loadb(body, len, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "object")), "chat.completion");
    json_t *choice = json_array_get(json_object_get(doc, "choices"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(choice, "message"),
                                                          "content")), want);
    assert_string_equal(json_string_value(json_object_get(choice, "finish_reason")), "stop");
    check_usage(json_object_get(doc, "usage"), in, out);
    json_decref(doc);
    free(body);

    body = bridge_offline_body(req, "pennyworth-offline", true, &len);
    assert_non_null(body);
    assert_true(len > 14 && memcmp(body + len - 14, "data: [DONE]\n\n", 14) == 0);
    size_t ncontent = 0;
    doc = decode_stream(body, len, &ncontent);
    choice = json_array_get(json_object_get(doc, "choices"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(choice, "message"),
                                                          "content")), want);
    assert_string_equal(json_string_value(json_object_get(choice, "finish_reason")), "stop");
    check_usage(json_object_get(doc, "usage"), in, out);
    size_t lines = 1; /* it arrives in pieces: one content chunk per line */
    for (const char *q = want; (q = strchr(q, '\n')) && q[1]; q++)
        lines++;
    assert_int_equal(ncontent, lines);
    json_decref(doc);
    free(body);
    json_decref(c);
}

/* The row's requests never leave the process: prepare gives a local body. */
static void prepare_is_local(void **state)
{
    (void)state;
    struct bridge_target *t = NULL;
    assert_int_equal(p->target_new(NULL, "pennyworth-offline", NULL, NULL, "/model", &t, NULL),
                     PW_OK);
    json_t *req = json_pack("{s:s, s:[{s:s, s:s}]}", "model", "pennyworth-offline", "messages",
                            "role", "user", "content", "hi");
    struct bridge_http h;
    assert_int_equal(p->prepare(t, req, true, 0, &h, NULL), PW_OK);
    assert_true(h.local);
    assert_null(h.url);
    assert_non_null(strstr(h.body, BRIDGE_OFFLINE_LABEL));
    bridge_http_clear(&h);
    json_decref(req);
    p->target_free(t);
    assert_ptr_equal(bridge_provider_builtin("pennyworth-offline"), p);
    assert_null(bridge_provider_for_model("offline/x"));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest fixed[] = {cmocka_unit_test(prepare_is_local)};
    return fixture_run("bridge-offline", fixed, sizeof fixed / sizeof fixed[0], run_case,
                       ".json", argc, argv);
}
