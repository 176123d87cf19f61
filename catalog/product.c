/*
 * One database row -> the canonical product JSON of pennyworth/catalog.h.
 *
 * Every reader (get, search, export) selects CATALOG_PRODUCT_COLUMNS and
 * calls catalog_product_json(), so the shape is defined in exactly one
 * place. tags and attributes are stored as JSON text written by row.c; if
 * one was edited by hand into something unparsable, it comes back as an
 * empty array/object rather than failing the whole read.
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/catalog-int.h"

#include <string.h>

enum {
    COL_ID,
    COL_SKU,
    COL_NAME,
    COL_BRAND,
    COL_CATEGORY,
    COL_PRICE,
    COL_CURRENCY,
    COL_AVAILABILITY,
    COL_STOCK,
    COL_RATING,
    COL_DESCRIPTION,
    COL_TAGS,
    COL_ATTRIBUTES,
    COL_UPDATED_AT,
};

static json_t *text_or_null(sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    return s ? json_string((const char *)s) : json_null();
}

static json_t *parsed(sqlite3_stmt *st, int col, bool array)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    json_t *v = s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
    if (array ? json_is_array(v) : json_is_object(v))
        return v;
    json_decref(v);
    return array ? json_array() : json_object();
}

json_t *catalog_product_json(sqlite3_stmt *st)
{
    const char *currency = (const char *)sqlite3_column_text(st, COL_CURRENCY);
    if (!currency)
        currency = "USD";
    int64_t minor = sqlite3_column_int64(st, COL_PRICE);
    char formatted[64];
    catalog_format_money(minor, currency, formatted, sizeof formatted);

    json_t *price = json_pack("{s:I, s:s, s:s}", "amountMinor", (json_int_t)minor,
                              "currency", currency, "formatted", formatted);
    json_t *p = json_object();
    if (!price || !p) {
        json_decref(price);
        json_decref(p);
        return NULL;
    }
    json_object_set_new(p, "id", text_or_null(st, COL_ID));
    json_object_set_new(p, "sku", text_or_null(st, COL_SKU));
    json_object_set_new(p, "name", text_or_null(st, COL_NAME));
    json_object_set_new(p, "brand", text_or_null(st, COL_BRAND));
    json_object_set_new(p, "category", text_or_null(st, COL_CATEGORY));
    json_object_set_new(p, "price", price);
    json_object_set_new(p, "availability", text_or_null(st, COL_AVAILABILITY));
    json_object_set_new(p, "stock", sqlite3_column_type(st, COL_STOCK) == SQLITE_NULL
                                        ? json_null()
                                        : json_integer(sqlite3_column_int64(st, COL_STOCK)));
    json_object_set_new(p, "rating", sqlite3_column_type(st, COL_RATING) == SQLITE_NULL
                                         ? json_null()
                                         : json_real(sqlite3_column_double(st, COL_RATING)));
    json_object_set_new(p, "description", text_or_null(st, COL_DESCRIPTION));
    json_object_set_new(p, "tags", parsed(st, COL_TAGS, true));
    json_object_set_new(p, "attributes", parsed(st, COL_ATTRIBUTES, false));
    json_object_set_new(p, "updatedAt", text_or_null(st, COL_UPDATED_AT));
    return p;
}
