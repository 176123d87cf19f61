/*
 * The catalog's MCP tools: search_products, get_product, list_categories,
 * compare_products and check_availability, as a registration table.
 *
 * Each tool returns structuredContent matching its outputSchema (the engine
 * checks that) and a text rendering for clients that show text only. A
 * missing product is a tool error (isError), which a model can read and act
 * on; a catalog failure is a tool error too, naming what failed. Arguments
 * arrive already validated against the inputSchema, so handlers only map
 * them.
 *
 * All handlers run on worker threads (PW_MCP_ON_WORKER).
 *
 * check_availability asks a 2026-07-28 client that declared elicitation
 * whether a smaller quantity will do when the stock is short (an
 * input_required round trip); every other client gets the plain answer.
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/mcp-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog-int.h"
#include "catalog/mcp_schemas.h"
#include "pennyworth/buf.h"
#include "pennyworth/mcp_modern.h"

/* Finishes with a tool error for a catalog failure. */
static void fail_tool(struct pw_mcp_call *call, const struct pw_error *e)
{
    pw_mcp_call_finish(call, pw_mcp_tool_error("%s", e->message[0] ? e->message
                                                                   : pw_err_name(e->code)));
}

static const char *opt_str(json_t *args, const char *key)
{
    return json_string_value(json_object_get(args, key));
}

/* The product named by the "id" argument (new), or NULL after finishing the
 * call with a tool error that says why. */
static json_t *product_arg(struct pw_mcp_call *call, json_t *args, void *ud)
{
    struct pw_error e = {0};
    struct pw_catalog *cat = catalog_mcp_conn(ud, &e);
    json_t *p = NULL;
    if (!cat || pw_catalog_get(cat, opt_str(args, "id"), &p, &e) != PW_OK) {
        fail_tool(call, &e);
        return NULL;
    }
    return p;
}

/*
 * The price filter `key` (a JSON number in major units; the schema allows
 * nothing else) in minor units, -1 when absent. Parsed exactly, by the same
 * rules as the CLI's --min-price (pw_catalog_price_parse): 19.99 is 1999,
 * never 1998 from a binary product, and a bound with more decimals than the
 * currency has is refused, not rounded. Filter bounds are USD-shaped
 * (two decimals) as on the CLI: search compares minor units as stored.
 * False after setting `e` (pointer "/<key>") when the bound is refused.
 */
static bool opt_price(json_t *args, const char *key, int64_t *minor, struct pw_error *e)
{
    json_t *v = json_object_get(args, key);
    const char *reason = NULL;
    *minor = -1;
    if (!v)
        return true;
    if (catalog_price_from_json(v, NULL, minor, &reason))
        return true;
    char ptr[32];
    snprintf(ptr, sizeof ptr, "/%s", key);
    pw_error_set(e, PW_ERR_INVALID, ptr, "%s: %s", key, reason);
    return false;
}

static const struct {
    const char *name;
    enum pw_catalog_sort sort;
} sorts[] = {
    {"relevance", PW_SORT_RELEVANCE},
    {"price_asc", PW_SORT_PRICE_ASC},
    {"price_desc", PW_SORT_PRICE_DESC},
    {"rating", PW_SORT_RATING},
};

static void search_products(struct pw_mcp_call *call, json_t *args, void *ud)
{
    struct pw_error e = {0};
    struct pw_catalog *cat = catalog_mcp_conn(ud, &e);
    if (!cat) {
        fail_tool(call, &e);
        return;
    }
    struct pw_catalog_query q;
    pw_catalog_query_init(&q);
    q.text = opt_str(args, "query");
    q.category = opt_str(args, "category");
    q.brand = opt_str(args, "brand");
    q.availability = opt_str(args, "availability");
    q.cursor = opt_str(args, "cursor");
    if (!opt_price(args, "min_price", &q.min_price_minor, &e) ||
        !opt_price(args, "max_price", &q.max_price_minor, &e)) {
        fail_tool(call, &e);
        return;
    }
    json_t *rating = json_object_get(args, "min_rating");
    if (json_is_number(rating))
        q.min_rating = json_number_value(rating);
    const char *sort = opt_str(args, "sort");
    for (size_t i = 0; sort && i < sizeof sorts / sizeof sorts[0]; i++)
        if (strcmp(sorts[i].name, sort) == 0)
            q.sort = sorts[i].sort;
    json_t *limit = json_object_get(args, "limit");
    if (json_is_integer(limit))
        q.limit = (int)json_integer_value(limit);
    pw_mcp_call_progress(call, 0, 1, "searching the catalog");
    json_t *out = NULL;
    if (pw_catalog_search(cat, &q, &out, &e) != PW_OK) {
        fail_tool(call, &e);
        return;
    }
    pw_mcp_call_progress(call, 1, 1, "done");
    json_t *products = json_object_get(out, "products");
    char heading[400];
    snprintf(heading, sizeof heading, "%" JSON_INTEGER_FORMAT " products match%s%.300s%s "
             "(showing %zu):", json_integer_value(json_object_get(out, "total")),
             q.text ? " \"" : "", q.text ? q.text : "", q.text ? "\"" : "",
             json_array_size(products));
    char *text = catalog_mcp_render_list(products, heading);
    pw_mcp_call_finish(call, pw_mcp_tool_result(out, text));
    free(text);
}

static void get_product(struct pw_mcp_call *call, json_t *args, void *ud)
{
    json_t *p = product_arg(call, args, ud);
    if (!p)
        return;
    char *text = catalog_mcp_render_product(p);
    pw_mcp_call_finish(call, pw_mcp_tool_result(p, text));
    free(text);
}

static void list_categories(struct pw_mcp_call *call, json_t *args, void *ud)
{
    struct pw_error e = {0};
    struct pw_catalog *cat = catalog_mcp_conn(ud, &e);
    json_t *cats = NULL;
    if (!cat || pw_catalog_categories(cat, &cats, &e) != PW_OK) {
        fail_tool(call, &e);
        return;
    }
    struct pw_buf b = {0};
    size_t i;
    json_t *c;
    json_array_foreach(cats, i, c)
        pw_buf_appendf(&b, "%s%s (%" JSON_INTEGER_FORMAT ")", i ? "\n" : "",
                       json_string_value(json_object_get(c, "name")),
                       json_integer_value(json_object_get(c, "count")));
    pw_mcp_call_finish(call, pw_mcp_tool_result(json_pack("{s:o}", "categories", cats),
                                                b.len ? b.data : "no categories"));
    pw_buf_free(&b);
}

static void compare_products(struct pw_mcp_call *call, json_t *args, void *ud)
{
    struct pw_error e = {0};
    struct pw_catalog *cat = catalog_mcp_conn(ud, &e);
    if (!cat) {
        fail_tool(call, &e);
        return;
    }
    json_t *ids = json_object_get(args, "ids"), *id;
    json_t *products = json_array();
    json_t *in_stock = json_array();
    const char *cheapest = NULL, *best = NULL;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    double best_rating = -1;
    size_t i;
    json_array_foreach(ids, i, id) {
        json_t *p = NULL;
        pw_error_clear(&e);
        if (pw_catalog_get(cat, json_string_value(id), &p, &e) != PW_OK) {
            json_decref(products);
            json_decref(in_stock);
            fail_tool(call, &e);
            return;
        }
        json_array_append_new(products, p);
        int64_t minor = json_integer_value(json_object_get(json_object_get(p, "price"),
                                                           "amountMinor"));
        double rating = json_number_value(json_object_get(p, "rating"));
        const char *pid = json_string_value(json_object_get(p, "id"));
        if (minor < lo) {
            lo = minor;
            cheapest = pid;
        }
        if (minor > hi)
            hi = minor;
        if (rating > best_rating) {
            best_rating = rating;
            best = pid;
        }
        if (strcmp(json_string_value(json_object_get(p, "availability")), "out-of-stock") != 0)
            json_array_append_new(in_stock, json_string(pid));
    }
    json_t *cmp = json_pack("{s:s, s:s, s:{s:I, s:I}, s:o}", "cheapest", cheapest,
                            "bestRated", best, "priceRange", "minMinor", (json_int_t)lo,
                            "maxMinor", (json_int_t)hi, "available", in_stock);
    char heading[200];
    snprintf(heading, sizeof heading, "Comparing %zu products (cheapest: id %s, best rated: "
             "id %s):", json_array_size(products), cheapest, best);
    char *text = catalog_mcp_render_list(products, heading);
    pw_mcp_call_finish(call, pw_mcp_tool_result(
        json_pack("{s:o, s:o}", "products", products, "comparison", cmp), text));
    free(text);
}

/*
 * The quantity a 2026-07-28 client settled on after being asked (see
 * check_availability), or `want` when it was not asked or declined.
 */
static json_int_t settled_quantity(struct pw_mcp_call *call, json_int_t want)
{
    json_t *answer = json_object_get(pw_mcp_call_input_responses(call), "smaller_quantity");
    const char *action = json_string_value(json_object_get(answer, "action"));
    json_t *q = json_object_get(json_object_get(answer, "content"), "quantity");
    if (action && strcmp(action, "accept") == 0 && json_is_integer(q) &&
        json_integer_value(q) >= 1 && json_integer_value(q) < want)
        return json_integer_value(q);
    return want;
}

/*
 * Asks a modern client that can show a form whether a smaller quantity
 * will do (a multi-round-trip request: the client retries with the answer).
 * Asked once: the retry carries our sealed state and is answered as is.
 */
static bool ask_smaller(struct pw_mcp_call *call, json_t *p, json_int_t want, json_int_t stock)
{
    json_t *caps = pw_mcp_call_client_capabilities(call);
    if (!pw_mcp_call_modern(call) || pw_mcp_call_request_state(call) || stock <= 0 ||
        !json_object_get(caps, "elicitation"))
        return false;
    char msg[300];
    snprintf(msg, sizeof msg, "Only %" JSON_INTEGER_FORMAT " of %s in stock (you asked for %"
             JSON_INTEGER_FORMAT "). Check a smaller quantity?", stock,
             json_string_value(json_object_get(p, "name")), want);
    json_t *ask = json_pack("{s:{s:s, s:{s:s, s:s, s:{s:s, s:{s:{s:s, s:i, s:I}}, s:[s]}}}}",
                            "smaller_quantity", "method", "elicitation/create", "params",
                            "mode", "form", "message", msg, "requestedSchema", "type", "object",
                            "properties", "quantity", "type", "integer", "minimum", 1,
                            "maximum", stock, "required", "quantity");
    pw_mcp_call_input_required(call, ask, json_pack("{s:I}", "asked", want));
    return true;
}

static void check_availability(struct pw_mcp_call *call, json_t *args, void *ud)
{
    json_t *p = product_arg(call, args, ud);
    if (!p)
        return;
    json_t *qv = json_object_get(args, "quantity");
    json_int_t want = settled_quantity(call, json_is_integer(qv) ? json_integer_value(qv) : 1);
    json_int_t stock = json_integer_value(json_object_get(p, "stock"));
    const char *avail = json_string_value(json_object_get(p, "availability"));
    bool ok = stock >= want && strcmp(avail, "out-of-stock") != 0;
    if (!ok && ask_smaller(call, p, want, stock)) {
        json_decref(p);
        return;
    }
    json_t *out = json_pack("{s:O, s:O, s:b, s:s, s:I, s:I}", "id", json_object_get(p, "id"),
                            "name", json_object_get(p, "name"), "available", ok,
                            "availability", avail, "stock", stock, "requested", want);
    char text[600];
    snprintf(text, sizeof text, "%s: %s for %" JSON_INTEGER_FORMAT " (%s, %" JSON_INTEGER_FORMAT
             " in stock)", json_string_value(json_object_get(p, "name")),
             ok ? "available" : "not available", want, avail, stock);
    json_decref(p);
    pw_mcp_call_finish(call, pw_mcp_tool_result(out, text));
}

static const struct pw_mcp_tool tools[] = {
    {
        .name = "search_products",
        .title = "Search products",
        .description = "Search the product catalog by free text with optional filters "
                       "(category, brand, price range in major currency units, availability, "
                       "minimum rating) and sort order. Results are paginated: pass nextCursor "
                       "back as cursor for the next page.",
        .input_schema =
            "{\"type\":\"object\",\"properties\":{"
            "\"query\":{\"type\":\"string\",\"maxLength\":500,\"description\":\"Free text, "
            "e.g. 'wireless headphones'\"},"
            "\"category\":{\"type\":\"string\",\"maxLength\":100},"
            "\"brand\":{\"type\":\"string\",\"maxLength\":100},"
            "\"min_price\":{\"type\":\"number\",\"minimum\":0},"
            "\"max_price\":{\"type\":\"number\",\"minimum\":0},"
            "\"availability\":{\"enum\":[\"in-stock\",\"limited\",\"out-of-stock\"]},"
            "\"min_rating\":{\"type\":\"number\",\"minimum\":0,\"maximum\":5},"
            "\"sort\":{\"enum\":[\"relevance\",\"price_asc\",\"price_desc\",\"rating\"]},"
            "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":50},"
            "\"cursor\":{\"type\":\"string\",\"maxLength\":400}},"
            "\"additionalProperties\":false}",
        .output_schema = "{\"type\":\"object\",\"required\":[\"products\",\"total\"],"
                         "\"properties\":{\"products\":" CATALOG_PRODUCT_LIST_SCHEMA ","
                         "\"total\":{\"type\":\"integer\"},\"nextCursor\":{\"type\":\"string\"}}}",
        .annotations = "{\"title\":\"Search products\",\"readOnlyHint\":true,"
                       "\"openWorldHint\":false}",
        .handler = search_products,
        .flags = PW_MCP_ON_WORKER,
    },
    {
        .name = "get_product",
        .title = "Get a product",
        .description = "Get one product's full details by its id.",
        .input_schema = "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\","
                        "\"minLength\":1,\"maxLength\":100}},\"required\":[\"id\"],"
                        "\"additionalProperties\":false}",
        .output_schema = CATALOG_PRODUCT_SCHEMA,
        .annotations = "{\"title\":\"Get a product\",\"readOnlyHint\":true}",
        .handler = get_product,
        .flags = PW_MCP_ON_WORKER,
    },
    {
        .name = "list_categories",
        .title = "List categories",
        .description = "List the catalog's categories with how many products each holds.",
        .input_schema = "{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}",
        .output_schema = "{\"type\":\"object\",\"required\":[\"categories\"],\"properties\":{"
                         "\"categories\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
                         "\"required\":[\"name\",\"count\"],\"properties\":{\"name\":{\"type\":"
                         "\"string\"},\"count\":{\"type\":\"integer\"}}}}}}",
        .annotations = "{\"title\":\"List categories\",\"readOnlyHint\":true}",
        .handler = list_categories,
        .flags = PW_MCP_ON_WORKER,
    },
    {
        .name = "compare_products",
        .title = "Compare products",
        .description = "Compare 2 to 5 products side by side: prices, ratings, availability.",
        .input_schema = "{\"type\":\"object\",\"properties\":{\"ids\":{\"type\":\"array\","
                        "\"items\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":100},"
                        "\"minItems\":2,\"maxItems\":5,\"uniqueItems\":true}},"
                        "\"required\":[\"ids\"],\"additionalProperties\":false}",
        .output_schema = "{\"type\":\"object\",\"required\":[\"products\",\"comparison\"],"
                         "\"properties\":{\"products\":" CATALOG_PRODUCT_LIST_SCHEMA ","
                         "\"comparison\":{\"type\":\"object\",\"properties\":{"
                         "\"cheapest\":{\"type\":\"string\"},\"bestRated\":{\"type\":\"string\"},"
                         "\"priceRange\":{\"type\":\"object\"},\"available\":{\"type\":\"array\","
                         "\"items\":{\"type\":\"string\"}}}}}}",
        .annotations = "{\"title\":\"Compare products\",\"readOnlyHint\":true}",
        .handler = compare_products,
        .flags = PW_MCP_ON_WORKER,
    },
    {
        .name = "check_availability",
        .title = "Check availability",
        .description = "Check whether a quantity of a product can be ordered now.",
        .input_schema = "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\","
                        "\"minLength\":1,\"maxLength\":100},\"quantity\":{\"type\":\"integer\","
                        "\"minimum\":1,\"maximum\":1000000,\"default\":1}},\"required\":[\"id\"],"
                        "\"additionalProperties\":false}",
        .output_schema = "{\"type\":\"object\",\"required\":[\"id\",\"name\",\"available\","
                         "\"availability\",\"stock\",\"requested\"],\"properties\":{"
                         "\"id\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"},"
                         "\"available\":{\"type\":\"boolean\"},\"availability\":{\"enum\":"
                         "[\"in-stock\",\"limited\",\"out-of-stock\"]},\"stock\":{\"type\":"
                         "\"integer\"},\"requested\":{\"type\":\"integer\"}}}",
        .annotations = "{\"title\":\"Check availability\",\"readOnlyHint\":true}",
        .handler = check_availability,
        .flags = PW_MCP_ON_WORKER,
    },
};

enum pw_err catalog_mcp_add_tools(struct pw_catalog_mcp *cm, struct pw_error *err)
{
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
        struct pw_mcp_tool t = tools[i];
        t.ud = cm;
        if (pw_mcp_server_add_tool(cm->srv, &t, err) != PW_OK)
            return err ? err->code : PW_ERR_INVALID;
    }
    return PW_OK;
}
