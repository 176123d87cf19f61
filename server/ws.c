/*
 * One WebSocket connection on libwebsockets: the upgrade check, message
 * reassembly, the outgoing message queue, and closing with a status.
 *
 * Each WebSocket route is an lws protocol named after its subprotocol
 * ("mcp"), so lws binds the upgrade to it by Sec-WebSocket-Protocol. Before
 * that, the HTTP protocol asks server_ws_confirm (LWS_CALLBACK_HTTP_CONFIRM_
 * UPGRADE) and we answer plain HTTP errors while we still can: 404 for a
 * path with no route, 403 for an Origin not on the allow-list, 400 when the
 * subprotocol is missing, 503 while stopping.
 *
 * Receiving: lws hands payload in pieces (rx_buffer_size, frame boundaries);
 * we append until the final fragment's last byte and deliver one message.
 * lws itself closes with 1002 on protocol errors (bad opcodes, reserved
 * bits, bad continuation) and with 1007 on invalid UTF-8
 * (LWS_SERVER_OPTION_VALIDATE_UTF8); we close with 1003 on a binary message
 * (RFC 6455 7.4.1: data of a type the endpoint cannot accept) and 1009 when
 * a message passes the route's bound, or as soon as a frame's announced
 * length shows it will.
 *
 * Sending: pw_server_ws_send queues one block per message; each WRITEABLE
 * writes exactly one (lws_write with LWS_PRE headroom). A peer that lets
 * more than max_queue bytes pile up is closed with 1008.
 *
 * Keep-alive: the vhost's retry policy makes lws ping an idle peer and hang
 * up when no pong comes back (server.c sets it from ws_ping_s).
 *
 * Connection life: ESTABLISHED (on_open) -> RECEIVE/WRITEABLE ... ->
 * CLOSED (on_close, then freed). A close we ask for (pw_server_ws_close)
 * is sent from WRITEABLE once the queue has drained, within a few seconds
 * at most (lws timeout); a refused message (1003, 1009) drops the queue
 * and closes the same way, then lets the peer answer our close (lws waits
 * a few seconds for it).
 *
 * Service thread only.
 *
 * SPDX-License-Identifier: MIT
 */
#include "server/server-int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pennyworth/buf.h"
#include "pennyworth/log.h"

/* A reassembly buffer larger than this is given back after each message. */
#define KEEP_RX_BUFFER 65536
/* The rest of a frame up to this size is reserved on its first bytes. */
#define RESERVE_FRAME 4096
/* Seconds a requested close may take before lws drops the connection. */
#define CLOSE_WAIT_S 5

struct pw_server_ws {
    struct pw_server *srv;
    struct lws *wsi;
    const struct server_ws_route *route;
    struct pw_buf msg;          /* the message being reassembled, max route->max_message */
    struct server_outq out;
    void *data;                 /* the handler's */
    bool opened;                /* on_open accepted it: on_close is owed */
    bool in_open;               /* inside on_open: the upgrade's headers are readable */
    char peer[64];              /* the client's address ("" when unknown) */
    bool closing;               /* close once the queue has drained */
    bool close_sent;            /* lws has our close frame */
    bool linger;                /* then wait for the peer's: it may still be sending */
    int close_status;
    char reason[64];
    struct pw_server_ws *prev, *next; /* srv->wss */
};

struct ws_pss {
    struct pw_server_ws *c;
};

size_t server_ws_pss_size(void) { return sizeof(struct ws_pss); }

void pw_server_ws_set_data(struct pw_server_ws *c, void *data) { c->data = data; }

int pw_server_ws_header(struct pw_server_ws *c, const char *name, char *buf, size_t size)
{
    return c->in_open ? server_wsi_header(c->wsi, name, buf, size) : -1;
}

const char *pw_server_ws_peer(const struct pw_server_ws *c) { return c->peer; }
void *pw_server_ws_data(const struct pw_server_ws *c) { return c->data; }

static const struct server_ws_route *route_by_path(const struct pw_server *srv, const char *path)
{
    for (size_t i = 0; i < srv->nws_routes; i++)
        if (strcmp(srv->ws_routes[i]->path, path) == 0)
            return srv->ws_routes[i];
    return NULL;
}

/* Whether a comma-separated token list contains `want`. */
static bool list_has(const char *list, const char *want)
{
    size_t wn = strlen(want);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *s = p;
        while (*p && *p != ',')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == wn && strncasecmp(s, want, wn) == 0)
            return true;
    }
    return false;
}

int server_ws_confirm(struct pw_server *srv, struct lws *wsi)
{
    char uri[512], buf[512];
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0)
        return server_http_reply_now(wsi, 400, "WebSocket upgrade needs a GET") ? -1 : 1;
    const struct server_ws_route *rt = route_by_path(srv, uri);
    if (!rt)
        return server_http_reply_now(wsi, 404, "no WebSocket endpoint at this path") ? -1 : 1;
    if (srv->stopping)
        return server_http_reply_now(wsi, 503, "the server is shutting down") ? -1 : 1;
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
    if (n > 0) {
        if (n >= (int)sizeof buf || lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_ORIGIN) < 0 ||
            !server_origin_allowed(buf, srv->origins, srv->norigins)) {
            pw_info("server: refused WebSocket Origin '%s'", n < (int)sizeof buf ? buf : "(long)");
            return server_http_reply_now(wsi, 403, "Forbidden: Origin not allowed") ? -1 : 1;
        }
    }
    n = lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_PROTOCOL);
    if (n <= 0 || !list_has(buf, rt->subprotocol)) {
        char msg[128];
        snprintf(msg, sizeof msg, "WebSocket subprotocol '%s' required", rt->subprotocol);
        return server_http_reply_now(wsi, 400, msg) ? -1 : 1;
    }
    return 0;
}

/* Connection life --------------------------------------------------------------- */

static void close_now(struct lws *wsi, int status, const char *reason)
{
    lws_close_reason(wsi, (enum lws_close_status)status, (unsigned char *)reason,
                     strlen(reason));
}

/* Refuses what the peer sends: the close goes out from WRITEABLE, ahead of
 * any answer still queued, and what arrives until then is dropped. Not by
 * returning -1 from RECEIVE: lws would drop the rest of the bytes it had
 * read, unmask what follows out of step, fail it as invalid UTF-8 and hang
 * up without sending our close frame. */
static int refuse_rx(struct pw_server_ws *c, int status, const char *reason)
{
    c->linger = true;
    server_outq_clear(&c->out);
    pw_server_ws_close(c, status, reason);
    return 0;
}

static void conn_free(struct ws_pss *pss)
{
    struct pw_server_ws *c = pss ? pss->c : NULL;
    if (!c)
        return;
    pss->c = NULL;
    struct pw_server *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->wss = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->wsi = NULL;
    if (c->opened) {
        c->opened = false;
        c->route->h->on_close(c, c->route->ud);
    }
    srv->nactive--;
    server_outq_clear(&c->out);
    pw_buf_free(&c->msg);
    free(c);
    server_check_done(srv);
}

static int on_established(struct lws *wsi, struct ws_pss *pss)
{
    struct pw_server *srv = lws_context_user(lws_get_context(wsi));
    const struct server_ws_route *rt = lws_get_protocol(wsi)->user;
    struct pw_server_ws *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->srv = srv;
    c->wsi = wsi;
    c->route = rt;
    pw_buf_init(&c->msg, rt->max_message);
    server_outq_init(&c->out, LWS_PRE);
    c->next = srv->wss;
    if (srv->wss)
        srv->wss->prev = c;
    srv->wss = c;
    if (++srv->nactive > srv->active_peak)
        srv->active_peak = srv->nactive; /* a burst may come and go between trim checks */
    pss->c = c;
    c->opened = true;
    lws_get_peer_simple(wsi, c->peer, sizeof c->peer);
    c->in_open = true;
    int refused = rt->h->on_open ? rt->h->on_open(c, rt->ud) : 0;
    c->in_open = false;
    if (refused) {
        c->opened = false;
        pw_server_ws_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "session refused");
    }
    return 0;
}

static int on_receive(struct lws *wsi, struct ws_pss *pss, const char *in, size_t len)
{
    struct pw_server_ws *c = pss->c;
    if (!c || c->closing)
        return 0;
    if (lws_frame_is_binary(wsi))
        return refuse_rx(c, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
                         "binary messages are not accepted");
    /* A frame announces its length up front: one that cannot fit is refused
     * on its first bytes, not after we buffered up to the bound. */
    size_t rest = lws_remaining_packet_payload(wsi);
    size_t room = c->msg.max - c->msg.len;
    if (len > room || rest > room - len) {
        pw_info("server: WebSocket message over %zu bytes; closing with 1009", c->msg.max);
        return refuse_rx(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
    }
    /* Room for the rest of a small frame too: a message in one frame (nearly
     * all of them) costs one allocation, which is all an idle connection
     * keeps. A larger frame gets room only as its bytes come, so an
     * announced length alone reserves next to nothing. */
    if (pw_buf_reserve(&c->msg, len + (rest <= RESERVE_FRAME ? rest : 0)) != PW_OK)
        return refuse_rx(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
    pw_buf_append(&c->msg, in, len);
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    if (c->opened)
        c->route->h->on_message(c, c->msg.data, c->msg.len, c->route->ud);
    if (pss->c != c)
        return 0; /* the connection was freed meanwhile, and `c` with it */
    if (c->msg.cap > KEEP_RX_BUFFER)
        pw_buf_free(&c->msg);
    else
        pw_buf_clear(&c->msg);
    return 0;
}

static int on_writeable(struct lws *wsi, struct ws_pss *pss)
{
    struct pw_server_ws *c = pss->c;
    if (!c)
        return 0;
    size_t n;
    unsigned char *p = server_outq_front(&c->out, &n);
    if (p) {
        if (lws_write(wsi, p, n, LWS_WRITE_TEXT) < (int)n)
            return -1;
        server_outq_pop(&c->out);
        if (c->out.head) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    if (c->closing) {
        /* The first -1 has lws send our close frame; another one hangs up.
         * After a refusal the peer may still be sending, and hanging up on
         * unread bytes resets the connection, which can destroy our close
         * frame before the peer reads it: lws waits for the peer's close. */
        if (c->close_sent && c->linger)
            return 0;
        c->close_sent = true;
        close_now(wsi, c->close_status, c->reason);
        return -1;
    }
    return 0;
}

int server_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    struct ws_pss *pss = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        /* The subprotocol picked this route; the path must agree. */
        const struct server_ws_route *rt = lws_get_protocol(wsi)->user;
        char uri[512];
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
            strcmp(uri, rt->path) != 0)
            return 1;
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
        return on_established(wsi, pss);
    case LWS_CALLBACK_RECEIVE:
        return on_receive(wsi, pss, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(wsi, pss);
    case LWS_CALLBACK_CLOSED:
        conn_free(pss);
        return 0;
    default:
        return 0;
    }
}

/* The handler API ---------------------------------------------------------------- */

enum pw_err pw_server_ws_send(struct pw_server_ws *c, const char *text, size_t len)
{
    if (c->closing || !c->wsi)
        return PW_ERR_STATE;
    if (c->out.bytes + len > c->route->max_queue) {
        pw_warn("server: WebSocket peer is not reading (%zu bytes queued); closing with 1008",
                c->out.bytes);
        server_outq_clear(&c->out);
        pw_server_ws_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "peer too slow");
        return PW_ERR_TOO_LARGE;
    }
    if (server_outq_push(&c->out, text, len, true))
        return PW_ERR_NOMEM;
    if (c->srv->ctx)
        lws_callback_on_writable(c->wsi);
    return PW_OK;
}

void pw_server_ws_close(struct pw_server_ws *c, int status, const char *reason)
{
    if (c->closing || !c->wsi)
        return;
    c->closing = true;
    c->close_status = status;
    snprintf(c->reason, sizeof c->reason, "%s", reason ? reason : "");
    if (c->srv->ctx) {
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, CLOSE_WAIT_S);
        lws_callback_on_writable(c->wsi);
    }
}
