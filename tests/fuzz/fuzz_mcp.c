/*
 * Fuzz target: MCP peer input, as `pennyworth stdio` reads it. The input is
 * what a client writes on stdin: newline-delimited JSON-RPC (CRLF, blank and
 * whitespace-only lines, a last line without a newline, batches), served
 * by the real stdio transport over a memfd into one fresh session of a
 * server with the demo catalog registered. So it covers the line framing,
 * the legacy revisions (an input that starts with initialize) and the
 * stateless 2026-07-28 requests (per-request `_meta`), including
 * requestState opening (mcp/mrtr.c) on tools/call, prompts/get and
 * resources/read.
 *
 * The server, its workers and the catalog database (in a scratch
 * directory) live for the whole process, as they do in production across
 * sessions; each input gets its own session, which pw_mcp_stdio_run frees
 * after answering everything still in flight. The requestState key is fixed
 * so that a crash reproduces. Answers go to /dev/null.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pennyworth/catalog.h"
#include "pennyworth/catalog_mcp.h"
#include "pennyworth/log.h"
#include "pennyworth/mcp.h"
#include "pennyworth/mcp_modern.h"

static struct pw_mcp_server *srv;
static struct pw_catalog_mcp *cm;
static int devnull = -1;

static void stop(void)
{
    pw_mcp_server_free(srv);
    pw_catalog_mcp_free(cm);
    close(devnull);
}

static void die(const char *what, const struct pw_error *err)
{
    fprintf(stderr, "fuzz_mcp: %s: %s\n", what, err->message);
    exit(1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char key[] = "fuzz-requestState-key";
    struct pw_error err = {0};
    char path[4200];
    snprintf(path, sizeof path, "%s/catalog.db", fuzz_scratch_dir());
    pw_log_set_level(PW_LOG_OFF);
    struct pw_catalog *cat = NULL;
    bool seeded = false;
    if (pw_catalog_open(path, 0, &cat, &err) != PW_OK ||
        pw_catalog_seed_demo(cat, &seeded, &err) != PW_OK)
        die("catalog", &err);
    pw_catalog_close(cat);
    struct pw_mcp_server_options o = {.name = "pennyworth", .version = "fuzz", .workers = 2};
    if (pw_mcp_server_new(&o, &srv, &err) != PW_OK ||
        pw_catalog_mcp_register(srv, path, &cm, &err) != PW_OK ||
        pw_mcp_server_set_state_key(srv, key, sizeof key - 1, &err) != PW_OK)
        die("server", &err);
    devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull < 0)
        abort();
    atexit(stop);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int in = memfd_create("fuzz-mcp", MFD_CLOEXEC);
    if (in < 0 || write(in, data, size) != (ssize_t)size || lseek(in, 0, SEEK_SET) != 0)
        abort();
    pw_mcp_stdio_run(srv, in, devnull, NULL, NULL, 0, 5000);
    close(in);
    return 0;
}
