/*
 * Data-driven tests for bridge_converse_request (OpenAI request -> Converse
 * body). Every fixtures/converse/request/NAME.json is one case:
 *
 *   {"comment": "...", "openai": {request},
 *    "converse": {the exact body we must build}}
 * or
 *   {"comment": "...", "openai": {request},
 *    "error": {"code": "<pw_err name>", "pointer": "/json/pointer",
 *              "message": "<text the message contains>"}}
 *
 * Bodies are compared as JSON values (key order aside), so a case states
 * the whole translation, not a part of it. Adding a case is adding a file.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fixture_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/converse.h"

static void dump_diff(const char *path, json_t *want, json_t *got)
{
    char *w = json_dumps(want, JSON_INDENT(1) | JSON_SORT_KEYS);
    char *g = json_dumps(got, JSON_INDENT(1) | JSON_SORT_KEYS);
    print_error("%s differs\n--- want\n%s\n--- got\n%s\n", path, w ? w : "(null)",
                g ? g : "(null)");
    free(w);
    free(g);
}

static void request_case(void **state)
{
    const char *path = *state;
    json_t *c = fixture_json(path);
    json_t *want = json_object_get(c, "converse");
    json_t *want_err = json_object_get(c, "error");
    assert_true((want != NULL) != (want_err != NULL));
    struct pw_error err;
    pw_error_clear(&err);
    json_t *got = NULL;
    enum pw_err rc = bridge_converse_request(json_object_get(c, "openai"), &got, &err);
    if (want) {
        if (rc != PW_OK)
            fail_msg("%s: %s (at %s)", path, err.message, err.pointer);
        if (!json_equal(want, got)) {
            dump_diff(path, want, got);
            fail();
        }
    } else {
        if (rc == PW_OK)
            fail_msg("%s: expected an error, got a body", path);
        assert_null(got);
        assert_int_equal(err.code, rc);
        assert_string_equal(pw_err_name(rc),
                            json_string_value(json_object_get(want_err, "code")));
        assert_string_equal(err.pointer,
                            json_string_value(json_object_get(want_err, "pointer")));
        const char *text = json_string_value(json_object_get(want_err, "message"));
        if (text && !strstr(err.message, text))
            fail_msg("%s: error \"%s\" does not contain \"%s\"", path, err.message, text);
    }
    json_decref(got);
    json_decref(c);
}

/* The input is borrowed: translating must not change the client's request
 * (the exchange may send it to another deployment next). */
static void request_untouched(void **state)
{
    json_t *req = json_pack("{s:[{s:s, s:s}, {s:s, s:[{s:s, s:s}]}], s:s, s:i}",
                            "messages", "role", "system", "content", "be brief", "role", "user",
                            "content", "type", "text", "text", "hi", "stop", "x",
                            "max_tokens", 5);
    json_t *copy = json_deep_copy(req);
    json_t *out = NULL;
    assert_int_equal(bridge_converse_request(req, &out, NULL), PW_OK);
    assert_true(json_equal(req, copy));
    json_decref(out);
    json_decref(copy);
    json_decref(req);
}

int main(int argc, char **argv)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(request_untouched),
    };
    return fixture_run("converse-request", fixed, 1, request_case, ".json", argc, argv);
}
