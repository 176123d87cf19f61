/*
 * Unit tests for pw_catalog_complete (catalog/read.c): prefixes match
 * case-insensitively, results are distinct and sorted, `total` counts all
 * matches beyond the limit, and LIKE's wildcards in a prefix are literal.
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

static struct pw_catalog *cat;
static char *dir;

static int setup(void **state)
{
    dir = tu_tmpdir();
    cat = tu_open_demo(dir, "complete.db");
    return 0;
}

static int teardown(void **state)
{
    pw_catalog_close(cat);
    tu_rmdir(dir);
    return 0;
}

/* The completions joined by ",", and the total. */
static void check(enum pw_catalog_field field, const char *prefix, int limit,
                  const char *expected, int expected_total)
{
    json_t *out = NULL;
    int total = -1;
    struct pw_error err = {0};
    assert_int_equal(pw_catalog_complete(cat, field, prefix, limit, &out, &total, &err), PW_OK);
    char joined[1024] = "";
    size_t i, n = 0;
    json_t *v;
    json_array_foreach(out, i, v)
        n += (size_t)snprintf(joined + n, sizeof joined - n, "%s%s", i ? "," : "",
                              json_string_value(v));
    if (strcmp(joined, expected) != 0)
        fail_msg("complete '%s': got '%s', expected '%s'", prefix, joined, expected);
    assert_int_equal(total, expected_total);
    json_decref(out);
}

static void categories(void **state)
{
    check(PW_FIELD_CATEGORY, "sm", 10, "smartphones", 1);
    check(PW_FIELD_CATEGORY, "SM", 10, "smartphones", 1);
    check(PW_FIELD_CATEGORY, "womens-", 10,
          "womens-bags,womens-dresses,womens-jewellery,womens-shoes,womens-watches", 5);
    check(PW_FIELD_CATEGORY, "womens-", 2, "womens-bags,womens-dresses", 5);
    check(PW_FIELD_CATEGORY, "", 3, "beauty,fragrances,furniture", 24);
    check(PW_FIELD_CATEGORY, "zzz", 10, "", 0);
}

static void brands(void **state)
{
    check(PW_FIELD_BRAND, "app", 10, "Apple", 1);
    check(PW_FIELD_BRAND, "fashion", 10,
          "Fashion Co.,Fashion Diva,Fashion Express,Fashion Fun,Fashion Gold,Fashion Shades,"
          "Fashion Timepieces,Fashion Trends,Fashionista",
          9);
    check(PW_FIELD_BRAND, "Dolce &", 10, "Dolce & Gabbana", 1);
}

static void ids(void **state)
{
    check(PW_FIELD_ID, "19", 10, "19,190,191,192,193,194", 6);
    check(PW_FIELD_ID, "1", 3, "1,10,100", 106); /* 1, 10-19, 100-194 */
}

static void wildcards_are_literal(void **state)
{
    check(PW_FIELD_BRAND, "%", 10, "", 0);
    check(PW_FIELD_BRAND, "_", 10, "", 0);
    check(PW_FIELD_CATEGORY, "s_", 10, "", 0);
    check(PW_FIELD_ID, "\\", 10, "", 0);
    check(PW_FIELD_BRAND, "Fashion%", 10, "", 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(categories),
        cmocka_unit_test(brands),
        cmocka_unit_test(ids),
        cmocka_unit_test(wildcards_are_literal),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
