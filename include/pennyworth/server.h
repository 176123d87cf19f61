/*
 * The network front door: one libwebsockets service loop that owns every
 * client socket (HTTP/1.1, WebSocket, SSE; plain or TLS) and hands requests
 * to a table of routes. MCP over WebSocket (/ws) and Streamable HTTP (/mcp)
 * are rows of that table (mcp/ws.c, mcp/http.c), and so are the
 * OpenAI-compatible API (/v1/..., bridge/api.c), the gateway's admin, health
 * and metrics routes (access/) and the static web page (/, server/static.c).
 *
 * Shape:
 *   - pw_server_new() keeps the options; routes, WebSocket routes, timers
 *     and hooks are added; pw_server_listen() binds (so a busy port is an
 *     error before anything runs); pw_server_run() services the loop until
 *     a graceful stop has finished, then closes every connection (calling
 *     the handlers' close callbacks) before it returns.
 *   - An HTTP route gets each request once its headers and whole body are
 *     in (`on_request`), and answers now or later: one complete response
 *     (pw_server_req_respond) or a stream of chunks (start/write/end). The
 *     server queues what the handler writes and sends it one lws_write per
 *     WRITEABLE callback; handlers never see lws.
 *   - A WebSocket route gets one `on_message` per complete text message
 *     (fragments reassembled up to a bound) and queues whole messages out.
 *
 * Bounds enforced here, before any handler runs: request header size, body
 * size (413), Content-Length required for bodies (411), Origin allow-list
 * (403) for routes that ask for it and for every WebSocket route, binary
 * frames (1003), invalid UTF-8 (1007), oversized messages (1009), protocol
 * errors (1002), per-connection output queue bounds (the connection is
 * closed), idle WebSocket peers (ping, then hang up).
 *
 * Threads: every function runs on the service thread (the thread that calls
 * pw_server_run) except pw_server_wake and pw_server_stop, which any thread
 * may call, and pw_server_stop also from a signal handler. Callbacks run on
 * the service thread and must not block.
 *
 * Ownership: options and route strings are copied; `struct pw_server_req`
 * and `struct pw_server_ws` belong to the server and are valid from the
 * callback that introduces them until the handler has finished the
 * response (respond / end) or until the close callback returns, whichever
 * comes first.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_SERVER_H
#define PENNYWORTH_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pennyworth/error.h"

struct pw_server;
struct pw_server_req; /* one HTTP request and its response */
struct pw_server_ws;  /* one WebSocket connection */
struct pw_server_work; /* a request handed to a worker thread */
struct pw_trace_span;  /* pennyworth/trace.h */

#define PW_SERVER_DEFAULT_HOST "127.0.0.1"
#define PW_SERVER_DEFAULT_PORT 8080
#define PW_SERVER_DEFAULT_MAX_BODY ((size_t)6 * 1024 * 1024)
#define PW_SERVER_DEFAULT_MAX_MESSAGE ((size_t)4 * 1024 * 1024)
#define PW_SERVER_DEFAULT_BODY_MEMORY ((size_t)128 * 1024 * 1024)
#define PW_SERVER_DEFAULT_OUT_MEMORY ((size_t)256 * 1024 * 1024)

struct pw_server_options {
    const char *host;          /* IP literal or "localhost"; "*" = every interface;
                                  NULL = PW_SERVER_DEFAULT_HOST */
    int port;                  /* 0 = an ephemeral port (see pw_server_port) */
    const char *tls_cert;      /* PEM certificate (chain); with tls_key: https/wss only */
    const char *tls_key;       /* PEM private key */
    const char *const *allow_origins; /* extra allowed Origin values, exact
                                         ("https://shop.example"), or "*" */
    size_t n_allow_origins;
    size_t max_body;           /* default request body bound, bytes (0 = 6 MiB) */
    int grace_ms;              /* a graceful stop waits this long for in-flight
                                  work (0 = 5000) */
    int ws_ping_s;             /* idle seconds before a WebSocket ping; the peer is
                                  dropped after twice that (0 = 30) */
    int max_header;            /* request header bytes (0 = 8192) */
    size_t max_out_memory;     /* answer bytes queued at once, every HTTP request
                                  together (0 = PW_SERVER_DEFAULT_OUT_MEMORY); an
                                  answer past it is a 503, a stream past it is cut */
    int body_timeout_s;        /* a request body must be in this long after its
                                  headers (0 = 60); past it 408 and close */
    size_t max_body_memory;    /* request body bytes held at once, every request
                                  together (0 = PW_SERVER_DEFAULT_BODY_MEMORY); past
                                  it a request is refused with 503 */
    bool access_log;           /* one JSON line per request on stderr (stage 8) */
};

/* Parses "HOST:PORT", "[V6]:PORT", "HOST" or "PORT" into host (a literal
 * copy, brackets removed) and *port (left alone when absent). */
enum pw_err pw_server_parse_listen(const char *spec, char *host, size_t hostlen, int *port,
                                   struct pw_error *err);

/* Makes a server (nothing is bound yet); *out is new (pw_server_free). */
enum pw_err pw_server_new(const struct pw_server_options *opt, struct pw_server **out,
                          struct pw_error *err);

/* Closes what is still open (if pw_server_run never ran) and frees. */
void pw_server_free(struct pw_server *srv);

/* HTTP routes ---------------------------------------------------------------- */

enum {
    PW_SERVER_ROUTE_PREFIX = 1 << 0, /* path is a prefix ("/v1/"), else exact */
    PW_SERVER_ROUTE_ORIGIN = 1 << 1, /* check Origin against the allow-list (403) */
    PW_SERVER_ROUTE_CORS = 1 << 2,   /* browsers may call it from an allowed Origin:
                                        preflights answered, CORS headers added */
};

/*
 * The request pipeline. Every HTTP request goes through the same stages in
 * this order; a route declares which of the optional ones apply:
 *
 *   1. request id     X-Request-Id kept when well formed (1..64 of
 *                     [A-Za-z0-9._-]), else made; sent back on every answer
 *   2. framing        411 without a length where a body is the point, 400
 *                     for a malformed one (Transfer-Encoding is refused);
 *                     503 while the server stops
 *   3. route          404 when no route matches
 *   4. Origin         PW_SERVER_ROUTE_ORIGIN: 403 for a browser Origin not
 *                     allowed
 *   5. CORS           PW_SERVER_ROUTE_CORS: every OPTIONS request is a
 *                     preflight, answered 204 here (with grants for an
 *                     allowed Origin); other answers to an allowed Origin
 *                     carry Access-Control-Allow-Origin and the exposed
 *                     headers
 *   6. body limits    413 past the route's bound; then the body is read,
 *                     within the body budget (503) and --body-timeout (408)
 *   7. admission      routes with a nonzero `admit` class: the server's
 *                     admission filter (pw_server_set_admission) lets the
 *                     request through or answers it (401, 403, 429)
 *   8. handler        on the service thread (`on_request`), or on a server
 *                     worker thread (`on_work`) for blocking work
 *   9. done           once the answer is written or the client has gone:
 *                     the admission filter's `done`, the request's span
 *                     (when tracing: pennyworth/trace.h), the HTTP metrics
 *                     (requests, duration, gateway overhead) and the access
 *                     log line, all from the request's context
 */

struct pw_server_handler {
    /* Headers and body are in. Respond now or later. */
    void (*on_request)(struct pw_server_req *r, void *ud);
    /* The client went away (or the server is closing) before the handler
     * finished the response; `r` is invalid once this returns. Never called
     * from inside a pw_server_req_* call. */
    void (*on_close)(struct pw_server_req *r, void *ud);
    /* Optional: writes an error response in the route's own shape (for the
     * 4xx/5xx the server decides itself). NULL = a JSON-RPC error object. */
    void (*error)(struct pw_server_req *r, int status, const char *message, void *ud);
    /* Optional: the loop has ended and every on_close has run; a route
     * with threads of its own stops waking the server now (it may be freed
     * next). Called once, on the thread that ends the loop. */
    void (*on_detach)(void *ud);
    /* Instead of on_request: the handler runs on a server worker thread, for
     * work that blocks (database aggregation, writes that may wait on a
     * lock). It reads the request through pw_server_work_* and answers with
     * pw_server_work_respond; the server sends the answer from the service
     * thread. A client that leaves meanwhile only loses the answer. */
    void (*on_work)(struct pw_server_work *w, void *ud);
};

struct pw_server_route {
    const char *path;
    unsigned flags;            /* PW_SERVER_ROUTE_* */
    size_t max_body;           /* 0 = the server's max_body */
    const struct pw_server_handler *handler;
    void *ud;
    unsigned admit;            /* the admission filter's class for this route
                                  (its meaning is the filter's: a scope);
                                  0 = no admission */
    const char *methods;       /* for CORS preflights ("GET, POST"); NULL =
                                  "GET, POST, DELETE" */
};

/* Adds a route; the longest matching path wins. Before pw_server_listen. */
enum pw_err pw_server_add_route(struct pw_server *srv, const struct pw_server_route *route,
                                struct pw_error *err);

/* The request context ------------------------------------------------------------ */

/* Moments of one request, on the monotonic clock (pw_clock_us). The server
 * sets RECEIVED, ADMITTED, FIRST_BYTE and END; the module that talks to an
 * upstream sets the UPSTREAM ones through pw_server_ctx_upstream_*. */
enum pw_server_mark {
    PW_SERVER_MARK_RECEIVED,            /* the request's headers are in */
    PW_SERVER_MARK_ADMITTED,            /* admission let it through */
    PW_SERVER_MARK_UPSTREAM_START,      /* the first upstream attempt began */
    PW_SERVER_MARK_UPSTREAM_FIRST_BYTE, /* the first upstream response byte */
    PW_SERVER_MARK_UPSTREAM_END,        /* the last upstream attempt ended */
    PW_SERVER_MARK_FIRST_BYTE,          /* the first answer byte was queued */
    PW_SERVER_MARK_END,                 /* answered, or the client went away */
    PW_SERVER_MARKS
};

#define PW_SERVER_REQID_MAX 65
#define PW_SERVER_LABEL_MAX 128

/*
 * What one request went through, hung off the request (pw_server_req_ctx)
 * from its headers to its end: the pipeline fills the request id, the
 * route label and the marks; admission fills the principal and its own
 * state; the handler reports what it alone sees (the model and provider,
 * tokens, cost, the upstream time). The `done` stage reads it whole.
 * Service thread only; strings are cut to whole UTF-8 characters.
 */
struct pw_server_ctx {
    int64_t at_us[PW_SERVER_MARKS];     /* 0 = not reached */
    int64_t upstream_us;                /* time waiting on upstreams, every attempt */
    int upstream_attempts;
    char request_id[PW_SERVER_REQID_MAX];
    const char *route;                  /* the route's path (a metric label) */
    const char *method;
    int status;                         /* the answer's status (0: none sent) */
    char principal[64];                 /* who admission let in ("" = open or none) */
    void *grant;                        /* admission's own state, for its `done` */
    bool admitted;
    char error[48];                     /* an error type for the log ("" = none) */
    /* Reported by the handler (pw_server_ctx_usage). */
    char model[PW_SERVER_LABEL_MAX];
    char provider[32];
    char upstream_model[PW_SERVER_LABEL_MAX];
    int64_t prompt_tokens, completion_tokens, cached_tokens;
    int64_t cost_micros;                /* > 0: priced by the handler (-1: not) */
    char *products;                     /* JSON array text of cited ids (owned), or NULL */
    int64_t upstream_open;              /* private: when the attempt in flight began */
    struct pw_trace_span *span;         /* the request's SERVER span (server/trace.c),
                                           parent of the handler's; NULL when not
                                           tracing */
};

/* Copies a well-formed incoming X-Request-Id (1..64 of [A-Za-z0-9._-]) or
 * makes a new one ("req_" + 24 hex digits) into `out`; for requests that
 * are not HTTP requests (WebSocket messages) as much as for those. */
void pw_server_request_id(const char *incoming, char out[PW_SERVER_REQID_MAX]);

/* The request's context (borrowed; lives as long as the request). */
struct pw_server_ctx *pw_server_req_ctx(struct pw_server_req *r);

/* An upstream attempt began / ended (returns the attempt's duration, us).
 * `first_byte_us` is when its first response byte came (0: none). The time
 * between begin and end counts as waiting on the upstream, so the
 * gateway's own overhead is the rest; the module that made the attempt
 * records its own upstream metrics. */
void pw_server_ctx_upstream_begin(struct pw_server_ctx *c);
int64_t pw_server_ctx_upstream_end(struct pw_server_ctx *c, int64_t first_byte_us);

/* What the request used, for the usage record and the log. Strings are
 * copied (cut); `products` (JSON text) copied; NULL leaves a field alone. */
struct pw_server_usage {
    const char *model, *provider, *upstream_model;
    int64_t prompt_tokens, completion_tokens, cached_tokens;
    int64_t cost_micros;                /* > 0: priced by the handler; else the
                                           price table prices the tokens */
    const char *products;
};
void pw_server_ctx_usage(struct pw_server_ctx *c, const struct pw_server_usage *u);

/* Admission (stage 6) --------------------------------------------------------------- */

struct pw_server_admission {
    /* For a route with a nonzero `admit` class, once its body is in: true
     * lets the request through (set ctx->principal, ctx->grant); false means
     * the filter answered it (a refusal, with the route's error shape or its
     * own). Service thread; must not block. */
    bool (*admit)(struct pw_server_req *r, unsigned cls, struct pw_server_ctx *ctx,
                  void *ud);
    /* Once for every request that went through `admit`, at its end, with
     * the final context (reconcile, record usage, free ctx->grant). */
    void (*done)(struct pw_server_ctx *ctx, void *ud);
    void *ud;
};

/* Installs the admission filter (copied). Before pw_server_listen. */
void pw_server_set_admission(struct pw_server *srv, const struct pw_server_admission *a);

/* Work on a worker thread (stage 7, `on_work`) ------------------------------------------ */

/* The request as the worker sees it: method, path, query and body (as
 * pw_server_req_*), and the context's principal; all borrowed for the call. */
const char *pw_server_work_method(const struct pw_server_work *w);
const char *pw_server_work_path(const struct pw_server_work *w);
const char *pw_server_work_query(const struct pw_server_work *w);
const char *pw_server_work_body(const struct pw_server_work *w, size_t *len);
const char *pw_server_work_principal(const struct pw_server_work *w);

/* The answer (copied); the last call wins. Without one the client gets 500. */
enum pw_err pw_server_work_respond(struct pw_server_work *w, int status, const char *content_type,
                                   const void *body, size_t len);

/* Requests (valid as described at the top) ------------------------------------ */

const char *pw_server_req_method(const struct pw_server_req *r); /* "GET", "POST", ... */
const char *pw_server_req_path(const struct pw_server_req *r);   /* URL-decoded, no query */

/* Copies the value of header `name` (lower case, no colon) into buf (NUL
 * terminated). Returns its length, -1 when absent, -2 when it does not fit.
 * Valid during on_request. */
int pw_server_req_header(struct pw_server_req *r, const char *name, char *buf, size_t size);

/* The request body (borrowed; NUL terminated; "" when none). */
const char *pw_server_req_body(const struct pw_server_req *r, size_t *len);

void pw_server_req_set_data(struct pw_server_req *r, void *data);
void *pw_server_req_data(const struct pw_server_req *r);

/* True when the request came over TLS. */
bool pw_server_req_tls(const struct pw_server_req *r);

/* The client's address ("127.0.0.1", "::1"; "" when unknown), borrowed. */
const char *pw_server_req_peer(const struct pw_server_req *r);
/* The query string without its '?', arguments joined by '&' and
 * URL-decoded ("" when none), borrowed. */
const char *pw_server_req_query(const struct pw_server_req *r);
/* Adds headers (a name/value list as for responses; copied) to whatever
 * response this request gets, including one written by the route's
 * `error` function: for headers owed on every answer (rate limits). */
enum pw_err pw_server_req_add_headers(struct pw_server_req *r, const char *const *headers);

/*
 * Headers for responses: a NULL-terminated array of alternating lower-case
 * names and values, e.g. {"mcp-session-id", id, NULL}; may be NULL.
 */

/* A complete response (Content-Length). Finishes the handler's part. */
enum pw_err pw_server_req_respond(struct pw_server_req *r, int status, const char *content_type,
                                  const char *const *headers, const void *body, size_t len);

/* An error response through the route's `error` function (or the default
 * JSON-RPC error body). Finishes the handler's part. */
void pw_server_req_error(struct pw_server_req *r, int status, const char *message);

/* Starts a streamed response (chunked); then write any number of times and
 * end exactly once. A write fails (PW_ERR_TOO_LARGE) when the client is not
 * reading and its queue is over the bound; the connection is then closed
 * and on_close follows later. */
enum pw_err pw_server_req_start(struct pw_server_req *r, int status, const char *content_type,
                                const char *const *headers);
enum pw_err pw_server_req_write(struct pw_server_req *r, const void *data, size_t len);
void pw_server_req_end(struct pw_server_req *r); /* finishes the handler's part */

/* Bytes queued for this response and not yet handed to the socket. */
size_t pw_server_req_queued(const struct pw_server_req *r);

/* WebSocket routes -------------------------------------------------------------- */

struct pw_server_ws_handler {
    /* The upgrade is done; return 0 to keep the connection, else it closes
     * with 1011. */
    int (*on_open)(struct pw_server_ws *c, void *ud);
    /* One complete text message (NUL terminated, valid UTF-8). */
    void (*on_message)(struct pw_server_ws *c, const char *text, size_t len, void *ud);
    /* The connection is gone; `c` is invalid once this returns. Never called
     * from inside a pw_server_ws_* call. */
    void (*on_close)(struct pw_server_ws *c, void *ud);
};

struct pw_server_ws_route {
    const char *path;          /* exact */
    const char *subprotocol;   /* required in Sec-WebSocket-Protocol ("mcp") */
    size_t max_message;        /* reassembled message bound (0 = 4 MiB), else 1009 */
    size_t max_queue;          /* outgoing bytes queued before we drop the peer
                                  (0 = 4 x max_message) */
    const struct pw_server_ws_handler *handler;
    void *ud;
};

/* Adds a WebSocket route; paths and subprotocols must be unique. Before
 * pw_server_listen. */
enum pw_err pw_server_add_ws(struct pw_server *srv, const struct pw_server_ws_route *route,
                             struct pw_error *err);

/* Queues one text message. Fails when the connection is closing or the peer
 * is too slow (then it is closed with 1008 and on_close follows later). */
enum pw_err pw_server_ws_send(struct pw_server_ws *c, const char *text, size_t len);

/* Closes after what is queued has been sent (bounded by a few seconds). */
void pw_server_ws_close(struct pw_server_ws *c, int status, const char *reason);

/* During on_open only: the upgrade request's header `name` (lower case), as
 * pw_server_req_header (-1 absent or outside on_open, -2 too long); e.g.
 * authorization, x-api-key, sec-websocket-protocol (every offered one). */
int pw_server_ws_header(struct pw_server_ws *c, const char *name, char *buf, size_t size);
/* The client's address ("" when unknown), borrowed. */
const char *pw_server_ws_peer(const struct pw_server_ws *c);

void pw_server_ws_set_data(struct pw_server_ws *c, void *data);
void *pw_server_ws_data(const struct pw_server_ws *c);

/* Static files (server/static.c) -------------------------------------------------- */

struct pw_server_static;

struct pw_server_static_options {
    const char *prefix;        /* URL prefix, starts and ends with '/'; NULL = "/" */
    const char *dir;           /* the directory served (resolved once, at add time) */
    const char *index;         /* file for paths ending in '/'; NULL = "index.html" */
    size_t max_file;           /* largest file served, bytes (0 = 16 MiB) */
};

/* Adds a prefix route answering GET and HEAD with files below opt->dir:
 * no dot segments, hidden files, or symlinks leading outside the directory;
 * Content-Type by extension, ETag/Last-Modified with 304, no-cache; 404 and
 * 405 otherwise. Longer routes ("/ws", "/mcp", "/v1/") still win. *out is
 * new: free it with pw_server_static_free after pw_server_free. Before
 * pw_server_listen. */
enum pw_err pw_server_add_static(struct pw_server *srv, const struct pw_server_static_options *opt,
                                 struct pw_server_static **out, struct pw_error *err);
void pw_server_static_free(struct pw_server_static *st);

/* The resolved directory a static route serves (borrowed). */
const char *pw_server_static_root(const struct pw_server_static *st);

/* Finds the directory `name` shipped with the running executable: NAME next
 * to it (a build tree), else ../share/pennyworth/NAME (an installation).
 * Copies the path into out; PW_ERR_NOT_FOUND when neither exists. */
enum pw_err pw_server_static_locate(const char *name, char *out, size_t size,
                                    struct pw_error *err);

/* The loop ------------------------------------------------------------------------ */

/* Calls fn(ud) on the service thread every `interval_ms` once listening. */
enum pw_err pw_server_add_timer(struct pw_server *srv, int interval_ms, void (*fn)(void *ud),
                                void *ud, struct pw_error *err);

/* Calls fn(ud) on the service thread after pw_server_wake (wake-ups
 * coalesce: several wakes may give one call). */
enum pw_err pw_server_on_wake(struct pw_server *srv, void (*fn)(void *ud), void *ud,
                              struct pw_error *err);

/* Calls fn(ud) on the service thread when a graceful stop begins. */
enum pw_err pw_server_on_stop(struct pw_server *srv, void (*fn)(void *ud), void *ud,
                              struct pw_error *err);

/* Binds the listening socket; after it pw_server_port() is the real port. */
enum pw_err pw_server_listen(struct pw_server *srv, struct pw_error *err);
int pw_server_port(const struct pw_server *srv);
bool pw_server_tls(const struct pw_server *srv);

/*
 * Services the loop until a graceful stop completes: new connections are
 * refused, the stop hooks run, and the loop ends once no request or
 * WebSocket is active or the grace period has passed. Every connection is
 * then closed (close callbacks run) and the loop is gone. Call once.
 */
enum pw_err pw_server_run(struct pw_server *srv, struct pw_error *err);

/* Any thread: makes the loop run the wake hooks soon. */
void pw_server_wake(struct pw_server *srv);

/* Any thread, and async-signal-safe: begins a graceful stop. A second call
 * while stopping ends the loop at once. */
void pw_server_stop(struct pw_server *srv);

bool pw_server_stopping(const struct pw_server *srv);

/* Whether an Origin header value is allowed: absent (NULL), http(s) on
 * localhost / 127.0.0.1 / [::1] with any port, or an --allow-origin entry. */
bool pw_server_origin_allowed(const struct pw_server *srv, const char *origin);

/* Whether the request's Content-Type is application/json (parameters such
 * as charset allowed). Routes that read a JSON body require it (415), so a
 * cross-site form or text/plain POST cannot reach them without a CORS
 * preflight. */
bool pw_server_req_is_json(struct pw_server_req *r);

#endif
