/*
 * Unit tests for the tasks extension (mcp/tasks.c) through the public API,
 * with an in-memory transport and modern (2026-07-28) requests: a worker
 * tool that becomes a task and completes, one that fails, one that asks
 * two questions and is answered one tasks/update at a time, one that is
 * cancelled while it runs, and the gates for clients that did not declare
 * the extension. Waits are bounded polls of tasks/get, never timing
 * assertions.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pennyworth/mcp.h"
#include "pennyworth/mcp_modern.h"

#define EXT "{\"extensions\":{\"io.modelcontextprotocol/tasks\":{}}}"

struct harness {
    struct pw_mcp_server *srv;
    struct pw_mcp_session *s;
    json_t *sent;
    json_int_t next_id;
};

static void capture(void *ctx, json_t *msg, json_t *related)
{
    struct harness *h = ctx;
    json_array_append(h->sent, msg);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static json_t *reply_to(struct harness *h, json_int_t id)
{
    size_t i;
    json_t *m;
    json_array_foreach(h->sent, i, m)
        if (json_integer_value(json_object_get(m, "id")) == id && !json_object_get(m, "method"))
            return m;
    return NULL;
}

/* Sends a modern request and waits (bounded) for its answer. Borrowed. */
static json_t *call(struct harness *h, const char *method, const char *params, const char *caps)
{
    json_int_t id = ++h->next_id;
    char text[2048];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"%s\",\"params\":{%s%s\"_meta\":{"
             "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
             "\"io.modelcontextprotocol/clientCapabilities\":%s}}}",
             (long long)id, method, params, *params ? "," : "", caps);
    pw_mcp_session_receive(h->s, text, strlen(text));
    for (int i = 0; i < 5000 && !reply_to(h, id); i++) {
        pw_mcp_server_dispatch(h->srv);
        sleep_ms(1);
    }
    json_t *r = reply_to(h, id);
    assert_non_null(r);
    return r;
}

/* tasks/get until the status is `want` (bounded); the result object. */
static json_t *until(struct harness *h, const char *task, const char *want)
{
    char params[128];
    snprintf(params, sizeof params, "\"taskId\":\"%s\"", task);
    for (int i = 0; i < 500; i++) {
        json_t *r = json_object_get(call(h, "tasks/get", params, EXT), "result");
        const char *status = json_string_value(json_object_get(r, "status"));
        if (status && strcmp(status, want) == 0)
            return r;
        sleep_ms(5);
    }
    fail_msg("task %s never reached %s", task, want);
    return NULL;
}

/* Tools ------------------------------------------------------------------------ */

static atomic_int running;

static void quick(struct pw_mcp_call *c, json_t *args, void *ud)
{
    pw_mcp_call_to_task(c);
    pw_mcp_call_finish(c, pw_mcp_tool_result(NULL, "done"));
}

static void endless(struct pw_mcp_call *c, json_t *args, void *ud)
{
    atomic_store(&running, 1);
    pw_mcp_call_to_task(c);
    for (int i = 0; i < 5000 && !pw_mcp_call_cancelled(c); i++)
        sleep_ms(1);
    atomic_store(&running, 0);
    pw_mcp_call_finish(c, pw_mcp_tool_result(NULL, "stopped"));
}

static void broken(struct pw_mcp_call *c, json_t *args, void *ud)
{
    pw_mcp_call_to_task(c);
    struct pw_error e = {.code = PW_ERR_INTERNAL, .message = "broken on purpose"};
    pw_mcp_call_fail(c, &e);
}

static json_t *ask(const char *field)
{
    return json_pack("{s:s, s:{s:s, s:{s:s, s:{s:{s:s}}}}}", "method", "elicitation/create",
                     "params", "message", field, "requestedSchema", "type", "object",
                     "properties", field, "type", "string");
}

static void two_questions(struct pw_mcp_call *c, json_t *args, void *ud)
{
    pw_mcp_call_to_task(c);
    json_t *in = pw_mcp_call_input_responses(c);
    json_t *a = json_object_get(in, "a"), *b = json_object_get(in, "b");
    if (!a || !b) {
        pw_mcp_call_input_required(c, json_pack("{s:o, s:o}", "a", ask("x"), "b", ask("y")),
                                   json_pack("{s:i}", "round", 1));
        return;
    }
    char text[128];
    snprintf(text, sizeof text, "%s+%s round %lld",
             json_string_value(json_object_get(json_object_get(a, "content"), "x")),
             json_string_value(json_object_get(json_object_get(b, "content"), "y")),
             (long long)json_integer_value(json_object_get(pw_mcp_call_request_state(c),
                                                           "round")));
    pw_mcp_call_finish(c, pw_mcp_tool_result(NULL, text));
}

static void setup_harness(struct harness *h)
{
    memset(h, 0, sizeof *h);
    struct pw_mcp_server_options o = {.name = "t", .version = "1", .workers = 2};
    struct pw_error e = {0};
    assert_int_equal(pw_mcp_server_new(&o, &h->srv, &e), PW_OK);
    static const char obj[] = "{\"type\":\"object\"}";
    struct pw_mcp_tool tools[] = {
        {.name = "quick", .description = "d", .input_schema = obj, .handler = quick,
         .flags = PW_MCP_ON_WORKER},
        {.name = "endless", .description = "d", .input_schema = obj, .handler = endless,
         .flags = PW_MCP_ON_WORKER},
        {.name = "broken", .description = "d", .input_schema = obj, .handler = broken},
        {.name = "two", .description = "d", .input_schema = obj, .handler = two_questions,
         .flags = PW_MCP_ON_WORKER},
        {.name = "only_task", .description = "d", .input_schema = obj, .handler = quick,
         .flags = PW_MCP_TASK_REQUIRED},
    };
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++)
        assert_int_equal(pw_mcp_server_add_tool(h->srv, &tools[i], &e), PW_OK);
    h->sent = json_array();
    struct pw_mcp_transport t = {.send = capture, .ctx = h};
    assert_int_equal(pw_mcp_session_new(h->srv, &t, &h->s, &e), PW_OK);
}

static void teardown_harness(struct harness *h)
{
    pw_mcp_session_free(h->s);
    pw_mcp_server_free(h->srv);
    json_decref(h->sent);
}

/* The task id of a CreateTaskResult answer (borrowed). */
static const char *created(json_t *reply)
{
    json_t *r = json_object_get(reply, "result");
    assert_string_equal(json_string_value(json_object_get(r, "resultType")), "task");
    assert_string_equal(json_string_value(json_object_get(r, "status")), "working");
    assert_null(json_object_get(r, "requestState"));
    const char *id = json_string_value(json_object_get(r, "taskId"));
    assert_non_null(id);
    assert_int_equal(strlen(id), 32);
    return id;
}

/* Tests -------------------------------------------------------------------------- */

static void worker_task_completes(void **state)
{
    struct harness h;
    setup_harness(&h);
    const char *id = created(call(&h, "tools/call", "\"name\":\"quick\"", EXT));
    json_t *r = until(&h, id, "completed");
    json_t *text = json_object_get(json_array_get(json_object_get(json_object_get(r, "result"),
                                                                  "content"), 0), "text");
    assert_string_equal(json_string_value(text), "done");
    assert_string_equal(json_string_value(json_object_get(r, "resultType")), "complete");
    teardown_harness(&h);
}

static void failed_task_carries_the_error(void **state)
{
    struct harness h;
    setup_harness(&h);
    const char *id = created(call(&h, "tools/call", "\"name\":\"broken\"", EXT));
    json_t *r = until(&h, id, "failed");
    assert_null(json_object_get(r, "result"));
    assert_true(json_is_integer(json_object_get(json_object_get(r, "error"), "code")));
    teardown_harness(&h);
}

static void answers_arrive_one_update_at_a_time(void **state)
{
    struct harness h;
    setup_harness(&h);
    char id[40], params[256];
    snprintf(id, sizeof id, "%s", created(call(&h, "tools/call", "\"name\":\"two\"", EXT)));
    json_t *r = until(&h, id, "input_required");
    assert_int_equal(json_object_size(json_object_get(r, "inputRequests")), 2);
    snprintf(params, sizeof params, "\"taskId\":\"%s\",\"inputResponses\":{\"a\":{\"action\":"
             "\"accept\",\"content\":{\"x\":\"1\"}},\"zz\":{}}", id);
    json_t *ack = json_object_get(call(&h, "tasks/update", params, EXT), "result");
    assert_null(json_object_get(ack, "status"));
    r = until(&h, id, "input_required");
    assert_null(json_object_get(json_object_get(r, "inputRequests"), "a"));
    assert_non_null(json_object_get(json_object_get(r, "inputRequests"), "b"));
    snprintf(params, sizeof params, "\"taskId\":\"%s\",\"inputResponses\":{\"b\":{\"action\":"
             "\"accept\",\"content\":{\"y\":\"2\"}}}", id);
    call(&h, "tasks/update", params, EXT);
    r = until(&h, id, "completed");
    json_t *text = json_object_get(json_array_get(json_object_get(json_object_get(r, "result"),
                                                                  "content"), 0), "text");
    assert_string_equal(json_string_value(text), "1+2 round 1");
    teardown_harness(&h);
}

static void cancel_stops_a_running_task(void **state)
{
    struct harness h;
    setup_harness(&h);
    char id[40], params[128];
    snprintf(id, sizeof id, "%s", created(call(&h, "tools/call", "\"name\":\"endless\"", EXT)));
    snprintf(params, sizeof params, "\"taskId\":\"%s\"", id);
    json_t *ack = json_object_get(call(&h, "tasks/cancel", params, EXT), "result");
    assert_string_equal(json_string_value(json_object_get(ack, "resultType")), "complete");
    assert_null(json_object_get(ack, "taskId"));
    until(&h, id, "cancelled");
    for (int i = 0; i < 5000 && atomic_load(&running); i++)
        sleep_ms(1);
    assert_int_equal(atomic_load(&running), 0);
    until(&h, id, "cancelled"); /* its late result does not change a terminal task */
    call(&h, "tasks/cancel", params, EXT); /* idempotent */
    teardown_harness(&h);
}

static void without_the_extension(void **state)
{
    struct harness h;
    setup_harness(&h);
    json_t *r = json_object_get(call(&h, "tools/call", "\"name\":\"quick\"", "{}"), "result");
    assert_string_equal(json_string_value(json_object_get(r, "resultType")), "complete");
    json_t *e = json_object_get(call(&h, "tasks/get", "\"taskId\":\"x\"", "{}"), "error");
    assert_int_equal(json_integer_value(json_object_get(e, "code")), -32021);
    e = json_object_get(call(&h, "tools/call", "\"name\":\"only_task\"", "{}"), "error");
    assert_int_equal(json_integer_value(json_object_get(e, "code")), -32021);
    e = json_object_get(call(&h, "tasks/get", "\"taskId\":\"x\"", EXT), "error");
    assert_int_equal(json_integer_value(json_object_get(e, "code")), -32602);
    teardown_harness(&h);
}

/* A task is its principal's: another key's session is told it is unknown,
 * its own principal reads it. */
static void tasks_belong_to_their_principal(void **state)
{
    struct harness h;
    setup_harness(&h);
    assert_int_equal(pw_mcp_session_set_principal(h.s, "key-a", 5), PW_OK);
    char id[33];
    snprintf(id, sizeof id, "%s", created(call(&h, "tools/call", "\"name\":\"quick\"", EXT)));
    until(&h, id, "completed");
    char params[128];
    snprintf(params, sizeof params, "\"taskId\":\"%s\"", id);
    assert_int_equal(pw_mcp_session_set_principal(h.s, "key-b", 5), PW_OK);
    json_t *other = call(&h, "tasks/get", params, EXT);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(other, "error"), "code")),
                     -32602);
    assert_int_equal(pw_mcp_session_set_principal(h.s, "key-a", 5), PW_OK);
    json_t *own = call(&h, "tasks/get", params, EXT);
    assert_non_null(json_object_get(own, "result"));
    teardown_harness(&h);
}

/* One credential holds at most sessions_per_principal sessions; others and
 * sessions without a credential are not counted against it. */
static void sessions_per_principal_are_capped(void **state)
{
    struct pw_mcp_server_options o = {.name = "t", .version = "1", .sessions_per_principal = 2};
    struct pw_mcp_server *srv;
    struct pw_error e = {0};
    assert_int_equal(pw_mcp_server_new(&o, &srv, &e), PW_OK);
    struct harness h = {0};
    h.sent = json_array();
    struct pw_mcp_transport t = {.send = capture, .ctx = &h};
    struct pw_mcp_session *s[5];
    for (int i = 0; i < 5; i++)
        assert_int_equal(pw_mcp_session_new(srv, &t, &s[i], &e), PW_OK);
    assert_int_equal(pw_mcp_session_set_principal(s[0], "k", 1), PW_OK);
    assert_int_equal(pw_mcp_session_set_principal(s[1], "k", 1), PW_OK);
    assert_int_equal(pw_mcp_session_set_principal(s[2], "k", 1), PW_ERR_RATE_LIMITED);
    assert_int_equal(pw_mcp_session_set_principal(s[3], "j", 1), PW_OK);
    assert_int_equal(pw_mcp_session_set_principal(s[4], NULL, 0), PW_OK);
    assert_true(pw_mcp_session_principal_is(s[0], "k", 1));
    assert_false(pw_mcp_session_principal_is(s[0], "j", 1));
    assert_true(pw_mcp_session_principal_is(s[4], "", 0));
    pw_mcp_session_free(s[2]);
    pw_mcp_session_free(s[1]);
    assert_int_equal(pw_mcp_session_new(srv, &t, &s[1], &e), PW_OK);
    assert_int_equal(pw_mcp_session_set_principal(s[1], "k", 1), PW_OK);
    for (int i = 0; i < 5; i++)
        if (i != 2)
            pw_mcp_session_free(s[i]);
    pw_mcp_server_free(srv);
    json_decref(h.sent);
}

/* Asks for input (input_required) and retries with the state it got;
 * returns the retry's answer (borrowed). */
static json_t *round_trip(struct harness *h)
{
    static const char caps[] = "{\"elicitation\":{}}";
    json_t *first = json_object_get(call(h, "tools/call", "\"name\":\"two\"", caps), "result");
    const char *st = json_string_value(json_object_get(first, "requestState"));
    assert_non_null(st);
    char params[4096];
    snprintf(params, sizeof params,
             "\"name\":\"two\",\"requestState\":\"%s\",\"inputResponses\":{"
             "\"a\":{\"action\":\"accept\",\"content\":{\"x\":\"1\"}},"
             "\"b\":{\"action\":\"accept\",\"content\":{\"y\":\"2\"}}}",
             st);
    return call(h, "tools/call", params, caps);
}

/* One principal may have only so many requestStates spent and unexpired
 * (each is remembered so it cannot be replayed): past that its retries are
 * refused, while another principal's still go through. */
static void spent_states_per_principal_are_capped(void **state)
{
    struct harness h;
    setup_harness(&h);
    pw_mcp_session_free(h.s);
    pw_mcp_server_free(h.srv);
    json_decref(h.sent);
    struct pw_mcp_server_options o = {.name = "t", .version = "1", .workers = 2,
                                      .states_per_principal = 2};
    struct pw_error e = {0};
    assert_int_equal(pw_mcp_server_new(&o, &h.srv, &e), PW_OK);
    static const char obj[] = "{\"type\":\"object\"}";
    struct pw_mcp_tool two = {.name = "two", .description = "d", .input_schema = obj,
                              .handler = two_questions, .flags = PW_MCP_ON_WORKER};
    assert_int_equal(pw_mcp_server_add_tool(h.srv, &two, &e), PW_OK);
    h.sent = json_array();
    struct pw_mcp_transport t = {.send = capture, .ctx = &h};
    assert_int_equal(pw_mcp_session_new(h.srv, &t, &h.s, &e), PW_OK);
    assert_int_equal(pw_mcp_session_set_principal(h.s, "key-a", 5), PW_OK);
    for (int i = 0; i < 2; i++)
        assert_non_null(json_object_get(round_trip(&h), "result"));
    json_t *refused = json_object_get(round_trip(&h), "error");
    assert_int_equal(json_integer_value(json_object_get(refused, "code")), -32602);
    assert_non_null(strstr(json_string_value(json_object_get(refused, "message")), "this key"));
    assert_int_equal(pw_mcp_session_set_principal(h.s, "key-b", 5), PW_OK);
    assert_non_null(json_object_get(round_trip(&h), "result"));
    teardown_harness(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(worker_task_completes),
        cmocka_unit_test(failed_task_carries_the_error),
        cmocka_unit_test(answers_arrive_one_update_at_a_time),
        cmocka_unit_test(cancel_stops_a_running_task),
        cmocka_unit_test(without_the_extension),
        cmocka_unit_test(tasks_belong_to_their_principal),
        cmocka_unit_test(sessions_per_principal_are_capped),
        cmocka_unit_test(spent_states_per_principal_are_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
