/*
 * Catalog benchmark: generate N synthetic products, import them, then time
 * a fixed mix of searches on a read-only connection (as the MCP workers
 * use), reporting p50/p90/p99/max overall and per kind of query.
 *
 *   catalog-bench [N] [--db FILE] [--searches M]
 *
 * N defaults to 100000 (meson benchmark) and M to 1000. With --db FILE an
 * existing catalog is searched as is (nothing generated or imported when
 * it already holds products), so a 1,000,000-product run can be repeated
 * without paying for the import each time. Timings are wall clock, one
 * thread, after 100 warm-up searches.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pennyworth/catalog.h"

/* One kind of query in the mix. */
struct kind {
    const char *name;
    const char *text;
    const char *category;
    const char *brand;
    int64_t max_price;
    enum pw_catalog_sort sort;
};

static const struct kind mix[] = {
    {"text", "laptop", NULL, NULL, -1, PW_SORT_RELEVANCE},
    {"text", "espresso machine", NULL, NULL, -1, PW_SORT_RELEVANCE},
    {"text", "noise cancelling headphones", NULL, NULL, -1, PW_SORT_RELEVANCE},
    {"text", "red lipstick", NULL, NULL, -1, PW_SORT_RELEVANCE},
    {"text", "nordvik", NULL, NULL, -1, PW_SORT_RELEVANCE},
    {"text", "dive watch", NULL, NULL, -1, PW_SORT_RELEVANCE},
    {"text", "yoga mat", NULL, NULL, -1, PW_SORT_RELEVANCE},
    {"text", "olive oil organic", NULL, NULL, -1, PW_SORT_RELEVANCE},
    {"text", "leather sofa", NULL, NULL, -1, PW_SORT_RELEVANCE},
    {"text", "perfume", NULL, NULL, -1, PW_SORT_RELEVANCE},
    {"text", "smart speaker", NULL, NULL, -1, PW_SORT_RELEVANCE},
    {"text", "chronova pilot watch", NULL, NULL, -1, PW_SORT_RELEVANCE},
    {"text", "GEN-00012345", NULL, NULL, -1, PW_SORT_RELEVANCE},
    {"text", "cheap waterproof nordvik kettle", NULL, NULL, -1, PW_SORT_RELEVANCE},
    {"prefix", "lapt", NULL, NULL, -1, PW_SORT_RELEVANCE},
    {"prefix", "espres", NULL, NULL, -1, PW_SORT_RELEVANCE},
    {"text+filter", "laptop", "laptops", NULL, 100000, PW_SORT_RELEVANCE},
    {"text+filter", "headphones", NULL, "Sonera", -1, PW_SORT_RELEVANCE},
    {"text+filter", "watch", "watches", NULL, 50000, PW_SORT_RATING},
    {"text+sort", "blender", NULL, NULL, -1, PW_SORT_PRICE_ASC},
    {"text+sort", "backpack", NULL, NULL, -1, PW_SORT_PRICE_DESC},
    {"filter", NULL, "furniture", NULL, -1, PW_SORT_PRICE_ASC},
    {"filter", NULL, "audio", NULL, 5000, PW_SORT_PRICE_DESC},
    {"filter", NULL, NULL, "Aperio", -1, PW_SORT_RELEVANCE},
    {"browse", NULL, NULL, NULL, -1, PW_SORT_RATING},
    {"browse", NULL, NULL, NULL, -1, PW_SORT_RELEVANCE},
};

#define NKIND (sizeof mix / sizeof mix[0])

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *sorted, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static void report(const char *label, double *t, size_t n)
{
    if (n == 0)
        return;
    qsort(t, n, sizeof *t, cmp);
    printf("  %-12s n=%-5zu p50 %7.3f ms  p90 %7.3f ms  p99 %7.3f ms  max %7.3f ms\n", label, n,
           pct(t, n, 0.50) * 1e3, pct(t, n, 0.90) * 1e3, pct(t, n, 0.99) * 1e3, t[n - 1] * 1e3);
}

static int fail(const char *what, const struct pw_error *err)
{
    fprintf(stderr, "catalog-bench: %s: %s\n", what, err->message);
    return 1;
}

static int search(struct pw_catalog *cat, const struct kind *k, struct pw_error *err)
{
    struct pw_catalog_query q;
    pw_catalog_query_init(&q);
    q.text = k->text;
    q.category = k->category;
    q.brand = k->brand;
    q.max_price_minor = k->max_price;
    q.sort = k->sort;
    json_t *r = NULL;
    enum pw_err rc = pw_catalog_search(cat, &q, &r, err);
    json_decref(r);
    return rc;
}

/* Generates and imports n products into db unless it holds some already. */
static int load(const char *db, size_t n)
{
    struct pw_catalog *cat = NULL;
    struct pw_error err = {0};
    if (pw_catalog_open(db, 0, &cat, &err))
        return fail(db, &err);
    json_t *stats = NULL;
    if (pw_catalog_stats(cat, &stats, &err))
        return fail("stats", &err);
    json_int_t have = json_integer_value(json_object_get(stats, "products"));
    json_decref(stats);
    if (have > 0) {
        printf("catalog %s: %lld products already, not importing\n", db, (long long)have);
        pw_catalog_close(cat);
        return 0;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s.gen.jsonl", db);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "catalog-bench: %s: %s\n", path, strerror(errno));
        return 1;
    }
    double t0 = now();
    if (pw_catalog_generate(f, n, 1, NULL, NULL, &err))
        return fail("generate", &err);
    fclose(f);
    double t1 = now();
    struct pw_import_report rep;
    if (pw_catalog_import(cat, path, stderr, NULL, NULL, &rep, &err))
        return fail("import", &err);
    double t2 = now();
    printf("generate %zu products: %.2f s\nimport   %zu products: %.2f s (%.0f rows/s)\n", n,
           t1 - t0, rep.imported, t2 - t1, (double)rep.imported / (t2 - t1));
    unlink(path);
    pw_catalog_close(cat);
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = 100000, searches = 1000;
    const char *db = NULL;
    char tmpdb[64] = "";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db = argv[++i];
        else if (strcmp(argv[i], "--searches") == 0 && i + 1 < argc)
            searches = strtoul(argv[++i], NULL, 10);
        else
            n = strtoul(argv[i], NULL, 10);
    }
    if (!db) {
        char dir[] = "/tmp/pw-bench-XXXXXX";
        if (!mkdtemp(dir))
            return 1;
        snprintf(tmpdb, sizeof tmpdb, "%s/bench.db", dir);
        db = tmpdb;
    }
    if (load(db, n))
        return 1;

    struct pw_catalog *cat = NULL;
    struct pw_error err = {0};
    if (pw_catalog_open(db, PW_CATALOG_READONLY, &cat, &err))
        return fail(db, &err);
    for (size_t i = 0; i < 100; i++)
        if (search(cat, &mix[i % NKIND], &err))
            return fail("search", &err);
    double *all = calloc(searches, sizeof *all);
    double *by[NKIND];
    size_t nby[NKIND] = {0};
    for (size_t k = 0; k < NKIND; k++)
        by[k] = calloc(searches, sizeof(double));
    for (size_t i = 0; i < searches; i++) {
        size_t k = i % NKIND;
        double t0 = now();
        if (search(cat, &mix[k], &err))
            return fail("search", &err);
        all[i] = now() - t0;
        by[k][nby[k]++] = all[i];
    }
    printf("%zu searches on a read-only connection:\n", searches);
    report("all", all, searches);
    /* Per kind of query, pooling the rows of the mix with the same name. */
    const char *names[] = {"text", "prefix", "text+filter", "text+sort", "filter", "browse"};
    double *pool = calloc(searches, sizeof *pool);
    for (size_t g = 0; g < sizeof names / sizeof names[0]; g++) {
        size_t m = 0;
        for (size_t k = 0; k < NKIND; k++)
            if (strcmp(mix[k].name, names[g]) == 0) {
                memcpy(pool + m, by[k], nby[k] * sizeof(double));
                m += nby[k];
            }
        report(names[g], pool, m);
    }
    /* Each query of the mix, to know what to work on. */
    printf("per query (p50 / max):\n");
    for (size_t k = 0; k < NKIND; k++) {
        qsort(by[k], nby[k], sizeof(double), cmp);
        printf("  %7.3f / %7.3f ms  %-11s %s%s%s%s%s sort=%d\n", pct(by[k], nby[k], 0.5) * 1e3,
               by[k][nby[k] - 1] * 1e3, mix[k].name, mix[k].text ? mix[k].text : "-",
               mix[k].category ? " category=" : "", mix[k].category ? mix[k].category : "",
               mix[k].brand ? " brand=" : "", mix[k].brand ? mix[k].brand : "", mix[k].sort);
    }
    pw_catalog_close(cat);
    for (size_t k = 0; k < NKIND; k++)
        free(by[k]);
    free(all);
    free(pool);
    if (tmpdb[0]) { /* ours: remove it */
        static const char *const suffixes[] = {"", "-wal", "-shm"};
        char path[96];
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s%s", tmpdb, suffixes[i]);
            unlink(path);
        }
        *strrchr(tmpdb, '/') = '\0';
        rmdir(tmpdb);
    }
    return 0;
}
