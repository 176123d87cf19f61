/*
 * The product catalog: a SQLite database (WAL) with an FTS5 index.
 *
 * A `struct pw_catalog` is one SQLite connection and is NOT thread-safe: use
 * one per thread (the MCP tool workers each open their own read-only one).
 * Any number of connections, in any number of processes, may share a file;
 * writers serialise on SQLite's lock, readers never wait for them (WAL).
 *
 * Products travel as JSON objects (jansson) in this shape, which is also the
 * shape of the MCP tools' structuredContent:
 *
 *   { "id": "12", "sku": "BEA-ESS-ESS-001", "name": "...", "brand": "Essence" | null,
 *     "category": "beauty", "price": {"amountMinor": 999, "currency": "USD",
 *     "formatted": "9.99 USD"}, "availability": "in-stock"|"limited"|"out-of-stock",
 *     "stock": 99, "rating": 4.94, "description": "...", "tags": ["..."],
 *     "attributes": {...}, "updatedAt": "2026-11-22T17:00:00Z" }
 *
 * Every change to a product is also appended to a change log (a sequence
 * number per change), so other connections and processes can learn what
 * changed with pw_catalog_changes_since(); this is how a running server
 * notices a re-import done by another process.
 *
 * Ownership: json_t results are new references (the caller decrefs);
 * string arguments are borrowed for the duration of the call.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_CATALOG_H
#define PENNYWORTH_CATALOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pennyworth/error.h"

struct pw_catalog;

enum {
    PW_CATALOG_READONLY = 1 << 0, /* open read-only (no migrations are run) */
};

/*
 * Opens (creating if needed) the database at `path`, enables WAL and applies
 * the migrations of schema/ not yet applied (tracked by PRAGMA user_version).
 * On success *out is a new handle for pw_catalog_close().
 */
enum pw_err pw_catalog_open(const char *path, unsigned flags,
                            struct pw_catalog **out, struct pw_error *err);
void pw_catalog_close(struct pw_catalog *cat);

/* The schema version the database is at after open. */
int pw_catalog_schema_version(struct pw_catalog *cat);

enum pw_catalog_sort {
    PW_SORT_RELEVANCE = 0, /* bm25 when there is text, else name */
    PW_SORT_PRICE_ASC,
    PW_SORT_PRICE_DESC,
    PW_SORT_RATING,        /* best first */
};

/* A search. Zero-initialise, then set what you need; NULL/negative = unset. */
struct pw_catalog_query {
    const char *text;         /* free text; FTS syntax is searched as plain words */
    const char *category;     /* exact, case-insensitive */
    const char *brand;        /* exact, case-insensitive */
    int64_t min_price_minor;  /* -1 = unset */
    int64_t max_price_minor;  /* -1 = unset */
    const char *availability; /* "in-stock" | "limited" | "out-of-stock" */
    double min_rating;        /* <= 0 = unset */
    enum pw_catalog_sort sort;
    int limit;                /* 1..50; 0 means 10 */
    const char *cursor;       /* opaque, from a previous result's nextCursor */
};

/* Sets the unset sentinels (prices -1) and zeroes the rest. */
void pw_catalog_query_init(struct pw_catalog_query *q);

/*
 * Runs a search. *out = {"products": [...], "total": N, "nextCursor": "..."}
 * (nextCursor absent on the last page). A bad filter or cursor is
 * PW_ERR_INVALID with err->pointer naming the field ("/cursor").
 *
 * A search ranks and pages through at most 500 products: when more match,
 * "total" is 500 and "totalCapped": true is added (narrow the query or add
 * a filter to reach the others). Below that, results are exact. Text that
 * matches nothing with all its words falls back to the last word as a
 * prefix, then to any word. See docs/internals/CATALOG.md.
 */
enum pw_err pw_catalog_search(struct pw_catalog *cat, const struct pw_catalog_query *q,
                              json_t **out, struct pw_error *err);

/* One product by id; PW_ERR_NOT_FOUND when absent. */
enum pw_err pw_catalog_get(struct pw_catalog *cat, const char *id, json_t **out,
                           struct pw_error *err);

/* [{"name": "beauty", "count": 5}, ...] sorted by name. */
enum pw_err pw_catalog_categories(struct pw_catalog *cat, json_t **out,
                                  struct pw_error *err);

/* {"products": N, "categories": N, "brands": N, "inStock": N, "limited": N,
 *  "outOfStock": N, "minPriceMinor": N, "maxPriceMinor": N, "updatedAt": "..."} */
enum pw_err pw_catalog_stats(struct pw_catalog *cat, json_t **out, struct pw_error *err);

enum pw_catalog_field {
    PW_FIELD_CATEGORY,
    PW_FIELD_BRAND,
    PW_FIELD_ID,
};

/*
 * Completion: up to `limit` distinct values of `field` starting with
 * `prefix` (case-insensitive), sorted; *out is a JSON array of strings and
 * *total the number of matches overall.
 */
enum pw_err pw_catalog_complete(struct pw_catalog *cat, enum pw_catalog_field field,
                                const char *prefix, int limit, json_t **out,
                                int *total, struct pw_error *err);

/*
 * Inserts or replaces (by id) one product given in the canonical shape
 * above (price may also be given as "priceMinor"+"currency"). Used by the
 * importer and by write paths (admin API). Bumps updatedAt and the change log.
 */
enum pw_err pw_catalog_upsert(struct pw_catalog *cat, json_t *product, struct pw_error *err);

/* Changes a product's stock (and availability accordingly: 0 out-of-stock,
 * 1..5 limited, more in-stock) and/or price; a negative value leaves that
 * field alone. PW_ERR_NOT_FOUND when there is no such product. */
enum pw_err pw_catalog_set_stock_price(struct pw_catalog *cat, const char *id,
                                       int64_t stock, int64_t price_minor,
                                       struct pw_error *err);

/*
 * Change log: calls fn(ud, product_id) for each change with sequence number
 * > *seq, in order, and advances *seq. Start with *seq from
 * pw_catalog_change_seq() to see only future changes.
 */
enum pw_err pw_catalog_changes_since(struct pw_catalog *cat, int64_t *seq,
                                     void (*fn)(void *ud, const char *id), void *ud,
                                     struct pw_error *err);
int64_t pw_catalog_change_seq(struct pw_catalog *cat);

/*
 * Converts a decimal amount in major units ("19.99", "5", "0.5") to minor
 * units of `currency` (NULL means USD), exactly, without floating point:
 * "19.99" USD -> 1999, "500" JPY -> 500. PW_ERR_INVALID when the text is
 * not a non-negative decimal with at most the currency's number of
 * decimals. For tools and commands that take prices from people.
 */
enum pw_err pw_catalog_price_parse(const char *decimal, const char *currency,
                                   int64_t *minor, struct pw_error *err);

/* Progress --------------------------------------------------------------- */

/*
 * Where long work (import, export, generate) has got to, reported to a
 * caller's function every thousand rows (import: or MiB of input) and once
 * more at the end. The catalog never prints progress itself: what to show, and
 * whether to show anything, is the caller's business (cli/progress.c).
 */
struct pw_catalog_progress {
    size_t rows;        /* rows done so far */
    size_t rows_total;  /* rows in all, 0 when not known ahead (import) */
    size_t bytes;       /* input consumed so far (import; else 0) */
    size_t bytes_total; /* input size (import; else 0) */
    const char *stage;  /* NULL while rows move; else the tail being done ("indexing") */
};

/* Called on the caller's thread, inside the call that was given it; `p`
 * is borrowed for the duration of the call. */
typedef void (*pw_catalog_progress_fn)(void *ud, const struct pw_catalog_progress *p);

/* Import ------------------------------------------------------------------ */

struct pw_import_report {
    size_t rows;        /* rows read */
    size_t imported;    /* rows upserted (0 when any row was bad) */
    size_t bad;         /* rows rejected */
};

/*
 * Imports a JSON array, JSON Lines or CSV file (detected from content), in the
 * seed schema or the DummyJSON shape, in one transaction: if any row is bad,
 * nothing is imported and every bad row is reported to `diag` as
 * "FILE:LINE: field: reason\n". `progress` (may be NULL) gets rows read and
 * bytes done/total now and then, and the stage "indexing" while the search
 * index is built at the end. Returns PW_ERR_INVALID when rows were bad.
 */
enum pw_err pw_catalog_import(struct pw_catalog *cat, const char *file, FILE *diag,
                              pw_catalog_progress_fn progress, void *ud,
                              struct pw_import_report *report, struct pw_error *err);

/* Imports the demo catalog embedded in the binary if the catalog is empty.
 * *seeded tells whether it did. */
enum pw_err pw_catalog_seed_demo(struct pw_catalog *cat, bool *seeded, struct pw_error *err);

enum pw_catalog_format { PW_FORMAT_JSONL, PW_FORMAT_JSON, PW_FORMAT_CSV };

/* Writes every product, ordered by id, in the canonical shape. `progress`
 * (may be NULL) gets rows written of the number counted at the start. */
enum pw_err pw_catalog_export(struct pw_catalog *cat, FILE *out, enum pw_catalog_format fmt,
                              pw_catalog_progress_fn progress, void *ud,
                              struct pw_error *err);

/* Writes N synthetic products (deterministic for a seed) as JSON Lines in the
 * seed schema, for benchmarks. `progress` (may be NULL) gets rows of N. */
enum pw_err pw_catalog_generate(FILE *out, size_t n, uint64_t seed,
                                pw_catalog_progress_fn progress, void *ud,
                                struct pw_error *err);

/* Backup and restore ------------------------------------------------------ */

enum {
    PW_CATALOG_BACKUP_FORCE = 1 << 0, /* replace an existing FILE */
};

/* What a backup or restore copied. */
struct pw_catalog_copy_report {
    int64_t pages;      /* database pages copied */
    int64_t page_size;  /* bytes per page */
    int schema_version; /* the copy's catalog schema version (PRAGMA user_version) */
    int restarts;       /* times a writer's commit made the copy start over */
    bool kept_previous; /* restore: the database it replaced is now DB.bak */
};

/*
 * Copies the database at `db` to `file` with SQLite's online backup, safe
 * while servers read and write `db` (WAL): the copy is one consistent
 * snapshot. It is written to a temporary file beside `file`, checked
 * (quick_check), synced and only then given its name, so `file` is never
 * half written; an existing `file` is PW_ERR_STATE unless
 * PW_CATALOG_BACKUP_FORCE. The copy is a single self-contained file
 * (journal_mode DELETE). A database that stays busy (locked) for 10 s is
 * PW_ERR_TIMEOUT. `report` may be NULL.
 */
enum pw_err pw_catalog_backup(const char *db, const char *file, unsigned flags,
                              struct pw_catalog_copy_report *report, struct pw_error *err);

/*
 * Replaces the database at `db` with the backup `file`: `file` must pass
 * quick_check and be a catalog database this binary can open (the catalog
 * tables, a schema version from 1 to this binary's; an older one is
 * migrated after the copy). Refused with PW_ERR_STATE, touching nothing,
 * while any other connection (a running server) has `db` open: restore
 * takes an exclusive lock on `db` first and holds it to the end. The
 * previous database, if any, is kept as "DB.bak" (replacing an older one).
 * `report` may be NULL.
 */
enum pw_err pw_catalog_restore(const char *db, const char *file,
                               struct pw_catalog_copy_report *report, struct pw_error *err);

#endif
