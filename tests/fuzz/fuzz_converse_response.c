/*
 * Fuzz target: what Bedrock answers, after the transport: a Converse
 * response body (bridge/converse_response.c), a sequence of ConverseStream
 * events as eventstream.c hands them over (bridge/converse_stream.c), and
 * an error body or exception event (bridge/converse_error.c).
 *
 * The input is one JSON object in the shape of the fixtures of
 * fixtures/converse/: "converse" is a response body; "events" an array of
 * {"type", "payload"} fed in order to one stream translator (with
 * "include_usage"); "type", "status" and "body" an exception. Whatever is
 * present is run; a malformed member is simply what the translator gets.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include <stdlib.h>

#include "bridge/converse.h"

static void response(json_t *body)
{
    json_t *out = NULL;
    if (bridge_converse_response(body, "chatcmpl-fuzz", "fuzz-model", 1700000000, &out,
                                 NULL) == PW_OK && !json_is_object(out))
        abort();
    json_decref(out);
}

static void stream(json_t *events, bool include_usage)
{
    struct bridge_converse_stream *st = NULL;
    if (bridge_converse_stream_new("chatcmpl-fuzz", "fuzz-model", 1700000000, &st, NULL) !=
        PW_OK)
        return;
    json_t *chunks = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e) {
        const char *type = json_string_value(json_object_get(e, "type"));
        if (bridge_converse_stream_event(st, type ? type : "", json_object_get(e, "payload"),
                                         include_usage, chunks, NULL) != PW_OK)
            break;
    }
    bridge_converse_stream_done(st);
    json_decref(bridge_converse_stream_usage(st));
    json_decref(chunks);
    bridge_converse_stream_free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return 0;
    }
    json_t *v;
    if ((v = json_object_get(doc, "converse")))
        response(v);
    if ((v = json_object_get(doc, "events")))
        stream(v, json_is_true(json_object_get(doc, "include_usage")));
    if (json_object_get(doc, "type") || json_object_get(doc, "status")) {
        bool retryable;
        bridge_converse_exception(json_string_value(json_object_get(doc, "type")),
                                  (int)json_integer_value(json_object_get(doc, "status")),
                                  json_object_get(doc, "body"), &retryable, NULL);
    }
    json_decref(doc);
    return 0;
}
