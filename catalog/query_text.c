/*
 * Free text -> FTS5 MATCH expressions that are always valid.
 *
 * Users and models type things like `"iphone`, `red -lipstick`, `NEAR(a b)`,
 * `name:foo`, `^x*`, `AND OR NOT`. Passed to MATCH as-is these are syntax
 * errors or, worse, queries that mean something else. So the text is never
 * given to FTS5's query parser: it is split into tokens by FTS5's own
 * unicode61 tokenizer (the one under the index's porter stemmer, reached
 * through the fts5_api of this connection), and every token is written back
 * as a quoted string, `"token"`. Whatever the text held, the result is a
 * list of plain words; operators and punctuation are simply separators.
 * Using the index's tokenizer means a token here is exactly one token there:
 * no word is split differently, and a word made only of punctuation yields
 * nothing rather than an empty phrase.
 *
 * Up to three attempts come out (struct catalog_fts_query), each a MATCH
 * expression and a LIKE pattern for "the name starts with the words",
 * which search.c ranks first ("iphone" -> iPhones before iPhone chargers):
 *
 *   1. every word as written    "red" "lipstick"       red lipstick%
 *   2. last word as a prefix    "red" "lipstick"*      red lipstick%
 *      (when it has 2+ characters: "iph" finds iPhones while typing)
 *   3. any word (2+ words)      "red" OR "lipstick"*   (none: bm25 alone ranks,
 *                                                      a name starting with one
 *                                                      of the words means little)
 *
 * search.c uses the first that matches anything. Exact words come first
 * because a prefix query is much dearer on a big index (FTS5 merges the
 * doclists of every term with that prefix) and rarely needed: the porter
 * stemmer already makes "laptops" find "laptop".
 *
 * Bounds: the first 4 KiB of text, at most CATALOG_QUERY_TOKENS_MAX tokens,
 * tokens longer than CATALOG_QUERY_TOKEN_MAX bytes dropped.
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/catalog-int.h"

#include <stdlib.h>
#include <string.h>

#define TEXT_MAX 4096

struct tokens {
    int n;
    char word[CATALOG_QUERY_TOKENS_MAX][CATALOG_QUERY_TOKEN_MAX + 1];
};

static int on_token(void *ctx, int flags, const char *tok, int n, int start, int end)
{
    struct tokens *t = ctx;
    if ((flags & FTS5_TOKEN_COLOCATED) || n <= 0 || n > CATALOG_QUERY_TOKEN_MAX ||
        t->n >= CATALOG_QUERY_TOKENS_MAX)
        return SQLITE_OK;
    memcpy(t->word[t->n], tok, (size_t)n);
    t->word[t->n][n] = '\0';
    t->n++;
    return SQLITE_OK;
}

/* The connection's unicode61 tokenizer, created once. */
static enum pw_err tokenizer(struct pw_catalog *cat, struct pw_error *err)
{
    if (cat->tokenizer)
        return PW_OK;
    fts5_api *api = catalog_fts5(cat);
    void *ud = NULL;
    if (!api || api->xFindTokenizer(api, "unicode61", &ud, &cat->tokenizer_api) != SQLITE_OK)
        return pw_error_set(err, PW_ERR_DB, NULL, "fts5 unicode61 tokenizer not available");
    const char *args[] = {"remove_diacritics", "2"};
    if (cat->tokenizer_api.xCreate(ud, args, 2, &cat->tokenizer) != SQLITE_OK) {
        cat->tokenizer = NULL;
        return pw_error_set(err, PW_ERR_DB, NULL, "cannot create the fts5 tokenizer");
    }
    return PW_OK;
}

/* How join() writes each word. */
enum style {
    BARE,   /* iph (LIKE's wildcards and escape escaped) */
    QUOTED, /* "iph" */
};

static void word(sqlite3_str *s, const char *w, enum style style, bool prefix)
{
    if (style == QUOTED)
        sqlite3_str_appendchar(s, 1, '"');
    for (const char *c = w; *c; c++) {
        if (style == QUOTED && *c == '"')
            sqlite3_str_appendchar(s, 1, '"'); /* cannot happen with unicode61 */
        if (style == BARE && (*c == '%' || *c == '_' || *c == '\\'))
            sqlite3_str_appendchar(s, 1, '\\'); /* nor can these */
        sqlite3_str_appendchar(s, 1, *c);
    }
    if (style == QUOTED)
        sqlite3_str_appendchar(s, 1, '"');
    if (prefix)
        sqlite3_str_appendchar(s, 1, '*');
}

/* The words joined by sep, then tail; the last word a prefix query if
 * `prefix`. A new sqlite3_malloc()ed string. */
static char *join(const struct tokens *t, const char *sep, const char *tail, enum style style,
                  bool prefix)
{
    sqlite3_str *s = sqlite3_str_new(NULL);
    for (int i = 0; i < t->n; i++) {
        if (i)
            sqlite3_str_appendall(s, sep);
        word(s, t->word[i], style, prefix && i == t->n - 1);
    }
    sqlite3_str_appendall(s, tail);
    return sqlite3_str_finish(s);
}

static void attempt(struct catalog_fts_query *q, const struct tokens *t, bool any, bool prefix)
{
    struct catalog_fts_attempt *a = &q->attempt[q->nattempts++];
    a->match = join(t, any ? " OR " : " ", "", QUOTED, prefix);
    a->head = any ? NULL : join(t, " ", "%", BARE, false);
    a->prefix = prefix;
}

enum pw_err catalog_fts_query_build(struct pw_catalog *cat, const char *text,
                                    struct catalog_fts_query *q, struct pw_error *err)
{
    memset(q, 0, sizeof *q);
    if (!text || !*text)
        return PW_OK;
    enum pw_err rc = tokenizer(cat, err);
    if (rc)
        return rc;
    struct tokens *t = calloc(1, sizeof *t);
    if (!t)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    size_t len = strlen(text);
    if (len > TEXT_MAX) {
        len = TEXT_MAX;
        while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
            len--; /* do not cut a UTF-8 sequence */
    }
    int trc = cat->tokenizer_api.xTokenize(cat->tokenizer, t, FTS5_TOKENIZE_QUERY, text,
                                           (int)len, on_token);
    if (trc != SQLITE_OK) {
        free(t);
        return pw_error_set(err, PW_ERR_DB, NULL, "tokenizer failed (%d)", trc);
    }
    if (t->n > 0) {
        bool prefix = catalog_utf8_chars(t->word[t->n - 1]) >= 2;
        q->ntokens = t->n;
        attempt(q, t, false, false);
        if (prefix)
            attempt(q, t, false, true);
        if (t->n > 1)
            attempt(q, t, true, prefix);
        q->normalized = join(t, " ", "", BARE, false);
        bool ok = q->normalized != NULL;
        for (int i = 0; i < q->nattempts; i++)
            ok = ok && q->attempt[i].match &&
                 (q->attempt[i].head || (t->n > 1 && i == q->nattempts - 1));
        if (!ok) {
            catalog_fts_query_free(q);
            free(t);
            return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
        }
    }
    free(t);
    return PW_OK;
}

void catalog_fts_query_free(struct catalog_fts_query *q)
{
    for (int i = 0; i < q->nattempts; i++) {
        sqlite3_free(q->attempt[i].match);
        sqlite3_free(q->attempt[i].head);
    }
    sqlite3_free(q->normalized);
    memset(q, 0, sizeof *q);
}
