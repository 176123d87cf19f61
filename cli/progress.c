/*
 * The terminal progress line of long commands (see cli/progress.h for the
 * rules: silent off a terminal, a delay before the first line, a bounded
 * redraw rate, a summary at the end).
 *
 * The fraction done comes from rows when the total is known (export,
 * generate) and from input bytes otherwise (import, whose row count is only
 * known at the end); the time left is the time so far scaled by what
 * remains, which is what a steady rate predicts. A line is redrawn over
 * the previous one with '\r' and padded with spaces where the previous
 * one was longer, so no terminal escape sequences are needed.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/progress.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "pennyworth/clock.h"

/* `n` with a comma between thousands ("1,234,567"); returns out. */
static const char *grouped(char out[32], uint64_t n)
{
    char digits[24];
    int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)n);
    size_t o = 0;
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    return out;
}

/* A duration as m:ss, or h:mm:ss from an hour on. */
static const char *clock_text(char out[24], int64_t us)
{
    long long s = (long long)((us + 500000) / 1000000);
    if (s >= 3600)
        snprintf(out, 24, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, 24, "%lld:%02lld", s / 60, s % 60);
    return out;
}

/* The fraction done, or a negative number when nothing says. */
static double fraction(const struct pw_catalog_progress *at)
{
    double f = -1;
    if (at->rows_total)
        f = (double)at->rows / (double)at->rows_total;
    else if (at->bytes_total)
        f = (double)at->bytes / (double)at->bytes_total;
    return f > 1 ? 1 : f;
}

/* Appends to buf at *len like snprintf, never past size. */
static void add(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    if (*len + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n < size - *len ? (size_t)n : size - *len - 1;
}

size_t cli_progress_format(char *buf, size_t size, const char *what,
                           const struct pw_catalog_progress *at, int64_t elapsed_us, bool done)
{
    char a[32], b[32], t[24];
    size_t len = 0;
    bool rated = elapsed_us >= CLI_PROGRESS_MIN_RATE_US;
    uint64_t rate = rated ? (uint64_t)((double)at->rows * 1e6 / (double)elapsed_us + 0.5) : 0;
    buf[0] = '\0';
    add(buf, size, &len, "%s: %s", what, grouped(a, at->rows));
    if (done) {
        add(buf, size, &len, " rows in %.1f s", (double)elapsed_us / 1e6);
        if (rated)
            add(buf, size, &len, " (%s rows/s)", grouped(b, rate));
        return len;
    }
    if (at->rows_total)
        add(buf, size, &len, " of %s", grouped(b, at->rows_total));
    add(buf, size, &len, " rows");
    double f = fraction(at);
    if (f >= 0)
        add(buf, size, &len, " (%d%%)", (int)(f * 100));
    if (at->stage) {
        add(buf, size, &len, ", %s", at->stage);
        return len;
    }
    if (rated)
        add(buf, size, &len, ", %s rows/s", grouped(b, rate));
    if (rated && f > 0)
        add(buf, size, &len, ", %s left",
            clock_text(t, (int64_t)((double)elapsed_us * (1 - f) / f)));
    return len;
}

void cli_progress_start(struct cli_progress *p, const char *what, bool quiet)
{
    memset(p, 0, sizeof *p);
    p->what = what;
    p->tty = !quiet && isatty(STDERR_FILENO) ? stderr : NULL;
    p->start_us = pw_clock_us();
    p->next_us = p->start_us + CLI_PROGRESS_DELAY_US;
}

/* Draws `line` over the one on screen. */
static void draw(struct cli_progress *p, const char *line, size_t len)
{
    fprintf(p->tty, "\r%s%*s", line, p->drawn > len ? (int)(p->drawn - len) : 0, "");
    fflush(p->tty);
    p->drawn = len ? len : 1;
}

void cli_progress_report(void *ud, const struct pw_catalog_progress *at)
{
    struct cli_progress *p = ud;
    /* A new stage is news (the long silent tail of an import starts):
     * it skips the redraw limit, not the initial delay. */
    bool news = at->stage && (!p->last.stage || strcmp(at->stage, p->last.stage) != 0);
    p->last = *at;
    if (!p->tty)
        return;
    int64_t now = pw_clock_us();
    if (now < p->next_us && !(news && p->drawn))
        return;
    p->next_us = now + CLI_PROGRESS_EVERY_US;
    char line[CLI_PROGRESS_LINE];
    size_t len = cli_progress_format(line, sizeof line, p->what, at, now - p->start_us, false);
    draw(p, line, len);
}

void cli_progress_end(struct cli_progress *p, bool ok)
{
    if (!p->tty || !p->drawn)
        return;
    if (ok) {
        char line[CLI_PROGRESS_LINE];
        size_t len = cli_progress_format(line, sizeof line, p->what, &p->last,
                                         pw_clock_us() - p->start_us, true);
        draw(p, line, len);
    }
    fputc('\n', p->tty);
    fflush(p->tty);
    p->drawn = 0;
}
