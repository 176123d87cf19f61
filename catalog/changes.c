/*
 * The change log: who changed, in order, for other connections to follow.
 *
 * Triggers (schema/003_changes.sql) append a row per insert, update or
 * delete of a product, in the writer's transaction, so a reader sees a
 * change exactly when it sees the data. A follower keeps the last sequence
 * number it has seen and asks for what came after; sequence numbers come
 * from AUTOINCREMENT and never go back, even when old rows are pruned.
 *
 * Bounded: catalog_prune_changes() keeps the newest CATALOG_CHANGES_KEEP
 * rows. A follower that falls further behind than that misses the pruned
 * entries (the ids, not the data: it can always re-read the products).
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/catalog-int.h"

#include "pennyworth/log.h"

enum pw_err catalog_prune_changes(struct pw_catalog *cat, struct pw_error *err)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "DELETE FROM product_changes WHERE seq <= "
             "(SELECT max(seq) FROM product_changes) - %d",
             CATALOG_CHANGES_KEEP);
    return catalog_exec(cat, sql, err);
}

enum pw_err pw_catalog_changes_since(struct pw_catalog *cat, int64_t *seq,
                                     void (*fn)(void *ud, const char *id), void *ud,
                                     struct pw_error *err)
{
    sqlite3_stmt *st = catalog_stmt(cat, CATALOG_STMT_CHANGES_SINCE, err);
    if (!st)
        return PW_ERR_DB;
    sqlite3_bind_int64(st, 1, *seq);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        fn(ud, (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return catalog_db_error(cat, "read change log", err);
    return PW_OK;
}

int64_t pw_catalog_change_seq(struct pw_catalog *cat)
{
    struct pw_error err = {0};
    sqlite3_stmt *st = catalog_stmt(cat, CATALOG_STMT_CHANGE_SEQ, &err);
    int64_t seq = 0;
    if (st && sqlite3_step(st) == SQLITE_ROW)
        seq = sqlite3_column_int64(st, 0);
    else
        pw_warn("catalog: cannot read the change sequence: %s",
                err.code ? err.message : sqlite3_errmsg(cat->db));
    if (st)
        sqlite3_reset(st);
    return seq;
}
