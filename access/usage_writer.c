/*
 * The usage writer: one thread that commits usage records in batches, so
 * that a request never waits for the disk.
 *
 *   request path (any thread)          writer thread (own connection)
 *   access_writer_push ──queue──────>  wait for a record, then up to 200 ms
 *     (never blocks on SQLite;         or 256 records, whichever first;
 *      over 100,000 queued or over     one transaction: INSERT usage rows,
 *      the byte bound: drop and        add to key_spend, stamp last_used_at
 *      count)
 *
 * The queue is bounded twice: by records, and by bytes (usage.queueBytes,
 * default 64 MiB), since a record's strings (model, products) are the
 * client's to make long and 100,000 long records could hold gigabytes
 * while the database is slow or locked. A record's bytes are its struct
 * plus its strings. Past either bound the record is dropped, counted in
 * pennyworth_usage_dropped_total and logged as a warning (at most every
 * 10 s, with the number dropped since the last warning), rather than
 * making a request wait.
 *
 * Durability: WAL with synchronous=NORMAL makes a commit survive the
 * process being killed, so after kill -9 only records queued in the last
 * batch interval (200 ms, plus the commit itself) can be missing, well
 * inside the one second promised. A clean shutdown (access_writer_stop)
 * commits everything queued before the thread ends.
 *
 * The writer also purges records past the retention period, once at start
 * and then hourly, in chunks of 5,000 rows so a purge never holds the
 * write lock long.
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pennyworth/clock.h"
#include "pennyworth/log.h"
#include "pennyworth/metrics.h"

#define BATCH_MS 200
#define BATCH_MAX 256
#define QUEUE_MAX 100000
#define DROP_WARN_MS 10000
#define PURGE_EVERY_MS (3600 * 1000)
#define PURGE_CHUNK 5000

struct access_writer {
    struct pw_access *acc;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;              /* records arrived, flush asked, or stop */
    pthread_cond_t done;              /* a batch was processed */
    struct access_record *head, *tail; /* lock */
    size_t queued;                    /* lock */
    size_t queued_bytes;              /* lock */
    uint64_t unreported;              /* lock: drops since the last warning */
    int64_t warned_mono;              /* lock: when the last warning went out */
    int64_t first_mono;               /* lock: when the oldest queued record came */
    uint64_t pushed, processed;       /* lock: records accepted, records written or failed */
    bool flush;                       /* lock */
    bool stop;                        /* lock */
    sqlite3 *db;                      /* writer thread only */
};

void access_record_free(struct access_record *r)
{
    while (r) {
        struct access_record *next = r->next;
        free(r->model);
        free(r->provider);
        free(r->route);
        free(r->products);
        free(r);
        r = next;
    }
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s && *s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static const char insert_sql[] =
    "INSERT INTO usage (" ACCESS_USAGE_COLUMNS ") VALUES"
    " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
static const char spend_sql[] =
    "INSERT INTO key_spend (key_id, month, micros) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (key_id, month) DO UPDATE SET micros = micros + excluded.micros";
static const char used_sql[] =
    "UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?2) WHERE id = ?1";

static enum pw_err write_all(sqlite3 *db, sqlite3_stmt **st, struct access_record *list,
                             struct pw_error *err)
{
    for (struct access_record *r = list; r; r = r->next) {
        sqlite3_stmt *ins = st[0];
        sqlite3_reset(ins);
        sqlite3_clear_bindings(ins);
        sqlite3_bind_text(ins, 1, r->request_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 2, r->ts_ms);
        bind_text_or_null(ins, 3, r->key_id);
        bind_text_or_null(ins, 4, r->route);
        bind_text_or_null(ins, 5, r->model);
        bind_text_or_null(ins, 6, r->provider);
        sqlite3_bind_int(ins, 7, r->status);
        sqlite3_bind_int64(ins, 8, r->prompt);
        sqlite3_bind_int64(ins, 9, r->completion);
        sqlite3_bind_int64(ins, 10, r->cached);
        sqlite3_bind_int64(ins, 11, r->cost_micros);
        sqlite3_bind_int64(ins, 12, r->latency_us);
        sqlite3_bind_int64(ins, 13, r->upstream_us);
        bind_text_or_null(ins, 14, r->products);
        if (sqlite3_step(ins) != SQLITE_DONE)
            return access_db_error(db, "insert usage", err);
        if (!r->key_id[0])
            continue;
        if (r->cost_micros) {
            sqlite3_stmt *sp = st[1];
            sqlite3_reset(sp);
            sqlite3_bind_text(sp, 1, r->key_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(sp, 2, r->month, -1, SQLITE_STATIC);
            sqlite3_bind_int64(sp, 3, r->cost_micros);
            if (sqlite3_step(sp) != SQLITE_DONE)
                return access_db_error(db, "add key spend", err);
        }
        sqlite3_stmt *lu = st[2];
        sqlite3_reset(lu);
        sqlite3_bind_text(lu, 1, r->key_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(lu, 2, r->ts_ms / 1000);
        if (sqlite3_step(lu) != SQLITE_DONE)
            return access_db_error(db, "stamp key use", err);
    }
    return PW_OK;
}

enum pw_err access_records_commit(sqlite3 *db, struct access_record *list,
                                  struct pw_error *err)
{
    sqlite3_stmt *st[3] = {0};
    const char *sql[3] = {insert_sql, spend_sql, used_sql};
    enum pw_err rc = PW_OK;
    for (int i = 0; !rc && i < 3; i++)
        if (sqlite3_prepare_v2(db, sql[i], -1, &st[i], NULL) != SQLITE_OK)
            rc = access_db_error(db, "prepare usage statements", err);
    if (!rc)
        rc = access_exec(db, "BEGIN IMMEDIATE", err);
    if (!rc) {
        rc = write_all(db, st, list, err);
        if (!rc)
            rc = access_exec(db, "COMMIT", err);
        if (rc)
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    for (int i = 0; i < 3; i++)
        sqlite3_finalize(st[i]);
    return rc;
}

/* Deletes records older than `cutoff_ms`, in chunks; returns the count. */
static int64_t purge(sqlite3 *db, int64_t cutoff_ms)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "DELETE FROM usage WHERE rowid IN (SELECT rowid FROM usage"
                           " WHERE ts_ms < ?1 LIMIT ?2)",
                           -1, &st, NULL) != SQLITE_OK) {
        pw_errorlog("access: usage purge: %s", sqlite3_errmsg(db));
        return 0;
    }
    int64_t total = 0;
    for (;;) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, cutoff_ms);
        sqlite3_bind_int(st, 2, PURGE_CHUNK);
        if (sqlite3_step(st) != SQLITE_DONE) {
            pw_errorlog("access: usage purge: %s", sqlite3_errmsg(db));
            break;
        }
        int n = sqlite3_changes(db);
        total += n;
        if (n < PURGE_CHUNK)
            break;
    }
    sqlite3_finalize(st);
    return total;
}

static int64_t cutoff(struct pw_access *acc)
{
    return access_now_ms(acc) - (int64_t)acc->cfg.retention_days * 86400 * 1000;
}

int64_t pw_access_usage_purge(struct pw_access *acc)
{
    pthread_mutex_lock(&acc->wr_lock);
    int64_t n = purge(acc->wr, cutoff(acc));
    pthread_mutex_unlock(&acc->wr_lock);
    return n;
}

static void set_queue_gauge(size_t n)
{
    pw_metric_set(access_metrics()->usage_queue, NULL, (double)n);
}

static void *run(void *arg)
{
    struct access_writer *w = arg;
    int64_t next_purge = 0;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->stop && !w->flush)
            pthread_cond_wait(&w->wake, &w->lock);
        /* Gather for up to BATCH_MS after the oldest record arrived. */
        while (w->head && !w->stop && !w->flush && w->queued < BATCH_MAX) {
            int64_t left = w->first_mono + BATCH_MS - pw_clock_ms();
            if (left <= 0)
                break;
            struct timespec ts = pw_clock_deadline(left);
            pthread_cond_timedwait(&w->wake, &w->lock, &ts);
        }
        struct access_record *batch = w->head;
        size_t n = w->queued;
        w->head = w->tail = NULL;
        w->queued = 0;
        w->queued_bytes = 0;
        w->flush = false;
        bool stopping = w->stop;
        pthread_mutex_unlock(&w->lock);
        set_queue_gauge(0);
        if (batch) {
            struct pw_error err = {0};
            if (access_records_commit(w->db, batch, &err) != PW_OK) {
                pw_errorlog("access: %zu usage records lost: %s", n, err.message);
                pw_metric_add(access_metrics()->usage_dropped, NULL, (double)n);
            }
            access_record_free(batch);
        }
        int64_t now = pw_clock_ms();
        if (!stopping && now >= next_purge) {
            int64_t gone = purge(w->db, cutoff(w->acc));
            if (gone)
                pw_info("access: purged %lld usage records older than %d days",
                        (long long)gone, w->acc->cfg.retention_days);
            next_purge = now + PURGE_EVERY_MS;
        }
        pthread_mutex_lock(&w->lock);
        w->processed += n;
        pthread_cond_broadcast(&w->done);
        if (stopping && !w->head)
            break;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

enum pw_err access_writer_start(struct pw_access *acc, struct pw_error *err)
{
    struct access_writer *w = calloc(1, sizeof *w);
    if (!w)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    w->acc = acc;
    enum pw_err rc = access_db_open(acc->db_path, false, &w->db, err);
    if (rc) {
        free(w);
        return rc;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&w->done, NULL);
    int e = pthread_create(&w->thread, NULL, run, w);
    if (e) {
        sqlite3_close(w->db);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->wake);
        pthread_cond_destroy(&w->done);
        free(w);
        return pw_error_set(err, PW_ERR_INTERNAL, NULL, "usage writer thread: %s",
                            strerror(e));
    }
    acc->writer = w;
    return PW_OK;
}

void access_writer_stop(struct pw_access *acc)
{
    struct access_writer *w = acc->writer;
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    access_record_free(w->head);
    sqlite3_close(w->db);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->done);
    free(w);
    acc->writer = NULL;
}

static size_t len_or_0(const char *s) { return s ? strlen(s) + 1 : 0; }

/* What a queued record holds in memory. */
static size_t record_bytes(const struct access_record *r)
{
    return sizeof *r + len_or_0(r->model) + len_or_0(r->provider) + len_or_0(r->route) +
           len_or_0(r->products);
}

/* Why the queue has no room for `bytes` more, or NULL. w->lock. */
static const char *no_room(const struct access_writer *w, size_t bytes)
{
    if (w->stop)
        return "the writer is stopping";
    if (w->queued >= QUEUE_MAX)
        return "the queue is full (records)";
    if (w->queued_bytes + bytes > (size_t)w->acc->cfg.usage_queue_bytes)
        return "the queue is full (usage.queueBytes)";
    return NULL;
}

void access_writer_push(struct pw_access *acc, struct access_record *r)
{
    struct access_writer *w = acc->writer;
    r->next = NULL;
    size_t bytes = record_bytes(r);
    pthread_mutex_lock(&w->lock);
    const char *why = no_room(w, bytes);
    if (why) {
        w->unreported++;
        int64_t now = pw_clock_ms();
        uint64_t dropped = 0;
        if (w->warned_mono == 0 || now - w->warned_mono >= DROP_WARN_MS) {
            dropped = w->unreported;
            w->unreported = 0;
            w->warned_mono = now;
        }
        pthread_mutex_unlock(&w->lock);
        pw_metric_add(access_metrics()->usage_dropped, NULL, 1);
        if (dropped)
            pw_warn("access: %llu usage record(s) dropped: %s (the database is slow or "
                    "locked?)", (unsigned long long)dropped, why);
        access_record_free(r);
        return;
    }
    if (w->tail)
        w->tail->next = r;
    else {
        w->head = r;
        w->first_mono = pw_clock_ms();
    }
    w->tail = r;
    w->queued++;
    w->queued_bytes += bytes;
    w->pushed++;
    size_t n = w->queued;
    if (n == 1 || n >= BATCH_MAX)
        pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    set_queue_gauge(n);
}

void pw_access_usage_flush(struct pw_access *acc)
{
    struct access_writer *w = acc->writer;
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    uint64_t target = w->pushed;
    while (w->processed < target) {
        w->flush = true;
        pthread_cond_signal(&w->wake);
        pthread_cond_wait(&w->done, &w->lock);
    }
    pthread_mutex_unlock(&w->lock);
}
