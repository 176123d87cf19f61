/*
 * Recording spans: ids, names, times and attributes copied into a flat
 * struct (trace-int.h) by the thread doing the work, then handed to the
 * exporter at the end. Every call accepts a NULL span and does nothing,
 * which is what callers get while tracing is off: no allocation, no
 * branch at the call sites.
 *
 * The process's tracer is one atomic pointer, set by pw_trace_new_from_env
 * and cleared by pw_trace_free before the exporter goes away; a span ended
 * after that is dropped.
 *
 * The current span is a thread-local pointer to a caller's context, set
 * around synchronous calls (pw_trace_enter/leave, strictly nested).
 *
 * Invariants:
 *   1. A span's trace id and span id are never all zero, and a child has
 *      its parent's trace id and clock offset.
 *   2. pw_trace_span_end is the only way a span leaves its recorder: it is
 *      queued or freed there, exactly once.
 *
 * SPDX-License-Identifier: MIT
 */
#include "trace/trace-int.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/clock.h"

static _Atomic(struct pw_trace *) tracer;
static _Thread_local const struct pw_trace_ctx *current;

void trace_install(struct pw_trace *t) { atomic_store(&tracer, t); }

bool pw_trace_on(void) { return atomic_load_explicit(&tracer, memory_order_relaxed) != NULL; }

/* The length of the well-formed UTF-8 sequence at s (at most `left`
 * bytes), or 0 when it is not one (a stray or overlong byte, a cut
 * sequence, a surrogate). */
/* Bytes of one string attribute or name at most. */
#define STR_MAX 1024

static size_t utf8_seq(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
             : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!n || n > left)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) ||
        (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return n;
}

/* A copy for an attribute or a name: clients reach these strings (a path,
 * a tool name), and OTLP/JSON needs UTF-8, so a byte that is not part of a
 * well-formed character becomes '?' and the copy is cut at STR_MAX bytes
 * on a character boundary. */
static char *copy(const char *s, size_t *bytes)
{
    size_t n = strlen(s);
    if (n > STR_MAX)
        n = STR_MAX;
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        if (!k) {
            d[o++] = '?';
            i++;
            continue;
        }
        memcpy(d + o, s + i, k);
        o += k;
        i += k;
    }
    d[o] = '\0';
    *bytes += o + 1;
    return d;
}

struct pw_trace_span *pw_trace_span_begin(const struct pw_trace_ctx *parent, const char *name,
                                          enum pw_trace_kind kind, int64_t start_us)
{
    if (!pw_trace_on())
        return NULL;
    struct pw_trace_span *sp = calloc(1, sizeof *sp);
    if (!sp)
        return NULL;
    sp->bytes = sizeof *sp;
    if (!(sp->name = copy(name, &sp->bytes))) {
        free(sp);
        return NULL;
    }
    sp->kind = kind;
    sp->start_us = start_us ? start_us : pw_clock_us();
    if (parent) {
        memcpy(sp->ctx.trace_id, parent->trace_id, sizeof sp->ctx.trace_id);
        memcpy(sp->parent_id, parent->span_id, sizeof sp->parent_id);
        sp->has_parent = true;
        sp->ctx.flags = parent->flags;
        sp->ctx.wall_offset_us = parent->wall_offset_us;
    } else {
        trace_random_id(sp->ctx.trace_id, sizeof sp->ctx.trace_id);
        sp->ctx.flags = 1; /* sampled: every trace is recorded */
    }
    if (!sp->ctx.wall_offset_us)
        sp->ctx.wall_offset_us = pw_clock_wall_ms() * 1000 - pw_clock_us();
    trace_random_id(sp->ctx.span_id, sizeof sp->ctx.span_id);
    return sp;
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            return false;
    return true;
}

struct pw_trace_span *pw_trace_span_begin_remote(const char *traceparent,
                                                 const char *tracestate, const char *name,
                                                 enum pw_trace_kind kind, int64_t start_us)
{
    if (!pw_trace_on())
        return NULL;
    struct pw_trace_ctx remote;
    bool valid = traceparent &&
                 pw_trace_parse_traceparent(traceparent, strlen(traceparent), &remote);
    struct pw_trace_span *sp = pw_trace_span_begin(valid ? &remote : NULL, name, kind, start_us);
    if (sp && valid && tracestate && *tracestate &&
        strlen(tracestate) <= PW_TRACE_TRACESTATE_MAX && printable(tracestate))
        sp->tracestate = copy(tracestate, &sp->bytes);
    return sp;
}

const struct pw_trace_ctx *pw_trace_span_ctx(const struct pw_trace_span *sp)
{
    return sp ? &sp->ctx : NULL;
}

const char *pw_trace_span_tracestate(const struct pw_trace_span *sp)
{
    return sp ? sp->tracestate : NULL;
}

void pw_trace_span_name(struct pw_trace_span *sp, const char *name)
{
    if (!sp)
        return;
    size_t bytes = 0;
    char *n = copy(name, &bytes);
    if (!n)
        return;
    sp->bytes += bytes - (strlen(sp->name) + 1);
    free(sp->name);
    sp->name = n;
}

static struct trace_attr *attr(struct pw_trace_span *sp, const char *key)
{
    if (!sp || sp->nattrs == TRACE_MAX_ATTRS)
        return NULL;
    struct trace_attr *a = &sp->attrs[sp->nattrs];
    a->key = key;
    return a;
}

void pw_trace_span_str(struct pw_trace_span *sp, const char *key, const char *value)
{
    struct trace_attr *a = attr(sp, key);
    if (!a || !value || !(a->s = copy(value, &sp->bytes)))
        return;
    a->type = TRACE_ATTR_STR;
    sp->nattrs++;
}

void pw_trace_span_int(struct pw_trace_span *sp, const char *key, int64_t value)
{
    struct trace_attr *a = attr(sp, key);
    if (!a)
        return;
    a->type = TRACE_ATTR_INT;
    a->i = value;
    sp->nattrs++;
}

void pw_trace_span_error(struct pw_trace_span *sp, const char *type, const char *message)
{
    if (!sp)
        return;
    sp->failed = true;
    if (message && !sp->status_message)
        sp->status_message = copy(message, &sp->bytes);
    if (type)
        pw_trace_span_str(sp, "error.type", type);
}

void trace_span_free(struct pw_trace_span *sp)
{
    if (!sp)
        return;
    for (int i = 0; i < sp->nattrs; i++)
        if (sp->attrs[i].type == TRACE_ATTR_STR)
            free(sp->attrs[i].s);
    free(sp->name);
    free(sp->tracestate);
    free(sp->status_message);
    free(sp);
}

void pw_trace_span_end(struct pw_trace_span *sp, int64_t end_us)
{
    if (!sp)
        return;
    sp->end_us = end_us ? end_us : pw_clock_us();
    if (sp->end_us < sp->start_us)
        sp->end_us = sp->start_us;
    struct pw_trace *t = atomic_load(&tracer);
    if (!t) {
        trace_span_free(sp); /* tracing stopped while it ran */
        return;
    }
    trace_export_push(t, sp); /* invariant 2 */
}

const struct pw_trace_ctx *pw_trace_enter(const struct pw_trace_ctx *c)
{
    const struct pw_trace_ctx *prev = current;
    current = c;
    return prev;
}

void pw_trace_leave(const struct pw_trace_ctx *prev) { current = prev; }

const struct pw_trace_ctx *pw_trace_current(void) { return current; }
