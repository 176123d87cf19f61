/*
 * Admission and reconciliation: what happens to each request before and
 * after it runs.
 *
 *   pw_access_admit
 *     1. per-client-IP guard, before authentication: an address that has
 *        failed authentication `ip_limit` times in the window is refused
 *        without its credential being looked at (no oracle for guessing
 *        keys, no work for a flood of bad ones)
 *     2. authentication (Bearer / X-API-Key / a session's key id), or open
 *        mode when no key exists at all (a credential sent is then
 *        ignored); a failure (missing, malformed, unknown, revoked or
 *        expired credential) counts against the address. Authenticated
 *        requests never count there: a busy backend behind one address is
 *        held to its key's tier, not to a per-address number. Open mode
 *        and a session's re-check (no client_ip) never count either.
 *     3. scope, then model, then the key's tier
 *     4. budget: reserve the request's estimated cost (soft: admitted while
 *        under the budget)
 *     5. requests per minute, requests per hour
 *     6. tokens per minute: reserve the estimated tokens (strict: must fit)
 *   pw_access_finish
 *     replaces the token and cost reservations with the real numbers,
 *     queues the usage record and updates the metrics
 *
 * Each limit is one atomic consume on the counter store. When a later step
 * refuses, the earlier steps' consumption is given back, so a refused
 * request costs nothing (a failed authentication aside, which counts for
 * its address); in the instant between the two a concurrent request may
 * see the counter one higher and be refused too, never admitted past a
 * limit.
 *
 * Windows are fixed and aligned to the epoch (minutes, hours, the
 * configured IP window) or to the calendar month (budgets).
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include "pennyworth/assert.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pennyworth/encode.h"
#include "pennyworth/log.h"
#include "pennyworth/metrics.h"

#define MINUTE_MS 60000
#define HOUR_MS 3600000
/* Bytes of a model name kept in a usage record (a refused or failed
 * request's model is whatever the client sent). */
#define RECORD_MODEL_MAX 256
/* Bytes of a model name quoted in a refusal message. */
#define MESSAGE_MODEL_MAX 80


/* A consumed limit, kept for rolling back. */
struct taken {
    char key[48];
    int64_t start, end, cost;
};

struct admission {
    struct pw_access *acc;
    struct pw_access_grant *g;
    int64_t now;
    struct taken taken[4];
    size_t ntaken;
};

static void rollback(struct admission *a)
{
    struct pw_access_store *s = &a->acc->store;
    for (size_t i = 0; i < a->ntaken; i++)
        if (a->taken[i].cost)
            s->adjust(s->self, a->taken[i].key, a->taken[i].start, a->taken[i].end,
                      -a->taken[i].cost);
    a->ntaken = 0;
}

static void refuse(struct admission *a, int status, enum pw_err code, const char *type,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void refuse(struct admission *a, int status, enum pw_err code, const char *type,
                   const char *fmt, ...)
{
    rollback(a);
    struct pw_access_grant *g = a->g;
    g->status = status;
    g->code = code;
    g->type = type;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->message, sizeof g->message, fmt, ap);
    va_end(ap);
}

/*
 * Consumes `cost` of a fixed window of `window_ms` (0: the calendar month)
 * on counter `key`; fills *c. Returns false when the store failed (the
 * request was then refused).
 */
static bool take(struct admission *a, const char *key, int64_t window_ms, int64_t cost,
                 int64_t limit, unsigned flags, struct pw_access_consumed *c)
{
    int64_t start, end;
    if (window_ms) {
        start = a->now - a->now % window_ms;
        end = start + window_ms;
    } else {
        char month[8];
        access_month(a->now, &start, &end, month);
    }
    struct pw_access_store *s = &a->acc->store;
    if (s->consume(s->self, key, start, end, a->now, cost, limit, flags, c) != PW_OK) {
        refuse(a, 503, PW_ERR_INTERNAL, "server_error", "rate limit store unavailable");
        return false;
    }
    if (c->allowed && a->ntaken < sizeof a->taken / sizeof a->taken[0]) {
        struct taken *t = &a->taken[a->ntaken++];
        snprintf(t->key, sizeof t->key, "%s", key);
        t->start = start;
        t->end = end;
        t->cost = cost;
    }
    return true;
}

static void rate_refusal(struct admission *a, const char *which,
                         const struct pw_access_consumed *c, const char *what)
{
    const char *labels[] = {which};
    pw_metric_add(access_metrics()->ratelimited, labels, 1);
    refuse(a, 429, PW_ERR_RATE_LIMITED, "rate_limit_exceeded",
           "rate limit reached: %s; retry after %lld ms", what, (long long)c->reset_ms);
    a->g->retry_after_ms = c->reset_ms;
}

/* The bearer token of an Authorization value, or NULL. */
static const char *bearer(const char *authorization)
{
    if (!authorization || strncasecmp(authorization, "Bearer", 6) != 0 ||
        (authorization[6] != ' ' && authorization[6] != '\t'))
        return NULL;
    const char *p = authorization + 7;
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static const char *const auth_reasons[] = {
    [ACCESS_AUTH_OK] = "ok",
    [ACCESS_AUTH_MISSING] = "missing",
    [ACCESS_AUTH_MALFORMED] = "malformed",
    [ACCESS_AUTH_UNKNOWN] = "unknown",
    [ACCESS_AUTH_REVOKED] = "revoked",
    [ACCESS_AUTH_EXPIRED] = "expired",
};

static const char *const auth_messages[] = {
    [ACCESS_AUTH_OK] = "",
    [ACCESS_AUTH_MISSING] = "no API key: send Authorization: Bearer KEY or X-API-Key: KEY",
    [ACCESS_AUTH_MALFORMED] = "invalid API key",
    [ACCESS_AUTH_UNKNOWN] = "invalid API key",
    [ACCESS_AUTH_REVOKED] = "this API key has been revoked",
    [ACCESS_AUTH_EXPIRED] = "this API key has expired",
};

/* What admission needs of a key, copied out from under keys_lock. */
struct keyview {
    char id[PW_ACCESS_ID_MAX];
    char tier[ACCESS_TIER_MAX];
    int64_t budget;
    unsigned scopes;
    bool model_ok;
};

/* Step 2: fills *kv, or sets g->open, or refuses. False when refused. */
static bool authenticate(struct admission *a, const struct pw_access_request *req,
                         struct keyview *kv)
{
    struct pw_access *acc = a->acc;
    const char *cred = bearer(req->authorization);
    if (!cred && req->api_key)
        cred = req->api_key;
    pthread_mutex_lock(&acc->keys_lock);
    struct pw_error err = {0};
    if (access_keycache_refresh_locked(acc, &err) != PW_OK) {
        pthread_mutex_unlock(&acc->keys_lock);
        pw_errorlog("access: %s", err.message);
        refuse(a, 503, PW_ERR_DB, "server_error", "key store unavailable");
        return false;
    }
    const struct access_key *k = NULL;
    enum access_auth st;
    if (req->key_id)
        st = access_recheck_locked(acc, req->key_id, &k);
    else if (cred && *cred)
        st = access_authenticate_locked(acc, cred, &k);
    else
        st = ACCESS_AUTH_MISSING;
    bool any = false;
    for (size_t i = 0; !any && i < ACCESS_KEY_BUCKETS; i++)
        any = acc->keys.buckets[i] != NULL;
    if (st == ACCESS_AUTH_OK) {
        snprintf(kv->id, sizeof kv->id, "%s", k->id);
        snprintf(kv->tier, sizeof kv->tier, "%s", k->tier);
        kv->budget = k->budget_micros;
        kv->scopes = k->scopes;
        kv->model_ok = !req->model || access_key_allows_model(k, req->model);
    }
    pthread_mutex_unlock(&acc->keys_lock);
    if (!any && !req->key_id) {
        /* No key exists: open mode (pw_access_check_open). A credential sent
         * anyway is ignored: SDKs always send one, and there is nothing to
         * check it against. */
        a->g->open = true;
        return true;
    }
    if (st != ACCESS_AUTH_OK) {
        const char *labels[] = {auth_reasons[st]};
        pw_metric_add(access_metrics()->auth_failures, labels, 1);
        refuse(a, 401, PW_ERR_AUTH, "invalid_api_key", "%s", auth_messages[st]);
        return false;
    }
    return true;
}

static const char *scope_name(unsigned scope)
{
    return scope & PW_ACCESS_SCOPE_ADMIN ? "admin" : scope & PW_ACCESS_SCOPE_MCP ? "mcp" : "chat";
}

/* Step 4. */
static bool budget(struct admission *a, const struct pw_access_request *req,
                   const struct keyview *kv)
{
    if (kv->budget < 0)
        return true;
    struct pw_access *acc = a->acc;
    int64_t start, end;
    char month[8], counter[32];
    access_month(a->now, &start, &end, month);
    struct pw_error err = {0};
    if (access_budget_seed(acc, kv->id, start, end, month, &err) != PW_OK) {
        pw_errorlog("access: %s", err.message);
        refuse(a, 503, PW_ERR_DB, "server_error", "budget store unavailable");
        return false;
    }
    /* Reserve at the dearer of the two token rates: an upper bound. */
    const struct access_price *p = access_price_find(&acc->cfg, req->model);
    int64_t as_in = access_price_cost(p, req->est_tokens, 0, 0);
    int64_t as_out = access_price_cost(p, 0, req->est_tokens, 0);
    int64_t est = as_in > as_out ? as_in : as_out;
    PW_ASSERT(est >= 0); /* a negative reservation would credit the budget */
    access_budget_counter(kv->id, counter, sizeof counter);
    struct pw_access_consumed c;
    if (!take(a, counter, 0, est, kv->budget, PW_ACCESS_CONSUME_SOFT, &c))
        return false;
    if (!c.allowed) {
        char spent[32], limit[32];
        pw_access_format_usd(c.count, spent, sizeof spent);
        pw_access_format_usd(kv->budget, limit, sizeof limit);
        pw_metric_add(access_metrics()->budget_refused, NULL, 1);
        refuse(a, 429, PW_ERR_RATE_LIMITED, "budget_exceeded",
               "monthly budget of USD %s reached (USD %s spent or reserved); it resets at "
               "the start of next month (UTC)", limit, spent);
        a->g->should_retry = false;
        return false;
    }
    a->g->bud_start = start;
    a->g->bud_end = end;
    a->g->bud_reserved = est;
    return true;
}

/* Step 5 for one window; keeps the tightest in the grant's report. */
static bool requests(struct admission *a, const char *prefix, const char *id, int64_t window,
                     int64_t limit, const char *what)
{
    if (limit <= 0)
        return true;
    char counter[48];
    snprintf(counter, sizeof counter, "%s:%s", prefix, id);
    struct pw_access_consumed c;
    if (!take(a, counter, window, 1, limit, 0, &c))
        return false;
    struct pw_access_grant *g = a->g;
    if (g->limit_requests < 0 || c.remaining < g->remaining_requests || !c.allowed) {
        g->limit_requests = limit;
        g->remaining_requests = c.remaining;
        g->reset_requests_ms = c.reset_ms;
    }
    if (!c.allowed) {
        rate_refusal(a, "requests", &c, what);
        return false;
    }
    return true;
}

/* Step 6. */
static bool tokens(struct admission *a, const char *id, int64_t limit, int64_t est)
{
    if (limit <= 0)
        return true;
    char counter[48];
    snprintf(counter, sizeof counter, "tm:%s", id);
    struct pw_access_consumed c;
    if (est < 0)
        est = 0;
    if (!take(a, counter, MINUTE_MS, est, limit, 0, &c))
        return false;
    struct pw_access_grant *g = a->g;
    g->limit_tokens = limit;
    g->remaining_tokens = c.remaining;
    g->reset_tokens_ms = c.reset_ms;
    if (!c.allowed) {
        if (est > limit) {
            refuse(a, 429, PW_ERR_RATE_LIMITED, "rate_limit_exceeded",
                   "request too large: about %lld tokens, over the tier's %lld per minute",
                   (long long)est, (long long)limit);
            g->should_retry = false;
            return false;
        }
        rate_refusal(a, "tokens", &c, "tokens per minute");
        return false;
    }
    g->tok_start = a->now - a->now % MINUTE_MS;
    g->tok_end = g->tok_start + MINUTE_MS;
    g->tok_reserved = est;
    return true;
}

/* The per-IP guard's counter for the request's address; false when the
 * request is not guarded (no address, or the guard is off). */
static bool ip_counter(const struct admission *a, const struct pw_access_request *req,
                       char *out, size_t size)
{
    if (!req->client_ip || !*req->client_ip || a->acc->cfg.ip_limit <= 0)
        return false;
    snprintf(out, size, "ip:%.64s", req->client_ip);
    return true;
}

/* Consumes `cost` (0: only looks) of the address's failures and reports
 * them in the grant; false when refused (over the limit, or the store
 * failed). Soft: a look is allowed while the count is under the limit. */
static bool ip_take(struct admission *a, const char *counter, int64_t cost)
{
    struct pw_access *acc = a->acc;
    struct pw_access_grant *g = a->g;
    struct pw_access_consumed c;
    if (!take(a, counter, acc->cfg.ip_window_ms, cost, acc->cfg.ip_limit,
              PW_ACCESS_CONSUME_SOFT, &c))
        return false;
    a->ntaken = 0; /* a failure stands whatever happens next */
    g->limit_requests = acc->cfg.ip_limit;
    g->remaining_requests = c.remaining;
    g->reset_requests_ms = c.reset_ms;
    if (!c.allowed) {
        rate_refusal(a, "ip", &c, "failed authentications from this address");
        return false;
    }
    return true;
}

static void admit(struct admission *a, const struct pw_access_request *req)
{
    struct pw_access *acc = a->acc;
    struct pw_access_grant *g = a->g;
    char ip[80];
    bool guarded = ip_counter(a, req, ip, sizeof ip);
    if (guarded && !ip_take(a, ip, 0))
        return;
    struct keyview kv = {0};
    if (!authenticate(a, req, &kv)) {
        /* Only a failed authentication counts (a 503 from the key store
         * is not the client's). */
        if (guarded && g->status == 401)
            ip_take(a, ip, 1);
        return;
    }
    /* From here the key's (or open mode's lack of) limits are reported, not
     * the address's. */
    g->limit_requests = g->remaining_requests = g->reset_requests_ms = -1;
    if (g->open)
        return;
    snprintf(g->key_id, sizeof g->key_id, "%s", kv.id);
    snprintf(g->tier, sizeof g->tier, "%s", kv.tier);
    if (req->scope && !(kv.scopes & req->scope)) {
        refuse(a, 403, PW_ERR_FORBIDDEN, "insufficient_permissions",
               "this API key does not have the '%s' scope", scope_name(req->scope));
        return;
    }
    if (!kv.model_ok) {
        refuse(a, 403, PW_ERR_FORBIDDEN, "insufficient_permissions",
               "this API key may not use the model '%.*s'",
               (int)pw_utf8_prefix(req->model, MESSAGE_MODEL_MAX), req->model);
        return;
    }
    const struct access_tier *t = access_tier_find(&acc->cfg, kv.tier);
    if (!t) {
        refuse(a, 403, PW_ERR_FORBIDDEN, "insufficient_permissions",
               "this API key's tier '%s' is not configured", kv.tier);
        return;
    }
    if (!budget(a, req, &kv) ||
        !requests(a, "rm", kv.id, MINUTE_MS, t->per_minute, "requests per minute") ||
        !requests(a, "rh", kv.id, HOUR_MS, t->per_hour, "requests per hour") ||
        !tokens(a, kv.id, t->tokens_per_minute, req->est_tokens)) {
        g->bud_end = g->tok_end = 0;
        g->bud_reserved = g->tok_reserved = 0;
        return;
    }
}

void pw_access_admit(struct pw_access *acc, const struct pw_access_request *req,
                     struct pw_access_grant *g)
{
    memset(g, 0, sizeof *g);
    g->should_retry = true;
    g->limit_requests = g->remaining_requests = g->reset_requests_ms = -1;
    g->limit_tokens = g->remaining_tokens = g->reset_tokens_ms = -1;
    struct admission a = {.acc = acc, .g = g, .now = access_now_ms(acc)};
    g->admitted_ms = a.now;
    admit(&a, req);
}

/* Reconciliation -------------------------------------------------------------- */

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* Tokens and spend, by the model priced (the HTTP, upstream and overhead
 * families are the server's and the bridge's). */
static void observe(const struct pw_access_usage *u, int64_t cost)
{
    const struct access_metrics *m = access_metrics();
    const char *model = u->model ? u->model : "";
    const char *kinds[][2] = {{model, "prompt"}, {model, "completion"}, {model, "cached"}};
    int64_t counts[] = {u->prompt_tokens, u->completion_tokens, u->cached_tokens};
    for (size_t i = 0; u->model && i < 3; i++)
        if (counts[i] > 0)
            pw_metric_add(m->tokens, kinds[i], (double)counts[i]);
    const char *ml[] = {model};
    if (u->model && cost > 0)
        pw_metric_add(m->spend, ml, (double)cost / 1e6);
}

void pw_access_finish(struct pw_access *acc, struct pw_access_grant *g,
                      const struct pw_access_usage *u)
{
    if (!g || g->finished)
        return;
    g->finished = true;
    static const struct pw_access_usage none = {0};
    if (!u)
        u = &none;
    if (g->status != 0)
        return;
    int64_t cost = u->priced || u->cost_micros > 0
                       ? u->cost_micros
                       : pw_access_cost(acc, u->model, u->prompt_tokens, u->completion_tokens,
                                        u->cached_tokens);
    struct pw_access_store *s = &acc->store;
    char counter[48];
    if (g->tok_end) {
        snprintf(counter, sizeof counter, "tm:%s", g->key_id);
        int64_t used = (u->prompt_tokens > 0 ? u->prompt_tokens : 0) +
                       (u->completion_tokens > 0 ? u->completion_tokens : 0);
        s->adjust(s->self, counter, g->tok_start, g->tok_end, used - g->tok_reserved);
    }
    if (g->bud_end) {
        access_budget_counter(g->key_id, counter, sizeof counter);
        s->adjust(s->self, counter, g->bud_start, g->bud_end, cost - g->bud_reserved);
    }
    observe(u, cost);

    struct access_record *r = calloc(1, sizeof *r);
    if (!r)
        return;
    int64_t start, end;
    snprintf(r->request_id, sizeof r->request_id, "%s", u->request_id ? u->request_id : "");
    snprintf(r->key_id, sizeof r->key_id, "%s", g->key_id);
    /* Spend counts in the month the request was admitted in, like its
     * reservation. */
    access_month(g->admitted_ms, &start, &end, r->month);
    r->ts_ms = g->admitted_ms;
    r->model = u->model ? strndup(u->model, pw_utf8_prefix(u->model, RECORD_MODEL_MAX))
                        : NULL;
    r->provider = dup_or_null(u->provider);
    r->route = dup_or_null(u->route);
    r->products = dup_or_null(u->products);
    r->status = u->status;
    r->prompt = u->prompt_tokens;
    r->completion = u->completion_tokens;
    r->cached = u->cached_tokens;
    r->cost_micros = cost;
    r->latency_us = u->latency_us;
    r->upstream_us = u->upstream_us;
    if (acc->writer) {
        access_writer_push(acc, r);
        return;
    }
    struct pw_error err = {0};
    pthread_mutex_lock(&acc->wr_lock);
    if (access_records_commit(acc->wr, r, &err) != PW_OK)
        pw_errorlog("access: usage record %s: %s", r->request_id, err.message);
    pthread_mutex_unlock(&acc->wr_lock);
    access_record_free(r);
}

/* Token estimate -------------------------------------------------------------------- */

/* Output tokens a reservation counts at most, whatever max_tokens says. */
#define ESTIMATE_MAX_COMPLETION ((int64_t)1000000000)

static size_t text_chars(const json_t *v)
{
    if (json_is_string(v))
        return json_string_length(v);
    size_t n = 0;
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
            n += text_chars(x);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
            n += text_chars(x);
    }
    return n;
}

int64_t pw_access_estimate_tokens(const json_t *body)
{
    /* About four characters per token for English text, plus a few tokens
     * of framing per message. */
    const json_t *msgs = json_object_get(body, "messages");
    int64_t prompt = (int64_t)(text_chars(msgs) / 4) + 4 * (int64_t)json_array_size(msgs);
    const json_t *max = json_object_get(body, "max_completion_tokens");
    if (!json_is_integer(max))
        max = json_object_get(body, "max_tokens");
    int64_t completion = json_is_integer(max) && json_integer_value(max) > 0
                             ? json_integer_value(max)
                             : 256;
    /* The client chose max_tokens: a reservation past any model's output
     * is capped rather than overflowing the sum (a negative reservation
     * would credit the limit). */
    if (completion > ESTIMATE_MAX_COMPLETION)
        completion = ESTIMATE_MAX_COMPLETION;
    return prompt + completion;
}
