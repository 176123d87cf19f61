/*
 * The catalog's MCP resources: catalog://categories and catalog://stats,
 * and the templates catalog://products/{id} (listed page by page through
 * resources/list) and catalog://categories/{name}.
 *
 * Contents are JSON text (application/json) in the same shapes the tools
 * return as structuredContent. A product or category that does not exist
 * is PW_ERR_NOT_FOUND, which the engine answers as MCP's resource-not-found
 * error. All handlers run on worker threads.
 *
 * Cache hints for 2026-07-28 clients follow how fast each thing moves:
 * a product carries its stock (seconds), the stats count stock too, a
 * category's page changes with its products (a minute), the category list
 * only when categories come or go (ten minutes). Listeners of
 * subscriptions/listen hear of changes sooner anyway.
 *
 * SPDX-License-Identifier: MIT
 */
#include "pennyworth/json.h"
#include "catalog/mcp-int.h"
#include "pennyworth/mcp_modern.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Finishes a read with one JSON text content (value stolen). */
static void contents(struct pw_mcp_call *call, const char *uri, json_t *value)
{
    char *text = json_dumps(value, PW_JSON_WIRE);
    json_decref(value);
    if (!text) {
        struct pw_error e = {.code = PW_ERR_NOMEM, .message = "out of memory"};
        pw_mcp_call_fail(call, &e);
        return;
    }
    pw_mcp_call_finish(call, json_pack("{s:[{s:s, s:s, s:s}]}", "contents", "uri", uri,
                                       "mimeType", "application/json", "text", text));
    free(text);
}

static const char *uri_of(json_t *params)
{
    return json_string_value(json_object_get(params, "uri"));
}

static void read_categories(struct pw_mcp_call *call, json_t *params, void *ud)
{
    struct pw_error e = {0};
    struct pw_catalog *cat = catalog_mcp_conn(ud, &e);
    json_t *cats = NULL;
    if (!cat || pw_catalog_categories(cat, &cats, &e) != PW_OK) {
        pw_mcp_call_fail(call, &e);
        return;
    }
    pw_mcp_call_cache_hint(call, 600000, false);
    contents(call, uri_of(params), json_pack("{s:o}", "categories", cats));
}

static void read_stats(struct pw_mcp_call *call, json_t *params, void *ud)
{
    struct pw_error e = {0};
    struct pw_catalog *cat = catalog_mcp_conn(ud, &e);
    json_t *stats = NULL;
    if (!cat || pw_catalog_stats(cat, &stats, &e) != PW_OK) {
        pw_mcp_call_fail(call, &e);
        return;
    }
    pw_mcp_call_cache_hint(call, 10000, false);
    contents(call, uri_of(params), stats);
}

static void read_product(struct pw_mcp_call *call, json_t *params, void *ud)
{
    struct pw_error e = {0};
    struct pw_catalog *cat = catalog_mcp_conn(ud, &e);
    const char *id = json_string_value(json_object_get(json_object_get(params, "vars"), "id"));
    json_t *p = NULL;
    if (!cat || pw_catalog_get(cat, id, &p, &e) != PW_OK) {
        pw_mcp_call_fail(call, &e);
        return;
    }
    pw_mcp_call_cache_hint(call, 5000, false);
    contents(call, uri_of(params), p);
}

static void list_products(struct pw_mcp_call *call, json_t *params, void *ud)
{
    struct pw_error e = {0};
    struct pw_catalog *cat = catalog_mcp_conn(ud, &e);
    if (!cat) {
        pw_mcp_call_fail(call, &e);
        return;
    }
    struct pw_catalog_query q;
    pw_catalog_query_init(&q);
    q.limit = (int)json_integer_value(json_object_get(params, "limit"));
    if (q.limit > 50 || q.limit < 1)
        q.limit = 50;
    q.cursor = json_string_value(json_object_get(params, "cursor"));
    json_t *out = NULL;
    if (pw_catalog_search(cat, &q, &out, &e) != PW_OK) {
        pw_mcp_call_fail(call, &e);
        return;
    }
    json_t *resources = json_array(), *p;
    size_t i;
    json_array_foreach(json_object_get(out, "products"), i, p) {
        char uri[256], desc[300];
        snprintf(uri, sizeof uri, "catalog://products/%s",
                 json_string_value(json_object_get(p, "id")));
        snprintf(desc, sizeof desc, "%s, %s, %s",
                 json_string_value(json_object_get(p, "category")),
                 json_string_value(json_object_get(json_object_get(p, "price"), "formatted")),
                 json_string_value(json_object_get(p, "availability")));
        json_array_append_new(resources,
                              json_pack("{s:s, s:O, s:s, s:s}", "uri", uri, "name",
                                        json_object_get(p, "name"), "description", desc,
                                        "mimeType", "application/json"));
    }
    json_t *result = json_pack("{s:o}", "resources", resources);
    json_t *next = json_object_get(out, "nextCursor");
    if (next)
        json_object_set(result, "nextCursor", next);
    json_decref(out);
    pw_mcp_call_finish(call, result);
}

static void read_category(struct pw_mcp_call *call, json_t *params, void *ud)
{
    struct pw_error e = {0};
    struct pw_catalog *cat = catalog_mcp_conn(ud, &e);
    if (!cat) {
        pw_mcp_call_fail(call, &e);
        return;
    }
    struct pw_catalog_query q;
    pw_catalog_query_init(&q);
    q.category = json_string_value(json_object_get(json_object_get(params, "vars"), "name"));
    q.limit = 50;
    json_t *out = NULL;
    if (pw_catalog_search(cat, &q, &out, &e) != PW_OK) {
        pw_mcp_call_fail(call, &e);
        return;
    }
    if (json_integer_value(json_object_get(out, "total")) == 0) {
        json_decref(out);
        pw_error_set(&e, PW_ERR_NOT_FOUND, NULL, "category %.100s: not found", q.category);
        pw_mcp_call_fail(call, &e);
        return;
    }
    json_object_set_new(out, "category", json_string(q.category));
    pw_mcp_call_cache_hint(call, 60000, false);
    contents(call, uri_of(params), out);
}

static const struct pw_mcp_resource resources[] = {
    {.uri = "catalog://categories", .name = "categories", .title = "Product categories",
     .description = "Every category with its number of products.",
     .mime_type = "application/json", .read = read_categories, .flags = PW_MCP_ON_WORKER},
    {.uri = "catalog://stats", .name = "stats", .title = "Catalog statistics",
     .description = "Counts of products, categories, brands and availability; price range.",
     .mime_type = "application/json", .read = read_stats, .flags = PW_MCP_ON_WORKER},
};

static const struct pw_mcp_template templates[] = {
    {.uri_template = "catalog://products/{id}", .name = "product", .title = "Product",
     .description = "One product's full record by id.", .mime_type = "application/json",
     .read = read_product, .list = list_products, .flags = PW_MCP_ON_WORKER},
    {.uri_template = "catalog://categories/{name}", .name = "category",
     .title = "Products in a category",
     .description = "The first 50 products of a category (use search_products to page).",
     .mime_type = "application/json", .read = read_category, .flags = PW_MCP_ON_WORKER},
};

enum pw_err catalog_mcp_add_resources(struct pw_catalog_mcp *cm, struct pw_error *err)
{
    for (size_t i = 0; i < sizeof resources / sizeof resources[0]; i++) {
        struct pw_mcp_resource r = resources[i];
        r.ud = cm;
        if (pw_mcp_server_add_resource(cm->srv, &r, err) != PW_OK)
            return err ? err->code : PW_ERR_INVALID;
    }
    for (size_t i = 0; i < sizeof templates / sizeof templates[0]; i++) {
        struct pw_mcp_template t = templates[i];
        t.ud = cm;
        if (pw_mcp_server_add_template(cm->srv, &t, err) != PW_OK)
            return err ? err->code : PW_ERR_INVALID;
    }
    return PW_OK;
}
