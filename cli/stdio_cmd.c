/*
 * `pennyworth stdio`: the catalog served over MCP on stdin/stdout, for
 * clients that launch us (Claude Desktop, IDEs, agents on the SDKs).
 *
 * Start-up opens the database read-write once to migrate it and, when it is
 * empty, seed the embedded demo catalog; from then on the server only reads
 * (per-worker read-only connections) and watches the change log. stdout
 * carries protocol messages only; every log line goes to stderr.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pennyworth/catalog.h"
#include "pennyworth/catalog_mcp.h"
#include "pennyworth/log.h"
#include "pennyworth/mcp.h"

/* Opens the catalog read-write once: migrations, and the demo seed. */
int cli_prepare_catalog(const char *path, bool seed)
{
    struct pw_catalog *cat = NULL;
    struct pw_error err = {0};
    if (pw_catalog_open(path, 0, &cat, &err) != PW_OK) {
        fprintf(stderr, "pennyworth: %s: %s\n", path, err.message);
        return 1;
    }
    bool seeded = false;
    if (seed && pw_catalog_seed_demo(cat, &seeded, &err) != PW_OK) {
        fprintf(stderr, "pennyworth: %s: seeding the demo catalog: %s\n", path, err.message);
        pw_catalog_close(cat);
        return 1;
    }
    if (seeded)
        pw_info("catalog: %s was empty; loaded the demo catalog", path);
    pw_catalog_close(cat);
    return 0;
}

static void poll_catalog(void *ud) { pw_catalog_mcp_poll(ud); }

static void usage(FILE *f)
{
    fprintf(f, "usage: pennyworth stdio [--db FILE] [--no-demo] [--workers N]\n\n"
               "Serves the catalog over MCP on stdin/stdout (newline-delimited JSON-RPC).\n"
               "  --db FILE     the catalog database (default: $PENNYWORTH_DB, else the data dir)\n"
               "  --no-demo     do not load the demo catalog into an empty database\n"
               "  --workers N   threads for catalog queries (default 2)\n"
               "  --help        this text\n");
    cli_help_reads(f, CLI_HELP_DB | CLI_HELP_LOG | CLI_HELP_MCP);
}

int cli_stdio(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"no-demo", no_argument, NULL, 'n'},
        {"workers", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL;
    bool seed = true;
    long workers = 2;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'n':
            seed = false;
            break;
        case 'w':
            workers = strtol(optarg, &end, 10);
            if (*end || workers < 1 || workers > 64) {
                fprintf(stderr, "pennyworth stdio: --workers must be 1..64\n");
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    char *path = cli_db_path(db);
    if (!path || cli_prepare_catalog(path, seed) != 0) {
        free(path);
        return 1;
    }
    struct pw_mcp_server_options o = {
        .name = "pennyworth",
        .title = "Pennyworth catalog",
        .version = PW_VERSION,
        .instructions = "Product catalog tools: search_products finds products by text and "
                        "filters; get_product, compare_products and check_availability work "
                        "on product ids from search results.",
        .workers = (int)workers,
    };
    struct pw_mcp_server *srv = NULL;
    struct pw_catalog_mcp *cm = NULL;
    struct pw_error err = {0};
    int rc = 1;
    if (pw_mcp_server_new(&o, &srv, &err) != PW_OK ||
        pw_catalog_mcp_register(srv, path, &cm, &err) != PW_OK) {
        fprintf(stderr, "pennyworth stdio: %s\n", err.message);
    } else {
        rc = pw_mcp_stdio_run(srv, STDIN_FILENO, STDOUT_FILENO, poll_catalog, cm,
                              PW_CATALOG_MCP_POLL_MS, 10000);
    }
    pw_mcp_server_free(srv);
    pw_catalog_mcp_free(cm);
    free(path);
    return rc;
}
