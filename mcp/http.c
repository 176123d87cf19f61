/*
 * MCP over Streamable HTTP (revisions 2025-03-26, 2025-06-18, 2025-11-25):
 * the /mcp route, request side. Client messages arrive in POST bodies; the
 * server answers a POST with one JSON body or an SSE stream, talks on its
 * own in a GET SSE stream, and forgets a session on DELETE or when it has
 * been idle too long. This file checks and dispatches requests; sessions,
 * streams and the routing of what the engine sends are in http_session.c,
 * the replay ring in sse.c, the shared types in http-int.h.
 *
 * Objects:
 *   mcp_hsess    one MCP session: random id, the engine session, its
 *                streams and the POSTs waiting for answers (a hash table).
 *   mcp_hpost    one POST that carried requests: the ids still unanswered
 *                and, until it switches to SSE, the answers collected.
 *   mcp_hstream  one SSE stream: stream 0 is the session's own (GET) stream,
 *                1.. are POST streams; a replay ring and, while a client is
 *                connected, the HTTP exchange it writes into.
 *
 * Checks, in order, each answered with a JSON-RPC error ("id": null):
 * the server pipeline's Origin (403), CORS (preflights answered there) and
 * admission (401/403/429, the route's admit_class), then
 * MCP-Protocol-Version (400),
 * then per method: POST Accept (406), Content-Type (415), JSON (400,
 * -32700), JSON-RPC shape (400, -32600), Mcp-Session-Id (400 missing, 404
 * unknown) unless the body is a lone initialize; GET Accept (406),
 * session, Last-Event-ID (400 if not one of ours); DELETE session; other
 * methods 405. Body size (413) and Content-Length (411) are the server's.
 *
 * JSON or SSE for a POST: SSE from the start when the client accepts only
 * SSE or a request carries a progressToken; otherwise the POST waits
 * undecided and answers with JSON if the answers come first, or switches to
 * SSE at the first message that is not an answer, or, when SEP-1699
 * polling is on, once it has waited the polling interval, so that its
 * connection can be closed and resumed like any other (http_session.c).
 *
 * The session state machine:
 *
 *   (none) --POST initialize, no Mcp-Session-Id (mcp_hsess_new)--> INIT
 *   INIT   --initialize result sent with Mcp-Session-Id (post_deliver)--> READY
 *   INIT   --initialize failed (post_deliver marks doomed; ended by do_post
 *            after the engine returns, or by the sweep)--> (freed)
 *   READY  --POST/GET/DELETE naming it: touch (last_active_ms)--> READY
 *   READY  --DELETE (do_delete) | idle > idle_timeout (mcp_hsess_sweep) |
 *            server stop (pw_mcp_http_free): mcp_hsess_end--> (freed)
 *   After mcp_hsess_end the id is unknown: every request naming it gets 404.
 *
 * Invariants:
 *   1. mcp_hsess_end is never called from inside the engine's send (the
 *      engine is on the stack there); failed initializations are marked
 *      `doomed` and ended after the engine returns, or by the sweep.
 *   2. A pw_server_req is referenced by exactly one of: an mcp_hpost
 *      (undecided), an mcp_hstream (SSE), and its data pointer names which.
 *   3. An mcp_hpost with an SSE stream never holds a request itself.
 *   4. Every error body is a JSON-RPC error object with "id": null.
 *
 * Service thread only (the engine's loop thread).
 *
 * SPDX-License-Identifier: MIT
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pennyworth/json.h"
#include "mcp/http-int.h"
#include "pennyworth/clock.h"
#include "pennyworth/log.h"

#define SWEEP_MS 250

/* Responses ------------------------------------------------------------------------ */

void mcp_http_error(struct pw_server_req *r, int status, int code,
                       const char *message)
{
    json_t *o = json_pack("{s:s, s:n, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", "error", "code",
                          code, "message", message);
    char *body = o ? json_dumps(o, PW_JSON_WIRE) : NULL;
    json_decref(o);
    const char *h[16];
    size_t n = 0;
    if (status == 405) {
        h[n++] = "allow";
        h[n++] = "GET, POST, DELETE, OPTIONS";
    }
    h[n] = NULL;
    pw_server_req_respond(r, status, "application/json", h, body ? body : "",
                          body ? strlen(body) : 0);
    free(body);
}

/* The route's error function: the server's own 4xx/5xx in our shape. */
static void route_error(struct pw_server_req *r, int status, const char *message, void *ud)
{
    (void)ud;
    mcp_http_error(r, status, MCP_HTTP_E_TRANSPORT, message);
}

/* Requests ------------------------------------------------------------------------------- */

/* Whether an Accept header admits `type` ("application/json"); a missing or
 * empty header admits everything (RFC 9110). */
static bool accepts(const char *hdr, const char *type)
{
    if (!hdr || !*hdr)
        return true;
    const char *slash = strchr(type, '/');
    size_t major = (size_t)(slash - type);
    const char *p = hdr;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *s = p;
        while (*p && *p != ',' && *p != ';')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        bool zero = false;
        while (*p == ';') { /* parameters: only q=0 matters */
            p++;
            while (*p == ' ' || *p == '\t')
                p++;
            if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
                const char *q = p + 2;
                zero = true;
                while (*q && *q != ',' && *q != ';' && *q != ' ')
                    if (*q != '0' && *q != '.')
                        zero = false;
                    else
                        q++;
                if (zero && (q == p + 2))
                    zero = false;
            }
            while (*p && *p != ',' && *p != ';')
                p++;
        }
        size_t n = (size_t)(e - s);
        if (!zero && ((n == 3 && strncmp(s, "*/*", 3) == 0) ||
                      (n == strlen(type) && strncasecmp(s, type, n) == 0) ||
                      (n == major + 2 && strncasecmp(s, type, major + 1) == 0 &&
                       s[major + 1] == '*')))
            return true;
    }
    return false;
}

static bool version_known(const char *v)
{
    for (int i = 0; pw_mcp_versions[i]; i++)
        if (strcmp(pw_mcp_versions[i], v) == 0)
            return true;
    return false;
}

static bool valid_id(json_t *id) { return json_is_string(id) || json_is_integer(id); }

struct body_info {
    json_t *ids;                /* request ids, in order */
    bool batch;
    bool init;                  /* a lone initialize request */
    bool has_init;              /* initialize anywhere */
    bool progress;              /* some request wants progress */
};

/* Classifies a POST body; false (with *why) when it is not JSON-RPC. */
static bool classify(json_t *body, struct body_info *bi, const char **why)
{
    memset(bi, 0, sizeof *bi);
    bi->ids = json_array();
    bi->batch = json_is_array(body);
    if (!bi->batch && !json_is_object(body)) {
        *why = "Invalid Request: the body must be a JSON-RPC object";
        return false;
    }
    if (bi->batch && json_array_size(body) == 0) {
        *why = "Invalid Request: empty batch";
        return false;
    }
    size_t n = bi->batch ? json_array_size(body) : 1;
    for (size_t i = 0; i < n; i++) {
        json_t *m = bi->batch ? json_array_get(body, i) : body;
        if (!json_is_object(m)) {
            *why = "Invalid Request: a message must be a JSON object";
            return false;
        }
        json_t *method = json_object_get(m, "method");
        json_t *id = json_object_get(m, "id");
        if (json_is_string(method)) {
            if (!id)
                continue; /* a notification */
            if (!valid_id(id)) {
                *why = "Invalid Request: id must be a string or an integer";
                return false;
            }
            if (strcmp(json_string_value(method), "initialize") == 0)
                bi->has_init = true;
            json_t *meta = json_object_get(json_object_get(m, "params"), "_meta");
            if (json_object_get(meta, "progressToken"))
                bi->progress = true;
            json_array_append(bi->ids, id);
        } else if (!method && valid_id(id) &&
                   (json_object_get(m, "result") || json_object_get(m, "error"))) {
            continue; /* a response to one of our requests */
        } else {
            *why = "Invalid Request: neither a request, a notification nor a response";
            return false;
        }
    }
    bi->init = !bi->batch && bi->has_init;
    return true;
}

struct reqctx {
    struct pw_mcp_http *h;
    struct pw_server_req *r;
    char sid[128];
    bool has_sid;
    char accept[512];
    bool has_accept;
    char who[PW_MCP_WHO_MAX];   /* who admission let in ("" open or none) */
};

/* Finds the session the request names: 400 without one, 404 unknown. */
static struct mcp_hsess *need_session(struct reqctx *c)
{
    if (!c->has_sid) {
        mcp_http_error(c->r, 400, MCP_HTTP_E_TRANSPORT,
                   "Bad Request: Mcp-Session-Id header is required");
        return NULL;
    }
    struct mcp_hsess *s = mcp_hsess_find(c->h, c->sid);
    /* A session is its creator's: another key learns nothing of it. */
    if (!s || s->doomed || !mcp_http_principal_is(c->r, c->who, s->mcp)) {
        mcp_http_error(c->r, 404, MCP_HTTP_E_NO_SESSION, "Session not found");
        return NULL;
    }
    s->last_active_ms = pw_clock_ms();
    return s;
}

static void do_post(struct reqctx *c)
{
    struct pw_mcp_http *h = c->h;
    bool json_ok = c->has_accept ? accepts(c->accept, "application/json") : true;
    bool sse_ok = c->has_accept ? accepts(c->accept, "text/event-stream") : true;
    if (!json_ok && !sse_ok) {
        mcp_http_error(c->r, 406, MCP_HTTP_E_TRANSPORT,
                   "Not Acceptable: accept application/json and text/event-stream");
        return;
    }
    if (!pw_server_req_is_json(c->r)) {
        mcp_http_error(c->r, 415, MCP_HTTP_E_TRANSPORT,
                   "Unsupported Media Type: Content-Type must be application/json");
        return;
    }
    size_t len;
    const char *text = pw_server_req_body(c->r, &len);
    json_error_t je;
    json_t *body = json_loadb(text, len, JSON_DECODE_ANY, &je);
    if (!body) {
        char msg[256];
        snprintf(msg, sizeof msg, "Parse error: %s", je.text);
        mcp_http_error(c->r, 400, MCP_HTTP_E_PARSE, msg);
        return;
    }
    struct body_info bi;
    const char *why = NULL;
    if (!classify(body, &bi, &why)) {
        mcp_http_error(c->r, 400, MCP_HTTP_E_INVALID, why);
        goto out;
    }
    struct mcp_hsess *s;
    if (!c->has_sid && bi.init) {
        if (h->stopping) {
            mcp_http_error(c->r, 503, MCP_HTTP_E_TRANSPORT,
                           "the server is shutting down");
            goto out;
        }
        if (h->count >= (size_t)h->opt.max_sessions) {
            mcp_http_error(c->r, 503, MCP_HTTP_E_TRANSPORT,
                       "Service Unavailable: too many sessions");
            goto out;
        }
        s = mcp_hsess_new(h);
        if (!s) {
            mcp_http_error(c->r, 500, MCP_HTTP_E_TRANSPORT, "cannot create a session");
            goto out;
        }
        if (mcp_http_principal(c->r, c->who, s->mcp) != PW_OK) {
            mcp_hsess_end(s, "over the per-key session cap");
            mcp_http_error(c->r, 429, MCP_HTTP_E_TRANSPORT,
                           "Too Many Requests: this key holds too many sessions");
            goto out;
        }
    } else if (!(s = need_session(c))) {
        goto out;
    }
    if (json_array_size(bi.ids) == 0) {
        /* Notifications and responses only: accepted, nothing to wait for. */
        pw_mcp_session_receive_json(s->mcp, body);
        const char *hd[8];
        hd[0] = NULL;
        pw_server_req_respond(c->r, 202, NULL, hd, NULL, 0);
        goto out;
    }
    size_t i;
    json_t *id;
    json_array_foreach(bi.ids, i, id) {
        if (mcp_hpost_find(s, id)) {
            mcp_http_error(c->r, 400, MCP_HTTP_E_INVALID,
                       "Invalid Request: a request with this id is still in flight");
            goto out;
        }
    }
    struct mcp_hpost *p = mcp_hpost_new(s, c->r, bi.ids, bi.batch, sse_ok,
                                        bi.init && !c->has_sid);
    if (!p) {
        mcp_http_error(c->r, 500, MCP_HTTP_E_TRANSPORT, "out of memory");
        goto out;
    }
    if (sse_ok && (!json_ok || bi.progress))
        mcp_hpost_to_sse(p);
    s->feeding = p;
    pw_mcp_session_receive_json(s->mcp, body); /* may answer and free p */
    s->feeding = NULL;
    if (s->doomed)
        mcp_hsess_end(s, "initialize failed");
out:
    json_decref(bi.ids);
    json_decref(body);
}

static void do_get(struct reqctx *c)
{
    if (c->has_accept && !accepts(c->accept, "text/event-stream")) {
        mcp_http_error(c->r, 406, MCP_HTTP_E_TRANSPORT,
                   "Not Acceptable: GET opens an SSE stream; accept text/event-stream");
        return;
    }
    struct mcp_hsess *s = need_session(c);
    if (!s)
        return;
    char lei[128];
    int n = pw_server_req_header(c->r, "last-event-id", lei, sizeof lei);
    if (n > 0) {
        uint64_t no, seq;
        struct mcp_hstream *st = NULL;
        if (mcp_sse_parse_id(lei, &no, &seq))
            for (st = s->streams; st && st->ring.no != no; st = st->next)
                ;
        if (!st || seq >= st->ring.next_seq) {
            mcp_http_error(c->r, 400, MCP_HTTP_E_TRANSPORT,
                       "Bad Request: unknown or expired Last-Event-ID");
            return;
        }
        mcp_hstream_attach(st, c->r, seq + 1, false);
        return;
    }
    mcp_hstream_attach(s->own, c->r, s->own->cursor, false);
}

static void do_delete(struct reqctx *c)
{
    struct mcp_hsess *s = need_session(c);
    if (!s)
        return;
    mcp_hsess_end(s, "DELETE");
    const char *hd[8];
    hd[0] = NULL;
    pw_server_req_respond(c->r, 200, NULL, hd, NULL, 0);
}

static void on_request(struct pw_server_req *r, void *ud)
{
    struct reqctx c;
    memset(&c, 0, sizeof c);
    c.h = ud;
    c.r = r;
    int n = pw_server_req_header(r, "mcp-session-id", c.sid, sizeof c.sid);
    c.has_sid = n != -1;
    if (n == -2)
        c.sid[0] = '\0'; /* too long to be ours: 404 below */
    n = pw_server_req_header(r, "accept", c.accept, sizeof c.accept);
    c.has_accept = n != -1;
    if (n == -2)
        snprintf(c.accept, sizeof c.accept, "*/*"); /* absurdly long: be lenient */
    const char *method = pw_server_req_method(r);
    /* Admission (the server's pipeline) left who it let in. */
    snprintf(c.who, sizeof c.who, "%s", pw_server_req_ctx(r)->principal);
    if (mcp_hmodern_request(c.h, r, c.who))
        return; /* revision 2026-07-28 (http_modern.c) */
    char ver[64];
    n = pw_server_req_header(r, "mcp-protocol-version", ver, sizeof ver);
    if (n == -2 || (n >= 0 && !version_known(ver))) {
        mcp_http_error(r, 400, MCP_HTTP_E_TRANSPORT,
                   "Bad Request: unsupported MCP-Protocol-Version");
        return;
    }
    if (strcmp(method, "POST") == 0)
        do_post(&c);
    else if (strcmp(method, "GET") == 0)
        do_get(&c);
    else if (strcmp(method, "DELETE") == 0)
        do_delete(&c);
    else
        mcp_http_error(r, 405, MCP_HTTP_E_TRANSPORT, "Method Not Allowed");
}

/* The client went away before its answer was complete (invariant 2). */
static void on_close(struct pw_server_req *r, void *ud)
{
    (void)ud;
    if (!mcp_hmodern_detach(r))
        mcp_http_detach(r);
}

static const struct pw_server_handler handler = {
    .on_request = on_request,
    .on_close = on_close,
    .error = route_error,
};

/* Timers and stop ------------------------------------------------------------------- */

static void on_timer(void *ud)
{
    struct pw_mcp_http *h = ud;
    int64_t now = pw_clock_ms();
    mcp_hmodern_sweep(h, now);
    for (size_t i = 0; i < h->nbuckets; i++) {
        for (struct mcp_hsess *s = h->buckets[i], *next; s; s = next) {
            next = s->hnext;
            mcp_hsess_sweep(s, now);
        }
    }
}

/* Graceful stop: the session streams end now (clients would wait forever);
 * POSTs in flight may still finish within the server's grace period. */
static void on_stop(void *ud)
{
    struct pw_mcp_http *h = ud;
    h->stopping = true;
    mcp_hmodern_stop(h);
    for (size_t i = 0; i < h->nbuckets; i++)
        for (struct mcp_hsess *s = h->buckets[i]; s; s = s->hnext)
            mcp_hsess_stop(s);
}

/* Attach / free --------------------------------------------------------------------------- */

enum pw_err pw_mcp_http_attach(struct pw_server *srv, struct pw_mcp_server *mcp,
                               const struct pw_mcp_http_options *opt, struct pw_mcp_http **out,
                               struct pw_error *err)
{
    *out = NULL;
    struct pw_mcp_http *h = calloc(1, sizeof *h);
    if (!h)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "mcp http: out of memory");
    h->srv = srv;
    h->mcp = mcp;
    if (opt)
        h->opt = *opt;
    if (!h->opt.path)
        h->opt.path = "/mcp";
    if (h->opt.idle_timeout_s <= 0)
        h->opt.idle_timeout_s = 1800;
    if (h->opt.max_sessions <= 0)
        h->opt.max_sessions = 10000;
    if (h->opt.sse_retry_ms <= 0)
        h->opt.sse_retry_ms = 1000;
    if (h->opt.sse_poll_ms < 0)
        h->opt.sse_poll_ms = 0;
    if (h->opt.keepalive_s <= 0)
        h->opt.keepalive_s = 15;
    if (!h->opt.replay_events)
        h->opt.replay_events = 256;
    if (!h->opt.replay_bytes)
        h->opt.replay_bytes = (size_t)1 << 20;
    if (!h->opt.replay_budget)
        h->opt.replay_budget = (size_t)64 << 20;
    h->replay.max_bytes = h->opt.replay_budget;
    h->nbuckets = 64;
    h->buckets = calloc(h->nbuckets, sizeof *h->buckets);
    if (!h->buckets) {
        free(h);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "mcp http: out of memory");
    }
    struct pw_server_route r = {
        .path = h->opt.path,
        .flags = PW_SERVER_ROUTE_ORIGIN | PW_SERVER_ROUTE_CORS,
        .max_body = h->opt.max_body,
        .handler = &handler,
        .ud = h,
        .admit = h->opt.admit_class,
        .methods = "GET, POST, DELETE",
    };
    enum pw_err rc = pw_server_add_route(srv, &r, err);
    if (!rc)
        rc = pw_server_on_stop(srv, on_stop, h, err);
    if (!rc)
        rc = pw_server_add_timer(srv, SWEEP_MS, on_timer, h, err);
    if (rc) {
        free(h->buckets);
        free(h);
        return rc;
    }
    *out = h;
    return PW_OK;
}

void pw_mcp_http_free(struct pw_mcp_http *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->nbuckets; i++)
        while (h->buckets[i])
            mcp_hsess_end(h->buckets[i], "server stopped");
    mcp_hmodern_free_all(h);
    free(h->buckets);
    free(h);
}

size_t pw_mcp_http_count(const struct pw_mcp_http *h) { return h->count; }

/* The principal's bytes: the admitted identity, else the credential. */
static size_t principal_of(struct pw_server_req *r, const char *who, char buf[1024])
{
    if (who && who[0])
        return (size_t)snprintf(buf, 1024, "%s", who);
    int n = pw_server_req_header(r, "authorization", buf, 1024);
    if (n <= 0)
        n = pw_server_req_header(r, "x-api-key", buf, 1024);
    return n > 0 ? (size_t)n : 0;
}

enum pw_err mcp_http_principal(struct pw_server_req *r, const char *who,
                               struct pw_mcp_session *s)
{
    char buf[1024];
    size_t n = principal_of(r, who, buf);
    return pw_mcp_session_set_principal(s, buf, n);
}

bool mcp_http_principal_is(struct pw_server_req *r, const char *who,
                           const struct pw_mcp_session *s)
{
    char buf[1024];
    size_t n = principal_of(r, who, buf);
    return pw_mcp_session_principal_is(s, buf, n);
}
