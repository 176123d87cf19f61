/*
 * The catalog's export_catalog tool: the whole catalog in its canonical
 * shape (JSON Lines, JSON or CSV, as `pennyworth export` writes it), as an
 * embedded resource.
 *
 * Exporting a large catalog takes a while, so for a 2026-07-28 client that
 * declared the tasks extension the call becomes a task
 * (pw_mcp_call_to_task): the client gets a task id at once and polls
 * tasks/get for the file. Other clients wait for it as for any tool. A
 * result has to fit in one message, so an export over MAX_EXPORT bytes is
 * a tool error pointing at the command line instead.
 *
 * Worker thread (PW_MCP_ON_WORKER).
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/mcp-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/mcp_modern.h"

#define MAX_EXPORT ((size_t)8 << 20)

static const struct {
    const char *name;
    enum pw_catalog_format fmt;
    const char *mime;
    const char *uri;
} formats[] = {
    {"jsonl", PW_FORMAT_JSONL, "application/jsonl", "catalog://export.jsonl"},
    {"json", PW_FORMAT_JSON, "application/json", "catalog://export.json"},
    {"csv", PW_FORMAT_CSV, "text/csv", "catalog://export.csv"},
};

static void export_catalog(struct pw_mcp_call *call, json_t *args, void *ud)
{
    const char *want = json_string_value(json_object_get(args, "format"));
    size_t f = 0;
    while (want && f < sizeof formats / sizeof formats[0] && strcmp(formats[f].name, want))
        f++;
    pw_mcp_call_to_task(call);
    pw_mcp_call_progress(call, 0, 1, "exporting the catalog");
    struct pw_error e = {0};
    struct pw_catalog *cat = catalog_mcp_conn(ud, &e);
    char *text = NULL;
    size_t len = 0;
    FILE *out = cat ? open_memstream(&text, &len) : NULL;
    enum pw_err rc = !cat   ? e.code
                     : !out ? PW_ERR_NOMEM
                            : pw_catalog_export(cat, out, formats[f].fmt, NULL, NULL, &e);
    if (out)
        fclose(out); /* text and len are final only now */
    if (pw_mcp_call_cancelled(call)) {
        free(text);
        struct pw_error c = {.code = PW_ERR_CANCELLED, .message = "export cancelled"};
        pw_mcp_call_fail(call, &c);
        return;
    }
    if (rc != PW_OK) {
        free(text);
        pw_mcp_call_finish(call, pw_mcp_tool_error("export failed: %s",
                                                   e.message[0] ? e.message : pw_err_name(rc)));
        return;
    }
    if (len > MAX_EXPORT) {
        free(text);
        pw_mcp_call_finish(call, pw_mcp_tool_error("the export is %zu bytes, over the %zu a "
                                                   "tool result may carry; run `pennyworth "
                                                   "export` instead", len, MAX_EXPORT));
        return;
    }
    json_t *result = json_pack(
        "{s:[{s:s, s:{s:s, s:s, s:s%}}], s:{s:s, s:I}}", "content", "type", "resource",
        "resource", "uri", formats[f].uri, "mimeType", formats[f].mime, "text", text, len,
        "structuredContent", "format", formats[f].name, "bytes", (json_int_t)len);
    free(text);
    pw_mcp_call_progress(call, 1, 1, "exported");
    pw_mcp_call_finish(call, result);
}

static const struct pw_mcp_tool tool = {
    .name = "export_catalog",
    .title = "Export the catalog",
    .description = "Export every product in the canonical shape (JSON Lines, JSON or CSV) as "
                   "an embedded resource. Long for a large catalog: clients that support the "
                   "tasks extension get a task to poll.",
    .input_schema = "{\"type\":\"object\",\"properties\":{\"format\":{\"enum\":[\"jsonl\","
                    "\"json\",\"csv\"],\"default\":\"jsonl\"}},\"additionalProperties\":false}",
    .output_schema = "{\"type\":\"object\",\"required\":[\"format\",\"bytes\"],\"properties\":{"
                     "\"format\":{\"enum\":[\"jsonl\",\"json\",\"csv\"]},"
                     "\"bytes\":{\"type\":\"integer\"}}}",
    .annotations = "{\"title\":\"Export the catalog\",\"readOnlyHint\":true}",
    .handler = export_catalog,
    .flags = PW_MCP_ON_WORKER,
};

enum pw_err catalog_mcp_add_export(struct pw_catalog_mcp *cm, struct pw_error *err)
{
    struct pw_mcp_tool t = tool;
    t.ud = cm;
    return pw_mcp_server_add_tool(cm->srv, &t, err);
}
