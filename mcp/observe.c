/*
 * What the engine reports about itself: sessions made and freed, requests
 * and notifications received. Each event goes to the engine's two metric
 * families in the default registry and then to the server's observer, if
 * one is set (pw_mcp_server_set_observer):
 *
 *   pennyworth_mcp_sessions{transport}   gauge: +1 in pw_mcp_session_new,
 *                                        -1 in pw_mcp_session_free
 *   pennyworth_mcp_requests_total{method} counter: one per request or
 *                                        notification, served or refused
 *
 * The engine sees every session and every message whatever the transport,
 * so counting here needs no re-parsing and misses none. Labels stay
 * bounded: a transport name comes from our own code (pw_mcp_transport),
 * and a method is the engine's own name for it (the session-era and
 * modern method tables and the notification table) or "other", never a
 * string a client chose. Sessions without a transport name (the carriers
 * of single stateless 2026-07-28 requests) are not sessions to a client
 * and are not counted; their requests are.
 *
 * Every tools/call also gets a span when tracing is on (pennyworth/trace.h):
 * "tools/call NAME", a child of the thread's current span, which is the
 * HTTP request's for /mcp and the bridge's for its in-process session
 * (they make theirs current around the synchronous receive). It ends when
 * the answer goes out, failed for a JSON-RPC error or an isError result,
 * or at the call's last release if it never answered.
 *
 * Loop thread (every caller is, but the last release of a call, which a
 * worker may make); the metric and span updates are safe from any thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mcp/mcp-int.h"

#include <pthread.h>
#include <stdio.h>

#include "pennyworth/assert.h"
#include "pennyworth/metrics.h"
#include "pennyworth/trace.h"

static struct pw_metric *sessions, *requests;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Registered on first use: a registry holds one family per name, and a
 * second engine in the process (tests) shares them. */
static void families(void)
{
    struct pw_metrics *r = pw_metrics_default();
    sessions = pw_metrics_gauge(r, "pennyworth_mcp_sessions", "Open MCP sessions by transport.",
                                (const char *const[]){"transport", NULL});
    requests = pw_metrics_counter(r, "pennyworth_mcp_requests_total", "MCP requests by method.",
                                  (const char *const[]){"method", NULL});
}

/* The engine's static name for a method, or PW_METRICS_OTHER. */
static const char *known(const char *method)
{
    const struct mcp_method *row = mcp_find_method(method);
    if (!row)
        row = mcp_find_notification(method);
    if (row)
        return row->name;
    const char *modern = mcp_modern_method_name(method);
    return modern ? modern : PW_METRICS_OTHER;
}

void mcp_observe_session(struct pw_mcp_server *srv, const char *transport, int delta)
{
    if (!transport)
        return;
    pthread_once(&once, families);
    pw_metric_add(sessions, (const char *const[]){transport}, delta);
    if (srv->observer.session)
        srv->observer.session(srv->observer.ud, transport, delta);
}

void mcp_observe_request(struct pw_mcp_server *srv, const char *method)
{
    const char *name = known(method);
    pthread_once(&once, families);
    pw_metric_add(requests, (const char *const[]){name}, 1);
    if (srv->observer.request)
        srv->observer.request(srv->observer.ud, name);
}

void pw_mcp_server_set_observer(struct pw_mcp_server *srv, const struct pw_mcp_observer *obs)
{
    PW_ASSERT(mcp_on_loop(srv));
    srv->observer = obs ? *obs : (struct pw_mcp_observer){0};
}

void mcp_observe_tool_begin(struct pw_mcp_call *c, const char *name)
{
    if (!pw_trace_on())
        return;
    char span[160];
    snprintf(span, sizeof span, "tools/call %.120s", name);
    c->span = pw_trace_span_begin(pw_trace_current(), span, PW_TRACE_INTERNAL, 0);
    pw_trace_span_str(c->span, "mcp.method.name", "tools/call");
    pw_trace_span_str(c->span, "gen_ai.operation.name", "execute_tool");
    pw_trace_span_str(c->span, "gen_ai.tool.name", name);
    if (c->session && c->session->t.name)
        pw_trace_span_str(c->span, "pennyworth.mcp.transport", c->session->t.name);
}

void mcp_observe_tool_end(struct pw_mcp_call *c, const json_t *msg, bool is_error)
{
    if (!c->span)
        return;
    if (is_error) {
        char code[24];
        snprintf(code, sizeof code, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(msg, "code")));
        pw_trace_span_error(c->span, code,
                            json_string_value(json_object_get(msg, "message")));
    } else if (msg && json_is_true(json_object_get(msg, "isError"))) {
        pw_trace_span_error(c->span, "tool_error", NULL);
    } else if (!msg) {
        pw_trace_span_error(c->span, "cancelled", "the call ended without an answer");
    }
    pw_trace_span_end(c->span, 0);
    c->span = NULL;
}
