/*
 * Streamable HTTP for revision 2026-07-28 (the modern era), next to the
 * session-based transport of http.c on the same /mcp route.
 *
 * A modern POST carries one JSON-RPC request (or a notification) and
 * stands alone: no Mcp-Session-Id, no GET stream, no resumption. Each
 * request gets a short-lived engine session of its own (an mcp_hmodern),
 * fed straight to the modern engine (mcp_modern_request), and ended when
 * its answer is out or its client goes away; a modern and a legacy client
 * share the route and the engine at the same time.
 *
 * Which POSTs are modern (mcp_hmodern_request, asked first by http.c):
 * those whose MCP-Protocol-Version header names a modern revision, and
 * those without a header a legacy session would accept (absent or
 * unknown) whose body looks modern (mcp_modern_wants: the reserved
 * `_meta` keys or a modern-only method). Everything else stays legacy.
 *
 * Checks, in order, each answered with a JSON-RPC error carrying the
 * request's id when there is one: Accept (406), Content-Type (415), JSON
 * (400 -32700), one request object (400 -32600: no batches, no
 * responses), then HeaderMismatch (400 -32020): MCP-Protocol-Version
 * present and equal to `_meta`'s protocolVersion when the body has one,
 * Mcp-Method equal to `method`, Mcp-Name equal to the name, URI or task id
 * of the methods that have one, and the Mcp-Param-* headers a tool's
 * inputSchema asks for (`x-mcp-header`) equal to their arguments. Header
 * values are trimmed of whitespace, must be visible ASCII, and are
 * decoded first when they use the `=?base64?...?=` form (strict
 * base64: a bad one is a mismatch). The engine then checks `_meta`, the
 * revision and the method.
 *
 * HTTP status of an answer sent as JSON: 400 for -32700, -32600, -32602,
 * -32020, -32021, -32022; 404 for -32601; 500 for -32603; 200 otherwise.
 *
 * A request's life (the functions doing each move):
 *
 *   (POST) --mcp_hmodern_request--> WAITING (undecided, the request held)
 *   WAITING --answer (sess_send)--> JSON response, DONE
 *   WAITING --a notification for it (progress, log, listen ack)--> STREAM
 *   STREAM  --answer--> written, response ended, DONE
 *   STREAM  --(subscriptions/listen never answers)--> keep-alives
 *            (mcp_hmodern_sweep) until the client closes or the server stops
 *   any     --client gone (mcp_hmodern_detach) | stop--> session freed
 *   DONE    --freed after the engine returns (at once for synchronous
 *            answers, else by the next sweep): the engine may still be on
 *            the stack when it sends the answer
 *
 * Closing the response stream is the modern cancellation: freeing the
 * session cancels what it has in flight and drops its listen.
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

#include "mcp/http-int.h"
#include "mcp/modern-int.h"
#include "pennyworth/clock.h"
#include "pennyworth/json.h"
#include "pennyworth/log.h"

#define MAX_HEADER 4096

struct mcp_hmodern {
    int kind;                   /* MCP_HK_MODERN (first: the request's data tag) */
    struct pw_mcp_http *h;
    struct pw_server_req *req;  /* the client, until answered or gone */
    struct pw_mcp_session *mcp; /* NULL once freed */
    json_t *id;                 /* the request's id (new ref) */
    bool stream;                /* answering with SSE */
    bool done;                  /* nothing more to send: free when safe */
    int64_t last_write_ms;
    struct mcp_hmodern *prev, *next;
};

/* Methods whose Mcp-Name header mirrors a params member. */
static const struct {
    const char *method;
    const char *member;
} named[] = {
    {"tools/call", "name"},   {"prompts/get", "name"}, {"resources/read", "uri"},
    {"tasks/get", "taskId"},  {"tasks/update", "taskId"}, {"tasks/cancel", "taskId"},
};

/* Answers ------------------------------------------------------------------------- */

static int status_for(json_t *msg)
{
    json_t *err = json_object_get(msg, "error");
    if (!err)
        return 200;
    switch (json_integer_value(json_object_get(err, "code"))) {
    case MCP_PARSE_ERROR:
    case MCP_INVALID_REQUEST:
    case MCP_INVALID_PARAMS:
    case MCP_HEADER_MISMATCH:
    case MCP_MISSING_CAPABILITY:
    case MCP_UNSUPPORTED_VERSION:
        return 400;
    case MCP_METHOD_NOT_FOUND:
        return 404;
    case MCP_INTERNAL_ERROR:
        return 500;
    default:
        return 200;
    }
}

/* A JSON-RPC error answered before any engine session exists. */
static void refuse(struct pw_server_req *r, json_t *id, int status,
                   int code, const char *message)
{
    json_t *o = mcp_error_response(id && mcp_valid_id(id) ? id : NULL,
                                   mcp_error_object(code, message, NULL));
    char *body = json_dumps(o, PW_JSON_WIRE);
    json_decref(o);
    const char *hd[8];
    hd[0] = NULL;
    pw_server_req_respond(r, status, "application/json", hd, body ? body : "",
                          body ? strlen(body) : 0);
    free(body);
}

static void unlink_free(struct mcp_hmodern *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else
        m->h->modern = m->next;
    if (m->next)
        m->next->prev = m->prev;
    if (m->req) {
        pw_server_req_set_data(m->req, NULL);
        pw_server_req_end(m->req);
        m->req = NULL;
    }
    pw_mcp_session_free(m->mcp); /* cancels what is in flight, drops a listen */
    json_decref(m->id);
    free(m);
}

static bool start_stream(struct mcp_hmodern *m)
{
    const char *hd[16];
    size_t n = 0;
    hd[n++] = "cache-control";
    hd[n++] = "no-cache";
    hd[n++] = "x-accel-buffering";
    hd[n++] = "no";
    hd[n] = NULL;
    m->stream = true;
    m->last_write_ms = pw_clock_ms();
    return pw_server_req_start(m->req, 200, "text/event-stream", hd) == PW_OK;
}

static void write_event(struct mcp_hmodern *m, const char *text)
{
    size_t n = strlen(text);
    char *ev = malloc(n + 32);
    if (!ev)
        return;
    int len = snprintf(ev, n + 32, "event: message\ndata: %s\n\n", text);
    if (len > 0)
        pw_server_req_write(m->req, ev, (size_t)len); /* a failure: on_close follows */
    free(ev);
    m->last_write_ms = pw_clock_ms();
}

/* The engine's send() for one modern request. Never frees `m`: the engine
 * may be on the stack. */
static void sess_send(void *ctx, json_t *msg, json_t *related)
{
    struct mcp_hmodern *m = ctx;
    bool answer = !json_object_get(msg, "method") &&
                  (json_object_get(msg, "result") || json_object_get(msg, "error"));
    if (m->done || !m->req)
        return;
    if (!answer && (json_object_get(msg, "id") || !related || !json_equal(related, m->id))) {
        /* Modern servers send no requests of their own, and nothing else
         * belongs on this response. */
        pw_debug("mcp http: a message unrelated to a modern request; dropped");
        return;
    }
    char *text = json_dumps(msg, PW_JSON_WIRE);
    if (!text)
        return;
    if (answer && !m->stream) {
        struct pw_server_req *r = m->req;
        const char *hd[8];
        hd[0] = NULL;
        pw_server_req_set_data(r, NULL);
        m->req = NULL;
        m->done = true;
        pw_server_req_respond(r, status_for(msg), "application/json", hd, text, strlen(text));
    } else if (m->stream || start_stream(m)) {
        write_event(m, text);
        if (answer) {
            struct pw_server_req *r = m->req;
            pw_server_req_set_data(r, NULL);
            m->req = NULL;
            m->done = true;
            pw_server_req_end(r);
        }
    }
    free(text);
}

/* Header checks ------------------------------------------------------------------- */

static int b64val(int c)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(digits, c) : NULL;
    return p ? (int)(p - digits) : -1;
}

/* Strict standard base64 (padding required); false when malformed. */
static bool unbase64(const char *in, size_t n, char *out, size_t size)
{
    if (n % 4 || n / 4 * 3 >= size)
        return false;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            bool pad = in[i + k] == '=' && i + 4 == n && k >= 2;
            v[k] = pad ? -2 : b64val((unsigned char)in[i + k]);
            if (v[k] == -1 || (k == 3 && v[2] == -2 && !pad))
                return false;
        }
        out[o++] = (char)(v[0] << 2 | v[1] >> 4);
        if (v[2] >= 0)
            out[o++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
        if (v[3] >= 0)
            out[o++] = (char)((v[2] & 3) << 6 | v[3]);
    }
    out[o] = '\0';
    return strlen(out) == o; /* no NUL bytes inside */
}

/*
 * Reads header `name` into buf: trimmed of whitespace, visible ASCII only,
 * base64 sentinel decoded. 1 when present and good, 0 when absent, -1 when
 * malformed.
 */
static int header_value(struct pw_server_req *r, const char *name, char *buf, size_t size)
{
    char raw[MAX_HEADER];
    int n = pw_server_req_header(r, name, raw, sizeof raw);
    if (n == -1)
        return 0;
    if (n < 0)
        return -1;
    char *s = raw, *e = raw + n;
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *e = '\0';
    for (const char *p = s; p < e; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            if (*p != '\t')
                return -1;
    size_t len = (size_t)(e - s);
    static const char pre[] = "=?base64?", post[] = "?=";
    if (len >= sizeof pre + sizeof post - 2 && strncmp(s, pre, sizeof pre - 1) == 0 &&
        strcmp(e - (sizeof post - 1), post) == 0)
        return unbase64(s + sizeof pre - 1, len - (sizeof pre - 1) - (sizeof post - 1), buf,
                        size) ? 1 : -1;
    if (len >= size)
        return -1;
    memcpy(buf, s, len + 1);
    return 1;
}

/* The text form a header carries for a JSON value; false when it has none. */
static bool header_form(json_t *v, char *buf, size_t size)
{
    if (json_is_string(v))
        return (size_t)snprintf(buf, size, "%s", json_string_value(v)) < size;
    if (json_is_integer(v))
        return snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) > 0;
    if (json_is_boolean(v))
        return snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false") > 0;
    if (json_is_real(v))
        return snprintf(buf, size, "%.17g", json_real_value(v)) > 0;
    return false;
}

/* Whether a header value equals a body value (numbers compared as numbers). */
static bool same_value(const char *hv, json_t *v)
{
    if (json_is_number(v)) {
        char *end;
        double d = strtod(hv, &end);
        return *hv && !*end && d == json_number_value(v);
    }
    char want[MAX_HEADER];
    return header_form(v, want, sizeof want) && strcmp(want, hv) == 0;
}

/* Checks one mirrored header against its body value; a message when it
 * fails, else NULL. `v` NULL (or null) means the body has none. */
static const char *check_mirror(struct pw_server_req *r, const char *header, json_t *v,
                                char *msg, size_t size)
{
    char hv[MAX_HEADER];
    int got = header_value(r, header, hv, sizeof hv);
    if (got < 0) {
        snprintf(msg, size, "Header mismatch: %s is malformed", header);
        return msg;
    }
    if (!v || json_is_null(v))
        return NULL;
    if (!got) {
        snprintf(msg, size, "Header mismatch: %s is required", header);
        return msg;
    }
    if (!same_value(hv, v)) {
        snprintf(msg, size, "Header mismatch: %s does not match the request body", header);
        return msg;
    }
    return NULL;
}

/* The Mcp-Param-* headers of a tool call: every argument whose schema
 * property carries `x-mcp-header` (at any depth of `properties`). */
static const char *check_params(struct pw_server_req *r, json_t *schema, json_t *args,
                                char *msg, size_t size, int depth)
{
    json_t *props = json_object_get(schema, "properties");
    const char *key;
    json_t *prop;
    if (depth > 8 || !json_is_object(props))
        return NULL;
    json_object_foreach(props, key, prop) {
        json_t *v = json_is_object(args) ? json_object_get(args, key) : NULL;
        const char *name = json_string_value(json_object_get(prop, "x-mcp-header"));
        if (name) {
            char header[160];
            snprintf(header, sizeof header, "mcp-param-%s", name);
            for (char *p = header; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
            if (check_mirror(r, header, v, msg, size))
                return msg;
        }
        if (v && check_params(r, prop, v, msg, size, depth + 1))
            return msg;
    }
    return NULL;
}

/* All header checks; a message for the -32020 error, or NULL. */
static const char *check_headers(struct pw_mcp_http *h, struct pw_server_req *r,
                                 const char *method, json_t *params, char *msg, size_t size)
{
    char ver[64], hm[256];
    int got = header_value(r, "mcp-protocol-version", ver, sizeof ver);
    json_t *meta = json_object_get(params, "_meta");
    json_t *body_ver = json_object_get(meta, MCP_META_VERSION);
    if (got <= 0)
        return got ? "Header mismatch: MCP-Protocol-Version is malformed"
                   : "Header mismatch: MCP-Protocol-Version is required";
    if (json_is_string(body_ver) && strcmp(json_string_value(body_ver), ver) != 0)
        return "Header mismatch: MCP-Protocol-Version does not match _meta's protocolVersion";
    got = header_value(r, "mcp-method", hm, sizeof hm);
    if (got <= 0)
        return got ? "Header mismatch: Mcp-Method is malformed"
                   : "Header mismatch: Mcp-Method is required";
    if (strcmp(hm, method) != 0)
        return "Header mismatch: Mcp-Method does not match the request's method";
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strcmp(named[i].method, method) == 0 &&
            check_mirror(r, "mcp-name", json_object_get(params, named[i].member), msg, size))
            return msg;
    if (strcmp(method, "tools/call") == 0) {
        const char *name = json_string_value(json_object_get(params, "name"));
        struct mcp_tool *t = name ? mcp_find_tool(h->mcp, name) : NULL;
        if (t && check_params(r, json_object_get(t->base.desc, "inputSchema"),
                              json_object_get(params, "arguments"), msg, size, 0))
            return msg;
    }
    return NULL;
}

/* Requests ------------------------------------------------------------------------ */

static bool modern_version(const char *v)
{
    for (int i = 0; pw_mcp_modern_versions[i]; i++)
        if (strcmp(pw_mcp_modern_versions[i], v) == 0)
            return true;
    return false;
}

static bool legacy_version(const char *v)
{
    for (int i = 0; pw_mcp_versions[i]; i++)
        if (strcmp(pw_mcp_versions[i], v) == 0)
            return true;
    return false;
}


/* Whether the Accept header admits JSON or SSE (absent admits all). */
static bool acceptable(struct pw_server_req *r)
{
    char acc[512];
    int n = pw_server_req_header(r, "accept", acc, sizeof acc);
    return n < 0 || !*acc || strstr(acc, "application/json") || strstr(acc, "text/event-stream") ||
           strstr(acc, "*/*") || strstr(acc, "application/*") || strstr(acc, "text/*");
}

/* Serves one modern request body (a parsed JSON object). */
static void serve(struct pw_mcp_http *h, struct pw_server_req *r, const char *who,
                  json_t *body)
{
    json_t *id = json_object_get(body, "id");
    json_t *method = json_object_get(body, "method");
    json_t *params = json_object_get(body, "params");
    json_t *version = json_object_get(body, "jsonrpc");
    if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") != 0 ||
        !json_is_string(method)) {
        refuse(r, id, 400, MCP_INVALID_REQUEST,
               !json_is_string(method) && !method && id
                   ? "Invalid Request: clients send no responses in this revision"
                   : "Invalid Request: a JSON-RPC 2.0 request with a method is required");
        return;
    }
    if (!id) {
        /* No client notification is defined here (closing a response is
         * the cancellation), so there is nothing to act on. */
        const char *hd[8];
        hd[0] = NULL;
        pw_server_req_respond(r, 202, NULL, hd, NULL, 0);
        return;
    }
    if (!mcp_valid_id(id)) {
        refuse(r, NULL, 400, MCP_INVALID_REQUEST,
               "Invalid Request: id must be a string or an integer");
        return;
    }
    if (params && !json_is_object(params)) {
        refuse(r, id, 400, MCP_INVALID_PARAMS, "Invalid params: params must be an object");
        return;
    }
    char msg[320];
    const char *why = check_headers(h, r, json_string_value(method), params, msg, sizeof msg);
    if (why) {
        refuse(r, id, 400, MCP_HEADER_MISMATCH, why);
        return;
    }
    struct mcp_hmodern *m = calloc(1, sizeof *m);
    if (!m) {
        refuse(r, id, 500, MCP_INTERNAL_ERROR, "out of memory");
        return;
    }
    m->kind = MCP_HK_MODERN;
    m->h = h;
    m->req = r;
    m->id = json_incref(id);
    struct pw_mcp_transport t = {.send = sess_send, .ctx = m};
    struct pw_error err = {0};
    if (pw_mcp_session_new(h->mcp, &t, &m->mcp, &err) != PW_OK) {
        json_decref(m->id);
        free(m);
        refuse(r, id, 500, MCP_INTERNAL_ERROR, "cannot make a session");
        return;
    }
    if (mcp_http_principal(r, who, m->mcp) != PW_OK) {
        pw_mcp_session_free(m->mcp);
        json_decref(m->id);
        free(m);
        refuse(r, id, 429, MCP_HTTP_E_TRANSPORT,
               "Too Many Requests: this key has too many requests in flight");
        return;
    }
    m->next = h->modern;
    if (h->modern)
        h->modern->prev = m;
    h->modern = m;
    pw_server_req_set_data(r, m);
    mcp_modern_request(m->mcp, NULL, id, json_string_value(method), params);
    if (m->done)
        unlink_free(m); /* answered at once: the engine has returned */
}

bool mcp_hmodern_request(struct pw_mcp_http *h, struct pw_server_req *r, const char *who)
{
    const char *method = pw_server_req_method(r);
    char ver[64];
    int n = pw_server_req_header(r, "mcp-protocol-version", ver, sizeof ver);
    bool modern = n >= 0 && modern_version(ver);
    if (modern && (strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0)) {
        refuse(r, NULL, 405, MCP_HTTP_E_TRANSPORT,
               "Method Not Allowed: revision 2026-07-28 has no GET stream and no sessions");
        return true;
    }
    if (strcmp(method, "POST") != 0 || (n >= 0 && legacy_version(ver)))
        return false;
    size_t len;
    const char *text = pw_server_req_body(r, &len);
    json_t *body = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    if (!modern) {
        json_t *m = json_object_get(body, "method");
        modern = json_is_object(body) && json_is_string(m) &&
                 mcp_modern_wants(json_string_value(m), json_object_get(body, "params"));
        if (!modern) {
            json_decref(body);
            return false;
        }
    }
    if (!acceptable(r))
        refuse(r, NULL, 406, MCP_HTTP_E_TRANSPORT,
               "Not Acceptable: accept application/json and text/event-stream");
    else if (!pw_server_req_is_json(r))
        refuse(r, NULL, 415, MCP_HTTP_E_TRANSPORT,
               "Unsupported Media Type: Content-Type must be application/json");
    else if (!body)
        refuse(r, NULL, 400, MCP_PARSE_ERROR, "Parse error: the body is not JSON");
    else if (!json_is_object(body))
        refuse(r, NULL, 400, MCP_INVALID_REQUEST,
               "Invalid Request: one JSON-RPC request per POST (no batches)");
    else
        serve(h, r, who, body);
    json_decref(body);
    return true;
}

bool mcp_hmodern_detach(struct pw_server_req *r)
{
    int *kind = pw_server_req_data(r);
    if (!kind || *kind != MCP_HK_MODERN)
        return false;
    struct mcp_hmodern *m = (struct mcp_hmodern *)kind;
    m->req = NULL; /* invalid once on_close returns */
    unlink_free(m);
    return true;
}

void mcp_hmodern_sweep(struct pw_mcp_http *h, int64_t now)
{
    for (struct mcp_hmodern *m = h->modern, *next; m; m = next) {
        next = m->next;
        if (m->done) {
            unlink_free(m);
        } else if (m->stream && m->req &&
                   now - m->last_write_ms >= (int64_t)h->opt.keepalive_s * 1000) {
            pw_server_req_write(m->req, ": keep-alive\n\n", 14);
            m->last_write_ms = now;
        }
    }
}

void mcp_hmodern_stop(struct pw_mcp_http *h)
{
    /* Listens never finish by themselves; requests still working may
     * answer within the server's grace period. */
    for (struct mcp_hmodern *m = h->modern, *next; m; m = next) {
        next = m->next;
        if (m->done || (m->stream && m->mcp && mcp_listen_count(m->mcp) > 0))
            unlink_free(m);
    }
}

void mcp_hmodern_free_all(struct pw_mcp_http *h)
{
    while (h->modern)
        unlink_free(h->modern);
}
