/*
 * Data-driven tests for chunk aggregation (bridge/aggregate.c): each
 * fixtures/bridge/aggregate/NAME.json folds its chunks in order and must
 * give exactly `want`. Also checks which chunks count as content (the
 * point where the bridge commits a streamed response).
 *
 * SPDX-License-Identifier: MIT
 */
#include "fixture_dir.h"

#include <stdio.h>
#include <stdlib.h>

#include "bridge/bridge-int.h"
#include "pennyworth/json.h"

static void run_case(void **state)
{
    json_t *doc = fixture_json(*state);
    struct bridge_agg *a = bridge_agg_new();
    assert_non_null(a);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "chunks"), i, c)
        assert_int_equal(bridge_agg_add(a, c, NULL), PW_OK);
    json_t *got = bridge_agg_result(a, "chatcmpl-test", "m", 1);
    json_t *want = json_object_get(doc, "want");
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, PW_JSON_WIRE | JSON_SORT_KEYS);
        char *w = json_dumps(want, PW_JSON_WIRE | JSON_SORT_KEYS);
        print_error("got  %s\nwant %s\n", g, w);
        free(g);
        free(w);
        fail();
    }
    json_decref(got);
    bridge_agg_free(a);
    json_decref(doc);
}

static void content_chunks(void **state)
{
    (void)state;
    static const struct {
        const char *chunk;
        bool content;
    } cases[] = {
        {"{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}",
         false},
        {"{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}", true},
        {"{\"choices\":[{\"index\":0,\"delta\":{\"refusal\":\"no\"}}]}", true},
        {"{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0}]}}]}", true},
        {"{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}", true},
        {"{\"choices\":[],\"usage\":{\"prompt_tokens\":1}}", false},
        {"{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[]}}]}", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *c = json_loads(cases[i].chunk, 0, NULL);
        assert_non_null(c);
        if (bridge_chunk_is_content(c) != cases[i].content)
            fail_msg("%s: expected %d", cases[i].chunk, cases[i].content);
        json_decref(c);
    }
}

static void has_content_and_usage(void **state)
{
    (void)state;
    struct bridge_agg *a = bridge_agg_new();
    json_t *c = json_loads("{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}",
                           0, NULL);
    bridge_agg_add(a, c, NULL);
    assert_false(bridge_agg_has_content(a));
    assert_null(bridge_agg_usage(a));
    json_decref(c);
    c = json_loads("{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}],"
                   "\"usage\":{\"prompt_tokens\":2}}", 0, NULL);
    bridge_agg_add(a, c, NULL);
    assert_true(bridge_agg_has_content(a));
    assert_int_equal(json_integer_value(json_object_get(bridge_agg_usage(a), "prompt_tokens")),
                     2);
    json_decref(c);
    bridge_agg_free(a);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest fixed[] = {
        cmocka_unit_test(content_chunks),
        cmocka_unit_test(has_content_and_usage),
    };
    return fixture_run("bridge-aggregate", fixed, sizeof fixed / sizeof fixed[0], run_case,
                       ".json", argc, argv);
}
