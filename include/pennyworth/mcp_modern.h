/*
 * What handlers and hosts need from MCP revision 2026-07-28 (the "modern"
 * era), on top of pennyworth/mcp.h: the same engine serves it next to the
 * session-based revisions, per message.
 *
 * In the modern era there is no initialize handshake: every request carries
 * its revision, the client's capabilities and optionally its log level in
 * `_meta`; results carry `resultType`, the server's identity in `_meta` and,
 * when they can be cached, `ttlMs` and `cacheScope`; the server never sends
 * requests of its own but answers a tools/call, prompts/get or
 * resources/read with an `input_required` result that the client retries
 * with `inputResponses` and the server's sealed `requestState`.
 *
 * A handler does not need to know which era its call belongs to unless it
 * asks the client for input: pw_mcp_call_modern() says, and the functions
 * below are how a modern call asks. Everything here is safe from any thread
 * that may touch the call, like the rest of the call API.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_MCP_MODERN_H
#define PENNYWORTH_MCP_MODERN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pennyworth/error.h"
#include "pennyworth/mcp.h"

#define PW_MCP_MODERN_VERSION "2026-07-28"

/* The revisions served per request (NULL-terminated, newest first). */
extern const char *const pw_mcp_modern_versions[];

/* True when the call came in a modern request (per-request `_meta`). */
bool pw_mcp_call_modern(const struct pw_mcp_call *call);

/*
 * How long (ms, >= 0) and how widely ("public": no user-specific data) the
 * client may cache this call's result. Used on modern results that are
 * cacheable (lists, resources/read); ignored otherwise and in the legacy
 * era, whose results stay exactly as they were. Without a hint the engine
 * uses a per-method default.
 */
void pw_mcp_call_cache_hint(struct pw_mcp_call *call, int64_t ttl_ms, bool private_scope);

/* Modern calls retried after an input_required result: the client's
 * answers keyed as the server asked (borrowed; NULL when none), and the
 * server's own state from the previous round, verified (borrowed; NULL
 * when none). A forged, altered, expired or misplaced state never reaches
 * a handler: the request is refused before it starts. */
json_t *pw_mcp_call_input_responses(const struct pw_mcp_call *call);
json_t *pw_mcp_call_request_state(const struct pw_mcp_call *call);

/*
 * Finishes a modern tools/call, prompts/get or resources/read with an
 * input_required result: `requests_new` (stolen, may be NULL) maps keys to
 * {"method": "elicitation/create"|"sampling/createMessage"|"roots/list",
 * "params": {...}}; `state_new` (stolen, may be NULL) is any JSON the
 * handler wants back on the retry, sealed with the server's key and bound
 * to this request. A request needing a capability the client did not
 * declare fails the call with MissingRequiredClientCapability instead.
 * Exactly once, like pw_mcp_call_finish; any thread.
 */
void pw_mcp_call_input_required(struct pw_mcp_call *call, json_t *requests_new,
                                json_t *state_new);

/* Fails the call because the client did not declare `capability`
 * ("sampling", "elicitation", "roots"): -32021 with the required
 * capabilities in the modern era, -32600 in the legacy one. Any thread. */
void pw_mcp_call_fail_capability(struct pw_mcp_call *call, const char *capability);

/*
 * The tasks extension (io.modelcontextprotocol/tasks). A tools/call handler
 * whose work is long turns its call into a task: when the client declared
 * the extension, the request is answered at once with the task's handle
 * and true is returned; the handler then goes on as before (finish, fail,
 * input_required, cancellation checks) and what it produces is kept for
 * the client's tasks/get. Otherwise (a legacy or non-declaring client, or
 * the task table full) false: the call simply stays synchronous. Calling
 * it again on a task's call returns true. Any thread, before finishing.
 */
bool pw_mcp_call_to_task(struct pw_mcp_call *call);

/* A tool flag (pw_mcp_tool.flags): the tool cannot run without a task, so
 * a modern client that did not declare the extension gets -32021 before
 * the handler runs. */
enum { PW_MCP_TASK_REQUIRED = 1 << 8 };

/*
 * The key that seals requestState (HMAC-SHA256). Without one the server
 * uses the environment's PENNYWORTH_MCP_STATE_KEY (16 characters or more)
 * or else draws a random key at start, so states die with the process; a host that
 * wants them to survive a restart (or to be shared by several instances)
 * sets the same key on each. `len` >= 16. Loop thread, before sessions.
 */
enum pw_err pw_mcp_server_set_state_key(struct pw_mcp_server *srv, const void *key,
                                        size_t len, struct pw_error *err);

#endif
