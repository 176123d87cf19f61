/*
 * Tests for bridge/context.c: catalog context through the in-process MCP
 * session, against a real catalog (the demo data) served by the real engine
 * with the catalog's tools registered, so tools run on the engine's worker
 * threads exactly as in `pennyworth serve`.
 *
 * The test is its own loop: the MCP waker and the context's wake both write
 * an eventfd, and `run` polls it, then calls pw_mcp_server_dispatch and
 * bridge_context_dispatch, until the awaited callbacks have run. The wait
 * is bounded by a count of wake-ups, not by a clock.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fixture_dir.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bridge/context.h"
#include "pennyworth/catalog.h"
#include "pennyworth/catalog_mcp.h"
#include "testutil.h"

struct world {
    char *dir;
    struct pw_mcp_server *srv;
    struct pw_catalog_mcp *cm;
    struct bridge_context *ctx;
    int efd;
};

struct result {
    int calls;
    json_t *products; /* search */
    char *text;       /* call */
    json_t *ids;
    struct pw_error err;
};

static void wake(void *ud)
{
    struct world *w = ud;
    uint64_t one = 1;
    ssize_t n = write(w->efd, &one, sizeof one);
    (void)n;
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->dir = tu_tmpdir();
    pw_catalog_close(tu_open_demo(w->dir, "catalog.db"));
    char *db = tu_path(w->dir, "catalog.db");
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(w->efd >= 0);
    const struct pw_mcp_server_options opt = {.name = "test", .version = "1"};
    struct pw_error err;
    pw_error_clear(&err);
    assert_int_equal(pw_mcp_server_new(&opt, &w->srv, &err), PW_OK);
    pw_mcp_server_set_waker(w->srv, wake, w);
    if (pw_catalog_mcp_register(w->srv, db, &w->cm, &err) != PW_OK)
        fail_msg("register: %s", err.message);
    free(db);
    if (bridge_context_new(w->srv, wake, w, &w->ctx, &err) != PW_OK)
        fail_msg("context: %s", err.message);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    bridge_context_free(w->ctx);
    pw_mcp_server_free(w->srv);
    pw_catalog_mcp_free(w->cm);
    close(w->efd);
    tu_rmdir(w->dir);
    free(w);
    return 0;
}

/* Runs the loop until *calls reaches `want` (bounded by wake-ups). */
static void run(struct world *w, const int *calls, int want)
{
    for (int rounds = 0; *calls < want; rounds++) {
        if (rounds > 500)
            fail_msg("gave up waiting for %d callbacks (have %d)", want, *calls);
        struct pollfd pfd = {w->efd, POLLIN, 0};
        if (poll(&pfd, 1, 100) > 0) {
            uint64_t n;
            ssize_t got = read(w->efd, &n, sizeof n);
            (void)got;
        }
        pw_mcp_server_dispatch(w->srv);
        bridge_context_dispatch(w->ctx);
    }
}

static void on_search(void *ud, json_t *products, const struct pw_error *err)
{
    struct result *r = ud;
    r->calls++;
    r->products = json_incref(products);
    if (err)
        r->err = *err;
}

static void on_call(void *ud, const char *text, json_t *ids, const struct pw_error *err)
{
    struct result *r = ud;
    r->calls++;
    r->text = text ? strdup(text) : NULL;
    r->ids = json_incref(ids);
    if (err)
        r->err = *err;
}

static void result_clear(struct result *r)
{
    json_decref(r->products);
    json_decref(r->ids);
    free(r->text);
    memset(r, 0, sizeof *r);
}

static void tools_are_offered_prefixed(void **state)
{
    struct world *w = *state;
    json_t *tools = bridge_context_tools(w->ctx);
    assert_true(json_array_size(tools) >= 5);
    bool seen = false;
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        json_t *fn = json_object_get(t, "function");
        const char *name = json_string_value(json_object_get(fn, "name"));
        assert_string_equal(json_string_value(json_object_get(t, "type")), "function");
        assert_memory_equal(name, BRIDGE_CONTEXT_TOOL_PREFIX,
                            strlen(BRIDGE_CONTEXT_TOOL_PREFIX));
        assert_true(json_is_object(json_object_get(fn, "parameters")));
        assert_non_null(json_string_value(json_object_get(fn, "description")));
        assert_true(bridge_context_owns(w->ctx, name));
        if (strcmp(name, "pennyworth_search_products") == 0)
            seen = true;
    }
    assert_true(seen);
    assert_false(bridge_context_owns(w->ctx, "search_products"));
    assert_false(bridge_context_owns(w->ctx, "pennyworth_nope"));
    assert_false(bridge_context_owns(w->ctx, NULL));
}

static void search_finds_products(void **state)
{
    struct world *w = *state;
    struct result r = {0};
    struct bridge_context_op *op = NULL;
    assert_int_equal(bridge_context_search(w->ctx, "mascara", 3, on_search, &r, &op, NULL),
                     PW_OK);
    assert_non_null(op);
    assert_int_equal(r.calls, 0); /* never from inside the call */
    run(w, &r.calls, 1);
    assert_int_equal(r.calls, 1);
    assert_true(json_is_array(r.products));
    assert_true(json_array_size(r.products) >= 1 && json_array_size(r.products) <= 3);
    json_t *first = json_array_get(r.products, 0);
    assert_non_null(strstr(json_string_value(json_object_get(first, "name")), "Mascara"));

    char *msg = bridge_context_message(r.products);
    char *ids = bridge_context_ids(r.products);
    char line[200];
    snprintf(line, sizeof line, "- [%s] %s", json_string_value(json_object_get(first, "id")),
             json_string_value(json_object_get(first, "name")));
    assert_non_null(strstr(msg, line));
    assert_non_null(strstr(msg, "cite each product"));
    assert_non_null(strstr(msg, "; price: "));
    assert_non_null(strstr(msg, "; availability: "));
    assert_memory_equal(ids, json_string_value(json_object_get(first, "id")),
                        strlen(json_string_value(json_object_get(first, "id"))));
    free(msg);
    free(ids);
    result_clear(&r);

    /* nothing matches: an empty list, and nothing to inject */
    assert_int_equal(bridge_context_search(w->ctx, "zqxjvwk", 5, on_search, &r, NULL, NULL),
                     PW_OK);
    run(w, &r.calls, 1);
    assert_int_equal(json_array_size(r.products), 0);
    assert_null(bridge_context_message(r.products));
    char *none = bridge_context_ids(r.products);
    assert_string_equal(none, "");
    free(none);
    result_clear(&r);

    /* a long query is cut to the tool's bound, not refused */
    char long_q[2000];
    memset(long_q, 'a', sizeof long_q - 1);
    long_q[sizeof long_q - 1] = '\0';
    assert_int_equal(bridge_context_search(w->ctx, long_q, 5, on_search, &r, NULL, NULL),
                     PW_OK);
    run(w, &r.calls, 1);
    assert_int_equal(r.err.code, PW_OK);
    result_clear(&r);

    /* fails now, never calls back */
    assert_int_equal(bridge_context_search(w->ctx, "", 5, on_search, &r, NULL, NULL),
                     PW_ERR_INVALID);
    assert_int_equal(bridge_context_search(w->ctx, "x", 0, on_search, &r, NULL, NULL),
                     PW_ERR_INVALID);
    assert_int_equal(r.calls, 0);
}

static void calls_run_tools(void **state)
{
    struct world *w = *state;
    struct result s = {0}, r = {0};
    assert_int_equal(bridge_context_search(w->ctx, "lipstick", 1, on_search, &s, NULL, NULL),
                     PW_OK);
    run(w, &s.calls, 1);
    const char *id = json_string_value(json_object_get(json_array_get(s.products, 0), "id"));
    assert_non_null(id);
    char args[200];
    snprintf(args, sizeof args, "{\"id\":\"%s\"}", id);
    assert_int_equal(bridge_context_call(w->ctx, "pennyworth_get_product", args, on_call, &r,
                                         NULL, NULL), PW_OK);
    run(w, &r.calls, 1);
    assert_non_null(r.text);
    assert_null(strstr(r.text, "error:"));
    assert_int_equal(json_array_size(r.ids), 1);
    assert_string_equal(json_string_value(json_array_get(r.ids, 0)), id);
    result_clear(&r);

    /* a search through the tool names its products */
    assert_int_equal(bridge_context_call(w->ctx, "pennyworth_search_products",
                                         "{\"query\":\"lipstick\",\"limit\":2}", on_call, &r,
                                         NULL, NULL), PW_OK);
    run(w, &r.calls, 1);
    assert_true(json_array_size(r.ids) >= 1);
    result_clear(&r);

    /* a missing product is the tool's error, readable by the model */
    assert_int_equal(bridge_context_call(w->ctx, "pennyworth_get_product", "{\"id\":\"nope\"}",
                                         on_call, &r, NULL, NULL), PW_OK);
    run(w, &r.calls, 1);
    assert_memory_equal(r.text, "error: ", 7);
    assert_int_equal(json_array_size(r.ids), 0);
    result_clear(&r);
    result_clear(&s);
}

/* Arguments the engine refuses at once, or that are not JSON: the answer
 * still comes through dispatch, as a text the model can act on. */
static void bad_arguments_answer_later(void **state)
{
    struct world *w = *state;
    static const char *const bad[] = {"{\"id\": 5}", "{not json", "[1]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct result r = {0};
        assert_int_equal(bridge_context_call(w->ctx, "pennyworth_get_product", bad[i], on_call,
                                             &r, NULL, NULL), PW_OK);
        assert_int_equal(r.calls, 0);
        run(w, &r.calls, 1);
        assert_non_null(r.text);
        assert_memory_equal(r.text, "error: ", 7);
        result_clear(&r);
    }
    /* arguments left out mean {} (list_categories takes none) */
    struct result r = {0};
    assert_int_equal(bridge_context_call(w->ctx, "pennyworth_list_categories", NULL, on_call,
                                         &r, NULL, NULL), PW_OK);
    run(w, &r.calls, 1);
    assert_null(strstr(r.text, "error:"));
    result_clear(&r);

    struct pw_error err;
    pw_error_clear(&err);
    assert_int_equal(bridge_context_call(w->ctx, "get_product", "{}", on_call, &r, NULL, &err),
                     PW_ERR_NOT_FOUND);
    assert_int_equal(r.calls, 0);
}

static void cancelled_ops_stay_quiet(void **state)
{
    struct world *w = *state;
    struct result a = {0}, b = {0}, c = {0};
    struct bridge_context_op *op_a = NULL, *op_c = NULL;
    assert_int_equal(bridge_context_search(w->ctx, "mascara", 5, on_search, &a, &op_a, NULL),
                     PW_OK);
    /* answered at once (bad arguments), cancelled before dispatch */
    assert_int_equal(bridge_context_call(w->ctx, "pennyworth_get_product", "{", on_call, &c,
                                         &op_c, NULL), PW_OK);
    bridge_context_cancel(op_a);
    bridge_context_cancel(op_c);
    assert_int_equal(bridge_context_search(w->ctx, "lipstick", 5, on_search, &b, NULL, NULL),
                     PW_OK);
    run(w, &b.calls, 1);
    assert_int_equal(a.calls, 0);
    assert_int_equal(c.calls, 0);
    result_clear(&b);

    /* freeing with work in flight: no callback, nothing leaks (ASan) */
    assert_int_equal(bridge_context_search(w->ctx, "mascara", 5, on_search, &a, NULL, NULL),
                     PW_OK);
    bridge_context_free(w->ctx);
    struct pw_error err;
    pw_error_clear(&err);
    assert_int_equal(bridge_context_new(w->srv, wake, w, &w->ctx, &err), PW_OK);
    for (int i = 0; i < 3; i++)
        pw_mcp_server_dispatch(w->srv);
    assert_int_equal(a.calls, 0);
}

static void user_text(void **state)
{
    static const struct {
        const char *messages;
        const char *want;
    } rows[] = {
        {"[{\"role\":\"user\",\"content\":\"red lipstick\"}]", "red lipstick"},
        {"[{\"role\":\"user\",\"content\":\"old\"},{\"role\":\"assistant\",\"content\":\"a\"},"
         "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"cheap\"},"
         "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:x\"}},"
         "{\"type\":\"text\",\"text\":\"mascara\"}]},{\"role\":\"tool\",\"content\":\"t\"}]",
         "cheap mascara"},
        {"[{\"role\":\"user\",\"content\":\"earlier\"},{\"role\":\"user\",\"content\":[{\"type\":"
         "\"image_url\",\"image_url\":{\"url\":\"data:x\"}}]}]", "earlier"},
        {"[{\"role\":\"user\",\"content\":\"  \"}]", NULL},
        {"[{\"role\":\"system\",\"content\":\"s\"}]", NULL},
        {"{}", NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *m = json_loads(rows[i].messages, 0, NULL);
        assert_non_null(m);
        char *got = bridge_context_user_text(m);
        if (rows[i].want)
            assert_string_equal(got, rows[i].want);
        else
            assert_null(got);
        free(got);
        json_decref(m);
    }
}

static void message_shape(void **state)
{
    json_t *products = json_loads(
        "[{\"id\":\"p1\",\"name\":\"Ridge 3\",\"brand\":\"Trailco\",\"price\":{\"amountMinor\":"
        "12999,\"currency\":\"EUR\",\"formatted\":\"€129.99\"},\"availability\":\"in-stock\","
        "\"rating\":4.56},{\"id\":\"p2\",\"name\":\"Plain\",\"brand\":null,\"price\":"
        "{\"amountMinor\":505,\"currency\":\"USD\"},\"availability\":\"limited\"}]", 0, NULL);
    char *msg = bridge_context_message(products);
    assert_non_null(strstr(msg, "e.g. [p1]"));
    assert_non_null(strstr(msg, "\n- [p1] Ridge 3; brand: Trailco; price: €129.99; "
                                "availability: in-stock; rating: 4.6/5\n"));
    assert_non_null(strstr(msg, "\n- [p2] Plain; price: 5.05 USD; availability: limited\n"));
    char *ids = bridge_context_ids(products);
    assert_string_equal(ids, "p1, p2");
    free(msg);
    free(ids);
    json_decref(products);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(tools_are_offered_prefixed, setup, teardown),
        cmocka_unit_test_setup_teardown(search_finds_products, setup, teardown),
        cmocka_unit_test_setup_teardown(calls_run_tools, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_arguments_answer_later, setup, teardown),
        cmocka_unit_test_setup_teardown(cancelled_ops_stay_quiet, setup, teardown),
        cmocka_unit_test(user_text),
        cmocka_unit_test(message_shape),
    };
    return cmocka_run_group_tests_name("context", tests, NULL, NULL);
}
