/*
 * Product search: free text plus filters, four orders, signed cursors, in
 * bounded time on big catalogs.
 *
 * The SQL is assembled per call from fixed fragments (never from user text:
 * every value is a bound parameter, the text itself goes through
 * query_text.c, which offers up to three MATCH attempts; the first whose
 * words match any product is used, filters aside: exact words, last word as
 * a prefix, any word. So "red lipstick" in groceries finds nothing rather
 * than red onions).
 *
 * The result window. Ranking with bm25 costs time for every matching row,
 * and a broad word ("laptop") matches a tenth of a million-product catalog;
 * counting or sorting all of those cannot fit a few milliseconds. So a
 * search looks at no more than CATALOG_SEARCH_WINDOW products:
 *
 *   with text      the first CATALOG_SEARCH_WINDOW matches (index order)
 *                  that pass the filters, each with its bm25 (weights: name
 *                  10, brand 4, category 3, description 0.5, tags 2, in
 *                  products_fts's column order; pwrank, BM25 without IDF,
 *                  when there are more matches than the window or the last
 *                  word is a prefix: see rank.c), put in the requested
 *                  order. Relevance is
 *                    tier 0: the name starts with the words ("iPhone X"
 *                            for "iphone"), before
 *                    tier 1: the rest; then bm25, then pk.
 *                  Tier 0 is what puts iPhones before "Apple iPhone
 *                  Charger": bm25 alone ranks them level, because accessory
 *                  descriptions repeat the word. That is also why the
 *                  description weight is low: it is the column where
 *                  products mention *other* products.
 *   without text   the filters in the requested order, straight from an
 *                  index (relevance then means by name).
 *
 * When a query has fewer matches than the window (any query on the demo
 * catalog, most on real ones) the result is exact: every match, ranked.
 * Otherwise `total` is CATALOG_SEARCH_WINDOW and "totalCapped": true, and
 * the pages cover those products only; a narrower query, or a filter, gets
 * at the rest. Ties always break on pk (import order), which keeps pages
 * stable and lets the sorts run off indexes.
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/catalog-int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT_DEFAULT 10
#define LIMIT_MAX 50

/* Column weights, in products_fts column order, for bm25() or pwrank(). */
#define WEIGHTS "(products_fts, 10.0, 4.0, 3.0, 0.5, 2.0)"

/* A validated query, ready to turn into SQL. */
struct plan {
    const struct pw_catalog_query *q;
    struct catalog_fts_query fts;
    const struct catalog_fts_attempt *text; /* the attempt in use; NULL without text */
    bool broad;                             /* more matches than the window */
    const char *availability;               /* canonical, or NULL */
    int limit;
    uint64_t offset;
    unsigned char qhash[CATALOG_QUERY_HASH_LEN];
};

/* What a page query found. */
struct page {
    int64_t total;  /* products in the result (at most the window) */
    bool capped;    /* there may be more matches than the window holds */
    bool have_total;
};

static bool set(const char *s) { return s && *s; }

static bool has_filters(const struct plan *pl)
{
    const struct pw_catalog_query *q = pl->q;
    return set(q->category) || set(q->brand) || q->min_price_minor >= 0 ||
           q->max_price_minor >= 0 || pl->availability || q->min_rating > 0;
}

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

/*
 * Matches of the FTS expression bound to `param`, passing the filters,
 * FTS first (CROSS JOIN fixes the join order: the other way round, SQLite
 * would run the full-text query once per product).
 */
static void matches(sqlite3_str *s, const struct plan *pl, const char *param,
                    const char *columns)
{
    sqlite3_str_appendf(s, "SELECT %s FROM products_fts(%s)", columns, param);
    if (has_filters(pl)) {
        sqlite3_str_appendall(s, " CROSS JOIN products AS p ON p.pk = products_fts.rowid WHERE 1");
        filters(s, pl);
    }
}

static const char *order(const struct plan *pl)
{
    switch (pl->q->sort) {
    case PW_SORT_PRICE_ASC:
        return "p.price_minor, p.pk";
    case PW_SORT_PRICE_DESC:
        return "p.price_minor DESC, p.pk DESC";
    case PW_SORT_RATING:
        return "p.rating DESC, p.pk DESC"; /* unrated (NULL) last */
    case PW_SORT_RELEVANCE:
    default:
        return pl->text ? "c.tier, c.s, c.r" : "p.name COLLATE NOCASE, p.pk";
    }
}

/*
 * With text: the window of candidates, then one page of it. `tier` is 0
 * when the name starts with the words (LIKE on the folded words, so
 * "iphone" -> "iPhone X"), else 1. Every row also carries the size of the
 * window and whether it filled up, so one statement gives page and total.
 */
static void window(sqlite3_str *s, const struct plan *pl)
{
    sqlite3_str_appendf(s,
        "WITH win(r, tier, s) AS MATERIALIZED (SELECT products_fts.rowid,"
        " NOT coalesce(p.name LIKE :head ESCAPE '\\', 0), %s" WEIGHTS
        " FROM products_fts(:match) CROSS JOIN products AS p ON p.pk = products_fts.rowid"
        " WHERE 1", pl->broad ? "pwrank" : "bm25");
    filters(s, pl);
    sqlite3_str_appendall(s, " LIMIT :window)");
}

static char *text_sql(const struct plan *pl)
{
    sqlite3_str *s = sqlite3_str_new(NULL);
    window(s, pl);
    sqlite3_str_appendall(s, " SELECT " CATALOG_PRODUCT_COLUMNS ", (SELECT count(*) FROM win)");
    if (pl->q->sort == PW_SORT_RELEVANCE) /* page first: look up only its rows */
        sqlite3_str_appendall(s, " FROM (SELECT r, tier, s FROM win"
                                 " ORDER BY tier, s, r LIMIT :limit OFFSET :offset) AS c"
                                 " CROSS JOIN products AS p ON p.pk = c.r"
                                 " ORDER BY c.tier, c.s, c.r");
    else
        sqlite3_str_appendf(s, " FROM win AS c CROSS JOIN products AS p ON p.pk = c.r"
                               " ORDER BY %s LIMIT :limit OFFSET :offset", order(pl));
    return sqlite3_str_finish(s);
}

/* Without text: one page in index order. */
static char *plain_sql(const struct plan *pl)
{
    sqlite3_str *s = sqlite3_str_new(NULL);
    sqlite3_str_appendall(s, "SELECT " CATALOG_PRODUCT_COLUMNS " FROM products AS p WHERE 1");
    filters(s, pl);
    sqlite3_str_appendf(s, " ORDER BY %s LIMIT :limit OFFSET :offset", order(pl));
    return sqlite3_str_finish(s);
}

/* Without text: how many products pass the filters, up to window + 1. */
static char *plain_count_sql(const struct plan *pl)
{
    sqlite3_str *s = sqlite3_str_new(NULL);
    sqlite3_str_appendall(s, "SELECT count(*) FROM (SELECT 1 FROM products AS p WHERE 1");
    filters(s, pl);
    sqlite3_str_appendall(s, " LIMIT :window + 1)");
    return sqlite3_str_finish(s);
}

/* With text: how many products the attempt matches, filters aside (the
 * attempt is about the words; the filters narrow whichever is chosen), up
 * to window + 1. Reads the index only. */
static char *probe_sql(const struct plan *pl)
{
    return sqlite3_mprintf("SELECT count(*) FROM (SELECT 1 FROM products_fts(:match)"
                           " LIMIT :window + 1)");
}

/* With text: the size of the window, for when the page query has no rows
 * to carry it (a page past the end, or no matches). */
static char *text_count_sql(const struct plan *pl)
{
    sqlite3_str *s = sqlite3_str_new(NULL);
    sqlite3_str_appendall(s, "SELECT count(*) FROM (");
    matches(s, pl, ":match", "1");
    sqlite3_str_appendall(s, " LIMIT :window)");
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
    if (pl->text) {
        bind_text(st, ":match", pl->text->match);
        bind_text(st, ":head", pl->text->head);
    }
    bind_text(st, ":category", q->category);
    bind_text(st, ":brand", q->brand);
    bind_int(st, ":minp", q->min_price_minor);
    bind_int(st, ":maxp", q->max_price_minor);
    bind_text(st, ":avail", pl->availability);
    int i = sqlite3_bind_parameter_index(st, ":rating");
    if (i)
        sqlite3_bind_double(st, i, q->min_rating);
    bind_int(st, ":window", CATALOG_SEARCH_WINDOW);
    bind_int(st, ":limit", pl->limit);
    bind_int(st, ":offset", (int64_t)pl->offset);
}

/* Back to the cache: reset, and no bindings left pointing at our strings. */
static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* A cached statement for `sql` (taken), bound. Give it to done() after. */
static enum pw_err prepare(struct pw_catalog *cat, const struct plan *pl, char *sql,
                           sqlite3_stmt **st, struct pw_error *err)
{
    *st = catalog_stmt_sql(cat, sql, err);
    if (!*st)
        return PW_ERR_DB;
    bind(*st, pl);
    return PW_OK;
}

/* Picks the first text attempt that matches anything (NULL if none does). */
static enum pw_err choose_attempt(struct pw_catalog *cat, struct plan *pl,
                                  struct pw_error *err)
{
    for (int i = 0; i < pl->fts.nattempts; i++) {
        pl->text = &pl->fts.attempt[i];
        sqlite3_stmt *st;
        enum pw_err rc = prepare(cat, pl, probe_sql(pl), &st, err);
        if (rc)
            return rc;
        int step = sqlite3_step(st);
        int64_t n = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        done(st);
        if (step != SQLITE_ROW)
            return catalog_db_error(cat, "search", err);
        if (n > 0) {
            /* Too many to rank them all, or a prefix (whose every
             * evaluation merges the doclists of all its terms): bm25's IDF
             * walk would cost more than the ranking itself (see rank.c). */
            pl->broad = n > CATALOG_SEARCH_WINDOW || pl->text->prefix;
            if (pl->broad && !catalog_fts5(cat))
                return pw_error_set(err, PW_ERR_DB, NULL, "fts5 not available");
            return PW_OK;
        }
    }
    /* Nothing matches: keep the first attempt, which finds nothing. */
    pl->text = &pl->fts.attempt[0];
    return PW_OK;
}

/* Runs a query with a single row of (count, capped). */
static enum pw_err count(struct pw_catalog *cat, const struct plan *pl, char *sql,
                         struct page *pg, struct pw_error *err)
{
    sqlite3_stmt *st;
    enum pw_err rc = prepare(cat, pl, sql, &st, err);
    if (rc)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW) {
        pg->total = sqlite3_column_int64(st, 0);
        pg->capped = pl->text ? pg->total >= CATALOG_SEARCH_WINDOW
                              : pg->total > CATALOG_SEARCH_WINDOW;
        if (pg->total > CATALOG_SEARCH_WINDOW)
            pg->total = CATALOG_SEARCH_WINDOW;
        pg->have_total = true;
    } else {
        rc = catalog_db_error(cat, "search count", err);
    }
    done(st);
    return rc;
}

static enum pw_err page(struct pw_catalog *cat, const struct plan *pl, json_t *products,
                        struct page *pg, struct pw_error *err)
{
    sqlite3_stmt *st;
    enum pw_err rc = prepare(cat, pl, pl->text ? text_sql(pl) : plain_sql(pl), &st, err);
    if (rc)
        return rc;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (pl->text && !pg->have_total) {
            pg->total = sqlite3_column_int64(st, 14);
            pg->capped = pg->total >= CATALOG_SEARCH_WINDOW;
            pg->have_total = true;
        }
        json_t *p = catalog_product_json(st);
        if (!p || json_array_append_new(products, p)) {
            rc = pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
            break;
        }
    }
    if (!rc && step != SQLITE_DONE)
        rc = catalog_db_error(cat, "search", err);
    done(st);
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
    if (!rc)
        rc = hash(pl, err);
    if (!rc && set(q->cursor))
        rc = catalog_cursor_decode(cat, q->cursor, pl->qhash, &pl->offset, err);
    return rc;
}

enum pw_err pw_catalog_search(struct pw_catalog *cat, const struct pw_catalog_query *q,
                              json_t **out, struct pw_error *err)
{
    struct plan pl = {.q = q};
    struct page pg = {0};
    json_t *result = NULL, *products = json_array();
    *out = NULL;
    enum pw_err rc = products ? validate(cat, &pl, err)
                              : pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    if (!rc && pl.fts.ntokens)
        rc = choose_attempt(cat, &pl, err);
    if (!rc && pl.offset < CATALOG_SEARCH_WINDOW) {
        if ((uint64_t)pl.limit > CATALOG_SEARCH_WINDOW - pl.offset)
            pl.limit = (int)(CATALOG_SEARCH_WINDOW - pl.offset);
        rc = page(cat, &pl, products, &pg, err);
    }
    /* The page query carries the total unless it had no rows. */
    if (!rc && !pg.have_total)
        rc = count(cat, &pl, pl.text ? text_count_sql(&pl) : plain_count_sql(&pl), &pg, err);
    if (rc)
        goto out;
    result = json_object();
    if (!result) {
        rc = pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    uint64_t next = pl.offset + json_array_size(products);
    json_object_set(result, "products", products);
    json_object_set_new(result, "total", json_integer(pg.total));
    if (pg.capped)
        json_object_set_new(result, "totalCapped", json_true());
    if (json_array_size(products) > 0 && next < (uint64_t)pg.total) {
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
