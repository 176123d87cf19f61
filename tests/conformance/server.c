/*
 * conformance-server: the MCP engine with the conformance suite's fixtures
 * (conformance.h), served over Streamable HTTP at /mcp on one
 * libwebsockets loop. tests/conformance/run.mjs starts it on an ephemeral
 * port and points the official suite (@modelcontextprotocol/conformance,
 * server mode) at the address it prints:
 *
 *   conformance-server: listening on http://127.0.0.1:PORT/mcp
 *
 * Usage: conformance-server [--listen HOST:PORT]   (default 127.0.0.1:0)
 *
 * The wiring is the product's own, from the public APIs: the engine's
 * waker wakes the server loop, which dispatches the engine's work; a timer
 * ticks the engine's deadlines; SIGTERM/SIGINT stop the loop gracefully.
 * Streamable HTTP runs with SEP-1699 polling on: SSE connections of
 * 2025-11-25 sessions are closed after POLL_MS with a retry hint, so a
 * call that outlives that (test_reconnection) is resumed by the client
 * with Last-Event-ID, exactly as any long call would be in production
 * with `pennyworth serve --sse-poll-ms`.
 *
 * Teardown order: the loop has closed every connection when pw_server_run
 * returns; then the transport ends its sessions, the engine joins its
 * workers, and only then is the server freed.
 *
 * Exit status: 0 after a clean stop, 1 when the server could not start, 2
 * for a usage error.
 *
 * SPDX-License-Identifier: MIT
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "pennyworth/mcp.h"
#include "pennyworth/mcp_net.h"
#include "pennyworth/server.h"
#include "tests/conformance/conformance.h"

#define TICK_MS 50
/* test_reconnection (tools.c) runs for 1.5 x POLL_MS: its POST is closed
 * after POLL_MS (plus up to one sweep), and its answer is due while the
 * client's resumed GET is still connected (its own close comes POLL_MS
 * after it attached). */
#define POLL_MS 2000
#define RETRY_MS 500

static struct pw_server *signal_server;

static void on_signal(int sig)
{
    (void)sig;
    if (signal_server)
        pw_server_stop(signal_server); /* async-signal-safe */
}

static void on_wake(void *ud) { pw_mcp_server_dispatch(ud); }
static void wake(void *ud) { pw_server_wake(ud); } /* any thread */
static void on_tick(void *ud) { pw_mcp_server_tick(ud); }

/* 0 ok, 2 usage error. */
static int parse_args(int argc, char **argv, char *host, size_t hostlen, int *port)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            struct pw_error err = {0};
            if (pw_server_parse_listen(argv[++i], host, hostlen, port, &err) != PW_OK) {
                fprintf(stderr, "conformance-server: --listen: %s\n", err.message);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: conformance-server [--listen HOST:PORT]\n");
            return 2;
        }
    }
    return 0;
}

static void handle_signals(void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

int main(int argc, char **argv)
{
    char host[256] = PW_SERVER_DEFAULT_HOST;
    int port = 0;
    int rc = parse_args(argc, argv, host, sizeof host, &port);
    if (rc)
        return rc;

    int status = 1;
    struct pw_error err = {0};
    struct pw_mcp_server *mcp = NULL;
    struct pw_server *srv = NULL;
    struct pw_mcp_http *http = NULL;
    struct pw_mcp_server_options mo = {
        .name = "pennyworth-conformance",
        .title = "Pennyworth conformance fixtures",
        .version = PW_VERSION,
    };
    if (pw_mcp_server_new(&mo, &mcp, &err) != PW_OK || conf_add_tools(mcp, &err) != PW_OK ||
        conf_add_resources(mcp, &err) != PW_OK || conf_add_prompts(mcp, &err) != PW_OK ||
        conf_add_modern(mcp, &err) != PW_OK)
        goto out;
    struct pw_server_options so = {.host = host, .port = port};
    if (pw_server_new(&so, &srv, &err) != PW_OK)
        goto out;
    signal_server = srv;
    handle_signals(on_signal);
    struct pw_mcp_http_options ho = {.sse_poll_ms = POLL_MS, .sse_retry_ms = RETRY_MS};
    if (pw_mcp_http_attach(srv, mcp, &ho, &http, &err) != PW_OK ||
        pw_server_on_wake(srv, on_wake, mcp, &err) != PW_OK ||
        pw_server_add_timer(srv, TICK_MS, on_tick, mcp, &err) != PW_OK)
        goto out;
    pw_mcp_server_set_waker(mcp, wake, srv);
    if (pw_server_listen(srv, &err) != PW_OK)
        goto out;
    bool v6 = strchr(host, ':') != NULL;
    printf("conformance-server: listening on http://%s%s%s:%d/mcp\n", v6 ? "[" : "", host,
           v6 ? "]" : "", pw_server_port(srv));
    fflush(stdout);
    if (pw_server_run(srv, &err) == PW_OK)
        status = 0;
out:
    if (signal_server) {
        handle_signals(SIG_DFL);
        signal_server = NULL;
    }
    if (status && err.code)
        fprintf(stderr, "conformance-server: %s\n", err.message);
    pw_mcp_http_free(http);
    if (mcp) {
        pw_mcp_server_dispatch(mcp); /* results posted after the loop stopped */
        pw_mcp_server_free(mcp);
    }
    pw_server_free(srv);
    return status;
}
