/*
 * access's migrations: schema/access/NNN_name.sql, embedded at build time
 * (access/meson.build) and applied in order at open, one transaction each.
 *
 * Why not PRAGMA user_version: the tables live in the catalog's database
 * file, and user_version is that file's single integer, owned by the
 * catalog's chain (which refuses a version it does not know). access keeps
 * the same protocol with its own counter, the 'schema_version' row of
 * access_meta (a table its first migration creates): BEGIN IMMEDIATE takes
 * the write lock first and the version is read again under it, so two
 * processes opening an old file at once upgrade it exactly once, and a
 * failed migration rolls back to the last good version.
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <stdio.h>

#include "pennyworth/log.h"

extern const unsigned char access_sql_001_api_keys[];
extern const unsigned char access_sql_002_usage[];

const struct access_migration access_migrations[] = {
    {1, "001_api_keys.sql", access_sql_001_api_keys},
    {2, "002_usage.sql", access_sql_002_usage},
};
const size_t access_migration_count = sizeof access_migrations / sizeof access_migrations[0];

/* One integer from a query, or -1 when it fails. */
static int64_t scalar(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

int access_schema_version(sqlite3 *db)
{
    int64_t has = scalar(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'access_meta'");
    if (has <= 0)
        return (int)has; /* 0: none of access's migrations ran yet */
    return (int)scalar(db, "SELECT coalesce((SELECT value FROM access_meta"
                           " WHERE name = 'schema_version'), 0)");
}

static enum pw_err apply(sqlite3 *db, const struct access_migration *m, struct pw_error *err)
{
    enum pw_err rc = access_exec(db, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    int v = access_schema_version(db);
    if (v < 0) {
        rc = access_db_error(db, "read access schema version", err);
        goto fail;
    }
    if (v >= m->version)
        return access_exec(db, "COMMIT", err);
    char *msg = NULL;
    if (sqlite3_exec(db, (const char *)m->sql, NULL, NULL, &msg) != SQLITE_OK) {
        rc = pw_error_set(err, PW_ERR_DB, NULL, "migration access/%s: %s", m->name,
                          msg ? msg : "failed");
        sqlite3_free(msg);
        goto fail;
    }
    char sql[192];
    snprintf(sql, sizeof sql,
             "INSERT INTO access_meta (name, value) VALUES ('schema_version', %d)"
             " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
             m->version);
    rc = access_exec(db, sql, err);
    if (!rc)
        rc = access_exec(db, "COMMIT", err);
    if (rc)
        goto fail;
    pw_info("access: applied migration %s", m->name);
    return PW_OK;
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

enum pw_err access_migrate(sqlite3 *db, struct pw_error *err)
{
    int v = access_schema_version(db);
    if (v < 0)
        return access_db_error(db, "read access schema version", err);
    if (v > (int)access_migration_count)
        return pw_error_set(err, PW_ERR_UNSUPPORTED, NULL,
                            "access tables are at schema version %d, newer than this "
                            "program's %d", v, (int)access_migration_count);
    for (size_t i = 0; i < access_migration_count; i++) {
        if (access_migrations[i].version <= v)
            continue;
        enum pw_err rc = apply(db, &access_migrations[i], err);
        if (rc)
            return rc;
    }
    return PW_OK;
}
