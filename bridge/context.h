/*
 * Catalog context for the LLM bridge, bridge-private: the bridge is an MCP
 * client of its own MCP server. One context opens ONE in-process session
 * on the server (a pw_mcp_transport whose send function receives the
 * engine's answers), initializes it, and then issues JSON-RPC requests with
 * its own id counter, matching each answer to the operation that asked.
 *
 *   bridge_context_search    `search_products` -> the products (auto mode)
 *   bridge_context_tools     the catalog tools as OpenAI function tools
 *   bridge_context_call      one model tool call -> the tool message text
 *   bridge_context_message   products -> the system message the model reads
 *   bridge_context_ids       products -> X-Pennyworth-Context-Products
 *   bridge_context_user_text the conversation's latest user text
 *
 * Tool names: the catalog tools are offered to the model with the prefix
 * BRIDGE_CONTEXT_TOOL_PREFIX ("pennyworth_search_products"), so that they
 * cannot clash with a client's own tools of the same name; the exchange uses
 * bridge_context_owns to tell which calls to run here and which to return
 * to the client.
 *
 * Threads: everything runs on the loop thread (the MCP server's). Tools run
 * on the engine's workers and their answers arrive through
 * pw_mcp_server_dispatch, so searches and calls are asynchronous.
 *
 * Async contract (libuv's, as bridge/upstream.h): bridge_context_search and
 * bridge_context_call either fail now and never call back, or call back
 * exactly once, unless the operation is cancelled first (then never). A
 * callback never runs from inside a bridge_context_* call that started an
 * operation: an answer the engine gives at once (an error for bad
 * arguments, a tool that runs on the loop thread) is queued, `wake` is
 * called, and bridge_context_dispatch delivers it. The loop calls
 * bridge_context_dispatch whenever it is woken, next to
 * pw_mcp_server_dispatch.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_BRIDGE_CONTEXT_H
#define PENNYWORTH_BRIDGE_CONTEXT_H

#include <jansson.h>
#include <stdbool.h>

#include "pennyworth/error.h"
#include "pennyworth/mcp.h"

#define BRIDGE_CONTEXT_TOOL_PREFIX "pennyworth_"
#define BRIDGE_CONTEXT_DEFAULT_LIMIT 5

struct bridge_context;
struct bridge_context_op; /* one search or call in flight */

/*
 * Opens and initializes the session on `srv` (its catalog tools should be
 * registered already; a later tools/list_changed is noticed). `wake(ud)` is
 * called on the loop thread when bridge_context_dispatch has answers to
 * deliver (pw_server_wake fits). *out is new. PW_ERR_UPSTREAM when the
 * engine refuses the session or initialize.
 */
enum pw_err bridge_context_new(struct pw_mcp_server *srv, void (*wake)(void *ud), void *wake_ud,
                               struct bridge_context **out, struct pw_error *err);

/* Closes the session. Operations still in flight are dropped without
 * callbacks. Call before pw_mcp_server_free. NULL is fine. */
void bridge_context_free(struct bridge_context *ctx);

/* Delivers queued answers (see the async contract above). */
void bridge_context_dispatch(struct bridge_context *ctx);

/*
 * `products`: the array of catalog products found (borrowed for the call;
 * json_incref to keep; empty when nothing matched), or NULL with `err` set
 * (the tool failed or the session closed).
 */
typedef void (*bridge_context_search_fn)(void *ud, json_t *products,
                                         const struct pw_error *err);

/*
 * Searches the catalog for `query` (only its first 500 bytes, cut on a UTF-8
 * boundary, are used: the tool's bound) and returns at most `limit` (1..50)
 * products. *op (may be NULL) is borrowed: valid until the callback returns
 * or bridge_context_cancel. PW_ERR_INVALID for an empty query or a bad
 * limit.
 */
enum pw_err bridge_context_search(struct bridge_context *ctx, const char *query, int limit,
                                  bridge_context_search_fn cb, void *ud,
                                  struct bridge_context_op **op, struct pw_error *err);

/*
 * The catalog tools as OpenAI function tools
 * ([{"type":"function","function":{"name":"pennyworth_...","description",
 * "parameters"}}]), borrowed: valid until the next call of this function or
 * bridge_context_free. An empty array when the server has no tools.
 */
json_t *bridge_context_tools(struct bridge_context *ctx);

/* True when `name` (a model's tool call) is one of the tools above. */
bool bridge_context_owns(struct bridge_context *ctx, const char *name);

/*
 * `text`: what to put in the tool message for the model (borrowed for the
 * call): the tool's text content, or "error: ..." when the tool failed or
 * the arguments were refused, so that the model can correct itself. `ids`:
 * the product ids the result names (borrowed array of strings, possibly
 * empty), for X-Pennyworth-Context-Products. On a failure of the session
 * itself both are NULL and `err` is set.
 */
typedef void (*bridge_context_call_fn)(void *ud, const char *text, json_t *ids,
                                       const struct pw_error *err);

/*
 * Runs the model's call of tool `name` (a prefixed name, see
 * bridge_context_owns) with `arguments` (the OpenAI arguments JSON text;
 * NULL or "" means {}). Arguments that are not a JSON object come back
 * through the callback as an error text, not as a failure here.
 * PW_ERR_NOT_FOUND when `name` is not ours. *op as for the search.
 */
enum pw_err bridge_context_call(struct bridge_context *ctx, const char *name,
                                const char *arguments, bridge_context_call_fn cb, void *ud,
                                struct bridge_context_op **op, struct pw_error *err);

/* Stops an operation: the request is cancelled on the session and its
 * callback never runs. Only before the callback has run. */
void bridge_context_cancel(struct bridge_context_op *op);

/*
 * The system message text for `products` (a search result, borrowed): one
 * line per product with id, name, brand, price, availability and rating,
 * and the instruction to cite products by id. Each product line reads
 * "- [ID] NAME; brand: ...; price: ...; availability: ...; rating: ...",
 * which the offline model (offline.c) reads back: keep the two in step.
 * New; NULL when the array is empty (nothing is injected then) or out of
 * memory.
 */
char *bridge_context_message(json_t *products);

/* How that message begins: the offline model reads products only from a
 * system message that starts so. */
#define BRIDGE_CONTEXT_HEADER "Products from the store's catalog that match the user's request. "

/* The products' ids joined by ", " for X-Pennyworth-Context-Products. New
 * ("" for none); NULL only when out of memory. */
char *bridge_context_ids(json_t *products);

/*
 * The text of the latest user message in an OpenAI `messages` array
 * (borrowed): a string content, or its text parts joined by a space. New;
 * NULL when there is no user message with text.
 */
char *bridge_context_user_text(json_t *messages);

#endif
