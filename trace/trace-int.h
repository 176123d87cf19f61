/*
 * The trace module's own declarations, shared by its files:
 *
 *   context.c   W3C traceparent parsing and formatting, ids from the CSPRNG
 *   span.c      recording a span, the process's tracer, the current span
 *   otlp.c      a batch of spans as an OTLP/JSON ExportTraceServiceRequest
 *   config.c    the OTel environment variables as exporter options
 *   export.c    the bounded queue and the exporter thread (libcurl)
 *
 * A recorded span is a flat struct of fixed fields and copied strings, so
 * that recording costs a few small allocations and all JSON work happens
 * on the exporter thread.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PW_TRACE_TRACE_INT_H
#define PW_TRACE_TRACE_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pennyworth/trace.h"

#define TRACE_MAX_ATTRS 24

enum trace_attr_type { TRACE_ATTR_STR, TRACE_ATTR_INT };

struct trace_attr {
    const char *key;              /* static */
    enum trace_attr_type type;
    int64_t i;
    char *s;                      /* owned (TRACE_ATTR_STR) */
};

struct pw_trace_span {
    struct pw_trace_span *next;   /* the export queue's link {trace.mu} */
    struct pw_trace_ctx ctx;      /* trace id, own span id, flags, offset */
    uint8_t parent_id[8];
    bool has_parent;
    char *name;                   /* owned */
    char *tracestate;             /* owned, or NULL */
    enum pw_trace_kind kind;
    int64_t start_us, end_us;     /* monotonic */
    bool failed;
    char *status_message;         /* owned, or NULL */
    struct trace_attr attrs[TRACE_MAX_ATTRS];
    int nattrs;
    size_t bytes;                 /* what it holds, for the queue's byte bound */
};

/* Exporter options (config.c fills them; strings owned by the struct). */
struct trace_options {
    char *url;                    /* the POST target */
    char **headers;               /* "Name: value" lines, NULL terminated */
    char *service_name;
    long timeout_ms;              /* one export */
    long delay_ms;                /* a batch at least this often */
    size_t batch_spans;           /* or as soon as this many are queued */
    size_t max_spans;             /* the queue's bounds */
    size_t max_bytes;
    long flush_ms;                /* what the end may spend exporting */
};

/* config.c: the options from `getenv_fn`; *enabled false (and nothing
 * allocated) when tracing is off. */
enum pw_err trace_options_env(const char *(*getenv_fn)(const char *), struct trace_options *o,
                              bool *enabled, struct pw_error *err);
void trace_options_clear(struct trace_options *o);

/* context.c: n random bytes from the CSPRNG, never all zero. */
void trace_random_id(uint8_t *out, size_t n);
void trace_hex(char *out, const uint8_t *in, size_t n);

/* span.c */
void trace_span_free(struct pw_trace_span *sp);
/* Installs / removes the process's tracer. */
void trace_install(struct pw_trace *t);

/* export.c: queues (or drops) an ended span; steals it. */
void trace_export_push(struct pw_trace *t, struct pw_trace_span *sp);

/* otlp.c: the request body for `n` spans of the list `head` (new). */
json_t *trace_otlp_encode(const struct pw_trace_span *head, size_t n, const char *service);

#endif
