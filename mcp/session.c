/*
 * Sessions: one per connected client, whatever the transport. Parses what
 * the transport hands in, classifies each JSON-RPC message and routes it:
 * requests to the method table (methods.c), notifications to the
 * notification table, responses to the server-to-client request tracker
 * (outgoing.c). Everything that is wrong with a message is answered here,
 * in JSON-RPC's own shape, and the session carries on.
 *
 * The lifecycle is drawn in mcp-int.h. The transitions: NEW -> READY in
 * methods.c:initialize, READY -> OPERATING in methods.c:initialized, and
 * any state -> gone in pw_mcp_session_free.
 *
 * Every session made and freed, and every request and notification that
 * arrives, is reported once to observe.c (metrics and the observer);
 * modern requests are reported where every transport hands them in,
 * mcp_modern_request.
 *
 * Loop thread only.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mcp/mcp-int.h"
#include "mcp/modern-int.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/assert.h"
#include "pennyworth/log.h"

static const char *const levels[] = {"debug", "info", "notice", "warning", "error",
                                     "critical", "alert", "emergency"};

int mcp_log_level_index(const char *level)
{
    for (int i = 0; level && i < (int)(sizeof levels / sizeof levels[0]); i++)
        if (strcmp(levels[i], level) == 0)
            return i;
    return -1;
}

bool mcp_session_wants_log(const struct pw_mcp_session *s, const char *level)
{
    int i = mcp_log_level_index(level);
    return i >= 0 && i >= s->log_level;
}

enum pw_err pw_mcp_session_new(struct pw_mcp_server *srv, const struct pw_mcp_transport *t,
                               struct pw_mcp_session **out, struct pw_error *err)
{
    struct pw_mcp_session *s = calloc(1, sizeof *s);
    if (!s)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "mcp session: out of memory");
    s->srv = srv;
    s->t = *t;
    s->state = MCP_NEW;
    s->client_caps = json_object();
    s->next = srv->sessions;
    if (srv->sessions)
        srv->sessions->prev = s;
    srv->sessions = s;
    mcp_observe_session(srv, t->name, +1);
    *out = s;
    return PW_OK;
}

static void digest(const void *credential, size_t len, unsigned char out[32])
{
    memset(out, 0, 32);
    if (credential && len)
        SHA256(credential, len, out);
}

enum pw_err pw_mcp_session_set_principal(struct pw_mcp_session *s, const void *credential,
                                         size_t len)
{
    PW_ASSERT(mcp_on_loop(s->srv));
    digest(credential, len, s->principal);
    if (!credential || !len)
        return PW_OK;
    /* A scan, not a table: sessions are few thousand at most and this runs
     * once per session. */
    int others = 0;
    for (const struct pw_mcp_session *o = s->srv->sessions; o; o = o->next)
        others += o != s && memcmp(o->principal, s->principal, sizeof s->principal) == 0;
    return others >= s->srv->opt.sessions_per_principal ? PW_ERR_RATE_LIMITED : PW_OK;
}

bool pw_mcp_session_principal_is(const struct pw_mcp_session *s, const void *credential,
                                 size_t len)
{
    unsigned char d[32];
    digest(credential, len, d);
    return CRYPTO_memcmp(d, s->principal, sizeof d) == 0;
}

void pw_mcp_session_free(struct pw_mcp_session *s)
{
    if (!s)
        return;
    s->closing = true;
    while (s->inflight)
        mcp_call_detach(s->inflight);
    mcp_outgoing_fail_session(s);
    mcp_listen_drop_session(s);
    struct pw_mcp_server *srv = s->srv;
    if (s->prev)
        s->prev->next = s->next;
    else
        srv->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    mcp_observe_session(srv, s->t.name, -1);
    for (size_t i = 0; i < s->nsubs; i++)
        free(s->subs[i]);
    free(s->subs);
    json_decref(s->client_caps);
    json_decref(s->client_info);
    free(s);
}

const char *pw_mcp_session_version(const struct pw_mcp_session *s) { return s->version; }
bool pw_mcp_session_ready(const struct pw_mcp_session *s) { return s->state != MCP_NEW; }
size_t pw_mcp_session_inflight(const struct pw_mcp_session *s) { return s->ninflight; }

void mcp_send(struct pw_mcp_session *s, json_t *msg_new, json_t *related)
{
    if (s && !s->closing && msg_new)
        s->t.send(s->t.ctx, msg_new, related);
    json_decref(msg_new);
}

void mcp_session_reply(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                       json_t *body_new, bool is_error)
{
    PW_ASSERT(mcp_on_loop(s->srv));
    if (s->modern)
        body_new = mcp_modern_decorate(s->srv, s->modern, body_new, is_error);
    json_t *resp = is_error ? mcp_error_response(id, body_new) : mcp_response(id, body_new);
    if (b) {
        mcp_batch_expect(b);
        mcp_batch_add(s, b, resp);
    } else {
        mcp_send(s, resp, id);
    }
}

static void reply_error(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id, int code,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void reply_error(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id, int code,
                        const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mcp_session_reply(s, b, id, mcp_error_object(code, msg, NULL), true);
}

void mcp_session_notify_updated(struct pw_mcp_session *s, const char *uri)
{
    for (size_t i = 0; i < s->nsubs; i++) {
        if (strcmp(s->subs[i], uri) == 0) {
            mcp_send(s, mcp_notification("notifications/resources/updated",
                                         json_pack("{s:s}", "uri", uri)), NULL);
            return;
        }
    }
}

static void handle_request(struct pw_mcp_session *s, struct mcp_batch *b, json_t *m,
                           const char *method, json_t *id)
{
    json_t *params = json_object_get(m, "params");
    bool modern = mcp_valid_id(id) && (!params || json_is_object(params)) &&
                  mcp_modern_wants(method, params);
    if (!modern)
        mcp_observe_request(s->srv, method); /* mcp_modern_request counts the others */
    if (!mcp_valid_id(id)) {
        reply_error(s, b, NULL, MCP_INVALID_REQUEST,
                    "Invalid Request: id must be a string or an integer");
        return;
    }
    if (params && !json_is_object(params)) {
        reply_error(s, b, id, MCP_INVALID_PARAMS, "Invalid params: params must be an object");
        return;
    }
    if (modern) {
        mcp_modern_request(s, b, id, method, params); /* revision 2026-07-28 */
        return;
    }
    const struct mcp_method *row = mcp_find_method(method);
    if (!row) {
        reply_error(s, b, id, MCP_METHOD_NOT_FOUND, "Method not found: %s", method);
        return;
    }
    if (s->state == MCP_NEW && !(row->flags & MCP_M_BEFORE_INIT)) {
        reply_error(s, b, id, MCP_INVALID_REQUEST,
                    "Session not initialized: send initialize before %s", method);
        return;
    }
    if (mcp_session_find_call(s, id)) {
        reply_error(s, b, id, MCP_INVALID_REQUEST,
                    "Invalid Request: a request with this id is still in flight");
        return;
    }
    if (s->ninflight >= MCP_MAX_INFLIGHT) {
        reply_error(s, b, id, MCP_INVALID_REQUEST,
                    "Too many requests in flight (limit %d)", MCP_MAX_INFLIGHT);
        return;
    }
    row->fn(s, b, id, params);
}

/* Handles one message of a batch or a lone message. */
static void handle_one(struct pw_mcp_session *s, struct mcp_batch *b, json_t *m)
{
    if (!json_is_object(m)) {
        reply_error(s, b, NULL, MCP_INVALID_REQUEST,
                    "Invalid Request: a message must be a JSON object");
        return;
    }
    json_t *id = json_object_get(m, "id");
    json_t *version = json_object_get(m, "jsonrpc");
    if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") != 0) {
        reply_error(s, b, mcp_valid_id(id) ? id : NULL, MCP_INVALID_REQUEST,
                    "Invalid Request: jsonrpc must be \"2.0\"");
        return;
    }
    json_t *method = json_object_get(m, "method");
    if (json_is_string(method)) {
        if (id) {
            handle_request(s, b, m, json_string_value(method), id);
            return;
        }
        mcp_observe_request(s->srv, json_string_value(method));
        const struct mcp_method *row = mcp_find_notification(json_string_value(method));
        json_t *params = json_object_get(m, "params");
        if (row && (!params || json_is_object(params)))
            row->fn(s, b, NULL, params);
        return; /* unknown notifications are ignored, as JSON-RPC says */
    }
    if (method) {
        reply_error(s, b, mcp_valid_id(id) ? id : NULL, MCP_INVALID_REQUEST,
                    "Invalid Request: method must be a string");
        return;
    }
    if (id && (json_object_get(m, "result") || json_object_get(m, "error"))) {
        mcp_outgoing_response(s, m);
        return;
    }
    reply_error(s, b, mcp_valid_id(id) ? id : NULL, MCP_INVALID_REQUEST,
                "Invalid Request: neither a request, a notification nor a response");
}

void pw_mcp_session_receive_json(struct pw_mcp_session *s, json_t *msg)
{
    if (!json_is_array(msg)) {
        handle_one(s, NULL, msg);
        return;
    }
    size_t n = json_array_size(msg);
    if (n == 0) {
        reply_error(s, NULL, NULL, MCP_INVALID_REQUEST, "Invalid Request: empty batch");
        return;
    }
    if (!s->version || strcmp(s->version, "2025-03-26") != 0) {
        reply_error(s, NULL, NULL, MCP_INVALID_REQUEST,
                    "Invalid Request: JSON-RPC batches are accepted only in revision "
                    "2025-03-26, after initialize");
        return;
    }
    if (n > MCP_MAX_BATCH) {
        reply_error(s, NULL, NULL, MCP_INVALID_REQUEST,
                    "Invalid Request: a batch may hold at most %d messages", MCP_MAX_BATCH);
        return;
    }
    json_t *first_id = NULL;
    for (size_t i = 0; i < n && !first_id; i++) {
        json_t *id = json_object_get(json_array_get(msg, i), "id");
        if (mcp_valid_id(id))
            first_id = id;
    }
    struct mcp_batch *b = mcp_batch_new(first_id);
    if (!b) {
        reply_error(s, NULL, NULL, MCP_INTERNAL_ERROR, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *el = json_array_get(msg, i);
        json_t *method = json_is_object(el) ? json_object_get(el, "method") : NULL;
        if (json_is_string(method) && strcmp(json_string_value(method), "initialize") == 0) {
            mcp_observe_request(s->srv, "initialize");
            reply_error(s, b, json_object_get(el, "id"), MCP_INVALID_REQUEST,
                        "Invalid Request: initialize must not be part of a batch");
            continue;
        }
        handle_one(s, b, el);
    }
    mcp_batch_seal(s, b);
}

void pw_mcp_session_receive(struct pw_mcp_session *s, const char *text, size_t len)
{
    PW_ASSERT(mcp_on_loop(s->srv));
    json_error_t je;
    json_t *msg = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!msg) {
        reply_error(s, NULL, NULL, MCP_PARSE_ERROR, "Parse error: %s (at byte %d)", je.text,
                    je.position);
        return;
    }
    pw_mcp_session_receive_json(s, msg);
    json_decref(msg);
}
