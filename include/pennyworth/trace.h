/*
 * OpenTelemetry traces, exported over OTLP/HTTP with the JSON encoding.
 *
 * Off unless an endpoint is configured through the standard variables
 * (pw_trace_new_from_env); while off, pw_trace_on() is false, every
 * pw_trace_span_begin* returns NULL and every other span call accepts NULL
 * and does nothing, so a request allocates nothing and callers need not
 * branch.
 *
 * A span is recorded by the thread that owns the work it measures (ids from
 * a CSPRNG, attributes copied in) and handed to the exporter at its end:
 * pw_trace_span_end pushes it on a bounded queue under a mutex that is
 * never held across I/O, and the exporter thread encodes batches and POSTs
 * them. A full queue, or a collector that is slow or down, drops spans
 * (counted) instead of making a request wait.
 *
 * Times: callers pass monotonic microseconds (pw_clock_us), the clock their
 * marks already use; a trace takes one wall-minus-monotonic offset when its
 * first span in this process begins, and every span derived from it
 * converts with that same offset, so the spans of one request stay
 * consistent with each other even if the wall clock steps meanwhile.
 *
 * The process has one tracer, like the default metrics registry: traces
 * cut across every module (server, bridge, MCP engine), and threading a
 * pointer through each module's options would couple all of them to it.
 *
 * Threads: any, unless a function says otherwise; a span belongs to one
 * thread at a time (the one recording it).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_TRACE_H
#define PENNYWORTH_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pennyworth/error.h"

struct pw_trace;      /* the exporter: configuration, queue, thread */
struct pw_trace_span; /* one span being recorded */

/* OTLP's SpanKind numbers, as they are encoded. */
enum pw_trace_kind {
    PW_TRACE_INTERNAL = 1,
    PW_TRACE_SERVER = 2,
    PW_TRACE_CLIENT = 3,
};

/* What a child needs of its parent: the W3C ids and flags, and the trace's
 * clock offset (wall minus monotonic, us; see the top). */
struct pw_trace_ctx {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t flags;           /* W3C trace-flags; bit 0: sampled */
    int64_t wall_offset_us;
};

/* "00-" 32 hex "-" 16 hex "-" 2 hex */
#define PW_TRACE_TRACEPARENT_LEN 55
#define PW_TRACE_TRACESTATE_MAX 512

/*
 * Parses a W3C traceparent header value (peer input) into out's ids and
 * flags (wall_offset_us is left 0). Version 00 must be exactly 55
 * characters; a later version may carry more after a '-' (ignored);
 * version ff, upper-case hex, all-zero ids and any other shape are
 * refused (false; `out` is then unspecified). Surrounding spaces and tabs
 * are allowed.
 */
bool pw_trace_parse_traceparent(const char *s, size_t len, struct pw_trace_ctx *out);

/* Writes the version-00 traceparent of `c` (PW_TRACE_TRACEPARENT_LEN
 * characters and a NUL). */
void pw_trace_format_traceparent(const struct pw_trace_ctx *c,
                                 char out[PW_TRACE_TRACEPARENT_LEN + 1]);

/* The exporter ------------------------------------------------------------------ */

/*
 * Reads the OTel variables and, when an endpoint is set and tracing is not
 * disabled, starts the exporter thread and makes it the process's tracer:
 *
 *   OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none  off
 *   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT                 the URL, as is
 *   OTEL_EXPORTER_OTLP_ENDPOINT                        {it}/v1/traces
 *   OTEL_EXPORTER_OTLP_[TRACES_]HEADERS                "k=v,k2=v2" (URL-decoded)
 *   OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT                one export, ms (10000)
 *   OTEL_SERVICE_NAME                                  default "pennyworth"
 *   OTEL_BSP_SCHEDULE_DELAY                            batch every N ms (1000)
 *   OTEL_BSP_MAX_EXPORT_BATCH_SIZE                     or M spans (512)
 *   OTEL_BSP_MAX_QUEUE_SIZE                            queued spans (2048)
 *
 * *out is new (pw_trace_free), or NULL with PW_OK when tracing is off.
 * PW_ERR_INVALID for a malformed value (an unsupported OTLP protocol, a
 * header list that does not parse). Call once, before any request.
 */
enum pw_err pw_trace_new_from_env(struct pw_trace **out, struct pw_error *err);

/* Stops taking spans, exports what is queued within about 2 s (the rest is
 * dropped and counted), joins the thread and frees. NULL is fine. After
 * the last request has ended. */
void pw_trace_free(struct pw_trace *t);

/* Whether the process has a tracer (a relaxed load: cheap on every path). */
bool pw_trace_on(void);

/* Spans ---------------------------------------------------------------------- */

/*
 * Begins a span at `start_us` (monotonic, pw_clock_us; 0 = now) named
 * `name` (copied). A child of `parent` (copied), or the root of a new trace
 * when `parent` is NULL. New, or NULL when tracing is off or memory ran
 * out; pw_trace_span_end hands it over.
 */
struct pw_trace_span *pw_trace_span_begin(const struct pw_trace_ctx *parent, const char *name,
                                          enum pw_trace_kind kind, int64_t start_us);

/*
 * As pw_trace_span_begin, for a span whose parent came from a client:
 * `traceparent` (a header value, or NULL) makes it the remote span's child
 * in the client's trace when valid, and is ignored otherwise (a new trace);
 * `tracestate` is kept (and encoded) only with a valid traceparent, and
 * only when it is printable ASCII within PW_TRACE_TRACESTATE_MAX.
 */
struct pw_trace_span *pw_trace_span_begin_remote(const char *traceparent,
                                                 const char *tracestate, const char *name,
                                                 enum pw_trace_kind kind, int64_t start_us);

/* The span's own context, for its children and for traceparent headers
 * (borrowed; NULL for a NULL span). */
const struct pw_trace_ctx *pw_trace_span_ctx(const struct pw_trace_span *sp);

/* The client's tracestate the span carries (borrowed), or NULL. */
const char *pw_trace_span_tracestate(const struct pw_trace_span *sp);

/* Renames the span (copied). */
void pw_trace_span_name(struct pw_trace_span *sp, const char *name);

/* Attributes: `key` must be a static string; a string value is copied.
 * Past a fixed number of attributes per span the rest are dropped. */
void pw_trace_span_str(struct pw_trace_span *sp, const char *key, const char *value);
void pw_trace_span_int(struct pw_trace_span *sp, const char *key, int64_t value);

/* Marks the span failed: status ERROR with `message` (copied; may be
 * NULL) and the attribute error.type = `type` (static or copied; may be
 * NULL). */
void pw_trace_span_error(struct pw_trace_span *sp, const char *type, const char *message);

/* Ends the span at `end_us` (monotonic; 0 = now) and hands it to the
 * exporter: queued, or dropped and counted when the queue is full or
 * tracing has stopped. Steals `sp`. */
void pw_trace_span_end(struct pw_trace_span *sp, int64_t end_us);

/* The current span of this thread ---------------------------------------------- */

/*
 * Code that calls another module synchronously (the server calling a
 * route's handler, the bridge calling its in-process MCP session) makes
 * its span current for the call, so that spans begun inside (an MCP
 * tools/call) become its children without the modules in between knowing.
 * pw_trace_enter returns the previous current context, for pw_trace_leave.
 * `c` (may be NULL) must stay valid until the matching leave.
 */
const struct pw_trace_ctx *pw_trace_enter(const struct pw_trace_ctx *c);
void pw_trace_leave(const struct pw_trace_ctx *prev);
const struct pw_trace_ctx *pw_trace_current(void);

#endif
