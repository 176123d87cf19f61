/*
 * The admin REST API under /admin/ and the WebSocket ticket route, as
 * pw_server route handlers (attached by pw_access_attach).
 *
 *   GET    /admin/keys                 {"keys": [record...]}
 *   POST   /admin/keys                 {"name", "tier", "budgetUsd", "models",
 *                                       "scopes", "expires"} -> 201
 *                                       {"key": "pw_...", "record": {...}}
 *   GET    /admin/keys/ID              record
 *   DELETE /admin/keys/ID              revoke -> record
 *   POST   /admin/keys/ID/revoke       the same
 *   POST   /admin/keys/ID/rotate       {"key": "pw_...", "record": {...}}
 *   GET    /admin/keys/ID/audit        {"key": record, "usage": [...]}
 *   GET    /admin/usage[/BY[/SINCE]]   pw_access_usage_report (BY key|model|day,
 *          /admin/usage?by=BY&since=SINCE  the same (a path segment wins),
 *                                       default model; SINCE a duration, default 7d)
 *   POST   /auth/ws-ticket             {"ticket", "protocol", "expiresInMs"}
 *
 * (Options travel in the path or in the query string, whichever a client
 * finds easier.)
 *
 * Authorization is the server's admission stage (filter.c, classes
 * PW_ACCESS_ROUTE_ADMIN and PW_ACCESS_ROUTE_TICKET): the admin key from
 * PENNYWORTH_ADMIN_KEY or an API key with the admin scope. The plaintext of
 * a new or rotated key appears in exactly one response body and nowhere
 * else.
 *
 * Threads: /admin/ runs on the server's worker threads (on_work): key
 * writes may wait on the database's lock and a usage report aggregates up
 * to 90 days of records, and neither may hold up the service thread, which
 * answers every other client. Everything they call is thread-safe
 * (pennyworth/access.h). The ticket route runs on the service thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pennyworth/json.h"
#include "pennyworth/server.h"

#define CRED_MAX (PW_ACCESS_KEY_MAX + 64)
#define DEFAULT_SINCE_MS (7 * 86400000LL)

void access_respond_json(struct pw_server_req *r, int status, json_t *body,
                         const char *const *headers)
{
    char *text = body ? json_dumps(body, PW_JSON_WIRE) : NULL;
    json_decref(body);
    if (!text) {
        pw_server_req_error(r, 500, "out of memory");
        return;
    }
    pw_server_req_respond(r, status, "application/json", headers, text, strlen(text));
    OPENSSL_cleanse(text, strlen(text)); /* it may hold a new key */
    free(text);
}

json_t *access_error_json(const char *type, const char *message)
{
    return json_pack("{s:{s:s, s:s, s:n, s:s}}", "error", "message", message, "type", type,
                     "param", "code", type);
}

void access_respond_error(struct pw_server_req *r, int status, const char *type,
                          const char *message, const char *const *headers)
{
    access_respond_json(r, status, access_error_json(type, message), headers);
}

static void respond_err(struct pw_server_req *r, const struct pw_error *e)
{
    enum pw_err code = e->code ? e->code : PW_ERR_INTERNAL;
    access_respond_error(r, pw_err_http_status(code), pw_err_openai_type(code), e->message,
                         NULL);
}

void access_req_credential(struct pw_server_req *r, char *out, size_t size)
{
    char auth[CRED_MAX + 16];
    out[0] = '\0';
    int n = pw_server_req_header(r, "authorization", auth, sizeof auth);
    if (n > 7 && strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *p = auth + 7;
        while (*p == ' ')
            p++;
        snprintf(out, size, "%s", p);
    } else if (pw_server_req_header(r, "x-api-key", out, size) < 0) {
        out[0] = '\0';
    }
    OPENSSL_cleanse(auth, sizeof auth);
}

/* Request bodies ------------------------------------------------------------------ */

/* A list member given as ["a","b"] or "a,b", joined into buf. */
static bool list_member(const json_t *body, const char *name, char *buf, size_t size,
                        const char **out)
{
    json_t *v = json_object_get(body, name);
    *out = NULL;
    if (!v || json_is_null(v))
        return true;
    if (json_is_string(v)) {
        snprintf(buf, size, "%s", json_string_value(v));
        *out = buf;
        return true;
    }
    if (!json_is_array(v))
        return false;
    size_t used = 0, i;
    json_t *x;
    buf[0] = '\0';
    json_array_foreach(v, i, x) {
        if (!json_is_string(x))
            return false;
        int w = snprintf(buf + used, size - used, "%s%s", i ? "," : "", json_string_value(x));
        if (w < 0 || (size_t)w >= size - used)
            return false;
        used += (size_t)w;
    }
    *out = buf;
    return true;
}

static enum pw_err parse_spec(struct pw_access *acc, const json_t *body,
                              struct pw_access_key_spec *spec, char *models, size_t msize,
                              char *scopes, size_t ssize, struct pw_error *err)
{
    memset(spec, 0, sizeof *spec);
    spec->budget_micros = -1;
    if (!json_is_object(body))
        return pw_error_set(err, PW_ERR_INVALID, "", "the body must be a JSON object");
    spec->name = json_string_value(json_object_get(body, "name"));
    spec->tier = json_string_value(json_object_get(body, "tier"));
    json_t *budget = json_object_get(body, "budgetUsd");
    if (budget && !json_is_null(budget)) {
        char text[64];
        if (json_is_string(budget))
            snprintf(text, sizeof text, "%s", json_string_value(budget));
        else if (json_is_number(budget))
            snprintf(text, sizeof text, "%.6f", json_number_value(budget));
        else
            text[0] = '\0';
        if (!pw_access_parse_usd(text, &spec->budget_micros))
            return pw_error_set(err, PW_ERR_INVALID, "/budgetUsd",
                                "budgetUsd: dollars, e.g. \"25\" or \"12.50\"");
    }
    const char *scope_list = NULL;
    if (!list_member(body, "models", models, msize, &spec->models))
        return pw_error_set(err, PW_ERR_INVALID, "/models", "models: a list of model names");
    if (!list_member(body, "scopes", scopes, ssize, &scope_list) ||
        (scope_list && !pw_access_scopes_parse(scope_list, &spec->scopes)))
        return pw_error_set(err, PW_ERR_INVALID, "/scopes",
                            "scopes: a list of chat, mcp, admin");
    json_t *expires = json_object_get(body, "expires");
    if (expires && !json_is_null(expires)) {
        int64_t ms;
        if (!pw_access_duration_parse(json_string_value(expires), &ms) || ms <= 0)
            return pw_error_set(err, PW_ERR_INVALID, "/expires",
                                "expires: a duration such as 30d, 12h or 90m");
        spec->expires_at = (access_now_ms(acc) + ms) / 1000;
    }
    return PW_OK;
}

/* Answers from a worker ------------------------------------------------------------ */

static void reply(struct pw_server_work *w, int status, json_t *body)
{
    char *text = body ? json_dumps(body, PW_JSON_WIRE) : NULL;
    json_decref(body);
    if (!text)
        return; /* no answer: the server sends 500 */
    pw_server_work_respond(w, status, "application/json", text, strlen(text));
    OPENSSL_cleanse(text, strlen(text)); /* it may hold a new key */
    free(text);
}

static void reply_error(struct pw_server_work *w, int status, const char *type,
                        const char *message)
{
    reply(w, status, access_error_json(type, message));
}

static void reply_err(struct pw_server_work *w, const struct pw_error *e)
{
    enum pw_err code = e->code ? e->code : PW_ERR_INTERNAL;
    reply_error(w, pw_err_http_status(code), pw_err_openai_type(code), e->message);
}

/* Handlers -------------------------------------------------------------------------- */

static void with_key(struct pw_server_work *w, int status, const char *key, json_t *record)
{
    reply(w, status, json_pack("{s:s, s:o}", "key", key, "record", record));
}

static void create(struct pw_access *acc, struct pw_server_work *w)
{
    size_t len;
    const char *text = pw_server_work_body(w, &len);
    json_error_t je;
    json_t *body = json_loadb(text, len, 0, &je);
    struct pw_error err = {0};
    struct pw_access_key_spec spec;
    char models[2048], scopes[64], key[PW_ACCESS_KEY_MAX];
    json_t *record = NULL;
    if (!body)
        pw_error_set(&err, PW_ERR_PARSE, "", "the body is not JSON: %s", je.text);
    else if (parse_spec(acc, body, &spec, models, sizeof models, scopes, sizeof scopes,
                        &err) == PW_OK)
        pw_access_key_create(acc, &spec, key, &record, &err);
    json_decref(body);
    if (err.code) {
        reply_err(w, &err);
        return;
    }
    with_key(w, 201, key, record);
    OPENSSL_cleanse(key, sizeof key);
}

/* One argument of a query string ("by=key&since=7d"), copied into out;
 * false when absent or too long. */
static bool query_arg(const char *query, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);
    for (const char *p = query; *p;) {
        size_t len = strcspn(p, "&");
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            if (len - nl - 1 >= size)
                return false;
            memcpy(out, p + nl + 1, len - nl - 1);
            out[len - nl - 1] = '\0';
            return true;
        }
        p += len + (p[len] == '&');
    }
    return false;
}

static void usage(struct pw_access *acc, struct pw_server_work *w, char **seg, size_t n)
{
    enum pw_access_usage_by by = PW_ACCESS_BY_MODEL;
    int64_t since = DEFAULT_SINCE_MS;
    char arg[32];
    const char *q = pw_server_work_query(w);
    bool bad = (query_arg(q, "by", arg, sizeof arg) && !pw_access_usage_by_parse(arg, &by)) ||
               (query_arg(q, "since", arg, sizeof arg) &&
                !pw_access_duration_parse(arg, &since));
    if (bad || (n > 1 && !pw_access_usage_by_parse(seg[1], &by)) ||
        (n > 2 && !pw_access_duration_parse(seg[2], &since)) || n > 3) {
        reply_error(w, 400, "invalid_request_error",
                             "use /admin/usage[/key|model|day[/DURATION]], e.g. "
                             "/admin/usage/day/30d");
        return;
    }
    json_t *out = NULL;
    struct pw_error err = {0};
    if (pw_access_usage_report(acc, by, access_now_ms(acc) - since, &out, &err) != PW_OK)
        reply_err(w, &err);
    else
        reply(w, 200, out);
}

/* /admin/keys/... with seg[0] == "keys". */
static void keys(struct pw_access *acc, struct pw_server_work *w, const char *method,
                 char **seg, size_t n)
{
    struct pw_error err = {0};
    json_t *out = NULL;
    char key[PW_ACCESS_KEY_MAX];
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    const char *action = n > 2 ? seg[2] : "";
    if (n == 1 && get) {
        pw_access_key_list(acc, &out, &err);
    } else if (n == 1 && post) {
        create(acc, w);
        return;
    } else if (n == 2 && get) {
        pw_access_key_show(acc, seg[1], &out, &err);
    } else if ((n == 2 && strcmp(method, "DELETE") == 0) ||
               (n == 3 && post && strcmp(action, "revoke") == 0)) {
        if (pw_access_key_revoke(acc, seg[1], &err) == PW_OK)
            pw_access_key_show(acc, seg[1], &out, &err);
    } else if (n == 3 && post && strcmp(action, "rotate") == 0) {
        if (pw_access_key_rotate(acc, seg[1], key, &out, &err) == PW_OK) {
            with_key(w, 200, key, out);
            OPENSSL_cleanse(key, sizeof key);
            return;
        }
    } else if (n == 3 && get && strcmp(action, "audit") == 0) {
        pw_access_key_audit(acc, seg[1], 100, &out, &err);
    } else {
        reply_error(w, 404, "not_found", "no such admin route or method");
        return;
    }
    if (err.code)
        reply_err(w, &err);
    else
        reply(w, 200, out);
}

#define MAX_SEGMENTS 6

/* On a server worker (the key writes and the usage aggregation may wait on
 * the database); admission (filter.c) has let the caller in. */
static void on_admin(struct pw_server_work *w, void *ud)
{
    struct access_routes *rt = ud;
    char path[512];
    snprintf(path, sizeof path, "%s", pw_server_work_path(w) + strlen("/admin/"));
    char *seg[MAX_SEGMENTS];
    size_t n = 0;
    char *save = NULL;
    for (char *s = strtok_r(path, "/", &save); s && n < MAX_SEGMENTS;
         s = strtok_r(NULL, "/", &save))
        seg[n++] = s;
    const char *method = pw_server_work_method(w);
    if (n >= 1 && strcmp(seg[0], "keys") == 0)
        keys(rt->acc, w, method, seg, n);
    else if (n >= 1 && strcmp(seg[0], "usage") == 0 && strcmp(method, "GET") == 0)
        usage(rt->acc, w, seg, n);
    else
        reply_error(w, 404, "not_found", "no such admin route or method");
}

/* The route's `error` function: the server's own 4xx/5xx (413, a full work
 * queue's 503), in the same OpenAI shape as the rest of the API. */
static void route_error(struct pw_server_req *r, int status, const char *message, void *ud)
{
    (void)ud;
    access_respond_error(r, status, pw_http_status_openai_type(status), message, NULL);
}

const struct pw_server_handler access_admin_handler = {.on_work = on_admin,
                                                       .error = route_error};

static void on_ticket(struct pw_server_req *r, void *ud)
{
    struct access_routes *rt = ud;
    if (strcmp(pw_server_req_method(r), "POST") != 0) {
        access_respond_error(r, 405, "invalid_request_error", "use POST", NULL);
        return;
    }
    /* Admission (filter.c, the ticket class) left the grant here. */
    const struct access_held *held = pw_server_req_ctx(r)->grant;
    char ticket[PW_ACCESS_TICKET_MAX], protocol[PW_ACCESS_TICKET_MAX + 16];
    struct pw_error err = {0};
    if (!held || pw_access_ws_ticket(rt->acc, &held->grant, ticket, &err) != PW_OK) {
        if (!held)
            pw_error_set(&err, PW_ERR_STATE, NULL, "the ticket route needs admission");
        respond_err(r, &err);
        return;
    }
    snprintf(protocol, sizeof protocol, "pw-ticket.%s", ticket);
    access_respond_json(r, 200,
                        json_pack("{s:s, s:s, s:i}", "ticket", ticket, "protocol", protocol,
                                  "expiresInMs", PW_ACCESS_TICKET_TTL_MS),
                        NULL);
    OPENSSL_cleanse(ticket, sizeof ticket);
}

const struct pw_server_handler access_ticket_handler = {.on_request = on_ticket,
                                                        .error = route_error};
