/*
 * Data-driven tests for the bridge's resilience policy (bridge/breaker.c):
 * circuit breaker walks (one case per .json file in fixtures/bridge/breaker:
 * steps of allow/record at given times with the state expected
 * after), backoff delays (fixtures/bridge/backoff.json) and Retry-After
 * parsing (fixtures/bridge/retry-after.json). The file formats are in
 * fixtures/bridge/README.md.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fixture_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/bridge-int.h"

static const char *fixtures; /* fixtures/bridge */

static const char *state_name(enum bridge_breaker_state s)
{
    return s == BRIDGE_CLOSED ? "closed" : s == BRIDGE_OPEN ? "open" : "half_open";
}

static void run_case(void **state)
{
    json_t *doc = fixture_json(*state);
    struct bridge_breaker b = {
        .threshold = (int)json_integer_value(json_object_get(doc, "threshold")),
        .cooldown_ms = (int)json_integer_value(json_object_get(doc, "cooldown_ms")),
    };
    size_t i;
    json_t *step;
    json_array_foreach(json_object_get(doc, "steps"), i, step) {
        long long t = json_integer_value(json_object_get(step, "t"));
        json_t *allow = json_object_get(step, "allow");
        json_t *record = json_object_get(step, "record");
        if (allow) {
            bool got = bridge_breaker_allow(&b, t);
            if (got != json_is_true(allow))
                fail_msg("step %zu: allow gave %d", i, got);
        } else {
            bridge_breaker_record(&b, json_is_true(record), t);
        }
        const char *want = json_string_value(json_object_get(step, "state"));
        if (want && strcmp(want, state_name(b.state)) != 0)
            fail_msg("step %zu: state %s, want %s", i, state_name(b.state), want);
    }
    json_decref(doc);
}

static json_t *load(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", fixtures, name);
    return fixture_json(path);
}

static void backoff(void **state)
{
    (void)state;
    json_t *cases = load("backoff.json");
    assert_true(json_array_size(cases) > 0);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        long long got = bridge_backoff_ms(
            (int)json_integer_value(json_object_get(c, "attempt")),
            (int)json_integer_value(json_object_get(c, "base")),
            (int)json_integer_value(json_object_get(c, "max")),
            json_integer_value(json_object_get(c, "retry_after")),
            json_integer_value(json_object_get(c, "max_retry_after")),
            json_number_value(json_object_get(c, "rnd")));
        long long want = json_integer_value(json_object_get(c, "want"));
        if (got != want)
            fail_msg("backoff case %zu: got %lld, want %lld", i, got, want);
    }
    json_decref(cases);
}

static void retry_after(void **state)
{
    (void)state;
    json_t *cases = load("retry-after.json");
    assert_true(json_array_size(cases) > 0);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *v = json_string_value(json_object_get(c, "value"));
        long long got = bridge_retry_after_ms(v, json_integer_value(json_object_get(c, "now")));
        long long want = json_integer_value(json_object_get(c, "want"));
        if (got != want)
            fail_msg("retry-after '%s': got %lld, want %lld", v, got, want);
    }
    assert_int_equal(bridge_retry_after_ms(NULL, 0), -1);
    json_decref(cases);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FIXTURES/bridge FIXTURES/bridge/breaker\n", argv[0]);
        return 1;
    }
    fixtures = argv[1];
    const struct CMUnitTest fixed[] = {
        cmocka_unit_test(backoff),
        cmocka_unit_test(retry_after),
    };
    return fixture_run("bridge-breaker", fixed, sizeof fixed / sizeof fixed[0], run_case,
                       ".json", argc - 1, argv + 1);
}
