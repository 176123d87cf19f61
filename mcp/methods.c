/*
 * The MCP methods a server answers, as a table: one row per method, with
 * the handler and whether it is allowed before initialize. Handlers that
 * answer from the registry reply at once; those that reach a registered
 * handler (tools/call, resources/read, prompts/get, completion/complete,
 * resources/list with listing templates) make a call (call.c) that is
 * answered whenever the handler finishes.
 *
 * Parameter errors are JSON-RPC errors (-32602) naming the parameter; tool
 * argument errors are tool results with isError, as the spec asks, so a
 * model can read them and correct itself.
 *
 * Loop thread only.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mcp/mcp-int.h"
#include "mcp/modern-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/jsonschema.h"
#include "pennyworth/log.h"

static void reply(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id, json_t *result)
{
    mcp_session_reply(s, b, id, result, false);
}

static void fail(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id, int code,
                 const char *msg, json_t *data_new)
{
    mcp_session_reply(s, b, id, mcp_error_object(code, msg, data_new), true);
}

static void fail_err(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                     const struct pw_error *e)
{
    mcp_session_reply(s, b, id, mcp_error_from(e), true);
}

/* A required string parameter, or NULL after answering -32602. */
static const char *need_string(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                               json_t *params, const char *name)
{
    json_t *v = params ? json_object_get(params, name) : NULL;
    if (json_is_string(v))
        return json_string_value(v);
    char msg[160];
    snprintf(msg, sizeof msg, "Invalid params: %s %s", name,
             v ? "must be a string" : "is required");
    fail(s, b, id, MCP_INVALID_PARAMS, msg, NULL);
    return NULL;
}

/* Starts a call to a registered handler; answers an error if out of memory. */
static struct pw_mcp_call *new_call(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                                    const char *method, json_t *params)
{
    struct pw_mcp_call *c = mcp_call_new(s, b, id, method, params);
    if (!c)
        fail(s, b, id, MCP_INTERNAL_ERROR, "out of memory", NULL);
    return c;
}

/* Lifecycle ------------------------------------------------------------------ */

static void initialize(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                       json_t *params)
{
    if (s->state != MCP_NEW) {
        fail(s, b, id, MCP_INVALID_REQUEST, "Invalid Request: the session is already initialized",
             NULL);
        return;
    }
    const char *asked = need_string(s, b, id, params, "protocolVersion");
    if (!asked)
        return;
    json_t *caps = json_object_get(params, "capabilities");
    if (caps && !json_is_object(caps)) {
        fail(s, b, id, MCP_INVALID_PARAMS, "Invalid params: capabilities must be an object", NULL);
        return;
    }
    /* The asked revision if we speak it, else our latest: the client decides
     * whether it can live with that. */
    s->version = NULL;
    for (int i = 0; pw_mcp_versions[i]; i++)
        if (strcmp(pw_mcp_versions[i], asked) == 0)
            s->version = pw_mcp_versions[i];
    if (!s->version)
        s->version = PW_MCP_LATEST_VERSION;
    if (caps) {
        json_decref(s->client_caps);
        s->client_caps = json_incref(caps);
    }
    json_t *info = json_object_get(params, "clientInfo");
    if (json_is_object(info))
        s->client_info = json_incref(info);
    s->state = MCP_READY;

    struct pw_mcp_server *srv = s->srv;
    json_t *server_info = json_pack("{s:s, s:s}", "name", srv->name, "version", srv->version);
    if (srv->title)
        json_object_set_new(server_info, "title", json_string(srv->title));
    json_t *result = json_pack("{s:s, s:o, s:o}", "protocolVersion", s->version,
                               "capabilities", mcp_capabilities(srv), "serverInfo", server_info);
    if (srv->instructions)
        json_object_set_new(result, "instructions", json_string(srv->instructions));
    reply(s, b, id, result);
}

static void initialized(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                        json_t *params)
{
    if (s->state == MCP_READY)
        s->state = MCP_OPERATING;
}

static void ping(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id, json_t *params)
{
    reply(s, b, id, json_object());
}

static void cancelled(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id, json_t *params)
{
    json_t *rid = params ? json_object_get(params, "requestId") : NULL;
    if (!mcp_valid_id(rid) || mcp_listen_cancel(s, rid))
        return;
    struct pw_mcp_call *c = mcp_session_find_call(s, rid);
    if (c && strcmp(c->method, "initialize") != 0)
        mcp_call_detach(c);
}

static void set_level(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                      json_t *params)
{
    const char *level = need_string(s, b, id, params, "level");
    if (!level)
        return;
    int i = mcp_log_level_index(level);
    if (i < 0) {
        fail(s, b, id, MCP_INVALID_PARAMS,
             "Invalid params: level must be one of debug, info, notice, warning, error, "
             "critical, alert, emergency", NULL);
        return;
    }
    s->log_level = i;
    reply(s, b, id, json_object());
}

/* Lists ------------------------------------------------------------------------ */

static void list_of(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id, json_t *params,
                    struct mcp_vec *v, const char *key)
{
    struct pw_error e = {0};
    json_t *page = mcp_list_page(s->srv, v, key, params, &e);
    if (page)
        reply(s, b, id, page);
    else
        fail_err(s, b, id, &e);
}

static void tools_list(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id, json_t *params)
{
    list_of(s, b, id, params, &s->srv->tools, "tools");
}

static void prompts_list(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                         json_t *params)
{
    list_of(s, b, id, params, &s->srv->prompts, "prompts");
}

static void templates_list(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                           json_t *params)
{
    list_of(s, b, id, params, &s->srv->templates, "resourceTemplates");
}

/*
 * resources/list: the static resources, then the concrete resources each
 * listing template enumerates, page by page. The cursor carries
 * "<template index>|<that template's own cursor>".
 */
static size_t next_lister(struct pw_mcp_server *srv, size_t from)
{
    while (from < srv->templates.len && !((struct mcp_template *)srv->templates.items[from])->list)
        from++;
    return from;
}

static json_t *resources_list_hook(struct pw_mcp_call *c, json_t *result)
{
    struct pw_mcp_server *srv = c->srv;
    size_t idx = (size_t)json_integer_value(json_object_get(c->hook_data, "index"));
    json_t *statics = json_object_get(c->hook_data, "statics");
    json_t *items = json_object_get(result, "resources");
    if (!json_is_array(items)) {
        pw_errorlog("mcp: a resource template lister returned no resources array");
        json_object_set_new(result, "resources", json_array());
        items = json_object_get(result, "resources");
    }
    if (statics) {
        json_array_extend(statics, items);
        json_object_set(result, "resources", statics);
    }
    json_t *inner = json_object_get(result, "nextCursor");
    char payload[MCP_CURSOR_MAX - 32];
    bool more = true;
    if (json_is_string(inner) &&
        strlen(json_string_value(inner)) < sizeof payload - 24) {
        snprintf(payload, sizeof payload, "%zu|%s", idx, json_string_value(inner));
    } else {
        size_t n = next_lister(srv, idx + 1);
        more = n < srv->templates.len;
        snprintf(payload, sizeof payload, "%zu|", n);
    }
    if (more) {
        char *cur = mcp_cursor_encode("resources", payload);
        json_object_set_new(result, "nextCursor", json_string(cur));
        free(cur);
    } else {
        json_object_del(result, "nextCursor");
    }
    return result;
}

static void resources_list(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                           json_t *params)
{
    struct pw_mcp_server *srv = s->srv;
    size_t idx = next_lister(srv, 0);
    const char *inner = NULL;
    char payload[MCP_CURSOR_MAX];
    json_t *cursor = params ? json_object_get(params, "cursor") : NULL;
    bool first = !cursor || json_is_null(cursor);
    if (!first) {
        struct pw_error e = {0};
        char *bar, *end;
        if (!json_is_string(cursor) ||
            mcp_cursor_decode("resources", json_string_value(cursor), payload, sizeof payload,
                              &e) != PW_OK ||
            !(bar = strchr(payload, '|'))) {
            pw_error_set(&e, PW_ERR_INVALID, "/cursor", "cursor: not a resources/list cursor");
            fail_err(s, b, id, &e);
            return;
        }
        *bar = '\0';
        idx = (size_t)strtoul(payload, &end, 10);
        if (*end || idx >= srv->templates.len ||
            !((struct mcp_template *)srv->templates.items[idx])->list) {
            pw_error_set(&e, PW_ERR_INVALID, "/cursor", "cursor: not a resources/list cursor");
            fail_err(s, b, id, &e);
            return;
        }
        inner = bar[1] ? bar + 1 : NULL;
    }
    json_t *statics = NULL;
    if (first) {
        statics = json_array();
        for (size_t i = 0; i < srv->resources.len; i++)
            json_array_append(statics, ((struct mcp_entry *)srv->resources.items[i])->desc);
    }
    if (idx >= srv->templates.len) {
        reply(s, b, id, json_pack("{s:o}", "resources", statics ? statics : json_array()));
        return;
    }
    struct mcp_template *t = srv->templates.items[idx];
    struct pw_mcp_call *c = new_call(s, b, id, "resources/list", params);
    if (!c) {
        json_decref(statics);
        return;
    }
    c->finish_hook = resources_list_hook;
    c->hook_data = json_pack("{s:I}", "index", (json_int_t)idx);
    if (statics)
        json_object_set_new(c->hook_data, "statics", statics);
    json_t *hp = json_pack("{s:i}", "limit", srv->opt.page_size);
    if (inner)
        json_object_set_new(hp, "cursor", json_string(inner));
    mcp_call_start(c, t->list, t->ud, t->flags, hp);
}

/* Tools ------------------------------------------------------------------------- */

/* Checks structuredContent against the tool's outputSchema: a mismatch is
 * our bug, reported as a tool error rather than sent as a lie. */
static json_t *tool_output_hook(struct pw_mcp_call *c, json_t *result)
{
    json_t *sc = json_object_get(result, "structuredContent");
    if (!sc || json_is_true(json_object_get(result, "isError")))
        return result;
    struct pw_error e = {0};
    if (pw_jsonschema_validate(c->hook_schema, sc, &e) == PW_OK)
        return result;
    pw_errorlog("mcp: tool output does not match its outputSchema: %s (at %s)", e.message,
                e.pointer);
    json_decref(result);
    return pw_mcp_tool_error("internal error: the tool's output did not match its outputSchema");
}

static void tools_call(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                       json_t *params)
{
    const char *name = need_string(s, b, id, params, "name");
    if (!name)
        return;
    struct mcp_tool *t = mcp_find_tool(s->srv, name);
    if (!t) {
        char msg[300];
        snprintf(msg, sizeof msg, "Unknown tool: %.200s", name);
        fail(s, b, id, MCP_INVALID_PARAMS, msg, NULL);
        return;
    }
    json_t *args = json_object_get(params, "arguments");
    if (args && !json_is_object(args) && !json_is_null(args)) {
        fail(s, b, id, MCP_INVALID_PARAMS, "Invalid params: arguments must be an object", NULL);
        return;
    }
    args = json_is_object(args) ? json_incref(args) : json_object();
    struct pw_error e = {0};
    if (pw_jsonschema_validate(t->input, args, &e) != PW_OK) {
        json_decref(args);
        reply(s, b, id, pw_mcp_tool_error("Invalid arguments for tool %s: %s", name, e.message));
        return;
    }
    struct pw_mcp_call *c = new_call(s, b, id, "tools/call", params);
    if (!c) {
        json_decref(args);
        return;
    }
    if (t->output) {
        c->finish_hook = tool_output_hook;
        c->hook_schema = t->output;
    }
    mcp_observe_tool_begin(c, name);
    mcp_call_start(c, t->handler, t->ud, t->flags, args);
}

/* Resources ------------------------------------------------------------------ */

static void not_found(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                      const char *uri)
{
    char msg[300];
    snprintf(msg, sizeof msg, "Resource not found: %.200s", uri);
    fail(s, b, id, MCP_RESOURCE_NOT_FOUND, msg, json_pack("{s:s}", "uri", uri));
}

static void resources_read(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                           json_t *params)
{
    const char *uri = need_string(s, b, id, params, "uri");
    if (!uri)
        return;
    struct mcp_resource *r = mcp_find_resource(s->srv, uri);
    json_t *vars = NULL;
    struct mcp_template *t = r ? NULL : mcp_match_template(s->srv, uri, &vars);
    if (!r && !t) {
        not_found(s, b, id, uri);
        return;
    }
    struct pw_mcp_call *c = new_call(s, b, id, "resources/read", params);
    if (!c) {
        json_decref(vars);
        return;
    }
    if (r)
        mcp_call_start(c, r->read, r->ud, r->flags, json_pack("{s:s}", "uri", uri));
    else
        mcp_call_start(c, t->read, t->ud, t->flags,
                       json_pack("{s:s, s:o}", "uri", uri, "vars", vars));
}

static void subscribe(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                      json_t *params)
{
    const char *uri = need_string(s, b, id, params, "uri");
    if (!uri)
        return;
    json_t *vars = NULL;
    if (!mcp_find_resource(s->srv, uri) && !mcp_match_template(s->srv, uri, &vars)) {
        not_found(s, b, id, uri);
        return;
    }
    json_decref(vars);
    for (size_t i = 0; i < s->nsubs; i++) {
        if (strcmp(s->subs[i], uri) == 0) {
            reply(s, b, id, json_object());
            return;
        }
    }
    if (s->nsubs >= MCP_MAX_SUBSCRIPTIONS) {
        fail(s, b, id, MCP_INVALID_REQUEST, "Too many subscriptions on this session", NULL);
        return;
    }
    char **subs = realloc(s->subs, (s->nsubs + 1) * sizeof *subs);
    char *copy = strdup(uri);
    if (!subs || !copy) {
        if (subs)
            s->subs = subs;
        free(copy);
        fail(s, b, id, MCP_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    s->subs = subs;
    s->subs[s->nsubs++] = copy;
    reply(s, b, id, json_object());
}

static void unsubscribe(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                        json_t *params)
{
    const char *uri = need_string(s, b, id, params, "uri");
    if (!uri)
        return;
    for (size_t i = 0; i < s->nsubs; i++) {
        if (strcmp(s->subs[i], uri) == 0) {
            free(s->subs[i]);
            s->subs[i] = s->subs[--s->nsubs];
            break;
        }
    }
    reply(s, b, id, json_object());
}

/* Prompts and completion ----------------------------------------------------- */

static void prompts_get(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                        json_t *params)
{
    const char *name = need_string(s, b, id, params, "name");
    if (!name)
        return;
    struct mcp_prompt *p = mcp_find_prompt(s->srv, name);
    char msg[300];
    if (!p) {
        snprintf(msg, sizeof msg, "Invalid params: unknown prompt %.200s", name);
        fail(s, b, id, MCP_INVALID_PARAMS, msg, NULL);
        return;
    }
    json_t *args = json_object_get(params, "arguments");
    if (args && !json_is_object(args) && !json_is_null(args)) {
        fail(s, b, id, MCP_INVALID_PARAMS, "Invalid params: arguments must be an object", NULL);
        return;
    }
    const char *key;
    json_t *val;
    if (json_is_object(args)) {
        json_object_foreach(args, key, val) {
            if (!json_is_string(val)) {
                snprintf(msg, sizeof msg, "Invalid params: argument %.100s must be a string", key);
                fail(s, b, id, MCP_INVALID_PARAMS, msg, NULL);
                return;
            }
        }
    }
    size_t i;
    json_t *decl;
    json_array_foreach(json_object_get(p->base.desc, "arguments"), i, decl) {
        const char *an = json_string_value(json_object_get(decl, "name"));
        if (json_is_true(json_object_get(decl, "required")) &&
            !(json_is_object(args) && json_object_get(args, an))) {
            snprintf(msg, sizeof msg, "Invalid params: missing required argument %.100s", an);
            fail(s, b, id, MCP_INVALID_PARAMS, msg, NULL);
            return;
        }
    }
    struct pw_mcp_call *c = new_call(s, b, id, "prompts/get", params);
    if (c)
        mcp_call_start(c, p->get, p->ud, p->flags,
                       json_is_object(args) ? json_incref(args) : json_object());
}

static void complete(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                     json_t *params)
{
    struct pw_mcp_server *srv = s->srv;
    if (!srv->completer) {
        fail(s, b, id, MCP_METHOD_NOT_FOUND, "Method not found: completion/complete", NULL);
        return;
    }
    json_t *ref = params ? json_object_get(params, "ref") : NULL;
    json_t *arg = params ? json_object_get(params, "argument") : NULL;
    const char *type = json_string_value(json_object_get(ref, "type"));
    if (!json_is_object(ref) || !type ||
        (strcmp(type, "ref/prompt") != 0 && strcmp(type, "ref/resource") != 0)) {
        fail(s, b, id, MCP_INVALID_PARAMS,
             "Invalid params: ref must be {type: ref/prompt|ref/resource, ...}", NULL);
        return;
    }
    if (!json_is_object(arg) || !json_is_string(json_object_get(arg, "name")) ||
        !json_is_string(json_object_get(arg, "value"))) {
        fail(s, b, id, MCP_INVALID_PARAMS,
             "Invalid params: argument must be {name: string, value: string}", NULL);
        return;
    }
    struct pw_mcp_call *c = new_call(s, b, id, "completion/complete", params);
    if (c)
        mcp_call_start(c, srv->completer, srv->completer_ud, srv->completer_flags,
                       json_incref(params));
}

/* Tables --------------------------------------------------------------------- */

static const struct mcp_method methods[] = {
    {"initialize", initialize, MCP_M_BEFORE_INIT},
    {"ping", ping, MCP_M_BEFORE_INIT},
    {"tools/list", tools_list, 0},
    {"tools/call", tools_call, 0},
    {"resources/list", resources_list, 0},
    {"resources/templates/list", templates_list, 0},
    {"resources/read", resources_read, 0},
    {"resources/subscribe", subscribe, 0},
    {"resources/unsubscribe", unsubscribe, 0},
    {"prompts/list", prompts_list, 0},
    {"prompts/get", prompts_get, 0},
    {"completion/complete", complete, 0},
    {"logging/setLevel", set_level, 0},
};

static const struct mcp_method notifications[] = {
    {"notifications/initialized", initialized, 0},
    {"notifications/cancelled", cancelled, 0},
};

static const struct mcp_method *find(const struct mcp_method *rows, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].name, name) == 0)
            return &rows[i];
    return NULL;
}

const struct mcp_method *mcp_find_method(const char *name)
{
    return find(methods, sizeof methods / sizeof methods[0], name);
}

const struct mcp_method *mcp_find_notification(const char *name)
{
    return find(notifications, sizeof notifications / sizeof notifications[0], name);
}
