/*
 * Monthly budgets: the calendar month (UTC) windows and the seeding of the
 * spend counters.
 *
 * A key's spend this month lives in the counter store under "b:<id>" with
 * the month as its window, and admission consumes from it like any other
 * limit (PW_ACCESS_CONSUME_SOFT: a request is admitted while the spend,
 * counting the reservations of requests still in flight, is below the
 * budget; its estimate is reserved at once, so concurrent requests cannot
 * all slip in under the same remaining amount). The real cost replaces the
 * estimate in pw_access_finish.
 *
 * The database holds the committed spend (key_spend, written by the usage
 * writer with the records). An in-memory store starts empty, so the first
 * admission of a key in a month, in this process, adds the committed spend
 * to the counter first ("seeding"). Seeding is done once per (key, month)
 * under budget_lock, so concurrent first requests wait for it rather than
 * count it twice. A shared store (store.shared) keeps spend itself and is
 * never seeded.
 *
 * Lock order: budget_lock, then keys_lock (for the read connection).
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct access_seeded {
    struct access_seeded *next;
    char key_id[PW_ACCESS_ID_MAX];
    int64_t start;
};

void access_month(int64_t now_ms, int64_t *start, int64_t *end, char label[8])
{
    time_t secs = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    struct tm first = {.tm_year = tm.tm_year, .tm_mon = tm.tm_mon, .tm_mday = 1};
    struct tm next = {.tm_year = tm.tm_year + (tm.tm_mon == 11), .tm_mon = (tm.tm_mon + 1) % 12,
                      .tm_mday = 1};
    *start = (int64_t)timegm(&first) * 1000;
    *end = (int64_t)timegm(&next) * 1000;
    unsigned year = (unsigned)(tm.tm_year + 1900) % 10000, mon = (unsigned)tm.tm_mon % 12 + 1;
    snprintf(label, 8, "%04u-%02u", year, mon);
}

void access_budget_counter(const char *key_id, char *out, size_t size)
{
    snprintf(out, size, "b:%s", key_id);
}

/* Committed spend of (key, month) from the database, or -1. keys_lock. */
static int64_t committed_locked(struct pw_access *acc, const char *key_id, const char *month)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(acc->rd,
                           "SELECT coalesce((SELECT micros FROM key_spend"
                           " WHERE key_id = ?1 AND month = ?2), 0)",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, month, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

enum pw_err access_budget_seed(struct pw_access *acc, const char *key_id, int64_t start,
                               int64_t end, const char *month, struct pw_error *err)
{
    if (acc->store.shared)
        return PW_OK;
    pthread_mutex_lock(&acc->budget_lock);
    for (struct access_seeded *s = acc->seeded; s; s = s->next) {
        if (s->start == start && strcmp(s->key_id, key_id) == 0) {
            pthread_mutex_unlock(&acc->budget_lock);
            return PW_OK;
        }
    }
    pthread_mutex_lock(&acc->keys_lock);
    int64_t spent = committed_locked(acc, key_id, month);
    pthread_mutex_unlock(&acc->keys_lock);
    enum pw_err rc = PW_OK;
    struct access_seeded *s = NULL;
    if (spent < 0)
        rc = access_db_error(acc->rd, "read key spend", err);
    else if (!(s = calloc(1, sizeof *s)))
        rc = pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    if (!rc) {
        /* Touch the window first (a zero-cost consume opens it), then add. */
        char counter[32];
        struct pw_access_consumed c;
        access_budget_counter(key_id, counter, sizeof counter);
        rc = acc->store.consume(acc->store.self, counter, start, end, access_now_ms(acc), 0,
                                -1, 0, &c);
        if (rc)
            pw_error_set(err, rc, NULL, "budget counter of key %s: store failed", key_id);
        if (!rc && spent)
            acc->store.adjust(acc->store.self, counter, start, end, spent);
    }
    if (!rc) {
        snprintf(s->key_id, sizeof s->key_id, "%s", key_id);
        s->start = start;
        s->next = acc->seeded;
        acc->seeded = s;
        /* Seeds of past months are no longer needed. */
        for (struct access_seeded **pp = &s->next; *pp;) {
            if ((*pp)->start < start) {
                struct access_seeded *old = *pp;
                *pp = old->next;
                free(old);
            } else {
                pp = &(*pp)->next;
            }
        }
    } else {
        free(s);
    }
    pthread_mutex_unlock(&acc->budget_lock);
    return rc;
}

void access_budget_clear(struct pw_access *acc)
{
    struct access_seeded *s = acc->seeded;
    while (s) {
        struct access_seeded *next = s->next;
        free(s);
        s = next;
    }
    acc->seeded = NULL;
}
