/*
 * Backup and restore of the database file (the catalog's tables and, in
 * the same file, access's keys and usage), with SQLite's online backup API.
 *
 * Backup reads through an ordinary connection while servers keep reading
 * and writing: in WAL mode a reader never blocks a writer, and each
 * sqlite3_backup_step copies a chunk of pages from one consistent snapshot.
 * A commit by another connection between two steps makes SQLite start the
 * copy over; after COPY_RESTARTS_MAX of those the rest is copied in one
 * step (one snapshot held to the end, which in WAL mode still blocks no
 * writer), so a busy server cannot keep a backup from finishing. A step
 * that finds the database locked (SQLITE_BUSY, SQLITE_LOCKED) is retried
 * after a short nap, for at most CATALOG_COPY_BUSY_MS in a row.
 *
 * Invariants:
 *   1. FILE is never half written: the copy goes to FILE.partial-XXXXXX in
 *      the same directory, is checked (quick_check) and committed (SQLite
 *      syncs it), and only then linked to FILE (or renamed over it with
 *      PW_CATALOG_BACKUP_FORCE), and the directory is synced. A failure
 *      removes the temporary file.
 *   2. Without FORCE an existing FILE is never replaced, even if it appears
 *      during the copy: link(2) refuses an existing name where rename(2)
 *      would replace it.
 *   3. A backup is one self-contained file (journal_mode DELETE), whatever
 *      the source's mode; `pw_catalog_open` turns WAL back on.
 *   4. Restore changes nothing unless it holds the database alone: it sets
 *      locking_mode EXCLUSIVE and begins an exclusive transaction, which in
 *      WAL mode needs an exclusive lock on the database file itself, and
 *      every other connection that has read the file (a server) holds a
 *      shared lock on it for as long as it is open. The lock is kept until
 *      the copy is committed, so a server started meanwhile waits or fails
 *      instead of reading a file being replaced.
 *   5. Restore writes through that connection (a backup *into* it), so the
 *      replacement is one SQLite transaction: a crash leaves the old
 *      database or the new one, never a mix. The old one is first copied
 *      to DB.bak with the same care as a backup.
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/catalog-int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_CHUNK_PAGES 1024 /* pages per step: 4 MiB at the default page size */
#define COPY_RESTARTS_MAX 3   /* then copy the rest in one step */
#define COPY_NAP_MS 20        /* between two attempts on a locked database */

static enum pw_err db_error(sqlite3 *db, const char *what, const char *path,
                            struct pw_error *err)
{
    return pw_error_set(err, PW_ERR_DB, NULL, "%s %s: %s", what, path,
                        db ? sqlite3_errmsg(db) : "out of memory");
}

static enum pw_err exec(sqlite3 *db, const char *sql, const char *path, struct pw_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return PW_OK;
    enum pw_err rc = pw_error_set(err, PW_ERR_DB, NULL, "%s: %s: %s", path, sql,
                                  msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return rc;
}

/* The first column of the first row of `sql` as text into out ("" when
 * there is none); false when the statement fails. */
static bool text_of(sqlite3 *db, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *st;
    out[0] = '\0';
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return false;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return step == SQLITE_ROW || step == SQLITE_DONE;
}

static int int_of(sqlite3 *db, const char *sql)
{
    char text[32];
    return text_of(db, sql, text, sizeof text) && *text ? (int)strtol(text, NULL, 10) : -1;
}

/* Opens a plain connection (no migrations, no pragmas of pw_catalog_open). */
static enum pw_err open_db(const char *path, int flags, sqlite3 **out, struct pw_error *err)
{
    *out = NULL;
    if (sqlite3_open_v2(path, out, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        enum pw_err rc = db_error(*out, "open", path, err);
        sqlite3_close(*out);
        *out = NULL;
        return rc;
    }
    sqlite3_extended_result_codes(*out, 1);
    return PW_OK;
}

/* Whether a and b name the same file (false when either is missing). */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* ------------------------------------------------------------------------
 * The copy loop
 */

/* Copies every page of src's main database into dst's, retrying locked
 * steps within the bound and counting restarts (see the top comment). */
static enum pw_err copy(sqlite3 *dst, const char *dst_path, sqlite3 *src, const char *src_path,
                        struct pw_catalog_copy_report *rep, struct pw_error *err)
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b)
        return db_error(dst, "copy into", dst_path, err);
    int chunk = COPY_CHUNK_PAGES, waited_ms = 0, last_remaining = -1, step;
    for (;;) {
        step = sqlite3_backup_step(b, chunk);
        if (step == SQLITE_DONE)
            break;
        if ((step & 0xff) == SQLITE_BUSY || (step & 0xff) == SQLITE_LOCKED) {
            if (waited_ms >= CATALOG_COPY_BUSY_MS)
                break;
            sqlite3_sleep(COPY_NAP_MS);
            waited_ms += COPY_NAP_MS;
            continue;
        }
        if (step != SQLITE_OK)
            break;
        waited_ms = 0;
        /* More left than after the previous step: the copy started over. */
        int remaining = sqlite3_backup_remaining(b);
        if (last_remaining >= 0 && remaining > last_remaining &&
            ++rep->restarts >= COPY_RESTARTS_MAX)
            chunk = -1;
        last_remaining = remaining;
    }
    rep->pages = sqlite3_backup_pagecount(b);
    int finish = sqlite3_backup_finish(b);
    if (step == SQLITE_DONE && finish == SQLITE_OK)
        return PW_OK;
    if (step != SQLITE_DONE && ((step & 0xff) == SQLITE_BUSY || (step & 0xff) == SQLITE_LOCKED))
        return pw_error_set(err, PW_ERR_TIMEOUT, NULL,
                            "%s stayed locked for %d s; nothing was copied", src_path,
                            CATALOG_COPY_BUSY_MS / 1000);
    return pw_error_set(err, PW_ERR_DB, NULL, "copying %s to %s: %s", src_path, dst_path,
                        sqlite3_errstr(step != SQLITE_DONE ? step : finish));
}

/* ------------------------------------------------------------------------
 * Writing a copy to a file (backup, and DB.bak in restore)
 */

static void remove_temp(const char *tmp)
{
    static const char *const suffixes[] = {"", "-journal", "-wal", "-shm"};
    char path[4200];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(path, sizeof path, "%s%s", tmp, suffixes[i]);
        unlink(path);
    }
}

/* Syncs the directory holding `path`, so a rename in it survives a crash. */
static void sync_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Gives the finished temporary file its name (invariants 1 and 2). */
static enum pw_err place(const char *tmp, const char *file, bool replace, struct pw_error *err)
{
    if (replace ? rename(tmp, file) != 0 : link(tmp, file) != 0) {
        int e = errno;
        if (e == EEXIST)
            return pw_error_set(err, PW_ERR_STATE, NULL, "%s already exists", file);
        return pw_error_set(err, PW_ERR_IO, NULL, "%s: %s", file, strerror(e));
    }
    if (!replace)
        unlink(tmp);
    sync_dir(file);
    return PW_OK;
}

/* Writes src's database to `file` through a checked temporary file. */
static enum pw_err write_copy(sqlite3 *src, const char *src_path, const char *file,
                              bool replace, struct pw_catalog_copy_report *rep,
                              struct pw_error *err)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.partial-XXXXXX", file) >= sizeof tmp)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "%s: path too long", file);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return pw_error_set(err, PW_ERR_IO, NULL, "%s: %s", tmp, strerror(errno));
    close(fd); /* an empty file is an empty database to SQLite */
    sqlite3 *dst;
    char check[64];
    enum pw_err rc = open_db(tmp, SQLITE_OPEN_READWRITE, &dst, err);
    if (!rc)
        rc = copy(dst, tmp, src, src_path, rep, err);
    if (!rc) {
        rep->page_size = int_of(dst, "PRAGMA page_size");
        rep->schema_version = int_of(dst, "PRAGMA user_version");
        /* Self-contained (invariant 3), and checked before it gets a name. */
        rc = exec(dst, "PRAGMA journal_mode = DELETE", tmp, err);
    }
    if (!rc && (!text_of(dst, "PRAGMA quick_check", check, sizeof check) ||
                strcmp(check, "ok") != 0))
        rc = pw_error_set(err, PW_ERR_DB, NULL, "the copy of %s fails quick_check: %s",
                          src_path, *check ? check : sqlite3_errmsg(dst));
    if (dst && sqlite3_close(dst) != SQLITE_OK && !rc)
        rc = db_error(dst, "close", tmp, err);
    if (!rc)
        rc = place(tmp, file, replace, err);
    if (rc)
        remove_temp(tmp);
    return rc;
}

enum pw_err pw_catalog_backup(const char *db, const char *file, unsigned flags,
                              struct pw_catalog_copy_report *report, struct pw_error *err)
{
    struct pw_catalog_copy_report local;
    struct pw_catalog_copy_report *rep = report ? report : &local;
    memset(rep, 0, sizeof *rep);
    bool replace = flags & PW_CATALOG_BACKUP_FORCE;
    struct stat st;
    if (stat(db, &st) != 0)
        return pw_error_set(err, PW_ERR_NOT_FOUND, NULL, "no database at %s", db);
    if (same_file(db, file))
        return pw_error_set(err, PW_ERR_INVALID, NULL, "%s is the database itself", file);
    if (!replace && lstat(file, &st) == 0)
        return pw_error_set(err, PW_ERR_STATE, NULL, "%s already exists", file);
    /* Read-write, never created: a WAL database may need its recovery run,
     * and a reader must be able to create the -shm file. */
    sqlite3 *src;
    enum pw_err rc = open_db(db, SQLITE_OPEN_READWRITE, &src, err);
    if (!rc)
        rc = write_copy(src, db, file, replace, rep, err);
    sqlite3_close(src);
    return rc;
}

/* ------------------------------------------------------------------------
 * Restore
 */

/* Checks that `file` (open as src) is a catalog database this binary can
 * take: sound, with the products table, at a schema version it knows. */
static enum pw_err check_backup(sqlite3 *src, const char *file, struct pw_error *err)
{
    char check[64];
    if (!text_of(src, "PRAGMA quick_check", check, sizeof check))
        return pw_error_set(err, PW_ERR_INVALID, NULL, "%s is not a database: %s", file,
                            sqlite3_errmsg(src));
    if (strcmp(check, "ok") != 0)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "%s fails quick_check: %s", file,
                            check);
    int v = int_of(src, "PRAGMA user_version");
    int products = int_of(src, "SELECT count(*) FROM sqlite_schema"
                               " WHERE type = 'table' AND name = 'products'");
    if (products != 1 || v < 1)
        return pw_error_set(err, PW_ERR_INVALID, NULL,
                            "%s is not a pennyworth database (no catalog tables)", file);
    if (v > (int)catalog_migration_count)
        return pw_error_set(err, PW_ERR_UNSUPPORTED, NULL,
                            "%s is at schema version %d, newer than this program's %d", file,
                            v, (int)catalog_migration_count);
    return PW_OK;
}

/* Takes the database for this connection alone (invariant 4). */
static enum pw_err lock_alone(sqlite3 *dst, const char *db, struct pw_error *err)
{
    enum pw_err rc = exec(dst, "PRAGMA locking_mode = EXCLUSIVE", db, err);
    if (rc)
        return rc;
    int step = sqlite3_exec(dst, "BEGIN EXCLUSIVE", NULL, NULL, NULL);
    if ((step & 0xff) == SQLITE_BUSY || (step & 0xff) == SQLITE_LOCKED)
        return pw_error_set(err, PW_ERR_STATE, NULL,
                            "%s is open in another process (a running pennyworth serve "
                            "or stdio?): stop it, then restore", db);
    if (step != SQLITE_OK)
        return db_error(dst, "lock", db, err);
    return exec(dst, "COMMIT", db, err);
}

enum pw_err pw_catalog_restore(const char *db, const char *file,
                               struct pw_catalog_copy_report *report, struct pw_error *err)
{
    struct pw_catalog_copy_report local, bak = {0};
    struct pw_catalog_copy_report *rep = report ? report : &local;
    memset(rep, 0, sizeof *rep);
    struct stat st;
    if (stat(file, &st) != 0)
        return pw_error_set(err, PW_ERR_NOT_FOUND, NULL, "%s: %s", file, strerror(errno));
    if (same_file(db, file))
        return pw_error_set(err, PW_ERR_INVALID, NULL, "%s is the database itself", file);
    sqlite3 *src = NULL, *dst = NULL;
    enum pw_err rc = open_db(file, SQLITE_OPEN_READONLY, &src, err);
    if (!rc)
        rc = check_backup(src, file, err);
    if (!rc)
        rc = open_db(db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &dst, err);
    if (!rc)
        rc = lock_alone(dst, db, err);
    if (!rc && int_of(dst, "SELECT count(*) FROM sqlite_schema") > 0) {
        char kept[4096];
        snprintf(kept, sizeof kept, "%s.bak", db);
        rc = write_copy(dst, db, kept, true, &bak, err);
        rep->kept_previous = rc == PW_OK;
    }
    if (!rc)
        rc = copy(dst, db, src, file, rep, err);
    if (!rc) {
        rep->page_size = int_of(dst, "PRAGMA page_size");
        rep->schema_version = int_of(dst, "PRAGMA user_version");
    }
    sqlite3_close(src);
    if (dst && sqlite3_close(dst) != SQLITE_OK && !rc)
        rc = db_error(dst, "close", db, err);
    if (rc)
        return rc;
    /* An older backup is brought up to this binary's schema now, not by
     * whichever server opens it first; this also turns WAL back on. */
    struct pw_catalog *cat = NULL;
    rc = pw_catalog_open(db, 0, &cat, err);
    pw_catalog_close(cat);
    return rc;
}
