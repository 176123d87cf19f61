/*
 * `pennyworth serve`: the network server. One libwebsockets loop carries, as
 * rows of one route table behind one request pipeline (server/pipeline.c):
 * MCP over WebSocket (/ws) and Streamable HTTP (/mcp) for the product
 * catalog, the OpenAI-compatible API (/v1/...), the gateway's admin, health
 * and metrics routes, and the storefront page (/).
 *
 * Wiring, all on this (the service, and MCP loop) thread:
 *   catalog db (seeded with the demo catalog when empty)
 *   access (keys, limits, usage; open mode only on loopback or with
 *     --allow-open): the server's admission filter (route classes: /v1
 *     chat, /mcp mcp, /admin/ admin), the WebSocket gate, the bridge's
 *     questions about a caller, and /admin/, /metrics, /health... routes
 *   MCP engine + catalog tool set
 *   server routes: mcp/ws.c, mcp/http.c, bridge/api.c, access/, the page
 *   engine waker (worker threads) -> pw_server_wake -> lws_cancel_service
 *     -> LWS_CALLBACK_EVENT_WAIT_CANCELLED -> pw_mcp_server_dispatch
 *   a 50 ms timer -> pw_mcp_server_tick + pw_catalog_mcp_poll
 *   SIGTERM/SIGINT -> pw_server_stop (a write(2) to a pipe) -> graceful stop
 *   traces (OTEL_EXPORTER_OTLP_* set): the exporter thread, started first
 *     and flushed last, once nothing records spans any more
 *
 * Teardown order matters: the loop closes every connection before
 * pw_server_run returns; then the transports end their sessions, the
 * engine stops its workers (which may still be running catalog handlers),
 * then the catalog tool set goes, and only then is the server freed (a
 * late waker call from a worker finds no context and does nothing).
 *
 * Exit status: 0 after a clean stop, 1 when the server could not start,
 * 2 for a usage error.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/access.h"
#include "pennyworth/bridge.h"
#include "pennyworth/catalog_mcp.h"
#include "pennyworth/log.h"
#include "pennyworth/mcp.h"
#include "pennyworth/mcp_net.h"
#include "pennyworth/server.h"
#include "pennyworth/trace.h"

#define MAX_ORIGINS 32

static struct pw_server *signal_server; /* for the signal handler */

static void on_signal(int sig)
{
    (void)sig;
    if (signal_server)
        pw_server_stop(signal_server); /* async-signal-safe */
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pennyworth serve [OPTIONS]\n"
            "\n"
            "Serves the product catalog over MCP (WebSocket ws://HOST:PORT/ws with the\n"
            "subprotocol \"mcp\", Streamable HTTP http://HOST:PORT/mcp), the OpenAI-\n"
            "compatible API with catalog context (http://HOST:PORT/v1), the storefront\n"
            "chat page (http://HOST:PORT/), /metrics, /health and the admin API\n"
            "(/admin/). Without API keys it serves open, on loopback only.\n"
            "\n"
            "options:\n"
            "  --listen HOST:PORT     address to listen on (default %s:%d;\n"
            "                         port 0 picks a free one; '*' = every interface)\n"
            "  --db FILE              catalog database (default: PENNYWORTH_DB or the\n"
            "                         XDG data directory); seeded with the demo catalog\n"
            "                         when empty\n"
            "  --tls-cert FILE        PEM certificate: serve https and wss only\n"
            "  --tls-key FILE         PEM private key for --tls-cert\n"
            "  --allow-origin ORIGIN  also allow this browser Origin (repeatable; '*' = any);\n"
            "                         the OpenAI-compatible API answers its pages with CORS\n"
            "                         headers (--cors-origin is the same option)\n"
            "  --max-body BYTES       request body limit (default 6291456)\n"
            "  --max-body-memory BYTES  request bodies held at once, all clients together;\n"
            "                         past it a request gets 503 (default 134217728)\n"
            "  --body-timeout SECONDS a request body must arrive within this (default 60)\n"
            "  --session-idle SECONDS end HTTP sessions idle this long (default 1800)\n"
            "  --sse-poll-ms MS       close SSE connections of 2025-11-25 sessions after MS\n"
            "                         so clients poll with Last-Event-ID (default 0 = never)\n"
            "  --sse-retry-ms MS      the retry hint sent before such a close (default 1000)\n"
            "  --grace-ms MS          how long a stop waits for work in flight (default 5000)\n"
            "  --ws-ping SECONDS      ping idle WebSockets after this long; drop them after\n"
            "                         twice that without a pong (default 30)\n"
            "  --web-root DIR         serve the storefront page at / from DIR (default: the\n"
            "                         web/ directory built or installed with pennyworth)\n"
            "  --config FILE          the configuration file (JSON): \"server\" holds these\n"
            "                         flags' settings (a flag given here wins), \"access\"\n"
            "                         access's, the rest the LLM bridge's (model aliases,\n"
            "                         deployments; docs/guide/configuration.md); without\n"
            "                         one openai/NAME and bedrock/MODEL_ID route by\n"
            "                         prefix with credentials from the environment; with\n"
            "                         none, the offline model pennyworth-offline lists the\n"
            "                         catalog's matches (no LLM)\n"
            "  --allow-open           serve without API keys on a non-loopback address\n"
            "  --access-config FILE   tiers, the per-IP limit, prices and usage retention\n"
            "                         (JSON; over the configuration file's \"access\")\n"
            "  --ip-limit N[/WINDOW]  refuse a client address (429) once it has failed\n"
            "                         authentication N times in WINDOW (e.g. 100/5m; 0 = off;\n"
            "                         default 2000/5m or --access-config's ipLimit);\n"
            "                         authenticated requests never count\n"
            "  --access-log           one JSON line per request on stderr (request id,\n"
            "                         route, status, latency, key id, model, tokens)\n"
            "  --cache-ttl SECONDS    answer identical non-streamed requests at temperature 0\n"
            "                         from memory for this long (default 0 = no cache)\n"
            "  --help                 this text\n",
            PW_SERVER_DEFAULT_HOST, PW_SERVER_DEFAULT_PORT);
    cli_help_reads(f, CLI_HELP_DB | CLI_HELP_LOG | CLI_HELP_ADMIN | CLI_HELP_MCP |
                          CLI_HELP_PROVIDERS | CLI_HELP_TRACE);
}

/* Parses a non-negative decimal number no larger than max. */
static bool parse_num(const char *s, long long max, long long *out)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno || v > max)
        return false;
    *out = v;
    return true;
}

struct serve_opts {
    char host[256];
    int port;
    const char *db;
    const char *config; /* LLM bridge (--config) */
    const char *tls_cert, *tls_key;
    const char *origins[MAX_ORIGINS];
    size_t norigins;
    long long max_body, body_memory, body_timeout_s, idle_s, poll_ms, retry_ms, grace_ms, ping_s;
    const char *web_root;
    bool allow_open;    /* no keys and not loopback: serve anyway */
    const char *access_config;
    bool ip_limit_set;  /* --ip-limit given: over the access configuration's */
    struct pw_access_ip_limit ip_limit;
    long long cache_s;  /* response cache TTL (0: no cache) */
    bool access_log;    /* a JSON line per request on stderr */
};

/* 0 ok, 1 --help shown, 2 usage error. Options already in *o (from the
 * configuration file's "server" member) are the defaults: a flag given
 * here replaces them (--allow-origin adds to them). */
static int parse_args(int argc, char **argv, struct serve_opts *o)
{
    enum { O_LISTEN = 256, O_DB, O_CERT, O_KEY, O_ORIGIN, O_BODY, O_IDLE, O_POLL, O_RETRY,
           O_GRACE, O_PING, O_HELP, O_WEB_ROOT,
           O_CONFIG, O_ALLOW_OPEN, O_ACCESS_CONFIG, O_CACHE, O_IP_LIMIT, O_BODY_MEMORY,
           O_BODY_TIMEOUT, O_ACCESS_LOG };
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"db", required_argument, NULL, O_DB},
        {"tls-cert", required_argument, NULL, O_CERT},
        {"tls-key", required_argument, NULL, O_KEY},
        {"allow-origin", required_argument, NULL, O_ORIGIN},
        {"cors-origin", required_argument, NULL, O_ORIGIN},
        {"max-body", required_argument, NULL, O_BODY},
        {"max-body-memory", required_argument, NULL, O_BODY_MEMORY},
        {"body-timeout", required_argument, NULL, O_BODY_TIMEOUT},
        {"session-idle", required_argument, NULL, O_IDLE},
        {"sse-poll-ms", required_argument, NULL, O_POLL},
        {"sse-retry-ms", required_argument, NULL, O_RETRY},
        {"grace-ms", required_argument, NULL, O_GRACE},
        {"ws-ping", required_argument, NULL, O_PING},
        {"help", no_argument, NULL, O_HELP},
        {"config", required_argument, NULL, O_CONFIG},
        {"web-root", required_argument, NULL, O_WEB_ROOT},
        {"allow-open", no_argument, NULL, O_ALLOW_OPEN},
        {"access-config", required_argument, NULL, O_ACCESS_CONFIG},
        {"cache-ttl", required_argument, NULL, O_CACHE},
        {"ip-limit", required_argument, NULL, O_IP_LIMIT},
        {"access-log", no_argument, NULL, O_ACCESS_LOG},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        struct pw_error err = {0};
        long long *num = NULL;
        long long max = 0;
        switch (c) {
        case O_LISTEN: {
            char host[256] = "";
            if (pw_server_parse_listen(optarg, host, sizeof host, &o->port, &err) != PW_OK) {
                fprintf(stderr, "pennyworth serve: --listen: %s\n", err.message);
                return 2;
            }
            if (host[0])
                snprintf(o->host, sizeof o->host, "%s", host);
            break;
        }
        case O_DB: o->db = optarg; break;
        case O_CONFIG: o->config = optarg; break;
        case O_CERT: o->tls_cert = optarg; break;
        case O_KEY: o->tls_key = optarg; break;
        case O_ORIGIN:
            if (o->norigins == MAX_ORIGINS) {
                fprintf(stderr, "pennyworth serve: at most %d --allow-origin\n", MAX_ORIGINS);
                return 2;
            }
            o->origins[o->norigins++] = optarg;
            break;
        case O_BODY: num = &o->max_body; max = (long long)1 << 31; break;
        case O_BODY_MEMORY: num = &o->body_memory; max = (long long)1 << 40; break;
        case O_BODY_TIMEOUT: num = &o->body_timeout_s; max = 3600; break;
        case O_IDLE: num = &o->idle_s; max = 86400 * 30; break;
        case O_POLL: num = &o->poll_ms; max = 86400000; break;
        case O_RETRY: num = &o->retry_ms; max = 3600000; break;
        case O_GRACE: num = &o->grace_ms; max = 600000; break;
        case O_PING: num = &o->ping_s; max = 3600; break;
        case O_CACHE: num = &o->cache_s; max = 86400; break;
        case O_HELP: usage(stdout); return 1;
        case O_WEB_ROOT: o->web_root = optarg; break;
        case O_ALLOW_OPEN: o->allow_open = true; break;
        case O_ACCESS_LOG: o->access_log = true; break;
        case O_ACCESS_CONFIG: o->access_config = optarg; break;
        case O_IP_LIMIT:
            if (!pw_access_ip_limit_parse(optarg, &o->ip_limit)) {
                fprintf(stderr, "pennyworth serve: --ip-limit: expected N or N/WINDOW "
                                "(e.g. 100/5m, WINDOW 1s to 1d), not '%s'\n", optarg);
                return 2;
            }
            o->ip_limit_set = true;
            break;
        default:
            fprintf(stderr, "pennyworth serve: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            usage(stderr);
            return 2;
        }
        if (num && !parse_num(optarg, max, num)) {
            fprintf(stderr, "pennyworth serve: bad number '%s' for %s\n", optarg,
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pennyworth serve: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!o->tls_cert != !o->tls_key) {
        fprintf(stderr, "pennyworth serve: --tls-cert and --tls-key go together\n");
        return 2;
    }
    return 0;
}

static void on_wake(void *ud) { pw_mcp_server_dispatch(ud); }

/* The bridge's circuit breakers for /api/v1/health/ready. */
static size_t circuits(void *ud, struct pw_access_provider_state *out, size_t max)
{
    struct pw_bridge_circuit c[64];
    size_t cap = max < 64 ? max : 64;
    size_t n = pw_bridge_circuits(ud, c, cap);
    if (n > cap)
        n = cap;
    for (size_t i = 0; i < n; i++)
        out[i] = (struct pw_access_provider_state){c[i].deployment, c[i].open};
    return n;
}
static void wake(void *ud) { pw_server_wake(ud); } /* any thread */

struct ticker {
    struct pw_mcp_server *mcp;
    struct pw_catalog_mcp *cm;
};

static void on_tick(void *ud)
{
    struct ticker *t = ud;
    pw_mcp_server_tick(t->mcp);
    pw_catalog_mcp_poll(t->cm);
}

/* The storefront page at "/" (a prefix row: /ws, /mcp and /v1/ are longer
 * and still win): --web-root, else the web/ directory shipped with the
 * binary; without one the server runs with MCP and the API only. */
static enum pw_err attach_web(struct pw_server *srv, const char *dir,
                              struct pw_server_static **out, struct pw_error *err)
{
    char found[4096];
    if (!dir) {
        struct pw_error miss = {0};
        if (pw_server_static_locate("web", found, sizeof found, &miss) != PW_OK) {
            pw_warn("serve: no storefront page (%s); pass --web-root DIR", miss.message);
            return PW_OK;
        }
        dir = found;
    }
    struct pw_server_static_options wo = {.prefix = "/", .dir = dir};
    enum pw_err rc = pw_server_add_static(srv, &wo, out, err);
    if (rc == PW_OK)
        pw_info("serve: storefront page at / from %s", pw_server_static_root(*out));
    return rc;
}

static int serve(struct serve_opts *opts, json_t *file_access);

int cli_serve(int argc, char **argv)
{
    struct serve_opts o;
    memset(&o, 0, sizeof o);
    snprintf(o.host, sizeof o.host, "%s", PW_SERVER_DEFAULT_HOST);
    o.port = PW_SERVER_DEFAULT_PORT;
    /* The configuration file's "server" settings first, then the flags. */
    struct cli_config file = {0};
    const char *path = cli_config_flag(argc, argv);
    int rc = path ? cli_config_read(path, &file) : 0;
    if (!rc && file.argc > 1)
        rc = parse_args(file.argc, file.argv, &o);
    if (!rc)
        rc = parse_args(argc, argv, &o);
    if (rc) {
        cli_config_free(&file);
        return rc == 1 ? 0 : rc;
    }
    rc = serve(&o, file.access);
    cli_config_free(&file);
    return rc;
}

/* Runs the server with the options parsed; `file_access` is the
 * configuration file's "access" member (borrowed; --access-config wins). */
static int serve(struct serve_opts *opts, json_t *file_access)
{
    struct serve_opts o = *opts;

    char *db = cli_db_path(o.db);
    if (!db || cli_prepare_catalog(db, true) != 0) {
        free(db);
        return 1;
    }
    int status = 1;
    struct pw_error err = {0};
    struct pw_mcp_server *mcp = NULL;
    struct pw_catalog_mcp *cm = NULL;
    struct pw_server *srv = NULL;
    struct pw_mcp_ws *ws = NULL;
    struct pw_mcp_http *http = NULL;
    struct pw_bridge *bridge = NULL; /* the OpenAI-compatible API (/v1/...) */
    struct pw_server_static *web = NULL;
    struct pw_access *acc = NULL; /* keys, limits, usage, /metrics, /admin/ */
    struct pw_trace *tracer = NULL; /* NULL unless an OTLP endpoint is set */
    struct ticker ticker;

    struct pw_mcp_server_options mo = {
        .name = "pennyworth",
        .title = "Pennyworth",
        .version = PW_VERSION,
        .instructions = "Product catalog tools: search, look up, compare and check stock.",
    };
    if (pw_trace_new_from_env(&tracer, &err) != PW_OK ||
        pw_mcp_server_new(&mo, &mcp, &err) != PW_OK ||
        pw_catalog_mcp_register(mcp, db, &cm, &err) != PW_OK)
        goto out;
    /* Access control before anything binds: no usable key is open mode,
     * which only a loopback address (or --allow-open) may serve. */
    json_t *aconf = o.access_config ? NULL : json_incref(file_access);
    if (o.access_config) {
        json_error_t je;
        if (!(aconf = json_load_file(o.access_config, JSON_REJECT_DUPLICATES, &je))) {
            pw_error_set(&err, PW_ERR_PARSE, NULL, "%s:%d: %s", o.access_config, je.line,
                         je.text);
            goto out;
        }
    }
    struct pw_access_options ao = {.db_path = db, .writer = true, .config = aconf,
                                   .ip_limit = o.ip_limit_set ? &o.ip_limit : NULL};
    enum pw_err arc = pw_access_open(&ao, &acc, &err);
    json_decref(aconf);
    if (arc != PW_OK ||
        pw_access_check_open(acc, o.host, o.allow_open, &err) != PW_OK)
        goto out;
    struct pw_bridge_hooks hooks;
    pw_access_bridge_hooks(acc, &hooks);
    /* The LLM bridge: its configuration is checked before anything binds. */
    struct pw_bridge_options bo = {.config_path = o.config, .mcp = mcp, .hooks = &hooks,
                                   .cache_ttl_ms = o.cache_s * 1000,
                                   .admit_class = PW_ACCESS_ROUTE_CHAT};
    if (pw_bridge_new(&bo, &bridge, &err) != PW_OK)
        goto out;

    struct pw_server_options so = {
        .host = o.host,
        .port = o.port,
        .tls_cert = o.tls_cert,
        .tls_key = o.tls_key,
        .allow_origins = o.origins,
        .n_allow_origins = o.norigins,
        .max_body = (size_t)o.max_body,
        .max_body_memory = (size_t)o.body_memory,
        .body_timeout_s = (int)o.body_timeout_s,
        .grace_ms = (int)o.grace_ms,
        .ws_ping_s = (int)o.ping_s,
        .access_log = o.access_log,
    };
    if (pw_server_new(&so, &srv, &err) != PW_OK)
        goto out;
    /* From here a signal means a graceful stop (kept in the stop pipe until
     * the loop runs); handlers go in before the address is announced, so a
     * client that saw it can always stop us cleanly. */
    signal_server = srv;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct pw_mcp_http_options ho = {
        .idle_timeout_s = (int)o.idle_s,
        .sse_poll_ms = (int)o.poll_ms,
        .sse_retry_ms = (int)o.retry_ms,
    };
    ticker.mcp = mcp;
    ticker.cm = cm;
    struct pw_mcp_gate gate;
    pw_access_mcp_gate(acc, &gate);
    ho.admit_class = PW_ACCESS_ROUTE_MCP;
    struct pw_mcp_ws_options wso = {.gate = &gate};
    if (pw_mcp_ws_attach(srv, mcp, &wso, &ws, &err) != PW_OK ||
        pw_mcp_http_attach(srv, mcp, &ho, &http, &err) != PW_OK ||
        pw_server_on_wake(srv, on_wake, mcp, &err) != PW_OK ||
        pw_server_add_timer(srv, PW_CATALOG_MCP_POLL_MS, on_tick, &ticker, &err) != PW_OK)
        goto out;
    pw_mcp_server_set_waker(mcp, wake, srv);
    /* The bridge after MCP: its wake hook runs after the engine's dispatch. */
    if (pw_bridge_attach(bridge, srv, &err) != PW_OK ||
        pw_access_attach(acc, srv,
                         &(struct pw_access_routes){.circuits = circuits, .circuits_ud = bridge},
                         &err) != PW_OK)
        goto out;
    if (attach_web(srv, o.web_root, &web, &err) != PW_OK)
        goto out;
    if (pw_server_listen(srv, &err) != PW_OK)
        goto out;

    const char *scheme = pw_server_tls(srv) ? "https" : "http";
    const char *shown = o.host[0] ? o.host : "*";
    bool v6 = strchr(shown, ':') != NULL;
    printf("pennyworth: listening on %s://%s%s%s:%d (MCP: /ws, /mcp)\n", scheme,
           v6 ? "[" : "", shown, v6 ? "]" : "", pw_server_port(srv));
    char model[PW_BRIDGE_MODEL_MAX];
    pw_bridge_default_model(bridge, model, sizeof model);
    struct cli_banner banner = {
        .host = o.host, .port = pw_server_port(srv), .tls = pw_server_tls(srv), .db = db,
        .model = model, .offline = strcmp(model, PW_BRIDGE_OFFLINE_MODEL) == 0,
        .keys = pw_access_key_count(acc) > 0,
    };
    cli_banner(stdout, &banner);
    fflush(stdout);
    pw_info("serve: listening on %s://%s%s%s:%d; catalog %s", scheme, v6 ? "[" : "", shown,
            v6 ? "]" : "", pw_server_port(srv), db);

    if (pw_server_run(srv, &err) == PW_OK)
        status = 0;
    pw_info("serve: stopped");
out:
    if (signal_server) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGTERM, &dfl, NULL);
        sigaction(SIGINT, &dfl, NULL);
        signal_server = NULL;
    }
    if (status && err.code)
        fprintf(stderr, "pennyworth serve: %s\n", err.message);
    pw_mcp_http_free(http);
    pw_mcp_ws_free(ws);
    /* The bridge before the engine: it holds an in-process MCP session. */
    pw_bridge_free(bridge);
    /* Results that workers posted after the loop stopped: their sessions are
     * gone, so delivering them only releases them. */
    if (mcp)
        pw_mcp_server_dispatch(mcp);
    /* The engine first: it joins its workers, which may still be running
     * catalog handlers on the tool set's connections. */
    if (mcp)
        pw_mcp_server_free(mcp);
    if (cm)
        pw_catalog_mcp_free(cm);
    pw_server_free(srv);
    pw_server_static_free(web);
    /* Last: the bridge's usage hook and the routes use it until here; this
     * commits the usage records still queued. */
    pw_access_close(acc);
    pw_trace_free(tracer); /* bounded: what is queued gets about 2 s */
    free(db);
    return status;
}
