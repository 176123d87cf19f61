/*
 * Rate limits: the counter store's atomic check-and-consume, tier limits
 * hit exactly at their numbers by concurrent threads, token reservations
 * reconciled with real usage, the per-IP guard before authentication
 * (counting failed authentications only, so keyed traffic from one address
 * is held to its tier alone; --ip-limit over the configuration), and the
 * x-ratelimit-* / retry headers of a grant.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define THREADS 8

struct store_job {
    struct pw_access_store *store;
    int calls;
    _Atomic int allowed;
};

static void *store_worker(void *arg)
{
    struct store_job *j = arg;
    for (int i = 0; i < j->calls; i++) {
        struct pw_access_consumed c;
        assert_int_equal(j->store->consume(j->store->self, "k", 0, 60000, 10, 1, 3000, 0, &c),
                         PW_OK);
        if (c.allowed)
            atomic_fetch_add(&j->allowed, 1);
    }
    return NULL;
}

static void store_is_atomic(void **state)
{
    struct pw_access_store s;
    assert_int_equal(pw_access_store_memory(&s, NULL), PW_OK);
    struct store_job job = {.store = &s, .calls = 1000};
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, store_worker, &job);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&job.allowed), 3000);

    /* A new window starts again; adjust only touches its own window. */
    struct pw_access_consumed c;
    s.adjust(s.self, "k", 0, 60000, -500);
    assert_int_equal(s.consume(s.self, "k", 0, 60000, 20, 0, 3000, 0, &c), PW_OK);
    assert_int_equal(c.count, 2500);
    assert_int_equal(c.remaining, 500);
    assert_int_equal(c.reset_ms, 60000 - 20);
    assert_int_equal(s.consume(s.self, "k", 60000, 120000, 60000, 1, 3000, 0, &c), PW_OK);
    assert_int_equal(c.count, 1);
    s.adjust(s.self, "k", 0, 60000, 100);
    assert_int_equal(s.consume(s.self, "k", 60000, 120000, 60001, 0, 3000, 0, &c), PW_OK);
    assert_int_equal(c.count, 1);
    /* Soft: admitted while below the limit, cost added in full. */
    assert_int_equal(s.consume(s.self, "b", 0, 10, 1, 7, 10, PW_ACCESS_CONSUME_SOFT, &c), PW_OK);
    assert_true(c.allowed);
    assert_int_equal(s.consume(s.self, "b", 0, 10, 1, 7, 10, PW_ACCESS_CONSUME_SOFT, &c), PW_OK);
    assert_true(c.allowed);
    assert_int_equal(c.count, 14);
    assert_int_equal(s.consume(s.self, "b", 0, 10, 1, 7, 10, PW_ACCESS_CONSUME_SOFT, &c), PW_OK);
    assert_false(c.allowed);
    s.free(s.self);
}

#define TIER_CONFIG                                                                     \
    "{\"tiers\": {\"t\": {\"requestsPerMinute\": 25, \"requestsPerHour\": 40,"        \
    " \"tokensPerMinute\": 0}, \"tok\": {\"tokensPerMinute\": 1000}},"                \
    " \"ipLimit\": {\"requests\": 100000, \"windowSeconds\": 60}}"

struct admit_job {
    struct pw_access *acc;
    const char *key;
    int calls;
    int64_t est;
    _Atomic int allowed, refused;
};

static void *admit_worker(void *arg)
{
    struct admit_job *j = arg;
    for (int i = 0; i < j->calls; i++) {
        struct pw_access_request req = {.api_key = j->key, .client_ip = "10.0.0.1",
                                        .est_tokens = j->est};
        struct pw_access_grant g;
        pw_access_admit(j->acc, &req, &g);
        if (g.status == 0) {
            atomic_fetch_add(&j->allowed, 1);
        } else {
            assert_int_equal(g.status, 429);
            assert_string_equal(g.type, "rate_limit_exceeded");
            assert_true(g.retry_after_ms > 0);
            atomic_fetch_add(&j->refused, 1);
        }
    }
    return NULL;
}

static int run_threads(struct admit_job *job)
{
    pthread_t t[THREADS];
    atomic_store(&job->allowed, 0);
    atomic_store(&job->refused, 0);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, admit_worker, job);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    return atomic_load(&job->allowed);
}

static void requests_exactly_at_limit(void **state)
{
    char *dir = at_tmpdir();
    struct at_clock clock = {AT_T0};
    struct pw_access *acc = at_open(dir, &clock, TIER_CONFIG, false);
    char key[PW_ACCESS_KEY_MAX];
    at_key(acc, "t", -1, NULL, 0, key);
    struct admit_job job = {.acc = acc, .key = key, .calls = 10};
    /* 80 concurrent requests against 25 per minute. */
    assert_int_equal(run_threads(&job), 25);
    assert_int_equal(atomic_load(&job.refused), 80 - 25);
    /* Next minute: the hour's 40 leave 15. */
    atomic_store(&clock.now, AT_T0 + 60000);
    assert_int_equal(run_threads(&job), 15);
    /* Next minute again: the hour is spent. */
    atomic_store(&clock.now, AT_T0 + 120000);
    assert_int_equal(run_threads(&job), 0);
    pw_access_close(acc);
    at_rmdir(dir);
}

static void tokens_reserved_and_reconciled(void **state)
{
    char *dir = at_tmpdir();
    struct at_clock clock = {AT_T0};
    struct pw_access *acc = at_open(dir, &clock, TIER_CONFIG, false);
    char key[PW_ACCESS_KEY_MAX];
    at_key(acc, "tok", -1, NULL, 0, key);
    struct pw_access_grant g[16];
    int admitted = 0;
    for (int i = 0; i < 16; i++) {
        struct pw_access_request req = {.api_key = key, .est_tokens = 100};
        pw_access_admit(acc, &req, &g[i]);
        admitted += g[i].status == 0;
    }
    assert_int_equal(admitted, 10);
    assert_int_equal(g[9].remaining_tokens, 0);
    assert_int_equal(g[10].status, 429);
    assert_int_equal(g[10].limit_tokens, 1000);
    /* Each really used 60: 400 come back. */
    for (int i = 0; i < 16; i++) {
        struct pw_access_usage u = {.prompt_tokens = 40, .completion_tokens = 20,
                                    .status = 200};
        pw_access_finish(acc, &g[i], &u);
    }
    admitted = 0;
    for (int i = 0; i < 6; i++) {
        struct pw_access_request req = {.api_key = key, .est_tokens = 100};
        pw_access_admit(acc, &req, &g[i]);
        admitted += g[i].status == 0;
    }
    assert_int_equal(admitted, 4);
    /* A request larger than the whole minute is refused for good. */
    struct pw_access_request big = {.api_key = key, .est_tokens = 5000};
    struct pw_access_grant h;
    atomic_store(&clock.now, AT_T0 + 60000);
    pw_access_admit(acc, &big, &h);
    assert_int_equal(h.status, 429);
    assert_false(h.should_retry);
    pw_access_close(acc);
    at_rmdir(dir);
}

static void ip_limit_before_auth(void **state)
{
    char *dir = at_tmpdir();
    struct at_clock clock = {AT_T0};
    struct pw_access *acc = at_open(dir, &clock,
                                    "{\"ipLimit\": {\"requests\": 5, \"windowSeconds\": 60}}",
                                    false);
    char key[PW_ACCESS_KEY_MAX];
    at_key(acc, "enterprise", -1, NULL, 0, key);
    struct pw_access_grant g;
    for (int i = 0; i < 5; i++) {
        struct pw_access_request bad = {.api_key = "pw_nope", .client_ip = "192.0.2.7"};
        pw_access_admit(acc, &bad, &g);
        assert_int_equal(g.status, 401);
    }
    struct pw_access_request good = {.api_key = key, .client_ip = "192.0.2.7"};
    pw_access_admit(acc, &good, &g);
    assert_int_equal(g.status, 429);
    assert_int_equal(g.limit_requests, 5);
    good.client_ip = "192.0.2.8";
    pw_access_admit(acc, &good, &g);
    assert_int_equal(g.status, 0);
    pw_access_close(acc);
    at_rmdir(dir);
}

/* One shop backend, one address, one enterprise key: far more requests
 * than the per-IP number, all admitted; failures from the address still
 * run out, and then the address is refused before authentication. */
static void ip_guard_counts_failures_only(void **state)
{
    char *dir = at_tmpdir();
    struct at_clock clock = {AT_T0 - AT_T0 % 60000};
    struct pw_access *acc = at_open(dir, &clock,
                                    "{\"ipLimit\": {\"requests\": 3, \"windowSeconds\": 60}}",
                                    false);
    char key[PW_ACCESS_KEY_MAX];
    at_key(acc, "enterprise", -1, NULL, 0, key);
    struct pw_access_grant g;
    char bearer[PW_ACCESS_KEY_MAX + 8];
    snprintf(bearer, sizeof bearer, "Bearer %s", key);
    for (int i = 0; i < 50; i++) {
        struct pw_access_request good = {.authorization = bearer, .client_ip = "192.0.2.9"};
        pw_access_admit(acc, &good, &g);
        assert_int_equal(g.status, 0);
        assert_int_equal(g.limit_requests, 10000); /* the key's report, not the address's */
        pw_access_finish(acc, &g, NULL);
    }
    /* Missing, unknown and malformed credentials all count. */
    struct pw_access_request none = {.client_ip = "192.0.2.9"};
    struct pw_access_request unknown = {.api_key = "pw_aaaaaaaaaaaa_bbbb",
                                        .client_ip = "192.0.2.9"};
    struct pw_access_request junk = {.authorization = "Basic eHg6eHg=", .client_ip = "192.0.2.9"};
    const struct pw_access_request *fails[] = {&none, &unknown, &junk};
    for (int i = 0; i < 3; i++) {
        pw_access_admit(acc, fails[i], &g);
        assert_int_equal(g.status, 401);
        assert_int_equal(g.remaining_requests, 2 - i);
    }
    pw_access_admit(acc, &unknown, &g);
    assert_int_equal(g.status, 429);
    assert_string_equal(g.type, "rate_limit_exceeded");
    /* Over its failures the address gets no key check at all (no oracle for
     * guessing), the right key included, until the window ends. */
    struct pw_access_request good = {.authorization = bearer, .client_ip = "192.0.2.9"};
    pw_access_admit(acc, &good, &g);
    assert_int_equal(g.status, 429);
    atomic_fetch_add(&clock.now, 60000);
    pw_access_admit(acc, &good, &g);
    assert_int_equal(g.status, 0);
    pw_access_finish(acc, &g, NULL);
    pw_access_admit(acc, &unknown, &g);
    assert_int_equal(g.status, 401);
    pw_access_close(acc);
    at_rmdir(dir);
}

/* serve --ip-limit N/WINDOW: parsed, and over the configuration's ipLimit. */
static void ip_limit_option(void **state)
{
    struct pw_access_ip_limit l;
    assert_true(pw_access_ip_limit_parse("100/5m", &l));
    assert_int_equal(l.failures, 100);
    assert_int_equal(l.window_ms, 300000);
    assert_true(pw_access_ip_limit_parse("0", &l));
    assert_int_equal(l.failures, 0);
    assert_int_equal(l.window_ms, 0);
    const char *bad[] = {"", "x", "-1", "10/", "10/0s", "10/2d", "10/5", "10m", "1/1s/1s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(pw_access_ip_limit_parse(bad[i], &l));

    char *dir = at_tmpdir();
    char *path = at_path(dir, "access.db");
    struct at_clock clock = {AT_T0};
    json_t *cfg = json_loads("{\"ipLimit\": {\"requests\": 50, \"windowSeconds\": 60}}", 0,
                             NULL);
    assert_true(pw_access_ip_limit_parse("2", &l));
    struct pw_access_options o = {.db_path = path, .config = cfg, .ip_limit = &l,
                                  .clock_ms = at_clock_read, .clock_ud = &clock};
    struct pw_access *acc = NULL;
    struct pw_error err = {0};
    assert_int_equal(pw_access_open(&o, &acc, &err), PW_OK);
    json_decref(cfg);
    char key[PW_ACCESS_KEY_MAX];
    at_key(acc, "free", -1, NULL, 0, key);
    struct pw_access_request bad_key = {.api_key = "pw_nope", .client_ip = "198.51.100.1"};
    struct pw_access_grant g;
    int codes[3];
    for (int i = 0; i < 3; i++) {
        pw_access_admit(acc, &bad_key, &g);
        codes[i] = g.status;
    }
    assert_int_equal(codes[0], 401);
    assert_int_equal(codes[1], 401);
    assert_int_equal(codes[2], 429);
    assert_int_equal(g.limit_requests, 2);
    assert_int_equal(g.reset_requests_ms, 60000 - AT_T0 % 60000); /* the configured window */
    pw_access_close(acc);
    free(path);
    at_rmdir(dir);
}

static const char *header(const char *const *h, const char *name)
{
    for (size_t i = 0; h[i]; i += 2)
        if (strcmp(h[i], name) == 0)
            return h[i + 1];
    return NULL;
}

static void headers_for_grants(void **state)
{
    struct pw_access_grant g = {.limit_requests = 10, .remaining_requests = 9,
                                .reset_requests_ms = 1500, .limit_tokens = 1000,
                                .remaining_tokens = 0, .reset_tokens_ms = 360000,
                                .should_retry = true};
    struct pw_access_headers hb;
    const char *const *h = pw_access_headers(&g, &hb);
    assert_string_equal(header(h, "x-ratelimit-limit-requests"), "10");
    assert_string_equal(header(h, "x-ratelimit-remaining-requests"), "9");
    assert_string_equal(header(h, "x-ratelimit-reset-requests"), "1.5s");
    assert_string_equal(header(h, "x-ratelimit-limit-tokens"), "1000");
    assert_string_equal(header(h, "x-ratelimit-remaining-tokens"), "0");
    assert_string_equal(header(h, "x-ratelimit-reset-tokens"), "6m0s");
    assert_null(header(h, "retry-after"));
    g.status = 429;
    g.retry_after_ms = 1500;
    h = pw_access_headers(&g, &hb);
    assert_string_equal(header(h, "retry-after"), "2");
    assert_string_equal(header(h, "retry-after-ms"), "1500");
    assert_null(header(h, "x-should-retry"));
    g.should_retry = false;
    g.type = "budget_exceeded";
    snprintf(g.message, sizeof g.message, "monthly budget reached");
    h = pw_access_headers(&g, &hb);
    assert_string_equal(header(h, "x-should-retry"), "false");
    assert_null(header(h, "retry-after"));
    char *body = pw_access_error_body(&g);
    json_t *j = json_loads(body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "type")),
                        "budget_exceeded");
    json_decref(j);
    free(body);
    struct pw_access_grant none = {.limit_requests = -1, .limit_tokens = -1};
    h = pw_access_headers(&none, &hb);
    assert_null(h[0]);
    g.reset_requests_ms = 3723004;
    h = pw_access_headers(&g, &hb);
    assert_string_equal(header(h, "x-ratelimit-reset-requests"), "1h2m3.004s");
    g.reset_requests_ms = 20;
    h = pw_access_headers(&g, &hb);
    assert_string_equal(header(h, "x-ratelimit-reset-requests"), "20ms");
}

static void bad_configurations(void **state)
{
    const char *bad[][2] = {
        {"{\"tiers\": {\"x\": {\"requestsPerMinute\": -1}}}", "/tiers/x/requestsPerMinute"},
        {"{\"tiers\": []}", "/tiers"},
        {"{\"ipLimit\": {\"windowSeconds\": 0}}", "/ipLimit/windowSeconds"},
        {"{\"usage\": {\"retentionDays\": \"ten\"}}", "/usage/retentionDays"},
        {"{\"prices\": {\"m\": {\"input\": 1}}}", "/prices/m/output"},
    };
    char *dir = at_tmpdir();
    char *path = at_path(dir, "access.db");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *cfg = json_loads(bad[i][0], 0, NULL);
        struct pw_access_options o = {.db_path = path, .config = cfg};
        struct pw_access *acc = NULL;
        struct pw_error err = {0};
        assert_int_equal(pw_access_open(&o, &acc, &err), PW_ERR_INVALID);
        assert_null(acc);
        assert_string_equal(err.pointer, bad[i][1]);
        json_decref(cfg);
    }
    free(path);
    at_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_is_atomic),
        cmocka_unit_test(requests_exactly_at_limit),
        cmocka_unit_test(tokens_reserved_and_reconciled),
        cmocka_unit_test(ip_limit_before_auth),
        cmocka_unit_test(ip_guard_counts_failures_only),
        cmocka_unit_test(ip_limit_option),
        cmocka_unit_test(headers_for_grants),
        cmocka_unit_test(bad_configurations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
