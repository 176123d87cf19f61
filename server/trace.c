/*
 * The request's spans (pennyworth/trace.h), made from what the pipeline
 * already records: one SERVER span per HTTP request from its RECEIVED mark
 * to its END mark, and for a route with admission an INTERNAL child from
 * RECEIVED to ADMITTED (or to the refusal's answer) with the outcome.
 *
 * The SERVER span begins as soon as the headers are in, so that the
 * handler's own spans (the bridge's catalog context and upstream
 * attempts, MCP tool calls) can name it as their parent; a valid client
 * traceparent makes it the client's span's child (tracestate kept), an
 * invalid one is ignored. Everything else is filled in at the end from
 * the context, so nothing is traced twice and the attributes are the
 * final ones:
 *
 *   http.request.method, http.route (matched routes), url.path,
 *   client.address, http.response.status_code, pennyworth.request_id;
 *   status ERROR for a 5xx (error.type: the status)
 *
 * Service thread only; while tracing is off nothing here allocates.
 *
 * SPDX-License-Identifier: MIT
 */
#include "server/server-int.h"

#include <stdio.h>
#include <string.h>

#include "pennyworth/trace.h"

void server_trace_begin(struct pw_server_req *r)
{
    if (!pw_trace_on())
        return;
    char tp[128], ts[PW_TRACE_TRACESTATE_MAX + 1];
    bool has_tp = pw_server_req_header(r, "traceparent", tp, sizeof tp) > 0;
    bool has_ts = has_tp && pw_server_req_header(r, "tracestate", ts, sizeof ts) > 0;
    r->ctx.span = pw_trace_span_begin_remote(has_tp ? tp : NULL, has_ts ? ts : NULL, r->method,
                                             PW_TRACE_SERVER,
                                             r->ctx.at_us[PW_SERVER_MARK_RECEIVED]);
}

static void admission(struct pw_server_req *r)
{
    struct pw_server_ctx *c = &r->ctx;
    struct pw_trace_span *sp = pw_trace_span_begin(pw_trace_span_ctx(c->span), "admission",
                                                   PW_TRACE_INTERNAL,
                                                   c->at_us[PW_SERVER_MARK_RECEIVED]);
    pw_trace_span_str(sp, "pennyworth.admission.outcome", c->admitted ? "admitted" : "refused");
    if (c->principal[0])
        pw_trace_span_str(sp, "pennyworth.principal", c->principal);
    int64_t end = c->at_us[PW_SERVER_MARK_ADMITTED];
    if (!c->admitted) {
        char status[16];
        snprintf(status, sizeof status, "%d", c->status);
        pw_trace_span_int(sp, "http.response.status_code", c->status);
        pw_trace_span_error(sp, status, "refused");
        end = c->at_us[PW_SERVER_MARK_FIRST_BYTE] ? c->at_us[PW_SERVER_MARK_FIRST_BYTE]
                                                  : c->at_us[PW_SERVER_MARK_END];
    }
    pw_trace_span_end(sp, end);
}

void server_trace_end(struct pw_server_req *r)
{
    struct pw_server_ctx *c = &r->ctx;
    if (!c->span)
        return;
    if (r->route) {
        char name[160];
        snprintf(name, sizeof name, "%s %s", r->method, r->route->path);
        pw_trace_span_name(c->span, name);
        pw_trace_span_str(c->span, "http.route", r->route->path);
    } else {
        pw_trace_span_name(c->span, r->method); /* OTel's name for no route */
    }
    pw_trace_span_str(c->span, "http.request.method", r->method);
    pw_trace_span_str(c->span, "url.path", r->path);
    /* A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d. */
    const char *peer = r->peer;
    if (strncmp(peer, "::ffff:", 7) == 0 && strchr(peer + 7, '.'))
        peer += 7;
    if (peer[0])
        pw_trace_span_str(c->span, "client.address", peer);
    pw_trace_span_int(c->span, "http.response.status_code", c->status);
    pw_trace_span_str(c->span, "pennyworth.request_id", c->request_id);
    if (c->status >= 500) {
        char status[16];
        snprintf(status, sizeof status, "%d", c->status);
        pw_trace_span_error(c->span, status, NULL);
    }
    if (r->gated)
        admission(r);
    pw_trace_span_end(c->span, c->at_us[PW_SERVER_MARK_END]);
    c->span = NULL;
}
