/*
 * Opening the catalog database: connection set-up, migrations and the cache
 * of prepared statements.
 *
 * A read-write open enables WAL (readers never wait for a writer), sets a
 * busy timeout (writers in other processes are waited for, not failed) and
 * applies each migration of schema/ newer than PRAGMA user_version, one
 * transaction per migration: BEGIN IMMEDIATE takes the write lock first and
 * user_version is read again under it, so two processes opening an old
 * database at once upgrade it exactly once. A failed migration rolls back
 * and leaves the database at the last good version.
 *
 * A read-only open runs no migrations: the database must already be at this
 * binary's version. A database newer than the binary is refused either way
 * (its triggers and columns are not ours to guess at).
 *
 * Statements used on every request are prepared once per connection
 * (catalog_stmt) and reused; search's, whose SQL depends on the filters
 * given, are kept in a small cache keyed by their text (catalog_stmt_sql).
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/catalog-int.h"

#include <stdlib.h>
#include <string.h>

#include "pennyworth/log.h"

/* SQL of the cached statements. */
static const char upsert_sql[] =
    "INSERT INTO products (id, sku, name, brand, category, price_minor, currency,"
    " availability, stock, rating, description, tags, attributes, updated_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
    " ON CONFLICT (id) DO UPDATE SET sku = excluded.sku, name = excluded.name,"
    " brand = excluded.brand, category = excluded.category,"
    " price_minor = excluded.price_minor, currency = excluded.currency,"
    " availability = excluded.availability, stock = excluded.stock,"
    " rating = excluded.rating, description = excluded.description,"
    " tags = excluded.tags, attributes = excluded.attributes,"
    " updated_at = excluded.updated_at"
    " WHERE products.sku IS NOT excluded.sku OR products.name IS NOT excluded.name"
    " OR products.brand IS NOT excluded.brand"
    " OR products.category IS NOT excluded.category"
    " OR products.price_minor IS NOT excluded.price_minor"
    " OR products.currency IS NOT excluded.currency"
    " OR products.availability IS NOT excluded.availability"
    " OR products.stock IS NOT excluded.stock"
    " OR products.rating IS NOT excluded.rating"
    " OR products.description IS NOT excluded.description"
    " OR products.tags IS NOT excluded.tags"
    " OR products.attributes IS NOT excluded.attributes";

static const char get_sql[] =
    "SELECT " CATALOG_PRODUCT_COLUMNS " FROM products AS p WHERE p.id = ?1";

static const char set_stock_price_sql[] =
    "UPDATE products SET stock = coalesce(?2, stock),"
    " availability = coalesce(?3, availability),"
    " price_minor = coalesce(?4, price_minor), updated_at = ?5"
    " WHERE id = ?1";

static const char changes_since_sql[] =
    "SELECT seq, product_id FROM product_changes WHERE seq > ?1 ORDER BY seq";

static const char change_seq_sql[] =
    "SELECT coalesce((SELECT seq FROM sqlite_sequence"
    " WHERE name = 'product_changes'), 0)";

static const char count_all_sql[] =
    "SELECT count(*) FROM products";

static const char *const stmt_sql[CATALOG_STMT__N] = {
    [CATALOG_STMT_UPSERT] = upsert_sql,
    [CATALOG_STMT_GET] = get_sql,
    [CATALOG_STMT_SET_STOCK_PRICE] = set_stock_price_sql,
    [CATALOG_STMT_CHANGES_SINCE] = changes_since_sql,
    [CATALOG_STMT_CHANGE_SEQ] = change_seq_sql,
    [CATALOG_STMT_COUNT_ALL] = count_all_sql,
};

enum pw_err catalog_db_error(struct pw_catalog *cat, const char *what, struct pw_error *err)
{
    return pw_error_set(err, PW_ERR_DB, NULL, "%s: %s", what,
                        cat && cat->db ? sqlite3_errmsg(cat->db) : "no database");
}

enum pw_err catalog_exec(struct pw_catalog *cat, const char *sql, struct pw_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(cat->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        enum pw_err rc = pw_error_set(err, PW_ERR_DB, NULL, "%s", msg ? msg : "sqlite error");
        sqlite3_free(msg);
        return rc;
    }
    return PW_OK;
}

sqlite3_stmt *catalog_stmt(struct pw_catalog *cat, enum catalog_stmt_id id,
                           struct pw_error *err)
{
    sqlite3_stmt *st = cat->stmts[id];
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
    }
    if (sqlite3_prepare_v3(cat->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st,
                           NULL) != SQLITE_OK) {
        catalog_db_error(cat, "prepare", err);
        return NULL;
    }
    cat->stmts[id] = st;
    return st;
}

sqlite3_stmt *catalog_stmt_sql(struct pw_catalog *cat, char *sql, struct pw_error *err)
{
    struct catalog_cached *slot = &cat->cache[0];
    if (!sql) {
        pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    cat->clock++;
    for (int i = 0; i < CATALOG_SQL_CACHE; i++) {
        struct catalog_cached *c = &cat->cache[i];
        if (c->sql && strcmp(c->sql, sql) == 0) {
            sqlite3_free(sql);
            sqlite3_reset(c->st);
            sqlite3_clear_bindings(c->st);
            c->used = cat->clock;
            return c->st;
        }
        if (!c->sql || c->used < slot->used)
            slot = c; /* a free slot, else the least recently used */
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v3(cat->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        catalog_db_error(cat, "prepare", err);
        sqlite3_free(sql);
        return NULL;
    }
    sqlite3_finalize(slot->st);
    sqlite3_free(slot->sql);
    slot->sql = sql;
    slot->st = st;
    slot->used = cat->clock;
    return st;
}

static int user_version(sqlite3 *db)
{
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Applies one migration unless another connection already has. */
static enum pw_err apply(struct pw_catalog *cat, const struct catalog_migration *m,
                         struct pw_error *err)
{
    enum pw_err rc = catalog_exec(cat, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    int v = user_version(cat->db);
    if (v < 0) {
        rc = catalog_db_error(cat, "read user_version", err);
        goto fail;
    }
    if (v >= m->version)
        return catalog_exec(cat, "COMMIT", err);
    char *msg = NULL;
    if (sqlite3_exec(cat->db, m->sql, NULL, NULL, &msg) != SQLITE_OK) {
        rc = pw_error_set(err, PW_ERR_DB, NULL, "migration %s: %s", m->name,
                          msg ? msg : "failed");
        sqlite3_free(msg);
        goto fail;
    }
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", m->version);
    rc = catalog_exec(cat, pragma, err);
    if (rc)
        goto fail;
    rc = catalog_exec(cat, "COMMIT", err);
    if (rc)
        goto fail;
    pw_info("catalog: applied migration %s", m->name);
    return PW_OK;
fail:
    sqlite3_exec(cat->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static enum pw_err migrate(struct pw_catalog *cat, struct pw_error *err)
{
    int latest = (int)catalog_migration_count;
    int v = user_version(cat->db);
    if (v < 0)
        return catalog_db_error(cat, "read user_version", err);
    if (v > latest)
        return pw_error_set(err, PW_ERR_UNSUPPORTED, NULL,
                            "catalog database is at schema version %d, newer than this "
                            "program's %d", v, latest);
    if (cat->flags & PW_CATALOG_READONLY) {
        if (v < latest)
            return pw_error_set(err, PW_ERR_STATE, NULL,
                                "catalog database is at schema version %d, not %d: "
                                "open it read-write once to upgrade it", v, latest);
        return PW_OK;
    }
    for (size_t i = 0; i < catalog_migration_count; i++) {
        if (catalog_migrations[i].version <= v)
            continue;
        enum pw_err rc = apply(cat, &catalog_migrations[i], err);
        if (rc)
            return rc;
    }
    return PW_OK;
}

static enum pw_err configure(struct pw_catalog *cat, struct pw_error *err)
{
    sqlite3_busy_timeout(cat->db, CATALOG_BUSY_MS);
    /* Reads dominate; mapping the file avoids a copy per page read. Only
     * address space: pages are shared with the OS cache, and SQLite caps
     * the value at its compile-time limit (2 GB on Linux). */
    enum pw_err rc = catalog_exec(cat, "PRAGMA mmap_size = 2147418112", err);
    /* Statement journals (every upsert has one: its triggers write several
     * tables) and sorts stay in memory rather than in temporary files. */
    if (!rc)
        rc = catalog_exec(cat, "PRAGMA temp_store = MEMORY", err);
    if (rc || (cat->flags & PW_CATALOG_READONLY))
        return rc;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(cat->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK)
        return catalog_db_error(cat, "journal_mode", err);
    int step = sqlite3_step(st);
    const char *mode = step == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    bool ok = mode && (strcmp(mode, "wal") == 0 || strcmp(mode, "memory") == 0);
    sqlite3_finalize(st);
    if (!ok)
        return catalog_db_error(cat, "could not enable WAL", err);
    /* In WAL mode NORMAL is durable across application crashes; only an OS
     * crash may lose the last commits, never corrupt the file. */
    return catalog_exec(cat, "PRAGMA synchronous = NORMAL", err);
}

enum pw_err pw_catalog_open(const char *path, unsigned flags, struct pw_catalog **out,
                            struct pw_error *err)
{
    *out = NULL;
    if (!path || !*path)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "no catalog database path");
    struct pw_catalog *cat = calloc(1, sizeof *cat);
    if (!cat)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    cat->flags = flags;
    int oflags = SQLITE_OPEN_NOMUTEX | ((flags & PW_CATALOG_READONLY)
                                            ? SQLITE_OPEN_READONLY
                                            : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    enum pw_err rc;
    if (sqlite3_open_v2(path, &cat->db, oflags, NULL) != SQLITE_OK) {
        rc = pw_error_set(err, PW_ERR_DB, NULL, "open %s: %s", path,
                          cat->db ? sqlite3_errmsg(cat->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(cat->db, 1);
    rc = configure(cat, err);
    if (!rc)
        rc = migrate(cat, err);
    if (rc)
        goto fail;
    cat->schema_version = user_version(cat->db);
    *out = cat;
    return PW_OK;
fail:
    pw_catalog_close(cat);
    return rc;
}

void pw_catalog_close(struct pw_catalog *cat)
{
    if (!cat)
        return;
    for (int i = 0; i < CATALOG_STMT__N; i++)
        sqlite3_finalize(cat->stmts[i]);
    for (int i = 0; i < CATALOG_SQL_CACHE; i++) {
        sqlite3_finalize(cat->cache[i].st);
        sqlite3_free(cat->cache[i].sql);
    }
    if (cat->tokenizer)
        cat->tokenizer_api.xDelete(cat->tokenizer);
    sqlite3_close_v2(cat->db);
    free(cat);
}

int pw_catalog_schema_version(struct pw_catalog *cat) { return cat->schema_version; }
