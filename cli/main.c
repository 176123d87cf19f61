/*
 * main(): dispatches `pennyworth SUBCOMMAND ...` through the command table.
 *
 * Global concerns live here and nowhere else: SIGPIPE is ignored (a peer
 * closing a socket or pipe is an ordinary error, not a reason to die) and
 * the log level comes from PENNYWORTH_LOG. --version names the git commit
 * too when the build knew it (access/meson.build records it).
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/cli.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "pennyworth/access.h"

static const struct cli_command commands[] = {
    {"stdio", "serve MCP over stdin/stdout (for clients that launch us)", cli_stdio},
    {"catalog", "import, search, export and inspect the product catalog", cli_catalog},
    {"serve", "serve MCP over WebSocket (/ws) and Streamable HTTP (/mcp)", cli_serve},
    {"keys", "create, list, show, revoke, rotate and audit API keys", cli_keys},
    {"usage", "requests, tokens and spend by key, model or day", cli_usage},
    {"backup", "copy the database to a file, online (safe while serving)", cli_backup},
    {"restore", "replace the database with a backup (with no server running)", cli_restore},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: pennyworth COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  --version  print the version (and the git commit it was built from)\n"
               "\nRun 'pennyworth COMMAND --help' for a command's options.\n");
    cli_help_reads(f, CLI_HELP_DB | CLI_HELP_LOG);
}

static void version(void)
{
    const char *commit = pw_access_git_commit();
    if (commit && *commit && strcmp(commit, "unknown") != 0)
        printf("pennyworth %s (commit %s)\n", PW_VERSION, commit);
    else
        printf("pennyworth %s\n", PW_VERSION);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        version();
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "pennyworth: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
