/*
 * MCP over the network: the WebSocket and Streamable HTTP transports, each
 * a row in a pw_server's route table (implemented in mcp/ws.c and
 * mcp/http.c). They turn connections and HTTP exchanges into MCP sessions
 * of the engine (pennyworth/mcp.h) and route what the engine sends back.
 *
 *   WebSocket (path "/ws", subprotocol "mcp"): one connection is one
 *   session; one JSON-RPC message per text frame, both directions.
 *
 *   Streamable HTTP (path "/mcp", revisions 2025-03-26, 2025-06-18 and
 *   2025-11-25): POST carries client messages and answers with JSON or an
 *   SSE stream; GET opens the server's stream; DELETE ends the session.
 *   Sessions are named by a random Mcp-Session-Id and expire when idle.
 *   SSE streams are resumable (Last-Event-ID) from a bounded replay buffer.
 *
 * Both take the engine's `related` routing into account: replies and
 * messages tied to a request go where that request came from; the rest
 * (resources/updated, list_changed) go to the session's own stream.
 *
 * Threads: attach, free and every callback run on the server's service
 * thread, which must also be the MCP server's loop thread.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_MCP_NET_H
#define PENNYWORTH_MCP_NET_H

#include <stddef.h>

#include "pennyworth/error.h"
#include "pennyworth/mcp.h"
#include "pennyworth/server.h"

struct pw_mcp_ws;
struct pw_mcp_http;

/*
 * Admission for the WebSocket transport (access control), optional; /mcp
 * is an HTTP route, admitted by the server's admission stage (its
 * `admit_class`), which leaves the identity in the request context's
 * principal. A refusal returns the HTTP status to refuse with (401, 403,
 * 429...) and writes a reason into `why` (never a credential). An
 * admission writes the identity it admitted into `who` (an API key's id;
 * "" in open mode): the transports bind sessions and requestStates to it
 * and count it toward the per-principal session cap. Borrowed: it must
 * outlive the transport.
 */
#define PW_MCP_WHO_MAX 64

struct pw_mcp_gate {
    /* A WebSocket upgrade, during its on_open (pw_server_ws_header reads
     * the upgrade's headers): *session receives the gate's state for the
     * connection (e.g. the key it authenticated), handed to `ws_message`
     * and `ws_close`. A refusal closes the connection (1008). */
    int (*ws_open)(void *ud, struct pw_server_ws *c, void **session, char who[PW_MCP_WHO_MAX],
                   char *why, size_t size);
    /* Each message on an admitted connection, before the engine sees it: a
     * refusal answers it with a JSON-RPC error and closes (1008), so
     * revocation counts from the very next message. */
    int (*ws_message)(void *ud, void *session, const char *text, size_t len, char *why,
                      size_t size);
    void (*ws_close)(void *ud, void *session);
    void *ud;
};

struct pw_mcp_ws_options {
    const char *path;          /* NULL = "/ws" */
    size_t max_message;        /* 0 = PW_SERVER_DEFAULT_MAX_MESSAGE (4 MiB) */
    const struct pw_mcp_gate *gate; /* NULL: every connection is admitted */
};

/* Adds the WebSocket route to `srv` (before pw_server_listen). *out is new:
 * free it after pw_server_run has returned and before pw_mcp_server_free. */
enum pw_err pw_mcp_ws_attach(struct pw_server *srv, struct pw_mcp_server *mcp,
                             const struct pw_mcp_ws_options *opt, struct pw_mcp_ws **out,
                             struct pw_error *err);
void pw_mcp_ws_free(struct pw_mcp_ws *w);

/* Open WebSocket sessions. */
size_t pw_mcp_ws_count(const struct pw_mcp_ws *w);

struct pw_mcp_http_options {
    const char *path;          /* NULL = "/mcp" */
    size_t max_body;           /* POST body bound, bytes (0 = the server's) */
    int idle_timeout_s;        /* a session with no request and no open stream
                                  for this long ends (0 = 1800) */
    int max_sessions;          /* initialize beyond this is refused, 503 (0 = 10000) */
    int sse_retry_ms;          /* the `retry:` hint sent before we close a stream
                                  early (0 = 1000) */
    int sse_poll_ms;           /* SEP-1699 polling: close SSE connections of
                                  2025-11-25 sessions after this long, with a
                                  retry hint; clients resume with Last-Event-ID
                                  (0 = keep them open) */
    int keepalive_s;           /* an SSE comment after this much silence (0 = 15) */
    size_t replay_events;      /* events kept per stream for resumption (0 = 256) */
    size_t replay_bytes;       /* bytes kept per stream (0 = 1 MiB) */
    size_t replay_budget;      /* bytes kept by every stream together (0 = 64 MiB) */
    unsigned admit_class;      /* the server's admission class for /mcp
                                  (pw_server_route.admit); 0 = none */
};

/* Adds the Streamable HTTP route to `srv` (before pw_server_listen). *out is
 * new: free it after pw_server_run has returned (it ends every session) and
 * before pw_mcp_server_free. */
enum pw_err pw_mcp_http_attach(struct pw_server *srv, struct pw_mcp_server *mcp,
                               const struct pw_mcp_http_options *opt, struct pw_mcp_http **out,
                               struct pw_error *err);
void pw_mcp_http_free(struct pw_mcp_http *h);

/* Live HTTP sessions. */
size_t pw_mcp_http_count(const struct pw_mcp_http *h);

#endif
