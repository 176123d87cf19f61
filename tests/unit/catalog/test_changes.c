/*
 * Unit tests for the write paths and the change log (catalog/write.c,
 * catalog/changes.c): stock and price changes move availability across the
 * documented thresholds, every change is seen once and in order by a
 * follower (also on another connection), unknown ids are NOT_FOUND, and
 * the log stays bounded after a big import.
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

struct seen {
    char ids[1024];
    int n;
};

static void collect(void *ud, const char *id)
{
    struct seen *s = ud;
    size_t len = strlen(s->ids);
    snprintf(s->ids + len, sizeof s->ids - len, "%s;", id);
    s->n++;
}

static json_t *get(struct pw_catalog *cat, const char *id)
{
    json_t *p = NULL;
    struct pw_error err = {0};
    if (pw_catalog_get(cat, id, &p, &err) != PW_OK)
        fail_msg("get %s: %s", id, err.message);
    return p;
}

static void stock_moves_availability(void **state)
{
    static const struct {
        int64_t stock;
        const char *availability;
    } steps[] = {{0, "out-of-stock"}, {1, "limited"}, {5, "limited"}, {6, "in-stock"},
                 {1000, "in-stock"}};
    char *dir = tu_tmpdir();
    struct pw_catalog *cat = tu_open_demo(dir, "s.db");
    struct pw_error err = {0};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        assert_int_equal(pw_catalog_set_stock_price(cat, "121", steps[i].stock, -1, &err), PW_OK);
        json_t *p = get(cat, "121");
        assert_int_equal(json_integer_value(json_object_get(p, "stock")), steps[i].stock);
        assert_string_equal(json_string_value(json_object_get(p, "availability")),
                            steps[i].availability);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "price"),
                                                            "amountMinor")), 19999);
        json_decref(p);
    }
    /* Price alone leaves stock alone. */
    assert_int_equal(pw_catalog_set_stock_price(cat, "121", -1, 15000, &err), PW_OK);
    json_t *p = get(cat, "121");
    assert_int_equal(json_integer_value(json_object_get(p, "stock")), 1000);
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "price"),
                                                          "formatted")), "150.00 USD");
    json_decref(p);

    assert_int_equal(pw_catalog_set_stock_price(cat, "no-such-id", 3, -1, &err),
                     PW_ERR_NOT_FOUND);
    assert_string_equal(err.pointer, "/id");
    pw_error_clear(&err);
    assert_int_equal(pw_catalog_set_stock_price(cat, "no-such-id", -1, -1, &err),
                     PW_ERR_NOT_FOUND);
    pw_error_clear(&err);
    assert_int_equal(pw_catalog_set_stock_price(cat, "121", -1, -1, &err), PW_OK);
    pw_catalog_close(cat);
    tu_rmdir(dir);
}

static void followers_see_each_change_once(void **state)
{
    char *dir = tu_tmpdir();
    struct pw_catalog *writer = tu_open_demo(dir, "c.db");
    char *path = tu_path(dir, "c.db");
    struct pw_catalog *reader = NULL;
    struct pw_error err = {0};
    assert_int_equal(pw_catalog_open(path, PW_CATALOG_READONLY, &reader, &err), PW_OK);

    int64_t seq = pw_catalog_change_seq(reader);
    assert_true(seq >= 194); /* the seed itself was logged */
    struct seen s = {0};
    assert_int_equal(pw_catalog_changes_since(reader, &seq, collect, &s, &err), PW_OK);
    assert_int_equal(s.n, 0);

    assert_int_equal(pw_catalog_set_stock_price(writer, "5", 0, -1, &err), PW_OK);
    assert_int_equal(pw_catalog_set_stock_price(writer, "7", -1, 100, &err), PW_OK);
    json_t *p = get(writer, "9");
    json_object_set_new(p, "name", json_string("Dolce Shine Eau de Parfum"));
    assert_int_equal(pw_catalog_upsert(writer, p, &err), PW_OK);
    assert_int_equal(pw_catalog_upsert(writer, p, &err), PW_OK); /* same again: no change */
    json_decref(p);

    assert_int_equal(pw_catalog_changes_since(reader, &seq, collect, &s, &err), PW_OK);
    assert_string_equal(s.ids, "5;7;9;");
    assert_int_equal(seq, pw_catalog_change_seq(writer));
    memset(&s, 0, sizeof s);
    assert_int_equal(pw_catalog_changes_since(reader, &seq, collect, &s, &err), PW_OK);
    assert_int_equal(s.n, 0);

    /* The reader's searches see the new name at once. */
    struct pw_catalog_query q;
    pw_catalog_query_init(&q);
    q.text = "parfum";
    json_t *r = NULL;
    assert_int_equal(pw_catalog_search(reader, &q, &r, &err), PW_OK);
    assert_int_equal(json_integer_value(json_object_get(r, "total")), 1);
    json_decref(r);
    pw_catalog_close(reader);
    pw_catalog_close(writer);
    free(path);
    tu_rmdir(dir);
}

static void log_is_bounded(void **state)
{
    char *dir = tu_tmpdir();
    struct pw_catalog *cat = tu_open(dir, "b.db");
    char *path = tu_path(dir, "gen.jsonl");
    FILE *f = fopen(path, "w");
    struct pw_error err = {0};
    assert_int_equal(pw_catalog_generate(f, CATALOG_CHANGES_KEEP + 500, 7, NULL, NULL, &err),
                     PW_OK);
    fclose(f);
    struct pw_import_report report;
    assert_int_equal(pw_catalog_import(cat, path, NULL, NULL, NULL, &report, &err), PW_OK);
    assert_int_equal(report.imported, CATALOG_CHANGES_KEEP + 500);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(cat->db, "SELECT count(*), min(seq) FROM product_changes",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), CATALOG_CHANGES_KEEP);
    assert_int_equal(sqlite3_column_int(st, 1), 501);
    sqlite3_finalize(st);
    assert_int_equal(pw_catalog_change_seq(cat), CATALOG_CHANGES_KEEP + 500);
    free(path);
    pw_catalog_close(cat);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stock_moves_availability),
        cmocka_unit_test(followers_see_each_change_once),
        cmocka_unit_test(log_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
