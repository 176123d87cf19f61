/*
 * MCP over WebSocket: one connection is one MCP session; every text message
 * in is one JSON-RPC message (or a 2025-03-26 batch) for the engine, every
 * message the engine sends goes out as one text message. Server
 * notifications (resources/updated, list_changed) and server-to-client
 * requests share the socket, so `related` needs no routing here.
 *
 * Framing, limits, ping/pong and the output queue live in server/ws.c; this
 * file only binds connections to sessions:
 *
 *     on_open  -> pw_mcp_session_new   (the connection's session)
 *     on_message -> pw_mcp_session_receive
 *     engine send() -> pw_server_ws_send (queued, one frame per write)
 *     on_close -> pw_mcp_session_free  (in-flight calls are cancelled)
 *
 * Graceful stop: connections with nothing in flight are closed at once with
 * 1001 (going away); the others as soon as their last call has answered,
 * checked every DRAIN_MS, or when the server's grace period ends.
 *
 * Service thread only (the engine's loop thread).
 *
 * SPDX-License-Identifier: MIT
 */
#include <jansson.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/json.h"
#include "pennyworth/log.h"
#include "pennyworth/mcp_net.h"

#define DRAIN_MS 50

struct wsconn {
    struct pw_mcp_ws *w;
    struct pw_server_ws *c;
    struct pw_mcp_session *s;
    void *gated;                /* the gate's state for this connection */
    bool closing;
    struct wsconn *prev, *next;
};

struct pw_mcp_ws {
    struct pw_server *srv;
    struct pw_mcp_server *mcp;
    struct wsconn *conns;
    size_t count;
    bool stopping;
    const struct pw_mcp_gate *gate;
};

/* The engine's send(): one JSON text message on the socket. */
static void send_msg(void *ctx, json_t *msg, json_t *related)
{
    (void)related;
    struct wsconn *k = ctx;
    if (k->closing)
        return;
    char *text = json_dumps(msg, PW_JSON_WIRE);
    if (!text) {
        pw_warn("mcp ws: could not serialise a message; dropped");
        return;
    }
    if (pw_server_ws_send(k->c, text, strlen(text)) == PW_ERR_TOO_LARGE)
        k->closing = true;
    free(text);
}

/* Binds the session to the identity the gate admitted, else the upgrade's
 * credential, else to this connection alone (a random value), so a
 * requestState cannot move to another connection. */
static enum pw_err principal(struct pw_server_ws *c, struct pw_mcp_session *s, const char *who)
{
    if (who[0])
        return pw_mcp_session_set_principal(s, who, strlen(who));
    char cred[1024];
    int n = pw_server_ws_header(c, "authorization", cred, sizeof cred);
    if (n <= 0)
        n = pw_server_ws_header(c, "x-api-key", cred, sizeof cred);
    if (n <= 0) {
        n = 32;
        if (RAND_bytes((unsigned char *)cred, n) != 1)
            n = 0;
    }
    return pw_mcp_session_set_principal(s, cred, (size_t)n);
}

static int on_open(struct pw_server_ws *c, void *ud)
{
    struct pw_mcp_ws *w = ud;
    void *gated = NULL;
    char why[200] = "", who[PW_MCP_WHO_MAX] = "";
    if (w->gate && w->gate->ws_open &&
        w->gate->ws_open(w->gate->ud, c, &gated, who, why, sizeof why) != 0) {
        pw_server_ws_close(c, 1008, why[0] ? why : "not admitted");
        return 0; /* closing; no session, so no data and nothing in on_close */
    }
    struct wsconn *k = calloc(1, sizeof *k);
    if (!k) {
        if (gated && w->gate->ws_close)
            w->gate->ws_close(w->gate->ud, gated);
        return -1;
    }
    k->w = w;
    k->c = c;
    k->gated = gated;
    struct pw_mcp_transport t = {.send = send_msg, .ctx = k, .name = PW_MCP_TRANSPORT_WS};
    struct pw_error err = {0};
    if (pw_mcp_session_new(w->mcp, &t, &k->s, &err) != PW_OK) {
        pw_warn("mcp ws: cannot make a session: %s", err.message);
        if (gated && w->gate->ws_close)
            w->gate->ws_close(w->gate->ud, gated);
        free(k);
        return -1;
    }
    if (principal(c, k->s, who) != PW_OK) {
        pw_mcp_session_free(k->s);
        if (gated && w->gate->ws_close)
            w->gate->ws_close(w->gate->ud, gated);
        free(k);
        pw_server_ws_close(c, 1008, "too many sessions for this key");
        return 0;
    }
    k->next = w->conns;
    if (w->conns)
        w->conns->prev = k;
    w->conns = k;
    w->count++;
    pw_server_ws_set_data(c, k);
    return 0;
}

/* Answers a refused message (with its id when it has one) and closes. */
static void refuse(struct wsconn *k, const char *text, size_t len, const char *why)
{
    json_t *msg = json_loadb(text, len, 0, NULL);
    json_t *id = json_object_get(msg, "id");
    json_t *err = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
                            id ? id : json_null(), "error", "code", -32001, "message", why);
    send_msg(k, err, NULL);
    json_decref(err);
    json_decref(msg);
    k->closing = true;
    pw_server_ws_close(k->c, 1008, "not admitted");
}

static void on_message(struct pw_server_ws *c, const char *text, size_t len, void *ud)
{
    struct pw_mcp_ws *w = ud;
    struct wsconn *k = pw_server_ws_data(c);
    if (!k || k->closing)
        return;
    char why[200] = "";
    if (w->gate && w->gate->ws_message &&
        w->gate->ws_message(w->gate->ud, k->gated, text, len, why, sizeof why) != 0) {
        refuse(k, text, len, why[0] ? why : "not admitted");
        return;
    }
    pw_mcp_session_receive(k->s, text, len);
}

static void on_close(struct pw_server_ws *c, void *ud)
{
    struct pw_mcp_ws *w = ud;
    struct wsconn *k = pw_server_ws_data(c);
    if (!k)
        return;
    if (k->prev)
        k->prev->next = k->next;
    else
        w->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    w->count--;
    k->closing = true;
    pw_mcp_session_free(k->s);
    if (k->gated && w->gate->ws_close)
        w->gate->ws_close(w->gate->ud, k->gated);
    free(k);
}

static const struct pw_server_ws_handler handler = {
    .on_open = on_open,
    .on_message = on_message,
    .on_close = on_close,
};

/* Closes the connections that have nothing left in flight. */
static void drain(struct pw_mcp_ws *w)
{
    for (struct wsconn *k = w->conns; k; k = k->next) {
        if (!k->closing && pw_mcp_session_inflight(k->s) == 0) {
            k->closing = true;
            pw_server_ws_close(k->c, 1001, "server shutting down");
        }
    }
}

static void on_stop(void *ud)
{
    struct pw_mcp_ws *w = ud;
    w->stopping = true;
    drain(w);
}

static void on_timer(void *ud)
{
    struct pw_mcp_ws *w = ud;
    if (w->stopping)
        drain(w);
}

enum pw_err pw_mcp_ws_attach(struct pw_server *srv, struct pw_mcp_server *mcp,
                             const struct pw_mcp_ws_options *opt, struct pw_mcp_ws **out,
                             struct pw_error *err)
{
    *out = NULL;
    struct pw_mcp_ws *w = calloc(1, sizeof *w);
    if (!w)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "mcp ws: out of memory");
    w->srv = srv;
    w->mcp = mcp;
    w->gate = opt ? opt->gate : NULL;
    struct pw_server_ws_route r = {
        .path = opt && opt->path ? opt->path : "/ws",
        .subprotocol = "mcp",
        .max_message = opt ? opt->max_message : 0,
        .handler = &handler,
        .ud = w,
    };
    enum pw_err rc = pw_server_add_ws(srv, &r, err);
    if (!rc)
        rc = pw_server_on_stop(srv, on_stop, w, err);
    if (!rc)
        rc = pw_server_add_timer(srv, DRAIN_MS, on_timer, w, err);
    if (rc) {
        free(w);
        return rc;
    }
    *out = w;
    return PW_OK;
}

void pw_mcp_ws_free(struct pw_mcp_ws *w)
{
    if (!w)
        return;
    /* pw_server_run closed every connection; anything left is our bug. */
    while (w->conns) {
        struct wsconn *k = w->conns;
        w->conns = k->next;
        pw_mcp_session_free(k->s);
        if (k->gated && w->gate->ws_close)
            w->gate->ws_close(w->gate->ud, k->gated);
        free(k);
    }
    free(w);
}

size_t pw_mcp_ws_count(const struct pw_mcp_ws *w) { return w->count; }
