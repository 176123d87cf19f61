/*
 * Unit tests for server/route.c: exact and prefix rows, and the longest
 * match winning.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "server/server-int.h"

#define ROW(p, f) {.path = (char *)(p), .len = sizeof(p) - 1, .flags = (f)}

static void longest_wins(void **state)
{
    const struct server_route rows[] = {
        ROW("/", PW_SERVER_ROUTE_PREFIX),
        ROW("/mcp", 0),
        ROW("/v1/", PW_SERVER_ROUTE_PREFIX),
        ROW("/v1/models", 0),
    };
    size_t n = sizeof rows / sizeof rows[0];
    assert_ptr_equal(server_route_find(rows, n, "/mcp"), &rows[1]);
    assert_ptr_equal(server_route_find(rows, n, "/mcp/x"), &rows[0]);
    assert_ptr_equal(server_route_find(rows, n, "/v1/chat/completions"), &rows[2]);
    assert_ptr_equal(server_route_find(rows, n, "/v1/models"), &rows[3]);
    assert_ptr_equal(server_route_find(rows, n, "/v1"), &rows[0]);
    assert_ptr_equal(server_route_find(rows, n, "/index.html"), &rows[0]);
}

static void exact_only(void **state)
{
    const struct server_route rows[] = {ROW("/mcp", 0), ROW("/ws", 0)};
    assert_null(server_route_find(rows, 2, "/"));
    assert_null(server_route_find(rows, 2, "/mcpx"));
    assert_null(server_route_find(rows, 2, "/mc"));
    assert_ptr_equal(server_route_find(rows, 2, "/ws"), &rows[1]);
    assert_null(server_route_find(rows, 0, "/mcp"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(longest_wins),
        cmocka_unit_test(exact_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
