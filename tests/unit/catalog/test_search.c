/*
 * Unit tests for catalog/search.c on the demo catalog: relevance of the
 * queries people actually type, every filter alone and combined, the sort
 * orders, paging through whole result sets with cursors (no duplicates, no
 * gaps), cursors that are forged or belong to another query, bounds on
 * limit, and a list of FTS5-syntax inputs that must never fail. Then, on a
 * generated catalog, broad queries capped at the search window.
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
#include <strings.h>

#include "testutil.h"

static struct pw_catalog *cat;
static char *dir;

static int setup(void **state)
{
    dir = tu_tmpdir();
    cat = tu_open_demo(dir, "search.db");
    return 0;
}

static int teardown(void **state)
{
    pw_catalog_close(cat);
    tu_rmdir(dir);
    return 0;
}

static struct pw_catalog_query query(const char *text)
{
    struct pw_catalog_query q;
    pw_catalog_query_init(&q);
    q.text = text;
    return q;
}

static json_t *search(const struct pw_catalog_query *q)
{
    json_t *r = NULL;
    struct pw_error err = {0};
    if (pw_catalog_search(cat, q, &r, &err) != PW_OK)
        fail_msg("search '%s': %s (%s)", q->text ? q->text : "", err.message, err.pointer);
    return r;
}

static json_t *product(json_t *r, size_t i)
{
    return json_array_get(json_object_get(r, "products"), i);
}

static const char *field(json_t *p, const char *name)
{
    return json_string_value(json_object_get(p, name));
}

static size_t count(json_t *r) { return json_array_size(json_object_get(r, "products")); }

static long long total(json_t *r) { return json_integer_value(json_object_get(r, "total")); }

static int64_t price(json_t *p)
{
    return json_integer_value(json_object_get(json_object_get(p, "price"), "amountMinor"));
}

/* ------------------------------------------------------------------------ */

static void iphone_finds_iphones_first(void **state)
{
    struct pw_catalog_query q = query("iphone");
    json_t *r = search(&q);
    assert_true(count(r) >= 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *p = product(r, i);
        assert_string_equal(field(p, "category"), "smartphones");
        assert_int_equal(strncmp(field(p, "name"), "iPhone", 6), 0);
    }
    json_decref(r);

    q = query("iph"); /* a prefix, while typing */
    r = search(&q);
    assert_int_equal(strncmp(field(product(r, 0), "name"), "iPhone", 6), 0);
    assert_string_equal(field(product(r, 0), "category"), "smartphones");
    json_decref(r);
}

/* The first `n` results all have category `category`. */
static void first_in_category(const char *text, size_t n, const char *category)
{
    struct pw_catalog_query q = query(text);
    json_t *r = search(&q);
    if (count(r) < n)
        fail_msg("'%s': only %zu results", text, count(r));
    for (size_t i = 0; i < n; i++)
        if (strcmp(field(product(r, i), "category"), category) != 0)
            fail_msg("'%s' result %zu is %s (%s)", text, i, field(product(r, i), "name"),
                     field(product(r, i), "category"));
    json_decref(r);
}

static void everyday_queries_are_relevant(void **state)
{
    first_in_category("laptop", 5, "laptops");
    first_in_category("laptops", 5, "laptops");
    first_in_category("perfume", 5, "fragrances");
    first_in_category("Samsung Galaxy phone", 1, "smartphones");
    first_in_category("rolex submariner", 1, "mens-watches");

    struct pw_catalog_query q = query("red lipstick");
    json_t *r = search(&q);
    assert_string_equal(field(product(r, 0), "name"), "Red Lipstick");
    json_decref(r);

    /* Not every word needs to match when none has all of them. */
    q = query("cheap red lipstick");
    r = search(&q);
    assert_string_equal(field(product(r, 0), "name"), "Red Lipstick");
    json_decref(r);

    q = query("CAFÉ"); /* diacritics and case do not matter; nothing matches */
    r = search(&q);
    assert_int_equal(total(r), 0);
    json_decref(r);
}

static void no_text_lists_everything_by_name(void **state)
{
    const char *texts[] = {NULL, "", "   ", "\"*\"-()"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct pw_catalog_query q = query(texts[i]);
        q.limit = 50;
        json_t *r = search(&q);
        assert_int_equal(total(r), 194);
        assert_int_equal(count(r), 50);
        for (size_t k = 1; k < count(r); k++)
            assert_true(strcasecmp(field(product(r, k - 1), "name"),
                                   field(product(r, k), "name")) <= 0);
        json_decref(r);
    }
}

/* Checks every product of every page of q against `check`; returns total. */
static long long each(struct pw_catalog_query q, void (*check)(json_t *p, const void *arg),
                      const void *arg)
{
    long long seen = 0, expected = -1;
    char *cursor = NULL;
    q.limit = 50;
    for (;;) {
        q.cursor = cursor;
        json_t *r = search(&q);
        expected = total(r);
        for (size_t i = 0; i < count(r); i++)
            check(product(r, i), arg);
        seen += (long long)count(r);
        json_t *next = json_object_get(r, "nextCursor");
        free(cursor);
        cursor = next ? strdup(json_string_value(next)) : NULL;
        json_decref(r);
        if (!cursor)
            break;
    }
    assert_int_equal(seen, expected);
    return seen;
}

static void is_beauty(json_t *p, const void *arg)
{
    assert_string_equal(field(p, "category"), "beauty");
}

static void is_apple(json_t *p, const void *arg)
{
    assert_string_equal(field(p, "brand"), "Apple");
}

static void in_price_range(json_t *p, const void *arg)
{
    assert_true(price(p) >= 1000 && price(p) <= 2000);
}

static void is_limited(json_t *p, const void *arg)
{
    assert_string_equal(field(p, "availability"), "limited");
}

static void rated_4_5(json_t *p, const void *arg)
{
    assert_true(json_real_value(json_object_get(p, "rating")) >= 4.5);
}

static void apple_phone_under_500(json_t *p, const void *arg)
{
    assert_string_equal(field(p, "brand"), "Apple");
    assert_string_equal(field(p, "category"), "smartphones");
    assert_true(price(p) <= 50000);
}

static void each_filter_holds(void **state)
{
    struct pw_catalog_query q = query(NULL);
    q.category = "BEAUTY"; /* exact but case-insensitive */
    assert_int_equal(each(q, is_beauty, NULL), 5);

    q = query(NULL);
    q.brand = "apple";
    assert_int_equal(each(q, is_apple, NULL), 14);

    q = query(NULL);
    q.min_price_minor = 1000;
    q.max_price_minor = 2000;
    assert_true(each(q, in_price_range, NULL) > 10);

    q = query(NULL);
    q.availability = "limited";
    assert_int_equal(each(q, is_limited, NULL), 14);

    q = query(NULL);
    q.min_rating = 4.5;
    assert_true(each(q, rated_4_5, NULL) > 5);

    q = query("iphone");
    q.brand = "Apple";
    q.category = "smartphones";
    q.max_price_minor = 50000;
    assert_int_equal(each(q, apple_phone_under_500, NULL), 2); /* the 5s and the 6 */

    q = query(NULL);
    q.min_price_minor = 2000;
    q.max_price_minor = 1000; /* an empty range is no error */
    json_t *r = search(&q);
    assert_int_equal(total(r), 0);
    assert_null(json_object_get(r, "nextCursor"));
    json_decref(r);
}

/* Walks all pages with a small limit, checking order and completeness. */
static void walk(struct pw_catalog_query q, int limit,
                 int (*cmp)(json_t *a, json_t *b))
{
    char *seen[200];
    size_t n = 0;
    long long expected = -1;
    char *cursor = NULL;
    json_t *prev = NULL;
    q.limit = limit;
    for (int pages = 0;; pages++) {
        assert_true(pages < 250);
        q.cursor = cursor;
        json_t *r = search(&q);
        if (expected < 0)
            expected = total(r);
        assert_int_equal(total(r), expected);
        assert_true(count(r) <= (size_t)limit);
        for (size_t i = 0; i < count(r); i++) {
            json_t *p = product(r, i);
            for (size_t k = 0; k < n; k++)
                if (strcmp(seen[k], field(p, "id")) == 0)
                    fail_msg("id %s seen twice", seen[k]);
            assert_true(n < 200);
            seen[n++] = strdup(field(p, "id"));
            if (prev && cmp)
                assert_true(cmp(prev, p) <= 0);
            json_decref(prev);
            prev = json_incref(p);
        }
        json_t *next = json_object_get(r, "nextCursor");
        free(cursor);
        cursor = next ? strdup(json_string_value(next)) : NULL;
        if (cursor)
            assert_int_equal(count(r), (size_t)limit); /* only the last page is short */
        json_decref(r);
        if (!cursor)
            break;
    }
    assert_int_equal((long long)n, expected);
    for (size_t k = 0; k < n; k++)
        free(seen[k]);
    json_decref(prev);
}

static int by_price_asc(json_t *a, json_t *b)
{
    return price(a) < price(b) ? -1 : price(a) > price(b);
}

static int by_price_desc(json_t *a, json_t *b) { return by_price_asc(b, a); }

static int by_rating_desc(json_t *a, json_t *b)
{
    double x = json_real_value(json_object_get(a, "rating"));
    double y = json_real_value(json_object_get(b, "rating"));
    return x > y ? -1 : x < y;
}

static void sorting_and_paging(void **state)
{
    struct pw_catalog_query q = query(NULL);
    q.sort = PW_SORT_PRICE_ASC;
    walk(q, 7, by_price_asc);
    q.sort = PW_SORT_PRICE_DESC;
    walk(q, 50, by_price_desc);
    q.sort = PW_SORT_RATING;
    walk(q, 13, by_rating_desc);
    q.sort = PW_SORT_RELEVANCE;
    walk(q, 1, NULL);

    q = query("apple");
    walk(q, 3, NULL);
    q.sort = PW_SORT_PRICE_DESC;
    walk(q, 4, by_price_desc);

    q = query("shirt");
    q.category = "mens-shirts";
    q.sort = PW_SORT_RATING;
    walk(q, 2, by_rating_desc);

    q = query("kitchen");
    q.sort = PW_SORT_PRICE_ASC;
    walk(q, 9, by_price_asc);
}

/* The nextCursor of the first page of q (limit 2). */
static char *first_cursor(struct pw_catalog_query q)
{
    q.limit = 2;
    json_t *r = search(&q);
    json_t *next = json_object_get(r, "nextCursor");
    assert_non_null(next);
    char *c = strdup(json_string_value(next));
    json_decref(r);
    return c;
}

static void expect_bad_cursor(struct pw_catalog_query q, const char *cursor)
{
    json_t *r = NULL;
    struct pw_error err = {0};
    q.cursor = cursor;
    if (pw_catalog_search(cat, &q, &r, &err) != PW_ERR_INVALID)
        fail_msg("cursor '%s' accepted", cursor);
    assert_null(r);
    assert_string_equal(err.pointer, "/cursor");
}

static void foreign_and_forged_cursors_are_rejected(void **state)
{
    struct pw_catalog_query a = query("apple");
    struct pw_catalog_query b = query("apple");
    b.sort = PW_SORT_PRICE_ASC;
    struct pw_catalog_query c = query(NULL);
    c.category = "beauty";
    struct pw_catalog_query d = query(NULL);
    d.category = "laptops";
    char *ca = first_cursor(a);
    char *cc = first_cursor(c);

    /* Same query: fine, whatever the limit and the spelling of the filter. */
    a.cursor = ca;
    a.limit = 5;
    json_decref(search(&a));
    c.cursor = cc;
    c.category = "Beauty";
    json_decref(search(&c));

    /* Another query's cursor. */
    expect_bad_cursor(b, ca);
    expect_bad_cursor(d, cc);
    expect_bad_cursor(query("apples watch"), ca);

    /* Forged: edited, truncated, garbage, huge. */
    char edited[64];
    snprintf(edited, sizeof edited, "%s", ca);
    edited[10] = edited[10] == 'A' ? 'B' : 'A';
    expect_bad_cursor(query("apple"), edited);
    edited[10] = '\0';
    expect_bad_cursor(query("apple"), edited);
    expect_bad_cursor(query("apple"), "not a cursor");
    expect_bad_cursor(query("apple"), "AAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    expect_bad_cursor(query("apple"), "////////////////////////////");
    expect_bad_cursor(query("apple"), "AQAAAAAAAAAD=========================");
    free(ca);
    free(cc);
}

static void expect_invalid(struct pw_catalog_query q, const char *pointer)
{
    json_t *r = NULL;
    struct pw_error err = {0};
    assert_int_equal(pw_catalog_search(cat, &q, &r, &err), PW_ERR_INVALID);
    assert_null(r);
    assert_string_equal(err.pointer, pointer);
}

static void limits_and_bad_filters(void **state)
{
    struct pw_catalog_query q = query(NULL);
    json_t *r = search(&q);
    assert_int_equal(count(r), 10); /* 0 means 10 */
    json_decref(r);
    q.limit = 50;
    r = search(&q);
    assert_int_equal(count(r), 50);
    json_decref(r);
    q.limit = 1;
    r = search(&q);
    assert_int_equal(count(r), 1);
    json_decref(r);

    q.limit = 51;
    expect_invalid(q, "/limit");
    q.limit = -1;
    expect_invalid(q, "/limit");
    q = query(NULL);
    q.availability = "backorder";
    expect_invalid(q, "/availability");
    q = query(NULL);
    q.sort = (enum pw_catalog_sort)42;
    expect_invalid(q, "/sort");
}

static void fts_syntax_never_errors(void **state)
{
    static const char *const inputs[] = {
        "\"", "\"iphone", "iphone\"", "\"red lipstick\"", "*", "iph*", "*phone", "-", "-iphone",
        "iphone -case", "NEAR", "NEAR(iphone case)", "NEAR(iphone case, 2)", "(", ")",
        "(iphone", "iphone)", "((", "AND", "OR", "NOT", "iphone AND", "OR case", "NOT iphone",
        "iphone NOT case", "AND OR NOT", ":", "name:iphone", "name : iphone", "{name}: x",
        "^", "^iphone", "iphone^", "+", "iphone + case", "'", "'; DROP TABLE products; --",
        "\\", "%", "_", "%_%", "\xC3\xA9", "\xF0\x9F\x93\xB1", "\xE2\x80\x9Ciphone\xE2\x80\x9D",
        "a", "1", "0.5", "-1", "iphone\tcase\nred", "\x01\x02", "\"\"\"\"", "* * *",
        "NEAR/3", "rowid:1", "products_fts:x", "bm25()", "\xEF\xBB\xBFiphone",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        for (int sort = PW_SORT_RELEVANCE; sort <= PW_SORT_RATING; sort++) {
            struct pw_catalog_query q = query(inputs[i]);
            q.sort = (enum pw_catalog_sort)sort;
            q.category = i % 3 ? NULL : "smartphones";
            json_t *r = search(&q);
            assert_true(json_is_object(r));
            json_decref(r);
        }
    }
    /* Long text is cut, not refused. */
    char big[20000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (size_t i = 0; i < sizeof big - 1; i += 7)
        big[i] = i % 2 ? ' ' : '"';
    struct pw_catalog_query q = query(big);
    json_decref(search(&q));
}

static void canonical_product_shape(void **state)
{
    struct pw_catalog_query q = query("mascara");
    json_t *r = search(&q);
    json_t *p = product(r, 0);
    assert_string_equal(field(p, "id"), "1");
    assert_string_equal(field(p, "sku"), "BEA-ESS-ESS-001");
    assert_string_equal(field(p, "brand"), "Essence");
    json_t *pr = json_object_get(p, "price");
    assert_int_equal(json_integer_value(json_object_get(pr, "amountMinor")), 999);
    assert_string_equal(field(pr, "currency"), "USD");
    assert_string_equal(field(pr, "formatted"), "9.99 USD");
    assert_string_equal(field(p, "availability"), "in-stock");
    assert_int_equal(json_integer_value(json_object_get(p, "stock")), 99);
    assert_true(json_real_value(json_object_get(p, "rating")) == 2.56);
    assert_true(json_is_array(json_object_get(p, "tags")));
    json_t *attrs = json_object_get(p, "attributes");
    assert_string_equal(field(attrs, "warrantyInformation"), "1 week warranty");
    assert_non_null(json_object_get(attrs, "dimensions"));
    assert_null(json_object_get(attrs, "reviews"));
    assert_non_null(field(p, "updatedAt"));
    json_decref(r);
}

/* Broad queries on a bigger catalog: the window caps total and paging. */
static void broad_queries_are_capped(void **state)
{
    char *d = tu_tmpdir();
    char *path = tu_path(d, "gen.jsonl");
    FILE *f = fopen(path, "w");
    struct pw_error err = {0};
    assert_int_equal(pw_catalog_generate(f, 1200, 3, NULL, NULL, &err), PW_OK);
    fclose(f);
    struct pw_catalog *big = tu_open(d, "big.db");
    struct pw_import_report report;
    assert_int_equal(pw_catalog_import(big, path, NULL, NULL, NULL, &report, &err), PW_OK);

    static const char *const texts[] = {"the", NULL};
    for (int t = 0; t < 2; t++) {
        struct pw_catalog_query q = query(texts[t]);
        q.limit = 50;
        char *seen[600];
        size_t n = 0;
        char *cursor = NULL;
        for (;;) {
            q.cursor = cursor;
            json_t *r = NULL;
            assert_int_equal(pw_catalog_search(big, &q, &r, &err), PW_OK);
            assert_int_equal(total(r), 500);
            assert_true(json_is_true(json_object_get(r, "totalCapped")));
            for (size_t i = 0; i < count(r); i++) {
                const char *id = field(product(r, i), "id");
                for (size_t k = 0; k < n; k++)
                    assert_string_not_equal(seen[k], id);
                assert_true(n < 600);
                seen[n++] = strdup(id);
            }
            json_t *next = json_object_get(r, "nextCursor");
            free(cursor);
            cursor = next ? strdup(json_string_value(next)) : NULL;
            json_decref(r);
            if (!cursor)
                break;
        }
        assert_int_equal(n, 500);
        for (size_t k = 0; k < n; k++)
            free(seen[k]);
    }
    /* Narrow queries stay exact. */
    struct pw_catalog_query q = query("espresso machine");
    json_t *r = NULL;
    assert_int_equal(pw_catalog_search(big, &q, &r, &err), PW_OK);
    assert_true(total(r) > 0 && total(r) < 500);
    assert_null(json_object_get(r, "totalCapped"));
    json_decref(r);
    pw_catalog_close(big);
    free(path);
    tu_rmdir(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(iphone_finds_iphones_first),
        cmocka_unit_test(everyday_queries_are_relevant),
        cmocka_unit_test(no_text_lists_everything_by_name),
        cmocka_unit_test(each_filter_holds),
        cmocka_unit_test(sorting_and_paging),
        cmocka_unit_test(foreign_and_forged_cursors_are_rejected),
        cmocka_unit_test(limits_and_bad_filters),
        cmocka_unit_test(fts_syntax_never_errors),
        cmocka_unit_test(canonical_product_shape),
        cmocka_unit_test(broad_queries_are_capped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
