/*
 * The conformance suite's fixture prompts (prompts-* scenarios) and the
 * completion handler (completion-complete): a prompt without arguments,
 * one whose two arguments appear in its text, one embedding the resource
 * it is given, and one with an image.
 *
 * Completion offers candidates that start with the typed value, for the
 * arguments of test_prompt_with_arguments and the id of the resource
 * template; anything else completes to an empty list, which the spec
 * allows.
 *
 * Loop thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include "tests/conformance/conformance.h"

#include <stdio.h>
#include <string.h>

static json_t *message(json_t *content_new)
{
    return json_pack("{s:s, s:o}", "role", "user", "content", content_new);
}

static void finish_messages(struct pw_mcp_call *call, json_t *messages_new)
{
    pw_mcp_call_finish(call, json_pack("{s:o}", "messages", messages_new));
}

static void simple_prompt(struct pw_mcp_call *call, json_t *args, void *ud)
{
    finish_messages(call, json_pack("[o]", message(conf_text("This is a simple prompt for "
                                                              "testing."))));
}

static void with_arguments(struct pw_mcp_call *call, json_t *args, void *ud)
{
    const char *a1 = json_string_value(json_object_get(args, "arg1"));
    const char *a2 = json_string_value(json_object_get(args, "arg2"));
    char text[512];
    snprintf(text, sizeof text, "Prompt with arguments: arg1='%s', arg2='%s'", a1 ? a1 : "",
             a2 ? a2 : "");
    finish_messages(call, json_pack("[o]", message(conf_text(text))));
}

static void with_embedded_resource(struct pw_mcp_call *call, json_t *args, void *ud)
{
    const char *uri = json_string_value(json_object_get(args, "resourceUri"));
    finish_messages(call,
                    json_pack("[o, o]",
                              message(conf_embedded_text(uri ? uri : "test://example-resource",
                                                         "text/plain",
                                                         "Embedded resource content for "
                                                         "testing.")),
                              message(conf_text("Please process the embedded resource "
                                                "above."))));
}

static void with_image(struct pw_mcp_call *call, json_t *args, void *ud)
{
    finish_messages(call, json_pack("[o, o]", message(conf_image()),
                                    message(conf_text("Please analyze the image above."))));
}

static const struct pw_mcp_prompt_arg two_args[] = {
    {"arg1", "First test argument", true},
    {"arg2", "Second test argument", true},
};

static const struct pw_mcp_prompt_arg resource_arg[] = {
    {"resourceUri", "URI of the resource to embed", true},
};

static const struct pw_mcp_prompt prompts[] = {
    {.name = "test_simple_prompt", .description = "A simple prompt without arguments",
     .get = simple_prompt},
    {.name = "test_prompt_with_arguments", .description = "A prompt with two arguments",
     .args = two_args, .nargs = 2, .get = with_arguments},
    {.name = "test_prompt_with_embedded_resource",
     .description = "A prompt that embeds the resource it is given", .args = resource_arg,
     .nargs = 1, .get = with_embedded_resource},
    {.name = "test_prompt_with_image", .description = "A prompt with an image",
     .get = with_image},
};

/* Completion ------------------------------------------------------------------------ */

struct candidates {
    const char *ref_type;      /* "ref/prompt" or "ref/resource" */
    const char *ref;           /* the prompt name or the template */
    const char *argument;
    const char *const *values; /* NULL-terminated */
};

static const char *const arg_values[] = {"paris", "park", "party", "test", "testing", NULL};
static const char *const id_values[] = {"1", "2", "3", "123", NULL};

static const struct candidates table[] = {
    {"ref/prompt", "test_prompt_with_arguments", "arg1", arg_values},
    {"ref/prompt", "test_prompt_with_arguments", "arg2", arg_values},
    {"ref/resource", "test://template/{id}/data", "id", id_values},
};

static void complete(struct pw_mcp_call *call, json_t *params, void *ud)
{
    json_t *ref = json_object_get(params, "ref");
    const char *type = json_string_value(json_object_get(ref, "type"));
    const char *name = json_string_value(json_object_get(ref, strcmp(type, "ref/prompt") == 0
                                                                  ? "name"
                                                                  : "uri"));
    json_t *arg = json_object_get(params, "argument");
    const char *argname = json_string_value(json_object_get(arg, "name"));
    const char *typed = json_string_value(json_object_get(arg, "value"));
    json_t *values = json_array();
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const struct candidates *c = &table[i];
        if (!name || strcmp(c->ref_type, type) != 0 || strcmp(c->ref, name) != 0 ||
            strcmp(c->argument, argname) != 0)
            continue;
        for (const char *const *v = c->values; *v; v++)
            if (strncmp(*v, typed, strlen(typed)) == 0)
                json_array_append_new(values, json_string(*v));
    }
    size_t n = json_array_size(values);
    pw_mcp_call_finish(call, json_pack("{s:{s:o, s:I, s:b}}", "completion", "values", values,
                                       "total", (json_int_t)n, "hasMore", 0));
}

enum pw_err conf_add_prompts(struct pw_mcp_server *mcp, struct pw_error *err)
{
    for (size_t i = 0; i < sizeof prompts / sizeof prompts[0]; i++) {
        enum pw_err rc = pw_mcp_server_add_prompt(mcp, &prompts[i], err);
        if (rc != PW_OK)
            return rc;
    }
    pw_mcp_server_set_completer(mcp, complete, NULL, 0);
    return PW_OK;
}
