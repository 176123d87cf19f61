/*
 * The bridge's HTTP front: the OpenAI-compatible routes on the network
 * server, request validation, errors in OpenAI's shape, and the public
 * pw_bridge_* life cycle (include/pennyworth/bridge.h).
 *
 * Routes (a table): POST /v1/chat/completions and its alias POST
 * /api/v1/completions, GET /v1/models, and a /v1/ prefix row so that any
 * other path there gets OpenAI's 404 rather than the server's default.
 * Each route has an `error` function, so the 4xx the server decides on
 * its own (413 body too large, 411, 403 Origin) are OpenAI-shaped too.
 *
 * The server's pipeline runs before any handler here: the Origin check,
 * CORS (preflights answered, headers added) and admission (the routes
 * carry the bridge's admission class, so keys and limits are checked
 * before the body is ours); the server also records each answer's status.
 *
 * A chat request then goes: JSON parse (400) -> validation of every field
 * we read or document (400 with `param` naming it, "messages[2].content")
 * -> context mode (header X-Pennyworth-Context, else the `context` field,
 * which is always removed, else the alias's default) -> routing (404
 * model_not_found) -> the response cache -> the exchange (exchange.c).
 * Fields we do not know are left in place: the OpenAI provider passes them
 * through, Bedrock's translation ignores them. Whatever way a request ends,
 * the model it asked for is in the request's context before its answer is
 * queued (the exchange adds the deployment, tokens and cost).
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/bridge-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/context.h"
#include "bridge/upstream.h"
#include "pennyworth/clock.h"
#include "pennyworth/json.h"
#include "pennyworth/log.h"

#define TICK_MS 50
#define MAX_BODY ((size_t)6 * 1024 * 1024)
#define PARAM_MAX 160

/* Errors --------------------------------------------------------------------------------------- */

char *bridge_error_body(const char *message, const char *type, const char *param,
                        const char *code)
{
    json_t *o = json_pack("{s:{s:s, s:s, s:s?, s:s?}}", "error", "message",
                          message ? message : "error", "type", type ? type : "api_error",
                          "param", param, "code", code);
    if (o && !param)
        json_object_set_new(json_object_get(o, "error"), "param", json_null());
    if (o && !code)
        json_object_set_new(json_object_get(o, "error"), "code", json_null());
    char *s = o ? json_dumps(o, PW_JSON_WIRE) : NULL;
    json_decref(o);
    return s;
}

/* "/messages/2/content" -> "messages[2].content" (OpenAI's `param`). */
static void pointer_to_param(const char *ptr, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = ptr; *p && n + 2 < size;) {
        if (*p != '/') {
            out[n++] = *p++;
            continue;
        }
        p++;
        size_t len = strcspn(p, "/");
        bool index = len > 0 && strspn(p, "0123456789") == len;
        int w = index ? snprintf(out + n, size - n, "[%.*s]", (int)len, p)
                      : snprintf(out + n, size - n, "%s%.*s", n ? "." : "", (int)len, p);
        if (w < 0 || (size_t)w >= size - n)
            break;
        n += (size_t)w;
        p += len;
    }
    out[n < size ? n : size - 1] = '\0';
}

static const struct {
    enum pw_err code;
    const char *name;
} codes[] = {
    {PW_ERR_RATE_LIMITED, "rate_limit_exceeded"},
    {PW_ERR_TIMEOUT, "timeout"},
    {PW_ERR_TOO_LARGE, "request_too_large"},
    {PW_ERR_AUTH, "invalid_api_key"},
};

void bridge_respond_error(struct pw_server_req *r, const struct pw_error *err,
                          const char *products)
{
    char param[PARAM_MAX];
    pointer_to_param(err->pointer, param, sizeof param);
    const char *code = NULL;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == err->code)
            code = codes[i].name;
    if (err->code == PW_ERR_NOT_FOUND && strcmp(err->pointer, "/model") == 0)
        code = "model_not_found";
    char *body = bridge_error_body(err->message, pw_err_openai_type(err->code),
                                   param[0] ? param : NULL, code);
    const char *hdrs[] = {"x-pennyworth-context-products", products ? products : "", NULL};
    int status = pw_err_http_status(err->code);
    pw_server_req_respond(r, status, "application/json", hdrs, body ? body : "",
                          body ? strlen(body) : 0);
    free(body);
}

/* The route's `error` function: the server's own 4xx/5xx, OpenAI-shaped. */
static void route_error(struct pw_server_req *r, int status, const char *message, void *ud)
{
    (void)ud;
    char *body = bridge_error_body(message, pw_http_status_openai_type(status), NULL,
                                   status == 413 ? "request_too_large" : NULL);
    const char *hdrs[] = {"x-pennyworth-context-products", "", NULL};
    pw_server_req_respond(r, status, "application/json", hdrs, body ? body : "",
                          body ? strlen(body) : 0);
    free(body);
}

static void fail(struct pw_server_req *r, enum pw_err code, const char *pointer,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void fail(struct pw_server_req *r, enum pw_err code, const char *pointer,
                 const char *fmt, ...)
{
    struct pw_error e = {0};
    va_list ap;
    va_start(ap, fmt);
    pw_error_setv(&e, code, pointer, fmt, ap);
    va_end(ap);
    bridge_respond_error(r, &e, NULL);
}

/* 405, with the methods the route takes. */
static void wrong_method(struct pw_server_req *r, const char *allow)
{
    char msg[160];
    snprintf(msg, sizeof msg, "Method %s is not allowed on %s; use %s.",
             pw_server_req_method(r), pw_server_req_path(r), allow);
    char *body = bridge_error_body(msg, "invalid_request_error", NULL, "method_not_allowed");
    const char *hdrs[] = {"allow", allow, "x-pennyworth-context-products", "", NULL};
    pw_server_req_respond(r, 405, "application/json", hdrs, body ? body : "",
                          body ? strlen(body) : 0);
    free(body);
}

/* Validation ----------------------------------------------------------------------------------- */

enum {
    T_NULL = 1 << 0,
    T_BOOL = 1 << 1,
    T_INT = 1 << 2,
    T_NUM = 1 << 3,
    T_STR = 1 << 4,
    T_ARR = 1 << 5,
    T_OBJ = 1 << 6,
};

static unsigned type_of(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL: return T_NULL;
    case JSON_TRUE:
    case JSON_FALSE: return T_BOOL;
    case JSON_INTEGER: return T_INT | T_NUM;
    case JSON_REAL: return T_NUM;
    case JSON_STRING: return T_STR;
    case JSON_ARRAY: return T_ARR;
    case JSON_OBJECT: return T_OBJ;
    }
    return 0;
}

static const char *type_words(unsigned t)
{
    if (t & T_OBJ) return t & T_STR ? "a string or an object" : "an object";
    if (t & T_ARR) return t & T_STR ? "a string or an array" : "an array";
    if (t & T_STR) return "a string";
    if (t & T_BOOL) return "a boolean";
    if (t & T_INT && !(t & T_NUM)) return "an integer";
    if (t & T_NUM) return "a number";
    return "null";
}

static const char *got_words(json_t *v)
{
    static const char *const names[] = {"an object", "an array", "a string", "an integer",
                                        "a number", "a boolean", "a boolean", "null"};
    return names[json_typeof(v)];
}

/* The top-level fields we read or document, with the types they take.
 * Integers are also numbers (T_INT sets T_NUM); an integer-only field is
 * T_INT alone. */
static const struct {
    const char *name;
    unsigned types;
} fields[] = {
    {"model", T_STR},
    {"messages", T_ARR},
    {"stream", T_BOOL | T_NULL},
    {"stream_options", T_OBJ | T_NULL},
    {"temperature", T_NUM | T_NULL},
    {"top_p", T_NUM | T_NULL},
    {"max_tokens", T_INT | T_NULL},
    {"max_completion_tokens", T_INT | T_NULL},
    {"n", T_INT | T_NULL},
    {"stop", T_STR | T_ARR | T_NULL},
    {"tools", T_ARR | T_NULL},
    {"tool_choice", T_STR | T_OBJ | T_NULL},
    {"parallel_tool_calls", T_BOOL | T_NULL},
    {"response_format", T_OBJ | T_NULL},
    {"user", T_STR | T_NULL},
    {"seed", T_INT | T_NULL},
    {"presence_penalty", T_NUM | T_NULL},
    {"frequency_penalty", T_NUM | T_NULL},
    {"context", T_STR},
};

/* Numeric fields and the ranges OpenAI documents for them. */
static const struct {
    const char *name;
    double min, max;
} ranges[] = {
    {"temperature", 0, 2},
    {"top_p", 0, 1},
    {"max_tokens", 1, 1e12},
    {"max_completion_tokens", 1, 1e12},
    {"n", 1, 128},
    {"presence_penalty", -2, 2},
    {"frequency_penalty", -2, 2},
};

static const char *const roles[] = {"system", "developer", "user", "assistant", "tool",
                                    "function"};

static bool check_type(struct pw_error *e, json_t *v, unsigned want, const char *ptr)
{
    unsigned t = type_of(v);
    bool ok = (want & T_INT) && !(want & T_NUM) ? (t & T_INT) || (t & T_NULL & want)
                                                : (t & want) != 0;
    if (ok)
        return true;
    char param[PARAM_MAX];
    pointer_to_param(ptr, param, sizeof param);
    pw_error_set(e, PW_ERR_INVALID, ptr, "Invalid type for '%s': expected %s, but got %s instead.",
         param, type_words(want), got_words(v));
    return false;
}

static bool check_message(struct pw_error *e, json_t *m, size_t i)
{
    char ptr[64];
    snprintf(ptr, sizeof ptr, "/messages/%zu", i);
    if (!check_type(e, m, T_OBJ, ptr))
        return false;
    json_t *role = json_object_get(m, "role");
    snprintf(ptr, sizeof ptr, "/messages/%zu/role", i);
    if (!role) {
        pw_error_set(e, PW_ERR_INVALID, ptr, "Missing required parameter: 'messages[%zu].role'.",
                     i);
        return false;
    }
    if (!check_type(e, role, T_STR, ptr))
        return false;
    bool known = false;
    for (size_t k = 0; k < sizeof roles / sizeof roles[0]; k++)
        known = known || strcmp(roles[k], json_string_value(role)) == 0;
    if (!known) {
        pw_error_set(e, PW_ERR_INVALID, ptr,
             "Invalid value: '%.40s'. Supported values are: 'system', 'developer', 'user', "
             "'assistant', 'tool' and 'function'.",
             json_string_value(role));
        return false;
    }
    json_t *content = json_object_get(m, "content");
    snprintf(ptr, sizeof ptr, "/messages/%zu/content", i);
    bool assistant = strcmp(json_string_value(role), "assistant") == 0;
    if (!content && !assistant) {
        pw_error_set(e, PW_ERR_INVALID, ptr, "Missing required parameter: 'messages[%zu].content'.",
             i);
        return false;
    }
    if (content && !check_type(e, content, T_STR | T_ARR | (assistant ? T_NULL : 0), ptr))
        return false;
    size_t j;
    json_t *part;
    json_array_foreach(content, j, part) {
        char pptr[80];
        snprintf(pptr, sizeof pptr, "/messages/%zu/content/%zu", i, j);
        if (!check_type(e, part, T_OBJ, pptr))
            return false;
        snprintf(pptr, sizeof pptr, "/messages/%zu/content/%zu/type", i, j);
        json_t *type = json_object_get(part, "type");
        if (!type) {
            pw_error_set(e, PW_ERR_INVALID, pptr,
                 "Missing required parameter: 'messages[%zu].content[%zu].type'.", i, j);
            return false;
        }
        if (!check_type(e, type, T_STR, pptr))
            return false;
    }
    if (strcmp(json_string_value(role), "tool") == 0) {
        json_t *id = json_object_get(m, "tool_call_id");
        snprintf(ptr, sizeof ptr, "/messages/%zu/tool_call_id", i);
        if (!id) {
            pw_error_set(e, PW_ERR_INVALID, ptr,
                 "Missing required parameter: 'messages[%zu].tool_call_id'.", i);
            return false;
        }
        if (!check_type(e, id, T_STR, ptr))
            return false;
    }
    json_t *calls = json_object_get(m, "tool_calls");
    snprintf(ptr, sizeof ptr, "/messages/%zu/tool_calls", i);
    if (calls && !check_type(e, calls, T_ARR | T_NULL, ptr))
        return false;
    return true;
}

bool bridge_chat_validate(json_t *body, struct pw_error *e)
{
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        json_t *v = json_object_get(body, fields[i].name);
        char ptr[64];
        snprintf(ptr, sizeof ptr, "/%s", fields[i].name);
        if (!v) {
            if (i < 2) { /* model and messages are required */
                pw_error_set(e, PW_ERR_INVALID, ptr, "Missing required parameter: '%s'.",
                     fields[i].name);
                return false;
            }
            continue;
        }
        if (!check_type(e, v, fields[i].types, ptr))
            return false;
    }
    json_t *msgs = json_object_get(body, "messages");
    if (json_array_size(msgs) == 0) {
        pw_error_set(e, PW_ERR_INVALID, "/messages",
             "Invalid 'messages': empty array. Expected an array with minimum length 1.");
        return false;
    }
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
        if (!check_message(e, m, i))
            return false;
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
        json_t *v = json_object_get(body, ranges[k].name);
        double x = json_number_value(v);
        if (!json_is_number(v) || (x >= ranges[k].min && x <= ranges[k].max))
            continue;
        char ptr[64];
        snprintf(ptr, sizeof ptr, "/%s", ranges[k].name);
        pw_error_set(e, PW_ERR_INVALID, ptr, "Invalid '%s': %g is out of range [%g, %g].",
             ranges[k].name, x, ranges[k].min, ranges[k].max);
        return false;
    }
    json_t *ctx = json_object_get(body, "context");
    enum bridge_mode mode;
    if (ctx && !bridge_mode_parse(json_string_value(ctx), &mode)) {
        pw_error_set(e, PW_ERR_INVALID, "/context",
             "Invalid value for 'context': expected 'auto', 'tools' or 'off'.");
        return false;
    }
    json_t *so = json_object_get(body, "stream_options");
    json_t *iu = json_object_get(so, "include_usage");
    if (iu && !check_type(e, iu, T_BOOL, "/stream_options/include_usage"))
        return false;
    json_t *tools;
    json_array_foreach((tools = json_object_get(body, "tools")), i, m) {
        char ptr[64];
        snprintf(ptr, sizeof ptr, "/tools/%zu", i);
        if (!check_type(e, m, T_OBJ, ptr))
            return false;
    }
    return true;
}

/* Routes --------------------------------------------------------------------------------------- */

void bridge_report_model(struct pw_server_req *r, const char *model)
{
    struct pw_server_usage u = {.model = model ? model : "", .cost_micros = -1};
    pw_server_ctx_usage(pw_server_req_ctx(r), &u);
}

/* The response cache key of a request; false when the cache is off, the
 * request is not cacheable or the hooks keep it out. */
static bool cache_key(struct pw_bridge *b, struct pw_server_req *r, const json_t *body,
                      enum bridge_mode mode, struct bridge_cache_key *key)
{
    char partition[512] = "";
    if (!b->cache || (b->hooks.cache_partition &&
                      !b->hooks.cache_partition(b->hooks.ud, pw_server_req_ctx(r), partition,
                                                sizeof partition)))
        return false;
    return bridge_cache_key(body, (int)mode, partition, key);
}

/* Answers from the cache (X-Cache: HIT): no upstream, no tokens. False on
 * a miss; `body` stays the caller's either way. */
static bool cache_answer(struct pw_bridge *b, struct pw_server_req *r, const json_t *body,
                         const struct bridge_cache_key *key)
{
    const char *products = "";
    const char *text = bridge_cache_get(b->cache, key, pw_clock_ms(), &products);
    if (!text)
        return false;
    bridge_report_model(r, json_string_value(json_object_get(body, "model")));
    const char *hdrs[] = {"x-cache", "HIT", "x-pennyworth-context-products", products, NULL};
    pw_server_req_respond(r, 200, "application/json", hdrs, text, strlen(text));
    return true;
}

static void on_chat(struct pw_server_req *r, void *ud)
{
    struct pw_bridge *b = ud;
    if (strcmp(pw_server_req_method(r), "POST") != 0) {
        wrong_method(r, "POST");
        return;
    }
    if (!pw_server_req_is_json(r)) {
        /* A cross-site page can POST text/plain without a preflight; it
         * must not spend the operator's provider credentials. */
        route_error(r, 415, "Unsupported Media Type: Content-Type must be application/json",
                    NULL);
        return;
    }
    size_t len;
    const char *text = pw_server_req_body(r, &len);
    json_error_t je;
    json_t *body = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(body)) {
        json_decref(body);
        fail(r, PW_ERR_INVALID, NULL,
             "We could not parse the JSON body of your request. (HINT: This likely means "
             "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
             "payload.) %s",
             body ? "The body is not a JSON object." : je.text);
        return;
    }
    const struct bridge_alias *alias = NULL;
    enum bridge_mode mode = BRIDGE_CTX_AUTO;
    struct pw_error e = {0};
    char hv[32];
    int hl = pw_server_req_header(r, "x-pennyworth-context", hv, sizeof hv);
    json_t *field = json_object_get(body, "context");
    if (!bridge_chat_validate(body, &e)) {
        /* e names the field */
    } else if (hl == -2 || (hl >= 0 && !bridge_mode_parse(hv, &mode))) {
        pw_error_set(&e, PW_ERR_INVALID, NULL,
                     "Invalid X-Pennyworth-Context header: expected auto, tools or off.");
    } else {
        if (hl < 0 && field)
            bridge_mode_parse(json_string_value(field), &mode); /* validated */
        const char *model = json_string_value(json_object_get(body, "model"));
        alias = bridge_config_route(b->cfg, model, &e);
    }
    if (!alias) {
        bridge_report_model(r, json_string_value(json_object_get(body, "model")));
        bridge_respond_error(r, &e, NULL);
        json_decref(body);
        return;
    }
    if (hl < 0 && !field)
        mode = alias->has_mode ? alias->mode : BRIDGE_CTX_AUTO;
    json_object_del(body, "context");
    struct bridge_cache_key key;
    if (!cache_key(b, r, body, mode, &key)) {
        bridge_exchange_start(b, r, body, alias, mode, NULL);
    } else if (cache_answer(b, r, body, &key)) {
        json_decref(body);
    } else {
        const char *miss[] = {"x-cache", "MISS", NULL};
        pw_server_req_add_headers(r, miss);
        bridge_exchange_start(b, r, body, alias, mode, &key);
    }
}

static void on_models(struct pw_server_req *r, void *ud)
{
    struct pw_bridge *b = ud;
    if (strcmp(pw_server_req_method(r), "GET") != 0) {
        wrong_method(r, "GET");
        return;
    }
    const struct pw_server_ctx *ctx = pw_server_req_ctx(r);
    json_t *data = json_array();
    /* The aliases, then the default model when it is not one of them (a
     * prefix-routed default, or the offline model), so that a client that
     * takes the first listed model (the page) takes what is configured. */
    char def[PW_BRIDGE_MODEL_MAX];
    pw_bridge_default_model(b, def, sizeof def);
    for (size_t i = 0; data && i <= b->cfg->naliases; i++) {
        const char *name = i < b->cfg->naliases ? b->cfg->aliases[i].name : def;
        if ((i == b->cfg->naliases && (!def[0] || b->cfg->naliases)) ||
            (b->hooks.model_visible && !b->hooks.model_visible(b->hooks.ud, ctx, name)))
            continue;
        json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s}", "id", name, "object",
                                              "model", "created", 0, "owned_by",
                                              "pennyworth"));
    }
    json_t *doc = json_pack("{s:s, s:o}", "object", "list", "data", data);
    char *s = doc ? json_dumps(doc, PW_JSON_WIRE) : NULL;
    json_decref(doc);
    if (!s) {
        fail(r, PW_ERR_NOMEM, NULL, "out of memory");
        return;
    }
    pw_server_req_respond(r, 200, "application/json", NULL, s, strlen(s));
    free(s);
}

static void on_unknown(struct pw_server_req *r, void *ud)
{
    (void)ud;
    struct pw_error e = {0};
    pw_error_set(&e, PW_ERR_METHOD, NULL, "Unknown request URL: %s %s.", pw_server_req_method(r),
                 pw_server_req_path(r));
    bridge_respond_error(r, &e, NULL);
}

static void on_close(struct pw_server_req *r, void *ud)
{
    (void)ud;
    struct bridge_exchange *x = pw_server_req_data(r);
    if (x)
        bridge_exchange_closed(x);
}

static const struct pw_server_handler chat_handler = {
    .on_request = on_chat, .on_close = on_close, .error = route_error};
static const struct pw_server_handler models_handler = {
    .on_request = on_models, .on_close = on_close, .error = route_error};
static const struct pw_server_handler unknown_handler = {
    .on_request = on_unknown, .on_close = on_close, .error = route_error};

/* `admitted`: the route carries the bridge's admission class. */
static const struct {
    const char *path;
    unsigned flags;
    const char *methods;
    bool admitted;
    const struct pw_server_handler *h;
} routes[] = {
    {"/v1/chat/completions", PW_SERVER_ROUTE_ORIGIN | PW_SERVER_ROUTE_CORS, "POST", true,
     &chat_handler},
    {"/api/v1/completions", PW_SERVER_ROUTE_ORIGIN | PW_SERVER_ROUTE_CORS, "POST", true,
     &chat_handler},
    {"/v1/models", PW_SERVER_ROUTE_ORIGIN | PW_SERVER_ROUTE_CORS, "GET", true,
     &models_handler},
    {"/v1/", PW_SERVER_ROUTE_PREFIX | PW_SERVER_ROUTE_ORIGIN, NULL, false, &unknown_handler},
};

/* Life cycle ----------------------------------------------------------------------------------- */

static void wake(void *ud) { pw_server_wake(ud); } /* any thread */

static void on_wake(void *ud)
{
    struct pw_bridge *b = ud;
    bridge_upstream_dispatch(b->up);
    if (b->ctx)
        bridge_context_dispatch(b->ctx);
}

static void on_tick(void *ud) { bridge_exchanges_tick(ud); }

enum pw_err pw_bridge_new(const struct pw_bridge_options *opt, struct pw_bridge **out,
                          struct pw_error *err)
{
    *out = NULL;
    struct pw_bridge *b = calloc(1, sizeof *b);
    if (!b)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "bridge: out of memory");
    enum pw_err rc = bridge_config_load(opt ? opt->config_path : NULL, &b->cfg, err);
    if (rc != PW_OK) {
        free(b);
        return rc;
    }
    if (opt && opt->hooks)
        b->hooks = *opt->hooks;
    b->admit_class = opt ? opt->admit_class : 0;
    if (opt && opt->cache_ttl_ms > 0 &&
        bridge_cache_new(opt->cache_entries ? opt->cache_entries : 1000,
                         opt->cache_bytes ? opt->cache_bytes : (size_t)64 << 20,
                         opt->cache_ttl_ms, &b->cache) != PW_OK) {
        bridge_config_free(b->cfg);
        free(b);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "bridge: out of memory");
    }
    for (size_t i = 0; i < b->cfg->npool; i++)
        bridge_observe_circuit(b->cfg->pool[i]->label, false);
    b->mcp = opt ? opt->mcp : NULL;
    b->rng = ((unsigned long long)time(NULL) << 20) ^ (unsigned long long)(uintptr_t)b ^
             0x9e3779b97f4a7c15ULL;
    *out = b;
    return PW_OK;
}

enum pw_err pw_bridge_attach(struct pw_bridge *b, struct pw_server *srv, struct pw_error *err)
{
    b->srv = srv;
    enum pw_err rc = bridge_upstream_new(wake, srv, &b->up, err);
    if (rc == PW_OK && b->mcp)
        rc = bridge_context_new(b->mcp, wake, srv, &b->ctx, err);
    for (size_t i = 0; rc == PW_OK && i < sizeof routes / sizeof routes[0]; i++) {
        struct pw_server_route route = {
            .path = routes[i].path,
            .flags = routes[i].flags,
            .max_body = MAX_BODY,
            .handler = routes[i].h,
            .ud = b,
            .admit = routes[i].admitted ? b->admit_class : 0,
            .methods = routes[i].methods,
        };
        rc = pw_server_add_route(srv, &route, err);
    }
    if (rc == PW_OK)
        rc = pw_server_on_wake(srv, on_wake, b, err);
    if (rc == PW_OK)
        rc = pw_server_add_timer(srv, TICK_MS, on_tick, b, err);
    return rc;
}

void pw_bridge_default_model(const struct pw_bridge *b, char *buf, size_t size)
{
    bridge_config_default_model(b->cfg, buf, size);
}

size_t pw_bridge_circuits(const struct pw_bridge *b, struct pw_bridge_circuit *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < b->cfg->npool; i++, n++)
        if (n < max)
            out[n] = (struct pw_bridge_circuit){b->cfg->pool[i]->label,
                                                b->cfg->pool[i]->breaker.state == BRIDGE_OPEN};
    return n; /* the pool holds prefix-routed deployments too (config.c) */
}

void pw_bridge_free(struct pw_bridge *b)
{
    if (!b)
        return;
    bridge_exchanges_free(b);
    bridge_context_free(b->ctx);
    bridge_upstream_free(b->up);
    bridge_config_free(b->cfg);
    bridge_cache_free(b->cache);
    free(b);
}
