/*
 * Data-driven tests for the ConverseStream translator (decoded events ->
 * OpenAI chat.completion.chunk objects). Every
 * fixtures/converse/stream/NAME.json is one case:
 *
 *   {"comment": "...", "include_usage": true|false,
 *    "events": [{"type": "<:event-type>", "payload": {...}}, ...],
 *    "chunks": [every chunk, in order],
 *    "done": true|false,              bridge_converse_stream_done at the end
 *    "usage": {...} | null,           bridge_converse_stream_usage at the end
 *    "error": {"code": "...", "message": "..."}   optional: the event that
 *                                     must fail is the last one; "chunks"
 *                                     are those appended before it}
 *
 * Chunks carry id "chatcmpl-test", model "test-model", created 1700000000.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fixture_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/converse.h"

static void stream_case(void **state)
{
    const char *path = *state;
    json_t *c = fixture_json(path);
    json_t *events = json_object_get(c, "events");
    json_t *want_err = json_object_get(c, "error");
    bool inc = json_is_true(json_object_get(c, "include_usage"));
    assert_true(json_is_array(events));
    struct bridge_converse_stream *st = NULL;
    assert_int_equal(bridge_converse_stream_new("chatcmpl-test", "test-model", 1700000000, &st,
                                                NULL), PW_OK);
    json_t *chunks = json_array();
    size_t i;
    json_t *e;
    enum pw_err rc = PW_OK;
    struct pw_error err;
    pw_error_clear(&err);
    json_array_foreach(events, i, e) {
        rc = bridge_converse_stream_event(st, json_string_value(json_object_get(e, "type")),
                                          json_object_get(e, "payload"), inc, chunks, &err);
        if (rc != PW_OK)
            break;
    }
    if (want_err) {
        if (rc == PW_OK)
            fail_msg("%s: expected an error", path);
        assert_int_equal(i, json_array_size(events) - 1);
        assert_string_equal(pw_err_name(rc),
                            json_string_value(json_object_get(want_err, "code")));
        const char *text = json_string_value(json_object_get(want_err, "message"));
        if (text && !strstr(err.message, text))
            fail_msg("%s: error \"%s\" does not contain \"%s\"", path, err.message, text);
    } else if (rc != PW_OK) {
        fail_msg("%s: event %zu: %s", path, i, err.message);
    }
    if (!json_equal(json_object_get(c, "chunks"), chunks)) {
        char *w = json_dumps(json_object_get(c, "chunks"), JSON_INDENT(1) | JSON_SORT_KEYS);
        char *g = json_dumps(chunks, JSON_INDENT(1) | JSON_SORT_KEYS);
        print_error("%s: chunks differ\n--- want\n%s\n--- got\n%s\n", path, w, g);
        free(w);
        free(g);
        fail();
    }
    if (!want_err) {
        assert_int_equal(bridge_converse_stream_done(st),
                         json_is_true(json_object_get(c, "done")));
        json_t *usage = bridge_converse_stream_usage(st);
        json_t *want_usage = json_object_get(c, "usage");
        if (!want_usage || json_is_null(want_usage))
            assert_null(usage);
        else
            assert_true(json_equal(usage, want_usage));
        json_decref(usage);
    }
    json_decref(chunks);
    bridge_converse_stream_free(st);
    json_decref(c);
}

int main(int argc, char **argv)
{
    return fixture_run("converse-stream", NULL, 0, stream_case, ".json", argc, argv);
}
