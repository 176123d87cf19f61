/*
 * A batch of spans as the body of an OTLP/HTTP export request, in OTLP's
 * JSON encoding (the protobuf JSON mapping with OTLP's exceptions):
 *
 *   {"resourceSpans": [{
 *      "resource": {"attributes": [service.name, telemetry.sdk.*]},
 *      "scopeSpans": [{"scope": {"name": "pennyworth", "version"},
 *                      "spans": [{traceId, spanId, parentSpanId?, traceState?,
 *                                 name, kind, startTimeUnixNano,
 *                                 endTimeUnixNano, attributes, status}]}]}]}
 *
 * Ids are lower-case hex (not base64, OTLP's exception); kind and status
 * code are integers; 64-bit integers (times, intValue) are decimal strings,
 * as the protobuf JSON mapping writes them. Wall-clock nanoseconds come
 * from the monotonic marks plus the trace's offset (trace.h).
 *
 * Exporter thread (or tests); no state.
 *
 * SPDX-License-Identifier: MIT
 */
#include "trace/trace-int.h"

#include <inttypes.h>
#include <stdio.h>

enum { STATUS_UNSET = 0, STATUS_ERROR = 2 };

static json_t *str_attr(const char *key, const char *value)
{
    return json_pack("{s:s, s:{s:s}}", "key", key, "value", "stringValue", value);
}

static json_t *int_attr(const char *key, int64_t value)
{
    char n[24];
    snprintf(n, sizeof n, "%" PRId64, value);
    return json_pack("{s:s, s:{s:s}}", "key", key, "value", "intValue", n);
}

static json_t *nanos(int64_t mono_us, int64_t offset_us)
{
    char n[32];
    snprintf(n, sizeof n, "%" PRId64 "000", mono_us + offset_us);
    return json_string(n);
}

static json_t *span_json(const struct pw_trace_span *sp)
{
    char tid[33], sid[17], pid[17];
    trace_hex(tid, sp->ctx.trace_id, 16);
    trace_hex(sid, sp->ctx.span_id, 8);
    json_t *attrs = json_array();
    for (int i = 0; i < sp->nattrs; i++) {
        const struct trace_attr *a = &sp->attrs[i];
        json_array_append_new(attrs, a->type == TRACE_ATTR_STR ? str_attr(a->key, a->s)
                                                               : int_attr(a->key, a->i));
    }
    json_t *status = json_object();
    if (sp->failed) {
        json_object_set_new(status, "code", json_integer(STATUS_ERROR));
        if (sp->status_message)
            json_object_set_new(status, "message", json_string(sp->status_message));
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:o}", "traceId", tid, "spanId",
                          sid, "name", sp->name, "kind", (int)sp->kind, "startTimeUnixNano",
                          nanos(sp->start_us, sp->ctx.wall_offset_us), "endTimeUnixNano",
                          nanos(sp->end_us, sp->ctx.wall_offset_us), "attributes", attrs,
                          "status", status);
    if (o && sp->has_parent) {
        trace_hex(pid, sp->parent_id, 8);
        json_object_set_new(o, "parentSpanId", json_string(pid));
    }
    if (o && sp->tracestate)
        json_object_set_new(o, "traceState", json_string(sp->tracestate));
    return o;
}

json_t *trace_otlp_encode(const struct pw_trace_span *head, size_t n, const char *service)
{
    json_t *spans = json_array();
    for (const struct pw_trace_span *sp = head; sp && n; sp = sp->next, n--)
        json_array_append_new(spans, span_json(sp));
    json_t *resource = json_pack("{s:[o, o, o, o]}", "attributes",
                                 str_attr("service.name", service),
                                 str_attr("service.version", PW_VERSION),
                                 str_attr("telemetry.sdk.name", "pennyworth"),
                                 str_attr("telemetry.sdk.language", "c"));
    return json_pack("{s:[{s:o, s:[{s:{s:s, s:s}, s:o}]}]}", "resourceSpans", "resource",
                     resource, "scopeSpans", "scope", "name", "pennyworth", "version",
                     PW_VERSION, "spans", spans);
}
