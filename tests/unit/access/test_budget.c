/*
 * Monthly budgets: concurrent requests on one key stop exactly where the
 * reservations reach the budget; real costs replace the estimates; spend
 * survives a restart (seeded from the database); a new month starts from
 * zero; refusals say budget_exceeded and must not be retried.
 *
 * The price override makes the arithmetic plain: model "m" costs one
 * micro-dollar per token, in or out.
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
#define CONFIG "{\"prices\": {\"m\": {\"input\": 1, \"output\": 1}}}"

struct job {
    struct pw_access *acc;
    const char *key;
    _Atomic int admitted;
    struct pw_access_grant grants[THREADS][5];
};

struct slot {
    struct job *job;
    int index;
};

static void *worker(void *arg)
{
    struct slot *s = arg;
    for (int i = 0; i < 5; i++) {
        struct pw_access_request req = {.api_key = s->job->key, .model = "m",
                                        .est_tokens = 100};
        struct pw_access_grant *g = &s->job->grants[s->index][i];
        pw_access_admit(s->job->acc, &req, g);
        if (g->status == 0) {
            atomic_fetch_add(&s->job->admitted, 1);
        } else {
            assert_int_equal(g->status, 429);
            assert_string_equal(g->type, "budget_exceeded");
            assert_false(g->should_retry);
        }
    }
    return NULL;
}

static int round_of(struct job *job)
{
    pthread_t t[THREADS];
    struct slot slots[THREADS];
    atomic_store(&job->admitted, 0);
    for (int i = 0; i < THREADS; i++) {
        slots[i] = (struct slot){job, i};
        pthread_create(&t[i], NULL, worker, &slots[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    return atomic_load(&job->admitted);
}

/* Finishes every grant of the round with `tokens` of completion. */
static void finish_all(struct job *job, int64_t tokens)
{
    for (int i = 0; i < THREADS; i++) {
        for (int k = 0; k < 5; k++) {
            struct pw_access_usage u = {.request_id = "r", .model = "m", .status = 200,
                                        .completion_tokens = tokens};
            pw_access_finish(job->acc, &job->grants[i][k], &u);
        }
    }
}

static int64_t spent(struct pw_access *acc, const char *key)
{
    char id[PW_ACCESS_ID_MAX];
    snprintf(id, sizeof id, "%.12s", key + 3);
    json_t *rec = NULL;
    assert_int_equal(pw_access_key_show(acc, id, &rec, NULL), PW_OK);
    int64_t v = json_integer_value(json_object_get(rec, "spentMicros"));
    json_decref(rec);
    return v;
}

static void concurrent_budget(void **state)
{
    char *dir = at_tmpdir();
    struct at_clock clock = {AT_T0};
    struct pw_access *acc = at_open(dir, &clock, CONFIG, false);
    char key[PW_ACCESS_KEY_MAX];
    at_key(acc, "enterprise", 1000, NULL, 0, key);
    struct job *job = calloc(1, sizeof *job);
    job->acc = acc;
    job->key = key;
    /* 40 requests reserving 100 each against 1000: exactly 10 get in. */
    assert_int_equal(round_of(job), 10);
    /* Each really cost 50: half the budget is left. */
    finish_all(job, 50);
    assert_int_equal(spent(acc, key), 500);
    assert_int_equal(round_of(job), 5);
    finish_all(job, 100);
    assert_int_equal(spent(acc, key), 1000);
    assert_int_equal(round_of(job), 0);
    finish_all(job, 100);

    /* A restart ("another process") starts from the committed spend. */
    pw_access_close(acc);
    acc = at_open(dir, &clock, CONFIG, true);
    job->acc = acc;
    assert_int_equal(round_of(job), 0);
    /* Next month: a fresh budget. */
    atomic_store(&clock.now, AT_T0 + 31LL * 86400 * 1000);
    assert_int_equal(round_of(job), 10);
    finish_all(job, 1);
    pw_access_usage_flush(acc);
    assert_int_equal(spent(acc, key), 10);
    pw_access_close(acc);
    free(job);
    at_rmdir(dir);
}

static void zero_budget_and_month_windows(void **state)
{
    char *dir = at_tmpdir();
    struct pw_access *acc = at_open(dir, NULL, CONFIG, false);
    char key[PW_ACCESS_KEY_MAX];
    at_key(acc, "free", 0, NULL, 0, key);
    struct pw_access_request req = {.api_key = key, .model = "m"};
    struct pw_access_grant g;
    pw_access_admit(acc, &req, &g);
    assert_int_equal(g.status, 429);
    assert_string_equal(g.type, "budget_exceeded");
    pw_access_close(acc);
    at_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(concurrent_budget),
        cmocka_unit_test(zero_budget_and_month_windows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
