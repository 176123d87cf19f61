/*
 * OpenAI chat completions <-> Bedrock Converse translation, bridge-private.
 * Pure functions on jansson values: no I/O, no globals, any thread.
 *
 *   bridge_converse_request   OpenAI request  -> Converse / ConverseStream body
 *   bridge_converse_response  Converse result -> OpenAI chat.completion
 *   bridge_converse_stream_*  ConverseStream events (already decoded from
 *                             the event-stream framing by eventstream.c)
 *                             -> OpenAI chat.completion.chunk objects
 *   bridge_converse_exception Bedrock error (HTTP body or exception event)
 *                             -> pw_err + message (status via pw_err)
 *
 * The Converse rules the translation enforces (Bedrock rejects otherwise):
 * user and assistant turns alternate (consecutive tool results merge into one
 * user turn, consecutive same-role turns merge), the first turn is a user
 * turn (else a 400 naming the message), blank text blocks are dropped,
 * toolConfig is present whenever the history holds tool calls, tool_choice
 * "none" has no Converse equivalent (tools are left out), and a tool call
 * that streamed no input gets "{}" as its arguments. When no tools are
 * offered (none given, or "none") the history's tool calls and results are
 * sent as text, so that toolConfig is never needed without tools.
 *
 * response_format: json_schema -> outputConfig.textFormat (Bedrock's own
 * structured output); json_object -> a system instruction to answer with
 * one JSON object (Converse has no schema-less JSON mode).
 *
 * Usage: Bedrock's inputTokens excludes cache reads and writes; prompt_tokens
 * is their sum and prompt_tokens_details.cached_tokens the cache-read part
 * (prompt_tokens_details.cache_write_tokens the cache-write part, when
 * Bedrock reports one).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_BRIDGE_CONVERSE_H
#define PENNYWORTH_BRIDGE_CONVERSE_H

#include <jansson.h>
#include <stdbool.h>

#include "pennyworth/error.h"

/*
 * Builds the Converse request body (the same for ConverseStream) from an
 * OpenAI chat completions request (borrowed; already validated for shape by
 * the API layer, but every field is re-checked here and errors name the
 * JSON pointer, e.g. "/messages/2/content/0/image_url"). *out is new.
 * PW_ERR_INVALID for requests Bedrock cannot express (n > 1, audio parts,
 * remote image URLs: Converse takes bytes only, so only data: URLs work).
 */
enum pw_err bridge_converse_request(json_t *oai_req, json_t **out, struct pw_error *err);

/*
 * Translates a Converse response body (borrowed) into an OpenAI
 * chat.completion (new), with `id`, `model` and `created` as given.
 */
enum pw_err bridge_converse_response(json_t *converse, const char *id, const char *model,
                                     long long created, json_t **out, struct pw_error *err);

/* The OpenAI finish_reason for a Converse stopReason ("end_turn" -> "stop",
 * "tool_use" -> "tool_calls", "max_tokens" -> "length", "stop_sequence" ->
 * "stop", "guardrail_intervened"/"content_filtered" -> "content_filter"). */
const char *bridge_converse_finish_reason(const char *stop_reason);

struct bridge_converse_stream;

/* A translator for one ConverseStream response; *out is new. */
enum pw_err bridge_converse_stream_new(const char *id, const char *model, long long created,
                                       struct bridge_converse_stream **out,
                                       struct pw_error *err);
void bridge_converse_stream_free(struct bridge_converse_stream *st);

/*
 * Feeds one decoded event: `event_type` is the ":event-type" header
 * (messageStart, contentBlockStart, contentBlockDelta, contentBlockStop,
 * messageStop, metadata) and `payload` its JSON (borrowed). Appends zero or
 * more OpenAI chat.completion.chunk objects to `chunks` (an array the caller
 * owns). Tool calls are numbered 0, 1, 2 in order of appearance; id, type
 * and name appear only in a call's first delta. The usage chunk (choices: [])
 * is appended on `metadata` only when include_usage is set.
 */
enum pw_err bridge_converse_stream_event(struct bridge_converse_stream *st,
                                         const char *event_type, json_t *payload,
                                         bool include_usage, json_t *chunks,
                                         struct pw_error *err);

/* True once messageStop has been seen: the stream ended properly (metadata,
 * which follows it, is optional). A body that ends before is a cut stream. */
bool bridge_converse_stream_done(const struct bridge_converse_stream *st);

/* Usage so far as an OpenAI usage object (new), or NULL before metadata. */
json_t *bridge_converse_stream_usage(const struct bridge_converse_stream *st);

/*
 * Maps a Bedrock failure to our error: `exception_type` is the
 * ":exception-type" header of an exception event or the x-amzn-ErrorType
 * header / "__type" of an HTTP error body (may be NULL), `status` the HTTP
 * status (200 for an in-stream exception), `body` the JSON payload
 * (borrowed, may be NULL; its "message"/"Message" becomes the text).
 * throttlingException -> PW_ERR_RATE_LIMITED (429), validationException ->
 * PW_ERR_INVALID (400), accessDeniedException -> PW_ERR_FORBIDDEN (403),
 * modelTimeoutException -> PW_ERR_TIMEOUT (504), resourceNotFound ->
 * PW_ERR_NOT_FOUND (404), serviceQuotaExceededException -> PW_ERR_RATE_LIMITED
 * (429), the model/service failures -> PW_ERR_UPSTREAM (502); an unknown type
 * maps by `status` (400, 403, 404, 408, 429 as such, else 502). Returns the
 * code set in err; *retryable says whether a retry or fallback may help.
 */
enum pw_err bridge_converse_exception(const char *exception_type, int status, json_t *body,
                                      bool *retryable, struct pw_error *err);

#endif
