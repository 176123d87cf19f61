/*
 * Prices and money: the built-in table's look-ups (exact, dated, region
 * prefixed), costs in integer micro-dollars, configuration overrides, and
 * dollars as text both ways.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "testutil.h"

static void builtin_table(void **state)
{
    char *dir = at_tmpdir();
    struct pw_access *acc = at_open(dir, NULL, NULL, false);
    /* gpt-4o: 2.50 in, 1.25 cached, 10.00 out per million. */
    assert_int_equal(pw_access_cost(acc, "gpt-4o", 1000000, 0, 0), 2500000);
    assert_int_equal(pw_access_cost(acc, "gpt-4o", 1000000, 1000000, 400000),
                     600000 * 2500000LL / 1000000 + 400000 * 1250000LL / 1000000 + 10000000);
    assert_int_equal(pw_access_cost(acc, "gpt-4o-2024-08-06", 1000, 0, 0), 2500);
    assert_int_equal(pw_access_cost(acc, "gpt-4o-mini-2024-07-18", 1000000, 0, 0), 150000);
    assert_int_equal(pw_access_cost(acc, "openai/gpt-4o-mini", 1000000, 0, 0), 150000);
    assert_int_equal(pw_access_cost(acc, "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
                                    1000, 1000, 0), 3 * 1000 + 15 * 1000);
    assert_int_equal(pw_access_cost(acc, "anthropic.claude-3-haiku-20240307-v1:0", 4, 0, 0),
                     1); /* 4 x 0.25 = 1 micro-dollar */
    assert_int_equal(pw_access_cost(acc, "anthropic.claude-3-haiku-20240307-v1:0", 1, 0, 0),
                     0); /* 0.25 rounds down */
    assert_int_equal(pw_access_cost(acc, "anthropic.claude-3-haiku-20240307-v1:0", 2, 0, 0),
                     1); /* 0.5 rounds half up */
    assert_int_equal(pw_access_cost(acc, "no-such-model", 1000, 1000, 0), 0);
    assert_int_equal(pw_access_cost(acc, NULL, 1000, 1000, 0), 0);
    /* No cached price: cached tokens cost the input price. */
    assert_int_equal(pw_access_cost(acc, "gpt-4-turbo", 1000, 0, 1000), 10000);
    pw_access_close(acc);
    at_rmdir(dir);
}

/* A client chooses the token counts a reservation is priced from
 * (max_tokens): a cost saturates instead of wrapping negative, and the
 * estimate caps what max_tokens asks for. */
static void huge_counts_saturate(void **state)
{
    char *dir = at_tmpdir();
    struct pw_access *acc = at_open(dir, NULL, NULL, false);
    int64_t c = pw_access_cost(acc, "anthropic.claude-3-opus-20240229-v1:0", 0,
                               700000000000LL, 0);
    assert_true(c > 0);
    assert_int_equal(pw_access_cost(acc, "gpt-4o", INT64_MAX, INT64_MAX, 0),
                     INT64_MAX / 1000000);
    json_t *body = json_pack("{s:[{s:s, s:s}], s:I}", "messages", "role", "user", "content",
                             "hi", "max_tokens", (json_int_t)INT64_MAX);
    int64_t est = pw_access_estimate_tokens(body);
    assert_true(est > 0 && est <= 1000000000LL + 16);
    json_decref(body);
    pw_access_close(acc);
    at_rmdir(dir);
}

static void override(void **state)
{
    char *dir = at_tmpdir();
    struct pw_access *acc = at_open(
        dir, NULL,
        "{\"prices\": {\"gpt-4o\": {\"input\": 1, \"output\": 2},"
        " \"house-model\": {\"input\": 0.5, \"output\": 0.75, \"cachedInput\": 0.1}}}",
        false);
    assert_int_equal(pw_access_cost(acc, "gpt-4o", 1000000, 1000000, 0), 3000000);
    assert_int_equal(pw_access_cost(acc, "house-model", 1000000, 1000000, 500000),
                     250000 + 50000 + 750000);
    assert_int_equal(pw_access_cost(acc, "gpt-4o-mini", 1000000, 0, 0), 150000);
    pw_access_close(acc);
    at_rmdir(dir);
}

static void dollars(void **state)
{
    int64_t m = 0;
    assert_true(pw_access_parse_usd("12.5", &m));
    assert_int_equal(m, 12500000);
    assert_true(pw_access_parse_usd("0.000001", &m));
    assert_int_equal(m, 1);
    assert_true(pw_access_parse_usd("100", &m));
    assert_int_equal(m, 100000000);
    const char *bad[] = {"", "-1", "1.", ".5", "1.0000001", "1e3", "12,50", "abc", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(pw_access_parse_usd(bad[i], &m));
    char s[32];
    pw_access_format_usd(12345678, s, sizeof s);
    assert_string_equal(s, "12.345678");
    pw_access_format_usd(0, s, sizeof s);
    assert_string_equal(s, "0.000000");
    pw_access_format_usd(-5, s, sizeof s);
    assert_string_equal(s, "-0.000005");
    int64_t ms;
    assert_true(pw_access_duration_parse("7d", &ms));
    assert_int_equal(ms, 7 * 86400000LL);
    assert_true(pw_access_duration_parse("90s", &ms));
    assert_int_equal(ms, 90000);
    assert_false(pw_access_duration_parse("7", &ms));
    assert_false(pw_access_duration_parse("d", &ms));
    assert_false(pw_access_duration_parse("7dd", &ms));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builtin_table),
        cmocka_unit_test(override),
        cmocka_unit_test(dollars),
        cmocka_unit_test(huge_counts_saturate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
