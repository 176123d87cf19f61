/*
 * One configuration file for the server, the bridge and access: the file
 * that `serve --config FILE` names may hold, beside the bridge's members,
 *
 *   "server": {"listen": "127.0.0.1:8080", "allow_origins": [...], ...}
 *   "access": {"tiers": ..., "ipLimit": ..., "prices": ..., "usage": ...}
 *
 * The "server" members are the serve flags of the same names. They are
 * turned into arguments ("--listen", "127.0.0.1:8080", ...) and go through
 * the very parser the command line goes through, before it, so a flag on
 * the command line wins and a value is checked the same way wherever it
 * came from. The rows below are the whole mapping; adding a flag to the
 * file is adding a row (and the member to schema/config.schema.json, which
 * the bridge validates the whole file against). "access" is access's
 * configuration, as --access-config reads it (that flag wins).
 *
 * Ownership: the arguments point into the parsed document, which the
 * struct keeps until cli_config_free, so options that keep a pointer (the
 * web root, the TLS paths) stay valid while the server runs.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum kind { STR, INT, BOOL, LIST };

static const struct {
    const char *member;         /* in "server" */
    const char *flag;
    enum kind kind;
} rows[] = {
    {"listen", "--listen", STR},
    {"db", "--db", STR},
    {"tls_cert", "--tls-cert", STR},
    {"tls_key", "--tls-key", STR},
    {"allow_origins", "--allow-origin", LIST},
    {"max_body", "--max-body", INT},
    {"max_body_memory", "--max-body-memory", INT},
    {"body_timeout", "--body-timeout", INT},
    {"session_idle", "--session-idle", INT},
    {"sse_poll_ms", "--sse-poll-ms", INT},
    {"sse_retry_ms", "--sse-retry-ms", INT},
    {"grace_ms", "--grace-ms", INT},
    {"ws_ping", "--ws-ping", INT},
    {"web_root", "--web-root", STR},
    {"allow_open", "--allow-open", BOOL},
    {"access_log", "--access-log", BOOL},
    {"cache_ttl", "--cache-ttl", INT},
    {"ip_limit", "--ip-limit", STR},
};

#define NROWS (sizeof rows / sizeof rows[0])
/* Every row once, a list's items each with its flag, argv[0], the NULL. */
#define MAX_ARGS (2 * NROWS + 2 * 32 + 2)

const char *cli_config_flag(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
    }
    return path;
}

static bool push(struct cli_config *c, const char *s)
{
    if ((size_t)c->argc + 1 >= MAX_ARGS)
        return false;
    c->argv[c->argc++] = (char *)s;
    c->argv[c->argc] = NULL;
    return true;
}

/* The value of one row as arguments; false with a message on stderr. */
static bool add(struct cli_config *c, const char *path, size_t row, json_t *v, size_t index)
{
    const char *m = rows[row].member;
    switch (rows[row].kind) {
    case STR:
        if (json_is_string(v))
            return push(c, rows[row].flag) && push(c, json_string_value(v));
        break;
    case INT:
        if (json_is_integer(v) && json_integer_value(v) >= 0 && index < 64) {
            snprintf(c->numbers[index], sizeof c->numbers[index], "%" PRId64,
                     (int64_t)json_integer_value(v));
            return push(c, rows[row].flag) && push(c, c->numbers[index]);
        }
        break;
    case BOOL:
        if (json_is_boolean(v))
            return !json_is_true(v) || push(c, rows[row].flag);
        break;
    case LIST:
        if (json_is_array(v)) {
            size_t i;
            json_t *item;
            json_array_foreach(v, i, item)
                if (!json_is_string(item) || !push(c, rows[row].flag) ||
                    !push(c, json_string_value(item))) {
                    fprintf(stderr, "pennyworth serve: %s: /server/%s/%zu: expected a "
                                    "string (and at most 32)\n", path, m, i);
                    return false;
                }
            return true;
        }
        break;
    }
    static const char *const want[] = {"a string", "a non-negative integer", "true or false",
                                       "an array of strings"};
    fprintf(stderr, "pennyworth serve: %s: /server/%s: expected %s\n", path, m,
            want[rows[row].kind]);
    return false;
}

int cli_config_read(const char *path, struct cli_config *c)
{
    memset(c, 0, sizeof *c);
    c->argv = calloc(MAX_ARGS, sizeof *c->argv);
    if (!c->argv) {
        fprintf(stderr, "pennyworth serve: out of memory\n");
        return 2;
    }
    push(c, "serve");
    json_error_t je;
    if (!(c->doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je))) {
        fprintf(stderr, "pennyworth serve: %s: line %d: %s\n", path, je.line, je.text);
        return 2;
    }
    json_t *server = json_object_get(c->doc, "server");
    if (server && !json_is_object(server)) {
        fprintf(stderr, "pennyworth serve: %s: /server: expected an object\n", path);
        return 2;
    }
    const char *k;
    json_t *v;
    size_t nint = 0;
    json_object_foreach(server, k, v) {
        size_t row = 0;
        while (row < NROWS && strcmp(rows[row].member, k) != 0)
            row++;
        if (row == NROWS) {
            fprintf(stderr, "pennyworth serve: %s: /server/%s: no such server setting\n", path,
                    k);
            return 2;
        }
        if (!add(c, path, row, v, nint++))
            return 2;
    }
    c->access = json_object_get(c->doc, "access");
    return 0;
}

void cli_config_free(struct cli_config *c)
{
    json_decref(c->doc);
    free(c->argv);
    memset(c, 0, sizeof *c);
}
