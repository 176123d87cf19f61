/*
 * The lines `pennyworth serve` prints under its "listening on" line: what a
 * newcomer needs to use the server just started, ready to copy. The
 * storefront URL, the MCP endpoints, the OpenAI-compatible base URL, two
 * MCP client configurations (one that launches `pennyworth stdio` on the
 * same database, one for Streamable HTTP) and a chat completion `curl` for
 * the bridge's default model (the offline model when no provider is
 * configured, so the curl works on a fresh machine).
 *
 * Invariants: the "listening on" line stays first and is printed by
 * serve_cmd.c, not here (tests and scripts parse it); every URL here is one
 * a local client can reach, so a wildcard listen address is shown as
 * loopback; JSON is built with jansson (escaped correctly) and the curl's
 * arguments are shell-quoted. Printed to stdout, once, on the service
 * thread before the loop runs.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/cli.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pennyworth/json.h"

#define QUESTION "Which smartphones do you have?"

/* `s` single-quoted for a POSIX shell (each ' becomes '\''). */
static void put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    fputc('\'', f);
}

/* The compact JSON of `doc` (stolen) on one line, indented. */
static void put_json_line(FILE *f, json_t *doc)
{
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    fprintf(f, "    %s\n", s ? s : "(out of memory)");
    free(s);
    json_decref(doc);
}

/* The absolute path of `path` (new), or a copy when it cannot be resolved. */
static char *absolute(const char *path)
{
    char *r = realpath(path, NULL);
    return r ? r : strdup(path);
}

void cli_banner(FILE *f, const struct cli_banner *b)
{
    /* A wildcard address is reached on loopback; an IPv6 one in brackets. */
    const char *host = b->host;
    if (!host[0] || strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    bool v6 = strchr(host, ':') != NULL;
    char base[600];
    snprintf(base, sizeof base, "%s://%s%s%s:%d", b->tls ? "https" : "http", v6 ? "[" : "",
             host, v6 ? "]" : "", b->port);
    const char *ws = b->tls ? "wss" : "ws";
    const char *after = strstr(base, "://") + 3;

    fprintf(f, "  storefront  %s/\n", base);
    fprintf(f, "  MCP         %s/mcp (Streamable HTTP), %s://%s/ws (WebSocket, subprotocol mcp)\n",
            base, ws, after);
    fprintf(f, "  OpenAI API  %s/v1 (default model: %s%s)\n", base,
            b->model[0] ? b->model : "none configured", b->offline ? ", answers from the "
            "catalog without an LLM" : "");

    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *db = absolute(b->db);
    fprintf(f, "  MCP client over stdio (e.g. claude_desktop_config.json):\n");
    put_json_line(f, json_pack("{s:{s:{s:s, s:[s], s:{s:s}}}}", "mcpServers", "pennyworth",
                               "command", n > 0 ? exe : "pennyworth", "args", "stdio", "env",
                               "PENNYWORTH_DB", db));
    free(db);
    char mcp[700];
    snprintf(mcp, sizeof mcp, "%s/mcp", base);
    fprintf(f, "  MCP client over Streamable HTTP:\n");
    put_json_line(f, json_pack("{s:{s:{s:s, s:s}}}", "mcpServers", "pennyworth", "type",
                               "http", "url", mcp));

    if (b->model[0]) {
        json_t *req = json_pack("{s:s, s:[{s:s, s:s}]}", "model", b->model, "messages", "role",
                                "user", "content", QUESTION);
        char *body = req ? json_dumps(req, PW_JSON_WIRE) : NULL;
        json_decref(req);
        fprintf(f, "  Try the OpenAI-compatible API:\n    curl -sS %s/v1/chat/completions "
                   "-H 'content-type: application/json'", base);
        if (b->keys)
            fputs(" -H \"authorization: Bearer $PENNYWORTH_API_KEY\"", f);
        fputs(" -d ", f);
        put_quoted(f, body ? body : "{}");
        fputc('\n', f);
        free(body);
    }
    fputs("  Ctrl-C stops the server.\n", f);
}
