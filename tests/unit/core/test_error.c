/*
 * Unit tests for core/error.c: first error wins, NULL is accepted, and the
 * protocol mappings hold for the codes the protocols rely on.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "pennyworth/error.h"

static void first_error_wins(void **state)
{
    struct pw_error e;
    pw_error_clear(&e);
    assert_int_equal(pw_error_set(&e, PW_ERR_INVALID, "/limit", "limit: %d is over 50", 99),
                     PW_ERR_INVALID);
    pw_error_set(&e, PW_ERR_INTERNAL, NULL, "later");
    assert_int_equal(e.code, PW_ERR_INVALID);
    assert_string_equal(e.message, "limit: 99 is over 50");
    assert_string_equal(e.pointer, "/limit");
}

static void null_error_is_fine(void **state)
{
    assert_int_equal(pw_error_set(NULL, PW_ERR_NOMEM, NULL, "x"), PW_ERR_NOMEM);
}

static void mappings(void **state)
{
    assert_int_equal(pw_err_jsonrpc_code(PW_ERR_PARSE), -32700);
    assert_int_equal(pw_err_jsonrpc_code(PW_ERR_METHOD), -32601);
    assert_int_equal(pw_err_jsonrpc_code(PW_ERR_INVALID), -32602);
    assert_int_equal(pw_err_jsonrpc_code(PW_ERR_INTERNAL), -32603);
    assert_int_equal(pw_err_http_status(PW_ERR_RATE_LIMITED), 429);
    assert_int_equal(pw_err_http_status(PW_ERR_TOO_LARGE), 413);
    assert_string_equal(pw_err_openai_type(PW_ERR_AUTH), "authentication_error");
    assert_string_equal(pw_err_name(PW_ERR_NOT_FOUND), "not_found");
    assert_string_equal(pw_err_name((enum pw_err)-999), "internal");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_error_wins),
        cmocka_unit_test(null_error_is_fine),
        cmocka_unit_test(mappings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
