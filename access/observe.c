/*
 * The gateway's metric families, request ids and per-request log lines.
 *
 * Families (default registry, registered on first use; `route` labels are
 * route patterns such as "/v1/chat/completions", never raw paths, so their
 * number stays small):
 *   pennyworth_http_requests_total{route,status}
 *   pennyworth_http_request_duration_seconds{route}         histogram
 *   pennyworth_gateway_overhead_seconds{route}              total - upstream
 *   pennyworth_upstream_duration_seconds{provider,model}    histogram
 *   pennyworth_tokens_total{model,kind}                     prompt|completion|cached
 *   pennyworth_spend_usd_total{model}
 *   pennyworth_ratelimit_refusals_total{limit}              ip|requests|tokens
 *   pennyworth_budget_refusals_total
 *   pennyworth_auth_failures_total{reason}                  missing|malformed|...
 *   pennyworth_mcp_sessions{transport}                      gauge
 *   pennyworth_mcp_requests_total{method}
 *   pennyworth_circuit_open{provider}                       gauge, 1 = open
 *   pennyworth_usage_dropped_total, pennyworth_usage_queue_records
 *   pennyworth_build_info{version,commit}                   gauge, always 1
 *
 * Labels a client can reach stay few and short. `method` is one of the MCP
 * method names below or "other": a JSON-RPC method is whatever string the
 * client sent, and the engine's own tables are private to mcp/ (and split
 * between the session-era and modern methods), so the names are listed
 * here. Families labelled by model, provider or route get a series cap of
 * CLIENT_SERIES (pw_metric_limit) on top of the registry's bounds (values
 * cut to PW_METRICS_MAX_VALUE bytes, overflow into "other"), and an HTTP
 * status outside 100..599 is counted as "other".
 *
 * Log lines are one JSON object each on stderr, written with one write(2)
 * (lines of concurrent requests never interleave), at the info level.
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pennyworth/encode.h"
#include "pennyworth/json.h"
#include "pennyworth/log.h"
#include "pennyworth/metrics.h"

static struct access_metrics families;
static pthread_once_t once = PTHREAD_ONCE_INIT;

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Series per family labelled by model, provider or route: every configured
 * model and route with room to spare, a small part of a scrape. */
#define CLIENT_SERIES 500

/* The MCP methods a client may send (requests and notifications). */
static const char *const mcp_methods[] = {
    "initialize", "ping",
    "tools/list", "tools/call",
    "resources/list", "resources/templates/list", "resources/read",
    "resources/subscribe", "resources/unsubscribe",
    "prompts/list", "prompts/get",
    "completion/complete", "logging/setLevel",
    "server/discover", "subscriptions/listen",
    "tasks/get", "tasks/list", "tasks/result", "tasks/update", "tasks/cancel",
    "notifications/initialized", "notifications/cancelled", "notifications/progress",
    "notifications/roots/list_changed",
};

static void make(void)
{
    struct pw_metrics *r = pw_metrics_default();
    struct access_metrics *m = &families;
    m->http_requests = pw_metrics_counter(r, "pennyworth_http_requests_total",
                                          "HTTP requests by route and status.",
                                          L("route", "status"));
    m->http_seconds = pw_metrics_histogram(r, "pennyworth_http_request_duration_seconds",
                                           "Time from request to complete response.",
                                           L("route"), NULL, 0);
    m->overhead = pw_metrics_histogram(r, "pennyworth_gateway_overhead_seconds",
                                       "Time spent in the gateway: total minus waiting on "
                                       "the provider.", L("route"), NULL, 0);
    m->upstream = pw_metrics_histogram(r, "pennyworth_upstream_duration_seconds",
                                       "Time waiting on the provider.", L("provider", "model"),
                                       NULL, 0);
    m->tokens = pw_metrics_counter(r, "pennyworth_tokens_total",
                                   "Tokens by model and kind (prompt, completion, cached).",
                                   L("model", "kind"));
    m->spend = pw_metrics_counter(r, "pennyworth_spend_usd_total",
                                  "Spend in US dollars by model.", L("model"));
    m->ratelimited = pw_metrics_counter(r, "pennyworth_ratelimit_refusals_total",
                                        "Requests refused by a rate limit (ip, requests, "
                                        "tokens).", L("limit"));
    m->budget_refused = pw_metrics_counter(r, "pennyworth_budget_refusals_total",
                                           "Requests refused because a key's monthly budget "
                                           "was spent.", NULL);
    m->auth_failures = pw_metrics_counter(r, "pennyworth_auth_failures_total",
                                          "Failed authentications by reason.", L("reason"));
    m->mcp_sessions = pw_metrics_gauge(r, "pennyworth_mcp_sessions",
                                       "Open MCP sessions by transport.", L("transport"));
    m->mcp_requests = pw_metrics_counter(r, "pennyworth_mcp_requests_total",
                                         "MCP requests by method.", L("method"));
    m->circuit = pw_metrics_gauge(r, "pennyworth_circuit_open",
                                  "Circuit breaker state by provider (1 open, 0 closed).",
                                  L("provider"));
    m->usage_dropped = pw_metrics_counter(r, "pennyworth_usage_dropped_total",
                                          "Usage records lost (queue full or a failed "
                                          "commit).", NULL);
    m->usage_queue = pw_metrics_gauge(r, "pennyworth_usage_queue_records",
                                      "Usage records waiting for the writer.", NULL);
    struct pw_metric *client_labelled[] = {m->http_requests, m->http_seconds, m->overhead,
                                           m->upstream, m->tokens, m->spend, m->circuit};
    for (size_t i = 0; i < sizeof client_labelled / sizeof client_labelled[0]; i++)
        pw_metric_limit(client_labelled[i], CLIENT_SERIES);
    struct pw_metric *build = pw_metrics_gauge(r, "pennyworth_build_info",
                                               "Version and git commit of this binary.",
                                               L("version", "commit"));
    pw_metric_set(build, L(pw_access_version(), pw_access_git_commit()), 1);
}

const struct access_metrics *access_metrics(void)
{
    pthread_once(&once, make);
    return &families;
}

const char *pw_access_version(void) { return PW_VERSION; }

void pw_access_observe_http(const char *route, int status, int64_t latency_us)
{
    const struct access_metrics *m = access_metrics();
    char code[8] = PW_METRICS_OTHER;
    if (status >= 100 && status <= 599)
        snprintf(code, sizeof code, "%d", status);
    pw_metric_add(m->http_requests, L(route ? route : "", code), 1);
    if (latency_us >= 0)
        pw_metric_observe(m->http_seconds, L(route ? route : ""), (double)latency_us / 1e6);
}

void pw_access_observe_mcp_session(const char *transport, int delta)
{
    pw_metric_add(access_metrics()->mcp_sessions, L(transport ? transport : ""), delta);
}

/* The method's label: its name when it is an MCP method, else "other". */
static const char *method_label(const char *method)
{
    for (size_t i = 0; method && i < sizeof mcp_methods / sizeof mcp_methods[0]; i++)
        if (strcmp(mcp_methods[i], method) == 0)
            return mcp_methods[i];
    return PW_METRICS_OTHER;
}

void pw_access_observe_mcp_request(const char *method)
{
    pw_metric_add(access_metrics()->mcp_requests, L(method_label(method)), 1);
}

void pw_access_observe_circuit(const char *provider, bool open)
{
    pw_metric_set(access_metrics()->circuit, L(provider ? provider : ""), open ? 1 : 0);
}

/* Request ids ----------------------------------------------------------------- */

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

void pw_access_request_id(const char *incoming, char out[PW_ACCESS_REQID_MAX])
{
    size_t n = incoming ? strlen(incoming) : 0;
    bool ok = n > 0 && n < PW_ACCESS_REQID_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = id_char(incoming[i]);
    if (ok) {
        memcpy(out, incoming, n + 1);
        return;
    }
    unsigned char raw[12];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        /* Ids need to be unique, not secret: fall back to the clock. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        memcpy(raw, &ts, sizeof raw < sizeof ts ? sizeof raw : sizeof ts);
    }
    memcpy(out, "req_", 4);
    pw_hex_encode(out + 4, raw, sizeof raw);
}

/* Request logs ------------------------------------------------------------------ */

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v && *v)
        json_object_set_new(o, k, json_string(v));
}

void pw_access_log_request(const struct pw_access_log *l)
{
    if (pw_log_get_level() > PW_LOG_INFO)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char when[32];
    access_iso8601((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, when);
    json_t *o = json_object();
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "level", json_string("info"));
    json_object_set_new(o, "msg", json_string("request"));
    set_str(o, "requestId", l->request_id);
    set_str(o, "method", l->method);
    set_str(o, "route", l->route);
    json_object_set_new(o, "status", json_integer(l->status));
    json_object_set_new(o, "latencyMs", json_real((double)l->latency_us / 1000.0));
    set_str(o, "keyId", l->key_id);
    set_str(o, "clientIp", l->client_ip);
    set_str(o, "model", l->model);
    if (l->prompt_tokens || l->completion_tokens) {
        json_object_set_new(o, "promptTokens", json_integer(l->prompt_tokens));
        json_object_set_new(o, "completionTokens", json_integer(l->completion_tokens));
    }
    set_str(o, "error", l->error);
    char *line = json_dumps(o, PW_JSON_WIRE);
    json_decref(o);
    if (!line)
        return;
    size_t n = strlen(line);
    line[n] = '\n'; /* json_dumps's NUL becomes the newline of the one write */
    ssize_t w = write(STDERR_FILENO, line, n + 1);
    (void)w;
    free(line);
}
