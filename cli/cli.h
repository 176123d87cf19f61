/*
 * The command-line front end: one row per subcommand in cli/main.c, one file
 * per subcommand family. Each subcommand parses its own options and returns
 * the process exit status (0 ok, 1 failure of the work, 2 usage error).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PW_CLI_H
#define PW_CLI_H

#include <stdbool.h>
#include <stdio.h>

struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
};

/*
 * The database path: --db FILE (already extracted by the caller), else
 * PENNYWORTH_DB, else $XDG_DATA_HOME/pennyworth/catalog.db (or
 * ~/.local/share/...), creating the directory. Returns a new string.
 */
char *cli_db_path(const char *flag_value);

int cli_catalog(int argc, char **argv);
int cli_stdio(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_keys(int argc, char **argv);
int cli_usage(int argc, char **argv);

/* What the serve banner shows (banner.c); every string borrowed. */
struct cli_banner {
    const char *host;            /* the listen host as given ("" or "*": any) */
    int port;                    /* the bound port */
    bool tls;
    const char *db;              /* the catalog database */
    const char *model;           /* the bridge's default model ("" none) */
    bool offline;                /* that model is the offline one */
    bool keys;                   /* API keys exist: requests need one */
};

/* Prints the lines under serve's "listening on" line: the storefront, MCP
 * and OpenAI API URLs, MCP client configurations and a chat curl. */
void cli_banner(FILE *f, const struct cli_banner *b);

/* Calls a running server's admin API (url + path) with PENNYWORTH_ADMIN_KEY;
 * on 0, *out is the new JSON answer; else the failure was printed. */
struct json_t;
int cli_admin_call(const char *url, const char *method, const char *path,
                   const struct json_t *body, struct json_t **out);

/* Opens the catalog read-write once to migrate it and, with seed, load the
 * demo catalog into an empty database. Returns 0, or 1 after printing why. */
int cli_prepare_catalog(const char *path, bool seed);

#endif
