/*
 * Usage records: batched by the writer thread with nothing lost on a clean
 * close, aggregated by key, model and day, purged after the retention
 * period, and (the crash test) at most the last second missing after the
 * writing process is killed with SIGKILL. Bounds: a client's model name is
 * kept to 256 bytes (whole UTF-8 characters), and the writer's queue holds
 * at most the configured bytes, dropping (and counting) past them.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pennyworth/metrics.h"
#include "testutil.h"

static void record(struct pw_access *acc, const char *key, const char *id, const char *model,
                   int status, int64_t prompt, int64_t completion)
{
    struct pw_access_request req = {.api_key = key, .model = model};
    struct pw_access_grant g;
    pw_access_admit(acc, &req, &g);
    assert_int_equal(g.status, 0);
    struct pw_access_usage u = {.request_id = id, .route = "/v1/chat/completions",
                                .model = model, .provider = "openai", .status = status,
                                .prompt_tokens = prompt, .completion_tokens = completion,
                                .latency_us = 2000, .upstream_us = 1500,
                                .products = "[\"12\",\"7\"]"};
    pw_access_finish(acc, &g, &u);
}

static json_t *report(struct pw_access *acc, enum pw_access_usage_by by, int64_t since)
{
    json_t *out = NULL;
    struct pw_error err = {0};
    if (pw_access_usage_report(acc, by, since, &out, &err) != PW_OK)
        fail_msg("report: %s", err.message);
    return out;
}

static int64_t total(json_t *rep, const char *field)
{
    return json_integer_value(json_object_get(json_object_get(rep, "total"), field));
}

static void clean_close_loses_nothing(void **state)
{
    char *dir = at_tmpdir();
    struct at_clock clock = {AT_T0};
    struct pw_access *acc = at_open(dir, &clock, NULL, true);
    char key[PW_ACCESS_KEY_MAX];
    at_key(acc, "enterprise", -1, NULL, 0, key);
    for (int i = 0; i < 1000; i++) {
        char id[32];
        snprintf(id, sizeof id, "r%d", i);
        record(acc, key, id, i % 4 ? "gpt-4o-mini" : "gpt-4o", i % 10 ? 200 : 502, 100, 10);
    }
    pw_access_close(acc); /* no flush first: close must commit the queue */
    acc = at_open(dir, &clock, NULL, false);
    json_t *rep = report(acc, PW_ACCESS_BY_MODEL, 0);
    assert_int_equal(total(rep, "requests"), 1000);
    assert_int_equal(total(rep, "errors"), 100);
    assert_int_equal(total(rep, "promptTokens"), 100000);
    json_t *rows = json_object_get(rep, "rows");
    assert_int_equal(json_array_size(rows), 2);
    /* Dearest first: 250 x gpt-4o (250 + 100 micro-dollars each... rounded per call). */
    json_t *top = json_array_get(rows, 0);
    assert_string_equal(json_string_value(json_object_get(top, "group")), "gpt-4o");
    assert_int_equal(json_integer_value(json_object_get(top, "requests")), 250);
    assert_int_equal(json_integer_value(json_object_get(top, "costMicros")), 250 * 350);
    assert_int_equal(json_integer_value(json_object_get(top, "avgLatencyMs")), 2);
    json_decref(rep);
    rep = report(acc, PW_ACCESS_BY_KEY, 0);
    assert_int_equal(json_array_size(json_object_get(rep, "rows")), 1);
    json_decref(rep);
    rep = report(acc, PW_ACCESS_BY_DAY, 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(rep, "rows"), 0), "group")),
                        "2026-03-14");
    json_decref(rep);
    /* Since later than every record: nothing. */
    rep = report(acc, PW_ACCESS_BY_MODEL, AT_T0 + 1);
    assert_int_equal(total(rep, "requests"), 0);
    json_decref(rep);
    pw_access_close(acc);
    at_rmdir(dir);
}

static void purge_after_retention(void **state)
{
    char *dir = at_tmpdir();
    struct at_clock clock = {AT_T0 - 3 * 86400000LL};
    struct pw_access *acc = at_open(dir, &clock, "{\"usage\": {\"retentionDays\": 2}}", false);
    char key[PW_ACCESS_KEY_MAX];
    at_key(acc, "enterprise", -1, NULL, 0, key);
    record(acc, key, "old", "gpt-4o", 200, 1, 1);
    atomic_store(&clock.now, AT_T0 - 86400000LL);
    record(acc, key, "recent", "gpt-4o", 200, 1, 1);
    atomic_store(&clock.now, AT_T0);
    assert_int_equal(pw_access_usage_purge(acc), 1);
    json_t *rep = report(acc, PW_ACCESS_BY_MODEL, 0);
    assert_int_equal(total(rep, "requests"), 1);
    json_decref(rep);
    pw_access_close(acc);
    at_rmdir(dir);
}

/* A request the bridge refused (unknown model) still makes a record, with
 * the model the client sent: a megabyte of it must not reach the table. */
static void refused_model_is_capped(void **state)
{
    char *dir = at_tmpdir();
    struct at_clock clock = {AT_T0};
    struct pw_access *acc = at_open(dir, &clock, NULL, false);
    char key[PW_ACCESS_KEY_MAX];
    at_key(acc, "enterprise", -1, NULL, 0, key);
    size_t big = 1 << 20;
    char *model = malloc(big + 1);
    model[0] = 'a';
    for (size_t i = 1; i + 1 < 1001; i += 2)
        memcpy(model + i, "\xc3\xa9", 2); /* é: the 256-byte cut falls inside one */
    memset(model + 1001, 'z', big - 1001);
    model[big] = '\0';
    struct pw_access_request req = {.api_key = key};
    struct pw_access_grant g;
    pw_access_admit(acc, &req, &g);
    assert_int_equal(g.status, 0);
    struct pw_access_usage u = {.request_id = "big", .route = "/v1/chat/completions",
                                .model = model, .status = 404};
    pw_access_finish(acc, &g, &u);
    free(model);
    json_t *rep = report(acc, PW_ACCESS_BY_MODEL, 0);
    assert_int_equal(total(rep, "requests"), 1);
    const char *group = json_string_value(
        json_object_get(json_array_get(json_object_get(rep, "rows"), 0), "group"));
    assert_non_null(group); /* valid UTF-8, or jansson would have refused it */
    assert_int_equal(strlen(group), 255);
    assert_int_equal(group[0], 'a');
    assert_memory_equal(group + 253, "\xc3\xa9", 2);
    json_decref(rep);
    pw_access_close(acc);
    at_rmdir(dir);
}

/* 100 records of 16 KiB pushed faster than the writer gathers a batch
 * (200 ms): a 64 KiB queue takes three or four, the rest are dropped and
 * counted, where the record bound alone (100,000) would hold them all. */
static void queue_is_bounded_by_bytes(void **state)
{
    char *dir = at_tmpdir();
    struct at_clock clock = {AT_T0};
    struct pw_access *acc = at_open(dir, &clock, "{\"usage\": {\"queueBytes\": 65536}}", true);
    char key[PW_ACCESS_KEY_MAX];
    at_key(acc, "enterprise", -1, NULL, 0, key);
    struct pw_metric *dropped = pw_metrics_counter(
        pw_metrics_default(), "pennyworth_usage_dropped_total", "", NULL);
    double dropped0 = pw_metric_value(dropped, NULL);
    char *products = malloc(16385);
    memset(products, '1', 16384);
    products[16384] = '\0';
    enum { N = 100 };
    struct pw_access_grant g[N];
    struct pw_access_request req = {.api_key = key, .model = "gpt-4o"};
    for (int i = 0; i < N; i++) {
        pw_access_admit(acc, &req, &g[i]);
        assert_int_equal(g[i].status, 0);
    }
    for (int i = 0; i < N; i++) {
        struct pw_access_usage u = {.request_id = "q", .route = "/v1/chat/completions",
                                    .model = "gpt-4o", .status = 200, .products = products};
        pw_access_finish(acc, &g[i], &u);
    }
    free(products);
    pw_access_usage_flush(acc);
    json_t *rep = report(acc, PW_ACCESS_BY_MODEL, 0);
    int64_t kept = total(rep, "requests");
    json_decref(rep);
    double lost = pw_metric_value(dropped, NULL) - dropped0;
    assert_true(kept >= 1 && kept <= 8); /* 3 a batch; a slow machine may gather twice */
    assert_true(lost == N - kept);
    pw_access_close(acc);
    at_rmdir(dir);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct progress {
    int64_t seq, mono;
};

/* The child: records in open mode, reporting each finished one. */
/* A caller's price wins over the table, even a price of zero (a deployment
 * priced at 0); without one the table prices the tokens. */
static void callers_price_wins_even_at_zero(void **state)
{
    char *dir = at_tmpdir();
    struct at_clock clock = {AT_T0};
    struct pw_access *acc = at_open(dir, &clock, NULL, true);
    char key[PW_ACCESS_KEY_MAX];
    at_key(acc, "enterprise", -1, NULL, 0, key);
    const struct {
        int64_t cost;
        bool priced;
    } cases[] = {{0, true}, {1234, false}, {0, false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pw_access_request req = {.api_key = key, .model = "gpt-4o"};
        struct pw_access_grant g;
        pw_access_admit(acc, &req, &g);
        assert_int_equal(g.status, 0);
        struct pw_access_usage u = {.request_id = "p", .route = "/v1/chat/completions",
                                    .model = "gpt-4o", .status = 200,
                                    .prompt_tokens = 1000000, .cost_micros = cases[i].cost,
                                    .priced = cases[i].priced};
        pw_access_finish(acc, &g, &u);
        pw_access_usage_flush(acc);
        json_t *rep = report(acc, PW_ACCESS_BY_MODEL, 0);
        int64_t table = pw_access_cost(acc, "gpt-4o", 1000000, 0, 0);
        assert_true(table > 0);
        int64_t want = i == 0 ? 0 : i == 1 ? 1234 : 1234 + table;
        assert_int_equal(total(rep, "costMicros"), want);
        json_decref(rep);
    }
    pw_access_close(acc);
    at_rmdir(dir);
}

static void child(const char *dir, int fd)
{
    struct pw_access *acc = at_open(dir, NULL, NULL, true);
    for (int64_t seq = 1;; seq++) {
        char id[32];
        snprintf(id, sizeof id, "%lld", (long long)seq);
        struct pw_access_request req = {0};
        struct pw_access_grant g;
        pw_access_admit(acc, &req, &g);
        struct pw_access_usage u = {.request_id = id, .status = 200, .model = "gpt-4o"};
        pw_access_finish(acc, &g, &u);
        struct progress p = {seq, mono_ms()};
        if (write(fd, &p, sizeof p) != sizeof p)
            _exit(1);
        struct timespec pause = {0, 500000};
        nanosleep(&pause, NULL);
    }
}

static void crash_loses_at_most_a_second(void **state)
{
    char *dir = at_tmpdir();
    struct pw_access *setup = at_open(dir, NULL, NULL, false); /* migrate before forking */
    pw_access_close(setup);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child(dir, fds[1]);
    }
    close(fds[1]);
    /* Let it write for about 1.5 s, then kill it mid-stream. Every
     * report is kept: when each record was finished. */
    size_t cap = 1 << 16, n = 0;
    struct progress *seen = malloc(cap * sizeof *seen), p;
    assert_non_null(seen);
    int64_t start = mono_ms();
    while (mono_ms() - start < 1500 && read(fds[0], &p, sizeof p) == sizeof p) {
        if (n == cap) {
            cap *= 2;
            seen = realloc(seen, cap * sizeof *seen);
            assert_non_null(seen);
        }
        seen[n++] = p;
    }
    kill(pid, SIGKILL);
    int64_t killed = mono_ms();
    while (read(fds[0], &p, sizeof p) == sizeof p) {
        if (n == cap) {
            cap *= 2;
            seen = realloc(seen, cap * sizeof *seen);
            assert_non_null(seen);
        }
        seen[n++] = p;
    }
    close(fds[0]);
    assert_true(n > 0);
    struct progress last = seen[n - 1];
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    assert_true(last.seq > 100);

    char *path = at_path(dir, "access.db");
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*), coalesce(max(CAST(request_id AS"
                                        " INTEGER)), 0) FROM usage", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t count = sqlite3_column_int64(st, 0), max = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(path);
    /* Batches commit in order: what is there is a prefix, 1..max. */
    assert_int_equal(count, max);
    assert_true(max <= last.seq);
    /* Every record finished more than a second before the kill is there:
     * the first missing one (seq max + 1) was finished within the last
     * second. Reports are in seq order, seq k at index k - 1. */
    print_message("crash test: %lld records finished, %lld committed, killed after %lld ms\n",
                  (long long)last.seq, (long long)max, (long long)(killed - start));
    assert_true(max > 0);
    if (max < last.seq) {
        const struct progress *first_missing = &seen[max];
        assert_int_equal(first_missing->seq, max + 1);
        if (first_missing->mono < killed - 1000)
            fail_msg("record %lld finished %lld ms before the kill is missing",
                     (long long)first_missing->seq,
                     (long long)(killed - first_missing->mono));
    }
    free(seen);
    at_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crash_loses_at_most_a_second),
        cmocka_unit_test(clean_close_loses_nothing),
        cmocka_unit_test(purge_after_retention),
        cmocka_unit_test(refused_model_is_capped),
        cmocka_unit_test(queue_is_bounded_by_bytes),
        cmocka_unit_test(callers_price_wins_even_at_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
