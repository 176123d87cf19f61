/*
 * The catalog's MCP prompts (product_assistant, compare) and the completion
 * handler for their arguments and the resource templates' variables.
 *
 * Prompts carry the catalog data they are about: product_assistant embeds
 * the products that match the question, compare embeds the products named,
 * so a client can use the prompt as it is without calling tools first.
 * Completion offers category names, brands and product ids by prefix.
 *
 * All handlers run on worker threads.
 *
 * SPDX-License-Identifier: MIT
 */
#include "pennyworth/json.h"
#include "catalog/mcp-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COMPLETIONS 100

/* {"role":"user","content":{"type":"text","text":...}} */
static json_t *user_text(const char *text)
{
    return json_pack("{s:s, s:{s:s, s:s}}", "role", "user", "content", "type", "text", "text",
                     text);
}

/* An embedded resource message carrying one product. */
static json_t *product_message(json_t *p)
{
    char uri[256];
    snprintf(uri, sizeof uri, "catalog://products/%s", json_string_value(json_object_get(p, "id")));
    char *text = json_dumps(p, PW_JSON_WIRE);
    json_t *m = json_pack("{s:s, s:{s:s, s:{s:s, s:s, s:s}}}", "role", "user", "content", "type",
                          "resource", "resource", "uri", uri, "mimeType", "application/json",
                          "text", text ? text : "{}");
    free(text);
    return m;
}

static void product_assistant(struct pw_mcp_call *call, json_t *args, void *ud)
{
    struct pw_error e = {0};
    struct pw_catalog *cat = catalog_mcp_conn(ud, &e);
    if (!cat) {
        pw_mcp_call_fail(call, &e);
        return;
    }
    const char *question = json_string_value(json_object_get(args, "question"));
    const char *budget = json_string_value(json_object_get(args, "budget"));
    struct pw_catalog_query q;
    pw_catalog_query_init(&q);
    q.text = question;
    q.category = json_string_value(json_object_get(args, "category"));
    q.brand = json_string_value(json_object_get(args, "brand"));
    q.limit = 5;
    json_t *out = NULL;
    if (pw_catalog_search(cat, &q, &out, &e) != PW_OK) {
        pw_mcp_call_fail(call, &e);
        return;
    }
    char intro[2048];
    snprintf(intro, sizeof intro,
             "You are a helpful shopping assistant for our store. Answer the customer's "
             "question using only the catalog products provided below (call search_products "
             "or get_product for more). Quote prices and availability exactly, cite product "
             "ids, and say so when nothing fits.%s%.100s%s\n\nCustomer question: %.1500s",
             budget ? " The customer's budget is " : "", budget ? budget : "",
             budget ? "." : "", question);
    json_t *messages = json_array();
    json_array_append_new(messages, user_text(intro));
    json_t *p;
    size_t i;
    json_array_foreach(json_object_get(out, "products"), i, p)
        json_array_append_new(messages, product_message(p));
    json_decref(out);
    pw_mcp_call_finish(call, json_pack("{s:s, s:o}", "description",
                                       "A shopping assistant primed with matching products",
                                       "messages", messages));
}

static void compare(struct pw_mcp_call *call, json_t *args, void *ud)
{
    struct pw_error e = {0};
    struct pw_catalog *cat = catalog_mcp_conn(ud, &e);
    if (!cat) {
        pw_mcp_call_fail(call, &e);
        return;
    }
    char ids[1024];
    snprintf(ids, sizeof ids, "%s", json_string_value(json_object_get(args, "ids")));
    json_t *messages = json_array();
    json_array_append_new(messages, user_text(
        "Compare these products for a customer: price, rating, availability and what sets "
        "each apart. Finish with a recommendation and say who each one suits best."));
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(ids, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save)) {
        json_t *p = NULL;
        if (pw_catalog_get(cat, tok, &p, &e) != PW_OK) {
            json_decref(messages);
            struct pw_error bad = {0};
            if (e.code == PW_ERR_NOT_FOUND)
                pw_error_set(&bad, PW_ERR_INVALID, "/arguments/ids",
                             "ids: no product with id %.100s", tok);
            pw_mcp_call_fail(call, e.code == PW_ERR_NOT_FOUND ? &bad : &e);
            return;
        }
        json_array_append_new(messages, product_message(p));
        json_decref(p);
        n++;
    }
    if (n < 2 || n > 5) {
        json_decref(messages);
        pw_error_set(&e, PW_ERR_INVALID, "/arguments/ids",
                     "ids: give 2 to 5 comma-separated product ids (got %zu)", n);
        pw_mcp_call_fail(call, &e);
        return;
    }
    pw_mcp_call_finish(call, json_pack("{s:s, s:o}", "description", "Compare products",
                                       "messages", messages));
}

/* Which catalog field completes which (reference, argument). */
static const struct {
    const char *ref_type;
    const char *ref;      /* prompt name or URI template */
    const char *argument;
    enum pw_catalog_field field;
} completions[] = {
    {"ref/resource", "catalog://products/{id}", "id", PW_FIELD_ID},
    {"ref/resource", "catalog://categories/{name}", "name", PW_FIELD_CATEGORY},
    {"ref/prompt", "compare", "ids", PW_FIELD_ID},
    {"ref/prompt", "product_assistant", "category", PW_FIELD_CATEGORY},
    {"ref/prompt", "product_assistant", "brand", PW_FIELD_BRAND},
};

static void complete(struct pw_mcp_call *call, json_t *params, void *ud)
{
    json_t *ref = json_object_get(params, "ref");
    json_t *arg = json_object_get(params, "argument");
    const char *type = json_string_value(json_object_get(ref, "type"));
    const char *name = json_string_value(json_object_get(ref, "name"));
    if (!name)
        name = json_string_value(json_object_get(ref, "uri"));
    const char *argname = json_string_value(json_object_get(arg, "name"));
    const char *value = json_string_value(json_object_get(arg, "value"));
    for (size_t i = 0; name && i < sizeof completions / sizeof completions[0]; i++) {
        if (strcmp(completions[i].ref_type, type) != 0 || strcmp(completions[i].ref, name) != 0 ||
            strcmp(completions[i].argument, argname) != 0)
            continue;
        struct pw_error e = {0};
        struct pw_catalog *cat = catalog_mcp_conn(ud, &e);
        json_t *values = NULL;
        int total = 0;
        /* For a list of ids, complete the last one. */
        const char *prefix = value;
        if (completions[i].field == PW_FIELD_ID && strrchr(value, ','))
            prefix = strrchr(value, ',') + 1;
        while (*prefix == ' ')
            prefix++;
        if (!cat || pw_catalog_complete(cat, completions[i].field, prefix, MAX_COMPLETIONS,
                                        &values, &total, &e) != PW_OK) {
            pw_mcp_call_fail(call, &e);
            return;
        }
        pw_mcp_call_finish(call, json_pack("{s:{s:o, s:i, s:b}}", "completion", "values", values,
                                           "total", total, "hasMore",
                                           total > (int)json_array_size(values)));
        return;
    }
    pw_mcp_call_finish(call, json_pack("{s:{s:[], s:i, s:b}}", "completion", "values", "total",
                                       0, "hasMore", 0));
}

static const struct pw_mcp_prompt_arg assistant_args[] = {
    {"question", "What the customer wants to know", true},
    {"budget", "The customer's budget, e.g. '200 USD'", false},
    {"category", "Limit the products to this category", false},
    {"brand", "Limit the products to this brand", false},
};

static const struct pw_mcp_prompt_arg compare_args[] = {
    {"ids", "2 to 5 product ids, comma-separated", true},
};

static const struct pw_mcp_prompt prompts[] = {
    {.name = "product_assistant", .title = "Shopping assistant",
     .description = "Answer a customer's question with the matching catalog products attached.",
     .args = assistant_args, .nargs = sizeof assistant_args / sizeof assistant_args[0],
     .get = product_assistant, .flags = PW_MCP_ON_WORKER},
    {.name = "compare", .title = "Compare products",
     .description = "Compare 2 to 5 products and recommend one.",
     .args = compare_args, .nargs = 1, .get = compare, .flags = PW_MCP_ON_WORKER},
};

enum pw_err catalog_mcp_add_prompts(struct pw_catalog_mcp *cm, struct pw_error *err)
{
    for (size_t i = 0; i < sizeof prompts / sizeof prompts[0]; i++) {
        struct pw_mcp_prompt p = prompts[i];
        p.ud = cm;
        if (pw_mcp_server_add_prompt(cm->srv, &p, err) != PW_OK)
            return err ? err->code : PW_ERR_INVALID;
    }
    pw_mcp_server_set_completer(cm->srv, complete, cm, PW_MCP_ON_WORKER);
    return PW_OK;
}
