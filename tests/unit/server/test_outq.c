/*
 * Unit tests for server/outq.c: headroom, coalescing of small pushes, one
 * block per "whole" push (one WebSocket message per write), and the byte
 * count.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "server/server-int.h"

static void coalesces(void **state)
{
    struct server_outq q;
    server_outq_init(&q, LWS_PRE);
    size_t len;
    assert_null(server_outq_front(&q, &len));
    assert_int_equal(server_outq_push(&q, "abc", 3, false), 0);
    assert_int_equal(server_outq_push(&q, "def", 3, false), 0);
    unsigned char *p = server_outq_front(&q, &len);
    assert_int_equal(len, 6);
    assert_memory_equal(p, "abcdef", 6);
    p[-1] = 'x'; /* the headroom in front is ours to write (lws does) */
    p[-(int)LWS_PRE] = 'y';
    assert_int_equal(q.bytes, 6);
    server_outq_pop(&q);
    assert_int_equal(q.bytes, 0);
    assert_null(server_outq_front(&q, &len));
    assert_null(q.tail);
}

static void whole_blocks(void **state)
{
    struct server_outq q;
    server_outq_init(&q, LWS_PRE);
    server_outq_push(&q, "m1", 2, true);
    server_outq_push(&q, "m2", 2, true);
    server_outq_push(&q, "m3", 2, true);
    size_t len;
    for (int i = 1; i <= 3; i++) {
        unsigned char *p = server_outq_front(&q, &len);
        assert_int_equal(len, 2);
        assert_int_equal(p[1], '0' + i);
        server_outq_pop(&q);
    }
    assert_int_equal(q.bytes, 0);
}

static void big_pushes(void **state)
{
    struct server_outq q;
    server_outq_init(&q, 16);
    size_t n = 100000;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'z', n);
    server_outq_push(&q, "h", 1, false);
    server_outq_push(&q, big, n, false); /* too big for the tail: its own block */
    server_outq_push(&q, "t", 1, false); /* fits nowhere but a new block */
    assert_int_equal(q.bytes, n + 2);
    size_t len, total = 0;
    while (server_outq_front(&q, &len)) {
        total += len;
        server_outq_pop(&q);
    }
    assert_int_equal(total, n + 2);
    server_outq_push(&q, "a", 1, false);
    server_outq_clear(&q);
    assert_int_equal(q.bytes, 0);
    assert_null(q.head);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(coalesces),
        cmocka_unit_test(whole_blocks),
        cmocka_unit_test(big_pushes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
