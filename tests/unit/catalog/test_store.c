/*
 * Unit tests for catalog/store.c: a new database gets every migration and
 * WAL; a version-1 database made by hand (as the first release wrote it)
 * is upgraded in place with its rows kept and searchable; a database newer
 * than the program is refused; read-only opens neither migrate nor write.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog-int.h"
#include "testutil.h"

/* The products table and its indexes exactly as schema version 1 shipped
 * them (schema/001_products.sql, written out so that later edits to that
 * file cannot make this test vacuous), with two rows. */
static const char v1_schema[] =
    "CREATE TABLE products (pk INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, sku TEXT,"
    " name TEXT NOT NULL, brand TEXT, category TEXT NOT NULL,"
    " price_minor INTEGER NOT NULL CHECK (price_minor >= 0),"
    " currency TEXT NOT NULL DEFAULT 'USD', availability TEXT NOT NULL"
    " CHECK (availability IN ('in-stock', 'limited', 'out-of-stock')),"
    " stock INTEGER CHECK (stock IS NULL OR stock >= 0),"
    " rating REAL CHECK (rating IS NULL OR (rating >= 0 AND rating <= 5)),"
    " description TEXT NOT NULL DEFAULT '', tags TEXT NOT NULL DEFAULT '[]',"
    " attributes TEXT NOT NULL DEFAULT '{}', updated_at TEXT NOT NULL);"
    "CREATE INDEX products_category ON products (category COLLATE NOCASE, price_minor);"
    "CREATE INDEX products_brand ON products (brand COLLATE NOCASE);"
    "CREATE INDEX products_price ON products (price_minor);"
    "CREATE INDEX products_rating ON products (rating);"
    "CREATE INDEX products_name ON products (name COLLATE NOCASE);"
    "INSERT INTO products (id, name, category, price_minor, availability, stock, rating,"
    " description, tags, updated_at) VALUES"
    " ('old-1', 'Vintage Walnut Radio', 'audio', 12900, 'in-stock', 12, 4.5,"
    "  'A valve radio in a walnut case.', '[\"radio\"]', '2024-01-01T00:00:00Z'),"
    " ('old-2', 'Brass Desk Lamp', 'home-decoration', 4550, 'limited', 3, NULL,"
    "  'Solid brass.', '[]', '2024-01-02T00:00:00Z');"
    "PRAGMA user_version = 1;";

static void exec(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s", msg);
    sqlite3_close(db);
}

static void new_database_is_fully_migrated(void **state)
{
    char *dir = tu_tmpdir();
    struct pw_catalog *cat = tu_open(dir, "new.db");
    assert_int_equal(pw_catalog_schema_version(cat), (int)catalog_migration_count);
    assert_int_equal(catalog_migration_count, 4);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(cat->db, "PRAGMA journal_mode", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(tu_count(cat), 0);
    pw_catalog_close(cat);
    /* Opening again changes nothing. */
    cat = tu_open(dir, "new.db");
    assert_int_equal(pw_catalog_schema_version(cat), 4);
    pw_catalog_close(cat);
    tu_rmdir(dir);
}

static void version_1_is_upgraded_in_place(void **state)
{
    char *dir = tu_tmpdir();
    char *path = tu_path(dir, "v1.db");
    exec(path, v1_schema);

    struct pw_catalog *cat = tu_open(dir, "v1.db");
    assert_int_equal(pw_catalog_schema_version(cat), 4);
    assert_int_equal(tu_count(cat), 2);

    /* Old rows kept... */
    json_t *p = NULL;
    struct pw_error err = {0};
    assert_int_equal(pw_catalog_get(cat, "old-2", &p, &err), PW_OK);
    assert_string_equal(json_string_value(json_object_get(p, "name")), "Brass Desk Lamp");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "price"),
                                                        "amountMinor")), 4550);
    assert_true(json_is_null(json_object_get(p, "rating")));
    json_decref(p);

    /* ...indexed by the FTS table that version 2 added... */
    struct pw_catalog_query q;
    pw_catalog_query_init(&q);
    q.text = "walnut";
    json_t *r = NULL;
    assert_int_equal(pw_catalog_search(cat, &q, &r, &err), PW_OK);
    assert_int_equal(json_integer_value(json_object_get(r, "total")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r, "products"), 0), "id")),
                        "old-1");
    json_decref(r);

    /* ...and followed by the change log of version 3. */
    int64_t seq = pw_catalog_change_seq(cat);
    assert_int_equal(pw_catalog_set_stock_price(cat, "old-1", 0, -1, &err), PW_OK);
    assert_true(pw_catalog_change_seq(cat) > seq);
    pw_catalog_close(cat);
    free(path);
    tu_rmdir(dir);
}

static void newer_database_is_refused(void **state)
{
    char *dir = tu_tmpdir();
    char *path = tu_path(dir, "future.db");
    exec(path, "PRAGMA user_version = 99;");
    struct pw_catalog *cat = NULL;
    struct pw_error err = {0};
    assert_int_equal(pw_catalog_open(path, 0, &cat, &err), PW_ERR_UNSUPPORTED);
    assert_null(cat);
    assert_non_null(strstr(err.message, "99"));
    free(path);
    tu_rmdir(dir);
}

static void read_only_neither_migrates_nor_writes(void **state)
{
    char *dir = tu_tmpdir();
    char *path = tu_path(dir, "ro.db");
    exec(path, v1_schema);
    struct pw_catalog *cat = NULL;
    struct pw_error err = {0};
    assert_int_equal(pw_catalog_open(path, PW_CATALOG_READONLY, &cat, &err), PW_ERR_STATE);
    assert_null(cat);

    pw_catalog_close(tu_open(dir, "ro.db")); /* migrates */
    pw_error_clear(&err);
    assert_int_equal(pw_catalog_open(path, PW_CATALOG_READONLY, &cat, &err), PW_OK);
    json_t *p = NULL;
    assert_int_equal(pw_catalog_get(cat, "old-1", &p, &err), PW_OK);
    json_decref(p);
    assert_int_equal(pw_catalog_set_stock_price(cat, "old-1", 1, -1, &err), PW_ERR_STATE);
    pw_catalog_close(cat);
    free(path);
    tu_rmdir(dir);
}

static void missing_directory_fails_cleanly(void **state)
{
    struct pw_catalog *cat = NULL;
    struct pw_error err = {0};
    assert_int_equal(pw_catalog_open("/nonexistent-dir/x/y.db", 0, &cat, &err), PW_ERR_DB);
    assert_null(cat);
    pw_error_clear(&err);
    assert_int_equal(pw_catalog_open("", 0, &cat, &err), PW_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_database_is_fully_migrated),
        cmocka_unit_test(version_1_is_upgraded_in_place),
        cmocka_unit_test(newer_database_is_refused),
        cmocka_unit_test(read_only_neither_migrates_nor_writes),
        cmocka_unit_test(missing_directory_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
