/*
 * Usage reports: the records aggregated by key, model or day since a
 * moment, for `pennyworth usage` and GET /admin/usage, plus the parsers of
 * their options ("model", "7d").
 *
 * Reports read through the management connection (wr_lock) on the
 * caller's thread; in WAL they see every committed batch and never block
 * the writer. Errors are counted as records whose status is 400 or more.
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const by_names[] = {
    [PW_ACCESS_BY_KEY] = "key",
    [PW_ACCESS_BY_MODEL] = "model",
    [PW_ACCESS_BY_DAY] = "day",
};

static const char *const by_sql[] = {
    [PW_ACCESS_BY_KEY] = "coalesce(key_id, '(none)')",
    [PW_ACCESS_BY_MODEL] = "coalesce(model, '(none)')",
    [PW_ACCESS_BY_DAY] = "strftime('%Y-%m-%d', ts_ms / 1000, 'unixepoch')",
};

bool pw_access_usage_by_parse(const char *s, enum pw_access_usage_by *out)
{
    for (size_t i = 0; s && i < sizeof by_names / sizeof by_names[0]; i++) {
        if (strcmp(s, by_names[i]) == 0) {
            *out = (enum pw_access_usage_by)i;
            return true;
        }
    }
    return false;
}

bool pw_access_duration_parse(const char *s, int64_t *ms)
{
    static const struct { char unit; int64_t ms; } units[] = {
        {'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}, {'w', 604800000},
    };
    if (!s || *s < '0' || *s > '9')
        return false;
    int64_t n = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');
        if (n > 100000000)
            return false;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (p[0] == units[i].unit && p[1] == '\0') {
            *ms = n * units[i].ms;
            return true;
        }
    }
    return false;
}

json_t *access_usage_row_json(sqlite3_stmt *st)
{
    char when[32];
    access_iso8601(sqlite3_column_int64(st, 1), when);
    json_t *o = json_object();
    json_object_set_new(o, "requestId", json_string((const char *)sqlite3_column_text(st, 0)));
    json_object_set_new(o, "time", json_string(when));
    static const char *const text_cols[] = {NULL, NULL, "keyId", "route", "model",
                                            "provider"};
    for (int i = 2; i <= 5; i++) {
        const char *v = (const char *)sqlite3_column_text(st, i);
        json_object_set_new(o, text_cols[i], v ? json_string(v) : json_null());
    }
    static const char *const int_cols[] = {"status", "promptTokens", "completionTokens",
                                           "cachedTokens", "costMicros", "latencyUs",
                                           "upstreamUs"};
    for (int i = 0; i < 7; i++)
        json_object_set_new(o, int_cols[i], json_integer(sqlite3_column_int64(st, 6 + i)));
    const char *products = (const char *)sqlite3_column_text(st, 13);
    json_t *p = products ? json_loads(products, 0, NULL) : NULL;
    json_object_set_new(o, "products", p ? p : json_array());
    return o;
}

/* One aggregate row (columns 1..7 of the report query) as JSON. */
static json_t *aggregate(sqlite3_stmt *st, int first)
{
    json_t *o = json_object();
    static const char *const names[] = {"requests", "errors", "promptTokens",
                                        "completionTokens", "cachedTokens", "costMicros"};
    for (int i = 0; i < 6; i++)
        json_object_set_new(o, names[i], json_integer(sqlite3_column_int64(st, first + i)));
    char usd[32];
    pw_access_format_usd(sqlite3_column_int64(st, first + 5), usd, sizeof usd);
    json_object_set_new(o, "costUsd", json_string(usd));
    json_object_set_new(o, "avgLatencyMs",
                        json_integer((sqlite3_column_int64(st, first + 6) + 500) / 1000));
    return o;
}

#define AGGREGATES                                                                 \
    "count(*), coalesce(sum(status >= 400), 0), coalesce(sum(prompt_tokens), 0),"  \
    " coalesce(sum(completion_tokens), 0), coalesce(sum(cached_tokens), 0),"       \
    " coalesce(sum(cost_micros), 0), coalesce(CAST(avg(latency_us) AS INTEGER), 0)"

enum pw_err pw_access_usage_report(struct pw_access *acc, enum pw_access_usage_by by,
                                   int64_t since_ms, json_t **out, struct pw_error *err)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT %s AS g, " AGGREGATES " FROM usage WHERE ts_ms >= ?1 GROUP BY g"
             " ORDER BY %s",
             by_sql[by], by == PW_ACCESS_BY_DAY ? "g" : "7 DESC, 2 DESC, g");
    pthread_mutex_lock(&acc->wr_lock);
    sqlite3_stmt *st = NULL, *tot = NULL;
    enum pw_err rc = PW_OK;
    if (sqlite3_prepare_v2(acc->wr, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(acc->wr, "SELECT " AGGREGATES " FROM usage WHERE ts_ms >= ?1", -1,
                           &tot, NULL) != SQLITE_OK)
        rc = access_db_error(acc->wr, "usage report", err);
    json_t *rows = json_array(), *total = NULL;
    if (!rc) {
        sqlite3_bind_int64(st, 1, since_ms);
        int s;
        while ((s = sqlite3_step(st)) == SQLITE_ROW) {
            json_t *row = aggregate(st, 1);
            json_object_set_new(row, "group", json_string((const char *)sqlite3_column_text(st,
                                                                                         0)));
            json_array_append_new(rows, row);
        }
        sqlite3_bind_int64(tot, 1, since_ms);
        if (s != SQLITE_DONE || sqlite3_step(tot) != SQLITE_ROW)
            rc = access_db_error(acc->wr, "usage report", err);
        else
            total = aggregate(tot, 0);
    }
    sqlite3_finalize(st);
    sqlite3_finalize(tot);
    pthread_mutex_unlock(&acc->wr_lock);
    if (rc) {
        json_decref(rows);
        return rc;
    }
    char since[32];
    access_iso8601(since_ms, since);
    *out = json_pack("{s:s, s:s, s:o, s:o}", "by", by_names[by], "since", since, "rows", rows,
                     "total", total);
    return PW_OK;
}
