/*
 * The replay ring of a Streamable HTTP SSE stream: the last events sent,
 * formatted, so a reconnecting client (GET + Last-Event-ID) gets exactly the
 * events after the one it names, on the stream it names.
 *
 * Why a ring per stream: the spec forbids replaying a message on a stream
 * other than the one it was meant for, and a stream's events are wanted
 * only until the client has seen them. Bounding each ring by count and by
 * bytes, and every ring of the transport together by a shared pool
 * (struct mcp_sse_pool), caps the memory slow or vanished clients can pin; when a resume
 * asks for something already evicted the caller learns it
 * (evicted_upto) and logs the gap rather than failing the client.
 *
 * The invariants are listed in http-int.h. Pure data structure: no I/O,
 * not thread-safe, the service thread owns it.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mcp/http-int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mcp_sse_init(struct mcp_sse_ring *r, struct mcp_sse_pool *pool, uint64_t no,
                  size_t max_events, size_t max_bytes)
{
    memset(r, 0, sizeof *r);
    r->pool = pool;
    r->no = no;
    r->next_seq = 1;
    r->max_events = max_events ? max_events : 1;
    r->max_bytes = max_bytes;
}

static struct mcp_sse_event *slot(const struct mcp_sse_ring *r, size_t i)
{
    return &r->ev[(r->head + i) % r->cap];
}

static void drop_oldest(struct mcp_sse_ring *r)
{
    struct mcp_sse_event *e = slot(r, 0);
    r->evicted_upto = e->seq;
    r->bytes -= e->len;
    if (r->pool)
        r->pool->bytes -= e->len;
    free(e->text);
    e->text = NULL;
    r->head = (r->head + 1) % r->cap;
    r->count--;
}

void mcp_sse_clear(struct mcp_sse_ring *r)
{
    while (r->count)
        drop_oldest(r);
    free(r->ev);
    r->ev = NULL;
    r->cap = r->head = 0;
}

/* Makes room for one more slot, growing up to max_events. */
static bool reserve(struct mcp_sse_ring *r)
{
    if (r->count < r->cap)
        return true;
    if (r->cap >= r->max_events) {
        drop_oldest(r);
        return true;
    }
    size_t cap = r->cap ? r->cap * 2 : 8;
    if (cap > r->max_events)
        cap = r->max_events;
    struct mcp_sse_event *ev = calloc(cap, sizeof *ev);
    if (!ev)
        return false;
    for (size_t i = 0; i < r->count; i++)
        ev[i] = *slot(r, i);
    free(r->ev);
    r->ev = ev;
    r->cap = cap;
    r->head = 0;
    return true;
}

int mcp_sse_event_id(char *buf, size_t size, uint64_t no, uint64_t seq)
{
    int n = snprintf(buf, size, "%" PRIu64 "-%" PRIu64, no, seq);
    return n < 0 || (size_t)n >= size ? -1 : n;
}

uint64_t mcp_sse_push(struct mcp_sse_ring *r, const char *json, size_t len)
{
    static const char head[] = "id: ", mid[] = "\nevent: message\ndata: ", tail[] = "\n\n";
    char id[48];
    int idn = mcp_sse_event_id(id, sizeof id, r->no, r->next_seq);
    if (idn < 0)
        return 0;
    size_t n = sizeof head - 1 + (size_t)idn + sizeof mid - 1 + len + sizeof tail - 1;
    char *text = malloc(n + 1);
    if (!text)
        return 0;
    char *p = text;
    memcpy(p, head, sizeof head - 1);
    p += sizeof head - 1;
    memcpy(p, id, (size_t)idn);
    p += idn;
    memcpy(p, mid, sizeof mid - 1);
    p += sizeof mid - 1;
    memcpy(p, json, len);
    p += len;
    memcpy(p, tail, sizeof tail);
    if (!reserve(r)) {
        free(text);
        return 0;
    }
    while (r->count && r->bytes + n > r->max_bytes)
        drop_oldest(r);
    while (r->count && r->pool && r->pool->bytes + n > r->pool->max_bytes)
        drop_oldest(r);
    struct mcp_sse_event *e = slot(r, r->count);
    e->seq = r->next_seq++;
    e->len = n;
    e->text = text;
    r->count++;
    r->bytes += n;
    if (r->pool)
        r->pool->bytes += n;
    return e->seq;
}

uint64_t mcp_sse_skip(struct mcp_sse_ring *r) { return r->next_seq++; }

size_t mcp_sse_find(const struct mcp_sse_ring *r, uint64_t seq)
{
    size_t lo = 0, hi = r->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (slot(r, mid)->seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const struct mcp_sse_event *mcp_sse_at(const struct mcp_sse_ring *r, size_t i)
{
    return i < r->count ? slot(r, i) : NULL;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (!n || n > 20)
        return false;
    char buf[24];
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    unsigned long long v = strtoull(buf, NULL, 10);
    if (errno)
        return false;
    *out = (uint64_t)v;
    return true;
}

bool mcp_sse_parse_id(const char *s, uint64_t *no, uint64_t *seq)
{
    const char *dash = strchr(s, '-');
    if (!dash)
        return false;
    return parse_u64(s, (size_t)(dash - s), no) && parse_u64(dash + 1, strlen(dash + 1), seq);
}

int mcp_sse_prime(char *buf, size_t size, uint64_t no, uint64_t seq, int retry_ms)
{
    char id[48];
    if (mcp_sse_event_id(id, sizeof id, no, seq) < 0)
        return -1;
    int n = retry_ms > 0 ? snprintf(buf, size, "retry: %d\nid: %s\ndata: \n\n", retry_ms, id)
                         : snprintf(buf, size, "id: %s\ndata: \n\n", id);
    return n < 0 || (size_t)n >= size ? -1 : n;
}
