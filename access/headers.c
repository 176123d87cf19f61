/*
 * What a client sees of admission: the x-ratelimit-* headers on every
 * response, the retry hints on refusals, and OpenAI-shaped error bodies.
 *
 * Header values follow OpenAI's: limits and remaining counts as integers,
 * resets as durations ("20ms", "1.5s", "6m0s", "1h2m3s"). A rate-limit
 * refusal adds retry-after (whole seconds, rounded up, at least 1) and
 * retry-after-ms; a refusal that waiting cannot fix (a budget, a request
 * larger than its tier's per-minute tokens) adds x-should-retry: false,
 * which the openai SDKs honour instead of retrying.
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/json.h"

struct hb {
    struct pw_access_headers *h;
    size_t n, used;
};

/* Appends name and a formatted value (kept in h->buf). */
static void add(struct hb *b, const char *name, const char *value)
{
    struct pw_access_headers *h = b->h;
    size_t len = strlen(value) + 1;
    if (b->n + 2 > PW_ACCESS_HEADERS_MAX || b->used + len > sizeof h->buf)
        return;
    memcpy(h->buf + b->used, value, len);
    h->v[b->n++] = name;
    h->v[b->n++] = h->buf + b->used;
    b->used += len;
}

static void add_int(struct hb *b, const char *name, int64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%" PRId64, v);
    add(b, name, s);
}

/* OpenAI's duration style. */
static void duration(int64_t ms, char *out, size_t size)
{
    if (ms < 0)
        ms = 0;
    if (ms < 1000) {
        snprintf(out, size, "%" PRId64 "ms", ms);
        return;
    }
    int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
    char sec[16];
    if (frac == 0)
        snprintf(sec, sizeof sec, "%" PRId64 "s", s);
    else if (frac % 100 == 0)
        snprintf(sec, sizeof sec, "%" PRId64 ".%" PRId64 "s", s, frac / 100);
    else if (frac % 10 == 0)
        snprintf(sec, sizeof sec, "%" PRId64 ".%02" PRId64 "s", s, frac / 10);
    else
        snprintf(sec, sizeof sec, "%" PRId64 ".%03" PRId64 "s", s, frac);
    if (h)
        snprintf(out, size, "%" PRId64 "h%" PRId64 "m%s", h, m, sec);
    else if (m)
        snprintf(out, size, "%" PRId64 "m%s", m, sec);
    else
        snprintf(out, size, "%s", sec);
}

static void add_duration(struct hb *b, const char *name, int64_t ms)
{
    char s[48];
    duration(ms, s, sizeof s);
    add(b, name, s);
}

const char *const *pw_access_headers(const struct pw_access_grant *g,
                                     struct pw_access_headers *h)
{
    struct hb b = {.h = h};
    if (g->limit_requests >= 0) {
        add_int(&b, "x-ratelimit-limit-requests", g->limit_requests);
        add_int(&b, "x-ratelimit-remaining-requests", g->remaining_requests);
        add_duration(&b, "x-ratelimit-reset-requests", g->reset_requests_ms);
    }
    if (g->limit_tokens >= 0) {
        add_int(&b, "x-ratelimit-limit-tokens", g->limit_tokens);
        add_int(&b, "x-ratelimit-remaining-tokens", g->remaining_tokens);
        add_duration(&b, "x-ratelimit-reset-tokens", g->reset_tokens_ms);
    }
    if (g->status && !g->should_retry) {
        add(&b, "x-should-retry", "false");
    } else if (g->status == 429) {
        int64_t ms = g->retry_after_ms > 0 ? g->retry_after_ms : 1000;
        add_int(&b, "retry-after", (ms + 999) / 1000);
        add_int(&b, "retry-after-ms", ms);
    }
    h->v[b.n] = NULL;
    return h->v;
}

char *pw_access_error_body(const struct pw_access_grant *g)
{
    const char *type = g->type ? g->type : pw_err_openai_type(g->code);
    json_t *body = json_pack("{s:{s:s, s:s, s:n, s:s}}", "error", "message", g->message,
                             "type", type, "param", "code", type);
    char *s = body ? json_dumps(body, PW_JSON_WIRE) : NULL;
    json_decref(body);
    return s;
}
