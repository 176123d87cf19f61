/*
 * Writing products: the upsert used by the importer and by write paths, and
 * the stock/price change used by live updates.
 *
 * Every write goes through the cached statements of store.c. The upsert
 * compares the new row with the stored one inside SQLite (ON CONFLICT ...
 * WHERE something differs), so re-importing an unchanged catalog rewrites
 * nothing: updatedAt keeps its value, the FTS index is untouched and no
 * change-log entries are made, which keeps "resources/updated" quiet.
 *
 * Availability follows stock on pw_catalog_set_stock_price(): 0 is
 * out-of-stock, 1..CATALOG_LIMITED_MAX (5) limited, more in-stock. Imports
 * take availability as given by the file.
 *
 * The change log itself is filled by triggers (schema/003_changes.sql);
 * these functions only keep it bounded.
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/catalog-int.h"

#include <string.h>
#include <time.h>

void catalog_now(char buf[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

enum pw_err catalog_write_product(struct pw_catalog *cat, const struct catalog_product *p,
                                  const char *now, struct pw_error *err)
{
    sqlite3_stmt *st = catalog_stmt(cat, CATALOG_STMT_UPSERT, err);
    if (!st)
        return PW_ERR_DB;
    bind_text(st, 1, p->id);
    bind_text(st, 2, p->sku);
    bind_text(st, 3, p->name);
    bind_text(st, 4, p->brand);
    bind_text(st, 5, p->category);
    sqlite3_bind_int64(st, 6, p->price_minor);
    bind_text(st, 7, p->currency);
    bind_text(st, 8, p->availability);
    if (p->stock >= 0)
        sqlite3_bind_int64(st, 9, p->stock);
    if (p->rating >= 0)
        sqlite3_bind_double(st, 10, p->rating);
    bind_text(st, 11, p->description ? p->description : "");
    bind_text(st, 12, p->tags ? p->tags : "[]");
    bind_text(st, 13, p->attributes ? p->attributes : "{}");
    bind_text(st, 14, now);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return catalog_db_error(cat, "upsert", err);
    return PW_OK;
}

static enum pw_err writable(struct pw_catalog *cat, struct pw_error *err)
{
    if (cat->flags & PW_CATALOG_READONLY)
        return pw_error_set(err, PW_ERR_STATE, NULL, "the catalog is open read-only");
    return PW_OK;
}

enum pw_err pw_catalog_upsert(struct pw_catalog *cat, json_t *product, struct pw_error *err)
{
    enum pw_err rc = writable(cat, err);
    if (rc)
        return rc;
    struct catalog_product p;
    struct catalog_row_error e;
    if (!catalog_row_parse(product, &p, &e)) {
        /* A field's error points at it; a whole-record one at the root. */
        char pointer[80] = "";
        if (strcmp(e.field, "row") != 0)
            snprintf(pointer, sizeof pointer, "/%s", e.field);
        catalog_product_clear(&p);
        return pw_error_set(err, PW_ERR_INVALID, pointer, "%s: %s", e.field, e.reason);
    }
    char now[32];
    catalog_now(now);
    rc = catalog_write_product(cat, &p, now, err);
    catalog_product_clear(&p);
    if (!rc)
        rc = catalog_prune_changes(cat, err);
    return rc;
}

enum pw_err pw_catalog_set_stock_price(struct pw_catalog *cat, const char *id, int64_t stock,
                                       int64_t price_minor, struct pw_error *err)
{
    enum pw_err rc = writable(cat, err);
    if (rc)
        return rc;
    if (!id || !*id)
        return pw_error_set(err, PW_ERR_INVALID, "/id", "id: missing");
    if (stock < 0 && price_minor < 0) {
        /* Nothing to change; still say whether the product exists. */
        json_t *p = NULL;
        rc = pw_catalog_get(cat, id, &p, err);
        json_decref(p);
        return rc;
    }
    sqlite3_stmt *st = catalog_stmt(cat, CATALOG_STMT_SET_STOCK_PRICE, err);
    if (!st)
        return PW_ERR_DB;
    char now[32];
    catalog_now(now);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (stock >= 0) {
        sqlite3_bind_int64(st, 2, stock);
        sqlite3_bind_text(st, 3, catalog_availability_from_stock(stock), -1, SQLITE_STATIC);
    }
    if (price_minor >= 0)
        sqlite3_bind_int64(st, 4, price_minor);
    sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE)
        return catalog_db_error(cat, "update", err);
    if (sqlite3_changes(cat->db) == 0)
        return pw_error_set(err, PW_ERR_NOT_FOUND, "/id", "no product with id \"%.64s\"", id);
    return catalog_prune_changes(cat, err);
}
