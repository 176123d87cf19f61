/*
 * Unit tests for catalog/query_text.c: free text becomes quoted FTS5 words
 * and name-prefix LIKE patterns (table-driven), and a list of hostile
 * inputs, full of FTS5 syntax, never produces an expression SQLite rejects.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog-int.h"
#include "testutil.h"

/* The expected attempts, in order; NULL ends the list early. */
static const struct {
    const char *text;
    const char *match[CATALOG_FTS_ATTEMPTS];
    const char *head[CATALOG_FTS_ATTEMPTS];
} cases[] = {
    {"iphone", {"\"iphone\"", "\"iphone\"*"}, {"iphone%", "iphone%"}},
    {"Red Lipstick",
     {"\"red\" \"lipstick\"", "\"red\" \"lipstick\"*", "\"red\" OR \"lipstick\"*"},
     {"red lipstick%", "red lipstick%"}},
    {"\"iphone", {"\"iphone\"", "\"iphone\"*"}, {NULL}},
    {"red -lipstick", {"\"red\" \"lipstick\""}, {NULL}},
    {"NEAR(a b)", {"\"near\" \"a\" \"b\"", "\"near\" OR \"a\" OR \"b\""}, {NULL}},
    {"name:foo", {"\"name\" \"foo\"", "\"name\" \"foo\"*", "\"name\" OR \"foo\"*"}, {NULL}},
    {"^x* AND y OR NOT z", {"\"x\" \"and\" \"y\" \"or\" \"not\" \"z\""}, {NULL}},
    {"iphone 6", {"\"iphone\" \"6\"", "\"iphone\" OR \"6\""}, {NULL}},
    {"Café Crème", {"\"cafe\" \"creme\"", "\"cafe\" \"creme\"*"}, {"cafe creme%"}},
    {"  ", {NULL}, {NULL}},
    {"\"\" * - ( ) : ^ + ,", {NULL}, {NULL}},
    {"", {NULL}, {NULL}},
};

static struct pw_catalog *cat;
static char *dir;

static int setup(void **state)
{
    dir = tu_tmpdir();
    cat = tu_open_demo(dir, "q.db");
    return 0;
}

static int teardown(void **state)
{
    pw_catalog_close(cat);
    tu_rmdir(dir);
    return 0;
}

static void builds_quoted_words(void **state)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct catalog_fts_query q;
        struct pw_error err = {0};
        assert_int_equal(catalog_fts_query_build(cat, cases[i].text, &q, &err), PW_OK);
        if (!cases[i].match[0])
            assert_int_equal(q.ntokens, 0);
        for (int k = 0; k < CATALOG_FTS_ATTEMPTS && cases[i].match[k]; k++) {
            assert_true(k < q.nattempts);
            assert_string_equal(q.attempt[k].match, cases[i].match[k]);
            if (cases[i].head[k])
                assert_string_equal(q.attempt[k].head, cases[i].head[k]);
            if (k == 2)
                assert_null(q.attempt[k].head); /* any word: no head tier */
        }
        catalog_fts_query_free(&q);
    }
}

static void bounds_the_number_of_words(void **state)
{
    char text[4096];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "word%d ", i);
    memset(text + n, 'x', 199); /* one word longer than CATALOG_QUERY_TOKEN_MAX */
    text[n + 199] = '\0';
    struct catalog_fts_query q;
    struct pw_error err = {0};
    assert_int_equal(catalog_fts_query_build(cat, text, &q, &err), PW_OK);
    assert_int_equal(q.ntokens, CATALOG_QUERY_TOKENS_MAX);
    assert_null(strstr(q.attempt[0].match, "xxxxx"));
    catalog_fts_query_free(&q);
}

/* Every expression built must be accepted by FTS5 itself. */
static void expressions_are_valid_fts5(void **state)
{
    static const char *const hostile[] = {
        "\"", "\"\"", "\"unbalanced", "a\"b\"c", "*", "**", "a*b", "-", "--x", "NEAR",
        "NEAR(", "NEAR(a b, 3)", "(", ")", "((a)", "a) OR (b", "AND", "OR", "NOT", "a AND",
        "OR b", "NOT NOT", ":", "name:", ":name", "{name}:x", "^", "^^a", "a^b", "+", "a + b",
        "'", "';DROP TABLE products;--", "\\", "%", "_", "\xC3\xA9\xC3\xA9",
        "\xF0\x9F\x93\xB1 phone", "\xE2\x80\x94", "\xEF\xBB\xBF", "col1 : x", "- iphone",
        "iphone -", "iph*", "* iphone *",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        struct catalog_fts_query q;
        struct pw_error err = {0};
        assert_int_equal(catalog_fts_query_build(cat, hostile[i], &q, &err), PW_OK);
        const char *exprs[2 * CATALOG_FTS_ATTEMPTS];
        int n = 0;
        for (int k = 0; k < q.nattempts; k++) {
            exprs[n++] = q.attempt[k].match; /* heads are LIKE patterns, bound as values */
        }
        for (int k = 0; k < n; k++) {
            sqlite3_stmt *st;
            assert_int_equal(sqlite3_prepare_v2(cat->db,
                                                "SELECT count(*) FROM products_fts(?1)", -1,
                                                &st, NULL),
                             SQLITE_OK);
            sqlite3_bind_text(st, 1, exprs[k], -1, SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_ROW)
                fail_msg("input '%s' gave '%s': %s", hostile[i], exprs[k],
                         sqlite3_errmsg(cat->db));
            sqlite3_finalize(st);
        }
        catalog_fts_query_free(&q);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builds_quoted_words),
        cmocka_unit_test(bounds_the_number_of_words),
        cmocka_unit_test(expressions_are_valid_fts5),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
