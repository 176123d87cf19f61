/*
 * Declarations shared by the files of the catalog module, and by nothing
 * else (tests excepted). The public API is include/pennyworth/catalog.h.
 *
 * How the files fit:
 *   store.c       open, pragmas, migrations, prepared-statement cache
 *   migrations.c  (generated from schema/NNN_name.sql by scripts/embed.py)
 *   demo_data.c   (generated from fixtures/catalog/dummyjson-products.json)
 *   money.c       exact decimal <-> minor units, currencies, availability
 *   row.c         one input record (seed, DummyJSON or canonical) -> product
 *   product.c     one database row -> canonical JSON
 *   write.c       upsert, stock/price changes, the change log
 *   read.c        get, categories, stats, completion
 *   query_text.c  free text -> safe FTS5 MATCH expressions
 *   rank.c        FTS5 access and pwrank(), the cheap rank for broad queries
 *   cursor.c      signed opaque pagination cursors
 *   search.c      the search itself (SQL assembly, paging, totals)
 *   import.c      file/buffer import: format detection, JSON, transaction
 *   import_csv.c  the RFC 4180 reader used by import.c
 *   export.c      JSONL / JSON / CSV export
 *   generate.c    the synthetic catalog generator
 *   seed.c        the embedded demo catalog
 *
 * Invariant: a `struct pw_catalog` belongs to one thread at a time; nothing
 * here takes a lock. Names shared between files carry the `catalog_` prefix.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PW_CATALOG_INT_H
#define PW_CATALOG_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pennyworth/catalog.h"

/* Bounds and policy ------------------------------------------------------ */

#define CATALOG_CHANGES_KEEP 10000     /* change-log rows kept after an import */
#define CATALOG_LIMITED_MAX 5          /* stock 1..5 is "limited", 0 "out-of-stock" */
#define CATALOG_ROW_MAX (1024 * 1024)  /* bytes in one input row */
#define CATALOG_NAME_MAX 500           /* characters (code points) in a name */
#define CATALOG_ID_MAX 128             /* bytes in an id */
#define CATALOG_SHORT_MAX 200          /* characters in sku, brand, category */
#define CATALOG_DESCRIPTION_MAX 20000  /* characters in a description */
#define CATALOG_TAGS_MAX 64            /* tags per product */
#define CATALOG_BUSY_MS 5000           /* wait this long for another writer */
#define CATALOG_PROGRESS_ROWS 1000     /* rows between two progress reports */
#define CATALOG_COPY_BUSY_MS 10000     /* backup/restore: longest wait on a lock */
#define CATALOG_SEARCH_WINDOW 500      /* products one search ranks and pages through */

/* Generated tables -------------------------------------------------------- */

struct catalog_migration {
    int version;      /* 1, 2, 3... = PRAGMA user_version after applying */
    const char *name; /* "001_products.sql" */
    const char *sql;
};

extern const struct catalog_migration catalog_migrations[];
extern const size_t catalog_migration_count;

extern const unsigned char catalog_demo_json[];
extern const size_t catalog_demo_json_len;

/* store.c ----------------------------------------------------------------- */

/* Statements prepared once per connection and reused (see store.c's table). */
enum catalog_stmt_id {
    CATALOG_STMT_UPSERT,
    CATALOG_STMT_GET,
    CATALOG_STMT_SET_STOCK_PRICE,
    CATALOG_STMT_CHANGES_SINCE,
    CATALOG_STMT_CHANGE_SEQ,
    CATALOG_STMT_COUNT_ALL,
    CATALOG_STMT__N
};

/* Search statements, whose SQL depends on the filters given, kept by SQL
 * text; the least recently used goes when the cache is full. */
#define CATALOG_SQL_CACHE 16

struct catalog_cached {
    char *sql;         /* sqlite3_malloc()ed; NULL = free slot */
    sqlite3_stmt *st;
    uint64_t used;     /* catalog->clock when last handed out */
};

struct pw_catalog {
    sqlite3 *db;
    unsigned flags;
    int schema_version;
    sqlite3_stmt *stmts[CATALOG_STMT__N];
    struct catalog_cached cache[CATALOG_SQL_CACHE];
    uint64_t clock;
    unsigned char cursor_key[32]; /* from catalog_meta, loaded on first use */
    bool have_cursor_key;
    fts5_api *fts5;                /* this connection's FTS5, see rank.c */
    Fts5Tokenizer *tokenizer;      /* unicode61, created on first search */
    fts5_tokenizer tokenizer_api;  /* its methods */
};

/* The cached statement `id`, reset and with bindings cleared; NULL (and
 * err set) when it cannot be prepared. Borrowed: do not finalize. */
sqlite3_stmt *catalog_stmt(struct pw_catalog *cat, enum catalog_stmt_id id,
                           struct pw_error *err);

/* A statement for `sql` (taken: sqlite3_malloc()ed, freed here), from the
 * cache or newly prepared, reset with bindings cleared; NULL (and err set)
 * when it cannot be prepared. Borrowed: valid until the next call. */
sqlite3_stmt *catalog_stmt_sql(struct pw_catalog *cat, char *sql, struct pw_error *err);

/* Sets PW_ERR_DB from the connection's last error, prefixed by `what`. */
enum pw_err catalog_db_error(struct pw_catalog *cat, const char *what, struct pw_error *err);

/* Runs SQL with no results (BEGIN, COMMIT...). */
enum pw_err catalog_exec(struct pw_catalog *cat, const char *sql, struct pw_error *err);

/* money.c ----------------------------------------------------------------- */

/* Digits after the decimal point for an ISO 4217 code (2 unless listed). */
int catalog_currency_exponent(const char *currency);

/*
 * Parses a non-negative decimal ("19.99", "1e3", " 5 ") into minor units
 * with `exponent` fraction digits, exactly (no floating point). On failure
 * returns false with a static reason ("not a number", "negative", ...).
 */
bool catalog_parse_decimal(const char *s, int exponent, int64_t *out, const char **reason);

/*
 * A JSON number as decimal text for catalog_parse_decimal: an integer as
 * is, a real as the shortest of 15-17 significant digits that reads back
 * as the same double (19.99, not 19.989999999999998). False, with `buf`
 * untouched, when `v` is not a number.
 */
bool catalog_json_decimal(json_t *v, char *buf, size_t n);

/* A price given as a JSON number in major units to minor units of
 * `currency` (NULL = USD), exactly; false with a static reason as
 * catalog_parse_decimal. */
bool catalog_price_from_json(json_t *v, const char *currency, int64_t *minor,
                             const char **reason);

/* "19.99" for 1999 with exponent 2. */
void catalog_format_decimal(int64_t minor, int exponent, char *buf, size_t n);

/* "19.99 USD". */
void catalog_format_money(int64_t minor, const char *currency, char *buf, size_t n);

/* "in-stock" | "limited" | "out-of-stock" for a stock level (see CATALOG_LIMITED_MAX). */
const char *catalog_availability_from_stock(int64_t stock);

/* The canonical availability for a spelling such as "In Stock", "low_stock",
 * "out-of-stock"; NULL when unknown. The result is a static string. */
const char *catalog_availability_parse(const char *s);

/* row.c ------------------------------------------------------------------- */

/* A product ready for the database. Strings are borrowed from the json_t the
 * row came from, except `tags` and `attributes` (owned, JSON text). */
struct catalog_product {
    const char *id;
    const char *sku;          /* NULL = none */
    const char *name;
    const char *brand;        /* NULL = none */
    const char *category;
    const char *description;  /* never NULL ("" when absent) */
    const char *availability; /* static canonical string */
    char currency[4];
    int64_t price_minor;
    int64_t stock;            /* -1 = unknown */
    double rating;            /* < 0 = unknown */
    char *tags;               /* JSON array text */
    char *attributes;         /* JSON object text */
    char idbuf[32];           /* holds a numeric id converted to text */
};

/* Why a row was rejected: "FILE:LINE: <field>: <reason>". */
struct catalog_row_error {
    char field[64];
    char reason[200];
};

/*
 * Reads one record (JSON object; CSV rows arrive as objects of strings) in
 * the seed, DummyJSON or canonical shape into *p. Returns false with *e
 * filled when the record is not acceptable. Always call
 * catalog_product_clear() afterwards.
 */
bool catalog_row_parse(json_t *row, struct catalog_product *p, struct catalog_row_error *e);
void catalog_product_clear(struct catalog_product *p);

/* Code points in valid UTF-8 (continuation bytes are not counted). */
size_t catalog_utf8_chars(const char *s);

/* product.c --------------------------------------------------------------- */

/* The column list catalog_product_json() expects, in order, for a query
 * over `products AS p`. */
#define CATALOG_PRODUCT_COLUMNS                                                 \
    "p.id, p.sku, p.name, p.brand, p.category, p.price_minor, p.currency, "    \
    "p.availability, p.stock, p.rating, p.description, p.tags, p.attributes, " \
    "p.updated_at"

/* The canonical JSON object for the current row of `st` (columns as above,
 * starting at column 0). New reference, NULL on allocation failure. */
json_t *catalog_product_json(sqlite3_stmt *st);

/* write.c ----------------------------------------------------------------- */

/* "2026-11-22T17:00:00Z" for now, UTC. */
void catalog_now(char buf[32]);

/* Inserts or updates one product; a row identical to the stored one is left
 * alone (no updatedAt bump, no change-log entry). `now` is updatedAt. */
enum pw_err catalog_write_product(struct pw_catalog *cat, const struct catalog_product *p,
                                  const char *now, struct pw_error *err);

/* Deletes change-log rows older than the newest CATALOG_CHANGES_KEEP. */
enum pw_err catalog_prune_changes(struct pw_catalog *cat, struct pw_error *err);

/* rank.c ------------------------------------------------------------------ */

/* The connection's fts5_api, with pwrank() registered on it (rank.c); NULL
 * if FTS5 is missing. Borrowed. */
fts5_api *catalog_fts5(struct pw_catalog *cat);

/* query_text.c ------------------------------------------------------------ */

/*
 * Free text turned into FTS5 MATCH expressions that cannot be syntax errors:
 * the text is split into tokens by FTS5's own unicode61 tokenizer and every
 * token is quoted. Up to three ways of matching are offered, to be tried in
 * order until one finds something (search.c): every word as written, then
 * with the last word as a prefix ("iph" -> iPhone), then any word.
 */
struct catalog_fts_attempt {
    char *match; /* MATCH over all columns:    "red" "lipstick"* */
    char *head;  /* LIKE: name starts so:      red lipstick%
                  * (NULL for the any-word attempt) */
    bool prefix; /* the last word is a prefix query */
};

#define CATALOG_FTS_ATTEMPTS 3

struct catalog_fts_query {
    int ntokens;     /* 0 = no usable words: no text filter */
    int nattempts;
    struct catalog_fts_attempt attempt[CATALOG_FTS_ATTEMPTS];
    char *normalized;/* tokens joined by one space: "red lipstick" (LIKE-escaped) */
};

#define CATALOG_QUERY_TOKENS_MAX 16
#define CATALOG_QUERY_TOKEN_MAX 64 /* bytes; longer tokens are dropped */

enum pw_err catalog_fts_query_build(struct pw_catalog *cat, const char *text,
                                    struct catalog_fts_query *q, struct pw_error *err);
void catalog_fts_query_free(struct catalog_fts_query *q);

/* cursor.c ---------------------------------------------------------------- */

#define CATALOG_QUERY_HASH_LEN 16

/* The first CATALOG_QUERY_HASH_LEN bytes of SHA-256 of a query's canonical
 * description (search.c builds it). */
void catalog_query_hash(const void *canon, size_t n, unsigned char out[CATALOG_QUERY_HASH_LEN]);

/* *out = a new string (free()) naming page `offset` of the query whose
 * hash is `qhash`, signed with the database's cursor key. */
enum pw_err catalog_cursor_encode(struct pw_catalog *cat, uint64_t offset,
                                  const unsigned char qhash[CATALOG_QUERY_HASH_LEN],
                                  char **out, struct pw_error *err);

/* Checks a cursor (PW_ERR_INVALID, pointer "/cursor", when it is malformed,
 * forged or from another query) and returns its offset. */
enum pw_err catalog_cursor_decode(struct pw_catalog *cat, const char *cursor,
                                  const unsigned char qhash[CATALOG_QUERY_HASH_LEN],
                                  uint64_t *offset, struct pw_error *err);

/* import.c / import_csv.c ------------------------------------------------- */

/*
 * Called once per input record by the format readers: `line` is the 1-based
 * line where the record starts and `offset` the byte offset just past it.
 * Either `row` is the record (borrowed; a JSON object) or it is NULL and
 * `field`/`reason` say why the record could not be read. Returns 0 to go on,
 * non-zero to stop reading (a fatal error recorded by the callee).
 */
typedef int (*catalog_row_fn)(void *ctx, size_t line, size_t offset, json_t *row,
                              const char *field, const char *reason);

/* Reads CSV (RFC 4180: header row, "" quoting, CRLF or LF, quoted newlines)
 * from buf, one object of strings per record (empty cells omitted). Returns
 * non-zero if fn stopped it. */
int catalog_csv_rows(const char *buf, size_t len, catalog_row_fn fn, void *ctx);

/* pw_catalog_import() on a buffer; `label` is the FILE in diagnostics. */
enum pw_err catalog_import_buffer(struct pw_catalog *cat, const char *label,
                                  const char *buf, size_t len, FILE *diag,
                                  pw_catalog_progress_fn progress, void *ud,
                                  struct pw_import_report *report, struct pw_error *err);

#endif
