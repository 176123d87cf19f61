/*
 * Line-oriented logging to stderr with a level threshold.
 *
 * The level is read once from PENNYWORTH_LOG on first use and may be changed
 * later; it is an atomic so any thread may log. Lines are assembled in a
 * local buffer and written with one write(2) so concurrent lines never
 * interleave.
 *
 * SPDX-License-Identifier: MIT
 */
#include "pennyworth/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int level = -1;

static const char *const names[] = {"debug", "info", "warn", "error", "off"};

static int env_level(void)
{
    const char *v = getenv("PENNYWORTH_LOG");
    if (v)
        for (int i = 0; i <= PW_LOG_OFF; i++)
            if (strcmp(v, names[i]) == 0)
                return i;
    return PW_LOG_INFO;
}

void pw_log_set_level(enum pw_log_level l) { atomic_store(&level, (int)l); }

enum pw_log_level pw_log_get_level(void)
{
    int l = atomic_load(&level);
    if (l < 0) {
        l = env_level();
        atomic_store(&level, l);
    }
    return (enum pw_log_level)l;
}

void pw_log(enum pw_log_level l, const char *fmt, ...)
{
    if (l < pw_log_get_level() || l >= PW_LOG_OFF)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, names[l]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void pw_log_redact(const char *secret, char *out, size_t outlen)
{
    if (!outlen)
        return;
    size_t n = secret ? strlen(secret) : 0;
    snprintf(out, outlen, "%.*s%s", (int)(n < 4 ? n : 4), secret ? secret : "",
             n > 4 ? "..." : "");
}
