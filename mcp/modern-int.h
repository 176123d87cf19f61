/*
 * MCP engine internals for revision 2026-07-28 (the modern era), shared by
 * modern.c (per-request `_meta`, the method table, result decoration),
 * discover.c, listen.c (subscriptions/listen), mrtr.c (input_required and
 * sealed requestState) and the hooks in the session-era files.
 *
 * A modern request gets a `struct mcp_modern` when it is classified. While
 * its method runs synchronously the session points at it
 * (`session->modern`), so immediate replies are decorated; a call made for
 * it takes it over (`call->modern`) and decorates its result at delivery.
 * After that it is read-only except for the cache hint, which the handler
 * writes before finishing and the loop reads after the hand-off.
 *
 * Loop thread except where marked.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PW_MCP_MODERN_INT_H
#define PW_MCP_MODERN_INT_H

#include "mcp/mcp-int.h"
#include "pennyworth/mcp_modern.h"

/* The reserved `_meta` keys. */
#define MCP_META_VERSION "io.modelcontextprotocol/protocolVersion"
#define MCP_META_CAPS "io.modelcontextprotocol/clientCapabilities"
#define MCP_META_INFO "io.modelcontextprotocol/clientInfo"
#define MCP_META_LOG "io.modelcontextprotocol/logLevel"
#define MCP_META_SERVER "io.modelcontextprotocol/serverInfo"
#define MCP_META_SUB "io.modelcontextprotocol/subscriptionId"

/* Error codes the modern era adds. */
#define MCP_HEADER_MISMATCH -32020
#define MCP_MISSING_CAPABILITY -32021
#define MCP_UNSUPPORTED_VERSION -32022

#define MCP_MAX_LISTENS 64 /* per session */

#define MCP_TASKS_EXT "io.modelcontextprotocol/tasks"

struct mcp_modern {
    const char *version;     /* one of pw_mcp_modern_versions */
    const char *method;      /* static: the method table's name */
    json_t *caps;            /* the request's clientCapabilities (new ref) */
    json_t *info;            /* clientInfo (new ref) or NULL */
    int log_level;           /* index into the level names, or -1: no logs */
    json_t *input_responses; /* new ref or NULL */
    json_t *state;           /* verified handler state (new ref) or NULL */
    char bind[65];           /* hex SHA-256 naming the request a state belongs to */
    int64_t ttl_ms;          /* cache hint, when cache_set */
    bool cache_set;
    bool private_scope;
};

struct mcp_listen;

struct mcp_spent_by {
    uint64_t who;               /* a principal's first 8 bytes */
    uint32_t n;                 /* its live spent states; 0: free slot */
};

/* Server-wide modern state (srv->modern). */
struct mcp_modern_srv {
    unsigned char key[32];   /* seals requestState */
    struct mcp_listen *listens;
    struct mcp_nonce *spent;  /* spent requestState nonces, open addressing (mrtr.c) */
    struct mcp_spent_by *spent_by; /* live spent entries per principal (mrtr.c) */
    size_t nspent, spent_cap;
    pthread_mutex_t task_lock; /* guards the task table and every task (tasks.c);
                                  taken with mcp_task_lock so it can be asserted */
    pthread_t task_lock_owner; /* {task_lock} the holder, for task_lock_held */
    bool task_locked;          /* {task_lock} */
    struct mcp_task *tasks;    /* {task_lock} */
    size_t ntasks;             /* {task_lock} */
};

/* tasks.c: the task lock, with its holder recorded for PW_ASSERT. */
void mcp_task_lock(struct mcp_modern_srv *ms);
void mcp_task_unlock(struct mcp_modern_srv *ms);
bool mcp_task_lock_held(struct mcp_modern_srv *ms);

/* modern.c */
bool mcp_modern_wants(const char *method, json_t *params);
void mcp_modern_request(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                        const char *method, json_t *params);
/* Decorates a result or maps an error (steals and returns body). */
json_t *mcp_modern_decorate(struct pw_mcp_server *srv, const struct mcp_modern *m,
                            json_t *body, bool is_error);
void mcp_modern_free(struct mcp_modern *m); /* any thread */
bool mcp_modern_log_ok(const struct pw_mcp_call *c, int level); /* any thread */
json_t *mcp_modern_server_info(struct pw_mcp_server *srv);
struct mcp_modern_srv *mcp_modern_srv(struct pw_mcp_server *srv);
void mcp_modern_srv_free(struct pw_mcp_server *srv);
json_t *mcp_modern_capabilities(struct pw_mcp_server *srv);

/* discover.c */
void mcp_discover(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id, json_t *params);

/* listen.c */
void mcp_listen(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id, json_t *params);
bool mcp_listen_cancel(struct pw_mcp_session *s, json_t *id);
void mcp_listen_drop_session(struct pw_mcp_session *s);
void mcp_listen_list_changed(struct pw_mcp_server *srv, const char *method);
void mcp_listen_updated(struct pw_mcp_server *srv, const char *uri);
size_t mcp_listen_count(const struct pw_mcp_session *s);

/* mrtr.c */
/* Checks inputResponses and requestState of a request that may carry
 * them, filling m; false after answering the error. */
bool mcp_mrtr_accept(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                     json_t *params, struct mcp_modern *m);

/* tasks.c */
bool mcp_tasks_declared(json_t *caps);
/* Route what a task's call produces into its task; false when the call is
 * not (or no longer) a task's. Any thread; steal their JSON when true. */
bool mcp_task_finish(struct pw_mcp_call *call, json_t *msg, bool is_error);
bool mcp_task_input(struct pw_mcp_call *call, json_t *requests_new, json_t *state_new);
void mcp_tasks_cancel_all(struct pw_mcp_server *srv);
void mcp_tasks_free(struct mcp_modern_srv *ms);
void mcp_tasks_get(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id, json_t *params);
void mcp_tasks_update(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                      json_t *params);
void mcp_tasks_cancel(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                      json_t *params);

#endif
