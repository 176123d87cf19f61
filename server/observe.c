/*
 * What the server alone sees of every HTTP request, from its context at
 * the end of the pipeline (pipeline.c, stage 8):
 *
 *   pennyworth_http_requests_total{route,status}
 *   pennyworth_http_request_duration_seconds{route}   received -> end
 *   pennyworth_gateway_overhead_seconds{route}        the same minus the
 *                                                     time waiting on
 *                                                     upstreams
 *
 * and, when the server was asked for it (--access-log), one JSON log line
 * per request on stderr, written with one write(2) so that lines never
 * interleave. `route` is the route's path pattern, never the raw path, and
 * a status outside 100..599 counts as "other", so a client cannot grow the
 * label sets; the families also carry a series cap.
 *
 * Threads: metric updates are lock free (core/metrics.c); the families are
 * made once (pthread_once).
 *
 * SPDX-License-Identifier: MIT
 */
#include "server/server-int.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pennyworth/clock.h"
#include "pennyworth/json.h"
#include "pennyworth/metrics.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Series per family: every route, every status, with room to spare. */
#define ROUTE_SERIES 500

static struct {
    struct pw_metric *requests, *seconds, *overhead;
} fam;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void make(void)
{
    struct pw_metrics *m = pw_metrics_default();
    fam.requests = pw_metrics_counter(m, "pennyworth_http_requests_total",
                                      "HTTP requests by route and status.", L("route", "status"));
    fam.seconds = pw_metrics_histogram(m, "pennyworth_http_request_duration_seconds",
                                       "Time from a request's headers to its complete answer.",
                                       L("route"), NULL, 0);
    fam.overhead = pw_metrics_histogram(m, "pennyworth_gateway_overhead_seconds",
                                        "Time spent in the gateway: the request's whole time "
                                        "minus the time waiting on upstream providers.",
                                        L("route"), NULL, 0);
    pw_metric_limit(fam.requests, ROUTE_SERIES);
    pw_metric_limit(fam.seconds, ROUTE_SERIES);
    pw_metric_limit(fam.overhead, ROUTE_SERIES);
}

void server_observe(const struct pw_server_ctx *c)
{
    pthread_once(&once, make);
    char code[8] = PW_METRICS_OTHER;
    if (c->status >= 100 && c->status <= 599)
        snprintf(code, sizeof code, "%d", c->status);
    const char *route = c->route ? c->route : "";
    pw_metric_add(fam.requests, L(route, code), 1);
    int64_t total = c->at_us[PW_SERVER_MARK_END] - c->at_us[PW_SERVER_MARK_RECEIVED];
    pw_metric_observe(fam.seconds, L(route), (double)total / 1e6);
    pw_metric_observe(fam.overhead, L(route), (double)server_ctx_overhead_us(c) / 1e6);
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v && *v)
        json_object_set_new(o, k, json_string(v));
}

void server_log_request(const struct pw_server_ctx *c, const char *peer)
{
    int64_t now = pw_clock_wall_ms();
    time_t sec = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char when[96];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(now % 1000));
    int64_t total = c->at_us[PW_SERVER_MARK_END] - c->at_us[PW_SERVER_MARK_RECEIVED];
    json_t *o = json_object();
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "level", json_string("info"));
    json_object_set_new(o, "msg", json_string("request"));
    set_str(o, "requestId", c->request_id);
    set_str(o, "method", c->method);
    set_str(o, "route", c->route);
    json_object_set_new(o, "status", json_integer(c->status));
    json_object_set_new(o, "latencyMs", json_real((double)total / 1000.0));
    if (c->upstream_attempts)
        json_object_set_new(o, "upstreamMs", json_real((double)c->upstream_us / 1000.0));
    set_str(o, "keyId", c->principal);
    set_str(o, "clientIp", peer);
    set_str(o, "model", c->model);
    set_str(o, "provider", c->provider);
    if (c->prompt_tokens || c->completion_tokens) {
        json_object_set_new(o, "promptTokens", json_integer(c->prompt_tokens));
        json_object_set_new(o, "completionTokens", json_integer(c->completion_tokens));
    }
    set_str(o, "error", c->error);
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
