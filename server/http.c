/*
 * One HTTP request/response exchange on libwebsockets (the "http" protocol,
 * protocols[0]), and the route table's dispatch.
 *
 * lws gives us callbacks per connection; a `struct pw_server_req` is made
 * for each request (LWS_CALLBACK_HTTP) and hangs off the per-session data,
 * which lws frees and re-creates between keep-alive transactions. The
 * request collects its body (any method may carry one; its length comes
 * from Content-Length alone, required for POST/PUT/PATCH, so a body can
 * never swallow the next request; Transfer-Encoding is refused), goes to
 * the route's handler, and queues whatever the handler writes in an output
 * queue drained one lws_write per WRITEABLE callback. Streamed responses
 * use chunked transfer coding on HTTP/1.1 (lws passes h1 bodies through
 * untouched) and close-delimited bodies on HTTP/1.0. ALPN is pinned to
 * http/1.1 in server.c, so there is no h2 here.
 *
 * The request state machine (SQLite pager.c style):
 *
 *          LWS_CALLBACK_HTTP (req_new)
 *                  |
 *       +----------+------------------------------+
 *       | body expected                           | no body / empty body
 *       v                                         |
 *    R_BODY --HTTP_BODY_COMPLETION (begin)-->  R_HANDLER <--+---- R_WORK
 *       |                                      |   |   |    ^   (answer back
 *       | early error (fail)     respond() /   |   |   +----+    from a worker,
 *       |                        req_error()   |   | start() on_work  work.c)
 *       |                                      |   v
 *       |                                      | R_STREAM --write()*-- (self)
 *       |                                      |   |
 *       |                                      v   v end()
 *       +-----------------------------------> R_FLUSH --queue drained (writeable)-->
 *                                                       transaction completed, req freed
 *
 *    begin runs the pipeline's admission and the handler (pipeline.c); a
 *    route with `on_work` moves the request to R_WORK until a worker has
 *    answered. Connection closed in any state (req_detach): in R_HANDLER or
 *    R_STREAM the handler's on_close runs (it still holds the request); then
 *    the request is freed. In R_BODY or R_FLUSH the handler holds nothing,
 *    so nothing is called. In R_WORK the request is only marked `orphan`: a
 *    worker still reads it, and work.c frees it when the worker is done.
 *
 * Invariants:
 *   1. A request is in srv->reqs and counted in srv->nactive from req_new to
 *      req_free.
 *   2. The handler may use a request only in R_HANDLER and R_STREAM (a
 *      worker, in R_WORK, only its read-only view: work.c).
 *   3. on_close is never called from inside a pw_server_req_* call: a
 *      failing write only marks the request `kill`, and the close arrives
 *      from lws later.
 *   4. Every lws call happens on the service thread; nothing writes to the
 *      socket outside HTTP_WRITEABLE except server_http_reply_now, used
 *      only where lws itself writes directly (CONFIRM_UPGRADE), and
 *      close_now, which sends a queued answer on a connection it is about
 *      to close (invariant 7).
 *   5. A request without a body that outlives its on_request call (an SSE
 *      stream, a late answer), or whose answer takes more than one write (a
 *      large file to a slow reader), is in the server's watch set until it
 *      finishes. lws 4.1 does not read a connection while such a request is
 *      being answered (LRS_DOING_TRANSACTION; lws issue #2455), so a client
 *      that hangs up (or sends anything) leaves POLLIN raised and the loop
 *      spinning. The watch set is an epoll instance inside the lws loop
 *      (server.c); when it reports input or a hang-up on a watched socket,
 *      server_http_watch_fired drops that connection. Requests with a body
 *      need no watching: lws reads them (LRS_BODY) and sees the EOF itself.
 *   6. While bytes of a response are queued (here or in lws), a no-progress
 *      timeout runs: FLUSH_TIMEOUT_S from the last block handed to lws
 *      (bodies are queued in BODY_PIECE blocks), so a client that stops
 *      reading an answer larger than the socket buffers cannot hold the
 *      connection and the answer forever (lws sets no timeout of its own
 *      there); a request marked `kill` gets KILL_TIMEOUT_S, since a stuck
 *      socket may never be writeable again. Once the queue drains the
 *      timeout is cleared: a stream may idle.
 *   7. A body is complete exactly once. lws 4.1 keeps a connection in
 *      LRS_BODY after its body is in until the transaction completes, and
 *      feeds any byte that follows (a pipelined request, a stray CRLF) to
 *      that state, which answers with another BODY_COMPLETION and consumes
 *      nothing; from its buffered-input pass (lws_service_do_ripe_rxflow)
 *      it does so again and again without returning to poll, so the whole
 *      loop froze: no accept, no timers, no stop. lws's rx flow control
 *      cannot hold those bytes back either (a flow-controlled h1 server
 *      connection is never serviced for POLLOUT, and holding with bytes
 *      buffered re-arms POLLOUT). So a second BODY_COMPLETION closes the
 *      connection at once, after sending an answer already queued whole
 *      (close_now): bytes after a body before its transaction completed
 *      are a pipelined request we do not serve (RFC 9112 9.3.2 lets a
 *      server close; clients retry on a new connection). Pipelined
 *      requests behind a body-less request answered at once are still
 *      served in order (lws parses them after the transaction completes).
 *      The same bytes behind a body-less request being answered
 *      (LRS_DOING_TRANSACTION) are never read either; lws then polls
 *      without waiting for as long as the answer lasts (an SSE stream: for
 *      ever), and calls us for none of it. server_http_unstick finds such
 *      a connection with lws's own test for pending input (it is among the
 *      requests being answered without a body, and holding its input is
 *      what clears the test) and closes it.
 *   8. Body buffers grow as bytes arrive (never sized from Content-Length
 *      up front), and every request's buffer together stays within the
 *      server's body budget (srv->body_bytes <= srv->body_budget); a
 *      request that would pass it is refused with 503 and the connection
 *      closed, so slow clients declaring large bodies cannot pin memory.
 *      lws times out a body only between two pieces of it, so a body that
 *      trickles could hold its share for ever: it must be in within
 *      body_timeout_s of its headers (408 and close).
 *   9. Answers queued by every request together stay within the server's
 *      out budget (srv->out_bytes, counted by the queues themselves): an
 *      answer that would pass it becomes a 503 and the connection closes,
 *      a stream that would pass it is cut, so many clients that ask for a
 *      large answer and never read it cannot make the server hold it for
 *      each of them.
 *
 * SPDX-License-Identifier: MIT
 */
#include "pennyworth/assert.h"
#include "pennyworth/json.h"
#include "server/server-int.h"

#include <errno.h>
#include <jansson.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pennyworth/log.h"

/* Bytes a streamed response may have queued before we drop the client. */
#define STREAM_MAX_QUEUE ((size_t)16 * 1024 * 1024)
/* Seconds an answer may go without progress (a client that stopped reading)
 * before the connection is dropped, and how soon a connection marked `kill`
 * goes when it cannot even be written to. */
#define FLUSH_TIMEOUT_S 20
#define KILL_TIMEOUT_S 1
/* A response body is queued in pieces of at most this many bytes. */
#define BODY_PIECE ((size_t)256 * 1024)
/* A declared body this many times over the bound is refused without
 * reading it (the connection closes); smaller ones are read and dropped so
 * the client sees the 413. */
#define DISCARD_FACTOR 8
/* A body buffer's first capacity; it doubles from there (invariant 8). */
#define BODY_FIRST ((size_t)16 * 1024)

/* Per-session data (lws allocates and zeroes it, one per transaction). */
struct http_pss {
    struct pw_server_req *req;
};

size_t server_http_pss_size(void) { return sizeof(struct http_pss); }

static struct pw_server *srv_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* Writing (invariant 6) and the watch set (invariant 5) ---------------------------- */

/* Bytes are queued: asks for a writeable callback, with the no-progress
 * timeout running. */
static void want_write(struct pw_server_req *r)
{
    PW_ASSERT(server_on_loop(r->srv));
    if (!r->wsi || !r->srv->ctx)
        return;
    if (r->kill) {
        lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, KILL_TIMEOUT_S);
    } else if (r->out.bytes && !r->flush_armed) {
        lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, FLUSH_TIMEOUT_S);
        r->flush_armed = true;
    }
    lws_callback_on_writable(r->wsi);
}

/* Invariant 5: watch a body-less request that is still being answered. */
static void watch(struct pw_server_req *r)
{
    if (r->has_body || r->watched_fd >= 0 || !r->wsi || r->srv->watch_fd < 0)
        return;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = r};
    int fd = lws_get_socket_fd(r->wsi);
    if (fd >= 0 && epoll_ctl(r->srv->watch_fd, EPOLL_CTL_ADD, fd, &ev) == 0)
        r->watched_fd = fd;
}

static void unwatch(struct pw_server_req *r)
{
    if (r->watched_fd < 0)
        return;
    epoll_ctl(r->srv->watch_fd, EPOLL_CTL_DEL, r->watched_fd, NULL);
    r->watched_fd = -1;
}

/* Invariant 7: the loop has pending input it cannot consume. */
void server_http_unstick(struct pw_server *srv)
{
    PW_ASSERT(server_on_loop(srv));
    struct lws_context *ctx = srv->ctx;
    size_t held = 0;
    for (struct pw_server_req *r = srv->reqs; r; r = r->next)
        if (!r->has_body && r->wsi && r->state != R_BODY) {
            lws_rx_flow_control(r->wsi, 0 | LWS_RXFLOW_REASON_FLAG_PROCESS_NOW);
            held++;
        }
    bool ours = held && lws_service_adjust_timeout(ctx, 1, 0) != 0;
    for (struct pw_server_req *r = srv->reqs; r && held; r = r->next) {
        if (r->has_body || !r->wsi || r->state == R_BODY)
            continue;
        held--;
        lws_rx_flow_control(r->wsi, 1 | LWS_RXFLOW_REASON_FLAG_PROCESS_NOW);
        if (ours && !lws_service_adjust_timeout(ctx, 1, 0)) {
            pw_info("server: %s: bytes followed a request still being answered; closing",
                    r->path);
            lws_rx_flow_control(r->wsi, 0 | LWS_RXFLOW_REASON_FLAG_PROCESS_NOW);
            lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
        }
    }
}

void server_http_watch_fired(struct pw_server *srv)
{
    PW_ASSERT(server_on_loop(srv));
    struct epoll_event evs[64];
    int n = epoll_wait(srv->watch_fd, evs, 64, 0);
    for (int i = 0; i < n; i++) {
        struct pw_server_req *r = evs[i].data.ptr;
        unwatch(r);
        /* Closed on lws's next timer pass (on_close follows), not at a
         * writeable that a peer who stopped reading may never allow. */
        r->kill = true;
        if (r->wsi)
            lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
    }
}


/* Life cycle ------------------------------------------------------------------ */

static struct pw_server_req *req_new(struct pw_server *srv, struct lws *wsi, const char *path)
{
    struct pw_server_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->path = strdup(path ? path : "/");
    r->body = calloc(1, 1);
    if (!r->path || !r->body) {
        free(r->path);
        free(r->body);
        free(r);
        return NULL;
    }
    r->body_cap = 1;
    r->started_ms = pw_clock_ms();
    srv->body_bytes += r->body_cap;
    r->watched_fd = -1;
    r->srv = srv;
    r->wsi = wsi;
    r->tls = lws_is_ssl(wsi) != 0;
    server_outq_init(&r->out, LWS_PRE);
    r->out.shared = &srv->out_bytes;
    r->next = srv->reqs;
    if (srv->reqs)
        srv->reqs->prev = r;
    srv->reqs = r;
    srv->nactive++;
    server_ctx_clear(&r->ctx);
    r->ctx.at_us[PW_SERVER_MARK_RECEIVED] = pw_clock_us();
    r->ctx.method = r->method;
    r->ctx.route = "unmatched";
    return r;
}

void server_req_free(struct pw_server_req *r)
{
    PW_ASSERT(server_on_loop(r->srv) && r->srv->nactive > 0);
    struct pw_server *srv = r->srv;
    server_pipeline_done(r);
    server_ctx_clear(&r->ctx);
    unwatch(r);
    if (r->prev)
        r->prev->next = r->next;
    else
        srv->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    srv->nactive--;
    PW_ASSERT(srv->body_bytes >= r->body_cap);
    srv->body_bytes -= r->body_cap;
    server_outq_clear(&r->out);
    for (size_t i = 0; i < r->nextra; i++)
        free(r->extra[i]);
    free(r->extra);
    free(r->query);
    free(r->path);
    free(r->body);
    free(r);
    server_check_done(srv);
}

/* The connection is gone (or the transaction is being torn down). */
static void req_detach(struct http_pss *pss)
{
    struct pw_server_req *r = pss ? pss->req : NULL;
    if (!r)
        return;
    pss->req = NULL;
    r->wsi = NULL;
    /* Now, not at the free: lws closes the socket and its number may come
     * back for another connection that a late EPOLL_CTL_DEL would unwatch. */
    unwatch(r);
    if (r->state == R_WORK) {
        r->orphan = true; /* the worker still reads it: work.c frees it */
        return;
    }
    if ((r->state == R_HANDLER || r->state == R_STREAM) && r->route && r->route->h->on_close) {
        r->state = R_FLUSH; /* the handler is done with it after on_close */
        r->route->h->on_close(r, r->route->ud);
    }
    server_req_free(r);
}

/* Response heads ---------------------------------------------------------------- */

/*
 * Queues the status line and headers. clen < 0 means a streamed body
 * (chunked on HTTP/1.1, close-delimited on 1.0). Returns 0 or -1.
 */
static int put_head(struct pw_server_req *r, int status, const char *ctype,
                    const char *const *hdrs, long long clen)
{
    unsigned char buf[LWS_PRE + 8192];
    unsigned char *p = buf + LWS_PRE, *start = p, *end = buf + sizeof buf - 1;
    struct lws *wsi = r->wsi;
    if (!wsi)
        return -1;
    if (lws_add_http_header_status(wsi, (unsigned int)status, &p, end))
        return -1;
    r->ctx.status = status;
    if (!r->ctx.at_us[PW_SERVER_MARK_FIRST_BYTE])
        r->ctx.at_us[PW_SERVER_MARK_FIRST_BYTE] = pw_clock_us();
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)"x-request-id:",
                                    (const unsigned char *)r->ctx.request_id,
                                    (int)strlen(r->ctx.request_id), &p, end))
        return -1;
    if (ctype && lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                              (const unsigned char *)ctype, (int)strlen(ctype),
                                              &p, end))
        return -1;
    if (clen >= 0) {
        if (status != 204 && status != 304 &&
            lws_add_http_header_content_length(wsi, (lws_filepos_t)clen, &p, end))
            return -1;
    } else if (r->http10) {
        r->close_after = true;
    } else {
        r->chunked = true;
        if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING,
                                         (const unsigned char *)"chunked", 7, &p, end))
            return -1;
    }
    for (size_t i = 0; hdrs && hdrs[i] && hdrs[i + 1]; i += 2) {
        if (strcasecmp(hdrs[i], "connection") == 0) {
            /* A handler that wants the connection closed after this
             * response (an SSE stream that ended with [DONE]): sent once,
             * below, and honoured when the response is written. */
            r->close_after |= strcasecmp(hdrs[i + 1], "close") == 0;
            continue;
        }
        char name[128];
        int n = snprintf(name, sizeof name, "%s:", hdrs[i]);
        if (n < 0 || (size_t)n >= sizeof name)
            return -1;
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                        (const unsigned char *)hdrs[i + 1],
                                        (int)strlen(hdrs[i + 1]), &p, end))
            return -1;
    }
    for (size_t i = 0; i + 1 < r->nextra; i += 2) {
        char name[128];
        int n = snprintf(name, sizeof name, "%s:", r->extra[i]);
        if (n < 0 || (size_t)n >= sizeof name)
            return -1;
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                        (const unsigned char *)r->extra[i + 1],
                                        (int)strlen(r->extra[i + 1]), &p, end))
            return -1;
    }
    if (r->srv->stopping)
        r->close_after = true;
    if (r->close_after &&
        lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close",
                                     5, &p, end))
        return -1;
    if (lws_finalize_http_header(wsi, &p, end))
        return -1;
    return server_outq_push(&r->out, start, (size_t)(p - start), false);
}

/* The handler API ------------------------------------------------------------------ */

const char *pw_server_req_method(const struct pw_server_req *r) { return r->method; }
const char *pw_server_req_path(const struct pw_server_req *r) { return r->path; }
const char *pw_server_req_peer(const struct pw_server_req *r) { return r->peer; }
const char *pw_server_req_query(const struct pw_server_req *r)
{
    return r->query ? r->query : "";
}

enum pw_err pw_server_req_add_headers(struct pw_server_req *r, const char *const *headers)
{
    size_t n = 0;
    while (headers && headers[n] && headers[n + 1])
        n += 2;
    if (!n)
        return PW_OK;
    char **grown = realloc(r->extra, (r->nextra + n) * sizeof *grown);
    if (!grown)
        return PW_ERR_NOMEM;
    r->extra = grown;
    for (size_t i = 0; i < n; i++) {
        if (!(r->extra[r->nextra] = strdup(headers[i])))
            return PW_ERR_NOMEM; /* whole pairs only go out (put_head) */
        r->nextra++;
    }
    return PW_OK;
}

/* The query string as lws keeps it (one fragment per argument, '&' gone). */
static char *query_of(struct lws *wsi)
{
    int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
    char *q = calloc(1, total > 0 ? (size_t)total + 64 : 1);
    if (!q || total <= 0)
        return q;
    size_t len = 0, cap = (size_t)total + 64;
    for (int i = 0;; i++) {
        int fl = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (fl <= 0 || len + (size_t)fl + 2 > cap)
            break;
        if (len)
            q[len++] = '&';
        int n = lws_hdr_copy_fragment(wsi, q + len, (int)(cap - len), WSI_TOKEN_HTTP_URI_ARGS,
                                      i);
        if (n < 0)
            break;
        len += (size_t)n;
    }
    q[len] = '\0';
    return q;
}
void pw_server_req_set_data(struct pw_server_req *r, void *data) { r->data = data; }
struct pw_server_ctx *pw_server_req_ctx(struct pw_server_req *r) { return &r->ctx; }
void *pw_server_req_data(const struct pw_server_req *r) { return r->data; }
bool pw_server_req_tls(const struct pw_server_req *r) { return r->tls; }
size_t pw_server_req_queued(const struct pw_server_req *r) { return r->out.bytes; }

const char *pw_server_req_body(const struct pw_server_req *r, size_t *len)
{
    if (len)
        *len = r->body_len;
    return r->body;
}

/* The lws token for a header name ("accept:"), or -1 for a custom header.
 * The few names handlers ask for are remembered (service thread only). */
static int token_for(const char *name_colon)
{
    static struct {
        char name[40];
        int tok;
    } memo[16];
    static size_t nmemo;
    for (size_t i = 0; i < nmemo; i++)
        if (strcmp(memo[i].name, name_colon) == 0)
            return memo[i].tok;
    int tok = -1;
    for (int t = 0; t < (int)WSI_TOKEN_COUNT && tok < 0; t++) {
        const unsigned char *s = lws_token_to_string((enum lws_token_indexes)t);
        if (s && strcmp((const char *)s, name_colon) == 0)
            tok = t;
    }
    if (nmemo < sizeof memo / sizeof memo[0] && strlen(name_colon) < sizeof memo[0].name) {
        snprintf(memo[nmemo].name, sizeof memo[nmemo].name, "%s", name_colon);
        memo[nmemo++].tok = tok;
    }
    return tok;
}

int server_wsi_header(struct lws *wsi, const char *name, char *buf, size_t size)
{
    char key[128];
    int kn = snprintf(key, sizeof key, "%s:", name);
    if (!wsi || kn < 0 || (size_t)kn >= sizeof key || !size || size > INT32_MAX)
        return -1;
    int t = token_for(key);
    if (t >= 0) {
        int n = lws_hdr_total_length(wsi, (enum lws_token_indexes)t);
        if (n <= 0)
            return -1;
        if ((size_t)n >= size)
            return -2;
        n = lws_hdr_copy(wsi, buf, (int)size, (enum lws_token_indexes)t);
        return n < 0 ? -2 : n;
    }
    int n = lws_hdr_custom_length(wsi, key, kn);
    if (n < 0)
        return -1;
    if ((size_t)n >= size)
        return -2;
    n = lws_hdr_custom_copy(wsi, buf, (int)size, key, kn);
    return n < 0 ? -2 : n;
}

int pw_server_req_header(struct pw_server_req *r, const char *name, char *buf, size_t size)
{
    return server_wsi_header(r->wsi, name, buf, size);
}

bool pw_server_req_is_json(struct pw_server_req *r)
{
    static const char want[] = "application/json";
    char ct[256];
    if (pw_server_req_header(r, "content-type", ct, sizeof ct) < 0 ||
        strncasecmp(ct, want, sizeof want - 1) != 0)
        return false;
    const char *p = ct + sizeof want - 1;
    while (*p == ' ' || *p == '\t')
        p++;
    return !*p || *p == ';';
}

enum pw_err pw_server_req_respond(struct pw_server_req *r, int status, const char *content_type,
                                  const char *const *headers, const void *body, size_t len)
{
    if (r->state != R_HANDLER) {
        pw_errorlog("server: respond on a request in state %d (%s)", (int)r->state, r->path);
        return PW_ERR_STATE;
    }
    r->state = R_FLUSH;
    static const char busy[] =
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,\"message\":"
        "\"Service Unavailable: too many answers waiting to be read\"}}";
    if (!r->head && !r->kill && r->srv->out_bytes + len > r->srv->out_budget) {
        static struct server_warn_rate rate;
        if (server_warn_due(&rate))
            pw_warn("server: answers queued hold %zu bytes (budget %zu); refusing %zu for %s "
                    "(%zu more refused since the last warning)",
                    r->srv->out_bytes, r->srv->out_budget, len, r->path, server_warn_quiet(&rate));
        status = 503;
        content_type = "application/json";
        headers = NULL;
        body = busy;
        len = sizeof busy - 1;
        r->close_after = true;
    }
    int rc = put_head(r, status, content_type, headers, (long long)len);
    /* In pieces, so the no-progress timeout (invariant 6) sees a slow
     * client's progress through a large body; none for a connection being
     * dropped (it is never written). */
    for (size_t off = 0; !rc && !r->head && !r->kill && off < len; off += BODY_PIECE) {
        size_t n = len - off < BODY_PIECE ? len - off : BODY_PIECE;
        rc = server_outq_push(&r->out, (const char *)body + off, n, false);
    }
    if (rc) {
        r->kill = true;
        want_write(r);
        return PW_ERR_NOMEM;
    }
    want_write(r);
    return PW_OK;
}

char *server_error_body(int status, const char *message)
{
    (void)status;
    json_t *o = json_pack("{s:s, s:n, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", "error", "code",
                          -32000, "message", message ? message : "error");
    char *s = o ? json_dumps(o, PW_JSON_WIRE) : NULL;
    json_decref(o);
    return s;
}

void pw_server_req_error(struct pw_server_req *r, int status, const char *message)
{
    if (r->state != R_HANDLER)
        return;
    if (r->route && r->route->h->error) {
        r->route->h->error(r, status, message, r->route->ud);
        if (r->state != R_HANDLER)
            return;
    }
    char *body = server_error_body(status, message);
    pw_server_req_respond(r, status, "application/json", NULL, body ? body : "",
                          body ? strlen(body) : 0);
    free(body);
}

enum pw_err pw_server_req_start(struct pw_server_req *r, int status, const char *content_type,
                                const char *const *headers)
{
    if (r->state != R_HANDLER) {
        pw_errorlog("server: start on a request in state %d (%s)", (int)r->state, r->path);
        return PW_ERR_STATE;
    }
    r->state = R_STREAM;
    if (put_head(r, status, content_type, headers, -1)) {
        r->kill = true;
        want_write(r);
        return PW_ERR_NOMEM;
    }
    /* A stream may stay quiet for long: no lws content timeout applies. */
    if (r->wsi)
        lws_set_timeout(r->wsi, NO_PENDING_TIMEOUT, 0);
    watch(r);
    want_write(r);
    return PW_OK;
}

enum pw_err pw_server_req_write(struct pw_server_req *r, const void *data, size_t len)
{
    if (r->state != R_STREAM)
        return PW_ERR_STATE;
    if (r->kill)
        return PW_ERR_IO;
    if (!len || r->head)
        return PW_OK;
    if (r->out.bytes + len > STREAM_MAX_QUEUE || r->srv->out_bytes + len > r->srv->out_budget) {
        pw_warn("server: %s: client is not reading (%zu bytes queued); dropping it", r->path,
                r->out.bytes);
        r->kill = true;
        want_write(r);
        return PW_ERR_TOO_LARGE;
    }
    int rc = 0;
    if (r->chunked) {
        char hdr[24];
        int n = snprintf(hdr, sizeof hdr, "%zx\r\n", len);
        rc |= server_outq_push(&r->out, hdr, (size_t)n, false);
        rc |= server_outq_push(&r->out, data, len, false);
        rc |= server_outq_push(&r->out, "\r\n", 2, false);
    } else {
        rc = server_outq_push(&r->out, data, len, false);
    }
    if (rc) {
        r->kill = true;
        want_write(r);
        return PW_ERR_NOMEM;
    }
    want_write(r);
    return PW_OK;
}

void pw_server_req_end(struct pw_server_req *r)
{
    if (r->state != R_STREAM) {
        pw_errorlog("server: end on a request in state %d (%s)", (int)r->state, r->path);
        return;
    }
    r->state = R_FLUSH;
    if (r->chunked && !r->kill && server_outq_push(&r->out, "0\r\n\r\n", 5, false))
        r->kill = true;
    want_write(r);
}

/* Dispatch ------------------------------------------------------------------------- */

/* A response the server decides itself (before or instead of the handler).
 * A declared body is still read (and dropped) by lws so that the client
 * sees the answer. */
static int fail(struct pw_server_req *r, int status, const char *message)
{
    r->state = R_HANDLER;
    pw_server_req_error(r, status, message);
    return 0;
}

static void begin(struct pw_server_req *r)
{
    r->state = R_HANDLER;
    if (r->wsi)
        lws_set_timeout(r->wsi, NO_PENDING_TIMEOUT, 0);
    server_pipeline_run(r);
    if (r->state != R_FLUSH)
        watch(r); /* still unanswered (or streaming, or at a worker) */
}

static const struct {
    enum lws_token_indexes tok;
    const char *name;
    bool needs_length;          /* the method's body is its point: Content-Length required */
} methods[] = {
    {WSI_TOKEN_GET_URI, "GET", false},       {WSI_TOKEN_POST_URI, "POST", true},
    {WSI_TOKEN_OPTIONS_URI, "OPTIONS", false}, {WSI_TOKEN_PUT_URI, "PUT", true},
    {WSI_TOKEN_PATCH_URI, "PATCH", true},    {WSI_TOKEN_DELETE_URI, "DELETE", false},
    {WSI_TOKEN_HEAD_URI, "HEAD", false},
};

/* Parses a Content-Length value; -1 when malformed. */
static long long parse_length(const char *s)
{
    if (!*s)
        return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno || v > (unsigned long long)INT64_MAX)
        return -1;
    return (long long)v;
}

/*
 * The declared body length: 0 when there is none, -1 (411) when a method
 * that needs one has none or the body is sent with a Transfer-Encoding,
 * -2 (400) when Content-Length is malformed.
 */
static long long declared_length(struct pw_server_req *r, bool needs_length)
{
    char buf[32];
    if (pw_server_req_header(r, "transfer-encoding", buf, sizeof buf) != -1)
        return -1;
    int n = pw_server_req_header(r, "content-length", buf, sizeof buf);
    if (n == -1)
        return needs_length ? -1 : 0;
    long long len = n > 0 ? parse_length(buf) : -1;
    return len < 0 ? -2 : len;
}

static int on_http(struct lws *wsi, struct http_pss *pss, const char *path)
{
    struct pw_server *srv = srv_of(wsi);
    req_detach(pss); /* a stale request would be our bug; never leak it */
    struct pw_server_req *r = req_new(srv, wsi, path);
    if (!r)
        return -1;
    pss->req = r;
    char incoming[PW_SERVER_REQID_MAX];
    pw_server_request_id(pw_server_req_header(r, "x-request-id", incoming, sizeof incoming) > 0
                          ? incoming : NULL, r->ctx.request_id);
    lws_get_peer_simple(wsi, r->peer, sizeof r->peer);
    server_trace_begin(r);
    r->query = query_of(wsi);
    bool needs_length = false;
    snprintf(r->method, sizeof r->method, "%s", "?");
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (lws_hdr_total_length(wsi, methods[i].tok) > 0) {
            snprintf(r->method, sizeof r->method, "%s", methods[i].name);
            needs_length = methods[i].needs_length;
            break;
        }
    }
    r->head = strcmp(r->method, "HEAD") == 0;
    char ver[16];
    if (lws_hdr_copy(wsi, ver, sizeof ver, WSI_TOKEN_HTTP) > 0 && strcmp(ver, "HTTP/1.0") == 0)
        r->http10 = true;
    long long len = declared_length(r, needs_length);
    r->has_body = len > 0;
    r->body_want = len > 0 ? (size_t)len : 0;
    if (len < 0) {
        /* Without a length lws would read until timeout: refuse and close. */
        r->close_after = true;
        if (len == -2)
            return fail(r, 400, "Bad Request: malformed Content-Length");
        return fail(r, 411, "Length Required: send the body with a Content-Length");
    }

    if (srv->stopping) {
        r->close_after = true;
        return fail(r, 503, "the server is shutting down");
    }
    r->route = server_route_find(srv->routes, srv->nroutes, r->path);
    if (!r->route)
        return fail(r, 404, "nothing is served at this path");
    r->ctx.route = r->route->path;
    if (server_pipeline_head(r))
        return 0; /* answered (a refused Origin, a preflight); a body is dropped */
    if ((unsigned long long)len > r->route->max_body) {
        if ((unsigned long long)len / DISCARD_FACTOR > r->route->max_body)
            r->close_after = true;
        char msg[128];
        snprintf(msg, sizeof msg, "Payload Too Large: the limit is %zu bytes",
                 r->route->max_body);
        return fail(r, 413, msg);
    }
    if (!r->has_body) {
        begin(r);
        return 0;
    }
    r->state = R_BODY;
    return 0;
}

/* Room for `more` body bytes and the NUL: the buffer doubles, up to the
 * declared length, within the server's body budget (invariant 8). */
static int body_reserve(struct pw_server_req *r, size_t more)
{
    size_t need = r->body_len + more + 1;
    if (need <= r->body_cap)
        return 0;
    size_t cap = r->body_cap < BODY_FIRST ? BODY_FIRST : r->body_cap * 2;
    if (cap < need)
        cap = need;
    if (cap > r->body_want + 1)
        cap = r->body_want + 1;
    struct pw_server *srv = r->srv;
    if (srv->body_bytes - r->body_cap + cap > srv->body_budget)
        return -1;
    char *b = realloc(r->body, cap);
    if (!b)
        return -1;
    srv->body_bytes = srv->body_bytes - r->body_cap + cap;
    PW_ASSERT(srv->body_bytes <= srv->body_budget);
    r->body = b;
    r->body_cap = cap;
    return 0;
}

/*
 * lws 4.1 parses a request that was pipelined behind a completed
 * transaction (read from its buffer of earlier input) correctly, but hands
 * the start of that buffer, the request's own head, to the body callback
 * as its body. Such a body is never what the client sent; it is refused
 * rather than handed to a route (invariant 7). The request line is matched
 * up to the path's first slash only: lws rewrites the path it reports
 * ("//mcp", dot segments), and no body a route reads (JSON) starts so.
 */
static bool echoes_head(const struct pw_server_req *r, const void *in, size_t len)
{
    size_t m = strlen(r->method);
    const char *b = in;
    return len > m + 1 && memcmp(b, r->method, m) == 0 && b[m] == ' ' && b[m + 1] == '/';
}

static int on_body(struct http_pss *pss, const void *in, size_t len)
{
    struct pw_server_req *r = pss->req;
    if (!r || r->state != R_BODY)
        return 0; /* a refused request: lws reads and drops the rest */
    if (len > r->body_want - r->body_len) {
        r->close_after = true;
        return fail(r, 413, "Payload Too Large: body longer than its Content-Length");
    }
    if (pw_clock_ms() - r->started_ms > (int64_t)r->srv->body_timeout_s * 1000) {
        r->close_after = true;
        return fail(r, 408, "Request Timeout: the body did not arrive in time");
    }
    if (!r->body_len && echoes_head(r, in, len)) {
        r->close_after = true;
        return fail(r, 400, "Bad Request: a request with a body must not be pipelined behind "
                            "another; send it after the previous answer");
    }
    if (body_reserve(r, len)) {
        static struct server_warn_rate rate;
        if (server_warn_due(&rate))
            pw_warn("server: request bodies in flight hold %zu bytes (budget %zu); refusing %s "
                    "(%zu more refused since the last warning)",
                    r->srv->body_bytes, r->srv->body_budget, r->path, server_warn_quiet(&rate));
        r->close_after = true;
        return fail(r, 503, "Service Unavailable: too many request bodies in flight");
    }
    memcpy(r->body + r->body_len, in, len);
    r->body_len += len;
    return 0;
}

/* Invariant 7: the connection closes now; an answer already queued whole
 * goes out first, as far as the socket takes it without waiting. */
static int close_now(struct pw_server_req *r)
{
    size_t n;
    unsigned char *p;
    while (r->state == R_FLUSH && r->wsi && (p = server_outq_front(&r->out, &n)) &&
           lws_write(r->wsi, p, n, LWS_WRITE_HTTP) == (int)n)
        server_outq_pop(&r->out);
    return -1;
}

static int on_body_done(struct http_pss *pss)
{
    struct pw_server_req *r = pss->req;
    if (!r)
        return -1; /* invariant 7: no transaction to complete */
    if (r->body_done)
        return close_now(r); /* invariant 7: lws would call again, consuming nothing */
    r->body_done = true;
    if (r->state != R_BODY)
        return 0; /* a refused request's body is in; its answer is queued */
    r->body[r->body_len] = '\0';
    begin(r);
    return 0;
}

static int on_writeable(struct lws *wsi, struct http_pss *pss)
{
    struct pw_server_req *r = pss->req;
    if (!r)
        return 0; /* spurious, or a keep-alive connection between requests */
    if (r->kill)
        return -1;
    size_t n;
    unsigned char *p = server_outq_front(&r->out, &n);
    if (p) {
        if (lws_write(wsi, p, n, LWS_WRITE_HTTP) < (int)n)
            return -1;
        server_outq_pop(&r->out);
        if (r->out.head || lws_partial_buffered(wsi)) {
            /* Progress: the client reads, so it gets the whole time again.
             * (lws calls us back once what it buffered has gone.) Meanwhile
             * lws does not read this connection (invariant 5). */
            watch(r);
            lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, FLUSH_TIMEOUT_S);
            lws_callback_on_writable(wsi);
            return 0;
        }
        if (r->flush_armed) {
            lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0); /* a stream may idle */
            r->flush_armed = false;
        }
    }
    if (r->state != R_FLUSH)
        return 0;
    bool close = r->close_after || r->srv->stopping;
    pss->req = NULL;
    r->wsi = NULL;
    server_req_free(r);
    if (close)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int server_http_reply_now(struct lws *wsi, int status, const char *message)
{
    char *body = server_error_body(status, message);
    size_t blen = body ? strlen(body) : 0;
    unsigned char buf[LWS_PRE + 2048];
    unsigned char *p = buf + LWS_PRE, *start = p, *end = buf + sizeof buf - 1;
    int rc = -1;
    if (blen > 1024 || lws_add_http_header_status(wsi, (unsigned int)status, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                     (const unsigned char *)"application/json", 16, &p, end) ||
        lws_add_http_header_content_length(wsi, blen, &p, end) ||
        lws_finalize_http_header(wsi, &p, end))
        goto out;
    memcpy(p, body, blen);
    p += blen;
    if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) == (int)(p - start))
        rc = 0;
out:
    free(body);
    return rc;
}

int server_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                         void *in, size_t len)
{
    struct http_pss *pss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(wsi, pss, in);
    case LWS_CALLBACK_HTTP_BODY:
        return on_body(pss, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return on_body_done(pss);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_writeable(wsi, pss);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        req_detach(pss);
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        if (!in || strcasecmp(in, "websocket") != 0) {
            server_http_reply_now(wsi, 400, "unsupported upgrade");
            return 1;
        }
        return server_ws_confirm(srv_of(wsi), wsi);
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
