/*
 * The output queue of a connection: bytes waiting for the next WRITEABLE
 * callback, kept as a FIFO of blocks that each carry LWS_PRE bytes of
 * headroom in front of the payload, so lws_write can be handed a block
 * as-is (it writes WebSocket frame headers into the headroom).
 *
 * Coalescing: a plain push copies into the tail block while it has room, so
 * an SSE stream of many small events drains with few writes; a "whole" push
 * gets a block of its own, which is what keeps one WebSocket message per
 * lws_write. Blocks are at least BLK_MIN bytes so small pushes rarely
 * allocate.
 *
 * Invariants: `bytes` is the sum of every block's `len`, and a queue adds
 * exactly its `bytes` to `*shared` (the server's total of HTTP answers
 * queued, http.c invariant 9); head is NULL
 * exactly when tail is NULL; a block's `len` never exceeds its `cap`.
 *
 * Not thread-safe: one queue belongs to one connection on the service thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include "server/server-int.h"

#include <stdlib.h>
#include <string.h>

#define BLK_MIN 16384

void server_outq_init(struct server_outq *q, size_t pre)
{
    q->head = q->tail = NULL;
    q->bytes = 0;
    q->pre = pre;
    q->shared = NULL;
}

static void count(struct server_outq *q, size_t add, size_t sub)
{
    q->bytes = q->bytes + add - sub;
    if (q->shared)
        *q->shared = *q->shared + add - sub;
}

int server_outq_push(struct server_outq *q, const void *p, size_t n, bool whole)
{
    struct server_blk *t = q->tail;
    if (!whole && t && t->cap - t->len >= n) {
        memcpy(t->mem + q->pre + t->len, p, n);
        t->len += n;
        count(q, n, 0);
        return 0;
    }
    size_t cap = whole || n > BLK_MIN ? n : BLK_MIN;
    if (cap > SIZE_MAX - sizeof *t - q->pre)
        return -1;
    struct server_blk *b = malloc(sizeof *b + q->pre + cap);
    if (!b)
        return -1;
    b->next = NULL;
    b->len = n;
    b->cap = cap;
    if (n)
        memcpy(b->mem + q->pre, p, n);
    if (t)
        t->next = b;
    else
        q->head = b;
    q->tail = b;
    count(q, n, 0);
    return 0;
}

unsigned char *server_outq_front(const struct server_outq *q, size_t *len)
{
    if (!q->head) {
        *len = 0;
        return NULL;
    }
    *len = q->head->len;
    return q->head->mem + q->pre;
}

void server_outq_pop(struct server_outq *q)
{
    struct server_blk *b = q->head;
    if (!b)
        return;
    q->head = b->next;
    if (!q->head)
        q->tail = NULL;
    count(q, 0, b->len);
    free(b);
}

void server_outq_clear(struct server_outq *q)
{
    while (q->head)
        server_outq_pop(q);
}
