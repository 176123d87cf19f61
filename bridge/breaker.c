/*
 * The bridge's resilience policy in pure functions: the per-deployment
 * circuit breaker (state machine drawn in bridge-int.h), the retry delay
 * (exponential backoff with jitter, floored by Retry-After) and the
 * Retry-After parser. No clock and no randomness of their own: callers pass
 * the time and a random number, so tests replay exact cases.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/bridge-int.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool bridge_breaker_allow(struct bridge_breaker *b, long long now_ms)
{
    switch (b->state) {
    case BRIDGE_CLOSED:
        return true;
    case BRIDGE_OPEN:
        if (now_ms < b->open_until_ms)
            return false;
        b->state = BRIDGE_HALF_OPEN; /* this request is the probe */
        return true;
    case BRIDGE_HALF_OPEN:
        return false;
    }
    return false;
}

void bridge_breaker_record(struct bridge_breaker *b, bool ok, long long now_ms)
{
    int threshold = b->threshold > 0 ? b->threshold : BRIDGE_BREAKER_FAILURES;
    int cooldown = b->cooldown_ms > 0 ? b->cooldown_ms : BRIDGE_BREAKER_COOLDOWN_MS;
    if (ok) {
        b->state = BRIDGE_CLOSED;
        b->failures = 0;
        return;
    }
    if (b->state == BRIDGE_HALF_OPEN || ++b->failures >= threshold) {
        b->state = BRIDGE_OPEN;
        b->open_until_ms = now_ms + cooldown;
        b->failures = 0;
    }
}

long long bridge_backoff_ms(int attempt, int base_ms, int max_ms, long long retry_after_ms,
                            long long max_retry_after_ms, double rnd)
{
    if (retry_after_ms > max_retry_after_ms)
        return -1;
    if (attempt < 1)
        attempt = 1;
    double exp = (double)base_ms * ldexp(1.0, attempt - 1 < 30 ? attempt - 1 : 30);
    if (exp > max_ms)
        exp = max_ms;
    long long delay = (long long)(exp / 2 + exp / 2 * rnd);
    if (retry_after_ms > delay)
        delay = retry_after_ms;
    return delay;
}

/* Days from the civil date (proleptic Gregorian) to 1970-01-01. */
static long long days_from_civil(long long y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" (the IMF-fixdate HTTP uses) -> unix s. */
static bool parse_http_date(const char *s, long long *out)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const char *comma = strchr(s, ',');
    if (!comma)
        return false;
    char *end;
    const char *p = comma + 1;
    long day = strtol(p, &end, 10);
    if (end == p || *end != ' ')
        return false;
    p = end + 1;
    int mon = -1;
    for (int i = 0; i < 12; i++)
        if (strncmp(p, months[i], 3) == 0)
            mon = i + 1;
    if (mon < 0 || p[3] != ' ')
        return false;
    p += 4;
    long year = strtol(p, &end, 10);
    if (end == p || *end != ' ')
        return false;
    p = end + 1;
    long hh = strtol(p, &end, 10);
    if (*end != ':')
        return false;
    long mm = strtol(end + 1, &end, 10);
    if (*end != ':')
        return false;
    long ss = strtol(end + 1, &end, 10);
    if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
        return false;
    *out = days_from_civil(year, mon, (int)day) * 86400 + hh * 3600 + mm * 60 + ss;
    return true;
}

long long bridge_retry_after_ms(const char *value, long long now_s)
{
    if (!value)
        return -1;
    while (*value == ' ')
        value++;
    if (isdigit((unsigned char)*value)) {
        char *end;
        double secs = strtod(value, &end);
        while (*end == ' ')
            end++;
        if (*end || secs < 0 || secs > 86400.0 * 365)
            return -1;
        return (long long)(secs * 1000.0);
    }
    long long at;
    if (!parse_http_date(value, &at))
        return -1;
    return at <= now_s ? 0 : (at - now_s) * 1000;
}
