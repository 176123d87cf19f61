/*
 * FTS5 extension pieces: reaching the connection's fts5_api, and `pwrank`,
 * the rank function search.c uses on broad queries.
 *
 * Why a second rank function: FTS5's bm25() computes each term's IDF on
 * its first row by walking the term's whole doclist (xQueryPhrase), so its
 * cost grows with the number of documents containing the word, even when
 * only 500 of them will be ranked. For "laptop" in a million products that
 * walk is ~2 ms, most of a search. pwrank is BM25 with every IDF set to 1:
 *
 *   score = -sum over columns c, phrases p of
 *             w_c * tf(p,c) * (k1 + 1) / (tf(p,c) + k1 * (1 - b + b * len_c / avglen_c))
 *
 * (k1 = 1.2, b = 0.75, as bm25(); negative so that smaller ranks first).
 * It reads only the current row's positions and column sizes, and the
 * column totals once per query. Within one search every candidate matches
 * every word (or, for the any-word fallback, some), so dropping IDF changes
 * little but the relative weight of words; search.c only uses pwrank when
 * a query matches more products than it will rank anyway, or when the last
 * word is a prefix (each evaluation of a prefix merges the doclists of all
 * its terms, and the IDF walk is one more), and bm25() everywhere else.
 *
 * Arguments: pwrank(fts_table, w_0, w_1, ...), weights per column in
 * column order; missing weights are 1.
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/catalog-int.h"

#include <stdlib.h>

#define K1 1.2
#define B 0.75
#define MAX_COLUMNS 16

/* Average column lengths, computed on the first row of a query. */
struct averages {
    int ncol;
    double avg[MAX_COLUMNS];
};

static struct averages *averages(const Fts5ExtensionApi *api, Fts5Context *fts)
{
    struct averages *a = api->xGetAuxdata(fts, 0);
    if (a)
        return a;
    a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    sqlite3_int64 rows = 0;
    a->ncol = api->xColumnCount(fts);
    if (a->ncol > MAX_COLUMNS)
        a->ncol = MAX_COLUMNS;
    api->xRowCount(fts, &rows);
    for (int c = 0; c < a->ncol; c++) {
        sqlite3_int64 total = 0;
        api->xColumnTotalSize(fts, c, &total);
        a->avg[c] = rows > 0 && total > 0 ? (double)total / (double)rows : 1.0;
    }
    if (api->xSetAuxdata(fts, a, free) != SQLITE_OK)
        return NULL; /* xSetAuxdata freed it */
    return a;
}

static void pwrank(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx,
                   int nval, sqlite3_value **vals)
{
    struct averages *a = averages(api, fts);
    if (!a) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    int ninst = 0;
    if (api->xInstCount(fts, &ninst) != SQLITE_OK) {
        sqlite3_result_error(ctx, "pwrank: xInstCount failed", -1);
        return;
    }
    /* tf per (phrase, column); phrases are few (CATALOG_QUERY_TOKENS_MAX). */
    int nphrase = api->xPhraseCount(fts);
    if (nphrase > CATALOG_QUERY_TOKENS_MAX)
        nphrase = CATALOG_QUERY_TOKENS_MAX;
    int tf[CATALOG_QUERY_TOKENS_MAX][MAX_COLUMNS] = {{0}};
    for (int i = 0; i < ninst; i++) {
        int phrase, col, off;
        if (api->xInst(fts, i, &phrase, &col, &off) == SQLITE_OK && phrase < nphrase &&
            col < a->ncol)
            tf[phrase][col]++;
    }
    double score = 0;
    for (int c = 0; c < a->ncol; c++) {
        double w = c < nval ? sqlite3_value_double(vals[c]) : 1.0;
        int len = 0;
        bool sized = false;
        for (int p = 0; p < nphrase; p++) {
            if (!tf[p][c])
                continue;
            if (!sized) {
                api->xColumnSize(fts, c, &len);
                sized = true;
            }
            double norm = K1 * (1.0 - B + B * (double)len / a->avg[c]);
            score += w * tf[p][c] * (K1 + 1.0) / (tf[p][c] + norm);
        }
    }
    sqlite3_result_double(ctx, -score);
}

fts5_api *catalog_fts5(struct pw_catalog *cat)
{
    if (cat->fts5)
        return cat->fts5;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(cat->db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_pointer(st, 1, (void *)&cat->fts5, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    sqlite3_finalize(st);
    if (cat->fts5 &&
        cat->fts5->xCreateFunction(cat->fts5, "pwrank", NULL, pwrank, NULL) != SQLITE_OK)
        cat->fts5 = NULL;
    return cat->fts5;
}
