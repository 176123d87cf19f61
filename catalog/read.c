/*
 * Reading the catalog other than by search: one product, the category
 * list, summary statistics and completion of categories, brands and ids.
 *
 * Categories and brands compare case-insensitively everywhere (filters,
 * grouping, completion), so "Apple" and "apple" are one brand; the spelling
 * reported is the alphabetically first one stored. Ids are exact.
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/catalog-int.h"

#include <stdlib.h>
#include <string.h>

enum pw_err pw_catalog_get(struct pw_catalog *cat, const char *id, json_t **out,
                           struct pw_error *err)
{
    *out = NULL;
    if (!id)
        return pw_error_set(err, PW_ERR_INVALID, "/id", "id: missing");
    sqlite3_stmt *st = catalog_stmt(cat, CATALOG_STMT_GET, err);
    if (!st)
        return PW_ERR_DB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = catalog_product_json(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return pw_error_set(err, PW_ERR_NOT_FOUND, "/id", "no product with id \"%.64s\"", id);
    if (rc != SQLITE_ROW)
        return catalog_db_error(cat, "get", err);
    return *out ? PW_OK : pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
}

/* Runs `sql` (no parameters) and returns its prepared statement or NULL. */
static sqlite3_stmt *prepare(struct pw_catalog *cat, const char *sql, struct pw_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(cat->db, sql, -1, &st, NULL) != SQLITE_OK) {
        catalog_db_error(cat, "prepare", err);
        return NULL;
    }
    return st;
}

enum pw_err pw_catalog_categories(struct pw_catalog *cat, json_t **out, struct pw_error *err)
{
    *out = NULL;
    sqlite3_stmt *st = prepare(cat,
                               "SELECT min(category), count(*) FROM products"
                               " GROUP BY category COLLATE NOCASE"
                               " ORDER BY category COLLATE NOCASE",
                               err);
    if (!st)
        return PW_ERR_DB;
    json_t *list = json_array();
    int rc = SQLITE_DONE;
    while (list && (rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(list, json_pack("{s:s, s:I}", "name",
                                              (const char *)sqlite3_column_text(st, 0),
                                              "count",
                                              (json_int_t)sqlite3_column_int64(st, 1)));
    sqlite3_finalize(st);
    if (!list)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    if (rc != SQLITE_DONE) {
        json_decref(list);
        return catalog_db_error(cat, "categories", err);
    }
    *out = list;
    return PW_OK;
}

static json_t *int_or_null(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL
               ? json_null()
               : json_integer(sqlite3_column_int64(st, col));
}

enum pw_err pw_catalog_stats(struct pw_catalog *cat, json_t **out, struct pw_error *err)
{
    *out = NULL;
    sqlite3_stmt *st = prepare(cat,
                               "SELECT count(*), count(DISTINCT category COLLATE NOCASE),"
                               " count(DISTINCT brand COLLATE NOCASE),"
                               " total(availability = 'in-stock'),"
                               " total(availability = 'limited'),"
                               " total(availability = 'out-of-stock'),"
                               " min(price_minor), max(price_minor), max(updated_at)"
                               " FROM products",
                               err);
    if (!st)
        return PW_ERR_DB;
    if (sqlite3_step(st) != SQLITE_ROW) {
        catalog_db_error(cat, "stats", err);
        sqlite3_finalize(st);
        return PW_ERR_DB;
    }
    const unsigned char *updated = sqlite3_column_text(st, 8);
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "products", json_integer(sqlite3_column_int64(st, 0)));
        json_object_set_new(o, "categories", json_integer(sqlite3_column_int64(st, 1)));
        json_object_set_new(o, "brands", json_integer(sqlite3_column_int64(st, 2)));
        json_object_set_new(o, "inStock", json_integer(sqlite3_column_int64(st, 3)));
        json_object_set_new(o, "limited", json_integer(sqlite3_column_int64(st, 4)));
        json_object_set_new(o, "outOfStock", json_integer(sqlite3_column_int64(st, 5)));
        json_object_set_new(o, "minPriceMinor", int_or_null(st, 6));
        json_object_set_new(o, "maxPriceMinor", int_or_null(st, 7));
        json_object_set_new(o, "updatedAt",
                            updated ? json_string((const char *)updated) : json_null());
    }
    sqlite3_finalize(st);
    if (!o)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    *out = o;
    return PW_OK;
}

/* `prefix` as a LIKE pattern matching anything that starts with it. */
static char *like_prefix(const char *prefix)
{
    size_t n = strlen(prefix);
    char *pat = malloc(2 * n + 2);
    if (!pat)
        return NULL;
    char *w = pat;
    for (const char *r = prefix; *r; r++) {
        if (*r == '%' || *r == '_' || *r == '\\')
            *w++ = '\\';
        *w++ = *r;
    }
    *w++ = '%';
    *w = '\0';
    return pat;
}

#define COMPLETE_MAX 100

enum pw_err pw_catalog_complete(struct pw_catalog *cat, enum pw_catalog_field field,
                                const char *prefix, int limit, json_t **out, int *total,
                                struct pw_error *err)
{
    static const char *const sql[][2] = {
        [PW_FIELD_CATEGORY] = {
            "SELECT min(category) FROM products WHERE category LIKE ?1 ESCAPE '\\'"
            " GROUP BY category COLLATE NOCASE ORDER BY 1 COLLATE NOCASE LIMIT ?2",
            "SELECT count(DISTINCT category COLLATE NOCASE) FROM products"
            " WHERE category LIKE ?1 ESCAPE '\\'"},
        [PW_FIELD_BRAND] = {
            "SELECT min(brand) FROM products WHERE brand LIKE ?1 ESCAPE '\\'"
            " GROUP BY brand COLLATE NOCASE ORDER BY 1 COLLATE NOCASE LIMIT ?2",
            "SELECT count(DISTINCT brand COLLATE NOCASE) FROM products"
            " WHERE brand LIKE ?1 ESCAPE '\\'"},
        [PW_FIELD_ID] = {
            "SELECT id FROM products WHERE id LIKE ?1 ESCAPE '\\'"
            " ORDER BY id COLLATE NOCASE, id LIMIT ?2",
            "SELECT count(*) FROM products WHERE id LIKE ?1 ESCAPE '\\'"},
    };
    *out = NULL;
    if (total)
        *total = 0;
    if ((unsigned)field > PW_FIELD_ID)
        return pw_error_set(err, PW_ERR_INVALID, "/field", "unknown field");
    if (limit <= 0)
        limit = 10;
    if (limit > COMPLETE_MAX)
        limit = COMPLETE_MAX;
    char *pat = like_prefix(prefix ? prefix : "");
    json_t *list = json_array();
    enum pw_err rc = PW_OK;
    sqlite3_stmt *st = NULL;
    if (!pat || !list) {
        rc = pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    for (int q = 0; q < 2 && !rc; q++) {
        st = prepare(cat, sql[field][q], err);
        if (!st) {
            rc = PW_ERR_DB;
            break;
        }
        sqlite3_bind_text(st, 1, pat, -1, SQLITE_STATIC);
        if (q == 0)
            sqlite3_bind_int(st, 2, limit);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            if (q == 0)
                json_array_append_new(list,
                                      json_string((const char *)sqlite3_column_text(st, 0)));
            else if (total)
                *total = sqlite3_column_int(st, 0);
        }
        if (step != SQLITE_DONE)
            rc = catalog_db_error(cat, "complete", err);
        sqlite3_finalize(st);
        st = NULL;
    }
out:
    free(pat);
    if (rc) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return PW_OK;
}
