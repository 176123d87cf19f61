/*
 * An exchange's spans (pennyworth/trace.h), children of its request's
 * SERVER span (server/trace.c):
 *
 *   catalog context   INTERNAL, auto mode: the search and the injection;
 *                     tools mode: one per round of catalog tool calls.
 *                     pennyworth.context.mode, pennyworth.context.products
 *                     (how many the model was shown so far) and
 *                     pennyworth.context.product_ids (their ids, joined).
 *                     The MCP tools/call spans are its children: it is
 *                     the current span while the bridge calls its
 *                     in-process session.
 *   chat MODEL        CLIENT, one per upstream attempt, with the GenAI
 *                     semantic conventions: gen_ai.system (the provider
 *                     row's), gen_ai.operation.name "chat",
 *                     gen_ai.request.model, gen_ai.usage.input_tokens and
 *                     output_tokens (what this attempt reported),
 *                     server.address, http.response.status_code, the
 *                     deployment, the retry number on it, and error.type
 *                     when it failed. Its context goes upstream as the
 *                     attempt's traceparent (the client's tracestate with
 *                     it).
 *
 * The exchange copies its parent's context when it starts, since it may
 * outlive the request's context (the client leaving mid-stream).
 *
 * Invariants:
 *   1. At most one attempt span and one context span are open per
 *      exchange, and bridge_trace_finish ends what is open.
 *
 * Service thread only; while tracing is off the exchange holds no span
 * and nothing here allocates.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/exchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/assert.h"
#include "pennyworth/json.h"
#include "pennyworth/trace.h"

void bridge_trace_start(struct bridge_exchange *x)
{
    struct pw_trace_span *parent = x->sctx ? x->sctx->span : NULL;
    if (!parent)
        return;
    x->trace = *pw_trace_span_ctx(parent);
    x->traced = true;
    const char *ts = pw_trace_span_tracestate(parent);
    x->tracestate = ts ? strdup(ts) : NULL;
}

static const struct pw_trace_ctx *parent_of(const struct bridge_exchange *x)
{
    return x->traced ? &x->trace : NULL;
}

/* Catalog context -------------------------------------------------------------------------- */

const struct pw_trace_ctx *bridge_trace_context_begin(struct bridge_exchange *x)
{
    if (!x->traced)
        return NULL;
    PW_ASSERT(!x->ctx_span); /* invariant 1 */
    x->ctx_span = pw_trace_span_begin(parent_of(x), "catalog context", PW_TRACE_INTERNAL, 0);
    pw_trace_span_str(x->ctx_span, "pennyworth.context.mode",
                      x->mode == BRIDGE_CTX_TOOLS ? "tools" : "auto");
    return pw_trace_span_ctx(x->ctx_span);
}

void bridge_trace_context_end(struct bridge_exchange *x, const char *error)
{
    if (!x->ctx_span)
        return;
    pw_trace_span_int(x->ctx_span, "pennyworth.context.products",
                      (int64_t)json_array_size(x->products));
    char *ids = NULL;
    size_t len = 0;
    FILE *f = json_array_size(x->products) ? open_memstream(&ids, &len) : NULL;
    size_t i;
    json_t *v;
    json_array_foreach(x->products, i, v)
        if (f)
            fprintf(f, "%s%s", i ? "," : "", json_string_value(v));
    if (f && fclose(f) == 0)
        pw_trace_span_str(x->ctx_span, "pennyworth.context.product_ids", ids);
    free(ids);
    if (error)
        pw_trace_span_error(x->ctx_span, "context_failed", error);
    pw_trace_span_end(x->ctx_span, 0);
    x->ctx_span = NULL;
}

/* Upstream attempts ------------------------------------------------------------------------- */

/* The host of an http(s) URL into out ("" when there is none). */
static void host_of(const char *url, char *out, size_t size)
{
    const char *p = url ? strstr(url, "://") : NULL;
    out[0] = '\0';
    if (!p)
        return;
    p += 3;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    size_t host = *p == '[' ? strcspn(p, "]") + 1 : strcspn(p, ":/?#");
    if (host > n)
        host = n;
    snprintf(out, size, "%.*s", (int)host, p);
}

/* Appends "name: value" to a NULL-terminated list the provider made
 * (bridge_http_clear frees it); false when out of memory. */
static bool add_header(struct bridge_http *h, const char *name, const char *value)
{
    size_t n = 0;
    while (h->headers && h->headers[n])
        n++;
    char **list = realloc(h->headers, (n + 2) * sizeof *list);
    if (!list)
        return false;
    h->headers = list;
    size_t len = strlen(name) + strlen(value) + 3;
    if (!(list[n] = malloc(len)))
        return false;
    snprintf(list[n], len, "%s: %s", name, value);
    list[n + 1] = NULL;
    return true;
}

void bridge_trace_attempt_begin(struct bridge_exchange *x, const struct bridge_deploy *d,
                                struct bridge_http *h)
{
    if (!x->traced)
        return;
    PW_ASSERT(!x->att_span); /* invariant 1 */
    char name[160];
    snprintf(name, sizeof name, "chat %.140s", d->t->model);
    struct pw_trace_span *sp = pw_trace_span_begin(parent_of(x), name, PW_TRACE_CLIENT, 0);
    if (!sp)
        return;
    x->att_span = sp;
    x->att_in0 = x->usage_in;
    x->att_out0 = x->usage_out;
    pw_trace_span_str(sp, "gen_ai.system", d->t->provider->genai_system);
    pw_trace_span_str(sp, "gen_ai.operation.name", "chat");
    pw_trace_span_str(sp, "gen_ai.request.model", d->t->model);
    char host[256];
    host_of(h->url, host, sizeof host);
    if (host[0])
        pw_trace_span_str(sp, "server.address", host);
    pw_trace_span_str(sp, "pennyworth.deployment", d->label);
    pw_trace_span_int(sp, "pennyworth.retry", x->tries);
    pw_trace_span_int(sp, "pennyworth.round", x->rounds);
    char tp[PW_TRACE_TRACEPARENT_LEN + 1];
    pw_trace_format_traceparent(pw_trace_span_ctx(sp), tp);
    if (add_header(h, "traceparent", tp) && x->tracestate)
        add_header(h, "tracestate", x->tracestate);
}

void bridge_trace_attempt_end(struct bridge_exchange *x, const struct pw_error *err)
{
    struct pw_trace_span *sp = x->att_span;
    if (!sp)
        return;
    x->att_span = NULL;
    if (x->status)
        pw_trace_span_int(sp, "http.response.status_code", x->status);
    if (x->usage_in > x->att_in0 || x->usage_out > x->att_out0) {
        pw_trace_span_int(sp, "gen_ai.usage.input_tokens", x->usage_in - x->att_in0);
        pw_trace_span_int(sp, "gen_ai.usage.output_tokens", x->usage_out - x->att_out0);
    }
    if (err) {
        char status[16];
        if (x->status >= 400)
            snprintf(status, sizeof status, "%d", x->status);
        pw_trace_span_error(sp, x->status >= 400 ? status : pw_err_name(err->code),
                            err->message);
    }
    pw_trace_span_end(sp, 0);
}

void bridge_trace_finish(struct bridge_exchange *x)
{
    static const struct pw_error gone = {.code = PW_ERR_CANCELLED, .message = "cancelled"};
    bridge_trace_attempt_end(x, &gone);
    bridge_trace_context_end(x, "cancelled");
    free(x->tracestate);
    x->tracestate = NULL;
}
