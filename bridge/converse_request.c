/*
 * OpenAI chat completions request -> Converse (and ConverseStream) body:
 * the request-level fields. The messages are converse_messages.c's.
 *
 *   tools                   toolConfig.tools[].toolSpec {name, description,
 *                           inputSchema.json}; only "function" tools exist
 *   tool_choice             "auto" -> {auto}, "required" -> {any},
 *                           {"function": {name}} -> {tool: {name}}, "none"
 *                           -> no tools at all (Converse has no "none")
 *   max_completion_tokens,  inferenceConfig.maxTokens (the first wins)
 *   max_tokens
 *   temperature, top_p      inferenceConfig.temperature, topP
 *   stop                    inferenceConfig.stopSequences (string or array)
 *   response_format         json_schema -> outputConfig.textFormat (Bedrock's
 *                           native structured output, enforced by Bedrock, or
 *                           a 400 from it for a model without support);
 *                           json_object (no schema to give) -> an extra
 *                           system block asking for one JSON object
 *   n                       > 1 refused: Converse returns one choice
 *
 * Every other field (seed, user, logprobs, penalties, parallel_tool_calls,
 * stream_options, ...) has no Converse equivalent and is ignored, as the
 * issue asks; `model` is the deployment's business.
 *
 * Tool history without offered tools: Converse requires toolConfig whenever
 * the messages hold toolUse or toolResult blocks. When the request offers
 * no tools (none given, or tool_choice "none") the history's tool blocks
 * are written as text instead (see converse_messages.c), so toolConfig is
 * never needed without tools and a "none" request can never call a tool.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/converse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/converse-int.h"
#include "pennyworth/json.h"

#define JSON_OBJECT_INSTRUCTION                                                          \
    "Respond with one valid JSON object and nothing else: no prose before or after it, " \
    "no code fences."

static enum pw_err bad(struct pw_error *err, const char *ptr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum pw_err bad(struct pw_error *err, const char *ptr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pw_error_setv(err, PW_ERR_INVALID, ptr, fmt, ap);
    va_end(ap);
    return PW_ERR_INVALID;
}

static enum pw_err nomem(struct pw_error *err)
{
    return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory translating the request");
}

/* tools -> toolConfig.tools (new array in *out, NULL when there are none). */
static enum pw_err tool_specs(json_t *tools, json_t **out, struct pw_error *err)
{
    *out = NULL;
    if (!tools || json_is_null(tools))
        return PW_OK;
    if (!json_is_array(tools))
        return bad(err, "/tools", "tools must be an array");
    if (json_array_size(tools) == 0)
        return PW_OK;
    json_t *specs = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        char ptr[PW_ERROR_POINTER_MAX];
        const char *type = json_string_value(json_object_get(t, "type"));
        json_t *fn = json_object_get(t, "function");
        snprintf(ptr, sizeof ptr, "/tools/%zu/type", i);
        if (!type || strcmp(type, "function") != 0) {
            json_decref(specs);
            return bad(err, ptr, "only function tools are supported by Bedrock");
        }
        const char *name = json_string_value(json_object_get(fn, "name"));
        snprintf(ptr, sizeof ptr, "/tools/%zu/function/name", i);
        if (bridge_converse_blank(name)) {
            json_decref(specs);
            return bad(err, ptr, "a function tool needs a non-empty name");
        }
        json_t *params = json_object_get(fn, "parameters");
        snprintf(ptr, sizeof ptr, "/tools/%zu/function/parameters", i);
        if (params && !json_is_null(params) && !json_is_object(params)) {
            json_decref(specs);
            return bad(err, ptr, "parameters must be a JSON Schema object");
        }
        /* Converse insists on an input schema; OpenAI lets it out for "no
         * arguments". */
        json_t *schema = json_is_object(params) ? json_deep_copy(params)
                                                : json_pack("{s:s, s:{}}", "type", "object",
                                                            "properties");
        json_t *spec = json_pack("{s:s, s:{s:o}}", "name", name, "inputSchema", "json", schema);
        const char *desc = json_string_value(json_object_get(fn, "description"));
        /* Converse refuses an empty description (minimum length 1). */
        if (spec && !bridge_converse_blank(desc))
            json_object_set_new(spec, "description", json_string(desc));
        if (!spec || json_array_append_new(specs, json_pack("{s:o}", "toolSpec", spec)) != 0) {
            json_decref(specs);
            return nomem(err);
        }
    }
    *out = specs;
    return PW_OK;
}

static bool has_tool(json_t *specs, const char *name)
{
    size_t i;
    json_t *s;
    json_array_foreach(specs, i, s) {
        const char *n = json_string_value(json_object_get(json_object_get(s, "toolSpec"),
                                                          "name"));
        if (n && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

/*
 * tool_choice -> toolConfig.toolChoice (new in *out; NULL for the default).
 * *none: the client asked for no tool calls.
 */
static enum pw_err tool_choice(json_t *choice, json_t *specs, json_t **out, bool *none,
                               struct pw_error *err)
{
    *out = NULL;
    *none = false;
    if (!choice || json_is_null(choice))
        return PW_OK;
    const char *s = json_string_value(choice);
    if (s && strcmp(s, "none") == 0) {
        *none = true;
        return PW_OK;
    }
    if (s && strcmp(s, "auto") == 0) {
        *out = specs ? json_pack("{s:{}}", "auto") : NULL;
        return PW_OK;
    }
    if (!specs && (json_is_object(choice) || (s && strcmp(s, "required") == 0)))
        return bad(err, "/tool_choice", "tool_choice asks for a tool call but no tools are "
                   "given");
    if (s && strcmp(s, "required") == 0) {
        *out = json_pack("{s:{}}", "any");
        return PW_OK;
    }
    const char *type = json_string_value(json_object_get(choice, "type"));
    const char *name = json_string_value(json_object_get(json_object_get(choice, "function"),
                                                         "name"));
    if (!type || strcmp(type, "function") != 0)
        return bad(err, "/tool_choice", "tool_choice must be \"none\", \"auto\", \"required\" "
                   "or {\"type\": \"function\", \"function\": {\"name\": ...}}");
    if (!name || !has_tool(specs, name))
        return bad(err, "/tool_choice/function/name", "tool_choice names a function that is "
                   "not among the tools");
    *out = json_pack("{s:{s:s}}", "tool", "name", name);
    return PW_OK;
}

static enum pw_err number(json_t *req, const char *key, const char *to, json_t *cfg,
                          struct pw_error *err)
{
    json_t *v = json_object_get(req, key);
    char ptr[64];
    if (!v || json_is_null(v))
        return PW_OK;
    snprintf(ptr, sizeof ptr, "/%s", key);
    if (!json_is_number(v))
        return bad(err, ptr, "%s must be a number", key);
    json_object_set(cfg, to, v);
    return PW_OK;
}

static enum pw_err inference(json_t *req, json_t *cfg, struct pw_error *err)
{
    static const char *const max_keys[] = {"max_completion_tokens", "max_tokens"};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(req, max_keys[i]);
        char ptr[64];
        if (!v || json_is_null(v))
            continue;
        snprintf(ptr, sizeof ptr, "/%s", max_keys[i]);
        if (!json_is_integer(v) || json_integer_value(v) < 1)
            return bad(err, ptr, "%s must be a positive integer", max_keys[i]);
        json_object_set_new(cfg, "maxTokens", json_integer(json_integer_value(v)));
        break;
    }
    enum pw_err rc = number(req, "temperature", "temperature", cfg, err);
    if (rc == PW_OK)
        rc = number(req, "top_p", "topP", cfg, err);
    if (rc != PW_OK)
        return rc;
    json_t *stop = json_object_get(req, "stop");
    if (!stop || json_is_null(stop))
        return PW_OK;
    json_t *seqs = json_array();
    if (json_is_string(stop)) {
        if (json_string_length(stop) > 0)
            json_array_append(seqs, stop);
    } else if (json_is_array(stop)) {
        size_t i;
        json_t *s;
        json_array_foreach(stop, i, s) {
            char ptr[64];
            snprintf(ptr, sizeof ptr, "/stop/%zu", i);
            if (!json_is_string(s)) {
                json_decref(seqs);
                return bad(err, ptr, "stop sequences must be strings");
            }
            if (json_string_length(s) > 0)
                json_array_append(seqs, s);
        }
    } else {
        json_decref(seqs);
        return bad(err, "/stop", "stop must be a string or an array of strings");
    }
    if (json_array_size(seqs) > 0)
        json_object_set_new(cfg, "stopSequences", seqs);
    else
        json_decref(seqs);
    return PW_OK;
}

/* response_format -> outputConfig (new in *output) or an instruction
 * appended to `system`. */
static enum pw_err response_format(json_t *rf, json_t *system, json_t **output,
                                   struct pw_error *err)
{
    *output = NULL;
    if (!rf || json_is_null(rf))
        return PW_OK;
    const char *type = json_string_value(json_object_get(rf, "type"));
    if (!type)
        return bad(err, "/response_format/type", "response_format needs a string 'type'");
    if (strcmp(type, "text") == 0)
        return PW_OK;
    if (strcmp(type, "json_object") == 0) {
        if (json_array_append_new(system, json_pack("{s:s}", "text",
                                                    JSON_OBJECT_INSTRUCTION)) != 0)
            return nomem(err);
        return PW_OK;
    }
    if (strcmp(type, "json_schema") != 0)
        return bad(err, "/response_format/type", "response_format type '%.40s' is not "
                   "supported (text, json_object, json_schema)", type);
    json_t *js = json_object_get(rf, "json_schema");
    json_t *schema = json_object_get(js, "schema");
    if (!json_is_object(schema))
        return bad(err, "/response_format/json_schema/schema", "json_schema needs a 'schema' "
                   "object (Bedrock requires one)");
    /* Bedrock takes the schema as a JSON text, not as an object. */
    char *text = json_dumps(schema, PW_JSON_WIRE);
    json_t *def = text ? json_pack("{s:s}", "schema", text) : NULL;
    free(text);
    if (!def)
        return nomem(err);
    const char *name = json_string_value(json_object_get(js, "name"));
    const char *desc = json_string_value(json_object_get(js, "description"));
    if (!bridge_converse_blank(name))
        json_object_set_new(def, "name", json_string(name));
    if (!bridge_converse_blank(desc))
        json_object_set_new(def, "description", json_string(desc));
    *output = json_pack("{s:{s:s, s:{s:o}}}", "textFormat", "type", "json_schema",
                        "structure", "jsonSchema", def);
    return *output ? PW_OK : nomem(err);
}

/* Builds everything but the messages into `body`, then the messages. */
static enum pw_err build(json_t *req, json_t *body, struct pw_error *err)
{
    json_t *n = json_object_get(req, "n");
    if (n && !json_is_null(n) && (!json_is_integer(n) || json_integer_value(n) < 1))
        return bad(err, "/n", "n must be a positive integer");
    if (json_integer_value(n) > 1)
        return bad(err, "/n", "n > 1 is not supported by Bedrock");

    json_t *specs = NULL, *choice = NULL;
    bool none = false;
    enum pw_err rc = tool_specs(json_object_get(req, "tools"), &specs, err);
    if (rc == PW_OK)
        rc = tool_choice(json_object_get(req, "tool_choice"), specs, &choice, &none, err);
    if (rc != PW_OK) {
        json_decref(specs);
        return rc;
    }
    if (none) {
        json_decref(specs);
        specs = NULL;
    }
    json_t *system = json_array(), *turns = json_array(), *cfg = json_object();
    json_t *output = NULL;
    bool tool_blocks = false;
    rc = bridge_converse_messages(json_object_get(req, "messages"), specs == NULL, system,
                                  turns, &tool_blocks, err);
    if (rc == PW_OK)
        rc = response_format(json_object_get(req, "response_format"), system, &output, err);
    if (rc == PW_OK)
        rc = inference(req, cfg, err);
    if (rc == PW_OK) {
        json_object_set(body, "messages", turns);
        if (json_array_size(system) > 0)
            json_object_set(body, "system", system);
        if (json_object_size(cfg) > 0)
            json_object_set(body, "inferenceConfig", cfg);
        if (specs) {
            json_t *tc = json_pack("{s:O}", "tools", specs);
            if (tc && choice)
                json_object_set(tc, "toolChoice", choice);
            json_object_set_new(body, "toolConfig", tc);
        }
        if (output)
            json_object_set(body, "outputConfig", output);
    }
    json_decref(specs);
    json_decref(choice);
    json_decref(system);
    json_decref(turns);
    json_decref(cfg);
    json_decref(output);
    return rc;
}

enum pw_err bridge_converse_request(json_t *oai_req, json_t **out, struct pw_error *err)
{
    *out = NULL;
    if (!json_is_object(oai_req))
        return bad(err, "", "the request must be a JSON object");
    json_t *body = json_object();
    if (!body)
        return nomem(err);
    enum pw_err rc = build(oai_req, body, err);
    if (rc != PW_OK) {
        json_decref(body);
        return rc;
    }
    *out = body;
    return PW_OK;
}
