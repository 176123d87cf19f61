/*
 * Exporting the catalog: every product, ordered by id, streamed to a FILE.
 *
 *   jsonl  one canonical product object per line
 *   json   a JSON array of the same objects, one per line
 *   csv    RFC 4180, header row; price in major units ("19.99") with a
 *          currency column, tags and attributes as JSON text, unknown
 *          stock/rating as empty cells
 *
 * All three read back through pw_catalog_import() to the same products
 * (only updatedAt changes, since importing is a change), which the unit
 * tests check. Rows are read one at a time, so memory use does not grow
 * with the catalog.
 *
 * SPDX-License-Identifier: MIT
 */
#include "pennyworth/json.h"
#include "catalog/catalog-int.h"

#include <string.h>

#define DUMP_FLAGS PW_JSON_WIRE

static const char *const csv_header =
    "id,sku,name,brand,category,price,currency,availability,stock,rating,"
    "description,tags,attributes,updatedAt\r\n";

/* One CSV cell, quoted when it must be. NULL is an empty cell. */
static void cell(FILE *out, const char *s, bool last)
{
    if (s && s[strcspn(s, ",\"\r\n")] != '\0') {
        fputc('"', out);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    } else if (s) {
        fputs(s, out);
    }
    fputs(last ? "\r\n" : ",", out);
}

static const char *col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static void csv_row(FILE *out, sqlite3_stmt *st)
{
    char price[48], stock[32], rating[32];
    const char *currency = col(st, 6) ? col(st, 6) : "USD";
    catalog_format_decimal(sqlite3_column_int64(st, 5), catalog_currency_exponent(currency),
                           price, sizeof price);
    snprintf(stock, sizeof stock, "%lld", (long long)sqlite3_column_int64(st, 8));
    snprintf(rating, sizeof rating, "%.15g", sqlite3_column_double(st, 9));
    cell(out, col(st, 0), false);
    cell(out, col(st, 1), false);
    cell(out, col(st, 2), false);
    cell(out, col(st, 3), false);
    cell(out, col(st, 4), false);
    cell(out, price, false);
    cell(out, currency, false);
    cell(out, col(st, 7), false);
    cell(out, sqlite3_column_type(st, 8) == SQLITE_NULL ? NULL : stock, false);
    cell(out, sqlite3_column_type(st, 9) == SQLITE_NULL ? NULL : rating, false);
    cell(out, col(st, 10), false);
    cell(out, col(st, 11), false);
    cell(out, col(st, 12), false);
    cell(out, col(st, 13), true);
}

/* The number of products, for progress: only an estimate of the rows to
 * come, since a writer may commit between this count and the export's
 * read (the reporter copes with more rows than announced). */
static size_t count(struct pw_catalog *cat)
{
    sqlite3_stmt *st = catalog_stmt(cat, CATALOG_STMT_COUNT_ALL, NULL);
    size_t n = st && sqlite3_step(st) == SQLITE_ROW ? (size_t)sqlite3_column_int64(st, 0) : 0;
    if (st)
        sqlite3_reset(st);
    return n;
}

enum pw_err pw_catalog_export(struct pw_catalog *cat, FILE *out, enum pw_catalog_format fmt,
                              pw_catalog_progress_fn progress, void *ud,
                              struct pw_error *err)
{
    if ((unsigned)fmt > PW_FORMAT_CSV)
        return pw_error_set(err, PW_ERR_INVALID, "/format", "format must be jsonl, json or csv");
    struct pw_catalog_progress at = {.rows_total = progress ? count(cat) : 0};
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(cat->db,
                           "SELECT " CATALOG_PRODUCT_COLUMNS " FROM products AS p ORDER BY p.id",
                           -1, &st, NULL) != SQLITE_OK)
        return catalog_db_error(cat, "export", err);
    enum pw_err rc = PW_OK;
    size_t n = 0;
    int step;
    if (fmt == PW_FORMAT_CSV)
        fputs(csv_header, out);
    else if (fmt == PW_FORMAT_JSON)
        fputs("[", out);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (fmt == PW_FORMAT_CSV) {
            csv_row(out, st);
        } else {
            json_t *p = catalog_product_json(st);
            if (!p) {
                rc = pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
                break;
            }
            if (fmt == PW_FORMAT_JSON)
                fputs(n ? ",\n" : "\n", out);
            json_dumpf(p, out, DUMP_FLAGS);
            json_decref(p);
            if (fmt == PW_FORMAT_JSONL)
                fputc('\n', out);
        }
        n++;
        if (progress && n % CATALOG_PROGRESS_ROWS == 0) {
            at.rows = n;
            progress(ud, &at);
        }
    }
    if (!rc && step != SQLITE_DONE)
        rc = catalog_db_error(cat, "export", err);
    sqlite3_finalize(st);
    if (!rc && fmt == PW_FORMAT_JSON)
        fputs(n ? "\n]\n" : "]\n", out);
    if (!rc && (fflush(out) != 0 || ferror(out)))
        rc = pw_error_set(err, PW_ERR_IO, NULL, "write failed");
    if (!rc && progress) {
        at.rows = at.rows_total = n;
        progress(ud, &at);
    }
    return rc;
}
