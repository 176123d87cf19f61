/*
 * Converse response -> OpenAI chat.completion, plus the two mappings the
 * streamed path shares: stopReason -> finish_reason, and usage.
 *
 *   output.message.content[].text      joined -> message.content
 *   output.message.content[].toolUse   -> message.tool_calls[] (ids kept,
 *                                         input re-serialised as the
 *                                         arguments string)
 *   other blocks (reasoningContent...) not represented in OpenAI's shape;
 *                                      dropped
 *   stopReason                         -> finish_reason
 *   usage                              -> usage (see bridge_converse_usage)
 *
 * message.content is null when the answer is only tool calls (as OpenAI
 * sends it), "" when Bedrock returned nothing at all.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/converse.h"

#include <stdlib.h>
#include <string.h>

#include "bridge/converse-int.h"
#include "pennyworth/json.h"

static const struct {
    const char *stop_reason;
    const char *finish_reason;
} finish_reasons[] = {
    {"end_turn", "stop"},
    {"stop_sequence", "stop"},
    {"tool_use", "tool_calls"},
    {"max_tokens", "length"},
    {"model_context_window_exceeded", "length"},
    {"guardrail_intervened", "content_filter"},
    {"content_filtered", "content_filter"},
};

const char *bridge_converse_finish_reason(const char *stop_reason)
{
    for (size_t i = 0; stop_reason && i < sizeof finish_reasons / sizeof finish_reasons[0];
         i++)
        if (strcmp(finish_reasons[i].stop_reason, stop_reason) == 0)
            return finish_reasons[i].finish_reason;
    /* A reason newer than this table still ended the answer normally. */
    return "stop";
}

/*
 * inputTokens counts only the uncached part of the prompt, so the prompt is
 * inputTokens + cacheReadInputTokens + cacheWriteInputTokens; the cached
 * part goes to prompt_tokens_details.cached_tokens (OpenAI's name), and
 * cache writes, which OpenAI has no name for and which are priced apart, to
 * prompt_tokens_details.cache_write_tokens when Bedrock reports them.
 */
json_t *bridge_converse_usage(json_t *usage)
{
    if (!json_is_object(usage))
        return NULL;
    json_int_t in = json_integer_value(json_object_get(usage, "inputTokens"));
    json_int_t out = json_integer_value(json_object_get(usage, "outputTokens"));
    json_int_t read = json_integer_value(json_object_get(usage, "cacheReadInputTokens"));
    json_t *write_v = json_object_get(usage, "cacheWriteInputTokens");
    json_int_t write = json_integer_value(write_v);
    json_int_t prompt = in + read + write;
    json_t *details = json_pack("{s:I}", "cached_tokens", read);
    if (details && json_is_integer(write_v))
        json_object_set_new(details, "cache_write_tokens", json_integer(write));
    return json_pack("{s:I, s:I, s:I, s:o}", "prompt_tokens", prompt, "completion_tokens", out,
                     "total_tokens", prompt + out, "prompt_tokens_details", details);
}

/* One toolUse block -> an OpenAI tool call (new), or NULL if malformed. */
static json_t *tool_call(json_t *use)
{
    const char *id = json_string_value(json_object_get(use, "toolUseId"));
    const char *name = json_string_value(json_object_get(use, "name"));
    json_t *input = json_object_get(use, "input");
    if (!id || !name)
        return NULL;
    char *args = input ? json_dumps(input, PW_JSON_WIRE | JSON_ENCODE_ANY) : NULL;
    json_t *call = json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id, "type", "function",
                             "function", "name", name, "arguments", args ? args : "{}");
    free(args);
    return call;
}

enum pw_err bridge_converse_response(json_t *converse, const char *id, const char *model,
                                     long long created, json_t **out, struct pw_error *err)
{
    *out = NULL;
    json_t *message = json_object_get(json_object_get(converse, "output"), "message");
    json_t *content = json_object_get(message, "content");
    if (!json_is_array(content))
        return pw_error_set(err, PW_ERR_UPSTREAM, NULL,
                            "bedrock: the Converse response has no output.message.content");
    size_t len = 0, i;
    json_t *b;
    json_array_foreach(content, i, b)
        len += json_string_length(json_object_get(b, "text"));
    char *text = malloc(len + 1);
    json_t *calls = json_array();
    if (!text || !calls) {
        free(text);
        json_decref(calls);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory translating the response");
    }
    size_t at = 0;
    bool any_text = false;
    json_array_foreach(content, i, b) {
        json_t *t = json_object_get(b, "text");
        json_t *use = json_object_get(b, "toolUse");
        if (json_is_string(t)) {
            memcpy(text + at, json_string_value(t), json_string_length(t));
            at += json_string_length(t);
            any_text = true;
        } else if (use) {
            json_t *call = tool_call(use);
            if (!call) {
                free(text);
                json_decref(calls);
                return pw_error_set(err, PW_ERR_UPSTREAM, NULL, "bedrock: a toolUse block "
                                    "lacks its toolUseId or name");
            }
            json_array_append_new(calls, call);
        }
    }
    text[at] = '\0';
    json_t *msg = json_pack("{s:s}", "role", "assistant");
    if (any_text || json_array_size(calls) == 0)
        json_object_set_new(msg, "content", json_stringn(text, at));
    else
        json_object_set_new(msg, "content", json_null());
    free(text);
    if (json_array_size(calls) > 0)
        json_object_set_new(msg, "tool_calls", calls);
    else
        json_decref(calls);
    json_object_set_new(msg, "refusal", json_null());
    const char *reason = bridge_converse_finish_reason(
        json_string_value(json_object_get(converse, "stopReason")));
    json_t *choice = json_pack("{s:i, s:o, s:n, s:s}", "index", 0, "message", msg, "logprobs",
                               "finish_reason", reason);
    json_t *result = json_pack("{s:s, s:s, s:I, s:s, s:[o]}", "id", id, "object",
                               "chat.completion", "created", (json_int_t)created, "model", model,
                               "choices", choice);
    json_t *usage = bridge_converse_usage(json_object_get(converse, "usage"));
    if (result && usage)
        json_object_set_new(result, "usage", usage);
    else
        json_decref(usage);
    if (!result)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory translating the response");
    *out = result;
    return PW_OK;
}
