/*
 * The part of every --help that says what a command reads besides its
 * options: the database (where it is now, and the rule that chose it) and
 * the environment variables, one row each in `vars` below, so a variable
 * is described once and every command that reads it shows the same line.
 * A command picks its rows with CLI_HELP_* bits (cli/cli.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/cli.h"

#include <string.h>

static const struct {
    unsigned what; /* the CLI_HELP_* bit that shows this row */
    const char *name;
    const char *text;
} vars[] = {
    {CLI_HELP_DB, "PENNYWORTH_DB", "the database when --db is not given"},
    {CLI_HELP_DB, "XDG_DATA_HOME", "else the database is $XDG_DATA_HOME/pennyworth/catalog.db"},
    {CLI_HELP_LOG, "PENNYWORTH_LOG", "log level on stderr: debug, info (default), warn,\n"
                                     "error or off"},
    {CLI_HELP_ADMIN, "PENNYWORTH_ADMIN_KEY", "the admin key: a bearer token the admin API\n"
                                             "(/admin/) accepts besides keys with the admin scope"},
    {CLI_HELP_ADMIN_URL, "PENNYWORTH_ADMIN_KEY", "sent to the server's admin API with --url"},
    {CLI_HELP_MCP, "PENNYWORTH_MCP_STATE_KEY", "secret (16+ characters) that signs MCP request\n"
                                               "state, so it survives a restart"},
    {CLI_HELP_PROVIDERS, "OPENAI_API_KEY", "key for openai/MODEL (and OpenAI deployments)"},
    {CLI_HELP_PROVIDERS, "OPENAI_BASE_URL", "another OpenAI-compatible endpoint"},
    {CLI_HELP_PROVIDERS, "AWS_REGION", "region for bedrock/MODEL (or AWS_DEFAULT_REGION)"},
    {CLI_HELP_PROVIDERS, "AWS_ACCESS_KEY_ID",
     "with AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN):\n"
     "Bedrock credentials; or AWS_BEARER_TOKEN_BEDROCK"},
    {CLI_HELP_PROVIDERS, "AWS_ENDPOINT_URL", "another Bedrock endpoint (or\n"
                                             "AWS_ENDPOINT_URL_BEDROCK_RUNTIME)"},
    {CLI_HELP_TRACE, "OTEL_EXPORTER_OTLP_ENDPOINT", "send traces (OTLP/HTTP JSON) to\n"
                                                    "ENDPOINT/v1/traces; unset: no tracing\n"
                                                    "(or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)"},
    {CLI_HELP_TRACE, "OTEL_EXPORTER_OTLP_HEADERS", "k=v,k2=v2 headers for the collector"},
    {CLI_HELP_TRACE, "OTEL_SERVICE_NAME", "service.name of the spans (pennyworth)"},
    {CLI_HELP_TRACE, "OTEL_SDK_DISABLED", "true: no tracing (or OTEL_TRACES_EXPORTER=none)"},
};

#define NVARS (sizeof vars / sizeof vars[0])
#define INDENT 28 /* where the descriptions start */

void cli_help_reads(FILE *f, unsigned what)
{
    if (what & CLI_HELP_DB) {
        char path[4096];
        const char *from = cli_db_default(path, sizeof path);
        fprintf(f, "\ndatabase (--db FILE, else $PENNYWORTH_DB, else the XDG data directory):\n"
                   "  %s\n  (without --db, from %s)\n", path, from);
    }
    bool header = false;
    for (size_t i = 0; i < NVARS; i++) {
        if (!(vars[i].what & what))
            continue;
        if (!header)
            fprintf(f, "\nenvironment:\n");
        header = true;
        fprintf(f, "  %-*s", INDENT - 2, vars[i].name);
        if (strlen(vars[i].name) >= INDENT - 3) /* a long name: its text on the next line */
            fprintf(f, "\n%*s", INDENT, "");
        /* Continuation lines of a description line up under its start. */
        for (const char *t = vars[i].text; *t; t++) {
            fputc(*t, f);
            if (*t == '\n')
                fprintf(f, "%*s", INDENT, "");
        }
        fputc('\n', f);
    }
}
