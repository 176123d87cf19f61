/*
 * Unit tests for server/reqctx.c, the request context: upstream attempts
 * summed into the time waiting on upstreams (and the overhead being the
 * rest, never negative), the first upstream byte kept from the first
 * attempt that had one, usage strings cut to whole UTF-8 characters, and
 * request ids kept only when well formed.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>

#include "server/server-int.h"

static void pause_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

static void upstream_time_is_summed(void **state)
{
    struct pw_server_ctx c;
    memset(&c, 0, sizeof c);
    server_ctx_clear(&c);
    c.at_us[PW_SERVER_MARK_RECEIVED] = pw_clock_us();
    int64_t sum = 0;
    for (int i = 0; i < 3; i++) {
        pw_server_ctx_upstream_begin(&c);
        pause_us(2000);
        int64_t first = i == 1 ? pw_clock_us() : 0;
        int64_t took = pw_server_ctx_upstream_end(&c, first);
        assert_true(took >= 2000);
        sum += took;
        if (i == 1)
            assert_int_equal(c.at_us[PW_SERVER_MARK_UPSTREAM_FIRST_BYTE], first);
    }
    assert_int_equal(c.upstream_attempts, 3);
    assert_int_equal(c.upstream_us, sum);
    assert_true(c.at_us[PW_SERVER_MARK_UPSTREAM_START] >= c.at_us[PW_SERVER_MARK_RECEIVED]);
    assert_true(c.at_us[PW_SERVER_MARK_UPSTREAM_END] > c.at_us[PW_SERVER_MARK_UPSTREAM_START]);
    c.at_us[PW_SERVER_MARK_END] = pw_clock_us();
    int64_t total = c.at_us[PW_SERVER_MARK_END] - c.at_us[PW_SERVER_MARK_RECEIVED];
    assert_int_equal(server_ctx_overhead_us(&c), total - sum);
    /* Clock skew between modules can never make it negative. */
    c.upstream_us = total + 5;
    assert_int_equal(server_ctx_overhead_us(&c), 0);
    server_ctx_clear(&c);
}

static void usage_is_copied_and_cut(void **state)
{
    struct pw_server_ctx c;
    memset(&c, 0, sizeof c);
    server_ctx_clear(&c);
    assert_int_equal(c.cost_micros, -1);
    char model[PW_SERVER_LABEL_MAX + 8];
    memset(model, 'm', PW_SERVER_LABEL_MAX - 2);
    memcpy(model + PW_SERVER_LABEL_MAX - 2, "\xc3\xa9\xc3\xa9", 5); /* "éé" across the cut */
    struct pw_server_usage u = {.model = model, .provider = "openai", .prompt_tokens = 3,
                                .completion_tokens = 4, .cost_micros = 7,
                                .products = "[\"p1\"]"};
    pw_server_ctx_usage(&c, &u);
    assert_int_equal(strlen(c.model), PW_SERVER_LABEL_MAX - 2);
    assert_string_equal(c.provider, "openai");
    assert_int_equal(c.prompt_tokens, 3);
    assert_int_equal(c.cost_micros, 7);
    assert_string_equal(c.products, "[\"p1\"]");
    struct pw_server_usage v = {.products = "[\"p2\"]", .cost_micros = -1};
    pw_server_ctx_usage(&c, &v); /* NULL strings are left alone */
    assert_string_equal(c.provider, "openai");
    assert_string_equal(c.products, "[\"p2\"]");
    server_ctx_clear(&c);
    assert_null(c.products);
}

static void request_ids(void **state)
{
    char id[PW_SERVER_REQID_MAX];
    pw_server_request_id("trace-1.a_B", id);
    assert_string_equal(id, "trace-1.a_B");
    const char *bad[] = {NULL, "", "has space", "semi;colon", "\xc3\xa9",
                         "0123456789012345678901234567890123456789012345678901234567890123x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pw_server_request_id(bad[i], id);
        assert_int_equal(strlen(id), 4 + 24);
        assert_memory_equal(id, "req_", 4);
        assert_int_equal(strspn(id + 4, "0123456789abcdef"), 24);
    }
    char other[PW_SERVER_REQID_MAX];
    pw_server_request_id(NULL, other);
    assert_string_not_equal(id, other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(upstream_time_is_summed),
        cmocka_unit_test(usage_is_copied_and_cut),
        cmocka_unit_test(request_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
