/*
 * The offline model, bridge-private: what it says, as pure functions the
 * provider row (offline.c) and its unit test share. It is not a language
 * model: it reads the catalog context the bridge injected into the request
 * (the system message of bridge_context_message, one "- [ID] NAME; brand:
 * ...; price: ...; availability: ..." line per product) and lists those
 * products, under a label that says no LLM answered.
 *
 * Tokens are counted honestly on its own texts by one stated rule, not a
 * provider's tokenizer: a run of letters, digits or non-ASCII bytes is one
 * token, and so is every other character that is not white space.
 *
 * Threads: pure; any thread.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_BRIDGE_OFFLINE_H
#define PENNYWORTH_BRIDGE_OFFLINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "pennyworth/bridge.h"

/* The model name the offline row answers with no configuration. */
#define BRIDGE_OFFLINE_MODEL PW_BRIDGE_OFFLINE_MODEL
/* How every answer starts. */
#define BRIDGE_OFFLINE_LABEL "(offline demo model, no LLM configured)"

/* The answer to an OpenAI chat request `req` (borrowed, context injected):
 * the label, then the products of the injected context with their prices
 * and ids, or a note that nothing matched. New; NULL when out of memory. */
char *bridge_offline_answer(json_t *req);

/* Tokens in `text` by the rule above (0 for NULL). */
long long bridge_offline_tokens(const char *text);

/* Tokens of a request's messages: the text of every message's content (a
 * string, or its text parts). */
long long bridge_offline_prompt_tokens(json_t *req);

/*
 * The whole response body for `req`, as OpenAI would send it: streamed, SSE
 * chunks (role, one chunk per line of the answer, finish_reason "stop", a
 * usage chunk, [DONE]); else one chat.completion with usage. `model` names
 * the model in the objects. New (length in *len); NULL when out of memory.
 */
char *bridge_offline_body(json_t *req, const char *model, bool stream, size_t *len);

#endif
