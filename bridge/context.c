/*
 * Catalog context through MCP, in process (bridge/context.h): the bridge is
 * an MCP client of its own server, over one session whose transport is a
 * function call each way.
 *
 *   us -> engine   pw_mcp_session_receive_json(session, request)
 *   engine -> us   send(): responses, matched by id to an operation
 *
 * Operation states, each op on exactly one list:
 *
 *   bridge_context_search/call --> pending --(answer in send())--> ready
 *        |                            |                              |
 *        |                  bridge_context_cancel          bridge_context_dispatch
 *        |                   (notifications/cancelled)      (callback, then freed)
 *        +-- fails now: never listed, never called back
 *
 * Every answer goes through the ready list and `wake`, even one that the
 * engine gives synchronously inside receive_json (a bad-arguments error, a
 * tool that runs on the loop thread): that is how a callback never runs
 * inside the call that started its operation, and never inside the engine's
 * own send (the callback may start the next operation at once).
 *
 * Two requests are made synchronously at creation, initialize and
 * tools/list, because the engine answers both on the loop thread inside
 * receive_json; their answers are captured by id (sync_id). A
 * notifications/tools/list_changed marks the tool list stale; the next
 * bridge_context_tools refreshes it.
 *
 * Tool names are offered with BRIDGE_CONTEXT_TOOL_PREFIX so that a client's
 * own "search_products" and ours cannot be confused; a tool whose prefixed
 * name would break OpenAI's function-name rule ([A-Za-z0-9_-]{1,64}) is not
 * offered.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/buf.h"
#include "pennyworth/json.h"

#define QUERY_MAX 500  /* search_products' maxLength for `query` */
#define NAME_MAX_LEN 64 /* OpenAI's function-name bound */
#define LIST_PAGES_MAX 20

enum op_kind { OP_SEARCH, OP_CALL };

struct bridge_context_op {
    struct bridge_context *ctx;
    json_int_t id;
    enum op_kind kind;
    bridge_context_search_fn search_cb;
    bridge_context_call_fn call_cb;
    void *ud;
    json_t *answer;               /* the JSON-RPC response, once ready */
    struct oplist *list;          /* the list it is on */
    struct bridge_context_op *prev, *next;
};

struct oplist {
    struct bridge_context_op *head, *tail;
};

struct bridge_context {
    struct pw_mcp_session *session;
    void (*wake)(void *ud);
    void *wake_ud;
    json_int_t next_id;
    json_int_t sync_id;           /* the synchronous request awaiting its answer, or -1 */
    json_t *sync_reply;
    struct oplist pending;
    struct oplist ready;
    json_t *tools;                /* OpenAI function tools (see bridge_context_tools) */
    json_t *names;                /* prefixed name -> MCP name */
    bool tools_stale;
};

/* ---- lists -------------------------------------------------------------- */

static void op_link(struct oplist *l, struct bridge_context_op *op)
{
    op->list = l;
    op->next = NULL;
    op->prev = l->tail;
    if (l->tail)
        l->tail->next = op;
    else
        l->head = op;
    l->tail = op;
}

static void op_unlink(struct bridge_context_op *op)
{
    struct oplist *l = op->list;
    if (!l)
        return;
    if (op->prev)
        op->prev->next = op->next;
    else
        l->head = op->next;
    if (op->next)
        op->next->prev = op->prev;
    else
        l->tail = op->prev;
    op->list = NULL;
    op->prev = op->next = NULL;
}

static void op_free(struct bridge_context_op *op)
{
    op_unlink(op);
    json_decref(op->answer);
    free(op);
}

static struct bridge_context_op *op_find(struct oplist *l, json_int_t id)
{
    for (struct bridge_context_op *op = l->head; op; op = op->next)
        if (op->id == id)
            return op;
    return NULL;
}

/* ---- the transport --------------------------------------------------------- */

static void on_send(void *ud, json_t *msg, json_t *related)
{
    struct bridge_context *ctx = ud;
    json_t *id = json_object_get(msg, "id");
    const char *method = json_string_value(json_object_get(msg, "method"));
    if (method) {
        /* Notifications (progress, logs) and server requests: we declared no
         * capabilities, so no request needs an answer. */
        if (strcmp(method, "notifications/tools/list_changed") == 0)
            ctx->tools_stale = true;
        return;
    }
    if (!json_is_integer(id))
        return;
    json_int_t n = json_integer_value(id);
    if (n == ctx->sync_id) {
        json_decref(ctx->sync_reply);
        ctx->sync_reply = json_incref(msg);
        return;
    }
    struct bridge_context_op *op = op_find(&ctx->pending, n);
    if (!op)
        return; /* cancelled, or a late answer to a synchronous request */
    op_unlink(op);
    op->answer = json_incref(msg);
    bool was_empty = ctx->ready.head == NULL;
    op_link(&ctx->ready, op);
    if (was_empty && ctx->wake)
        ctx->wake(ctx->wake_ud);
}

static json_t *request_msg(json_int_t id, const char *method, json_t *params_new)
{
    return json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", id, "method", method,
                     "params", params_new);
}

/* A request the engine answers inside receive_json; the response (new) or
 * NULL when none came. */
static json_t *request_now(struct bridge_context *ctx, const char *method, json_t *params_new)
{
    json_t *msg = request_msg(ctx->next_id, method, params_new);
    if (!msg)
        return NULL;
    ctx->sync_id = ctx->next_id++;
    pw_mcp_session_receive_json(ctx->session, msg);
    json_decref(msg);
    ctx->sync_id = -1;
    json_t *reply = ctx->sync_reply;
    ctx->sync_reply = NULL;
    return reply;
}

/* ---- tools --------------------------------------------------------------- */

static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n + strlen(BRIDGE_CONTEXT_TOOL_PREFIX) > NAME_MAX_LEN)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return false;
    return true;
}

/* Adds one MCP tool to the OpenAI list. */
static void add_tool(json_t *tools, json_t *names, json_t *t)
{
    const char *name = json_string_value(json_object_get(t, "name"));
    if (!name || !name_ok(name))
        return;
    char full[NAME_MAX_LEN + 1];
    snprintf(full, sizeof full, "%s%s", BRIDGE_CONTEXT_TOOL_PREFIX, name);
    const char *desc = json_string_value(json_object_get(t, "description"));
    if (!desc)
        desc = json_string_value(json_object_get(t, "title"));
    json_t *schema = json_object_get(t, "inputSchema");
    json_t *fn = json_pack("{s:s, s:s, s:O}", "name", full, "description", desc ? desc : name,
                           "parameters", json_is_object(schema) ? schema : json_object());
    json_array_append_new(tools, json_pack("{s:s, s:o}", "type", "function", "function", fn));
    json_object_set_new(names, full, json_string(name));
}

/* Lists the server's tools now (paging through nextCursor). */
static void refresh_tools(struct bridge_context *ctx)
{
    json_t *tools = json_array(), *names = json_object();
    json_t *cursor = NULL;
    bool ok = tools && names;
    for (int page = 0; ok && page < LIST_PAGES_MAX; page++) {
        json_t *params = cursor ? json_pack("{s:O}", "cursor", cursor) : json_object();
        json_t *reply = request_now(ctx, "tools/list", params);
        json_t *result = json_object_get(reply, "result");
        json_t *list = json_object_get(result, "tools");
        json_decref(cursor);
        cursor = NULL;
        if (!json_is_array(list)) {
            ok = false;
            json_decref(reply);
            break;
        }
        size_t i;
        json_t *t;
        json_array_foreach(list, i, t)
            add_tool(tools, names, t);
        json_t *next = json_object_get(result, "nextCursor");
        if (json_is_string(next))
            cursor = json_incref(next);
        json_decref(reply);
        if (!cursor)
            break;
    }
    json_decref(cursor);
    if (!ok) {
        /* Keep what we had: a failed refresh must not take tools away mid-way. */
        json_decref(tools);
        json_decref(names);
        return;
    }
    json_decref(ctx->tools);
    json_decref(ctx->names);
    ctx->tools = tools;
    ctx->names = names;
    ctx->tools_stale = false;
}

json_t *bridge_context_tools(struct bridge_context *ctx)
{
    if (ctx->tools_stale)
        refresh_tools(ctx);
    return ctx->tools;
}

bool bridge_context_owns(struct bridge_context *ctx, const char *name)
{
    if (ctx->tools_stale)
        refresh_tools(ctx);
    return name && json_object_get(ctx->names, name) != NULL;
}

/* ---- life cycle ----------------------------------------------------------- */

enum pw_err bridge_context_new(struct pw_mcp_server *srv, void (*wake)(void *ud), void *wake_ud,
                               struct bridge_context **out, struct pw_error *err)
{
    *out = NULL;
    struct bridge_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "context: out of memory");
    ctx->wake = wake;
    ctx->wake_ud = wake_ud;
    ctx->next_id = 1;
    ctx->sync_id = -1;
    ctx->tools = json_array();
    ctx->names = json_object();
    const struct pw_mcp_transport t = {.send = on_send, .ctx = ctx,
                                       .name = PW_MCP_TRANSPORT_BRIDGE};
    enum pw_err rc = ctx->tools && ctx->names ? pw_mcp_session_new(srv, &t, &ctx->session, err)
                                              : pw_error_set(err, PW_ERR_NOMEM, NULL,
                                                             "context: out of memory");
    if (rc != PW_OK) {
        bridge_context_free(ctx);
        return rc;
    }
    json_t *reply = request_now(ctx, "initialize",
                                json_pack("{s:s, s:{}, s:{s:s, s:s}}", "protocolVersion",
                                          PW_MCP_LATEST_VERSION, "capabilities", "clientInfo",
                                          "name", "pennyworth-bridge", "version", PW_VERSION));
    if (!json_is_object(json_object_get(reply, "result"))) {
        const char *why = json_string_value(
            json_object_get(json_object_get(reply, "error"), "message"));
        pw_error_set(err, PW_ERR_UPSTREAM, NULL, "context: the MCP engine refused initialize: "
                     "%s", why ? why : "no answer");
        json_decref(reply);
        bridge_context_free(ctx);
        return PW_ERR_UPSTREAM;
    }
    json_decref(reply);
    json_t *note = json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method",
                             "notifications/initialized");
    if (note)
        pw_mcp_session_receive_json(ctx->session, note);
    json_decref(note);
    refresh_tools(ctx);
    *out = ctx;
    return PW_OK;
}

void bridge_context_free(struct bridge_context *ctx)
{
    if (!ctx)
        return;
    /* The session goes first: `send` is never called after this. */
    pw_mcp_session_free(ctx->session);
    while (ctx->pending.head)
        op_free(ctx->pending.head);
    while (ctx->ready.head)
        op_free(ctx->ready.head);
    json_decref(ctx->sync_reply);
    json_decref(ctx->tools);
    json_decref(ctx->names);
    free(ctx);
}

/* ---- operations ------------------------------------------------------------ */

/* Starts an operation: links it as pending and hands the request to the
 * engine. *op is set before the engine runs, since an answer may come at
 * once. Steals params. */
static enum pw_err start(struct bridge_context *ctx, struct bridge_context_op *op,
                         json_t *params_new, struct bridge_context_op **out,
                         struct pw_error *err)
{
    op->ctx = ctx;
    op->id = ctx->next_id++;
    json_t *msg = request_msg(op->id, "tools/call", params_new);
    if (!msg) {
        free(op);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "context: out of memory");
    }
    op_link(&ctx->pending, op);
    if (out)
        *out = op;
    pw_mcp_session_receive_json(ctx->session, msg);
    json_decref(msg);
    return PW_OK;
}

/* Queues an answer we make ourselves (bad arguments), keeping the async
 * contract. */
static void ready_now(struct bridge_context *ctx, struct bridge_context_op *op, json_t *answer_new,
                      struct bridge_context_op **out)
{
    op->ctx = ctx;
    op->id = -1;
    op->answer = answer_new;
    bool was_empty = ctx->ready.head == NULL;
    op_link(&ctx->ready, op);
    if (out)
        *out = op;
    if (was_empty && ctx->wake)
        ctx->wake(ctx->wake_ud);
}

/* The first `max` bytes of `s` at most, not cutting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

enum pw_err bridge_context_search(struct bridge_context *ctx, const char *query, int limit,
                                  bridge_context_search_fn cb, void *ud,
                                  struct bridge_context_op **op, struct pw_error *err)
{
    if (!query || !query[0])
        return pw_error_set(err, PW_ERR_INVALID, NULL, "context: empty search query");
    if (limit < 1 || limit > 50)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "context: search limit %d is not in "
                            "1..50", limit);
    struct bridge_context_op *o = calloc(1, sizeof *o);
    json_t *params = json_pack("{s:s, s:{s:s%, s:i}}", "name", "search_products", "arguments",
                               "query", query, utf8_cut(query, QUERY_MAX), "limit", limit);
    if (!o || !params) {
        free(o);
        json_decref(params);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "context: out of memory");
    }
    o->kind = OP_SEARCH;
    o->search_cb = cb;
    o->ud = ud;
    return start(ctx, o, params, op, err);
}

enum pw_err bridge_context_call(struct bridge_context *ctx, const char *name,
                                const char *arguments, bridge_context_call_fn cb, void *ud,
                                struct bridge_context_op **op, struct pw_error *err)
{
    if (!bridge_context_owns(ctx, name))
        return pw_error_set(err, PW_ERR_NOT_FOUND, NULL, "context: %.80s is not a catalog "
                            "tool", name ? name : "(null)");
    struct bridge_context_op *o = calloc(1, sizeof *o);
    if (!o)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "context: out of memory");
    o->kind = OP_CALL;
    o->call_cb = cb;
    o->ud = ud;
    json_t *args = NULL;
    json_error_t je;
    if (!arguments || !arguments[strspn(arguments, " \t\r\n")])
        args = json_object();
    else
        args = json_loads(arguments, 0, &je);
    if (!json_is_object(args)) {
        /* The model wrote bad JSON: tell it, as a tool result it can act on. */
        json_decref(args);
        ready_now(ctx, o, json_pack("{s:{s:i, s:s}}", "error", "code", -32602, "message",
                                    "the arguments are not a JSON object"), op);
        return PW_OK;
    }
    const char *mcp_name = json_string_value(json_object_get(ctx->names, name));
    json_t *params = json_pack("{s:s, s:o}", "name", mcp_name, "arguments", args);
    if (!params) {
        free(o);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "context: out of memory");
    }
    return start(ctx, o, params, op, err);
}

void bridge_context_cancel(struct bridge_context_op *op)
{
    if (!op)
        return;
    struct bridge_context *ctx = op->ctx;
    if (op->list == &ctx->pending) {
        json_t *note = json_pack("{s:s, s:s, s:{s:I, s:s}}", "jsonrpc", "2.0", "method",
                                 "notifications/cancelled", "params", "requestId", op->id,
                                 "reason", "the bridge request ended");
        op_unlink(op);
        if (note)
            pw_mcp_session_receive_json(ctx->session, note);
        json_decref(note);
    }
    op_free(op);
}

/* ---- answers -------------------------------------------------------------- */

/* The text content of a tools/call result, joined (new). */
static char *result_text(json_t *result)
{
    size_t len = 0, i;
    json_t *c;
    json_t *content = json_object_get(result, "content");
    json_array_foreach(content, i, c)
        len += json_string_length(json_object_get(c, "text")) + 1;
    if (len == 0) {
        json_t *sc = json_object_get(result, "structuredContent");
        return sc ? json_dumps(sc, PW_JSON_WIRE) : strdup("");
    }
    char *out = malloc(len + 1), *p = out;
    if (!out)
        return NULL;
    json_array_foreach(content, i, c) {
        json_t *t = json_object_get(c, "text");
        if (!json_is_string(t))
            continue;
        if (p != out)
            *p++ = '\n';
        memcpy(p, json_string_value(t), json_string_length(t));
        p += json_string_length(t);
    }
    *p = '\0';
    return out;
}

/* The product ids a structured result names (new array). */
static json_t *result_ids(json_t *sc)
{
    json_t *ids = json_array();
    json_t *products = json_object_get(sc, "products");
    size_t i;
    json_t *p;
    json_array_foreach(products, i, p) {
        json_t *id = json_object_get(p, "id");
        if (json_is_string(id))
            json_array_append(ids, id);
    }
    json_t *id = json_object_get(sc, "id");
    if (!products && json_is_string(id))
        json_array_append(ids, id);
    return ids;
}

static void deliver_call(struct bridge_context_op *op)
{
    json_t *result = json_object_get(op->answer, "result");
    json_t *error = json_object_get(op->answer, "error");
    char *text = NULL;
    json_t *ids = NULL;
    if (json_is_object(result)) {
        char *body = result_text(result);
        bool failed = json_is_true(json_object_get(result, "isError"));
        if (body && failed) {
            size_t n = strlen(body) + 8;
            if ((text = malloc(n)))
                snprintf(text, n, "error: %s", body);
            free(body);
        } else {
            text = body;
        }
        ids = failed ? json_array() : result_ids(json_object_get(result, "structuredContent"));
    } else {
        const char *why = json_string_value(json_object_get(error, "message"));
        size_t n = (why ? strlen(why) : 0) + 16;
        text = malloc(n);
        if (text)
            snprintf(text, n, "error: %s", why ? why : "the tool failed");
        ids = json_array();
    }
    if (text && ids) {
        op->call_cb(op->ud, text, ids, NULL);
    } else {
        struct pw_error e;
        pw_error_clear(&e);
        pw_error_set(&e, PW_ERR_NOMEM, NULL, "context: out of memory reading a tool result");
        op->call_cb(op->ud, NULL, NULL, &e);
    }
    free(text);
    json_decref(ids);
}

static void deliver_search(struct bridge_context_op *op)
{
    json_t *result = json_object_get(op->answer, "result");
    json_t *products = json_object_get(json_object_get(result, "structuredContent"),
                                       "products");
    struct pw_error e;
    pw_error_clear(&e);
    if (json_is_true(json_object_get(result, "isError")) || !json_is_array(products)) {
        json_t *content = json_object_get(result, "content");
        const char *why = json_string_value(json_object_get(json_array_get(content, 0),
                                                            "text"));
        if (!why)
            why = json_string_value(
                json_object_get(json_object_get(op->answer, "error"), "message"));
        pw_error_set(&e, PW_ERR_UPSTREAM, NULL, "context: search_products failed: %s",
                     why ? why : "no products in the result");
        op->search_cb(op->ud, NULL, &e);
        return;
    }
    op->search_cb(op->ud, products, NULL);
}

void bridge_context_dispatch(struct bridge_context *ctx)
{
    /* Only what is ready now: a callback that starts an operation answered
     * at once sees it delivered on the next dispatch, not in a loop here. */
    struct bridge_context_op *last = ctx->ready.tail;
    while (last && ctx->ready.head) {
        struct bridge_context_op *op = ctx->ready.head;
        bool was_last = op == last;
        op_unlink(op);
        if (op->kind == OP_SEARCH)
            deliver_search(op);
        else
            deliver_call(op);
        op_free(op);
        if (was_last)
            break;
    }
}

/* ---- messages ---------------------------------------------------------------- */

/* "12.99 USD" when the catalog gave no formatted price. */
static void put_price(struct pw_buf *t, json_t *price)
{
    const char *formatted = json_string_value(json_object_get(price, "formatted"));
    if (formatted) {
        pw_buf_append_str(t, formatted);
        return;
    }
    json_int_t minor = json_integer_value(json_object_get(price, "amountMinor"));
    const char *cur = json_string_value(json_object_get(price, "currency"));
    pw_buf_appendf(t, "%s%" JSON_INTEGER_FORMAT ".%02d %s", minor < 0 ? "-" : "",
                   (minor < 0 ? -minor : minor) / 100,
                   (int)((minor < 0 ? -minor : minor) % 100), cur ? cur : "");
}

char *bridge_context_message(json_t *products)
{
    if (!json_is_array(products) || json_array_size(products) == 0)
        return NULL;
    struct pw_buf t = {0};
    const char *first = json_string_value(json_object_get(json_array_get(products, 0), "id"));
    pw_buf_appendf(&t, BRIDGE_CONTEXT_HEADER
                       "Answer from these when they are relevant, cite each product you "
                       "mention by its id in square brackets, e.g. [%s], and do not invent "
                       "products, prices or availability that are not listed here.\n",
                   first ? first : "id");
    size_t i;
    json_t *p;
    json_array_foreach(products, i, p) {
        const char *brand = json_string_value(json_object_get(p, "brand"));
        const char *avail = json_string_value(json_object_get(p, "availability"));
        json_t *rating = json_object_get(p, "rating");
        const char *id = json_string_value(json_object_get(p, "id"));
        const char *name = json_string_value(json_object_get(p, "name"));
        if (!id)
            continue;
        pw_buf_appendf(&t, "- [%s] %s", id, name ? name : "");
        if (brand)
            pw_buf_appendf(&t, "; brand: %s", brand);
        pw_buf_append_str(&t, "; price: ");
        put_price(&t, json_object_get(p, "price"));
        if (avail)
            pw_buf_appendf(&t, "; availability: %s", avail);
        if (json_is_number(rating))
            pw_buf_appendf(&t, "; rating: %.1f/5", json_number_value(rating));
        pw_buf_append_str(&t, "\n");
    }
    return pw_buf_take(&t);
}

char *bridge_context_ids(json_t *products)
{
    struct pw_buf t = {0};
    size_t i;
    json_t *p;
    json_array_foreach(products, i, p) {
        const char *id = json_string_value(json_object_get(p, "id"));
        if (id)
            pw_buf_appendf(&t, "%s%s", t.len ? ", " : "", id);
    }
    return pw_buf_take(&t);
}

char *bridge_context_user_text(json_t *messages)
{
    for (size_t k = json_array_size(messages); k > 0; k--) {
        json_t *m = json_array_get(messages, k - 1);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!role || strcmp(role, "user") != 0)
            continue;
        json_t *content = json_object_get(m, "content");
        struct pw_buf t = {0};
        if (json_is_string(content)) {
            pw_buf_append_str(&t, json_string_value(content));
        } else {
            size_t i;
            json_t *part;
            json_array_foreach(content, i, part) {
                const char *type = json_string_value(json_object_get(part, "type"));
                const char *text = json_string_value(json_object_get(part, "text"));
                if (type && strcmp(type, "text") == 0 && text && text[0])
                    pw_buf_appendf(&t, "%s%s", t.len ? " " : "", text);
            }
        }
        const char *s = pw_buf_str(&t);
        if (t.err || s[strspn(s, " \t\r\n")])
            return pw_buf_take(&t); /* NULL when out of memory */
        pw_buf_free(&t);
    }
    return NULL;
}
