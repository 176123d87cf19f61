/*
 * The metrics registry: Prometheus text format (HELP/TYPE, label escaping,
 * cumulative buckets, _sum and _count), naming rules enforced at
 * registration, exact counts under concurrent updates, and the bounds on
 * client-chosen labels: the series cap with its "other" overflow series, a
 * family's own lower cap, and label values cut at a UTF-8 boundary; the
 * gateway's families: MCP methods named only from the MCP method list, and
 * route-labelled families capped.
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

#include "pennyworth/access.h"
#include "pennyworth/metrics.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static void exposition(void **state)
{
    struct pw_metrics *m = pw_metrics_new();
    struct pw_metric *c = pw_metrics_counter(m, "pennyworth_things_total",
                                             "Things.\nSecond \\ line.", L("kind"));
    struct pw_metric *g = pw_metrics_gauge(m, "pennyworth_level", "A level.", NULL);
    const double bounds[] = {0.1, 1};
    struct pw_metric *h = pw_metrics_histogram(m, "pennyworth_wait_seconds", "Waits.",
                                               L("route"), bounds, 2);
    pw_metric_add(c, L("a\"b\\c\nd"), 2);
    pw_metric_add(c, L("plain"), 0.5);
    pw_metric_add(c, L("plain"), -1); /* ignored: counters only go up */
    pw_metric_set(g, NULL, -3);
    pw_metric_observe(h, L("/x"), 0.05);
    pw_metric_observe(h, L("/x"), 0.5);
    pw_metric_observe(h, L("/x"), 7);
    size_t len;
    char *text = pw_metrics_render(m, &len);
    assert_int_equal(strlen(text), len);
    const char *want =
        "# HELP pennyworth_things_total Things.\\nSecond \\\\ line.\n"
        "# TYPE pennyworth_things_total counter\n"
        "pennyworth_things_total{kind=\"a\\\"b\\\\c\\nd\"} 2\n"
        "pennyworth_things_total{kind=\"plain\"} 0.5\n"
        "# HELP pennyworth_level A level.\n"
        "# TYPE pennyworth_level gauge\n"
        "pennyworth_level -3\n"
        "# HELP pennyworth_wait_seconds Waits.\n"
        "# TYPE pennyworth_wait_seconds histogram\n"
        "pennyworth_wait_seconds_bucket{route=\"/x\",le=\"0.1\"} 1\n"
        "pennyworth_wait_seconds_bucket{route=\"/x\",le=\"1\"} 2\n"
        "pennyworth_wait_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3\n"
        "pennyworth_wait_seconds_sum{route=\"/x\"} 7.55\n"
        "pennyworth_wait_seconds_count{route=\"/x\"} 3\n";
    assert_non_null(strstr(text, want));
    free(text);
    assert_true(pw_metric_value(h, L("/x")) == 3);
    pw_metrics_free(m);
}

static void names_are_checked(void **state)
{
    struct pw_metrics *m = pw_metrics_new();
    assert_null(pw_metrics_counter(m, "pennyworth_requests", "", NULL));      /* no _total */
    assert_null(pw_metrics_gauge(m, "pennyworth_open_total", "", NULL));      /* _total */
    assert_null(pw_metrics_counter(m, "requests_total", "", NULL));           /* prefix */
    assert_null(pw_metrics_counter(m, "pennyworth_bad-name_total", "", NULL));
    assert_null(pw_metrics_histogram(m, "pennyworth_x_seconds", "", L("le"), NULL, 0));
    assert_null(pw_metrics_counter(m, "pennyworth_x_total", "", L("__reserved")));
    const double down[] = {2, 1};
    assert_null(pw_metrics_histogram(m, "pennyworth_y_seconds", "", NULL, down, 2));
    struct pw_metric *a = pw_metrics_counter(m, "pennyworth_a_total", "", L("x"));
    assert_non_null(a);
    assert_ptr_equal(pw_metrics_counter(m, "pennyworth_a_total", "", L("x")), a);
    assert_null(pw_metrics_counter(m, "pennyworth_a_total", "", L("y")));
    assert_null(pw_metrics_gauge(m, "pennyworth_a_total", "", L("x")));
    pw_metrics_free(m);
}

#define THREADS 8
#define ADDS 20000

static void *adder(void *arg)
{
    struct pw_metric *c = arg;
    char label[8];
    for (int i = 0; i < ADDS; i++) {
        snprintf(label, sizeof label, "s%d", i % 5);
        pw_metric_add(c, L(label), 1);
    }
    return NULL;
}

static void concurrent_updates_are_exact(void **state)
{
    struct pw_metrics *m = pw_metrics_new();
    struct pw_metric *c = pw_metrics_counter(m, "pennyworth_hits_total", "Hits.", L("s"));
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, adder, c);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    double sum = 0;
    for (int i = 0; i < 5; i++) {
        char label[8];
        snprintf(label, sizeof label, "s%d", i);
        assert_true(pw_metric_value(c, L(label)) == THREADS * ADDS / 5);
        sum += pw_metric_value(c, L(label));
    }
    assert_true(sum == THREADS * ADDS);
    pw_metrics_free(m);
}

static size_t count_lines(const char *text, const char *prefix)
{
    size_t n = 0;
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        n += strncmp(p, prefix, strlen(prefix)) == 0;
    return n;
}

static void series_are_capped(void **state)
{
    struct pw_metrics *m = pw_metrics_new();
    struct pw_metric *c = pw_metrics_counter(m, "pennyworth_paths_total", "", L("p", "q"));
    for (int i = 0; i < PW_METRICS_MAX_SERIES + 10; i++) {
        char label[16];
        snprintf(label, sizeof label, "%d", i);
        pw_metric_add(c, L(label, "x"), 1);
    }
    struct pw_metric *over = pw_metrics_counter(m, "pennyworth_metrics_overflow_total", "",
                                                NULL);
    assert_true(pw_metric_value(over, NULL) == 10);
    assert_true(pw_metric_value(c, L("0", "x")) == 1);
    /* Nothing is lost: the updates past the cap are in the "other" series. */
    assert_true(pw_metric_value(c, L("other", "other")) == 10);
    char *text = pw_metrics_render(m, NULL);
    assert_int_equal(count_lines(text, "pennyworth_paths_total{"), PW_METRICS_MAX_SERIES + 1);
    free(text);
    pw_metrics_free(m);
}

/* A family whose labels a client influences gets a small cap of its own. */
static void family_limit_overflows_into_other(void **state)
{
    struct pw_metrics *m = pw_metrics_new();
    const double bounds[] = {1};
    struct pw_metric *h = pw_metrics_histogram(m, "pennyworth_model_seconds", "",
                                               L("model"), bounds, 1);
    pw_metric_limit(h, 3);
    for (int i = 0; i < 2000; i++) {
        char model[32];
        snprintf(model, sizeof model, "model-%d", i);
        pw_metric_observe(h, L(model), 0.5);
    }
    pw_metric_observe(h, L("model-1"), 0.5); /* an existing series still counts */
    assert_true(pw_metric_value(h, L("model-1")) == 2);
    assert_true(pw_metric_value(h, L("other")) == 1997);
    assert_true(pw_metric_value(h, L("model-3")) == 0);
    char *text = pw_metrics_render(m, NULL);
    assert_int_equal(count_lines(text, "pennyworth_model_seconds_count{"), 4);
    assert_non_null(strstr(text, "pennyworth_model_seconds_count{model=\"other\"} 1997\n"));
    assert_non_null(strstr(text, "pennyworth_metrics_overflow_total 1997\n"));
    free(text);
    pw_metrics_free(m);
}

/* Megabyte label values: each is stored and rendered cut, never whole. */
static void long_values_are_cut(void **state)
{
    struct pw_metrics *m = pw_metrics_new();
    struct pw_metric *c = pw_metrics_counter(m, "pennyworth_methods_total", "", L("method"));
    size_t big = 1 << 20;
    char *v = malloc(big + 1);
    memset(v, 'a', big);
    v[big] = '\0';
    for (int i = 0; i < 50; i++) {
        v[big - 1] = (char)('A' + i % 26); /* differ only past the cut */
        pw_metric_add(c, L(v), 1);
    }
    /* A 2-byte character straddling the cut is left out whole. */
    memset(v, 'b', PW_METRICS_MAX_VALUE - 1);
    memcpy(v + PW_METRICS_MAX_VALUE - 1, "\xc3\xa9tail", 7);
    pw_metric_add(c, L(v), 1);
    size_t len;
    char *text = pw_metrics_render(m, &len);
    assert_true(len < 4096);
    char want[PW_METRICS_MAX_VALUE + 64];
    memset(want, 'a', PW_METRICS_MAX_VALUE);
    snprintf(want + PW_METRICS_MAX_VALUE, sizeof want - PW_METRICS_MAX_VALUE, "\"} 50\n");
    assert_non_null(strstr(text, want));
    memset(want, 'b', PW_METRICS_MAX_VALUE - 1);
    snprintf(want + PW_METRICS_MAX_VALUE - 1, sizeof want - PW_METRICS_MAX_VALUE, "\"} 1\n");
    assert_non_null(strstr(text, want));
    assert_null(strstr(text, "\xc3"));
    free(text);
    /* The uncut value finds its series. */
    assert_true(pw_metric_value(c, L(v)) == 1);
    free(v);
    pw_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exposition),
        cmocka_unit_test(names_are_checked),
        cmocka_unit_test(concurrent_updates_are_exact),
        cmocka_unit_test(series_are_capped),
        cmocka_unit_test(family_limit_overflows_into_other),
        cmocka_unit_test(long_values_are_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
