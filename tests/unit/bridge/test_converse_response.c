/*
 * Data-driven tests for bridge_converse_response (Converse result -> OpenAI
 * chat.completion). Every fixtures/converse/response/NAME.json is one case:
 *
 *   {"comment": "...", "converse": {Converse response body},
 *    "openai": {the exact chat.completion}}
 * or {"converse": ..., "error": {"code": "<pw_err name>", "message": "..."}}
 *
 * The completion is made with id "chatcmpl-test", model "test-model" and
 * created 1700000000, which the expectations repeat.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fixture_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/converse.h"

static void response_case(void **state)
{
    const char *path = *state;
    json_t *c = fixture_json(path);
    json_t *want = json_object_get(c, "openai");
    json_t *want_err = json_object_get(c, "error");
    assert_true((want != NULL) != (want_err != NULL));
    struct pw_error err;
    pw_error_clear(&err);
    json_t *got = NULL;
    enum pw_err rc = bridge_converse_response(json_object_get(c, "converse"), "chatcmpl-test",
                                              "test-model", 1700000000, &got, &err);
    if (want) {
        if (rc != PW_OK)
            fail_msg("%s: %s", path, err.message);
        if (!json_equal(want, got)) {
            char *w = json_dumps(want, JSON_INDENT(1) | JSON_SORT_KEYS);
            char *g = json_dumps(got, JSON_INDENT(1) | JSON_SORT_KEYS);
            print_error("%s differs\n--- want\n%s\n--- got\n%s\n", path, w, g);
            free(w);
            free(g);
            fail();
        }
    } else {
        if (rc == PW_OK)
            fail_msg("%s: expected an error", path);
        assert_null(got);
        assert_string_equal(pw_err_name(rc),
                            json_string_value(json_object_get(want_err, "code")));
        const char *text = json_string_value(json_object_get(want_err, "message"));
        if (text && !strstr(err.message, text))
            fail_msg("%s: error \"%s\" does not contain \"%s\"", path, err.message, text);
    }
    json_decref(got);
    json_decref(c);
}

/* The finish_reason table, including a reason newer than it. */
static void finish_reasons(void **state)
{
    static const char *const rows[][2] = {
        {"end_turn", "stop"},
        {"stop_sequence", "stop"},
        {"tool_use", "tool_calls"},
        {"max_tokens", "length"},
        {"guardrail_intervened", "content_filter"},
        {"content_filtered", "content_filter"},
        {"some_future_reason", "stop"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        assert_string_equal(bridge_converse_finish_reason(rows[i][0]), rows[i][1]);
    assert_string_equal(bridge_converse_finish_reason(NULL), "stop");
}

int main(int argc, char **argv)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(finish_reasons),
    };
    return fixture_run("converse-response", fixed, 1, response_case, ".json", argc, argv);
}
