/*
 * The growable byte buffer (include/pennyworth/buf.h).
 *
 * Growth starts at MIN_CAP and doubles until the request fits, clamped to
 * what `max` can ever need (max + 1 for the NUL), so a bounded buffer never
 * allocates past its bound. Every addition that could wrap size_t is
 * checked first and reported as PW_ERR_TOO_LARGE: a request that large
 * cannot be satisfied however much memory there is.
 *
 * SPDX-License-Identifier: MIT
 */
#include "pennyworth/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Small enough not to matter for a short string, large enough that a
 * typical rendering grows only a few times. */
#define MIN_CAP 64

void pw_buf_init(struct pw_buf *b, size_t max)
{
    *b = (struct pw_buf){.max = max};
}

static enum pw_err fail(struct pw_buf *b, enum pw_err code)
{
    if (b->err == PW_OK)
        b->err = code;
    return b->err;
}

enum pw_err pw_buf_reserve(struct pw_buf *b, size_t n)
{
    if (b->err)
        return b->err;
    /* One byte is always kept for the NUL, so no bound can reach SIZE_MAX. */
    size_t limit = b->max && b->max < SIZE_MAX ? b->max : SIZE_MAX - 1;
    if (n > limit || b->len > limit - n)
        return fail(b, PW_ERR_TOO_LARGE);
    size_t need = b->len + n + 1; /* cannot wrap: len + n <= SIZE_MAX - 1 */
    if (need <= b->cap)
        return PW_OK;
    size_t cap = b->cap ? b->cap : MIN_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
    if (cap > limit + 1)
        cap = limit + 1; /* still >= need, as len + n <= limit */
    char *p = realloc(b->data, cap);
    if (!p)
        return fail(b, PW_ERR_NOMEM);
    if (!b->data)
        p[0] = '\0';
    b->data = p;
    b->cap = cap;
    return PW_OK;
}

enum pw_err pw_buf_append(struct pw_buf *b, const void *bytes, size_t n)
{
    enum pw_err rc = pw_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
    return PW_OK;
}

enum pw_err pw_buf_append_str(struct pw_buf *b, const char *s)
{
    return pw_buf_append(b, s, strlen(s));
}

enum pw_err pw_buf_appendv(struct pw_buf *b, const char *fmt, va_list ap)
{
    if (b->err)
        return b->err;
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    enum pw_err rc = n < 0 ? fail(b, PW_ERR_INVALID) : pw_buf_reserve(b, (size_t)n);
    if (rc == PW_OK) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
    return rc;
}

enum pw_err pw_buf_appendf(struct pw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum pw_err rc = pw_buf_appendv(b, fmt, ap);
    va_end(ap);
    return rc;
}

const char *pw_buf_str(const struct pw_buf *b)
{
    return b->data ? b->data : "";
}

char *pw_buf_take(struct pw_buf *b)
{
    char *s = b->err ? NULL : b->data;
    if (b->err)
        free(b->data);
    else if (!s)
        s = strdup("");
    pw_buf_init(b, b->max);
    return s;
}

void pw_buf_clear(struct pw_buf *b)
{
    b->len = 0;
    b->err = PW_OK;
    if (b->data)
        b->data[0] = '\0';
}

void pw_buf_free(struct pw_buf *b)
{
    free(b->data);
    pw_buf_init(b, b->max);
}
