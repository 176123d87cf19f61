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
 * Three expressions come out (see struct catalog_fts_query):
 *   all        "w1" "w2" "w3"*          every word (implicit AND)
 *   any        "w1" OR "w2" OR "w3"*    fallback when `all` finds nothing
 *   name_head  name : ^ "w1" + "w2" + "w3"*
 *                                       the name starts with the words; search.c
 *                                       ranks these first ("iphone" -> iPhones
 *                                       before iPhone chargers)
 * The last word is a prefix query when it has 2+ characters, so "iph" finds
 * iPhones while the user is still typing.
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
    fts5_api *api = NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(cat->db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK)
        return catalog_db_error(cat, "fts5", err);
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    sqlite3_finalize(st);
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

/* Code points in a valid UTF-8 token. */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* How join() writes each word. */
enum style {
    BARE,         /* iph */
    QUOTED,       /* "iph" */
    QUOTED_PREFIX /* "iph", the last one "iph"* */
};

static void word(sqlite3_str *s, const char *w, enum style style, bool last)
{
    if (style == BARE) {
        sqlite3_str_appendall(s, w);
        return;
    }
    sqlite3_str_appendchar(s, 1, '"');
    for (const char *c = w; *c; c++) {
        if (*c == '"')
            sqlite3_str_appendchar(s, 1, '"'); /* cannot happen with unicode61 */
        sqlite3_str_appendchar(s, 1, *c);
    }
    sqlite3_str_appendchar(s, 1, '"');
    if (style == QUOTED_PREFIX && last)
        sqlite3_str_appendchar(s, 1, '*');
}

/* `head` then the words joined by `sep`; a new sqlite3_malloc()ed string. */
static char *join(const struct tokens *t, const char *head, const char *sep, enum style style)
{
    sqlite3_str *s = sqlite3_str_new(NULL);
    sqlite3_str_appendall(s, head);
    for (int i = 0; i < t->n; i++) {
        if (i)
            sqlite3_str_appendall(s, sep);
        word(s, t->word[i], style, i == t->n - 1);
    }
    return sqlite3_str_finish(s);
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
        enum style style = chars(t->word[t->n - 1]) >= 2 ? QUOTED_PREFIX : QUOTED;
        q->ntokens = t->n;
        q->all = join(t, "", " ", style);
        q->any = join(t, "", " OR ", style);
        q->name_head = join(t, "name : ^ ", " + ", style);
        q->normalized = join(t, "", " ", BARE);
        if (!q->all || !q->any || !q->name_head || !q->normalized) {
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
    sqlite3_free(q->all);
    sqlite3_free(q->any);
    sqlite3_free(q->name_head);
    sqlite3_free(q->normalized);
    memset(q, 0, sizeof *q);
}
