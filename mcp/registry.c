/*
 * The registry: tools, resources, resource templates and prompts, kept as
 * arrays of entries in registration order (so list results are stable and
 * deterministic), each with its listed JSON description built once.
 *
 * Look-ups are linear: registries hold tens of entries, and a linear scan
 * over a few cache lines beats a hash table at that size. Tool input
 * schemas are parsed and checked at registration so a broken schema is a
 * start-up error, not a per-call surprise.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mcp/mcp-int.h"
#include "mcp/modern-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/jsonschema.h"

bool mcp_vec_push(struct mcp_vec *v, void *item)
{
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        void **items = realloc(v->items, cap * sizeof *items);
        if (!items)
            return false;
        v->items = items;
        v->cap = cap;
    }
    v->items[v->len++] = item;
    return true;
}

static void set_str(json_t *o, const char *key, const char *val)
{
    if (val)
        json_object_set_new(o, key, json_string(val));
}

/* Parses a JSON text that must be an object; NULL with err set otherwise. */
static json_t *parse_object(const char *what, const char *text, struct pw_error *err)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        pw_error_set(err, PW_ERR_INVALID, NULL, "%s: not a JSON object (%s)", what,
                     j ? "wrong type" : je.text);
        return NULL;
    }
    return j;
}

/* Frees any registry entry (each kind starts with struct mcp_entry). */
static void entry_free(void *item)
{
    struct mcp_entry *e = item;
    free(e->key);
    json_decref(e->desc);
    free(e);
}

static void tool_free(struct mcp_tool *t)
{
    pw_jsonschema_free(t->input);
    pw_jsonschema_free(t->output);
    entry_free(t);
}

static void notify_all(struct pw_mcp_server *srv, const char *method)
{
    for (struct pw_mcp_session *s = srv->sessions; s; s = s->next)
        if (s->state != MCP_NEW)
            mcp_send(s, mcp_notification(method, NULL), NULL);
    mcp_listen_list_changed(srv, method);
}

enum pw_err pw_mcp_server_add_tool(struct pw_mcp_server *srv, const struct pw_mcp_tool *t,
                                   struct pw_error *err)
{
    if (!t->name || !t->handler || !t->input_schema)
        return pw_error_set(err, PW_ERR_INVALID, NULL,
                            "tool: name, handler and input schema are required");
    if (mcp_find_tool(srv, t->name))
        return pw_error_set(err, PW_ERR_INVALID, NULL, "tool %s: already registered", t->name);
    json_t *in = parse_object("inputSchema", t->input_schema, err);
    if (!in)
        return PW_ERR_INVALID;
    json_t *desc = json_pack("{s:s}", "name", t->name);
    set_str(desc, "title", t->title);
    set_str(desc, "description", t->description);
    json_object_set_new(desc, "inputSchema", in);
    if (t->output_schema) {
        json_t *out = parse_object("outputSchema", t->output_schema, err);
        if (!out) {
            json_decref(desc);
            return PW_ERR_INVALID;
        }
        json_object_set_new(desc, "outputSchema", out);
    }
    if (t->annotations) {
        json_t *a = parse_object("annotations", t->annotations, err);
        if (!a) {
            json_decref(desc);
            return PW_ERR_INVALID;
        }
        json_object_set_new(desc, "annotations", a);
    }
    struct mcp_tool *e = calloc(1, sizeof *e);
    if (!e || !(e->base.key = strdup(t->name)) || !mcp_vec_push(&srv->tools, e)) {
        if (e)
            free(e->base.key);
        free(e);
        json_decref(desc);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "tool %s: out of memory", t->name);
    }
    e->base.desc = desc;
    e->input = pw_jsonschema_compile(json_object_get(desc, "inputSchema"), err);
    json_t *out_schema = json_object_get(desc, "outputSchema");
    e->output = out_schema ? pw_jsonschema_compile(out_schema, err) : NULL;
    if (!e->input || (out_schema && !e->output)) {
        srv->tools.len--;
        pw_jsonschema_free(e->input);
        entry_free(e);
        return err ? err->code : PW_ERR_INVALID;
    }
    e->handler = t->handler;
    e->ud = t->ud;
    e->flags = t->flags;
    notify_all(srv, "notifications/tools/list_changed");
    return PW_OK;
}

enum pw_err pw_mcp_server_remove_tool(struct pw_mcp_server *srv, const char *name)
{
    for (size_t i = 0; i < srv->tools.len; i++) {
        struct mcp_tool *e = srv->tools.items[i];
        if (strcmp(e->base.key, name) == 0) {
            tool_free(e);
            memmove(&srv->tools.items[i], &srv->tools.items[i + 1],
                    (srv->tools.len - i - 1) * sizeof(void *));
            srv->tools.len--;
            notify_all(srv, "notifications/tools/list_changed");
            return PW_OK;
        }
    }
    return PW_ERR_NOT_FOUND;
}

enum pw_err pw_mcp_server_add_resource(struct pw_mcp_server *srv,
                                       const struct pw_mcp_resource *r, struct pw_error *err)
{
    if (!r->uri || !r->name || !r->read)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "resource: uri, name and read are required");
    if (mcp_find_resource(srv, r->uri))
        return pw_error_set(err, PW_ERR_INVALID, NULL, "resource %s: already registered", r->uri);
    struct mcp_resource *e = calloc(1, sizeof *e);
    if (!e || !(e->base.key = strdup(r->uri)) || !mcp_vec_push(&srv->resources, e)) {
        if (e)
            free(e->base.key);
        free(e);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "resource %s: out of memory", r->uri);
    }
    e->base.desc = json_pack("{s:s, s:s}", "uri", r->uri, "name", r->name);
    set_str(e->base.desc, "title", r->title);
    set_str(e->base.desc, "description", r->description);
    set_str(e->base.desc, "mimeType", r->mime_type);
    e->read = r->read;
    e->ud = r->ud;
    e->flags = r->flags;
    notify_all(srv, "notifications/resources/list_changed");
    return PW_OK;
}

enum pw_err pw_mcp_server_add_template(struct pw_mcp_server *srv,
                                       const struct pw_mcp_template *t, struct pw_error *err)
{
    if (!t->uri_template || !t->name || !t->read)
        return pw_error_set(err, PW_ERR_INVALID, NULL,
                            "resource template: uriTemplate, name and read are required");
    struct mcp_template *e = calloc(1, sizeof *e);
    if (!e || !(e->base.key = strdup(t->uri_template)) || !mcp_vec_push(&srv->templates, e)) {
        if (e)
            free(e->base.key);
        free(e);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "template %s: out of memory",
                            t->uri_template);
    }
    e->base.desc = json_pack("{s:s, s:s}", "uriTemplate", t->uri_template, "name", t->name);
    set_str(e->base.desc, "title", t->title);
    set_str(e->base.desc, "description", t->description);
    set_str(e->base.desc, "mimeType", t->mime_type);
    e->read = t->read;
    e->list = t->list;
    e->ud = t->ud;
    e->flags = t->flags;
    notify_all(srv, "notifications/resources/list_changed");
    return PW_OK;
}

enum pw_err pw_mcp_server_add_prompt(struct pw_mcp_server *srv, const struct pw_mcp_prompt *p,
                                     struct pw_error *err)
{
    if (!p->name || !p->get)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "prompt: name and get are required");
    if (mcp_find_prompt(srv, p->name))
        return pw_error_set(err, PW_ERR_INVALID, NULL, "prompt %s: already registered", p->name);
    struct mcp_prompt *e = calloc(1, sizeof *e);
    if (!e || !(e->base.key = strdup(p->name)) || !mcp_vec_push(&srv->prompts, e)) {
        if (e)
            free(e->base.key);
        free(e);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "prompt %s: out of memory", p->name);
    }
    e->base.desc = json_pack("{s:s}", "name", p->name);
    set_str(e->base.desc, "title", p->title);
    set_str(e->base.desc, "description", p->description);
    json_t *args = json_array();
    for (size_t i = 0; i < p->nargs; i++) {
        json_t *a = json_pack("{s:s, s:b}", "name", p->args[i].name, "required",
                              p->args[i].required);
        set_str(a, "description", p->args[i].description);
        json_array_append_new(args, a);
    }
    json_object_set_new(e->base.desc, "arguments", args);
    e->get = p->get;
    e->ud = p->ud;
    e->flags = p->flags;
    notify_all(srv, "notifications/prompts/list_changed");
    return PW_OK;
}

void pw_mcp_server_set_completer(struct pw_mcp_server *srv, pw_mcp_handler fn, void *ud,
                                 unsigned flags)
{
    srv->completer = fn;
    srv->completer_ud = ud;
    srv->completer_flags = flags;
}

struct mcp_tool *mcp_find_tool(struct pw_mcp_server *srv, const char *name)
{
    for (size_t i = 0; i < srv->tools.len; i++) {
        struct mcp_tool *e = srv->tools.items[i];
        if (strcmp(e->base.key, name) == 0)
            return e;
    }
    return NULL;
}

struct mcp_resource *mcp_find_resource(struct pw_mcp_server *srv, const char *uri)
{
    for (size_t i = 0; i < srv->resources.len; i++) {
        struct mcp_resource *e = srv->resources.items[i];
        if (strcmp(e->base.key, uri) == 0)
            return e;
    }
    return NULL;
}

struct mcp_template *mcp_match_template(struct pw_mcp_server *srv, const char *uri,
                                        json_t **vars)
{
    for (size_t i = 0; i < srv->templates.len; i++) {
        struct mcp_template *e = srv->templates.items[i];
        if (mcp_uritemplate_match(e->base.key, uri, vars))
            return e;
    }
    return NULL;
}

struct mcp_prompt *mcp_find_prompt(struct pw_mcp_server *srv, const char *name)
{
    for (size_t i = 0; i < srv->prompts.len; i++) {
        struct mcp_prompt *e = srv->prompts.items[i];
        if (strcmp(e->base.key, name) == 0)
            return e;
    }
    return NULL;
}

json_t *mcp_capabilities(struct pw_mcp_server *srv)
{
    json_t *caps = json_pack("{s:{}}", "logging");
    if (srv->tools.len)
        json_object_set_new(caps, "tools", json_pack("{s:b}", "listChanged", 1));
    if (srv->resources.len || srv->templates.len)
        json_object_set_new(caps, "resources",
                            json_pack("{s:b, s:b}", "subscribe", 1, "listChanged", 1));
    if (srv->prompts.len)
        json_object_set_new(caps, "prompts", json_pack("{s:b}", "listChanged", 1));
    if (srv->completer)
        json_object_set_new(caps, "completions", json_object());
    return caps;
}

json_t *mcp_list_page(struct pw_mcp_server *srv, struct mcp_vec *v, const char *key,
                      json_t *params, struct pw_error *err)
{
    size_t offset = 0, page = (size_t)srv->opt.page_size;
    json_t *cursor = params ? json_object_get(params, "cursor") : NULL;
    if (cursor && !json_is_null(cursor)) {
        if (!json_is_string(cursor)) {
            pw_error_set(err, PW_ERR_INVALID, "/cursor", "cursor: expected a string");
            return NULL;
        }
        if (mcp_cursor_offset(key, json_string_value(cursor), &offset, err) != PW_OK)
            return NULL;
        if (offset > v->len) {
            pw_error_set(err, PW_ERR_INVALID, "/cursor", "cursor: past the end of the list");
            return NULL;
        }
    }
    json_t *items = json_array();
    for (size_t i = offset; i < v->len && i < offset + page; i++) {
        struct mcp_entry *e = v->items[i];
        json_array_append(items, e->desc);
    }
    json_t *result = json_pack("{s:o}", key, items);
    if (offset + page < v->len) {
        char off[32];
        snprintf(off, sizeof off, "%zu", offset + page);
        char *next = mcp_cursor_encode(key, off);
        json_object_set_new(result, "nextCursor", json_string(next));
        free(next);
    }
    return result;
}

void mcp_registry_free(struct pw_mcp_server *srv)
{
    for (size_t i = 0; i < srv->tools.len; i++)
        tool_free(srv->tools.items[i]);
    free(srv->tools.items);
    struct mcp_vec *vecs[] = {&srv->resources, &srv->templates, &srv->prompts};
    for (size_t k = 0; k < sizeof vecs / sizeof vecs[0]; k++) {
        for (size_t i = 0; i < vecs[k]->len; i++)
            entry_free(vecs[k]->items[i]);
        free(vecs[k]->items);
    }
}
