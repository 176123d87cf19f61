/*
 * The MCP engine: JSON-RPC 2.0, the MCP session lifecycle, and a registry of
 * tools, resources, prompts and completions, independent of any transport.
 *
 * Shape:
 *   - A `pw_mcp_server` holds the registry and the options; it is shared by
 *     every session. A transport (stdio, WebSocket, Streamable HTTP) makes a
 *     `pw_mcp_session` per client with a send function, feeds it each
 *     message it receives, and frees it when the client goes away.
 *   - A request that reaches a handler becomes a `pw_mcp_call`, an object
 *     that can be finished now or later, from the loop thread or from a
 *     worker thread, report progress, notice cancellation, and make
 *     server-to-client requests (sampling, elicitation, roots).
 *   - The engine owns no event loop. The host loop gives it a waker (called
 *     from any thread when work finished on a worker is ready), then calls
 *     pw_mcp_server_dispatch() on its own thread; it asks
 *     pw_mcp_server_timeout_ms() how long it may sleep and calls
 *     pw_mcp_server_tick() when that time has passed.
 *
 * Threads: everything runs on the loop thread (the thread that created the
 * server) except what is marked "any thread". Handlers registered with
 * PW_MCP_ON_WORKER run on the server's worker pool and may block (SQLite,
 * disk); the others run on the loop thread and must not block.
 *
 * Ownership follows jansson: `_new` arguments are stolen (even on failure),
 * json_t returns are documented new or borrowed; registration copies every
 * string it is given.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_MCP_H
#define PENNYWORTH_MCP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pennyworth/error.h"

struct pw_mcp_server;
struct pw_mcp_session;
struct pw_mcp_call;

/* Protocol revisions, oldest first. */
#define PW_MCP_LATEST_VERSION "2025-11-25"
extern const char *const pw_mcp_versions[]; /* NULL-terminated */

/* Server -------------------------------------------------------------------- */

struct pw_mcp_server_options {
    const char *name;          /* serverInfo.name */
    const char *title;         /* serverInfo.title (may be NULL) */
    const char *version;       /* serverInfo.version */
    const char *instructions;  /* InitializeResult.instructions (may be NULL) */
    int workers;               /* worker threads for PW_MCP_ON_WORKER (0 = 2) */
    int page_size;             /* items per page in list results (0 = 50) */
    int request_timeout_ms;    /* server-to-client requests (0 = 60000) */
    int sessions_per_principal; /* live sessions one credential may hold at once,
                                   on every transport together (0 = 1000) */
    int states_per_principal;  /* 2026-07-28 requestStates one credential may have
                                  spent and not yet expired (0 = 4096) */
};

/* Makes a server; on success *out is new (pw_mcp_server_free). Call on the
 * thread that will be the loop thread. */
enum pw_err pw_mcp_server_new(const struct pw_mcp_server_options *opt,
                              struct pw_mcp_server **out, struct pw_error *err);

/* Frees the server: stops the workers (waiting for running handlers). Every
 * session must have been freed first. */
void pw_mcp_server_free(struct pw_mcp_server *srv);

/* `wake(ud)` is called from any thread when pw_mcp_server_dispatch() has
 * work to do. Set before the first session. */
void pw_mcp_server_set_waker(struct pw_mcp_server *srv, void (*wake)(void *ud), void *ud);

/* Delivers completions, progress and logs posted by worker threads. */
void pw_mcp_server_dispatch(struct pw_mcp_server *srv);

/* Milliseconds until the next deadline (a server-to-client request timing
 * out), or -1 for none. */
int64_t pw_mcp_server_timeout_ms(struct pw_mcp_server *srv);

/* Expires what is due. */
void pw_mcp_server_tick(struct pw_mcp_server *srv);

/*
 * What the engine alone sees, for metrics and tracing. The engine itself
 * records pennyworth_mcp_sessions{transport} (+1 when a session is made,
 * -1 when it is freed) and pennyworth_mcp_requests_total{method} in the
 * default metrics registry; an observer sees the same events besides.
 *
 *   session(ud, transport, delta): a session with a transport name (see
 *     pw_mcp_transport) was made (+1) or freed (-1); exactly once each.
 *   request(ud, method): a request or notification came in, counted
 *     whether it is then served or refused, session-era or 2026-07-28.
 *     `method` is the engine's own name for it (tools/call,
 *     notifications/cancelled, server/discover...) or "other" for a
 *     method the engine does not serve: never the client's string, so it
 *     is a safe metric label, and static, so it may be kept.
 *
 * Both run on the loop thread, where the event happens, and must not
 * block or call back into the engine. Either may be NULL.
 */
struct pw_mcp_observer {
    void (*session)(void *ud, const char *transport, int delta);
    void (*request)(void *ud, const char *method);
    void *ud;
};

/* Sets the observer (copied; NULL for none). Loop thread, before the
 * first session, so that every close it hears of had its open. */
void pw_mcp_server_set_observer(struct pw_mcp_server *srv, const struct pw_mcp_observer *obs);

/* Registry ------------------------------------------------------------------ */

enum {
    PW_MCP_ON_WORKER = 1 << 0, /* run the handler on a worker thread */
};

/*
 * A handler gets the call and the request's `params` (borrowed; for tools the
 * validated `arguments` object, for template reads {"uri", "vars":{...}}, for
 * prompts the `arguments` object, for completion the whole params). It must
 * eventually call pw_mcp_call_finish() or pw_mcp_call_fail() exactly once,
 * now or later, from any thread.
 */
typedef void (*pw_mcp_handler)(struct pw_mcp_call *call, json_t *params, void *ud);

struct pw_mcp_tool {
    const char *name;
    const char *title;          /* may be NULL */
    const char *description;
    const char *input_schema;   /* JSON Schema text (an object schema) */
    const char *output_schema;  /* JSON Schema text, or NULL */
    const char *annotations;    /* JSON object text, or NULL */
    pw_mcp_handler handler;
    void *ud;
    unsigned flags;
};

struct pw_mcp_resource {
    const char *uri;
    const char *name;
    const char *title;          /* may be NULL */
    const char *description;
    const char *mime_type;
    pw_mcp_handler read;        /* params {"uri": ...}; result {"contents":[...]} */
    void *ud;
    unsigned flags;
};

/*
 * A URI template (RFC 6570 level 1: "catalog://products/{id}"). `read` gets
 * {"uri": ..., "vars": {"id": "12"}}. `list`, if set, enumerates concrete
 * resources for resources/list: params {"cursor": "..."|absent, "limit": N};
 * result {"resources": [...], "nextCursor": "..."}.
 */
struct pw_mcp_template {
    const char *uri_template;
    const char *name;
    const char *title;
    const char *description;
    const char *mime_type;
    pw_mcp_handler read;
    pw_mcp_handler list;
    void *ud;
    unsigned flags;
};

struct pw_mcp_prompt_arg {
    const char *name;
    const char *description;
    bool required;
};

struct pw_mcp_prompt {
    const char *name;
    const char *title;
    const char *description;
    const struct pw_mcp_prompt_arg *args;
    size_t nargs;
    pw_mcp_handler get;         /* params: the arguments object; result per prompts/get */
    void *ud;
    unsigned flags;
};

/* Registration copies everything and compiles tool schemas (an unsupported
 * or broken schema is an error here, not at call time); a duplicate name is
 * PW_ERR_INVALID. Adding after sessions exist sends list_changed to the
 * initialized ones. Remove a tool only while none of its calls is running. */
enum pw_err pw_mcp_server_add_tool(struct pw_mcp_server *srv, const struct pw_mcp_tool *t,
                                   struct pw_error *err);
enum pw_err pw_mcp_server_remove_tool(struct pw_mcp_server *srv, const char *name);
enum pw_err pw_mcp_server_add_resource(struct pw_mcp_server *srv,
                                       const struct pw_mcp_resource *r, struct pw_error *err);
enum pw_err pw_mcp_server_add_template(struct pw_mcp_server *srv,
                                       const struct pw_mcp_template *t, struct pw_error *err);
enum pw_err pw_mcp_server_add_prompt(struct pw_mcp_server *srv, const struct pw_mcp_prompt *p,
                                     struct pw_error *err);

/* The completion/complete handler; params are the request's whole params;
 * the result is {"completion": {"values": [...], "total": N, "hasMore": b}}. */
void pw_mcp_server_set_completer(struct pw_mcp_server *srv, pw_mcp_handler fn, void *ud,
                                 unsigned flags);

/* Tells every session subscribed to `uri` that it changed. Any thread. */
void pw_mcp_server_resource_updated(struct pw_mcp_server *srv, const char *uri);

/* Calls ------------------------------------------------------------------- */

/* Borrowed: the method name and the request's whole params (may be NULL). */
const char *pw_mcp_call_method(const struct pw_mcp_call *call);
json_t *pw_mcp_call_request_params(const struct pw_mcp_call *call);

/* Finishes the call with a result (stolen). Any thread; exactly once. If the
 * call was cancelled the result is dropped, as the spec says. */
void pw_mcp_call_finish(struct pw_mcp_call *call, json_t *result_new);

/* Finishes the call with a JSON-RPC error made from `err`. Any thread. */
void pw_mcp_call_fail(struct pw_mcp_call *call, const struct pw_error *err);

/* Sends notifications/progress if the request carried a progressToken;
 * `total` <= 0 means unknown; `message` may be NULL. Any thread. */
void pw_mcp_call_progress(struct pw_mcp_call *call, double progress, double total,
                          const char *message);

/* True once the client cancelled the request or went away. Any thread. */
bool pw_mcp_call_cancelled(const struct pw_mcp_call *call);

/* Sends notifications/message at `level` ("debug".."emergency") if the
 * session's logging level lets it through; data is stolen. Any thread. */
void pw_mcp_call_log(struct pw_mcp_call *call, const char *level, const char *logger,
                     json_t *data_new);

/*
 * Makes a server-to-client request on the call's session (sampling/
 * createMessage, elicitation/create, roots/list) tied to this call.
 * `reply(call, result, err, ud)` runs on the loop thread exactly once: with
 * the result (borrowed) or with err set (the client's error, a timeout, or
 * the session closing). Loop thread only. Returns an error (and never calls
 * reply) if the client did not declare the capability the method needs.
 */
typedef void (*pw_mcp_reply_fn)(struct pw_mcp_call *call, json_t *result,
                                const struct pw_error *err, void *ud);
enum pw_err pw_mcp_call_request(struct pw_mcp_call *call, const char *method,
                                json_t *params_new, pw_mcp_reply_fn reply, void *ud,
                                struct pw_error *err);

/* The client's declared capabilities (borrowed; an empty object if none). */
json_t *pw_mcp_call_client_capabilities(const struct pw_mcp_call *call);

/* Result helpers ----------------------------------------------------------- */

/* {"content":[{"type":"text","text":text}], "structuredContent": structured}
 * (structured stolen, may be NULL). Returns new. */
json_t *pw_mcp_tool_result(json_t *structured_new, const char *text);

/* {"content":[{"type":"text","text":<message>}], "isError": true}. New. */
json_t *pw_mcp_tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sessions ------------------------------------------------------------------ */

/*
 * What a transport gives a session. `send` gets each outgoing message
 * (borrowed) and, for routing on transports with several streams, the id of
 * the client request it belongs to (`related`, borrowed, NULL when it
 * belongs to none: list_changed, resources/updated, server requests made
 * outside any call). Loop thread.
 *
 * `name` labels the session in metrics and for the observer: one of the
 * PW_MCP_TRANSPORT_* names (a static string, kept for the session's life).
 * NULL marks a carrier for one stateless 2026-07-28 request rather than a
 * session a client holds: it is not counted as a session (its requests
 * still are).
 */
#define PW_MCP_TRANSPORT_STDIO "stdio"   /* pw_mcp_stdio_run */
#define PW_MCP_TRANSPORT_WS "ws"         /* MCP over WebSocket (mcp_net.h) */
#define PW_MCP_TRANSPORT_HTTP "http"     /* Streamable HTTP sessions (mcp_net.h) */
#define PW_MCP_TRANSPORT_BRIDGE "bridge" /* the LLM bridge's in-process session */

struct pw_mcp_transport {
    void (*send)(void *ctx, json_t *msg, json_t *related);
    void *ctx;
    const char *name;
};

enum pw_err pw_mcp_session_new(struct pw_mcp_server *srv, const struct pw_mcp_transport *t,
                               struct pw_mcp_session **out, struct pw_error *err);

/*
 * Feeds one received message (a JSON text: an object, or a batch array).
 * Errors are answered on the session as JSON-RPC errors; nothing here fails.
 */
void pw_mcp_session_receive(struct pw_mcp_session *s, const char *text, size_t len);

/* The same for an already parsed message (borrowed). */
void pw_mcp_session_receive_json(struct pw_mcp_session *s, json_t *msg);

/* Binds the session to the identity its transport admitted (an API key's
 * id, else the credential presented; NULL or 0 bytes for none): a
 * 2026-07-28 requestState made under one principal is refused under
 * another, and a transport may refuse a request on a session of another
 * (pw_mcp_session_principal_is). Only a SHA-256 of it is kept. A transport
 * without credentials may pass a value unique to the connection, so states
 * cannot move between connections. PW_ERR_RATE_LIMITED when the principal
 * already holds sessions_per_principal other sessions: the caller refuses
 * (429) and frees the session. */
enum pw_err pw_mcp_session_set_principal(struct pw_mcp_session *s, const void *credential,
                                         size_t len);
bool pw_mcp_session_principal_is(const struct pw_mcp_session *s, const void *credential,
                                 size_t len);

/* Ends the session: in-flight calls are cancelled and their results dropped,
 * pending server-to-client requests fail. `send` is never called again. */
void pw_mcp_session_free(struct pw_mcp_session *s);

/* The negotiated revision, or NULL before initialize. Borrowed. */
const char *pw_mcp_session_version(const struct pw_mcp_session *s);
bool pw_mcp_session_ready(const struct pw_mcp_session *s);

/* Number of calls still running (for graceful shutdown). */
size_t pw_mcp_session_inflight(const struct pw_mcp_session *s);

/* Transports ----------------------------------------------------------------- */

/* The longest line the stdio transport accepts; a longer one is answered
 * with a JSON-RPC error and skipped. */
#define PW_MCP_STDIO_MAX_LINE (4u * 1024 * 1024)

/*
 * Serves one session over newline-delimited JSON on in_fd/out_fd (usually 0
 * and 1) until end of input or SIGINT/SIGTERM, on the calling thread (which
 * must be the server's loop thread). After end of input, calls still
 * running may finish and be answered (for up to `drain_ms`). `tick(ud)` is
 * called about every `tick_ms` (for pollers such as the catalog's change
 * watcher; may be NULL). Returns 0, or 1 if the loop could not start.
 */
int pw_mcp_stdio_run(struct pw_mcp_server *srv, int in_fd, int out_fd,
                     void (*tick)(void *ud), void *ud, int tick_ms, int drain_ms);

#endif
