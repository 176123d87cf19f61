/*
 * Unit tests for catalog/export.c: each format, imported into an empty
 * catalog, gives back the same products (updatedAt aside), so export ->
 * import is a faithful round trip; and the formats look as documented.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void round_trip(void **state)
{
    static const struct {
        enum pw_catalog_format fmt;
        const char *file;
    } formats[] = {
        {PW_FORMAT_JSONL, "out.jsonl"},
        {PW_FORMAT_JSON, "out.json"},
        {PW_FORMAT_CSV, "out.csv"},
    };
    char *dir = tu_tmpdir();
    struct pw_catalog *demo = tu_open_demo(dir, "demo.db");
    /* Awkward values: quotes, commas, newlines, non-ASCII, unknowns. */
    json_t *odd = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:[s,s], s:{s:s}}", "id",
                            "odd,\"1\"", "name", "Caf\xC3\xA9 \"Cr\xC3\xA8me\", 2\nlines",
                            "category", "groceries", "brand", "Ma\xC3\xAEtre", "priceMinor",
                            (json_int_t)1250, "currency", "KWD", "description", "a,b\r\nc",
                            "tags", "x,y", "z\"q", "attributes", "k", "v,\"w\"");
    struct pw_error err = {0};
    assert_int_equal(pw_catalog_upsert(demo, odd, &err), PW_OK);
    json_decref(odd);
    char *original = tu_export(demo, PW_FORMAT_JSONL);
    char *want = tu_without_updated_at(original);

    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        char *text = tu_export(demo, formats[i].fmt);
        char *path = tu_write(dir, formats[i].file, text);
        char dbname[32];
        snprintf(dbname, sizeof dbname, "copy%zu.db", i);
        struct pw_catalog *copy = tu_open(dir, dbname);
        struct pw_import_report report;
        if (pw_catalog_import(copy, path, stderr, NULL, NULL, &report, &err) != PW_OK)
            fail_msg("re-import %s: %s", formats[i].file, err.message);
        assert_int_equal(report.imported, 195);
        char *again = tu_export(copy, PW_FORMAT_JSONL);
        char *got = tu_without_updated_at(again);
        if (strcmp(got, want) != 0)
            fail_msg("%s round trip differs", formats[i].file);
        free(got);
        free(again);
        free(path);
        free(text);
        pw_catalog_close(copy);
    }
    free(want);
    free(original);
    pw_catalog_close(demo);
    tu_rmdir(dir);
}

static void shapes(void **state)
{
    char *dir = tu_tmpdir();
    struct pw_catalog *cat = tu_open_demo(dir, "shape.db");
    char *csv = tu_export(cat, PW_FORMAT_CSV);
    assert_int_equal(strncmp(csv, "id,sku,name,brand,category,price,currency,availability,"
                                  "stock,rating,description,tags,attributes,updatedAt\r\n1,"
                                  "BEA-ESS-ESS-001,Essence Mascara Lash Princess,Essence,"
                                  "beauty,9.99,USD,in-stock,99,2.56,",
                             strlen("id,sku,name,brand,category,price,currency,availability,"
                                    "stock,rating,description,tags,attributes,updatedAt\r\n1,"
                                    "BEA-ESS-ESS-001,Essence Mascara Lash Princess,Essence,"
                                    "beauty,9.99,USD,in-stock,99,2.56,")),
                     0);
    char *json = tu_export(cat, PW_FORMAT_JSON);
    json_error_t jerr;
    json_t *all = json_loads(json, 0, &jerr);
    assert_true(json_is_array(all));
    assert_int_equal(json_array_size(all), 194);
    json_decref(all);
    char *jsonl = tu_export(cat, PW_FORMAT_JSONL);
    size_t lines = 0;
    for (const char *c = jsonl; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 194);
    free(csv);
    free(json);
    free(jsonl);

    struct pw_catalog *empty = tu_open(dir, "empty.db");
    char *e = tu_export(empty, PW_FORMAT_JSON);
    assert_string_equal(e, "[]\n");
    free(e);
    pw_catalog_close(empty);
    pw_catalog_close(cat);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
