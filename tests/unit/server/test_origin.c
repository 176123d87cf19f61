/*
 * Unit tests for server/origin.c: which Origin header values the MCP
 * endpoints accept (DNS-rebinding protection), including the look-alikes
 * that must be refused.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "server/server-int.h"

static void absent_and_loopback(void **state)
{
    assert_true(server_origin_allowed(NULL, NULL, 0));
    const char *ok[] = {"http://localhost", "http://localhost:3000", "https://localhost:8443",
                        "http://127.0.0.1", "http://127.0.0.1:65535", "https://[::1]",
                        "http://[::1]:8080", "HTTP://LOCALHOST:1"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_true(server_origin_allowed(ok[i], NULL, 0));
}

static void look_alikes(void **state)
{
    const char *no[] = {"null", "", "http://localhost.evil.example", "http://127.0.0.1.nip.io",
                        "http://evil.example", "ftp://localhost", "http://localhost:",
                        "http://localhost:123456", "http://localhost:80/path",
                        "http://localhost@evil.example", "http://[::1", "http://[::2]:80",
                        "localhost", "http://localhost:80x", "https://127.0.0.10"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(server_origin_allowed(no[i], NULL, 0));
}

static void configured(void **state)
{
    char a[] = "https://shop.example", b[] = "http://intranet:9000";
    char *extra[] = {a, b};
    assert_true(server_origin_allowed("https://shop.example", extra, 2));
    assert_true(server_origin_allowed("HTTPS://SHOP.EXAMPLE", extra, 2));
    assert_true(server_origin_allowed("http://intranet:9000", extra, 2));
    assert_false(server_origin_allowed("http://intranet:9001", extra, 2));
    assert_false(server_origin_allowed("https://shop.example.evil", extra, 2));
    char star[] = "*";
    char *any[] = {star};
    assert_true(server_origin_allowed("https://anything.example", any, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(absent_and_loopback),
        cmocka_unit_test(look_alikes),
        cmocka_unit_test(configured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
