/*
 * The conformance suite's fixtures for revision 2026-07-28: the diagnostic
 * tools of server-stateless, the input_required (multi-round-trip) tools
 * and prompt of the input-required-result-* scenarios, and a tool whose
 * argument is mirrored into an Mcp-Param header (http-custom-header-
 * server-validation).
 *
 * The multi-round-trip fixtures are written the way a real handler is: a
 * call without the answers it needs asks for them with
 * pw_mcp_call_input_required (the engine seals the state and refuses
 * forged, altered or replayed ones before the handler runs), and a retry
 * that carries them finishes. Keys the handler did not ask for are
 * ignored; a retry missing a key is asked again. Asking only for what the
 * client declared is the handler's business
 * (test_input_required_result_capabilities), and so is refusing a call
 * that cannot go on without a capability (test_missing_capability).
 *
 * The list-change triggers add a tool or prompt so that listeners hear of
 * it (tools: added and removed in turn; prompts: a new one each time, as
 * prompts cannot be removed).
 *
 * The tasks-* fixtures (greet, slow_compute, confirm_delete, multi_input,
 * failing_job, protocol_error_job, test_tool_with_task) turn their call
 * into a task with pw_mcp_call_to_task when the client declared the
 * extension; slow_compute sleeps on a worker in short steps so that
 * tasks/cancel (and the server's stop) end it promptly.
 *
 * Loop thread, except slow_compute (a worker).
 *
 * SPDX-License-Identifier: MIT
 */
#include "tests/conformance/conformance.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pennyworth/mcp_modern.h"

static const char no_args[] = "{\"type\":\"object\",\"properties\":{}}";

static void finish_text(struct pw_mcp_call *call, const char *text)
{
    pw_mcp_call_finish(call, json_pack("{s:[o]}", "content", conf_text(text)));
}

/* The client's answer to input request `key`, or NULL. Borrowed. */
static json_t *answer(struct pw_mcp_call *call, const char *key)
{
    return json_object_get(pw_mcp_call_input_responses(call), key);
}

static bool declared(struct pw_mcp_call *call, const char *capability)
{
    return json_object_get(pw_mcp_call_client_capabilities(call), capability) != NULL;
}

/* Input requests (new references) ------------------------------------------------- */

static json_t *ask_text(const char *message, const char *field)
{
    return json_pack("{s:s, s:{s:s, s:{s:s, s:{s:{s:s}}, s:[s]}}}", "method",
                     "elicitation/create", "params", "message", message, "requestedSchema",
                     "type", "object", "properties", field, "type", "string", "required",
                     field);
}

static json_t *ask_confirm(void)
{
    return json_pack("{s:s, s:{s:s, s:{s:s, s:{s:{s:s}}, s:[s]}}}", "method",
                     "elicitation/create", "params", "message", "Please confirm",
                     "requestedSchema", "type", "object", "properties", "ok", "type", "boolean",
                     "required", "ok");
}

static json_t *ask_llm(const char *question, int max_tokens)
{
    return json_pack("{s:s, s:{s:[{s:s, s:{s:s, s:s}}], s:i}}", "method",
                     "sampling/createMessage", "params", "messages", "role", "user", "content",
                     "type", "text", "text", question, "maxTokens", max_tokens);
}

static json_t *ask_roots(void)
{
    return json_pack("{s:s, s:{}}", "method", "roots/list", "params");
}

/* The text of an accepted elicitation's field, or "". */
static const char *elicited(json_t *resp, const char *field)
{
    const char *v = json_string_value(json_object_get(json_object_get(resp, "content"), field));
    return v ? v : "";
}

/* server-stateless diagnostics ---------------------------------------------------- */

static void missing_capability(struct pw_mcp_call *call, json_t *args, void *ud)
{
    if (!declared(call, "sampling")) {
        pw_mcp_call_fail_capability(call, "sampling");
        return;
    }
    finish_text(call, "The client declared sampling.");
}

static void streaming_elicitation(struct pw_mcp_call *call, json_t *args, void *ud)
{
    pw_mcp_call_progress(call, 1, 2, "asking the user");
    if (answer(call, "user_name"))
        finish_text(call, "Thanks.");
    else
        pw_mcp_call_input_required(call, json_pack("{s:o}", "user_name",
                                                   ask_text("What is your name?", "name")),
                                   NULL);
}

static void logging_tool(struct pw_mcp_call *call, json_t *args, void *ud)
{
    for (int i = 1; i <= 3; i++) {
        char text[32];
        snprintf(text, sizeof text, "log message %d", i);
        pw_mcp_call_log(call, "info", "conformance", json_string(text));
    }
    finish_text(call, "Logged three messages at info.");
}

static void dynamic_tool(struct pw_mcp_call *call, json_t *args, void *ud)
{
    finish_text(call, "A tool that comes and goes.");
}

static void trigger_tool_change(struct pw_mcp_call *call, json_t *args, void *ud)
{
    struct pw_mcp_server *mcp = ud;
    static const struct pw_mcp_tool t = {.name = "test_dynamic_tool",
                                         .description = "Added and removed by "
                                                        "test_trigger_tool_change",
                                         .input_schema = no_args, .handler = dynamic_tool};
    if (pw_mcp_server_remove_tool(mcp, t.name) != PW_OK)
        pw_mcp_server_add_tool(mcp, &t, NULL);
    finish_text(call, "The tool list changed.");
}

static void dynamic_prompt(struct pw_mcp_call *call, json_t *args, void *ud)
{
    pw_mcp_call_finish(call, json_pack("{s:[{s:s, s:o}]}", "messages", "role", "user",
                                       "content", conf_text("A prompt added at run time.")));
}

static void trigger_prompt_change(struct pw_mcp_call *call, json_t *args, void *ud)
{
    static unsigned added;
    char name[64];
    snprintf(name, sizeof name, "test_dynamic_prompt_%u", ++added);
    struct pw_mcp_prompt p = {.name = name,
                              .description = "Added by test_trigger_prompt_change",
                              .get = dynamic_prompt};
    pw_mcp_server_add_prompt(ud, &p, NULL);
    finish_text(call, "The prompt list changed.");
}

/* input-required-result-* ----------------------------------------------------------- */

static void ir_elicitation(struct pw_mcp_call *call, json_t *args, void *ud)
{
    json_t *resp = answer(call, "user_name");
    if (!resp) {
        pw_mcp_call_input_required(call, json_pack("{s:o}", "user_name",
                                                   ask_text("What is your name?", "name")),
                                   NULL);
        return;
    }
    char text[256];
    snprintf(text, sizeof text, "Hello, %s!", elicited(resp, "name"));
    finish_text(call, text);
}

static void ir_sampling(struct pw_mcp_call *call, json_t *args, void *ud)
{
    json_t *resp = answer(call, "capital_question");
    if (!resp) {
        pw_mcp_call_input_required(call, json_pack("{s:o}", "capital_question",
                                                   ask_llm("What is the capital of France?",
                                                           100)),
                                   NULL);
        return;
    }
    const char *said =
        json_string_value(json_object_get(json_object_get(resp, "content"), "text"));
    char text[512];
    snprintf(text, sizeof text, "The model said: %s", said ? said : "(no text)");
    finish_text(call, text);
}

static void ir_roots(struct pw_mcp_call *call, json_t *args, void *ud)
{
    json_t *resp = answer(call, "client_roots");
    if (!resp) {
        pw_mcp_call_input_required(call, json_pack("{s:o}", "client_roots", ask_roots()), NULL);
        return;
    }
    json_t *roots = json_object_get(resp, "roots");
    const char *first = json_string_value(json_object_get(json_array_get(roots, 0), "uri"));
    char text[512];
    snprintf(text, sizeof text, "%zu root(s); the first is %s", json_array_size(roots),
             first ? first : "(none)");
    finish_text(call, text);
}

static void ir_request_state(struct pw_mcp_call *call, json_t *args, void *ud)
{
    json_t *state = pw_mcp_call_request_state(call);
    if (!answer(call, "confirm") || !state) {
        pw_mcp_call_input_required(call, json_pack("{s:o}", "confirm", ask_confirm()),
                                   json_pack("{s:s}", "step", "confirm"));
        return;
    }
    finish_text(call, "state-ok: the confirmation arrived with the state it was asked with");
}

static void ir_multiple(struct pw_mcp_call *call, json_t *args, void *ud)
{
    if (!answer(call, "user_name") || !answer(call, "greeting") || !answer(call, "client_roots")) {
        pw_mcp_call_input_required(
            call,
            json_pack("{s:o, s:o, s:o}", "user_name", ask_text("What is your name?", "name"),
                      "greeting", ask_llm("Generate a greeting", 50), "client_roots",
                      ask_roots()),
            json_pack("{s:s}", "step", "all"));
        return;
    }
    char text[256];
    snprintf(text, sizeof text, "All three answers arrived, %s.",
             elicited(answer(call, "user_name"), "name"));
    finish_text(call, text);
}

/* Three rounds; the state carries what the earlier rounds gathered. */
static void ir_multi_round(struct pw_mcp_call *call, json_t *args, void *ud)
{
    json_t *state = pw_mcp_call_request_state(call);
    json_int_t round = json_integer_value(json_object_get(state, "round"));
    if (round == 1 && answer(call, "step1")) {
        pw_mcp_call_input_required(
            call,
            json_pack("{s:o}", "step2",
                      ask_text("Step 2: What is your favorite color?", "color")),
            json_pack("{s:i, s:s}", "round", 2, "name", elicited(answer(call, "step1"),
                                                                 "name")));
        return;
    }
    if (round == 2 && answer(call, "step2")) {
        char text[256];
        snprintf(text, sizeof text, "%s likes %s.",
                 json_string_value(json_object_get(state, "name")),
                 elicited(answer(call, "step2"), "color"));
        finish_text(call, text);
        return;
    }
    pw_mcp_call_input_required(call,
                               json_pack("{s:o}", "step1",
                                         ask_text("Step 1: What is your name?", "name")),
                               json_pack("{s:i}", "round", 1));
}

static void ir_tampered(struct pw_mcp_call *call, json_t *args, void *ud)
{
    if (!pw_mcp_call_request_state(call)) {
        pw_mcp_call_input_required(call, json_pack("{s:o}", "confirm", ask_confirm()),
                                   json_pack("{s:s}", "step", "confirm"));
        return;
    }
    finish_text(call, "The state was intact.");
}

/* Asks only for what the client can answer. */
static void ir_capabilities(struct pw_mcp_call *call, json_t *args, void *ud)
{
    json_t *asks = json_object();
    if (declared(call, "elicitation") && !answer(call, "user_name"))
        json_object_set_new(asks, "user_name", ask_text("What is your name?", "name"));
    if (declared(call, "sampling") && !answer(call, "greeting"))
        json_object_set_new(asks, "greeting", ask_llm("Generate a greeting", 50));
    if (declared(call, "roots") && !answer(call, "client_roots"))
        json_object_set_new(asks, "client_roots", ask_roots());
    if (json_object_size(asks) == 0) {
        json_decref(asks);
        finish_text(call, "Nothing more to ask.");
        return;
    }
    pw_mcp_call_input_required(call, asks, NULL);
}

static void ir_prompt(struct pw_mcp_call *call, json_t *args, void *ud)
{
    json_t *resp = answer(call, "user_context");
    if (!resp) {
        pw_mcp_call_input_required(
            call,
            json_pack("{s:o}", "user_context",
                      ask_text("What context should the prompt use?", "context")),
            NULL);
        return;
    }
    char text[512];
    snprintf(text, sizeof text, "Use this context: %s", elicited(resp, "context"));
    pw_mcp_call_finish(call, json_pack("{s:[{s:s, s:o}]}", "messages", "role", "user",
                                       "content", conf_text(text)));
}

/* http-custom-header-server-validation ---------------------------------------------- */

static void header_param(struct pw_mcp_call *call, json_t *args, void *ud)
{
    char text[512];
    snprintf(text, sizeof text, "Region: %s",
             json_string_value(json_object_get(args, "region")));
    finish_text(call, text);
}

/* tasks-* ------------------------------------------------------------------------ */

static void greet(struct pw_mcp_call *call, json_t *args, void *ud)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    char text[256];
    snprintf(text, sizeof text, "Hello, %s!", name ? name : "World");
    finish_text(call, text);
}

/* Worker: sleeps `seconds` in 50 ms steps, as a task when it can. */
static void slow_compute(struct pw_mcp_call *call, json_t *args, void *ud)
{
    double seconds = json_number_value(json_object_get(args, "seconds"));
    const char *label = json_string_value(json_object_get(args, "label"));
    if (seconds > 0)
        pw_mcp_call_to_task(call);
    for (int ms = 0; ms < seconds * 1000 && !pw_mcp_call_cancelled(call); ms += 50) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    char text[256];
    snprintf(text, sizeof text, "Computed %s in %g s", label ? label : "(no label)", seconds);
    finish_text(call, text);
}

static void confirm_delete(struct pw_mcp_call *call, json_t *args, void *ud)
{
    const char *file = json_string_value(json_object_get(args, "filename"));
    pw_mcp_call_to_task(call);
    json_t *resp = answer(call, "confirm");
    if (!resp) {
        char msg[300];
        snprintf(msg, sizeof msg, "Delete %s?", file ? file : "the file");
        pw_mcp_call_input_required(
            call,
            json_pack("{s:{s:s, s:{s:s, s:{s:s, s:{s:{s:s}}, s:[s]}}}}", "confirm", "method",
                      "elicitation/create", "params", "message", msg, "requestedSchema", "type",
                      "object", "properties", "confirm", "type", "boolean", "required",
                      "confirm"),
            NULL);
        return;
    }
    bool yes = json_is_true(json_object_get(json_object_get(resp, "content"), "confirm"));
    char text[300];
    snprintf(text, sizeof text, "%s %s", yes ? "Deleted" : "Kept", file ? file : "the file");
    finish_text(call, text);
}

static void multi_input(struct pw_mcp_call *call, json_t *args, void *ud)
{
    pw_mcp_call_to_task(call);
    if (!answer(call, "first") || !answer(call, "second")) {
        pw_mcp_call_input_required(call,
                                   json_pack("{s:o, s:o}", "first",
                                             ask_text("First name?", "name"), "second",
                                             ask_text("Second name?", "name")),
                                   NULL);
        return;
    }
    char text[300];
    snprintf(text, sizeof text, "Got %s and %s", elicited(answer(call, "first"), "name"),
             elicited(answer(call, "second"), "name"));
    finish_text(call, text);
}

static void failing_job(struct pw_mcp_call *call, json_t *args, void *ud)
{
    pw_mcp_call_to_task(call);
    pw_mcp_call_finish(call, pw_mcp_tool_error("The job failed, as it always does."));
}

static void protocol_error_job(struct pw_mcp_call *call, json_t *args, void *ud)
{
    pw_mcp_call_to_task(call);
    struct pw_error e = {.code = PW_ERR_INTERNAL, .message = "the job hit a protocol error"};
    pw_mcp_call_fail(call, &e);
}

/* Gathers a name with input_required, then goes on as a task. */
static void tool_with_task(struct pw_mcp_call *call, json_t *args, void *ud)
{
    json_t *resp = answer(call, "user_name");
    if (!resp) {
        pw_mcp_call_input_required(call, json_pack("{s:o}", "user_name",
                                                   ask_text("What is your name?", "name")),
                                   NULL);
        return;
    }
    char text[256];
    snprintf(text, sizeof text, "Hello, %s, from a task!", elicited(resp, "name"));
    pw_mcp_call_to_task(call);
    finish_text(call, text);
}

static const char task_args[] = "{\"type\":\"object\",\"properties\":{"
                                "\"seconds\":{\"type\":\"number\"},"
                                "\"label\":{\"type\":\"string\"}}}";

static const struct pw_mcp_tool tools[] = {
    {.name = "greet", .description = "Greets by name, at once",
     .input_schema = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}}}",
     .handler = greet},
    {.name = "slow_compute", .description = "Takes `seconds`; a task when it takes any",
     .input_schema = task_args, .handler = slow_compute, .flags = PW_MCP_ON_WORKER},
    {.name = "confirm_delete", .description = "A task that asks before it deletes",
     .input_schema = "{\"type\":\"object\",\"properties\":{\"filename\":"
                     "{\"type\":\"string\"}}}",
     .handler = confirm_delete},
    {.name = "multi_input", .description = "A task that asks two questions at once",
     .input_schema = no_args, .handler = multi_input},
    {.name = "failing_job", .description = "A task whose tool fails",
     .input_schema = no_args, .handler = failing_job, .flags = PW_MCP_TASK_REQUIRED},
    {.name = "protocol_error_job", .description = "A task that fails with a JSON-RPC error",
     .input_schema = no_args, .handler = protocol_error_job},
    {.name = "test_tool_with_task", .description = "Asks for a name, then runs as a task",
     .input_schema = no_args, .handler = tool_with_task, .flags = PW_MCP_TASK_REQUIRED},
    {.name = "test_missing_capability",
     .description = "Needs the client's sampling capability",
     .input_schema = no_args, .handler = missing_capability},
    {.name = "test_streaming_elicitation",
     .description = "Reports progress, then asks the user for a name",
     .input_schema = no_args, .handler = streaming_elicitation},
    {.name = "test_logging_tool", .description = "Logs three messages at info",
     .input_schema = no_args, .handler = logging_tool},
    {.name = "test_trigger_tool_change", .description = "Adds or removes test_dynamic_tool",
     .input_schema = no_args, .handler = trigger_tool_change},
    {.name = "test_trigger_prompt_change", .description = "Adds a prompt",
     .input_schema = no_args, .handler = trigger_prompt_change},
    {.name = "test_input_required_result_elicitation", .description = "Asks for a name",
     .input_schema = no_args, .handler = ir_elicitation},
    {.name = "test_input_required_result_sampling", .description = "Asks the client's LLM",
     .input_schema = no_args, .handler = ir_sampling},
    {.name = "test_input_required_result_list_roots", .description = "Asks for the roots",
     .input_schema = no_args, .handler = ir_roots},
    {.name = "test_input_required_result_request_state",
     .description = "Asks for a confirmation and checks its requestState",
     .input_schema = no_args, .handler = ir_request_state},
    {.name = "test_input_required_result_multiple_inputs",
     .description = "Asks for a name, an LLM greeting and the roots at once",
     .input_schema = no_args, .handler = ir_multiple},
    {.name = "test_input_required_result_multi_round",
     .description = "Asks two questions in two rounds",
     .input_schema = no_args, .handler = ir_multi_round},
    {.name = "test_input_required_result_tampered_state",
     .description = "Asks for a confirmation with a sealed requestState",
     .input_schema = no_args, .handler = ir_tampered},
    {.name = "test_input_required_result_capabilities",
     .description = "Asks only for what the client declared",
     .input_schema = no_args, .handler = ir_capabilities},
    {.name = "test_header_param",
     .description = "Echoes a region that is mirrored into the Mcp-Param-Region header",
     .input_schema = "{\"type\":\"object\",\"properties\":{\"region\":{\"type\":\"string\","
                     "\"description\":\"A region\",\"x-mcp-header\":\"Region\"}},"
                     "\"required\":[\"region\"]}",
     .handler = header_param},
};

enum pw_err conf_add_modern(struct pw_mcp_server *mcp, struct pw_error *err)
{
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
        struct pw_mcp_tool t = tools[i];
        t.ud = mcp;
        enum pw_err rc = pw_mcp_server_add_tool(mcp, &t, err);
        if (rc != PW_OK)
            return rc;
    }
    struct pw_mcp_prompt p = {.name = "test_input_required_result_prompt",
                              .description = "Asks for the context it should use",
                              .get = ir_prompt};
    return pw_mcp_server_add_prompt(mcp, &p, err);
}
