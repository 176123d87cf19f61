/*
 * Product search: free text plus filters, four orders, signed cursors.
 *
 * The SQL is assembled per call from fixed fragments (never from user text:
 * every value is a bound parameter, the text itself goes through
 * query_text.c). Two shapes:
 *
 *   with text     FROM products_fts(:match) JOIN products p ON pk = rowid
 *   without text  FROM products p
 *
 * followed by the filters that are set. Relevance with text orders by
 *
 *   1. the name starts with the words (name : ^ "w1" + "w2"*), then
 *   2. bm25 with column weights name 10, brand 4, category 3,
 *      description 0.5, tags 2 (the order of products_fts's columns), then
 *   3. id, so equal scores still page deterministically.
 *
 * (1) is what puts "iPhone X" before "Apple iPhone Charger" for "iphone":
 * bm25 alone ranks them level, because accessory descriptions repeat the
 * word. The description weight is low for the same reason: it is the
 * column where products mention *other* products. Relevance without text
 * is by name; the other sorts break ties by id.
 *
 * All words must match; when that finds nothing and there were several
 * words, any word may match instead ("cheap red lipstick" still finds the
 * lipstick). The choice depends only on the query and the data, so a
 * cursor stays valid across pages.
 *
 * `total` is an exact count of the matches (a second, cheaper query);
 * `nextCursor` is present when rows remain after this page.
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/catalog-int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT_DEFAULT 10
#define LIMIT_MAX 50

/* bm25 weights, in products_fts column order. */
#define RANK "bm25(products_fts, 10.0, 4.0, 3.0, 0.5, 2.0)"

/* A validated query, ready to turn into SQL. */
struct plan {
    const struct pw_catalog_query *q;
    struct catalog_fts_query fts;
    const char *match;        /* fts.all or fts.any; NULL without text */
    const char *availability; /* canonical, or NULL */
    int limit;
    uint64_t offset;
    unsigned char qhash[CATALOG_QUERY_HASH_LEN];
};

static bool set(const char *s) { return s && *s; }

static void filters(sqlite3_str *s, const struct plan *pl)
{
    const struct pw_catalog_query *q = pl->q;
    if (set(q->category))
        sqlite3_str_appendall(s, " AND p.category = :category COLLATE NOCASE");
    if (set(q->brand))
        sqlite3_str_appendall(s, " AND p.brand = :brand COLLATE NOCASE");
    if (q->min_price_minor >= 0)
        sqlite3_str_appendall(s, " AND p.price_minor >= :minp");
    if (q->max_price_minor >= 0)
        sqlite3_str_appendall(s, " AND p.price_minor <= :maxp");
    if (pl->availability)
        sqlite3_str_appendall(s, " AND p.availability = :avail");
    if (q->min_rating > 0)
        sqlite3_str_appendall(s, " AND p.rating >= :rating");
}

static bool has_filters(const struct plan *pl)
{
    const struct pw_catalog_query *q = pl->q;
    return set(q->category) || set(q->brand) || q->min_price_minor >= 0 ||
           q->max_price_minor >= 0 || pl->availability || q->min_rating > 0;
}

static void from(sqlite3_str *s, const struct plan *pl)
{
    if (pl->match)
        sqlite3_str_appendall(s, " FROM products_fts(:match) JOIN products AS p"
                                 " ON p.pk = products_fts.rowid WHERE 1");
    else
        sqlite3_str_appendall(s, " FROM products AS p WHERE 1");
    filters(s, pl);
}

static char *count_sql(const struct plan *pl)
{
    sqlite3_str *s = sqlite3_str_new(NULL);
    if (pl->match && !has_filters(pl))
        sqlite3_str_appendall(s, "SELECT count(*) FROM products_fts(:match)");
    else {
        sqlite3_str_appendall(s, "SELECT count(*)");
        from(s, pl);
    }
    return sqlite3_str_finish(s);
}

static char *page_sql(const struct plan *pl)
{
    sqlite3_str *s = sqlite3_str_new(NULL);
    sqlite3_str_appendall(s, "SELECT " CATALOG_PRODUCT_COLUMNS);
    from(s, pl);
    sqlite3_str_appendall(s, " ORDER BY ");
    switch (pl->q->sort) {
    case PW_SORT_PRICE_ASC:
        sqlite3_str_appendall(s, "p.price_minor, p.id");
        break;
    case PW_SORT_PRICE_DESC:
        sqlite3_str_appendall(s, "p.price_minor DESC, p.id");
        break;
    case PW_SORT_RATING:
        sqlite3_str_appendall(s, "p.rating DESC, p.id"); /* unrated (NULL) last */
        break;
    case PW_SORT_RELEVANCE:
    default:
        if (pl->match)
            sqlite3_str_appendall(s, "(p.pk IN (SELECT rowid FROM products_fts(:head))) DESC, "
                                     RANK ", p.id");
        else
            sqlite3_str_appendall(s, "p.name COLLATE NOCASE, p.id");
        break;
    }
    sqlite3_str_appendall(s, " LIMIT :limit OFFSET :offset");
    return sqlite3_str_finish(s);
}

static void bind_text(sqlite3_stmt *st, const char *name, const char *v)
{
    int i = sqlite3_bind_parameter_index(st, name);
    if (i)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static void bind_int(sqlite3_stmt *st, const char *name, int64_t v)
{
    int i = sqlite3_bind_parameter_index(st, name);
    if (i)
        sqlite3_bind_int64(st, i, v);
}

static void bind(sqlite3_stmt *st, const struct plan *pl)
{
    const struct pw_catalog_query *q = pl->q;
    bind_text(st, ":match", pl->match);
    bind_text(st, ":head", pl->fts.name_head);
    bind_text(st, ":category", q->category);
    bind_text(st, ":brand", q->brand);
    bind_int(st, ":minp", q->min_price_minor);
    bind_int(st, ":maxp", q->max_price_minor);
    bind_text(st, ":avail", pl->availability);
    int i = sqlite3_bind_parameter_index(st, ":rating");
    if (i)
        sqlite3_bind_double(st, i, q->min_rating);
    bind_int(st, ":limit", pl->limit);
    bind_int(st, ":offset", (int64_t)pl->offset);
}

static enum pw_err prepare(struct pw_catalog *cat, char *sql, sqlite3_stmt **st,
                           struct pw_error *err)
{
    *st = NULL;
    if (!sql)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    int rc = sqlite3_prepare_v2(cat->db, sql, -1, st, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK)
        return catalog_db_error(cat, "search", err);
    return PW_OK;
}

static enum pw_err count(struct pw_catalog *cat, const struct plan *pl, int64_t *n,
                         struct pw_error *err)
{
    sqlite3_stmt *st;
    enum pw_err rc = prepare(cat, count_sql(pl), &st, err);
    if (rc)
        return rc;
    bind(st, pl);
    if (sqlite3_step(st) == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        rc = catalog_db_error(cat, "search count", err);
    sqlite3_finalize(st);
    return rc;
}

/* Lower-cased ASCII, so "Beauty" and "beauty" hash alike (as they filter). */
static void lower(sqlite3_str *s, const char *v)
{
    for (; v && *v; v++)
        sqlite3_str_appendchar(s, 1, (char)tolower((unsigned char)*v));
    sqlite3_str_appendchar(s, 1, '\x1f');
}

/* Everything that decides which rows come back, in which order. */
static enum pw_err hash(struct plan *pl, struct pw_error *err)
{
    const struct pw_catalog_query *q = pl->q;
    sqlite3_str *s = sqlite3_str_new(NULL);
    sqlite3_str_appendall(s, "search-v1\x1f");
    lower(s, pl->fts.normalized);
    lower(s, set(q->category) ? q->category : NULL);
    lower(s, set(q->brand) ? q->brand : NULL);
    lower(s, pl->availability);
    sqlite3_str_appendf(s, "%lld\x1f%lld\x1f%.17g\x1f%d",
                        (long long)(q->min_price_minor >= 0 ? q->min_price_minor : -1),
                        (long long)(q->max_price_minor >= 0 ? q->max_price_minor : -1),
                        q->min_rating > 0 ? q->min_rating : 0.0, (int)q->sort);
    int n = sqlite3_str_length(s);
    char *canon = sqlite3_str_finish(s);
    if (!canon)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    catalog_query_hash(canon, (size_t)n, pl->qhash);
    sqlite3_free(canon);
    return PW_OK;
}

static enum pw_err validate(struct pw_catalog *cat, struct plan *pl, struct pw_error *err)
{
    const struct pw_catalog_query *q = pl->q;
    pl->limit = q->limit == 0 ? LIMIT_DEFAULT : q->limit;
    if (pl->limit < 1 || pl->limit > LIMIT_MAX)
        return pw_error_set(err, PW_ERR_INVALID, "/limit", "limit must be between 1 and %d",
                            LIMIT_MAX);
    if ((unsigned)q->sort > PW_SORT_RATING)
        return pw_error_set(err, PW_ERR_INVALID, "/sort",
                            "sort must be relevance, price_asc, price_desc or rating");
    if (set(q->availability)) {
        pl->availability = catalog_availability_parse(q->availability);
        if (!pl->availability)
            return pw_error_set(err, PW_ERR_INVALID, "/availability",
                                "availability must be in-stock, limited or out-of-stock");
    }
    enum pw_err rc = catalog_fts_query_build(cat, q->text, &pl->fts, err);
    if (rc)
        return rc;
    pl->match = pl->fts.ntokens ? pl->fts.all : NULL;
    rc = hash(pl, err);
    if (rc)
        return rc;
    if (set(q->cursor))
        return catalog_cursor_decode(cat, q->cursor, pl->qhash, &pl->offset, err);
    return PW_OK;
}

static enum pw_err page(struct pw_catalog *cat, const struct plan *pl, json_t *products,
                        struct pw_error *err)
{
    sqlite3_stmt *st;
    enum pw_err rc = prepare(cat, page_sql(pl), &st, err);
    if (rc)
        return rc;
    bind(st, pl);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *p = catalog_product_json(st);
        if (!p || json_array_append_new(products, p)) {
            rc = pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
            break;
        }
    }
    if (!rc && step != SQLITE_DONE)
        rc = catalog_db_error(cat, "search", err);
    sqlite3_finalize(st);
    return rc;
}

enum pw_err pw_catalog_search(struct pw_catalog *cat, const struct pw_catalog_query *q,
                              json_t **out, struct pw_error *err)
{
    struct plan pl = {.q = q};
    json_t *result = NULL, *products = NULL;
    int64_t total = 0;
    *out = NULL;
    enum pw_err rc = validate(cat, &pl, err);
    if (!rc)
        rc = count(cat, &pl, &total, err);
    if (!rc && total == 0 && pl.fts.ntokens > 1) {
        pl.match = pl.fts.any; /* no product has every word: any will do */
        rc = count(cat, &pl, &total, err);
    }
    if (rc)
        goto out;
    products = json_array();
    result = json_object();
    if (!products || !result) {
        rc = pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    if (pl.offset < (uint64_t)total) {
        rc = page(cat, &pl, products, err);
        if (rc)
            goto out;
    }
    uint64_t next = pl.offset + json_array_size(products);
    json_object_set(result, "products", products);
    json_object_set_new(result, "total", json_integer(total));
    if (json_array_size(products) > 0 && next < (uint64_t)total) {
        char *cursor;
        rc = catalog_cursor_encode(cat, next, pl.qhash, &cursor, err);
        if (rc)
            goto out;
        json_object_set_new(result, "nextCursor", json_string(cursor));
        free(cursor);
    }
    *out = result;
    result = NULL;
out:
    json_decref(products);
    json_decref(result);
    catalog_fts_query_free(&pl.fts);
    return rc;
}

void pw_catalog_query_init(struct pw_catalog_query *q)
{
    memset(q, 0, sizeof *q);
    q->min_price_minor = -1;
    q->max_price_minor = -1;
}
