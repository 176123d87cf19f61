/*
 * access's configuration: tiers, the per-client-IP limit, the usage
 * retention and price overrides, from a JSON object (see
 * pw_access_options.config) over built-in defaults.
 *
 * Default tiers, after the original design (requests per minute / per hour
 * / tokens per minute; 0 = no limit of that kind):
 *   free         10 /    100 /     10,000
 *   basic        60 /  1,000 /    100,000
 *   premium   1,000 /      0 /  1,000,000
 *   enterprise 10,000 /    0 / 10,000,000
 * and 2,000 failed authentications per 5 minutes per client IP (an address
 * over it is refused before authentication; authenticated requests do not
 * count). The usage writer's queue holds at most 64 MiB of records.
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct access_tier default_tiers[] = {
    {"free", 10, 100, 10000},
    {"basic", 60, 1000, 100000},
    {"premium", 1000, 0, 1000000},
    {"enterprise", 10000, 0, 10000000},
};

#define DEFAULT_IP_LIMIT 2000
#define DEFAULT_IP_WINDOW_MS (5 * 60 * 1000)
#define DEFAULT_RETENTION_DAYS 90
#define DEFAULT_USAGE_QUEUE_BYTES ((int64_t)64 << 20)
#define MAX_TIERS 64

/* A non-negative integer member, when present. */
static enum pw_err get_count(const json_t *obj, const char *name, const char *where,
                             int64_t max, int64_t *out, struct pw_error *err)
{
    json_t *v = json_object_get(obj, name);
    if (!v)
        return PW_OK;
    char ptr[PW_ERROR_POINTER_MAX];
    snprintf(ptr, sizeof ptr, "%s/%s", where, name);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
        return pw_error_set(err, PW_ERR_INVALID, ptr,
                            "%s: must be an integer from 0 to %lld", ptr, (long long)max);
    *out = json_integer_value(v);
    return PW_OK;
}

const struct access_tier *access_tier_find(const struct access_config *c, const char *name)
{
    for (size_t i = 0; name && i < c->ntiers; i++)
        if (strcmp(c->tiers[i].name, name) == 0)
            return &c->tiers[i];
    return NULL;
}

static enum pw_err load_tiers(struct access_config *c, const json_t *tiers,
                              struct pw_error *err)
{
    if (tiers && !json_is_object(tiers))
        return pw_error_set(err, PW_ERR_INVALID, "/tiers", "/tiers: must be an object");
    size_t n = sizeof default_tiers / sizeof default_tiers[0] + json_object_size(tiers);
    if (n > MAX_TIERS)
        return pw_error_set(err, PW_ERR_TOO_LARGE, "/tiers", "/tiers: at most %d tiers",
                            MAX_TIERS);
    c->tiers = calloc(n, sizeof *c->tiers);
    if (!c->tiers)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    memcpy(c->tiers, default_tiers, sizeof default_tiers);
    c->ntiers = sizeof default_tiers / sizeof default_tiers[0];
    const char *name;
    json_t *t;
    json_object_foreach((json_t *)tiers, name, t) {
        char where[PW_ERROR_POINTER_MAX];
        snprintf(where, sizeof where, "/tiers/%s", name);
        if (!*name || strlen(name) >= ACCESS_TIER_MAX || strcspn(name, ",/ ") != strlen(name))
            return pw_error_set(err, PW_ERR_INVALID, where, "%s: bad tier name", where);
        if (!json_is_object(t))
            return pw_error_set(err, PW_ERR_INVALID, where, "%s: must be an object", where);
        struct access_tier *slot = (struct access_tier *)access_tier_find(c, name);
        if (!slot) {
            slot = &c->tiers[c->ntiers++];
            snprintf(slot->name, sizeof slot->name, "%s", name);
        }
        /* A tier given in the configuration is given whole. */
        slot->per_minute = slot->per_hour = slot->tokens_per_minute = 0;
        const int64_t max = (int64_t)1 << 40;
        enum pw_err rc = get_count(t, "requestsPerMinute", where, max, &slot->per_minute, err);
        if (!rc)
            rc = get_count(t, "requestsPerHour", where, max, &slot->per_hour, err);
        if (!rc)
            rc = get_count(t, "tokensPerMinute", where, max, &slot->tokens_per_minute, err);
        if (rc)
            return rc;
    }
    return PW_OK;
}

enum pw_err access_config_load(struct access_config *c, const json_t *config,
                               struct pw_error *err)
{
    memset(c, 0, sizeof *c);
    c->ip_limit = DEFAULT_IP_LIMIT;
    c->ip_window_ms = DEFAULT_IP_WINDOW_MS;
    c->retention_days = DEFAULT_RETENTION_DAYS;
    c->usage_queue_bytes = DEFAULT_USAGE_QUEUE_BYTES;
    if (config && !json_is_object(config))
        return pw_error_set(err, PW_ERR_INVALID, "", "access configuration: must be an object");
    enum pw_err rc = load_tiers(c, json_object_get(config, "tiers"), err);
    json_t *ip = json_object_get(config, "ipLimit");
    if (!rc && ip) {
        int64_t secs = c->ip_window_ms / 1000;
        if (!json_is_object(ip))
            rc = pw_error_set(err, PW_ERR_INVALID, "/ipLimit", "/ipLimit: must be an object");
        if (!rc)
            rc = get_count(ip, "requests", "/ipLimit", (int64_t)1 << 40, &c->ip_limit, err);
        if (!rc)
            rc = get_count(ip, "windowSeconds", "/ipLimit", 86400, &secs, err);
        if (!rc && secs == 0)
            rc = pw_error_set(err, PW_ERR_INVALID, "/ipLimit/windowSeconds",
                              "/ipLimit/windowSeconds: must be at least 1");
        c->ip_window_ms = secs * 1000;
    }
    json_t *usage = json_object_get(config, "usage");
    if (!rc && usage) {
        int64_t days = c->retention_days;
        if (!json_is_object(usage))
            rc = pw_error_set(err, PW_ERR_INVALID, "/usage", "/usage: must be an object");
        if (!rc)
            rc = get_count(usage, "retentionDays", "/usage", 36500, &days, err);
        if (!rc && days == 0)
            rc = pw_error_set(err, PW_ERR_INVALID, "/usage/retentionDays",
                              "/usage/retentionDays: must be at least 1");
        c->retention_days = (int)days;
        if (!rc)
            rc = get_count(usage, "queueBytes", "/usage", (int64_t)1 << 40,
                           &c->usage_queue_bytes, err);
        if (!rc && c->usage_queue_bytes < 4096)
            rc = pw_error_set(err, PW_ERR_INVALID, "/usage/queueBytes",
                              "/usage/queueBytes: must be at least 4096");
    }
    if (!rc)
        rc = access_prices_load(c, json_object_get(config, "prices"), err);
    if (rc)
        access_config_clear(c);
    return rc;
}

bool pw_access_ip_limit_parse(const char *s, struct pw_access_ip_limit *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno || n > (long long)1 << 40)
        return false;
    if (*end && *end != '/')
        return false;
    int64_t window = 0;
    if (*end == '/' && (!pw_access_duration_parse(end + 1, &window) || window < 1000 ||
                        window > 86400000))
        return false;
    out->failures = n;
    out->window_ms = window;
    return true;
}

void access_config_clear(struct access_config *c)
{
    free(c->tiers);
    for (size_t i = 0; i < c->nprices; i++)
        free(c->prices[i].model);
    free(c->prices);
    memset(c, 0, sizeof *c);
}
