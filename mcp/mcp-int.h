/*
 * MCP engine internals shared by the files of mcp/ (never by other modules).
 *
 * Objects and who owns them:
 *   server   owns the registry, the session list, the worker pool, the
 *            completion queue and the list of pending server-to-client
 *            requests (oldest deadline first, since every request gets the
 *            same timeout).
 *   session  owns its in-flight calls list (linked, not owning), its
 *            subscriptions and its outgoing requests; freed by the transport.
 *   call     is reference counted: one reference for the engine while it is
 *            in flight, one for a worker while the handler runs there, one
 *            for each server-to-client request made on its behalf. The
 *            response is sent at most once (`done`), and only if the call is
 *            still linked to a live session and not cancelled.
 *
 * Session lifecycle (the functions doing each move are in session.c):
 *
 *     NEW --initialize--> READY --notifications/initialized--> OPERATING
 *      |                    |                                      |
 *      +--------------------+------ pw_mcp_session_free -----------+--> (gone)
 *
 * READY already accepts requests: clients send `initialized` straight after
 * the response, and refusing the gap gains nothing. Only ping is accepted in
 * NEW.
 *
 * Threads: everything here runs on the loop thread except the functions
 * marked "any thread" and the worker pool.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PW_MCP_INT_H
#define PW_MCP_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "pennyworth/mcp.h"

/* Bounds on peer input. */
#define MCP_MAX_SUBSCRIPTIONS 1024   /* per session */
#define MCP_MAX_INFLIGHT 256         /* per session */
#define MCP_MAX_BATCH 100            /* messages in one JSON-RPC batch */

/* JSON-RPC / MCP error codes that are not in the error table. */
#define MCP_INVALID_REQUEST -32600
#define MCP_METHOD_NOT_FOUND -32601
#define MCP_INVALID_PARAMS -32602
#define MCP_INTERNAL_ERROR -32603
#define MCP_PARSE_ERROR -32700
#define MCP_RESOURCE_NOT_FOUND -32002

enum mcp_state { MCP_NEW, MCP_READY, MCP_OPERATING };

/* Registry entries keep their JSON description ready to list; every entry
 * kind starts with this, so list paging treats them alike. */
struct mcp_entry {
    char *key;             /* name or URI (template) */
    json_t *desc;          /* the object as listed (new ref) */
};

struct pw_jsonschema;

struct mcp_tool {
    struct mcp_entry base;
    struct pw_jsonschema *input;   /* compiled inputSchema */
    struct pw_jsonschema *output;  /* compiled outputSchema, or NULL */
    pw_mcp_handler handler;
    void *ud;
    unsigned flags;
};

struct mcp_resource {
    struct mcp_entry base;
    pw_mcp_handler read;
    void *ud;
    unsigned flags;
};

struct mcp_template {
    struct mcp_entry base;
    pw_mcp_handler read;
    pw_mcp_handler list;
    void *ud;
    unsigned flags;
};

struct mcp_prompt {
    struct mcp_entry base;
    pw_mcp_handler get;
    void *ud;
    unsigned flags;
};

/* A growable array of registry entries of one kind. */
struct mcp_vec {
    void **items;
    size_t len, cap;
};

struct mcp_batch;
struct mcp_modern;
struct mcp_modern_srv;
struct mcp_task;

struct pw_trace_span; /* pennyworth/trace.h */

struct pw_mcp_call {
    atomic_int refs;
    atomic_bool cancelled;
    atomic_bool done;
    struct pw_mcp_server *srv;
    struct pw_mcp_session *session; /* NULL once the session is gone; loop thread */
    json_t *client_caps;            /* the session's when the call came (new ref): a
                                       worker reads them while the loop may free the
                                       session or replace its capabilities */
    unsigned char principal[32];    /* the session's (pw_mcp_session_set_principal) */
    struct mcp_batch *batch;        /* the batch it came in, or NULL */
    json_t *id;                     /* the request id (new ref) */
    char *method;
    json_t *params;                 /* the whole params (new ref, may be NULL) */
    json_t *handler_params;         /* what the handler gets (new ref) */
    json_t *progress_token;         /* borrowed from params, or NULL */
    pw_mcp_handler handler;
    void *ud;
    /* Runs on the finishing thread before a result is sent: steals the
     * result, returns the one to send (tools/call output checks,
     * resources/list assembly). `hook_data` is its context (new ref). */
    json_t *(*finish_hook)(struct pw_mcp_call *call, json_t *result);
    json_t *hook_data;
    const struct pw_jsonschema *hook_schema; /* borrowed from the registry */
    struct pw_mcp_call *next, *prev; /* the session's in-flight list */
    struct mcp_modern *modern;      /* 2026-07-28 request context, or NULL (modern.c) */
    unsigned flags;                 /* the handler's PW_MCP_* flags (mcp_call_start) */
    _Atomic(struct mcp_task *) task; /* the task it became, or NULL (tasks.c) */
    struct pw_trace_span *span;     /* a tools/call's span (observe.c), or NULL; ended
                                       once, at delivery or else at the last unref */
};

/* A server-to-client request waiting for its response. */
struct mcp_outgoing {
    json_int_t id;
    struct pw_mcp_session *session;
    struct pw_mcp_call *call;       /* holds a reference; may be NULL */
    pw_mcp_reply_fn reply;
    void *ud;
    int64_t deadline_ms;
    struct mcp_outgoing *next, *prev;         /* the server's deadline list */
};

/* Something a worker thread finished, handed to the loop thread. */
enum mcp_post_kind { MCP_POST_RESULT, MCP_POST_NOTIFY, MCP_POST_UPDATED };
struct mcp_post {
    enum mcp_post_kind kind;
    struct pw_mcp_call *call;   /* holds a reference (RESULT, NOTIFY) */
    json_t *msg;                /* result or error object, or notification */
    bool is_error;              /* RESULT: msg is a JSON-RPC error object */
    int log_level;              /* NOTIFY: level of a notifications/message, or -1 */
    char *uri;                  /* UPDATED */
    struct mcp_post *next;
};

struct mcp_workers;

struct pw_mcp_server {
    struct pw_mcp_server_options opt;
    char *name, *title, *version, *instructions;
    pthread_t loop_thread;

    struct mcp_vec tools, resources, templates, prompts;
    pw_mcp_handler completer;
    void *completer_ud;
    unsigned completer_flags;

    struct pw_mcp_session *sessions;        /* all live sessions */

    struct mcp_outgoing *out_head, *out_tail; /* by deadline */
    json_int_t next_out_id;

    void (*wake)(void *ud);
    void *wake_ud;
    pthread_mutex_t post_lock;
    struct mcp_post *post_head, *post_tail;  /* {post_lock} */

    struct mcp_workers *workers;
    struct mcp_modern_srv *modern;           /* 2026-07-28 state, or NULL (modern.c) */
    struct pw_mcp_observer observer;         /* all NULL for none (observe.c) */
};

struct pw_mcp_session {
    struct pw_mcp_server *srv;
    struct pw_mcp_transport t;
    enum mcp_state state;
    bool closing;                   /* being freed: send nothing more */
    const char *version;            /* one of pw_mcp_versions, or NULL */
    json_t *client_caps;            /* new ref */
    json_t *client_info;            /* new ref */
    unsigned char principal[32];    /* SHA-256 of the credential; zeros for none */
    int log_level;                  /* index into the level names; 0 = debug */
    char **subs;                    /* subscribed URIs */
    size_t nsubs;
    struct pw_mcp_call *inflight;   /* linked by next/prev */
    size_t ninflight;
    struct pw_mcp_session *next, *prev; /* the server's session list */
    struct mcp_modern *modern;      /* the modern request being dispatched (modern.c) */
};

/* server.c */
bool mcp_on_loop(const struct pw_mcp_server *srv);
void mcp_post(struct pw_mcp_server *srv, struct mcp_post *p); /* any thread */

/* workers.c */
struct mcp_workers *mcp_workers_start(struct pw_mcp_server *srv, int n);
void mcp_workers_stop(struct mcp_workers *w);
void mcp_workers_submit(struct mcp_workers *w, struct pw_mcp_call *call); /* takes a ref */

/* registry.c */
struct mcp_tool *mcp_find_tool(struct pw_mcp_server *srv, const char *name);
struct mcp_resource *mcp_find_resource(struct pw_mcp_server *srv, const char *uri);
struct mcp_template *mcp_match_template(struct pw_mcp_server *srv, const char *uri,
                                        json_t **vars);
struct mcp_prompt *mcp_find_prompt(struct pw_mcp_server *srv, const char *name);
void mcp_registry_free(struct pw_mcp_server *srv);
json_t *mcp_capabilities(struct pw_mcp_server *srv);
/* One page of a list: items[offset..offset+page) of the vec's descs. */
json_t *mcp_list_page(struct pw_mcp_server *srv, struct mcp_vec *v, const char *key,
                      json_t *params, struct pw_error *err);

/* uritemplate.c */
bool mcp_uritemplate_match(const char *tmpl, const char *uri, json_t **vars);

/* cursor.c */
#define MCP_CURSOR_MAX 512
char *mcp_cursor_encode(const char *kind, const char *payload);
enum pw_err mcp_cursor_decode(const char *kind, const char *cursor, char *payload,
                              size_t payload_len, struct pw_error *err);
enum pw_err mcp_cursor_offset(const char *kind, const char *cursor, size_t *offset,
                              struct pw_error *err);

/* jsonrpc.c */
json_t *mcp_error_object(int code, const char *message, json_t *data_new);
json_t *mcp_error_from(const struct pw_error *err);
json_t *mcp_response(json_t *id, json_t *result_new);
json_t *mcp_error_response(json_t *id, json_t *error_new);
json_t *mcp_notification(const char *method, json_t *params_new);
bool mcp_valid_id(json_t *id);

/* session.c */
void mcp_send(struct pw_mcp_session *s, json_t *msg_new, json_t *related);
void mcp_session_reply(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                       json_t *result_or_error_new, bool is_error);
bool mcp_session_wants_log(const struct pw_mcp_session *s, const char *level);
int mcp_log_level_index(const char *level);
void mcp_session_notify_updated(struct pw_mcp_session *s, const char *uri);

/* call.c */
struct pw_mcp_call *mcp_call_new(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                                 const char *method, json_t *params);
void mcp_call_ref(struct pw_mcp_call *c);
void mcp_call_unref(struct pw_mcp_call *c);
void mcp_call_start(struct pw_mcp_call *c, pw_mcp_handler fn, void *ud, unsigned flags,
                    json_t *handler_params_new);
void mcp_call_deliver(struct pw_mcp_call *c, json_t *msg, bool is_error); /* loop */
void mcp_call_detach(struct pw_mcp_call *c); /* unlink from session, mark cancelled */
struct pw_mcp_call *mcp_session_find_call(struct pw_mcp_session *s, json_t *id);
void mcp_call_fail_json(struct pw_mcp_call *c, json_t *error_new); /* any thread */
/* Answers the request with `result_new` (stolen) but keeps the call going
 * for the task it became (tasks.c); any thread. */
void mcp_call_answer_early(struct pw_mcp_call *c, json_t *result_new);

/* outgoing.c */
void mcp_outgoing_response(struct pw_mcp_session *s, json_t *msg);
void mcp_outgoing_fail_session(struct pw_mcp_session *s);
void mcp_outgoing_expire(struct pw_mcp_server *srv, int64_t now);

/* methods.c */
typedef void (*mcp_method_fn)(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                              json_t *params);
struct mcp_method {
    const char *name;
    mcp_method_fn fn;
    unsigned flags;
};
enum { MCP_M_BEFORE_INIT = 1 << 0 };
const struct mcp_method *mcp_find_method(const char *name);
const struct mcp_method *mcp_find_notification(const char *name);

/* observe.c: sessions and requests to the metrics and the observer. */
void mcp_observe_session(struct pw_mcp_server *srv, const char *transport, int delta);
void mcp_observe_request(struct pw_mcp_server *srv, const char *method);
/* A tools/call of tool `name` begins (its span, a child of the thread's
 * current span: pennyworth/trace.h) / its answer goes out (`msg` the result
 * or error object, or NULL when it never answered). Loop thread for begin;
 * end on whichever thread drops the call last. */
void mcp_observe_tool_begin(struct pw_mcp_call *c, const char *name);
void mcp_observe_tool_end(struct pw_mcp_call *c, const json_t *msg, bool is_error);

/* modern.c: the 2026-07-28 method table's name for `method`, or NULL. */
const char *mcp_modern_method_name(const char *method);

/* batch.c */
struct mcp_batch *mcp_batch_new(json_t *related);
void mcp_batch_expect(struct mcp_batch *b);
void mcp_batch_add(struct pw_mcp_session *s, struct mcp_batch *b, json_t *msg_new);
void mcp_batch_seal(struct pw_mcp_session *s, struct mcp_batch *b);

/* vec */
bool mcp_vec_push(struct mcp_vec *v, void *item);

#endif
