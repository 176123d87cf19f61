/*
 * The growable buffer: the NUL kept after the data (also with embedded
 * NULs), printf appends, the `max` bound and its sticky PW_ERR_TOO_LARGE,
 * size_t overflow refused before any allocation, doubling growth, and take
 * leaving a reusable empty buffer.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pennyworth/buf.h"

static void nul_after_data(void **state)
{
    struct pw_buf b;
    pw_buf_init(&b, 0);
    assert_null(b.data);
    assert_string_equal(pw_buf_str(&b), "");
    assert_int_equal(pw_buf_append_str(&b, "abc"), PW_OK);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "abc");
    assert_int_equal(pw_buf_append(&b, "x\0y", 3), PW_OK);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "abcx\0y", 7); /* the seventh byte is the kept NUL */
    assert_int_equal(pw_buf_append(&b, NULL, 0), PW_OK);
    assert_int_equal(b.data[b.len], '\0');
    pw_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void appendf(void **state)
{
    struct pw_buf b = {0};
    assert_int_equal(pw_buf_appendf(&b, "%s=%d", "n", 42), PW_OK);
    assert_int_equal(pw_buf_appendf(&b, "%s", ""), PW_OK);
    assert_int_equal(pw_buf_appendf(&b, ", %05.1f", 2.25), PW_OK);
    assert_string_equal(b.data, "n=42, 002.2");
    assert_int_equal(b.len, strlen("n=42, 002.2"));
    pw_buf_free(&b);
}

/* Many small appends: doubling keeps the number of reallocations
 * logarithmic, so the capacity stays within twice the length. */
static void doubling(void **state)
{
    struct pw_buf b = {0};
    for (int i = 0; i < 10000; i++)
        assert_int_equal(pw_buf_append(&b, "0123456789", 10), PW_OK);
    assert_int_equal(b.len, 100000);
    assert_true(b.cap > b.len && b.cap <= 2 * (b.len + 1));
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(pw_buf_reserve(&b, 0), PW_OK);
    size_t cap = b.cap;
    assert_int_equal(pw_buf_reserve(&b, cap - b.len - 1), PW_OK);
    assert_int_equal(b.cap, cap); /* already fits with its NUL: no growth */
    pw_buf_free(&b);
}

/* Exactly `max` bytes fit; one more is refused, nothing is appended, the
 * error sticks until clear, and take then gives NULL. */
static void bounded(void **state)
{
    struct pw_buf b;
    pw_buf_init(&b, 8);
    assert_int_equal(pw_buf_append_str(&b, "12345"), PW_OK);
    assert_int_equal(pw_buf_append_str(&b, "6789"), PW_ERR_TOO_LARGE);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "12345");
    assert_int_equal(pw_buf_append_str(&b, "6"), PW_ERR_TOO_LARGE); /* sticky */
    assert_int_equal(b.err, PW_ERR_TOO_LARGE);
    assert_true(b.cap <= 9); /* never allocates past the bound */
    pw_buf_clear(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(pw_buf_append_str(&b, "12345678"), PW_OK);
    assert_int_equal(pw_buf_appendf(&b, "%d", 9), PW_ERR_TOO_LARGE);
    assert_string_equal(b.data, "12345678");
    assert_null(pw_buf_take(&b));
    assert_null(b.data);
    assert_int_equal(b.max, 8);
    assert_int_equal(b.err, PW_OK);
    pw_buf_free(&b);
}

/* Sizes that would wrap size_t are refused before realloc is asked. */
static void overflow(void **state)
{
    struct pw_buf b = {0};
    assert_int_equal(pw_buf_append_str(&b, "ab"), PW_OK);
    assert_int_equal(pw_buf_reserve(&b, SIZE_MAX), PW_ERR_TOO_LARGE);
    assert_int_equal(pw_buf_reserve(&b, SIZE_MAX - 2), PW_ERR_TOO_LARGE);
    assert_string_equal(b.data, "ab");
    pw_buf_free(&b);
    pw_buf_init(&b, SIZE_MAX);
    assert_int_equal(pw_buf_reserve(&b, SIZE_MAX), PW_ERR_TOO_LARGE);
    pw_buf_free(&b);
}

static void take(void **state)
{
    struct pw_buf b;
    pw_buf_init(&b, 100);
    char *s = pw_buf_take(&b);
    assert_non_null(s);
    assert_string_equal(s, ""); /* an empty buffer takes as "", not NULL */
    free(s);
    assert_int_equal(pw_buf_appendf(&b, "%s", "hello"), PW_OK);
    s = pw_buf_take(&b);
    assert_string_equal(s, "hello");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.max, 100);
    assert_int_equal(pw_buf_append_str(&b, "again"), PW_OK);
    assert_string_equal(b.data, "again");
    assert_string_equal(s, "hello"); /* the taken string is the caller's */
    free(s);
    pw_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nul_after_data), cmocka_unit_test(appendf),
        cmocka_unit_test(doubling),       cmocka_unit_test(bounded),
        cmocka_unit_test(overflow),       cmocka_unit_test(take),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
