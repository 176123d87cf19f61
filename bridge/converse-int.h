/*
 * Shared between the converse_*.c files of the OpenAI <-> Converse
 * translation (bridge/converse.h): the message-list half of the request
 * translation, and the usage mapping used by both response paths.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_BRIDGE_CONVERSE_INT_H
#define PENNYWORTH_BRIDGE_CONVERSE_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "pennyworth/error.h"

/*
 * Translates the OpenAI `messages` array (borrowed) into Converse turns:
 * system and developer text is appended to `system` (an array of text
 * blocks), user/assistant/tool messages to `turns` (alternating, starting
 * with a user turn). With `tools_as_text` (no tools are offered upstream)
 * tool calls and results become plain text, since Converse refuses toolUse
 * and toolResult blocks without a toolConfig. *has_tool_blocks tells
 * whether any toolUse/toolResult block was emitted. Errors name the JSON
 * pointer of the offending message part.
 */
enum pw_err bridge_converse_messages(json_t *messages, bool tools_as_text, json_t *system,
                                     json_t *turns, bool *has_tool_blocks,
                                     struct pw_error *err);

/* An OpenAI usage object (new) from a Converse `usage` object (borrowed),
 * or NULL when `usage` is not an object. */
json_t *bridge_converse_usage(json_t *usage);

/* True when `s` is NULL, empty or only ASCII whitespace: Converse rejects
 * such text blocks ("the text field ... is blank"). */
bool bridge_converse_blank(const char *s);

#endif
