/*
 * The command-line front end: one row per subcommand in cli/main.c, one file
 * per subcommand family. Each subcommand parses its own options and returns
 * the process exit status (0 ok, 1 failure of the work, 2 usage error).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PW_CLI_H
#define PW_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
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

/* The database path used without --db, into buf (cut at size), creating
 * nothing; returns where it came from ("$PENNYWORTH_DB", "$XDG_DATA_HOME",
 * "$HOME" or the working directory), a static string. */
const char *cli_db_default(char *buf, size_t size);

/*
 * The end of every --help: what the command reads besides its options.
 * With CLI_HELP_DB, the database it would use now and why; then one line
 * per environment variable in `env` (CLI_HELP_* bits), from the table in
 * cli/help.c.
 */
enum {
    CLI_HELP_DB = 1 << 0,        /* --db, PENNYWORTH_DB, XDG_DATA_HOME */
    CLI_HELP_LOG = 1 << 1,       /* PENNYWORTH_LOG */
    CLI_HELP_ADMIN = 1 << 2,     /* PENNYWORTH_ADMIN_KEY, as serve takes it */
    CLI_HELP_ADMIN_URL = 1 << 3, /* PENNYWORTH_ADMIN_KEY, as --url sends it */
    CLI_HELP_PROVIDERS = 1 << 4, /* OPENAI_*, AWS_* */
    CLI_HELP_MCP = 1 << 5,       /* PENNYWORTH_MCP_STATE_KEY */
    CLI_HELP_TRACE = 1 << 6,     /* OTEL_* (serve's traces) */
};
void cli_help_reads(FILE *f, unsigned what);

int cli_catalog(int argc, char **argv);
int cli_stdio(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_keys(int argc, char **argv);
int cli_usage(int argc, char **argv);
int cli_backup(int argc, char **argv);
int cli_restore(int argc, char **argv);

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

/*
 * The configuration file's "server" member as serve arguments, parsed
 * before the command line (cli/serve_config.c), and its "access" member.
 * cli_config_flag finds --config FILE in argv (NULL: none);
 * cli_config_read fills *c (0, or 2 after a message on stderr; free it
 * with cli_config_free either way). `access` is borrowed from `doc`.
 */
struct cli_config {
    json_t *doc;
    int argc;
    char **argv;
    json_t *access;
    char numbers[64][24];
};
const char *cli_config_flag(int argc, char **argv);
int cli_config_read(const char *path, struct cli_config *c);
void cli_config_free(struct cli_config *c);

#endif
