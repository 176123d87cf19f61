/*
 * Unit tests for the MCP engine (mcp/) through its public API, with an
 * in-memory transport: what only a test tool can show (a slow tool that
 * is cancelled, a server-to-client request answered, timed out or refused,
 * pagination with a small page, list_changed, updates posted from another
 * thread, a session freed mid-call). The protocol surface over the real
 * catalog is covered by the transcripts.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pennyworth/mcp.h"

struct harness {
    struct pw_mcp_server *srv;
    struct pw_mcp_session *s;
    json_t *sent; /* every message the session sent */
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

/* Runs the engine's loop duties for `ms` or until `want` messages were sent. */
static void pump(struct harness *h, int ms, size_t want)
{
    for (int i = 0; i < ms; i++) {
        pw_mcp_server_dispatch(h->srv);
        pw_mcp_server_tick(h->srv);
        if (want && json_array_size(h->sent) >= want)
            return;
        sleep_ms(1);
    }
}

static void in(struct harness *h, const char *text) { pw_mcp_session_receive(h->s, text,
    strlen(text)); }

/* The last message sent with this id, or NULL (borrowed). */
static json_t *reply_to(struct harness *h, json_int_t id)
{
    size_t i;
    json_t *m, *found = NULL;
    json_array_foreach(h->sent, i, m) {
        json_t *mid = json_object_get(m, "id");
        if (json_is_integer(mid) && json_integer_value(mid) == id && !json_object_get(m, "method"))
            found = m;
    }
    return found;
}

static json_t *find_method(struct harness *h, const char *method)
{
    size_t i;
    json_t *m;
    json_array_foreach(h->sent, i, m) {
        const char *mm = json_string_value(json_object_get(m, "method"));
        if (mm && strcmp(mm, method) == 0)
            return m;
    }
    return NULL;
}

/* Tools used by the tests -------------------------------------------------- */

static atomic_int slow_running;

static void slow(struct pw_mcp_call *call, json_t *args, void *ud)
{
    atomic_store(&slow_running, 1);
    for (int i = 0; i < 500 && !pw_mcp_call_cancelled(call); i++)
        sleep_ms(2);
    atomic_store(&slow_running, 0);
    pw_mcp_call_finish(call, pw_mcp_tool_result(NULL, "finished"));
}

static void asked(struct pw_mcp_call *call, json_t *result, const struct pw_error *err, void *ud)
{
    if (err) {
        pw_mcp_call_finish(call, pw_mcp_tool_error("sampling failed: %s", err->message));
        return;
    }
    const char *text = json_string_value(json_object_get(json_object_get(result, "content"), ""
        "text"));
    pw_mcp_call_finish(call, pw_mcp_tool_result(NULL, text ? text : "?"));
}

static void ask(struct pw_mcp_call *call, json_t *args, void *ud)
{
    struct pw_error e = {0};
    json_t *params = json_pack("{s:[{s:s, s:{s:s, s:s}}], s:i}", "messages", "role", "user",
                               "content", "type", "text", "text", "hi", "maxTokens", 10);
    if (pw_mcp_call_request(call, "sampling/createMessage", params, asked, NULL, &e) != PW_OK)
        pw_mcp_call_finish(call, pw_mcp_tool_error("%s", e.message));
}

static void echo(struct pw_mcp_call *call, json_t *args, void *ud)
{
    pw_mcp_call_finish(call, pw_mcp_tool_result(json_incref(args), "echo"));
}

static void read_thing(struct pw_mcp_call *call, json_t *params, void *ud)
{
    pw_mcp_call_finish(call, json_pack("{s:[{s:s, s:s}]}", "contents", "uri", "test://thing",
                                       "text", "thing"));
}

static const char *obj_schema = "{\"type\":\"object\"}";

static void setup_harness(struct harness *h, int page, int timeout_ms, const char *caps)
{
    memset(h, 0, sizeof *h);
    struct pw_mcp_server_options o = {.name = "t", .version = "1", .workers = 2,
                                      .page_size = page, .request_timeout_ms = timeout_ms};
    struct pw_error e = {0};
    assert_int_equal(pw_mcp_server_new(&o, &h->srv, &e), PW_OK);
    struct pw_mcp_tool tools[] = {
        {.name = "slow", .description = "d", .input_schema = obj_schema, .handler = slow,
         .flags = PW_MCP_ON_WORKER},
        {.name = "ask", .description = "d", .input_schema = obj_schema, .handler = ask},
        {.name = "echo", .description = "d", .input_schema = obj_schema, .handler = echo},
    };
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(pw_mcp_server_add_tool(h->srv, &tools[i], &e), PW_OK);
    struct pw_mcp_resource r = {.uri = "test://thing", .name = "thing", .read = read_thing};
    assert_int_equal(pw_mcp_server_add_resource(h->srv, &r, &e), PW_OK);
    h->sent = json_array();
    struct pw_mcp_transport t = {.send = capture, .ctx = h};
    assert_int_equal(pw_mcp_session_new(h->srv, &t, &h->s, &e), PW_OK);
    char init[512];
    snprintf(init, sizeof init,
             "{\"jsonrpc\":\"2.0\",\"id\":1000,\"method\":\"initialize\",\"params\":{"
             "\"protocolVersion\":\"2025-11-25\",\"capabilities\":%s,\"clientInfo\":{\"name\":"
             "\"t\",\"version\":\"1\"}}}", caps);
    in(h, init);
    in(h, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    assert_non_null(reply_to(h, 1000));
}

static void teardown_harness(struct harness *h)
{
    pw_mcp_session_free(h->s);
    pw_mcp_server_free(h->srv);
    json_decref(h->sent);
}

/* Tests ---------------------------------------------------------------------- */

static void cancel_suppresses_response_and_ping_still_answers(void **state)
{
    struct harness h;
    setup_harness(&h, 50, 1000, "{}");
    in(&h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"slo"
        "w\"}}");
    for (int i = 0; i < 1000 && !atomic_load(&slow_running); i++)
        sleep_ms(1);
    assert_true(atomic_load(&slow_running));
    in(&h, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
    assert_non_null(reply_to(&h, 2)); /* answered while the slow tool runs */
    in(&h, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestI"
        "d\":1}}");
    assert_int_equal(pw_mcp_session_inflight(h.s), 0);
    pump(&h, 300, 0);
    assert_null(reply_to(&h, 1));
    teardown_harness(&h);
}

static void sampling_round_trip(void **state)
{
    struct harness h;
    setup_harness(&h, 50, 5000, "{\"sampling\":{}}");
    in(&h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"as"
        "k\"}}");
    json_t *req = find_method(&h, "sampling/createMessage");
    assert_non_null(req);
    char resp[256];
    snprintf(resp, sizeof resp, "{\"jsonrpc\":\"2.0\",\"id\":%" JSON_INTEGER_FORMAT ",\"result\":{"
             "\"role\":\"assistant\",\"content\":{\"type\":\"text\",\"text\":\"sampled!\"},"
             "\"model\":\"m\"}}", json_integer_value(json_object_get(req, "id")));
    in(&h, resp);
    json_t *r = reply_to(&h, 1);
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(json_array_get(
        json_object_get(json_object_get(r, "result"), "content"), 0), "text")), "sampled!");
    teardown_harness(&h);
}

static void sampling_needs_capability(void **state)
{
    struct harness h;
    setup_harness(&h, 50, 5000, "{}");
    in(&h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"as"
        "k\"}}");
    assert_null(find_method(&h, "sampling/createMessage"));
    json_t *r = json_object_get(reply_to(&h, 1), "result");
    assert_true(json_is_true(json_object_get(r, "isError")));
    teardown_harness(&h);
}

static void sampling_times_out(void **state)
{
    struct harness h;
    setup_harness(&h, 50, 30, "{\"sampling\":{}}");
    in(&h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"as"
        "k\"}}");
    assert_true(pw_mcp_server_timeout_ms(h.srv) >= 0);
    pump(&h, 500, 0);
    assert_non_null(find_method(&h, "notifications/cancelled"));
    json_t *r = json_object_get(reply_to(&h, 1), "result");
    assert_true(json_is_true(json_object_get(r, "isError")));
    assert_int_equal(pw_mcp_server_timeout_ms(h.srv), -1);
    teardown_harness(&h);
}

static void pagination_walks_every_tool_once(void **state)
{
    struct harness h;
    setup_harness(&h, 2, 1000, "{}");
    const char *names[3] = {0};
    size_t n = 0;
    char req[512] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}";
    for (json_int_t id = 1; id < 10; id++) {
        in(&h, req);
        json_t *res = json_object_get(reply_to(&h, id), "result");
        assert_non_null(res);
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(res, "tool"
            "s"), i, t) names[n++] = json_string_value(json_object_get(t, "name"));
        json_t *next = json_object_get(res, "nextCursor");
        if (!next)
            break;
        snprintf(req, sizeof req, "{\"jsonrpc\":\"2.0\",\"id\":%" JSON_INTEGER_FORMAT
                 ",\"method\":\"tools/list\",\"params\":{\"cursor\":\"%s\"}}", id + 1,
                 json_string_value(next));
    }
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "slow");
    assert_string_equal(names[1], "ask");
    assert_string_equal(names[2], "echo");
    teardown_harness(&h);
}

static void list_changed_after_registration(void **state)
{
    struct harness h;
    setup_harness(&h, 50, 1000, "{}");
    struct pw_mcp_tool t = {.name = "late", .description = "d", .input_schema = obj_schema,
                            .handler = echo};
    assert_int_equal(pw_mcp_server_add_tool(h.srv, &t, NULL), PW_OK);
    assert_non_null(find_method(&h, "notifications/tools/list_changed"));
    assert_int_equal(pw_mcp_server_add_tool(h.srv, &t, NULL), PW_ERR_INVALID);
    teardown_harness(&h);
}

static void *post_update(void *arg)
{
    pw_mcp_server_resource_updated(arg, "test://thing");
    return NULL;
}

static void update_from_another_thread(void **state)
{
    struct harness h;
    setup_harness(&h, 50, 1000, "{}");
    in(&h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/subscribe\",\"params\":{\"ur"
        "i\":\"test://thing\"}}");
    assert_non_null(reply_to(&h, 1));
    pthread_t th;
    pthread_create(&th, NULL, post_update, h.srv);
    pthread_join(th, NULL);
    assert_null(find_method(&h, "notifications/resources/updated"));
    pump(&h, 100, 0);
    json_t *n = find_method(&h, "notifications/resources/updated");
    assert_non_null(n);
    assert_string_equal(json_string_value(json_object_get(json_object_get(n, "params"), "uri")),
                        "test://thing");
    teardown_harness(&h);
}

static void free_session_mid_call(void **state)
{
    struct harness h;
    setup_harness(&h, 50, 1000, "{\"sampling\":{}}");
    in(&h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"slo"
        "w\"}}");
    in(&h, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"as"
        "k\"}}");
    assert_int_equal(pw_mcp_session_inflight(h.s), 2);
    size_t before = json_array_size(h.sent);
    pw_mcp_session_free(h.s);
    h.s = NULL;
    pump(&h, 50, 0);
    assert_int_equal(json_array_size(h.sent), before); /* nothing sent after free */
    pw_mcp_server_free(h.srv);
    json_decref(h.sent);
}

static void arguments_validated_against_schema(void **state)
{
    struct harness h;
    setup_harness(&h, 50, 1000, "{}");
    struct pw_mcp_tool t = {.name = "typed", .description = "d",
                            .input_schema = "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":"
                                            "\"integer\"}},\"required\":[\"n\"]}",
                            .handler = echo};
    assert_int_equal(pw_mcp_server_add_tool(h.srv, &t, NULL), PW_OK);
    in(&h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"typ"
        "ed\",\"arguments\":{\"n\":\"x\"}}}");
    json_t *r = json_object_get(reply_to(&h, 1), "result");
    assert_true(json_is_true(json_object_get(r, "isError")));
    const char *text = json_string_value(json_object_get(json_array_get(json_object_get(r, "co"
        "ntent"), 0), "text"));
    assert_non_null(strstr(text, "n:"));
    in(&h, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"typ"
        "ed\",\"arguments\":{\"n\":3}}}");
    r = json_object_get(reply_to(&h, 2), "result");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "structuredConten"
        "t"), "n")), 3);
    struct pw_mcp_tool bad = {.name = "bad", .description = "d", .input_schema = "[1]",
                              .handler = echo};
    assert_int_equal(pw_mcp_server_add_tool(h.srv, &bad, NULL), PW_ERR_INVALID);
    teardown_harness(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cancel_suppresses_response_and_ping_still_answers),
        cmocka_unit_test(sampling_round_trip),
        cmocka_unit_test(sampling_needs_capability),
        cmocka_unit_test(sampling_times_out),
        cmocka_unit_test(pagination_walks_every_tool_once),
        cmocka_unit_test(list_changed_after_registration),
        cmocka_unit_test(update_from_another_thread),
        cmocka_unit_test(free_session_mid_call),
        cmocka_unit_test(arguments_validated_against_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
