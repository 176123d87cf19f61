/*
 * Unit tests for server/addr.c: listen addresses as users write them, and
 * the mistakes that must be refused with a message.
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

static void parse(const char *spec, const char *host, int port)
{
    char h[64] = "unset";
    int p = -1;
    struct pw_error err = {0};
    assert_int_equal(pw_server_parse_listen(spec, h, sizeof h, &p, &err), PW_OK);
    assert_string_equal(h, host);
    assert_int_equal(p, port);
}

static void good(void **state)
{
    parse("127.0.0.1:8080", "127.0.0.1", 8080);
    parse("localhost:0", "localhost", 0);
    parse("[::1]:9000", "::1", 9000);
    parse("[::]", "::", -1);
    parse("0.0.0.0:65535", "0.0.0.0", 65535);
    parse("*:80", "*", 80);
    parse(":8081", "", 8081);
    parse("8082", "unset", 8082);
    parse("example.internal", "example.internal", -1);
}

static void bad(void **state)
{
    const char *specs[] = {"", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:80x", "::1:80",
                           "[::1", "[]:80", "[::1]80", "host:-1", "999999"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        char h[64];
        int p = 0;
        struct pw_error err = {0};
        assert_int_equal(pw_server_parse_listen(specs[i], h, sizeof h, &p, &err), PW_ERR_INVALID);
        assert_true(strlen(err.message) > 0);
    }
    char tiny[4];
    int p;
    assert_int_equal(pw_server_parse_listen("localhost:1", tiny, sizeof tiny, &p, NULL),
                     PW_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good),
        cmocka_unit_test(bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
