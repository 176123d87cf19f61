/*
 * The in-memory counter store (pw_access_store): fixed-window counters in
 * a hash table split into lock stripes, so that admissions on different
 * keys rarely meet on a mutex and the check-and-add of one counter is a
 * single critical section (the atomicity the vtable promises).
 *
 * A counter is (key, window [start, end), count). A consume whose window
 * differs from the counter's starts the counter again; counters whose
 * window has ended are unlinked whenever a chain is walked, which bounds
 * memory by the counters active in current windows (per-IP counters of
 * clients long gone included).
 *
 * Fixed windows admit up to twice a limit across a window boundary (the
 * end of one minute and the start of the next); in exchange a counter is a
 * single integer that any shared store (Redis INCRBY + PEXPIREAT, an SQL
 * row) can hold atomically, which is the point of the seam.
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <stdlib.h>
#include <string.h>

#define STRIPES 64
#define BUCKETS 256

struct counter {
    struct counter *next;
    int64_t start, end, count;
    char key[];
};

struct stripe {
    pthread_mutex_t lock;
    struct counter *buckets[BUCKETS];
};

struct memstore {
    struct stripe stripes[STRIPES];
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

/* The counter for `key` in its bucket, dropping ended ones on the way;
 * NULL when absent. Stripe lock held. */
static struct counter *find(struct counter **head, const char *key, int64_t now)
{
    for (struct counter **pp = head; *pp;) {
        struct counter *c = *pp;
        if (strcmp(c->key, key) == 0)
            return c;
        if (c->end <= now) {
            *pp = c->next;
            free(c);
            continue;
        }
        pp = &c->next;
    }
    return NULL;
}

static enum pw_err consume(void *self, const char *key, int64_t start, int64_t end,
                           int64_t now, int64_t cost, int64_t limit, unsigned flags,
                           struct pw_access_consumed *out)
{
    struct memstore *m = self;
    uint64_t h = hash(key);
    struct stripe *s = &m->stripes[h % STRIPES];
    struct counter **head = &s->buckets[(h / STRIPES) % BUCKETS];
    pthread_mutex_lock(&s->lock);
    struct counter *c = find(head, key, now);
    if (!c) {
        size_t n = strlen(key) + 1;
        c = malloc(sizeof *c + n);
        if (!c) {
            pthread_mutex_unlock(&s->lock);
            return PW_ERR_NOMEM;
        }
        memcpy(c->key, key, n);
        c->start = -1;
        c->next = *head;
        *head = c;
    }
    if (c->start != start) {
        c->start = start;
        c->end = end;
        c->count = 0;
    }
    bool allowed = limit < 0 ||
                   ((flags & PW_ACCESS_CONSUME_SOFT) ? c->count < limit
                                                     : c->count + cost <= limit);
    if (allowed)
        c->count += cost;
    out->allowed = allowed;
    out->count = c->count;
    out->remaining = limit < 0 ? -1 : (c->count < limit ? limit - c->count : 0);
    out->reset_ms = end > now ? end - now : 0;
    pthread_mutex_unlock(&s->lock);
    return PW_OK;
}

static void adjust(void *self, const char *key, int64_t start, int64_t end, int64_t delta)
{
    struct memstore *m = self;
    uint64_t h = hash(key);
    struct stripe *s = &m->stripes[h % STRIPES];
    pthread_mutex_lock(&s->lock);
    for (struct counter *c = s->buckets[(h / STRIPES) % BUCKETS]; c; c = c->next) {
        if (strcmp(c->key, key) == 0) {
            if (c->start == start && c->end == end)
                c->count = c->count + delta > 0 ? c->count + delta : 0;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

static void memstore_free(void *self)
{
    struct memstore *m = self;
    if (!m)
        return;
    for (size_t i = 0; i < STRIPES; i++) {
        for (size_t b = 0; b < BUCKETS; b++) {
            struct counter *c = m->stripes[i].buckets[b];
            while (c) {
                struct counter *next = c->next;
                free(c);
                c = next;
            }
        }
        pthread_mutex_destroy(&m->stripes[i].lock);
    }
    free(m);
}

enum pw_err pw_access_store_memory(struct pw_access_store *out, struct pw_error *err)
{
    struct memstore *m = calloc(1, sizeof *m);
    if (!m)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_init(&m->stripes[i].lock, NULL);
    *out = (struct pw_access_store){
        .consume = consume,
        .adjust = adjust,
        .free = memstore_free,
        .self = m,
        .shared = false,
    };
    return PW_OK;
}
