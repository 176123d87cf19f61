/*
 * Private declarations of the server module (every file in server/): the server
 * object, the route table, the output queue, and the lws callbacks each
 * file implements.
 *
 * Files and their concepts:
 *   server.c  the context, vhost, loop, timers, wake-ups and graceful stop
 *   http.c    one HTTP request/response exchange on lws ("http" protocol)
 *   ws.c      one WebSocket connection on lws (a protocol per ws route)
 *   route.c   the route table (longest-prefix match)
 *   outq.c    a byte queue of blocks with LWS_PRE headroom
 *   origin.c  the Origin allow-list
 *   addr.c    "HOST:PORT" parsing
 *
 * Everything here runs on the service thread unless a comment says so.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PW_SERVER_SERVER_INT_H
#define PW_SERVER_SERVER_INT_H

#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pennyworth/clock.h"
#include "pennyworth/server.h"

/* Output queue -------------------------------------------------------------- */

/*
 * A FIFO of byte blocks, each with `pre` bytes of headroom in front of the
 * payload (LWS_PRE for lws_write, which may write frame headers there).
 * Appends coalesce into the tail block when allowed, so many small chunks
 * go out in one write; a "whole" push always makes its own block (one
 * WebSocket message per block). `bytes` counts payload bytes queued.
 */
struct server_blk {
    struct server_blk *next;
    size_t len;                 /* payload bytes */
    size_t cap;                 /* payload capacity */
    unsigned char mem[];        /* pre bytes of headroom, then the payload */
};

struct server_outq {
    struct server_blk *head, *tail;
    size_t bytes;               /* payload bytes in every block */
    size_t pre;                 /* headroom per block */
    size_t *shared;             /* a total every queue of its kind adds to, or NULL */
};

void server_outq_init(struct server_outq *q, size_t pre);
/* Appends n bytes; `whole` forces a block of their own. 0 or -1 (ENOMEM). */
int server_outq_push(struct server_outq *q, const void *p, size_t n, bool whole);
/* The first block's payload (headroom in front of it), or NULL if empty. */
unsigned char *server_outq_front(const struct server_outq *q, size_t *len);
void server_outq_pop(struct server_outq *q);
void server_outq_clear(struct server_outq *q);

/* Requests ------------------------------------------------------------------- */

/* The request states (http.c has the diagram); R_WORK: its handler runs on
 * a worker thread (work.c). */
enum req_state { R_BODY, R_HANDLER, R_WORK, R_STREAM, R_FLUSH };

struct pw_server_req {
    struct pw_server *srv;
    struct lws *wsi;            /* NULL once the connection is gone */
    const struct server_route *route;
    enum req_state state;
    char method[8];
    char *path;
    char *body;                 /* NUL terminated */
    size_t body_len, body_cap;  /* body_cap includes the NUL */
    size_t body_want;           /* the declared Content-Length */
    int64_t started_ms;         /* when its headers were in (invariant 8) */
    struct server_outq out;
    void *data;                 /* the handler's */
    bool head;                  /* HEAD: headers only */
    bool http10;                /* no chunked coding: close-delimited streams */
    bool chunked;
    bool close_after;           /* "connection: close" sent: close once written */
    bool kill;                  /* drop the connection at the next writeable */
    bool tls;
    bool has_body;              /* a body was declared (Content-Length > 0) */
    bool body_done;             /* lws has read the whole declared body */
    bool flush_armed;           /* the no-progress timeout runs (invariant 6) */
    int watched_fd;             /* in the watch set (invariant 5), or -1 */
    char peer[64];              /* the client's address ("" when unknown) */
    char *query;                /* the query string without '?' ("" when none) */
    char **extra;               /* pw_server_req_add_headers: name, value, ... */
    size_t nextra;
    struct pw_server_req *prev, *next; /* srv->reqs */
    struct pw_server_ctx ctx;   /* what it went through (reqctx.c, pipeline.c) */
    bool gated;                 /* went through admission: `done` is owed */
    bool orphan;                /* R_WORK and the connection is gone (work.c) */
};

/* Routes --------------------------------------------------------------------- */

struct server_route {
    char *path;
    size_t len;
    unsigned flags;             /* PW_SERVER_ROUTE_* */
    size_t max_body;            /* bytes, resolved (never 0) */
    const struct pw_server_handler *h;
    void *ud;
    unsigned admit;             /* admission class, 0 = none */
    char methods[64];           /* for CORS preflights, ", OPTIONS" included */
};

struct server_ws_route {
    struct pw_server *srv;
    char *path;
    char *subprotocol;
    size_t max_message;         /* bytes, resolved */
    size_t max_queue;           /* bytes, resolved */
    const struct pw_server_ws_handler *h;
    void *ud;
};

/* The longest route whose path matches `path` (exact, or prefix for
 * PW_SERVER_ROUTE_PREFIX rows), or NULL. */
const struct server_route *server_route_find(const struct server_route *routes, size_t n,
                                             const char *path);

/* Origins --------------------------------------------------------------------- */

/* See pw_server_origin_allowed; `extra` are the configured entries. */
bool server_origin_allowed(const char *origin, char *const *extra, size_t n);

/* The server ------------------------------------------------------------------- */

struct server_hook {
    void (*fn)(void *ud);
    void *ud;
};

struct server_timer {
    lws_sorted_usec_list_t sul; /* first: the lws timer list links through it */
    struct pw_server *srv;
    int interval_ms;
    void (*fn)(void *ud);
    void *ud;
};

#define SERVER_MAX_HOOKS 8

struct pw_server {
    /* Configuration (copied, resolved defaults). */
    char *host;                 /* NULL = every interface */
    int port;
    char *tls_cert, *tls_key;
    char **origins;
    size_t norigins;
    size_t max_body;
    size_t body_budget;         /* bytes every request body buffer may hold together */
    size_t out_budget;          /* bytes every HTTP answer may have queued together */
    int body_timeout_s;
    int grace_ms;
    int ws_ping_s;
    int max_header;
    bool access_log;            /* a JSON line per request on stderr */
    struct pw_server_admission admission; /* stage 6 (pipeline.c); admit NULL = none */

    struct server_route *routes;
    size_t nroutes;
    struct server_ws_route **ws_routes; /* stable addresses: lws protocol .user */
    size_t nws_routes;
    struct server_timer **timers;
    size_t ntimers;
    struct server_hook wake_hooks[SERVER_MAX_HOOKS];
    size_t nwake_hooks;
    struct server_hook stop_hooks[SERVER_MAX_HOOKS];
    size_t nstop_hooks;

    /* lws state. `ctx` is read by other threads in pw_server_wake {wake_lock}. */
    struct lws_protocols *protocols;
    lws_retry_bo_t retry;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    pthread_mutex_t wake_lock;
    atomic_bool wake_pending;   /* a wake arrived before the loop ran */
    int stop_pipe[2];           /* written by pw_server_stop (any thread, signals) */
    volatile sig_atomic_t stop_requested; /* pw_server_stop before listen */
    struct server_timer stop_timer;
    struct server_timer trim_timer; /* gives memory back after a burst (server.c) */
    int watch_fd;               /* epoll set of long body-less requests (http.c) */
    int watch_dup;              /* the duplicate of watch_fd that lws polls */

    /* Loop state (service thread). */
    pthread_t loop_thread;      /* the service thread, once pw_server_run runs */
    bool listening;
    bool ran;
    bool stopping;
    bool quit;
    int64_t stop_deadline_ms;
    size_t nactive;             /* unfinished requests + open WebSockets */
    size_t active_peak;         /* the most nactive since memory was last given back */
    size_t body_bytes;          /* capacity of every request body buffer (http.c) */
    size_t out_bytes;           /* bytes queued in every HTTP answer (http.c) */
    struct pw_server_req *reqs; /* every live request (list) */
    struct pw_server_ws *wss;   /* every live WebSocket (list) */
    struct server_workers *work; /* the worker threads (work.c), started on first use */
};

/* A message a client can trigger at will is logged at most once a second,
 * with the number it stood for (server.c; service thread). */
struct server_warn_rate {
    int64_t last_ms;
    size_t quiet;               /* suppressed since the last one logged */
};
bool server_warn_due(struct server_warn_rate *w);
/* The count to log with a message server_warn_due allowed; starts the next. */
size_t server_warn_quiet(struct server_warn_rate *w);

/* reqctx.c: the request context. */
void server_ctx_clear(struct pw_server_ctx *c);
/* Total time minus the time waiting on upstreams (>= 0). */
int64_t server_ctx_overhead_us(const struct pw_server_ctx *c);

/* pipeline.c: the stages around the handler (pennyworth/server.h). */
/* Stages 1, 4 and 5 once the headers are in and the route is known: 0 to
 * go on, 1 when the request was answered (refused Origin, a preflight). */
int server_pipeline_head(struct pw_server_req *r);
/* Stages 6 and 7 once the body is in. */
void server_pipeline_run(struct pw_server_req *r);
/* Stage 8: the request has ended (answered or abandoned). */
void server_pipeline_done(struct pw_server_req *r);

/* observe.c: the HTTP metrics and the access log line of a finished request. */
void server_observe(const struct pw_server_ctx *c);
void server_log_request(const struct pw_server_ctx *c, const char *peer);

/* trace.c: the request's SERVER span, begun once the headers are in (the
 * client's traceparent read) and ended with its admission child at done. */
void server_trace_begin(struct pw_server_req *r);
void server_trace_end(struct pw_server_req *r);

/* work.c: the worker threads for `on_work` routes. */
void server_work_init(struct pw_server *srv);
/* Hands the request to a worker (state R_WORK); false when the queue is
 * full (the caller answers 503). */
bool server_work_submit(struct pw_server_req *r);
/* Service thread: sends the answers workers finished. */
void server_work_deliver(struct pw_server *srv);
/* After the loop's connections are closed: joins the workers and frees
 * the requests whose clients left while they ran. */
void server_work_stop(struct pw_server *srv);
void server_work_free(struct pw_server *srv);

/* http.c, for the pipeline: frees a request nobody holds any more. */
void server_req_free(struct pw_server_req *r);

/* Whether the caller is the service thread (or the loop has not run yet:
 * set-up happens on the thread that will run it). For PW_ASSERT. */
bool server_on_loop(const struct pw_server *srv);

/* Called when something active finished: may end a stopping loop. */
void server_check_done(struct pw_server *srv);

/* http.c: the callback of protocols[0] for HTTP reasons. */
int server_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                         void *in, size_t len);
size_t server_http_pss_size(void);
/* The watch set reported input or a hang-up: drops those connections
 * (http.c invariant 5). */
void server_http_watch_fired(struct pw_server *srv);
/* lws reports pending input on every pass: closes the connections whose
 * bytes follow a request still being answered (http.c invariant 7). */
void server_http_unstick(struct pw_server *srv);
/* Writes a complete response now (only where lws allows a direct write:
 * LWS_CALLBACK_HTTP_CONFIRM_UPGRADE). 0 ok, -1 failed. */
int server_http_reply_now(struct lws *wsi, int status, const char *message);
/* pw_server_req_header's look-up on any connection whose request headers
 * lws still holds (an HTTP request, a WebSocket during its upgrade). */
int server_wsi_header(struct lws *wsi, const char *name, char *buf, size_t size);
/* The default JSON-RPC error body (new string, or NULL). */
char *server_error_body(int status, const char *message);

/* ws.c: the callback of every WebSocket route protocol, and the upgrade
 * check run by the HTTP protocol (0 allow, 1 answered, -1 hang up). */
int server_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                       void *in, size_t len);
size_t server_ws_pss_size(void);
int server_ws_confirm(struct pw_server *srv, struct lws *wsi);

#endif
