/*
 * subscriptions/listen (revision 2026-07-28): a modern client's stream of
 * change notifications, replacing the session's unsolicited
 * notifications, resources/subscribe and the HTTP GET stream.
 *
 * A listen request opts in to notification types (toolsListChanged,
 * promptsListChanged, resourcesListChanged, resourceSubscriptions: a list
 * of URIs). The server keeps what it can honour, says so with
 * notifications/subscriptions/acknowledged (the first message carrying the
 * subscription's id), then sends only those types, each tagged with
 * `_meta.io.modelcontextprotocol/subscriptionId` = the listen request's id,
 * routed as belonging to that request (so Streamable HTTP writes them into
 * the listen POST's stream). The request stays open: it ends when the
 * client cancels it (notifications/cancelled, or closing an HTTP stream)
 * or its session ends, and no response is sent then; it is never a call,
 * so it does not hold a stdio server open at end of input.
 *
 *   (none) --subscriptions/listen (mcp_listen)--> OPEN: ack sent
 *   OPEN   --list change / resource update (mcp_listen_list_changed,
 *            mcp_listen_updated)--> OPEN: tagged notification sent
 *   OPEN   --notifications/cancelled (mcp_listen_cancel) | session end
 *            (mcp_listen_drop_session)--> (gone)
 *
 * Every open listen is on one server-wide list; notification fan-out walks
 * it. Loop thread only.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mcp/modern-int.h"

#include <stdlib.h>
#include <string.h>

/* The opt-in flags, the capability that must allow each and the
 * notification it selects. */
static const struct {
    const char *flag;
    const char *cap;     /* capabilities.<cap>.listChanged must be true */
    const char *method;
} kinds[] = {
    {"toolsListChanged", "tools", "notifications/tools/list_changed"},
    {"promptsListChanged", "prompts", "notifications/prompts/list_changed"},
    {"resourcesListChanged", "resources", "notifications/resources/list_changed"},
};

#define NKINDS (sizeof kinds / sizeof kinds[0])

struct mcp_listen {
    struct pw_mcp_session *s;
    json_t *id;                 /* the listen request's id (new ref) */
    bool want[NKINDS];
    json_t *uris;               /* resourceSubscriptions honoured (array), or NULL */
    struct mcp_listen *prev, *next;
};

static void unlink_free(struct mcp_modern_srv *ms, struct mcp_listen *l)
{
    if (l->prev)
        l->prev->next = l->next;
    else
        ms->listens = l->next;
    if (l->next)
        l->next->prev = l->prev;
    json_decref(l->id);
    json_decref(l->uris);
    free(l);
}

size_t mcp_listen_count(const struct pw_mcp_session *s)
{
    size_t n = 0;
    if (!s->srv->modern)
        return 0;
    for (struct mcp_listen *l = s->srv->modern->listens; l; l = l->next)
        n += l->s == s;
    return n;
}

static void fail(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id, const char *msg)
{
    mcp_session_reply(s, b, id, mcp_error_object(MCP_INVALID_PARAMS, msg, NULL), true);
}

void mcp_listen(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id, json_t *params)
{
    struct pw_mcp_server *srv = s->srv;
    json_t *filter = json_object_get(params, "notifications");
    if (!json_is_object(filter)) {
        fail(s, b, id, "Invalid params: notifications must be an object (a SubscriptionFilter)");
        return;
    }
    json_t *uris = json_object_get(filter, "resourceSubscriptions");
    size_t i;
    json_t *v;
    if (uris && (!json_is_array(uris) || json_array_size(uris) > MCP_MAX_SUBSCRIPTIONS)) {
        fail(s, b, id, "Invalid params: resourceSubscriptions must be an array of at most "
                       "1024 URIs");
        return;
    }
    json_array_foreach(uris, i, v) {
        if (!json_is_string(v)) {
            fail(s, b, id, "Invalid params: resourceSubscriptions must hold URI strings");
            return;
        }
    }
    struct mcp_modern_srv *ms = mcp_modern_srv(srv);
    if (mcp_listen_count(s) >= MCP_MAX_LISTENS || !ms) {
        mcp_session_reply(s, b, id,
                          mcp_error_object(MCP_INVALID_REQUEST,
                                           "Too many subscriptions on this connection", NULL),
                          true);
        return;
    }
    struct mcp_listen *l = calloc(1, sizeof *l);
    if (!l) {
        mcp_session_reply(s, b, id, mcp_error_object(MCP_INTERNAL_ERROR, "out of memory", NULL),
                          true);
        return;
    }
    json_t *caps = mcp_modern_capabilities(srv);
    json_t *agreed = json_object();
    for (size_t k = 0; k < NKINDS; k++) {
        json_t *cap = json_object_get(caps, kinds[k].cap);
        if (json_is_true(json_object_get(filter, kinds[k].flag)) &&
            json_is_true(json_object_get(cap, "listChanged"))) {
            l->want[k] = true;
            json_object_set_new(agreed, kinds[k].flag, json_true());
        }
    }
    if (uris && json_is_true(json_object_get(json_object_get(caps, "resources"), "subscribe"))) {
        l->uris = json_deep_copy(uris);
        json_object_set(agreed, "resourceSubscriptions", l->uris);
    }
    json_decref(caps);
    l->s = s;
    l->id = json_incref(id);
    l->next = ms->listens;
    if (ms->listens)
        ms->listens->prev = l;
    ms->listens = l;
    json_t *ack = json_pack("{s:o, s:{s:O}}", "notifications", agreed, "_meta", MCP_META_SUB, id);
    mcp_send(s, mcp_notification("notifications/subscriptions/acknowledged", ack), id);
}

bool mcp_listen_cancel(struct pw_mcp_session *s, json_t *id)
{
    if (!s->srv->modern)
        return false;
    for (struct mcp_listen *l = s->srv->modern->listens; l; l = l->next) {
        if (l->s == s && json_equal(l->id, id)) {
            unlink_free(s->srv->modern, l);
            return true;
        }
    }
    return false;
}

void mcp_listen_drop_session(struct pw_mcp_session *s)
{
    struct mcp_modern_srv *ms = s->srv->modern;
    if (!ms)
        return;
    for (struct mcp_listen *l = ms->listens, *n; l; l = n) {
        n = l->next;
        if (l->s == s)
            unlink_free(ms, l);
    }
}

/* Sends one tagged notification on a listen (params stolen, may be NULL). */
static void tell(struct mcp_listen *l, const char *method, json_t *params_new)
{
    json_t *params = params_new ? params_new : json_object();
    json_object_set_new(params, "_meta", json_pack("{s:O}", MCP_META_SUB, l->id));
    mcp_send(l->s, mcp_notification(method, params), l->id);
}

void mcp_listen_list_changed(struct pw_mcp_server *srv, const char *method)
{
    if (!srv->modern)
        return;
    size_t k = 0;
    while (k < NKINDS && strcmp(kinds[k].method, method) != 0)
        k++;
    if (k == NKINDS)
        return;
    for (struct mcp_listen *l = srv->modern->listens; l; l = l->next)
        if (l->want[k])
            tell(l, method, NULL);
}

void mcp_listen_updated(struct pw_mcp_server *srv, const char *uri)
{
    if (!srv->modern)
        return;
    for (struct mcp_listen *l = srv->modern->listens; l; l = l->next) {
        size_t i;
        json_t *v;
        json_array_foreach(l->uris, i, v) {
            if (strcmp(json_string_value(v), uri) == 0) {
                tell(l, "notifications/resources/updated", json_pack("{s:s}", "uri", uri));
                break;
            }
        }
    }
}
