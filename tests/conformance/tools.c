/*
 * The conformance suite's fixture tools, one table row each. Their names,
 * arguments and results are the ones the suite's server scenarios call and
 * check (tools-call-*, elicitation-sep1034-defaults, elicitation-sep1330-
 * enums, json-schema-2020-12, server-sse-polling).
 *
 * Where a tool runs:
 *   - content tools answer at once on the loop thread;
 *   - tools that pause between steps (logging, progress, reconnection) run
 *     on the engine's workers, which may block, and report through the
 *     any-thread call API (pw_mcp_call_log / _progress / _finish);
 *   - tools that ask the client something (sampling, elicitation) run on
 *     the loop thread, because server-to-client requests are made there,
 *     and finish in the reply callback.
 *
 * test_reconnection sleeps longer than the server's SSE polling interval
 * (server.c), so the transport closes its stream mid-call with a retry hint
 * and the client has to resume with Last-Event-ID (SEP-1699). The tool
 * itself knows nothing about streams: polling is the transport's.
 *
 * SPDX-License-Identifier: MIT
 */
#include "tests/conformance/conformance.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STEP_MS 50            /* the pause the logging and progress scenarios ask for */
#define RECONNECT_MS 3000     /* test_reconnection's run time: 1.5 x server.c's POLL_MS */

static const char no_args[] = "{\"type\":\"object\",\"properties\":{}}";

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void finish_content(struct pw_mcp_call *call, json_t *content_new)
{
    pw_mcp_call_finish(call, json_pack("{s:o}", "content", content_new));
}

/* Content tools ----------------------------------------------------------------- */

static void simple_text(struct pw_mcp_call *call, json_t *params, void *ud)
{
    finish_content(call,
                   json_pack("[o]", conf_text("This is a simple text response for testing.")));
}

static void image_content(struct pw_mcp_call *call, json_t *params, void *ud)
{
    finish_content(call, json_pack("[o]", conf_image()));
}

static unsigned char *put_le(unsigned char *p, unsigned v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

static unsigned char *put_tag(unsigned char *p, const char *tag)
{
    memcpy(p, tag, 4);
    return p + 4;
}

/* A short WAV file (8 kHz, 8-bit mono PCM, a few samples of silence), built
 * from its RIFF header rather than kept as an opaque blob. */
static void audio_content(struct pw_mcp_call *call, json_t *params, void *ud)
{
    enum { SAMPLES = 16, RATE = 8000 };
    unsigned char wav[44 + SAMPLES];
    unsigned char *p = put_tag(wav, "RIFF");
    p = put_le(p, 36 + SAMPLES, 4);
    p = put_tag(p, "WAVE");
    p = put_tag(p, "fmt ");
    p = put_le(p, 16, 4);   /* fmt chunk size */
    p = put_le(p, 1, 2);    /* PCM */
    p = put_le(p, 1, 2);    /* one channel */
    p = put_le(p, RATE, 4); /* sample rate */
    p = put_le(p, RATE, 4); /* byte rate */
    p = put_le(p, 1, 2);    /* block align */
    p = put_le(p, 8, 2);    /* bits per sample */
    p = put_tag(p, "data");
    p = put_le(p, SAMPLES, 4);
    memset(p, 0x80, SAMPLES); /* 8-bit PCM silence */
    char b64[4 * ((sizeof wav + 2) / 3) + 1];
    EVP_EncodeBlock((unsigned char *)b64, wav, (int)sizeof wav);
    finish_content(call, json_pack("[{s:s, s:s, s:s}]", "type", "audio", "data", b64, "mimeType",
                                   "audio/wav"));
}

static void embedded_resource(struct pw_mcp_call *call, json_t *params, void *ud)
{
    finish_content(call, json_pack("[o]", conf_embedded_text("test://embedded-resource",
                                                             "text/plain",
                                                             "This is an embedded resource "
                                                             "content.")));
}

static void multiple_content(struct pw_mcp_call *call, json_t *params, void *ud)
{
    finish_content(call, json_pack("[o, o, o]", conf_text("Multiple content types test:"),
                                   conf_image(),
                                   conf_embedded_text("test://mixed-content-resource",
                                                      "application/json",
                                                      "{\"test\":\"data\",\"value\":123}")));
}

static void error_handling(struct pw_mcp_call *call, json_t *params, void *ud)
{
    pw_mcp_call_finish(call,
                       pw_mcp_tool_error("This tool intentionally returns an error for testing"));
}

/* The 2020-12 keywords the json-schema-2020-12 scenario looks for in the
 * listing, composition and conditionals included (the validator compiles
 * and enforces them all). */
static const char schema_2020_12[] =
    "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
    "\"$defs\":{\"address\":{\"$anchor\":\"addressDef\",\"type\":\"object\","
    "\"properties\":{\"street\":{\"type\":\"string\"},\"city\":{\"type\":\"string\"}}}},"
    "\"properties\":{\"name\":{\"type\":\"string\"},\"address\":{\"$ref\":\"#/$defs/address\"},"
    "\"contactMethod\":{\"type\":\"string\",\"enum\":[\"phone\",\"email\"]},"
    "\"phone\":{\"type\":\"string\"},\"email\":{\"type\":\"string\"}},"
    "\"allOf\":[{\"anyOf\":[{\"required\":[\"phone\"]},{\"required\":[\"email\"]}]}],"
    "\"if\":{\"properties\":{\"contactMethod\":{\"const\":\"phone\"}},"
    "\"required\":[\"contactMethod\"]},"
    "\"then\":{\"required\":[\"phone\"]},\"else\":{\"required\":[\"email\"]},"
    "\"additionalProperties\":false}";

static void schema_tool(struct pw_mcp_call *call, json_t *params, void *ud)
{
    char *args = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
    char text[512];
    snprintf(text, sizeof text, "Arguments accepted: %s", args ? args : "{}");
    free(args);
    finish_content(call, json_pack("[o]", conf_text(text)));
}

/* Tools that take their time (workers) --------------------------------------------- */

static void with_logging(struct pw_mcp_call *call, json_t *params, void *ud)
{
    static const char *const steps[] = {"Tool execution started", "Tool processing data",
                                        "Tool execution completed"};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (i)
            pause_ms(STEP_MS);
        pw_mcp_call_log(call, "info", "conformance", json_string(steps[i]));
    }
    finish_content(call, json_pack("[o]", conf_text("Tool with logging executed successfully")));
}

static void with_progress(struct pw_mcp_call *call, json_t *params, void *ud)
{
    for (int step = 0; step <= 2; step++) {
        if (step)
            pause_ms(STEP_MS);
        if (pw_mcp_call_cancelled(call))
            break;
        pw_mcp_call_progress(call, 50.0 * step, 100.0, NULL);
    }
    finish_content(call, json_pack("[o]", conf_text("Tool with progress executed successfully")));
}

static void reconnection(struct pw_mcp_call *call, json_t *params, void *ud)
{
    pause_ms(RECONNECT_MS);
    finish_content(call, json_pack("[o]", conf_text("Reconnection test completed successfully")));
}

/* Tools that ask the client (loop thread) ------------------------------------------ */

static void asked(struct pw_mcp_call *call, const char *method, json_t *params_new,
                  pw_mcp_reply_fn reply)
{
    struct pw_error err = {0};
    if (pw_mcp_call_request(call, method, params_new, reply, NULL, &err) != PW_OK)
        pw_mcp_call_finish(call, pw_mcp_tool_error("%s", err.message));
}

static void on_sampled(struct pw_mcp_call *call, json_t *result, const struct pw_error *err,
                       void *ud)
{
    if (err) {
        pw_mcp_call_finish(call, pw_mcp_tool_error("sampling failed: %s", err->message));
        return;
    }
    const char *said = json_string_value(json_object_get(json_object_get(result, "content"),
                                                         "text"));
    char text[1024];
    snprintf(text, sizeof text, "LLM response: %s", said ? said : "(no text)");
    finish_content(call, json_pack("[o]", conf_text(text)));
}

static void sampling(struct pw_mcp_call *call, json_t *params, void *ud)
{
    const char *prompt = json_string_value(json_object_get(params, "prompt"));
    asked(call, "sampling/createMessage",
          json_pack("{s:[{s:s, s:{s:s, s:s}}], s:i}", "messages", "role", "user", "content",
                    "type", "text", "text", prompt, "maxTokens", 100),
          on_sampled);
}

/* Every elicitation tool answers with what the user did. */
static void on_elicited(struct pw_mcp_call *call, json_t *result, const struct pw_error *err,
                        void *ud)
{
    if (err) {
        pw_mcp_call_finish(call, pw_mcp_tool_error("elicitation failed: %s", err->message));
        return;
    }
    const char *action = json_string_value(json_object_get(result, "action"));
    json_t *content = json_object_get(result, "content");
    char *shown = content ? json_dumps(content, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char text[1024];
    snprintf(text, sizeof text, "Elicitation completed: action=%s, content=%s",
             action ? action : "(none)", shown ? shown : "{}");
    free(shown);
    finish_content(call, json_pack("[o]", conf_text(text)));
}

static void elicitation(struct pw_mcp_call *call, json_t *params, void *ud)
{
    const char *message = json_string_value(json_object_get(params, "message"));
    json_t *schema = json_loads(
        "{\"type\":\"object\",\"properties\":{"
        "\"username\":{\"type\":\"string\",\"description\":\"User's response\"},"
        "\"email\":{\"type\":\"string\",\"description\":\"User's email address\"}},"
        "\"required\":[\"username\",\"email\"]}",
        0, NULL);
    asked(call, "elicitation/create",
          json_pack("{s:s, s:o}", "message", message, "requestedSchema", schema), on_elicited);
}

/* SEP-1034: a default for every primitive type. */
static void elicitation_defaults(struct pw_mcp_call *call, json_t *params, void *ud)
{
    json_t *schema = json_loads(
        "{\"type\":\"object\",\"properties\":{"
        "\"name\":{\"type\":\"string\",\"description\":\"User name\",\"default\":\"John Doe\"},"
        "\"age\":{\"type\":\"integer\",\"description\":\"User age\",\"default\":30},"
        "\"score\":{\"type\":\"number\",\"description\":\"User score\",\"default\":95.5},"
        "\"status\":{\"type\":\"string\",\"description\":\"User status\","
        "\"enum\":[\"active\",\"inactive\",\"pending\"],\"default\":\"active\"},"
        "\"verified\":{\"type\":\"boolean\",\"description\":\"Verification status\","
        "\"default\":true}},\"required\":[]}",
        0, NULL);
    asked(call, "elicitation/create",
          json_pack("{s:s, s:o}", "message", "Please review and update the form fields",
                    "requestedSchema", schema),
          on_elicited);
}

/* SEP-1330: the five enum shapes. */
static void elicitation_enums(struct pw_mcp_call *call, json_t *params, void *ud)
{
    json_t *schema = json_loads(
        "{\"type\":\"object\",\"properties\":{"
        "\"untitledSingle\":{\"type\":\"string\",\"enum\":[\"option1\",\"option2\","
        "\"option3\"]},"
        "\"titledSingle\":{\"type\":\"string\",\"oneOf\":["
        "{\"const\":\"value1\",\"title\":\"First Option\"},"
        "{\"const\":\"value2\",\"title\":\"Second Option\"},"
        "{\"const\":\"value3\",\"title\":\"Third Option\"}]},"
        "\"legacyEnum\":{\"type\":\"string\",\"enum\":[\"opt1\",\"opt2\",\"opt3\"],"
        "\"enumNames\":[\"Option One\",\"Option Two\",\"Option Three\"]},"
        "\"untitledMulti\":{\"type\":\"array\",\"items\":{\"type\":\"string\","
        "\"enum\":[\"option1\",\"option2\",\"option3\"]}},"
        "\"titledMulti\":{\"type\":\"array\",\"items\":{\"anyOf\":["
        "{\"const\":\"value1\",\"title\":\"First Choice\"},"
        "{\"const\":\"value2\",\"title\":\"Second Choice\"},"
        "{\"const\":\"value3\",\"title\":\"Third Choice\"}]}}},\"required\":[]}",
        0, NULL);
    asked(call, "elicitation/create",
          json_pack("{s:s, s:o}", "message", "Please choose from the enum fields",
                    "requestedSchema", schema),
          on_elicited);
}

/* The table -------------------------------------------------------------------------- */

static const struct pw_mcp_tool tools[] = {
    {.name = "test_simple_text", .description = "Returns a simple text response",
     .input_schema = no_args, .handler = simple_text},
    {.name = "test_image_content", .description = "Returns an image (a 1x1 red PNG)",
     .input_schema = no_args, .handler = image_content},
    {.name = "test_audio_content", .description = "Returns a short WAV clip",
     .input_schema = no_args, .handler = audio_content},
    {.name = "test_embedded_resource", .description = "Returns an embedded text resource",
     .input_schema = no_args, .handler = embedded_resource},
    {.name = "test_multiple_content_types",
     .description = "Returns text, an image and an embedded resource",
     .input_schema = no_args, .handler = multiple_content},
    {.name = "test_tool_with_logging",
     .description = "Sends three info log messages while it runs",
     .input_schema = no_args, .handler = with_logging, .flags = PW_MCP_ON_WORKER},
    {.name = "test_tool_with_progress",
     .description = "Reports progress 0, 50 and 100 of 100 while it runs",
     .input_schema = no_args, .handler = with_progress, .flags = PW_MCP_ON_WORKER},
    {.name = "test_error_handling", .description = "Always returns a tool error",
     .input_schema = no_args, .handler = error_handling},
    {.name = "test_sampling", .description = "Asks the client's LLM to answer a prompt",
     .input_schema = "{\"type\":\"object\",\"properties\":{\"prompt\":{\"type\":\"string\","
                     "\"description\":\"The prompt to send to the LLM\"}},"
                     "\"required\":[\"prompt\"]}",
     .handler = sampling},
    {.name = "test_elicitation", .description = "Asks the user for a name and an email",
     .input_schema = "{\"type\":\"object\",\"properties\":{\"message\":{\"type\":\"string\","
                     "\"description\":\"The message to show the user\"}},"
                     "\"required\":[\"message\"]}",
     .handler = elicitation},
    {.name = "test_elicitation_sep1034_defaults",
     .description = "Elicits a form whose fields all have defaults (SEP-1034)",
     .input_schema = no_args, .handler = elicitation_defaults},
    {.name = "test_elicitation_sep1330_enums",
     .description = "Elicits a form with every enum shape (SEP-1330)",
     .input_schema = no_args, .handler = elicitation_enums},
    {.name = "json_schema_2020_12_tool", .description = "Tool with JSON Schema 2020-12 features",
     .input_schema = schema_2020_12, .handler = schema_tool},
    {.name = "test_reconnection",
     .description = "Runs long enough for the server to close its SSE stream mid-call",
     .input_schema = no_args, .handler = reconnection, .flags = PW_MCP_ON_WORKER},
};

enum pw_err conf_add_tools(struct pw_mcp_server *mcp, struct pw_error *err)
{
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
        enum pw_err rc = pw_mcp_server_add_tool(mcp, &tools[i], err);
        if (rc != PW_OK)
            return rc;
    }
    return PW_OK;
}
