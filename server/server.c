/*
 * The server object: one lws context with one vhost (the listening socket,
 * plain or TLS), its protocol table, the service loop, periodic timers,
 * cross-thread wake-ups and the graceful stop.
 *
 * Protocol table, built at pw_server_listen:
 *   [0]      "http"    HTTP requests (http.c), wake-ups, the accept filter
 *   [1..n]   one per WebSocket route, named by its subprotocol (ws.c)
 *   [n+1]    "pw-internal" raw files: the stop pipe's read end, and the
 *            epoll watch set of long-lived body-less requests (http.c)
 *
 * Threads and wake-ups: only the service thread calls lws. Another thread
 * (the MCP engine's workers) calls pw_server_wake, which calls
 * lws_cancel_service under `wake_lock`; lws then delivers
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED on the service thread, where the wake
 * hooks run (pw_mcp_server_dispatch). `ctx` is set to NULL under the same
 * lock before the context is destroyed, so a late wake-up never touches a
 * dead context. A signal handler cannot take a lock, so pw_server_stop only
 * write(2)s a byte into the stop pipe, which the loop reads like any socket.
 *
 * The graceful stop (SIGTERM/SIGINT, or pw_server_stop from anywhere):
 *
 *     RUNNING --stop byte (begin_stop)--> STOPPING --nothing active, or the
 *        ^                                   |        grace period over
 *        |                                   |        (server_check_done)--> QUIT
 *     pw_server_run                second stop byte -------------------------> QUIT
 *
 *   STOPPING: new connections are refused at accept; requests arriving on
 *   kept-alive connections get 503 and "connection: close"; finished
 *   exchanges close their connection; the stop hooks (the MCP transports)
 *   end their streams and close idle sessions. QUIT: pw_server_run leaves
 *   the loop and destroys the context, which closes every connection and
 *   runs the close callbacks, so transports free their sessions before
 *   pw_server_run returns.
 *
 * SPDX-License-Identifier: MIT
 */
#include "server/server-int.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "pennyworth/clock.h"
#include "pennyworth/log.h"

#define DEFAULT_GRACE_MS 5000
#define DEFAULT_PING_S 30
#define DEFAULT_MAX_HEADER 8192
#define DEFAULT_BODY_TIMEOUT_S 60
#define STOP_POLL_MS 50
/* See pw_server_run: passes with unconsumed input before looking for a stuck connection. */
#define STUCK_PASSES 8
/* Seconds an idle kept-alive HTTP connection is held. */
#define KEEPALIVE_S 15
/* Seconds lws allows for handshakes, header and body arrival. */
#define NETWORK_TIMEOUT_S 20
/* A WebSocket's lws rx buffer, and the most one send(2) may carry. */
#define WS_RX_BUFFER 4096
#define WS_TX_PACKET 65536
/* Memory is given back once this many exchanges have ended since a peak
 * (checked every TRIM_CHECK_MS) and at most half of the peak remains. */
#define TRIM_MIN_GONE 256
#define TRIM_CHECK_MS 1000

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

bool server_warn_due(struct server_warn_rate *w)
{
    int64_t now = pw_clock_ms();
    if (w->last_ms && now - w->last_ms < 1000) {
        w->quiet++;
        return false;
    }
    w->last_ms = now;
    return true;
}

size_t server_warn_quiet(struct server_warn_rate *w)
{
    size_t n = w->quiet;
    w->quiet = 0;
    return n;
}

enum pw_err pw_server_new(const struct pw_server_options *opt, struct pw_server **out,
                          struct pw_error *err)
{
    *out = NULL;
    struct pw_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "server: out of memory");
    srv->stop_pipe[0] = srv->stop_pipe[1] = -1;
    srv->watch_fd = srv->watch_dup = -1;
    pthread_mutex_init(&srv->wake_lock, NULL);
    const char *host = opt->host && *opt->host ? opt->host : PW_SERVER_DEFAULT_HOST;
    if (strcmp(host, "*") == 0)
        srv->host = NULL;
    else if (strcasecmp(host, "localhost") == 0)
        srv->host = strdup("127.0.0.1");
    else
        srv->host = strdup(host);
    srv->port = opt->port;
    srv->tls_cert = dup_or_null(opt->tls_cert);
    srv->tls_key = dup_or_null(opt->tls_key);
    srv->max_body = opt->max_body ? opt->max_body : PW_SERVER_DEFAULT_MAX_BODY;
    srv->body_budget = opt->max_body_memory ? opt->max_body_memory
                                            : PW_SERVER_DEFAULT_BODY_MEMORY;
    srv->out_budget = opt->max_out_memory ? opt->max_out_memory : PW_SERVER_DEFAULT_OUT_MEMORY;
    srv->body_timeout_s = opt->body_timeout_s > 0 ? opt->body_timeout_s : DEFAULT_BODY_TIMEOUT_S;
    srv->grace_ms = opt->grace_ms > 0 ? opt->grace_ms : DEFAULT_GRACE_MS;
    srv->ws_ping_s = opt->ws_ping_s > 0 ? opt->ws_ping_s : DEFAULT_PING_S;
    srv->max_header = opt->max_header > 0 ? opt->max_header : DEFAULT_MAX_HEADER;
    srv->access_log = opt->access_log;
    server_work_init(srv);
    if (srv->max_header > 65535)
        srv->max_header = 65535;
    if (opt->n_allow_origins) {
        srv->origins = calloc(opt->n_allow_origins, sizeof *srv->origins);
        if (!srv->origins)
            goto oom;
        for (size_t i = 0; i < opt->n_allow_origins; i++) {
            srv->origins[i] = strdup(opt->allow_origins[i]);
            if (!srv->origins[i])
                goto oom;
            srv->norigins++;
        }
    }
    if ((host && strcmp(host, "*") != 0 && !srv->host) ||
        (opt->tls_cert && !srv->tls_cert) || (opt->tls_key && !srv->tls_key))
        goto oom;
    if (pipe2(srv->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0 ||
        (srv->watch_fd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        int e = errno;
        pw_server_free(srv);
        return pw_error_set(err, PW_ERR_IO, NULL, "server: pipe/epoll: %s", strerror(e));
    }
    *out = srv;
    return PW_OK;
oom:
    pw_server_free(srv);
    return pw_error_set(err, PW_ERR_NOMEM, NULL, "server: out of memory");
}

/* Registration -------------------------------------------------------------------- */

static void timer_cb(lws_sorted_usec_list_t *sul);

/* (Re)arms a timer on the live context. */
static void schedule(struct server_timer *t)
{
    if (t->srv->ctx)
        lws_sul_schedule(t->srv->ctx, 0, &t->sul, timer_cb,
                         (lws_usec_t)t->interval_ms * LWS_US_PER_MS);
}

enum pw_err pw_server_add_route(struct pw_server *srv, const struct pw_server_route *route,
                                struct pw_error *err)
{
    if (srv->listening)
        return pw_error_set(err, PW_ERR_STATE, NULL, "server: routes are fixed once listening");
    if (!route->path || route->path[0] != '/' || !route->handler ||
        !route->handler->on_request == !route->handler->on_work)
        return pw_error_set(err, PW_ERR_INVALID, NULL,
                            "server: a route needs a /path and one handler (on_request or "
                            "on_work)");
    for (size_t i = 0; i < srv->nroutes; i++)
        if (strcmp(srv->routes[i].path, route->path) == 0)
            return pw_error_set(err, PW_ERR_INVALID, NULL, "server: route %s added twice",
                                route->path);
    struct server_route *rs = realloc(srv->routes, (srv->nroutes + 1) * sizeof *rs);
    if (!rs)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "server: out of memory");
    srv->routes = rs;
    struct server_route *r = &rs[srv->nroutes];
    r->path = strdup(route->path);
    if (!r->path)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "server: out of memory");
    r->len = strlen(r->path);
    r->flags = route->flags;
    r->max_body = route->max_body ? route->max_body : srv->max_body;
    r->h = route->handler;
    r->ud = route->ud;
    r->admit = route->admit;
    snprintf(r->methods, sizeof r->methods, "%s, OPTIONS",
             route->methods ? route->methods : "GET, POST, DELETE");
    srv->nroutes++;
    return PW_OK;
}

enum pw_err pw_server_add_ws(struct pw_server *srv, const struct pw_server_ws_route *route,
                             struct pw_error *err)
{
    if (srv->listening)
        return pw_error_set(err, PW_ERR_STATE, NULL, "server: routes are fixed once listening");
    if (!route->path || route->path[0] != '/' || !route->subprotocol || !*route->subprotocol ||
        !route->handler || !route->handler->on_message || !route->handler->on_close)
        return pw_error_set(err, PW_ERR_INVALID, NULL,
                            "server: a WebSocket route needs a /path, a subprotocol and a handler");
    for (size_t i = 0; i < srv->nws_routes; i++)
        if (strcmp(srv->ws_routes[i]->path, route->path) == 0 ||
            strcmp(srv->ws_routes[i]->subprotocol, route->subprotocol) == 0)
            return pw_error_set(err, PW_ERR_INVALID, NULL,
                                "server: WebSocket route %s (%s) clashes with another",
                                route->path, route->subprotocol);
    if (strcmp(route->subprotocol, "http") == 0 || strcmp(route->subprotocol, "pw-internal") == 0)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "server: subprotocol name reserved");
    struct server_ws_route **rs = realloc(srv->ws_routes, (srv->nws_routes + 1) * sizeof *rs);
    if (!rs)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "server: out of memory");
    srv->ws_routes = rs;
    struct server_ws_route *r = calloc(1, sizeof *r);
    if (!r)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "server: out of memory");
    r->srv = srv;
    r->path = strdup(route->path);
    r->subprotocol = strdup(route->subprotocol);
    if (!r->path || !r->subprotocol) {
        free(r->path);
        free(r->subprotocol);
        free(r);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "server: out of memory");
    }
    r->max_message = route->max_message ? route->max_message : PW_SERVER_DEFAULT_MAX_MESSAGE;
    r->max_queue = route->max_queue ? route->max_queue : 4 * r->max_message;
    r->h = route->handler;
    r->ud = route->ud;
    rs[srv->nws_routes++] = r;
    return PW_OK;
}

enum pw_err pw_server_add_timer(struct pw_server *srv, int interval_ms, void (*fn)(void *ud),
                                void *ud, struct pw_error *err)
{
    if (interval_ms <= 0 || !fn)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "server: bad timer");
    struct server_timer **ts = realloc(srv->timers, (srv->ntimers + 1) * sizeof *ts);
    if (!ts)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "server: out of memory");
    srv->timers = ts;
    struct server_timer *t = calloc(1, sizeof *t);
    if (!t)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "server: out of memory");
    t->srv = srv;
    t->interval_ms = interval_ms;
    t->fn = fn;
    t->ud = ud;
    ts[srv->ntimers++] = t;
    if (srv->listening)
        schedule(t);
    return PW_OK;
}

static enum pw_err add_hook(struct server_hook *hooks, size_t *n, void (*fn)(void *), void *ud,
                            struct pw_error *err)
{
    if (*n >= SERVER_MAX_HOOKS || !fn)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "server: too many hooks");
    hooks[*n].fn = fn;
    hooks[*n].ud = ud;
    (*n)++;
    return PW_OK;
}

enum pw_err pw_server_on_wake(struct pw_server *srv, void (*fn)(void *ud), void *ud,
                              struct pw_error *err)
{
    return add_hook(srv->wake_hooks, &srv->nwake_hooks, fn, ud, err);
}

enum pw_err pw_server_on_stop(struct pw_server *srv, void (*fn)(void *ud), void *ud,
                              struct pw_error *err)
{
    return add_hook(srv->stop_hooks, &srv->nstop_hooks, fn, ud, err);
}

bool pw_server_origin_allowed(const struct pw_server *srv, const char *origin)
{
    return server_origin_allowed(origin, srv->origins, srv->norigins);
}

int pw_server_port(const struct pw_server *srv) { return srv->port; }
bool pw_server_tls(const struct pw_server *srv) { return srv->tls_cert != NULL; }
bool pw_server_stopping(const struct pw_server *srv) { return srv->stopping; }

/* Wake-ups, timers, stop ------------------------------------------------------------ */

static void run_wake_hooks(struct pw_server *srv)
{
    atomic_store(&srv->wake_pending, false);
    for (size_t i = 0; i < srv->nwake_hooks; i++)
        srv->wake_hooks[i].fn(srv->wake_hooks[i].ud);
}

void pw_server_wake(struct pw_server *srv)
{
    pthread_mutex_lock(&srv->wake_lock);
    atomic_store(&srv->wake_pending, true);
    if (srv->ctx)
        lws_cancel_service(srv->ctx);
    pthread_mutex_unlock(&srv->wake_lock);
}

void pw_server_stop(struct pw_server *srv)
{
    /* async-signal-safe: a store and a write(2) */
    srv->stop_requested = 1;
    if (srv->stop_pipe[1] >= 0) {
        ssize_t w = write(srv->stop_pipe[1], "s", 1);
        (void)w; /* EAGAIN: the pipe is full, a stop is pending anyway */
    }
}

static void timer_cb(lws_sorted_usec_list_t *sul)
{
    struct server_timer *t = (struct server_timer *)sul;
    t->fn(t->ud);
    if (!t->srv->quit)
        schedule(t);
}

void server_check_done(struct pw_server *srv)
{
    if (!srv->stopping || srv->quit)
        return;
    if (srv->nactive == 0 || pw_clock_ms() >= srv->stop_deadline_ms) {
        if (srv->nactive)
            pw_warn("server: grace period over with %zu exchanges still active; closing them",
                    srv->nactive);
        srv->quit = true;
        if (srv->ctx)
            lws_cancel_service(srv->ctx);
    }
}

static void stop_poll(void *ud) { server_check_done(ud); }

bool server_on_loop(const struct pw_server *srv)
{
    return !srv->ran || pthread_equal(pthread_self(), srv->loop_thread);
}

/* glibc keeps what a burst of connections freed: a heap only shrinks from
 * its top, so free pages below a live block stay resident until malloc
 * reuses them, and a burst of 10,000 WebSocket sessions left 100 MiB behind
 * for good. Once the burst has ended, malloc_trim hands the free pages of
 * every arena back. Not on every close: pages given back are faulted in
 * again by the next connections, so only after a peak has receded. */
static void trim_check(void *ud)
{
    struct pw_server *srv = ud;
    /* WebSockets raise the peak as they open (ws.c); requests only here. */
    if (srv->nactive > srv->active_peak)
        srv->active_peak = srv->nactive;
    size_t peak = srv->active_peak;
    if (peak - srv->nactive < TRIM_MIN_GONE || srv->nactive > peak / 2)
        return;
    srv->active_peak = srv->nactive;
#ifdef __GLIBC__
    int64_t t0 = pw_clock_ms();
    malloc_trim(0);
    pw_debug("server: %zu of %zu exchanges gone; freed memory given back in %lld ms",
             peak - srv->nactive, peak, (long long)(pw_clock_ms() - t0));
#endif
}

static void begin_stop(struct pw_server *srv)
{
    if (srv->stopping) {
        pw_info("server: second stop request; closing now");
        srv->quit = true;
        return;
    }
    srv->stopping = true;
    srv->stop_deadline_ms = pw_clock_ms() + srv->grace_ms;
    pw_info("server: stopping (up to %d ms for %zu active exchanges)", srv->grace_ms,
            srv->nactive);
    for (size_t i = 0; i < srv->nstop_hooks; i++)
        srv->stop_hooks[i].fn(srv->stop_hooks[i].ud);
    srv->stop_timer.srv = srv;
    srv->stop_timer.interval_ms = STOP_POLL_MS;
    srv->stop_timer.fn = stop_poll;
    srv->stop_timer.ud = srv;
    schedule(&srv->stop_timer);
    server_check_done(srv);
}

/* The protocol callbacks of this file ---------------------------------------------- */

static int core_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    struct pw_server *srv;
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        srv = lws_context_user(lws_get_context(wsi));
        if (srv && !srv->quit) {
            server_work_deliver(srv);
            run_wake_hooks(srv);
        }
        return 0;
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        srv = lws_context_user(lws_get_context(wsi));
        return srv && srv->stopping ? 1 : 0;
    default:
        return server_http_callback(wsi, reason, user, in, len);
    }
}

/* The raw file descriptors of the loop: the stop pipe and the watch set
 * (each adopted as a duplicate, told apart by lws_protocols.id). */
static int internal_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                             void *in, size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    if (reason != LWS_CALLBACK_RAW_RX_FILE)
        return 0;
    struct pw_server *srv = lws_context_user(lws_get_context(wsi));
    if (lws_get_socket_fd(wsi) == srv->watch_dup) {
        server_http_watch_fired(srv);
        return 0;
    }
    char buf[16];
    ssize_t n = read(srv->stop_pipe[0], buf, sizeof buf);
    for (ssize_t i = 0; i < n; i++)
        begin_stop(srv);
    return 0;
}

static void lws_emit(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    pw_log(level == LLL_ERR ? PW_LOG_WARN : PW_LOG_DEBUG, "lws: %.*s", (int)n, line);
}

/* Listen and run ------------------------------------------------------------------- */

static enum pw_err build_protocols(struct pw_server *srv, struct pw_error *err)
{
    size_t n = srv->nws_routes + 3;
    srv->protocols = calloc(n, sizeof *srv->protocols);
    if (!srv->protocols)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "server: out of memory");
    struct lws_protocols *p = srv->protocols;
    p[0].name = "http";
    p[0].callback = core_callback;
    p[0].per_session_data_size = server_http_pss_size();
    for (size_t i = 0; i < srv->nws_routes; i++) {
        struct lws_protocols *w = &p[1 + i];
        w->name = srv->ws_routes[i]->subprotocol;
        w->callback = server_ws_callback;
        w->per_session_data_size = server_ws_pss_size();
        /* lws gives every connection an rx buffer of this size for its whole
         * life. MCP requests are small, and ws.c reassembles larger ones
         * from pieces, so it is one page: at 64 KiB, 10,000 sessions held
         * 650 MiB of heap that was mostly never touched, and each burst of
         * sessions touched other pages of it (RSS grew burst after burst). */
        w->rx_buffer_size = WS_RX_BUFFER;
        /* Without this lws caps one send(2) at rx_buffer_size. */
        w->tx_packet_size = WS_TX_PACKET;
        w->user = srv->ws_routes[i];
    }
    struct lws_protocols *s = &p[1 + srv->nws_routes];
    s->name = "pw-internal";
    s->callback = internal_callback;
    /* p[n - 1] stays zeroed: the terminator */
    return PW_OK;
}

static void teardown(struct pw_server *srv)
{
    if (!srv->ctx)
        return;
    srv->quit = true;
    for (size_t i = 0; i < srv->ntimers; i++)
        lws_sul_cancel(&srv->timers[i]->sul);
    lws_sul_cancel(&srv->stop_timer.sul);
    lws_sul_cancel(&srv->trim_timer.sul);
    pthread_mutex_lock(&srv->wake_lock);
    struct lws_context *ctx = srv->ctx;
    srv->ctx = NULL;
    pthread_mutex_unlock(&srv->wake_lock);
    /* Closes every connection; close callbacks run now (srv->ctx is NULL,
     * so anything they queue is not scheduled on the dying context). */
    lws_context_destroy(ctx);
    srv->vh = NULL;
    server_work_stop(srv); /* after the closes: orphaned work is freed here */
    for (size_t i = 0; i < srv->nroutes; i++)
        if (srv->routes[i].h->on_detach)
            srv->routes[i].h->on_detach(srv->routes[i].ud);
}

/* Adopts a duplicate of fd into the loop as a raw file; 0 or -1. */
static int adopt(struct pw_server *srv, int fd, int *dup_out)
{
    lws_sock_file_fd_type d;
    d.filefd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d.filefd < 0)
        return -1;
    if (!lws_adopt_descriptor_vhost(srv->vh, LWS_ADOPT_RAW_FILE_DESC, d, "pw-internal", NULL)) {
        close(d.filefd);
        return -1;
    }
    if (dup_out)
        *dup_out = d.filefd;
    return 0;
}

enum pw_err pw_server_listen(struct pw_server *srv, struct pw_error *err)
{
    if (srv->listening)
        return pw_error_set(err, PW_ERR_STATE, NULL, "server: already listening");
    if (!srv->tls_cert != !srv->tls_key)
        return pw_error_set(err, PW_ERR_INVALID, NULL,
                            "server: TLS needs both a certificate and a key");
    enum pw_err rc = build_protocols(srv, err);
    if (rc)
        return rc;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_emit);

    uint64_t options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (srv->tls_cert)
        options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    struct lws_context_creation_info ci;
    memset(&ci, 0, sizeof ci);
    ci.options = options;
    ci.user = srv;
    ci.port = CONTEXT_PORT_NO_LISTEN;
    ci.pt_serv_buf_size = 32768;
    ci.max_http_header_data = (unsigned short)srv->max_header;
    ci.timeout_secs = NETWORK_TIMEOUT_S;
    ci.count_threads = 1;
    ci.gid = -1;
    ci.uid = -1;
    struct lws_context *ctx = lws_create_context(&ci);
    if (!ctx)
        return pw_error_set(err, PW_ERR_IO, NULL, "server: cannot create the lws context");
    pthread_mutex_lock(&srv->wake_lock);
    srv->ctx = ctx;
    pthread_mutex_unlock(&srv->wake_lock);

    srv->retry.secs_since_valid_ping = (uint16_t)srv->ws_ping_s;
    srv->retry.secs_since_valid_hangup = (uint16_t)(2 * srv->ws_ping_s);
    struct lws_context_creation_info vi;
    memset(&vi, 0, sizeof vi);
    vi.options = options;
    vi.user = srv;
    vi.vhost_name = "pennyworth";
    vi.port = srv->port;
    vi.iface = srv->host;
    vi.protocols = srv->protocols;
    vi.keepalive_timeout = KEEPALIVE_S;
    vi.timeout_secs = NETWORK_TIMEOUT_S;
    vi.retry_and_idle_policy = &srv->retry;
    vi.ssl_cert_filepath = srv->tls_cert;
    vi.ssl_private_key_filepath = srv->tls_key;
    vi.alpn = "http/1.1";
    srv->vh = lws_create_vhost(ctx, &vi);
    if (!srv->vh) {
        teardown(srv);
        return pw_error_set(err, PW_ERR_IO, NULL,
                            "server: cannot listen on %s:%d%s (address in use, or a bad "
                            "address or TLS file?)",
                            srv->host ? srv->host : "*", srv->port, srv->tls_cert ? " (TLS)" : "");
    }
    srv->port = lws_get_vhost_listen_port(srv->vh);

    /* lws closes what it adopts, so it gets duplicates: the pipe keeps a
     * reader (a late signal must not meet EPIPE) and the watch set stays
     * valid for the close callbacks, until pw_server_free. */
    if (adopt(srv, srv->stop_pipe[0], NULL) || adopt(srv, srv->watch_fd, &srv->watch_dup)) {
        teardown(srv);
        return pw_error_set(err, PW_ERR_IO, NULL, "server: cannot watch the internal fds");
    }
    srv->listening = true;
    for (size_t i = 0; i < srv->ntimers; i++)
        schedule(srv->timers[i]);
    srv->trim_timer.srv = srv;
    srv->trim_timer.interval_ms = TRIM_CHECK_MS;
    srv->trim_timer.fn = trim_check;
    srv->trim_timer.ud = srv;
    schedule(&srv->trim_timer);

    return PW_OK;
}

enum pw_err pw_server_run(struct pw_server *srv, struct pw_error *err)
{
    if (!srv->listening || srv->ran || !srv->ctx)
        return pw_error_set(err, PW_ERR_STATE, NULL, "server: run needs a listening server, once");
    srv->loop_thread = pthread_self();
    srv->ran = true;
    if (atomic_load(&srv->wake_pending))
        run_wake_hooks(srv);
    /* Passes in a row on which lws had input it did not wait for; one is
     * normal (it is consumed on the next pass), several mean a connection
     * whose bytes lws will never read (http.c invariant 7). */
    int pending = 0;
    while (!srv->quit) {
        if (lws_service(srv->ctx, 0) < 0)
            break;
        if (srv->quit || lws_service_adjust_timeout(srv->ctx, 1, 0)) {
            pending = 0;
        } else if (++pending >= STUCK_PASSES) {
            pending = 0;
            server_http_unstick(srv);
        }
    }
    teardown(srv);
    return PW_OK;
}

void pw_server_free(struct pw_server *srv)
{
    if (!srv)
        return;
    teardown(srv);
    for (size_t i = 0; i < srv->nroutes; i++)
        free(srv->routes[i].path);
    free(srv->routes);
    for (size_t i = 0; i < srv->nws_routes; i++) {
        free(srv->ws_routes[i]->path);
        free(srv->ws_routes[i]->subprotocol);
        free(srv->ws_routes[i]);
    }
    free(srv->ws_routes);
    for (size_t i = 0; i < srv->ntimers; i++)
        free(srv->timers[i]);
    free(srv->timers);
    for (size_t i = 0; i < srv->norigins; i++)
        free(srv->origins[i]);
    free(srv->origins);
    free(srv->protocols);
    free(srv->host);
    free(srv->tls_cert);
    free(srv->tls_key);
    for (int i = 0; i < 2; i++)
        if (srv->stop_pipe[i] >= 0)
            close(srv->stop_pipe[i]);
    if (srv->watch_fd >= 0)
        close(srv->watch_fd);
    pthread_mutex_destroy(&srv->wake_lock);
    server_work_free(srv);
    free(srv);
}
