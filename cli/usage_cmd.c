/*
 * `pennyworth usage`: the usage records aggregated by key, model or day,
 * as a table or JSON, from the local database (--db) or a running server
 * (--url, GET /admin/usage/BY/SINCE with PENNYWORTH_ADMIN_KEY).
 *
 *   pennyworth usage [--by key|model|day] [--since 7d] [--json]
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/access.h"
#include "pennyworth/clock.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pennyworth usage [--by key|model|day] [--since DURATION] [--json]\n"
            "                        [--db FILE | --url URL]\n"
            "\n"
            "Requests, tokens, cost and latency from the usage records, grouped by key,\n"
            "model (default) or day, since DURATION ago (default 7d; e.g. 12h, 30d, 4w).\n"
            "--url reads a running server's /admin/usage with PENNYWORTH_ADMIN_KEY.\n");
    cli_help_reads(f, CLI_HELP_DB | CLI_HELP_LOG | CLI_HELP_ADMIN_URL);
}

static long long num(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static void row(const char *group, const json_t *r)
{
    const char *cost = json_string_value(json_object_get(r, "costUsd"));
    printf("%-28.28s  %9lld  %7lld  %12lld  %12lld  %10lld  %14s  %9lld\n", group,
           num(r, "requests"), num(r, "errors"), num(r, "promptTokens"),
           num(r, "completionTokens"), num(r, "cachedTokens"), cost ? cost : "0.000000",
           num(r, "avgLatencyMs"));
}

static void table(const json_t *rep)
{
    const char *by = json_string_value(json_object_get(rep, "by"));
    printf("usage by %s since %s\n\n", by ? by : "?",
           json_string_value(json_object_get(rep, "since")) ?
           json_string_value(json_object_get(rep, "since")) : "?");
    char head[16];
    snprintf(head, sizeof head, "%s", by ? by : "group");
    for (char *p = head; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    printf("%-28s  %9s  %7s  %12s  %12s  %10s  %14s  %9s\n", head, "REQUESTS", "ERRORS",
           "PROMPT", "COMPLETION", "CACHED", "COST USD", "AVG MS");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(rep, "rows"), i, r)
        row(json_string_value(json_object_get(r, "group")), r);
    printf("%.*s\n", 114, "----------------------------------------------------------------"
                          "--------------------------------------------------");
    row("total", json_object_get(rep, "total"));
}

int cli_usage(int argc, char **argv)
{
    enum { O_BY = 256, O_SINCE, O_JSON, O_DB, O_URL, O_HELP };
    static const struct option longopts[] = {
        {"by", required_argument, NULL, O_BY},
        {"since", required_argument, NULL, O_SINCE},
        {"json", no_argument, NULL, O_JSON},
        {"db", required_argument, NULL, O_DB},
        {"url", required_argument, NULL, O_URL},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *by_s = "model", *since_s = "7d", *db = NULL, *url = NULL;
    bool json = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_BY: by_s = optarg; break;
        case O_SINCE: since_s = optarg; break;
        case O_JSON: json = true; break;
        case O_DB: db = optarg; break;
        case O_URL: url = optarg; break;
        case O_HELP: usage(stdout); return 0;
        default:
            fprintf(stderr, "pennyworth usage: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    enum pw_access_usage_by by;
    int64_t since_ms;
    if (optind < argc || !pw_access_usage_by_parse(by_s, &by) ||
        !pw_access_duration_parse(since_s, &since_ms) || (db && url)) {
        usage(stderr);
        return 2;
    }
    json_t *rep = NULL;
    if (url) {
        char path[128];
        snprintf(path, sizeof path, "/admin/usage/%s/%s", by_s, since_s);
        if (cli_admin_call(url, "GET", path, NULL, &rep) != 0)
            return 1;
    } else {
        char *path = cli_db_path(db);
        struct pw_access_options ao = {.db_path = path};
        struct pw_access *acc = NULL;
        struct pw_error err = {0};
        enum pw_err rc = path ? pw_access_open(&ao, &acc, &err) : PW_ERR_NOMEM;
        if (!rc)
            rc = pw_access_usage_report(acc, by, pw_clock_wall_ms() - since_ms, &rep, &err);
        pw_access_close(acc);
        free(path);
        if (rc) {
            fprintf(stderr, "pennyworth usage: %s\n", err.code ? err.message : "out of memory");
            return 1;
        }
    }
    if (json) {
        char *s = json_dumps(rep, JSON_INDENT(2));
        if (s)
            printf("%s\n", s);
        free(s);
    } else {
        table(rep);
    }
    json_decref(rep);
    return 0;
}
