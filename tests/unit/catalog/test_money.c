/*
 * Unit tests for catalog/money.c: decimal prices become minor units exactly
 * (table-driven, including the values floats get wrong), formatting is the
 * inverse, and availability spellings and stock thresholds map as documented.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "catalog/catalog-int.h"
#include "testutil.h"

static const struct {
    const char *text;
    const char *currency;
    int64_t minor;      /* expected, when reason is NULL */
    const char *reason; /* expected failure */
} prices[] = {
    {"19.99", "USD", 1999, NULL},
    {"0.29", "USD", 29, NULL},          /* 0.29 * 100 = 28.999999999999996 in binary */
    {"1.005e1", "USD", 1005, NULL},
    {"4.35", "USD", 435, NULL},         /* 434.99999999999994 */
    {"100", "USD", 10000, NULL},
    {" 7.5 ", "USD", 750, NULL},
    {"+3", "USD", 300, NULL},
    {".5", "USD", 50, NULL},
    {"5.", "USD", 500, NULL},
    {"19.9900000", "USD", 1999, NULL},
    {"0000012.50", "USD", 1250, NULL},
    {"0", "USD", 0, NULL},
    {"1e2", "USD", 10000, NULL},
    {"1234.5e-1", "USD", 12345, NULL},
    {"1234.5e-2", "USD", 0, "has more decimal places than the currency allows"},
    {"500", "JPY", 500, NULL},
    {"1.234", "KWD", 1234, NULL},
    {"12.5", "JPY", 0, "has decimals but the currency has no minor unit"},
    {"19.999", "USD", 0, "has more decimal places than the currency allows"},
    {"-1", "USD", 0, "negative"},
    {"-0.01", "USD", 0, "negative"},
    {"abc", "USD", 0, "not a number"},
    {"", "USD", 0, "not a number"},
    {"1.2.3", "USD", 0, "not a number"},
    {"12 USD", "USD", 0, "not a number"},
    {"1e", "USD", 0, "not a number"},
    {"0x10", "USD", 0, "not a number"},
    {"nan", "USD", 0, "not a number"},
    {"99999999999999999999", "USD", 0, "too large"},
    {"1e300", "USD", 0, "too large"},
};

/* One parse outcome against its expectation: `want_reason` NULL means it
 * must succeed with `want`, otherwise fail with exactly that reason. */
static void expect(const char *text, bool ok, int64_t minor, const char *reason, int64_t want,
                   const char *want_reason)
{
    if (want_reason) {
        if (ok)
            fail_msg("'%s' parsed as %lld, expected failure", text, (long long)minor);
        assert_string_equal(reason, want_reason);
    } else {
        if (!ok)
            fail_msg("'%s' failed: %s", text, reason);
        assert_int_equal(minor, want);
    }
}

static void decimal_prices_are_exact(void **state)
{
    for (size_t i = 0; i < sizeof prices / sizeof prices[0]; i++) {
        int64_t minor = -1;
        const char *reason = NULL;
        int exponent = catalog_currency_exponent(prices[i].currency);
        bool ok = catalog_parse_decimal(prices[i].text, exponent, &minor, &reason);
        expect(prices[i].text, ok, minor, reason, prices[i].minor, prices[i].reason);
    }
}

static void public_price_parse(void **state)
{
    int64_t minor = 0;
    struct pw_error err = {0};
    assert_int_equal(pw_catalog_price_parse("19.99", NULL, &minor, &err), PW_OK);
    assert_int_equal(minor, 1999);
    assert_int_equal(pw_catalog_price_parse("1.5", "JPY", &minor, &err), PW_ERR_INVALID);
    assert_string_equal(err.message, "price: has decimals but the currency has no minor unit");
}

/* Prices that arrive as JSON numbers (MCP tool arguments, import rows):
 * jansson holds 19.99 as the double 19.989999999999998, and
 * llround(x * 100) is where such values used to go wrong (0.29 * 100 is
 * 28.999999999999996, 1.005 * 100 is 100.49999999999999). Each must come
 * out as the decimal that was written, in the currency's own minor units. */
static void json_number_prices(void **state)
{
    static const struct {
        const char *json;
        const char *currency;
        int64_t minor;
        const char *reason;
    } cases[] = {
        {"19.99", "USD", 1999, NULL},
        {"0.29", "USD", 29, NULL},
        {"4.35", "USD", 435, NULL},
        {"1.005", "USD", 0, "has more decimal places than the currency allows"},
        {"1.005", "KWD", 1005, NULL},
        {"19.99", NULL, 1999, NULL}, /* NULL is USD */
        {"1500", "JPY", 1500, NULL},
        {"1500.0", "JPY", 1500, NULL},
        {"1500.5", "JPY", 0, "has decimals but the currency has no minor unit"},
        {"19.99", "JPY", 0, "has decimals but the currency has no minor unit"},
        {"1e3", "JPY", 1000, NULL},
        {"2.5e1", "USD", 2500, NULL},
        {"0.30000000000000004", "USD", 0, "has more decimal places than the currency allows"},
        {"1e300", "USD", 0, "too large"},
        {"12345678901234", "USD", 1234567890123400, NULL},
        {"\"19.99\"", "USD", 0, "not a number"}, /* the schema takes numbers only */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        int64_t minor = -1;
        const char *reason = NULL;
        bool ok = catalog_price_from_json(v, cases[i].currency, &minor, &reason);
        json_decref(v);
        expect(cases[i].json, ok, minor, reason, cases[i].minor, cases[i].reason);
    }
}

/* The decimal text itself: the shortest that reads back as the same double. */
static void json_decimal_text(void **state)
{
    char buf[64];
    json_t *v = json_real(19.99);
    assert_true(catalog_json_decimal(v, buf, sizeof buf));
    assert_string_equal(buf, "19.99");
    json_decref(v);
    v = json_real(0.1 + 0.2);
    assert_true(catalog_json_decimal(v, buf, sizeof buf));
    assert_string_equal(buf, "0.30000000000000004");
    json_decref(v);
    v = json_integer(42);
    assert_true(catalog_json_decimal(v, buf, sizeof buf));
    assert_string_equal(buf, "42");
    json_decref(v);
    v = json_string("42");
    assert_false(catalog_json_decimal(v, buf, sizeof buf));
    json_decref(v);
}

static void formatting(void **state)
{
    char buf[64];
    catalog_format_money(999, "USD", buf, sizeof buf);
    assert_string_equal(buf, "9.99 USD");
    catalog_format_money(5, "EUR", buf, sizeof buf);
    assert_string_equal(buf, "0.05 EUR");
    catalog_format_money(1500, "JPY", buf, sizeof buf);
    assert_string_equal(buf, "1500 JPY");
    catalog_format_money(1234, "KWD", buf, sizeof buf);
    assert_string_equal(buf, "1.234 KWD");
    catalog_format_decimal(1399999, 2, buf, sizeof buf);
    assert_string_equal(buf, "13999.99");
}

static void availability(void **state)
{
    assert_string_equal(catalog_availability_parse("In Stock"), "in-stock");
    assert_string_equal(catalog_availability_parse("Low Stock"), "limited");
    assert_string_equal(catalog_availability_parse("Out of Stock"), "out-of-stock");
    assert_string_equal(catalog_availability_parse("out_of_stock"), "out-of-stock");
    assert_string_equal(catalog_availability_parse("LIMITED"), "limited");
    assert_null(catalog_availability_parse("backorder"));
    assert_null(catalog_availability_parse(""));
    assert_null(catalog_availability_parse("in stock but a very long spelling indeed"));
    assert_string_equal(catalog_availability_from_stock(0), "out-of-stock");
    assert_string_equal(catalog_availability_from_stock(1), "limited");
    assert_string_equal(catalog_availability_from_stock(5), "limited");
    assert_string_equal(catalog_availability_from_stock(6), "in-stock");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decimal_prices_are_exact),
        cmocka_unit_test(public_price_parse),
        cmocka_unit_test(json_number_prices),
        cmocka_unit_test(json_decimal_text),
        cmocka_unit_test(formatting),
        cmocka_unit_test(availability),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
