/*
 * Unit tests for mcp/sse.c, the replay ring of Streamable HTTP SSE streams:
 * event formatting and ids, finding where to resume, eviction by count and
 * by bytes, priming events, and strict parsing of Last-Event-ID.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "mcp/http-int.h"

static void formats_events(void **state)
{
    struct mcp_sse_ring r;
    mcp_sse_init(&r, NULL, 3, 8, 1 << 20);
    assert_int_equal(mcp_sse_push(&r, "{\"a\":1}", 7), 1);
    assert_int_equal(mcp_sse_push(&r, "{\"b\":2}", 7), 2);
    const struct mcp_sse_event *e = mcp_sse_at(&r, 0);
    assert_string_equal(e->text, "id: 3-1\nevent: message\ndata: {\"a\":1}\n\n");
    assert_int_equal(e->len, strlen(e->text));
    assert_int_equal(mcp_sse_at(&r, 1)->seq, 2);
    assert_null(mcp_sse_at(&r, 2));
    mcp_sse_clear(&r);
}

static void finds_resume_points(void **state)
{
    struct mcp_sse_ring r;
    mcp_sse_init(&r, NULL, 0, 16, 1 << 20);
    mcp_sse_push(&r, "1", 1);
    assert_int_equal(mcp_sse_skip(&r), 2); /* a priming event takes seq 2 */
    mcp_sse_push(&r, "3", 1);
    mcp_sse_push(&r, "4", 1);
    assert_int_equal(mcp_sse_find(&r, 1), 0);
    assert_int_equal(mcp_sse_find(&r, 2), 1); /* the first stored seq >= 2 is 3 */
    assert_int_equal(mcp_sse_at(&r, mcp_sse_find(&r, 3))->seq, 3);
    assert_int_equal(mcp_sse_find(&r, 5), r.count);
    mcp_sse_clear(&r);
}

static void evicts_by_count(void **state)
{
    struct mcp_sse_ring r;
    mcp_sse_init(&r, NULL, 1, 4, 1 << 20);
    for (int i = 0; i < 10; i++)
        mcp_sse_push(&r, "x", 1);
    assert_int_equal(r.count, 4);
    assert_int_equal(mcp_sse_at(&r, 0)->seq, 7);
    assert_int_equal(r.evicted_upto, 6);
    assert_int_equal(mcp_sse_at(&r, mcp_sse_find(&r, 1))->seq, 7);
    mcp_sse_clear(&r);
}

static void evicts_by_bytes(void **state)
{
    struct mcp_sse_ring r;
    char big[300];
    memset(big, 'b', sizeof big);
    mcp_sse_init(&r, NULL, 0, 100, 1000);
    for (int i = 0; i < 5; i++)
        mcp_sse_push(&r, big, sizeof big);
    assert_true(r.bytes <= 1000);
    assert_int_equal(mcp_sse_at(&r, r.count - 1)->seq, 5);
    /* One event larger than the bound is still kept (the newest). */
    char huge[2000];
    memset(huge, 'h', sizeof huge);
    assert_int_equal(mcp_sse_push(&r, huge, sizeof huge), 6);
    assert_int_equal(r.count, 1);
    mcp_sse_clear(&r);
    assert_int_equal(r.count, 0);
    assert_int_equal(r.bytes, 0);
}

/* Rings of one transport share a pool: together they stay under its bound
 * (each gives up its own oldest events), and clearing returns their bytes. */
static void shares_a_pool(void **state)
{
    struct mcp_sse_pool pool = {.max_bytes = 2000};
    struct mcp_sse_ring a, b;
    char ev[300];
    memset(ev, 'e', sizeof ev);
    mcp_sse_init(&a, &pool, 0, 100, 1 << 20);
    mcp_sse_init(&b, &pool, 1, 100, 1 << 20);
    for (int i = 0; i < 20; i++) {
        assert_true(mcp_sse_push(&a, ev, sizeof ev) > 0);
        assert_true(mcp_sse_push(&b, ev, sizeof ev) > 0);
        assert_true(pool.bytes <= pool.max_bytes);
        assert_int_equal(pool.bytes, a.bytes + b.bytes);
    }
    assert_true(a.count >= 1 && b.count >= 1);
    assert_int_equal(mcp_sse_at(&a, a.count - 1)->seq, 20);
    mcp_sse_clear(&a);
    assert_int_equal(pool.bytes, b.bytes);
    mcp_sse_clear(&b);
    assert_int_equal(pool.bytes, 0);
}

static void parses_ids(void **state)
{
    uint64_t no, seq;
    assert_true(mcp_sse_parse_id("0-1", &no, &seq));
    assert_int_equal(no, 0);
    assert_int_equal(seq, 1);
    assert_true(mcp_sse_parse_id("12-345678901234", &no, &seq));
    assert_int_equal(no, 12);
    assert_int_equal(seq, 345678901234ull);
    const char *bad[] = {"", "-", "1-", "-1", "1--2", "a-1", "1-b", " 1-2", "1-2 ", "+1-2",
                         "1-99999999999999999999999", "1_2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(mcp_sse_parse_id(bad[i], &no, &seq));
    char buf[32];
    assert_int_equal(mcp_sse_event_id(buf, sizeof buf, 4, 9), 3);
    assert_string_equal(buf, "4-9");
    assert_int_equal(mcp_sse_event_id(buf, 3, 4, 9), -1);
}

static void primes(void **state)
{
    char buf[64];
    assert_int_equal(mcp_sse_prime(buf, sizeof buf, 0, 5, 0), (int)strlen("id: 0-5\ndata: \n\n"));
    assert_string_equal(buf, "id: 0-5\ndata: \n\n");
    mcp_sse_prime(buf, sizeof buf, 2, 1, 1500);
    assert_string_equal(buf, "retry: 1500\nid: 2-1\ndata: \n\n");
    assert_int_equal(mcp_sse_prime(buf, 8, 2, 1, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(formats_events),
        cmocka_unit_test(finds_resume_points),
        cmocka_unit_test(evicts_by_count),
        cmocka_unit_test(evicts_by_bytes),
        cmocka_unit_test(shares_a_pool),
        cmocka_unit_test(parses_ids),
        cmocka_unit_test(primes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
