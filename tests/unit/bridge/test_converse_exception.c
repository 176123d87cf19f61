/*
 * Data-driven tests for bridge_converse_exception (a Bedrock failure, from
 * an HTTP error or an exception event, -> our error). Every
 * fixtures/converse/exception/NAME.json is one case:
 *
 *   {"comment": "...", "type": "<exception type>" | null, "status": 429,
 *    "body": {...} | null, "code": "<pw_err name>", "http": 429,
 *    "retryable": true|false, "message": "<the exact message>"}
 *
 * SPDX-License-Identifier: MIT
 */
#include "fixture_dir.h"

#include <stdio.h>
#include <string.h>

#include "bridge/converse.h"

static void exception_case(void **state)
{
    const char *path = *state;
    json_t *c = fixture_json(path);
    struct pw_error err;
    pw_error_clear(&err);
    bool retryable = !json_is_true(json_object_get(c, "retryable"));
    enum pw_err rc = bridge_converse_exception(json_string_value(json_object_get(c, "type")),
                                               (int)json_integer_value(json_object_get(c,
                                                                                       "status")),
                                               json_object_get(c, "body"), &retryable, &err);
    assert_int_equal(err.code, rc);
    assert_string_equal(pw_err_name(rc), json_string_value(json_object_get(c, "code")));
    assert_int_equal(pw_err_http_status(rc), json_integer_value(json_object_get(c, "http")));
    assert_int_equal(retryable, json_is_true(json_object_get(c, "retryable")));
    assert_string_equal(err.message, json_string_value(json_object_get(c, "message")));
    json_decref(c);
}

int main(int argc, char **argv)
{
    return fixture_run("converse-exception", NULL, 0, exception_case, ".json", argc, argv);
}
