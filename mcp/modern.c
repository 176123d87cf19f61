/*
 * Revision 2026-07-28 (the modern era) in the engine: classifies each
 * request, checks its per-request `_meta`, answers through its own method
 * table, and decorates what goes back.
 *
 * Era, per message: a request whose `_meta` carries the reserved
 * protocolVersion or clientCapabilities key, or whose method exists only in
 * the modern era (server/discover, subscriptions/listen), is modern; every
 * other message takes the session path exactly as before. So a legacy
 * client that never heard of 2026-07-28 sees no change, and a modern and a
 * legacy client (or both kinds of request on one stdio stream) share one
 * server. A modern request touches no session state: its revision,
 * capabilities, client identity and log level live in its `struct
 * mcp_modern`, which goes with the call it becomes.
 *
 * Checks, in order, each answered as a JSON-RPC error: `_meta` and its two
 * required keys (-32602), the revision (-32022 UnsupportedProtocolVersion
 * with the supported list), logLevel (-32602), the method (-32601: the
 * session-era methods initialize, ping, logging/setLevel and
 * resources/subscribe|unsubscribe do not exist here), a duplicate id or
 * too many in flight (-32600), then inputResponses and requestState for the
 * methods that may be retried (mrtr.c).
 *
 * Decoration: every result gets `resultType` ("complete" unless the
 * handler said "input_required") and the server's identity in
 * `_meta`; cacheable results get `ttlMs` and `cacheScope` (the handler's
 * hint, else the method's default); "resource not found" becomes -32602
 * with the URI in `data`, as SEP-2164 asks.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mcp/modern-int.h"

#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/log.h"

const char *const pw_mcp_modern_versions[] = {PW_MCP_MODERN_VERSION, NULL};

enum {
    M_RETRY = 1 << 0,       /* may answer input_required and be retried */
    M_MODERN_ONLY = 1 << 1, /* classifies a request as modern by itself */
};

/*
 * The modern method table. `fn` NULL means the session-era handler of the
 * same name serves it (methods.c). `ttl_ms` >= 0 makes the result
 * cacheable with that default; catalog data is the same for everyone, so
 * results are public unless a handler says otherwise. Lists change rarely
 * and listeners hear of every change; resources/list includes live
 * products, so it ages faster; reads default to "refetch" unless the
 * resource knows better (pw_mcp_call_cache_hint).
 */
static const struct {
    const char *name;
    mcp_method_fn fn;
    unsigned flags;
    int64_t ttl_ms;
} methods[] = {
    {"server/discover", mcp_discover, M_MODERN_ONLY, 3600000},
    {"subscriptions/listen", mcp_listen, M_MODERN_ONLY, -1},
    {"tools/list", NULL, 0, 300000},
    {"tools/call", NULL, M_RETRY, -1},
    {"resources/list", NULL, 0, 60000},
    {"resources/templates/list", NULL, 0, 3600000},
    {"resources/read", NULL, M_RETRY, 0},
    {"prompts/list", NULL, 0, 300000},
    {"prompts/get", NULL, M_RETRY, -1},
    {"completion/complete", NULL, 0, -1},
    {"tasks/get", mcp_tasks_get, 0, -1},
    {"tasks/update", mcp_tasks_update, 0, -1},
    {"tasks/cancel", mcp_tasks_cancel, 0, -1},
};

#define NMETHODS (sizeof methods / sizeof methods[0])

static int find(const char *name)
{
    for (size_t i = 0; i < NMETHODS; i++)
        if (strcmp(methods[i].name, name) == 0)
            return (int)i;
    return -1;
}

const char *mcp_modern_method_name(const char *method)
{
    int i = find(method);
    return i >= 0 ? methods[i].name : NULL;
}

bool mcp_modern_wants(const char *method, json_t *params)
{
    json_t *meta = json_is_object(params) ? json_object_get(params, "_meta") : NULL;
    if (json_is_object(meta) &&
        (json_object_get(meta, MCP_META_VERSION) || json_object_get(meta, MCP_META_CAPS)))
        return true;
    int i = find(method);
    return i >= 0 && (methods[i].flags & M_MODERN_ONLY);
}

struct mcp_modern_srv *mcp_modern_srv(struct pw_mcp_server *srv)
{
    if (srv->modern)
        return srv->modern;
    struct mcp_modern_srv *ms = calloc(1, sizeof *ms);
    if (!ms)
        return NULL;
    pthread_mutex_init(&ms->task_lock, NULL);
    /* A configured secret makes requestStates outlive the process. */
    const char *secret = getenv("PENNYWORTH_MCP_STATE_KEY");
    if (secret && strlen(secret) >= 16) {
        SHA256((const unsigned char *)secret, strlen(secret), ms->key);
    } else if (RAND_bytes(ms->key, (int)sizeof ms->key) != 1) {
        pw_errorlog("mcp: no randomness for the requestState key");
        pthread_mutex_destroy(&ms->task_lock);
        free(ms);
        return NULL;
    }
    srv->modern = ms;
    return ms;
}

void mcp_modern_srv_free(struct pw_mcp_server *srv)
{
    if (!srv->modern)
        return;
    mcp_tasks_free(srv->modern);
    pthread_mutex_destroy(&srv->modern->task_lock);
    free(srv->modern->spent);
    free(srv->modern->spent_by);
    free(srv->modern);
    srv->modern = NULL;
}

enum pw_err pw_mcp_server_set_state_key(struct pw_mcp_server *srv, const void *key,
                                        size_t len, struct pw_error *err)
{
    if (!key || len < 16)
        return pw_error_set(err, PW_ERR_INVALID, NULL,
                            "requestState key: at least 16 bytes are needed");
    struct mcp_modern_srv *ms = mcp_modern_srv(srv);
    if (!ms)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "requestState key: out of memory");
    /* Any length works for HMAC; hashing it keeps one key size. */
    SHA256(key, len, ms->key);
    return PW_OK;
}

json_t *mcp_modern_server_info(struct pw_mcp_server *srv)
{
    json_t *info = json_pack("{s:s, s:s}", "name", srv->name, "version", srv->version);
    if (srv->title)
        json_object_set_new(info, "title", json_string(srv->title));
    return info;
}

/*
 * The capabilities a modern client is offered. The session era's, minus
 * what the revision dropped in meaning (subscribe now means "listen for
 * resource updates", which listen.c serves, so it stays), plus the tasks
 * extension (tasks.c).
 */
json_t *mcp_modern_capabilities(struct pw_mcp_server *srv)
{
    json_t *caps = mcp_capabilities(srv);
    json_object_set_new(caps, "extensions", json_pack("{s:{}}", MCP_TASKS_EXT));
    return caps;
}

/* A tool that cannot run without a task refuses clients without the
 * extension before its handler runs; false after answering. */
static bool task_gate(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                      json_t *params, const struct mcp_modern *m)
{
    const char *name = json_string_value(json_object_get(params, "name"));
    struct mcp_tool *t = name ? mcp_find_tool(s->srv, name) : NULL;
    if (!t || !(t->flags & PW_MCP_TASK_REQUIRED) || mcp_tasks_declared(m->caps))
        return true;
    char msg[200];
    snprintf(msg, sizeof msg, "Missing required client capability: %.60s runs only as a task "
                              "(the " MCP_TASKS_EXT " extension)", name);
    mcp_session_reply(s, b, id,
                      mcp_error_object(MCP_MISSING_CAPABILITY, msg,
                                       json_pack("{s:{s:{s:{}}}}", "requiredCapabilities",
                                                 "extensions", MCP_TASKS_EXT)),
                      true);
    return false;
}

void mcp_modern_free(struct mcp_modern *m)
{
    if (!m)
        return;
    json_decref(m->caps);
    json_decref(m->info);
    json_decref(m->input_responses);
    json_decref(m->state);
    free(m);
}

bool mcp_modern_log_ok(const struct pw_mcp_call *c, int level)
{
    if (c->modern)
        return c->modern->log_level >= 0 && level >= c->modern->log_level;
    return c->session && level >= c->session->log_level;
}

json_t *mcp_modern_decorate(struct pw_mcp_server *srv, const struct mcp_modern *m,
                            json_t *body, bool is_error)
{
    if (!json_is_object(body))
        return body;
    if (is_error) {
        if (json_integer_value(json_object_get(body, "code")) == MCP_RESOURCE_NOT_FOUND)
            json_object_set_new(body, "code", json_integer(MCP_INVALID_PARAMS));
        return body;
    }
    if (!json_is_string(json_object_get(body, "resultType")))
        json_object_set_new(body, "resultType", json_string("complete"));
    json_t *meta = json_object_get(body, "_meta");
    if (!json_is_object(meta)) {
        meta = json_object();
        json_object_set_new(body, "_meta", meta);
    }
    json_object_set_new(meta, MCP_META_SERVER, mcp_modern_server_info(srv));
    int i = find(m->method);
    bool complete = strcmp(json_string_value(json_object_get(body, "resultType")),
                           "complete") == 0;
    if (i < 0 || methods[i].ttl_ms < 0 || !complete)
        return body;
    if (!json_object_get(body, "ttlMs"))
        json_object_set_new(body, "ttlMs",
                            json_integer(m->cache_set ? m->ttl_ms : methods[i].ttl_ms));
    if (!json_object_get(body, "cacheScope"))
        json_object_set_new(body, "cacheScope",
                            json_string(m->cache_set && m->private_scope ? "private"
                                                                          : "public"));
    return body;
}

/* Answers an error for a modern request that never got a context. */
static void refuse(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id, int code,
                   const char *msg, json_t *data_new)
{
    mcp_session_reply(s, b, id, mcp_error_object(code, msg, data_new), true);
}

static json_t *supported(void)
{
    json_t *a = json_array();
    for (int i = 0; pw_mcp_modern_versions[i]; i++)
        json_array_append_new(a, json_string(pw_mcp_modern_versions[i]));
    return a;
}

/* Reads and checks `_meta`; NULL after answering the error. */
static struct mcp_modern *read_meta(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                                    json_t *params)
{
    json_t *meta = params ? json_object_get(params, "_meta") : NULL;
    if (!json_is_object(meta)) {
        refuse(s, b, id, MCP_INVALID_PARAMS,
               "Invalid params: _meta is required, with " MCP_META_VERSION " and " MCP_META_CAPS,
               NULL);
        return NULL;
    }
    json_t *ver = json_object_get(meta, MCP_META_VERSION);
    json_t *caps = json_object_get(meta, MCP_META_CAPS);
    json_t *info = json_object_get(meta, MCP_META_INFO);
    json_t *level = json_object_get(meta, MCP_META_LOG);
    if (!json_is_string(ver)) {
        refuse(s, b, id, MCP_INVALID_PARAMS,
               ver ? "Invalid params: _meta." MCP_META_VERSION " must be a string"
                   : "Invalid params: _meta." MCP_META_VERSION " is required", NULL);
        return NULL;
    }
    if (!json_is_object(caps)) {
        refuse(s, b, id, MCP_INVALID_PARAMS,
               caps ? "Invalid params: _meta." MCP_META_CAPS " must be an object"
                    : "Invalid params: _meta." MCP_META_CAPS " is required", NULL);
        return NULL;
    }
    const char *version = NULL;
    for (int i = 0; pw_mcp_modern_versions[i]; i++)
        if (strcmp(pw_mcp_modern_versions[i], json_string_value(ver)) == 0)
            version = pw_mcp_modern_versions[i];
    if (!version) {
        char msg[200];
        snprintf(msg, sizeof msg, "Unsupported protocol version: %.100s",
                 json_string_value(ver));
        refuse(s, b, id, MCP_UNSUPPORTED_VERSION, msg,
               json_pack("{s:O, s:o}", "requested", ver, "supported", supported()));
        return NULL;
    }
    if (info && !json_is_object(info)) {
        refuse(s, b, id, MCP_INVALID_PARAMS,
               "Invalid params: _meta." MCP_META_INFO " must be an object", NULL);
        return NULL;
    }
    int log_level = -1;
    if (level && (log_level = mcp_log_level_index(json_string_value(level))) < 0) {
        refuse(s, b, id, MCP_INVALID_PARAMS,
               "Invalid params: _meta." MCP_META_LOG " must be one of debug, info, notice, "
               "warning, error, critical, alert, emergency", NULL);
        return NULL;
    }
    struct mcp_modern *m = calloc(1, sizeof *m);
    if (!m) {
        refuse(s, b, id, MCP_INTERNAL_ERROR, "out of memory", NULL);
        return NULL;
    }
    m->version = version;
    m->caps = json_incref(caps);
    m->info = json_incref(info);
    m->log_level = log_level;
    return m;
}

void mcp_modern_request(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                        const char *method, json_t *params)
{
    /* Counted here, where every transport hands modern requests in (the
     * stateless HTTP ones come straight from http_modern.c). */
    mcp_observe_request(s->srv, method);
    if (!mcp_modern_srv(s->srv)) { /* made here, on the loop, before any worker seals */
        refuse(s, b, id, MCP_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    struct mcp_modern *m = read_meta(s, b, id, params);
    if (!m)
        return;
    int i = find(method);
    const struct mcp_method *legacy = i >= 0 && !methods[i].fn ? mcp_find_method(method) : NULL;
    if (i < 0 || (!methods[i].fn && !legacy)) {
        char msg[200];
        snprintf(msg, sizeof msg, "Method not found: %.150s", method);
        refuse(s, b, id, MCP_METHOD_NOT_FOUND, msg, NULL);
        mcp_modern_free(m);
        return;
    }
    m->method = methods[i].name;
    if (mcp_session_find_call(s, id)) {
        refuse(s, b, id, MCP_INVALID_REQUEST,
               "Invalid Request: a request with this id is still in flight", NULL);
        mcp_modern_free(m);
        return;
    }
    if (s->ninflight + mcp_listen_count(s) >= MCP_MAX_INFLIGHT) {
        char msg[100];
        snprintf(msg, sizeof msg, "Too many requests in flight (limit %d)", MCP_MAX_INFLIGHT);
        refuse(s, b, id, MCP_INVALID_REQUEST, msg, NULL);
        mcp_modern_free(m);
        return;
    }
    if ((methods[i].flags & M_RETRY) && !mcp_mrtr_accept(s, b, id, params, m)) {
        mcp_modern_free(m);
        return;
    }
    if (strcmp(methods[i].name, "tools/call") == 0 && !task_gate(s, b, id, params, m)) {
        mcp_modern_free(m);
        return;
    }
    /* The context rides on the session while the method runs; a call made
     * for the request takes it over (call.c), else it ends here. */
    s->modern = m;
    (methods[i].fn ? methods[i].fn : legacy->fn)(s, b, id, params);
    mcp_modern_free(s->modern);
    s->modern = NULL;
}

/* The public call API -------------------------------------------------------------- */

bool pw_mcp_call_modern(const struct pw_mcp_call *call) { return call->modern != NULL; }

void pw_mcp_call_cache_hint(struct pw_mcp_call *call, int64_t ttl_ms, bool private_scope)
{
    if (!call->modern)
        return;
    call->modern->ttl_ms = ttl_ms < 0 ? 0 : ttl_ms;
    call->modern->private_scope = private_scope;
    call->modern->cache_set = true;
}

json_t *pw_mcp_call_input_responses(const struct pw_mcp_call *call)
{
    return call->modern ? call->modern->input_responses : NULL;
}

json_t *pw_mcp_call_request_state(const struct pw_mcp_call *call)
{
    return call->modern ? call->modern->state : NULL;
}

void pw_mcp_call_fail_capability(struct pw_mcp_call *call, const char *capability)
{
    char msg[200];
    snprintf(msg, sizeof msg, "Missing required client capability: %.100s", capability);
    if (!call->modern) {
        mcp_call_fail_json(call, mcp_error_object(MCP_INVALID_REQUEST, msg, NULL));
        return;
    }
    mcp_call_fail_json(call, mcp_error_object(MCP_MISSING_CAPABILITY, msg,
                                              json_pack("{s:{s:{}}}", "requiredCapabilities",
                                                        capability)));
}
