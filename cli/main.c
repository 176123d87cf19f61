/*
 * main(): dispatches `pennyworth SUBCOMMAND ...` through the command table.
 *
 * Global concerns live here and nowhere else: SIGPIPE is ignored (a peer
 * closing a socket or pipe is an ordinary error, not a reason to die) and
 * the log level comes from PENNYWORTH_LOG.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/cli.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static const struct cli_command commands[] = {
    {"stdio", "serve MCP over stdin/stdout (for clients that launch us)", cli_stdio},
    {"catalog", "import, search, export and inspect the product catalog", cli_catalog},
    {"serve", "serve MCP over WebSocket (/ws) and Streamable HTTP (/mcp)", cli_serve},
    {"keys", "create, list, show, revoke, rotate and audit API keys", cli_keys},
    {"usage", "requests, tokens and spend by key, model or day", cli_usage},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: pennyworth COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'pennyworth COMMAND --help' for a command's options.\n");
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
        printf("pennyworth %s\n", PW_VERSION);
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "pennyworth: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
