/*
 * The conformance suite's fixture resources: a static text resource, a
 * static binary one (a PNG), a resource the subscription scenarios
 * subscribe to, and the template test://template/{id}/data whose reads
 * show the substituted id (resources-* scenarios).
 *
 * Every static resource is a row of `statics` read by one handler (the
 * row is the handler's user data). Reads run on the loop thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include "tests/conformance/conformance.h"

#include <stdio.h>
#include <stdlib.h>

struct fixture {
    struct pw_mcp_resource r;
    const char *text;          /* text contents, or NULL for the PNG blob */
};

static void read_static(struct pw_mcp_call *call, json_t *params, void *ud)
{
    const struct fixture *f = ud;
    json_t *item = json_pack("{s:s, s:s}", "uri", f->r.uri, "mimeType", f->r.mime_type);
    json_object_set_new(item, f->text ? "text" : "blob",
                        json_string(f->text ? f->text : conf_png_base64));
    pw_mcp_call_finish(call, json_pack("{s:[o]}", "contents", item));
}

static void read_template(struct pw_mcp_call *call, json_t *params, void *ud)
{
    const char *uri = json_string_value(json_object_get(params, "uri"));
    const char *id = json_string_value(json_object_get(json_object_get(params, "vars"), "id"));
    char data[160];
    snprintf(data, sizeof data, "Data for ID: %s", id ? id : "");
    json_t *doc = json_pack("{s:s, s:b, s:s}", "id", id ? id : "", "templateTest", 1, "data",
                            data);
    char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    pw_mcp_call_finish(call, json_pack("{s:[{s:s, s:s, s:s}]}", "contents", "uri", uri,
                                       "mimeType", "application/json", "text",
                                       text ? text : "{}"));
    free(text);
}

static struct fixture statics[] = {
    {{.uri = "test://static-text", .name = "static-text", .title = "Static text",
      .description = "A static text resource", .mime_type = "text/plain"},
     "This is the content of the static text resource."},
    {{.uri = "test://static-binary", .name = "static-binary", .title = "Static binary",
      .description = "A static binary resource (a 1x1 PNG)", .mime_type = "image/png"},
     NULL},
    {{.uri = "test://watched-resource", .name = "watched-resource", .title = "Watched resource",
      .description = "A resource clients subscribe to", .mime_type = "text/plain"},
     "This resource is watched for changes."},
};

static const struct pw_mcp_template data_template = {
    .uri_template = "test://template/{id}/data",
    .name = "template-data",
    .title = "Template data",
    .description = "Data for the id in the URI",
    .mime_type = "application/json",
    .read = read_template,
};

enum pw_err conf_add_resources(struct pw_mcp_server *mcp, struct pw_error *err)
{
    for (size_t i = 0; i < sizeof statics / sizeof statics[0]; i++) {
        struct pw_mcp_resource r = statics[i].r;
        r.read = read_static;
        r.ud = &statics[i];
        enum pw_err rc = pw_mcp_server_add_resource(mcp, &r, err);
        if (rc != PW_OK)
            return rc;
    }
    return pw_mcp_server_add_template(mcp, &data_template, err);
}
