/*
 * Opening and closing a `struct pw_access`: the configuration (with an
 * IP guard given as an option, serve --ip-limit, over its ipLimit), the
 * counter store, the database connections and the usage writer.
 *
 * Connections, each with its own lock (access-int.h):
 *   wr  read-write, key management and reports, on the caller's thread;
 *       also applies access's migrations at open
 *   rd  read-only, the key cache's reloads and budget seeding (admission)
 *   the usage writer's own connection, on its thread (usage_writer.c)
 * All run in WAL mode, so the admission path's reads never wait for the
 * writer's batches, and a busy timeout makes writers in other processes
 * wait rather than fail.
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum pw_err access_db_error(sqlite3 *db, const char *what, struct pw_error *err)
{
    return pw_error_set(err, PW_ERR_DB, NULL, "%s: %s", what,
                        db ? sqlite3_errmsg(db) : "no database");
}

enum pw_err access_exec(sqlite3 *db, const char *sql, struct pw_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        enum pw_err rc = pw_error_set(err, PW_ERR_DB, NULL, "%s", msg ? msg : "sqlite error");
        sqlite3_free(msg);
        return rc;
    }
    return PW_OK;
}

enum pw_err access_db_open(const char *path, bool readonly, sqlite3 **out,
                           struct pw_error *err)
{
    sqlite3 *db = NULL;
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        enum pw_err rc = pw_error_set(err, PW_ERR_DB, NULL, "open %s: %s", path,
                                      db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, ACCESS_BUSY_MS);
    enum pw_err rc = PW_OK;
    if (!readonly) {
        rc = access_exec(db, "PRAGMA journal_mode = WAL", err);
        /* WAL + NORMAL survives an application crash (kill -9) without
         * losing a commit; only an OS crash may lose the last ones. */
        if (!rc)
            rc = access_exec(db, "PRAGMA synchronous = NORMAL", err);
    }
    if (rc) {
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    return PW_OK;
}

static int64_t real_clock(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t access_now_ms(struct pw_access *acc) { return acc->clock_ms(acc->clock_ud); }

void access_iso8601(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    /* The modulos only tell the compiler the ranges that gmtime_r keeps. */
    snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
             (unsigned)(tm.tm_year + 1900) % 10000, (unsigned)tm.tm_mon % 12 + 1,
             (unsigned)tm.tm_mday % 32, (unsigned)tm.tm_hour % 24, (unsigned)tm.tm_min % 60,
             (unsigned)tm.tm_sec % 61, (unsigned)(ms % 1000 + 1000) % 1000);
}

enum pw_err pw_access_open(const struct pw_access_options *opt, struct pw_access **out,
                           struct pw_error *err)
{
    *out = NULL;
    if (!opt || !opt->db_path)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "access: no database path");
    struct pw_access *acc = calloc(1, sizeof *acc);
    if (!acc)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    pthread_mutex_init(&acc->keys_lock, NULL);
    pthread_mutex_init(&acc->wr_lock, NULL);
    pthread_mutex_init(&acc->budget_lock, NULL);
    pthread_mutex_init(&acc->ticket_lock, NULL);
    acc->clock_ms = opt->clock_ms ? opt->clock_ms : real_clock;
    acc->clock_ud = opt->clock_ud;
    acc->db_path = strdup(opt->db_path);
    enum pw_err rc = acc->db_path ? PW_OK : pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    if (!rc)
        rc = access_config_load(&acc->cfg, opt->config, err);
    if (!rc && opt->ip_limit) {
        acc->cfg.ip_limit = opt->ip_limit->failures;
        if (opt->ip_limit->window_ms > 0)
            acc->cfg.ip_window_ms = opt->ip_limit->window_ms;
    }
    if (!rc) {
        if (opt->store)
            acc->store = *opt->store;
        else
            rc = pw_access_store_memory(&acc->store, err);
    }
    if (!rc)
        rc = access_db_open(acc->db_path, false, &acc->wr, err);
    if (!rc)
        rc = access_migrate(acc->wr, err);
    if (!rc)
        rc = access_db_open(acc->db_path, true, &acc->rd, err);
    if (!rc) {
        pthread_mutex_lock(&acc->keys_lock);
        rc = access_keycache_refresh_locked(acc, err);
        pthread_mutex_unlock(&acc->keys_lock);
    }
    (void)access_metrics();
    if (!rc && opt->writer)
        rc = access_writer_start(acc, err);
    if (rc) {
        pw_access_close(acc);
        return rc;
    }
    *out = acc;
    return PW_OK;
}

void pw_access_close(struct pw_access *acc)
{
    if (!acc)
        return;
    access_writer_stop(acc);
    access_keycache_clear(&acc->keys);
    access_budget_clear(acc);
    access_tickets_clear(acc);
    if (acc->store.free)
        acc->store.free(acc->store.self);
    sqlite3_close(acc->rd);
    sqlite3_close(acc->wr);
    access_config_clear(&acc->cfg);
    pthread_mutex_destroy(&acc->keys_lock);
    pthread_mutex_destroy(&acc->wr_lock);
    pthread_mutex_destroy(&acc->budget_lock);
    pthread_mutex_destroy(&acc->ticket_lock);
    free(acc->routes);
    free(acc->db_path);
    free(acc);
}
