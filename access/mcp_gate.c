/*
 * The WebSocket MCP transport's admission gate (pennyworth/mcp_net.h), so
 * that /ws is behind the same keys, scopes and limits as /v1 and /mcp
 * (which, being HTTP routes, go through the server's admission stage:
 * filter.c):
 *
 *   struct pw_mcp_gate gate;
 *   pw_access_mcp_gate(acc, &gate);
 *   ... pw_mcp_ws_options.gate = &gate ...
 *
 * The credential comes once, at the upgrade: a header (clients
 * that can set one) or a single-use ticket offered as the subprotocol
 * "pw-ticket.<t>" beside "mcp" (browsers; POST /auth/ws-ticket issues it).
 * The connection then keeps only the key id, and every message is
 * re-admitted by that id (pw_access_request.key_id), which is how
 * revocation reaches an open connection (the per-IP limit counted the
 * upgrade; messages of an authenticated connection do not count there).
 * A connection admitted in open mode (no key existed) is re-admitted
 * without a key, so creating the first key closes it from its next
 * message.
 *
 * Each admitted message is counted and recorded like any other request
 * (route "/ws"); the MCP engine counts its sessions and methods itself.
 *
 * Threads: the service thread, like the transports.
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/mcp_net.h"
#include "pennyworth/server.h"

/* One WebSocket connection's admission state. */
struct wsgate {
    char key_id[PW_ACCESS_ID_MAX]; /* "" when admitted in open mode */
};

/* Admits one request or message; fills *g and records it when admitted. */
static void admit(struct pw_access *acc, const struct pw_access_request *req,
                  const char *route, struct pw_access_grant *g)
{
    pw_access_admit(acc, req, g);
    char id[PW_SERVER_REQID_MAX];
    pw_server_request_id(NULL, id);
    struct pw_access_usage u = {
        .request_id = id,
        .route = route,
        .status = g->status ? g->status : 200,
    };
    pw_access_finish(acc, g, &u);
}

static int refusal(const struct pw_access_grant *g, char *why, size_t size)
{
    snprintf(why, size, "%s", g->message);
    return g->status;
}

static int on_ws_open(void *ud, struct pw_server_ws *c, void **session,
                      char who[PW_MCP_WHO_MAX], char *why, size_t size)
{
    struct pw_access *acc = ud;
    char cred[PW_ACCESS_KEY_MAX + 64] = "", proto[512], ticket[PW_ACCESS_TICKET_MAX];
    char key_id[PW_ACCESS_ID_MAX] = "";
    struct pw_access_request req = {
        .client_ip = pw_server_ws_peer(c),
        .scope = PW_ACCESS_SCOPE_MCP,
    };
    if (pw_server_ws_header(c, "authorization", cred, sizeof cred) >= 0) {
        req.authorization = cred;
    } else if (pw_server_ws_header(c, "x-api-key", cred, sizeof cred) >= 0) {
        req.api_key = cred;
    } else if (pw_server_ws_header(c, "sec-websocket-protocol", proto, sizeof proto) >= 0 &&
               pw_access_ws_ticket_find(proto, ticket)) {
        struct pw_error err = {0};
        enum pw_err rc = pw_access_ws_redeem(acc, ticket, key_id, &err);
        OPENSSL_cleanse(ticket, sizeof ticket);
        if (rc != PW_OK) {
            snprintf(why, size, "%s", err.message);
            return 401;
        }
        req.key_id = key_id;
    }
    struct pw_access_grant g;
    admit(acc, &req, "/ws", &g);
    OPENSSL_cleanse(cred, sizeof cred);
    if (g.status)
        return refusal(&g, why, size);
    struct wsgate *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(why, size, "out of memory");
        return 503;
    }
    snprintf(s->key_id, sizeof s->key_id, "%s", g.open ? "" : g.key_id);
    snprintf(who, PW_MCP_WHO_MAX, "%s", s->key_id);
    *session = s;
    return 0;
}

static int on_ws_message(void *ud, void *session, const char *text, size_t len, char *why,
                         size_t size)
{
    struct wsgate *s = session;
    struct pw_access_request req = {
        .key_id = s->key_id[0] ? s->key_id : NULL,
        .scope = PW_ACCESS_SCOPE_MCP,
    };
    struct pw_access_grant g;
    admit(ud, &req, "/ws", &g);
    (void)text;
    (void)len;
    if (g.status)
        return refusal(&g, why, size);
    return 0;
}

static void on_ws_close(void *ud, void *session)
{
    (void)ud;
    free(session);
}

void pw_access_mcp_gate(struct pw_access *acc, struct pw_mcp_gate *out)
{
    memset(out, 0, sizeof *out);
    out->ws_open = on_ws_open;
    out->ws_message = on_ws_message;
    out->ws_close = on_ws_close;
    out->ud = acc;
}
