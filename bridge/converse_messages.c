/*
 * OpenAI `messages` -> Converse `system` blocks and alternating turns: the
 * half of the request translation that Bedrock's validation rules are about.
 *
 *   system, developer   text -> `system` [{"text"}], wherever they appear
 *                       (Converse has one system list, not system turns)
 *   user                text parts -> {"text"}; data: URL images ->
 *                       {"image": {"format", "source": {"bytes": base64}}}
 *   assistant           text/refusal parts -> {"text"}; tool_calls ->
 *                       {"toolUse": {"toolUseId", "name", "input"}} with the
 *                       arguments string parsed into a JSON object
 *   tool                {"toolResult": {"toolUseId", "content": [{"text"}]}}
 *                       in a user turn
 *
 * Converse rules enforced here, because Bedrock rejects the request
 * otherwise: turns alternate user/assistant, so consecutive messages of the
 * same Converse role merge into one turn (tool results and the user text
 * after them become one user turn; a run of tool results is one turn); the
 * first turn is a user turn (an assistant-first conversation is refused
 * with a 400 naming the message rather than padded with invented text);
 * blank text blocks are dropped, and a message left without blocks
 * disappears (its neighbours may then merge); a tool result with no text
 * gets "(no output)" because its content list may not be empty.
 *
 * Remote image URLs are refused: Converse takes image bytes only, and
 * fetching URLs on a client's behalf would turn the bridge into an open
 * proxy. The error points at the image part so the client knows which one.
 *
 * With `tools_as_text` the request offers no tools upstream (none given, or
 * tool_choice "none"), and Converse refuses toolUse/toolResult blocks
 * without a toolConfig; the history's tool calls and results then travel as
 * bracketed text so the model still sees what happened.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/converse-int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pennyworth/json.h"

struct conv {
    json_t *system;
    json_t *turns;
    bool as_text;
    bool tool_blocks;
    struct pw_error *err;
};

static const struct {
    const char *mime;
    const char *format;
} image_types[] = {
    {"image/png", "png"},
    {"image/jpeg", "jpeg"},
    {"image/jpg", "jpeg"},
    {"image/gif", "gif"},
    {"image/webp", "webp"},
};

bool bridge_converse_blank(const char *s)
{
    if (!s)
        return true;
    for (; *s; s++)
        if (!strchr(" \t\r\n\f\v", *s))
            return false;
    return true;
}

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

/* out = base + the formatted suffix, cut at the pointer bound like
 * pw_error does (out and base are distinct PW_ERROR_POINTER_MAX buffers). */
static void where(char *out, const char *base, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void where(char *out, const char *base, const char *fmt, ...)
{
    size_t n = strnlen(base, PW_ERROR_POINTER_MAX - 1);
    memcpy(out, base, n);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + n, PW_ERROR_POINTER_MAX - n, fmt, ap);
    va_end(ap);
}

static enum pw_err nomem(struct pw_error *err)
{
    return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory translating the messages");
}

/* Appends {"text": s} unless s is blank. */
static enum pw_err add_text(json_t *blocks, const char *s, struct pw_error *err)
{
    if (bridge_converse_blank(s))
        return PW_OK;
    if (json_array_append_new(blocks, json_pack("{s:s}", "text", s)) != 0)
        return nomem(err);
    return PW_OK;
}

/* Strict standard base64 (with padding), as Converse's `bytes` expects. */
static bool base64_ok(const char *s)
{
    size_t n = strlen(s), pad = 0;
    if (n == 0 || n % 4 != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '=') {
            if (i < n - 2)
                return false;
            pad++;
        } else if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '+' || c == '/')) {
            return false;
        }
    }
    return true;
}

/* {"image": ...} from an image_url part (its url in `url`). */
static enum pw_err image_block(const char *url, const char *ptr, json_t *blocks,
                               struct pw_error *err)
{
    if (strncasecmp(url, "data:", 5) != 0)
        return bad(err, ptr, "remote image URLs are not supported by Bedrock (Converse takes "
                   "the image bytes): send the image as a data: URL");
    const char *comma = strchr(url, ',');
    size_t head = comma ? (size_t)(comma - url) : 0;
    if (!comma || head < 5 + 7 || strncasecmp(comma - 7, ";base64", 7) != 0)
        return bad(err, ptr, "the image data: URL must be base64 encoded "
                   "(data:image/png;base64,...)");
    size_t mime_len = strcspn(url + 5, ";,");
    const char *format = NULL;
    for (size_t i = 0; i < sizeof image_types / sizeof image_types[0]; i++)
        if (strlen(image_types[i].mime) == mime_len &&
            strncasecmp(url + 5, image_types[i].mime, mime_len) == 0)
            format = image_types[i].format;
    if (!format)
        return bad(err, ptr, "image type '%.*s' is not supported by Bedrock (png, jpeg, gif, "
                   "webp)", (int)(mime_len < 60 ? mime_len : 60), url + 5);
    if (!base64_ok(comma + 1))
        return bad(err, ptr, "the image data is not valid base64");
    json_t *b = json_pack("{s:{s:s, s:{s:s}}}", "image", "format", format, "source", "bytes",
                          comma + 1);
    if (json_array_append_new(blocks, b) != 0)
        return nomem(err);
    return PW_OK;
}

/* Content that may only hold text: a string, or text parts (and refusal
 * parts when `refusal_ok`, i.e. an assistant message). `what` names the
 * role for the error. */
static enum pw_err text_content(json_t *content, const char *base, const char *what,
                                bool refusal_ok, json_t *blocks, struct pw_error *err)
{
    char ptr[PW_ERROR_POINTER_MAX];
    if (!content || json_is_null(content))
        return PW_OK;
    if (json_is_string(content))
        return add_text(blocks, json_string_value(content), err);
    where(ptr, base, "/content");
    if (!json_is_array(content))
        return bad(err, ptr, "content must be a string or an array of content parts");
    size_t j;
    json_t *part;
    json_array_foreach(content, j, part) {
        where(ptr, base, "/content/%zu", j);
        const char *type = json_string_value(json_object_get(part, "type"));
        const char *key = NULL;
        if (type && strcmp(type, "text") == 0)
            key = "text";
        else if (type && refusal_ok && strcmp(type, "refusal") == 0)
            key = "refusal";
        if (!key)
            return bad(err, ptr, "a %s message may only hold text parts", what);
        json_t *text = json_object_get(part, key);
        if (!json_is_string(text))
            return bad(err, ptr, "the %s part has no string '%s'", type, key);
        enum pw_err rc = add_text(blocks, json_string_value(text), err);
        if (rc != PW_OK)
            return rc;
    }
    return PW_OK;
}

/* All the text of text-only content, joined (new), for tool results. */
static char *joined_text(json_t *blocks)
{
    size_t len = 0, i;
    json_t *b;
    json_array_foreach(blocks, i, b)
        len += strlen(json_string_value(json_object_get(b, "text"))) + 1;
    char *out = malloc(len + 1), *p = out;
    if (!out)
        return NULL;
    json_array_foreach(blocks, i, b) {
        const char *t = json_string_value(json_object_get(b, "text"));
        size_t n = strlen(t);
        if (p != out)
            *p++ = '\n';
        memcpy(p, t, n);
        p += n;
    }
    *p = '\0';
    return out;
}

static enum pw_err user_content(json_t *content, const char *base, json_t *blocks,
                                struct pw_error *err)
{
    char ptr[PW_ERROR_POINTER_MAX];
    if (!content || json_is_null(content) || json_is_string(content))
        return text_content(content, base, "user", false, blocks, err);
    where(ptr, base, "/content");
    if (!json_is_array(content))
        return bad(err, ptr, "content must be a string or an array of content parts");
    size_t j;
    json_t *part;
    json_array_foreach(content, j, part) {
        where(ptr, base, "/content/%zu", j);
        const char *type = json_string_value(json_object_get(part, "type"));
        enum pw_err rc;
        if (!type) {
            return bad(err, ptr, "a content part must be an object with a string 'type'");
        } else if (strcmp(type, "text") == 0) {
            json_t *text = json_object_get(part, "text");
            if (!json_is_string(text))
                return bad(err, ptr, "the text part has no string 'text'");
            rc = add_text(blocks, json_string_value(text), err);
        } else if (strcmp(type, "image_url") == 0) {
            json_t *iu = json_object_get(part, "image_url");
            const char *url = json_is_string(iu) ? json_string_value(iu)
                                                 : json_string_value(json_object_get(iu, "url"));
            size_t at = strlen(ptr);
            snprintf(ptr + at, sizeof ptr - at, "/image_url");
            if (!url)
                return bad(err, ptr, "image_url needs a string 'url'");
            rc = image_block(url, ptr, blocks, err);
        } else if (strcmp(type, "input_audio") == 0) {
            return bad(err, ptr, "audio input is not supported by Bedrock Converse");
        } else {
            return bad(err, ptr, "content part type '%.40s' is not supported by Bedrock", type);
        }
        if (rc != PW_OK)
            return rc;
    }
    return PW_OK;
}

/* One assistant tool call -> a toolUse block (or text when as_text). */
static enum pw_err tool_call(struct conv *c, json_t *call, const char *ptr, json_t *blocks)
{
    char p[PW_ERROR_POINTER_MAX];
    json_t *fn = json_object_get(call, "function");
    const char *id = json_string_value(json_object_get(call, "id"));
    const char *name = json_string_value(json_object_get(fn, "name"));
    const char *type = json_string_value(json_object_get(call, "type"));
    if (!json_is_object(call))
        return bad(c->err, ptr, "a tool call must be an object");
    if (type && strcmp(type, "function") != 0)
        return bad(c->err, ptr, "tool call type '%.40s' is not supported by Bedrock", type);
    where(p, ptr, "/id");
    if (bridge_converse_blank(id))
        return bad(c->err, p, "a tool call needs a non-empty string 'id'");
    where(p, ptr, "/function/name");
    if (bridge_converse_blank(name))
        return bad(c->err, p, "a tool call needs a non-empty function name");
    where(p, ptr, "/function/arguments");
    json_t *args = json_object_get(fn, "arguments");
    if (args && !json_is_string(args) && !json_is_null(args))
        return bad(c->err, p, "tool call arguments must be a JSON text in a string");
    const char *text = json_string_value(args);
    json_t *input;
    if (bridge_converse_blank(text)) {
        input = json_object();
    } else {
        json_error_t je;
        input = json_loads(text, 0, &je);
        if (!json_is_object(input)) {
            json_decref(input);
            return bad(c->err, p, "tool call arguments are not a JSON object%s%.120s",
                       input ? "" : ": ", input ? "" : je.text);
        }
    }
    json_t *block;
    if (c->as_text) {
        char *dumped = json_dumps(input, PW_JSON_WIRE);
        size_t n = strlen(id) + strlen(name) + (dumped ? strlen(dumped) : 0) + 32;
        char *s = malloc(n);
        if (s)
            snprintf(s, n, "[tool call %s: %s(%s)]", id, name, dumped ? dumped : "{}");
        block = s ? json_pack("{s:s}", "text", s) : NULL;
        free(s);
        free(dumped);
        json_decref(input);
    } else {
        block = json_pack("{s:{s:s, s:s, s:o}}", "toolUse", "toolUseId", id, "name", name,
                          "input", input);
        c->tool_blocks = true;
    }
    if (json_array_append_new(blocks, block) != 0)
        return nomem(c->err);
    return PW_OK;
}

static enum pw_err assistant(struct conv *c, json_t *m, const char *base, json_t *blocks)
{
    enum pw_err rc = text_content(json_object_get(m, "content"), base, "assistant", true,
                                  blocks, c->err);
    if (rc != PW_OK)
        return rc;
    json_t *calls = json_object_get(m, "tool_calls");
    char ptr[PW_ERROR_POINTER_MAX];
    if (!calls || json_is_null(calls))
        return PW_OK;
    where(ptr, base, "/tool_calls");
    if (!json_is_array(calls))
        return bad(c->err, ptr, "tool_calls must be an array");
    size_t j;
    json_t *call;
    json_array_foreach(calls, j, call) {
        where(ptr, base, "/tool_calls/%zu", j);
        if ((rc = tool_call(c, call, ptr, blocks)) != PW_OK)
            return rc;
    }
    return PW_OK;
}

static enum pw_err tool_result(struct conv *c, json_t *m, const char *base, json_t *blocks)
{
    char ptr[PW_ERROR_POINTER_MAX];
    const char *id = json_string_value(json_object_get(m, "tool_call_id"));
    where(ptr, base, "/tool_call_id");
    if (bridge_converse_blank(id))
        return bad(c->err, ptr, "a tool message needs a non-empty string 'tool_call_id'");
    json_t *content = json_array();
    if (!content)
        return nomem(c->err);
    enum pw_err rc = text_content(json_object_get(m, "content"), base, "tool", false, content,
                                  c->err);
    if (rc != PW_OK) {
        json_decref(content);
        return rc;
    }
    json_t *block;
    if (c->as_text) {
        char *text = joined_text(content);
        size_t n = strlen(id) + (text ? strlen(text) : 0) + 32;
        char *s = text ? malloc(n) : NULL;
        if (s)
            snprintf(s, n, "[tool result %s: %s]", id, text[0] ? text : "(no output)");
        block = s ? json_pack("{s:s}", "text", s) : NULL;
        free(s);
        free(text);
        json_decref(content);
    } else {
        if (json_array_size(content) == 0)
            json_array_append_new(content, json_pack("{s:s}", "text", "(no output)"));
        block = json_pack("{s:{s:s, s:o}}", "toolResult", "toolUseId", id, "content", content);
        c->tool_blocks = true;
    }
    if (json_array_append_new(blocks, block) != 0)
        return nomem(c->err);
    return PW_OK;
}

/* Appends `blocks` (stolen) as a turn of `role`, merged into the previous
 * turn when that has the same role. `src` is the message index, for the
 * error when the first turn would be the assistant's. */
static enum pw_err add_turn(struct conv *c, const char *role, json_t *blocks, size_t src)
{
    size_t n = json_array_size(c->turns);
    json_t *last = n ? json_array_get(c->turns, n - 1) : NULL;
    if (json_array_size(blocks) == 0) {
        json_decref(blocks);
        return PW_OK;
    }
    if (last && strcmp(json_string_value(json_object_get(last, "role")), role) == 0) {
        int rc = json_array_extend(json_object_get(last, "content"), blocks);
        json_decref(blocks);
        return rc == 0 ? PW_OK : nomem(c->err);
    }
    if (!last && strcmp(role, "user") != 0) {
        char ptr[PW_ERROR_POINTER_MAX];
        json_decref(blocks);
        snprintf(ptr, sizeof ptr, "/messages/%zu", src);
        return bad(c->err, ptr, "Bedrock requires the conversation to start with a user "
                   "message, not an %s message", role);
    }
    if (json_array_append_new(c->turns, json_pack("{s:s, s:o}", "role", role, "content",
                                                  blocks)) != 0)
        return nomem(c->err);
    return PW_OK;
}

enum pw_err bridge_converse_messages(json_t *messages, bool tools_as_text, json_t *system,
                                     json_t *turns, bool *has_tool_blocks,
                                     struct pw_error *err)
{
    struct conv c = {system, turns, tools_as_text, false, err};
    *has_tool_blocks = false;
    if (!json_is_array(messages) || json_array_size(messages) == 0)
        return bad(err, "/messages", "messages must be a non-empty array");
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        char base[PW_ERROR_POINTER_MAX], ptr[PW_ERROR_POINTER_MAX];
        snprintf(base, sizeof base, "/messages/%zu", i);
        snprintf(ptr, sizeof ptr, "/messages/%zu/role", i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!json_is_object(m))
            return bad(err, base, "a message must be an object");
        if (!role)
            return bad(err, ptr, "a message needs a string 'role'");
        json_t *blocks = json_array();
        if (!blocks)
            return nomem(err);
        enum pw_err rc;
        const char *turn_role = "user";
        if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
            rc = text_content(json_object_get(m, "content"), base, role, false, blocks, err);
            if (rc == PW_OK && json_array_extend(system, blocks) != 0)
                rc = nomem(err);
            json_decref(blocks);
            if (rc != PW_OK)
                return rc;
            continue;
        } else if (strcmp(role, "user") == 0) {
            rc = user_content(json_object_get(m, "content"), base, blocks, err);
        } else if (strcmp(role, "assistant") == 0) {
            turn_role = "assistant";
            rc = assistant(&c, m, base, blocks);
        } else if (strcmp(role, "tool") == 0) {
            rc = tool_result(&c, m, base, blocks);
        } else {
            json_decref(blocks);
            return bad(err, ptr, "role '%.40s' is not supported (system, developer, user, "
                       "assistant, tool)", role);
        }
        if (rc != PW_OK) {
            json_decref(blocks);
            return rc;
        }
        if ((rc = add_turn(&c, turn_role, blocks, i)) != PW_OK)
            return rc;
    }
    if (json_array_size(turns) == 0)
        return bad(err, "/messages", "Bedrock needs at least one user message with content");
    *has_tool_blocks = c.tool_blocks;
    return PW_OK;
}
