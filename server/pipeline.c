/*
 * The request pipeline (pennyworth/server.h lists the stages): the steps
 * every HTTP request goes through around its route's handler, in one order
 * for every route, so that Origin checks, CORS, admission, request ids,
 * metrics and the access log live here once instead of in each module.
 *
 *   head (headers in, route known)   Origin (403), CORS: headers for an
 *                                    allowed Origin, preflights answered
 *   run  (body in)                   admission, then the handler on the
 *                                    service thread or a worker
 *   done (answered or abandoned)     admission's `done`, the request's
 *                                    span, the HTTP metrics, the access
 *                                    log line
 *
 * One CORS policy: a route flagged PW_SERVER_ROUTE_CORS answers every
 * OPTIONS request as a preflight (no credentials, no handler); an Origin
 * the server allows (pw_server_origin_allowed: loopback pages and the
 * --allow-origin entries) gets Access-Control-Allow-Origin on every answer
 * and the preflight's grants; any other Origin gets no CORS headers, so the
 * browser keeps the answer from the page.
 *
 * Invariants:
 *   1. `done` runs exactly once per request, from server_req_free; the
 *      admission filter's `done` only for requests that went through its
 *      `admit` (r->gated), whatever the outcome.
 *   2. A refusing `admit` has answered: the request has left R_HANDLER.
 *
 * Service thread only.
 *
 * SPDX-License-Identifier: MIT
 */
#include "server/server-int.h"

#include <stdio.h>
#include <string.h>

#include "pennyworth/assert.h"
#include "pennyworth/log.h"
#include "pennyworth/trace.h"

/* Headers a browser page may read from our answers (every CORS route). */
static const char expose[] =
    "x-request-id, x-pennyworth-context-products, x-cache, retry-after, retry-after-ms, "
    "x-should-retry, x-ratelimit-limit-requests, x-ratelimit-remaining-requests, "
    "x-ratelimit-reset-requests, x-ratelimit-limit-tokens, x-ratelimit-remaining-tokens, "
    "x-ratelimit-reset-tokens, mcp-session-id, mcp-protocol-version";

/* Request headers a preflight grants when it does not list its own. */
static const char allow_default[] =
    "authorization, content-type, accept, x-api-key, x-request-id, mcp-session-id, "
    "mcp-protocol-version, last-event-id, mcp-method, mcp-name";

#define MAX_AGE_S "600"

/* Whether a preflight's Access-Control-Request-Headers is a plain list of
 * header names, safe to grant back as it is. */
static bool header_list(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == ',' || *s == ' '))
            return false;
    return true;
}

static void preflight(struct pw_server_req *r, bool granted)
{
    char asked[512];
    int n = pw_server_req_header(r, "access-control-request-headers", asked, sizeof asked);
    const char *allow = n > 0 && header_list(asked) ? asked : allow_default;
    const char *h[] = {"access-control-allow-methods", r->route->methods,
                       "access-control-allow-headers", allow,
                       "access-control-max-age", MAX_AGE_S, NULL};
    r->state = R_HANDLER;
    pw_server_req_respond(r, 204, NULL, granted ? h : NULL, NULL, 0);
}

int server_pipeline_head(struct pw_server_req *r)
{
    struct pw_server *srv = r->srv;
    unsigned flags = r->route->flags;
    if (!(flags & (PW_SERVER_ROUTE_ORIGIN | PW_SERVER_ROUTE_CORS)))
        return 0;
    char origin[512];
    int n = pw_server_req_header(r, "origin", origin, sizeof origin);
    bool allowed = n > 0 && server_origin_allowed(origin, srv->origins, srv->norigins);
    if ((flags & PW_SERVER_ROUTE_ORIGIN) && (n == -2 || (n > 0 && !allowed))) {
        static struct server_warn_rate rate; /* any page can send these at will */
        if (server_warn_due(&rate))
            pw_info("server: refused Origin '%.64s' on %.128s (%zu more refused since the "
                    "last one logged)", n >= 0 ? origin : "(too long)", r->path,
                    server_warn_quiet(&rate));
        r->state = R_HANDLER;
        pw_server_req_error(r, 403, "Forbidden: Origin not allowed");
        return 1;
    }
    if (!(flags & PW_SERVER_ROUTE_CORS))
        return 0;
    if (allowed) {
        const char *h[] = {"access-control-allow-origin", origin, "vary", "origin",
                           "access-control-expose-headers", expose, NULL};
        pw_server_req_add_headers(r, h);
    }
    if (strcmp(r->method, "OPTIONS") != 0)
        return 0;
    preflight(r, allowed);
    return 1;
}

void server_pipeline_run(struct pw_server_req *r)
{
    struct pw_server *srv = r->srv;
    const struct server_route *rt = r->route;
    if (rt->admit && srv->admission.admit) {
        r->gated = true;
        if (!srv->admission.admit(r, rt->admit, &r->ctx, srv->admission.ud)) {
            PW_ASSERT(r->state != R_HANDLER); /* invariant 2 */
            return;
        }
    }
    r->ctx.admitted = true;
    r->ctx.at_us[PW_SERVER_MARK_ADMITTED] = pw_clock_us();
    if (!rt->h->on_work) {
        /* The span is current for the handler (an MCP tools/call inside is
         * its child); a copy, since the handler may end the request. */
        struct pw_trace_ctx here = {0};
        if (r->ctx.span)
            here = *pw_trace_span_ctx(r->ctx.span);
        const struct pw_trace_ctx *prev = pw_trace_enter(r->ctx.span ? &here : NULL);
        rt->h->on_request(r, rt->ud);
        pw_trace_leave(prev);
        return;
    }
    if (!server_work_submit(r))
        pw_server_req_error(r, 503, "Service Unavailable: too much work queued; retry");
}

void server_pipeline_done(struct pw_server_req *r)
{
    struct pw_server *srv = r->srv;
    struct pw_server_ctx *c = &r->ctx;
    c->at_us[PW_SERVER_MARK_END] = pw_clock_us();
    if (!c->status)
        c->status = 499; /* the client left before any answer */
    if (r->gated && srv->admission.done)
        srv->admission.done(c, srv->admission.ud);
    server_trace_end(r);
    r->gated = false;
    server_observe(c);
    if (srv->access_log)
        server_log_request(c, r->peer);
}

void pw_server_set_admission(struct pw_server *srv, const struct pw_server_admission *a)
{
    PW_ASSERT(!srv->listening);
    srv->admission = *a;
}
