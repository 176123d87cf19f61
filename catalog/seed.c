/*
 * The demo catalog: DummyJSON's 194 products (MIT, see
 * fixtures/catalog/LICENSE-dummyjson), compiled into the binary from
 * fixtures/catalog/dummyjson-products.json by scripts/embed.py, so a fresh
 * install can answer searches with no files around it.
 *
 * Seeding happens only into an empty catalog: a catalog someone imported
 * is never mixed with demo data. Two processes seeding at once both import
 * the same rows; the second import's upserts change nothing.
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/catalog-int.h"

#define DEMO_LABEL "dummyjson-products.json"

enum pw_err pw_catalog_seed_demo(struct pw_catalog *cat, bool *seeded, struct pw_error *err)
{
    if (seeded)
        *seeded = false;
    sqlite3_stmt *st = catalog_stmt(cat, CATALOG_STMT_COUNT_ALL, err);
    if (!st)
        return PW_ERR_DB;
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return catalog_db_error(cat, "count products", err);
    }
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (n > 0)
        return PW_OK;
    struct pw_import_report report;
    enum pw_err rc = catalog_import_buffer(cat, DEMO_LABEL, (const char *)catalog_demo_json,
                                           catalog_demo_json_len, stderr, NULL, NULL, &report,
                                           err);
    if (!rc && seeded)
        *seeded = true;
    return rc;
}
