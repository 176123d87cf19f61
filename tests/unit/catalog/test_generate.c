/*
 * Unit tests for catalog/generate.c: the same (N, seed) gives the same
 * bytes, another seed different ones, every line is a valid seed-schema row
 * that imports cleanly, and the products look like a shop's.
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

#include "testutil.h"

static char *generate(size_t n, uint64_t seed)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct pw_error err = {0};
    assert_int_equal(pw_catalog_generate(f, n, seed, NULL, NULL, &err), PW_OK);
    fclose(f);
    return buf;
}

static void deterministic_per_seed(void **state)
{
    char *a = generate(500, 42), *b = generate(500, 42), *c = generate(500, 43);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    char *prefix = generate(100, 42); /* the first rows do not depend on N */
    assert_int_equal(strncmp(a, prefix, strlen(prefix)), 0);
    free(a);
    free(b);
    free(c);
    free(prefix);
    char *none = generate(0, 1);
    assert_string_equal(none, "");
    free(none);
}

static void rows_are_valid_and_import(void **state)
{
    char *text = generate(2000, 9);
    size_t lines = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        json_error_t jerr;
        json_t *row = json_loadb(line, (size_t)(nl - line), 0, &jerr);
        if (!row)
            fail_msg("line %zu: %s", lines + 1, jerr.text);
        assert_true(json_is_string(json_object_get(row, "productId")));
        assert_true(json_is_string(json_object_get(row, "name")));
        assert_true(json_is_string(json_object_get(row, "category")));
        assert_true(json_is_string(json_object_get(row, "brand")));
        assert_true(json_is_real(json_object_get(row, "price")) ||
                    json_is_integer(json_object_get(row, "price")));
        assert_true(strlen(json_string_value(json_object_get(row, "description"))) > 40);
        json_decref(row);
        lines++;
        line = nl + 1;
    }
    assert_int_equal(lines, 2000);

    char *dir = tu_tmpdir();
    char *path = tu_write(dir, "gen.jsonl", text);
    struct pw_catalog *cat = tu_open(dir, "gen.db");
    struct pw_error err = {0};
    struct pw_import_report report;
    if (pw_catalog_import(cat, path, stderr, NULL, NULL, &report, &err) != PW_OK)
        fail_msg("%s", err.message);
    assert_int_equal(report.imported, 2000);

    json_t *cats = NULL;
    assert_int_equal(pw_catalog_categories(cat, &cats, &err), PW_OK);
    assert_true(json_array_size(cats) >= 10);
    json_decref(cats);
    struct pw_catalog_query q;
    pw_catalog_query_init(&q);
    q.text = "espresso machine";
    json_t *r = NULL;
    assert_int_equal(pw_catalog_search(cat, &q, &r, &err), PW_OK);
    assert_true(json_integer_value(json_object_get(r, "total")) > 0);
    json_t *first = json_array_get(json_object_get(r, "products"), 0);
    assert_non_null(strstr(json_string_value(json_object_get(first, "name")), "Espresso"));
    json_decref(r);
    pw_catalog_close(cat);
    free(path);
    free(text);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deterministic_per_seed),
        cmocka_unit_test(rows_are_valid_and_import),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
