/*
 * access's migrations: every .sql file in schema/access/ is compiled in (a
 * migration cannot be forgotten in access/schema.c), numbered without gaps,
 * and opening twice or by two handles applies each exactly once. The
 * catalog's PRAGMA user_version is left alone.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/access-int.h"
#include "testutil.h"

static void every_file_is_listed(void **state)
{
    DIR *d = opendir(PW_SOURCE_ROOT "/schema/access");
    assert_non_null(d);
    size_t files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 4, ".sql") != 0)
            continue;
        files++;
        bool listed = false;
        for (size_t i = 0; i < access_migration_count; i++)
            listed |= strcmp(access_migrations[i].name, e->d_name) == 0;
        if (!listed)
            fail_msg("schema/access/%s is not listed in access/schema.c", e->d_name);
    }
    closedir(d);
    assert_int_equal(files, access_migration_count);
    for (size_t i = 0; i < access_migration_count; i++)
        assert_int_equal(access_migrations[i].version, (int)i + 1);
}

static void applied_once_and_user_version_untouched(void **state)
{
    char *dir = at_tmpdir();
    struct pw_access *a = at_open(dir, NULL, NULL, false);
    struct pw_access *b = at_open(dir, NULL, NULL, false);
    pw_access_close(a);
    pw_access_close(b);
    char *path = at_path(dir, "access.db");
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(access_schema_version(db), (int)access_migration_count);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    /* A newer access schema is refused. */
    assert_int_equal(sqlite3_exec(db, "UPDATE access_meta SET value = 99"
                                      " WHERE name = 'schema_version'", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    struct pw_access_options o = {.db_path = path};
    struct pw_access *acc = NULL;
    struct pw_error err = {0};
    assert_int_equal(pw_access_open(&o, &acc, &err), PW_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "99"));
    free(path);
    at_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_file_is_listed),
        cmocka_unit_test(applied_once_and_user_version_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
