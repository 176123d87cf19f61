/*
 * Access's metric families: what admission and reconciliation alone see.
 * The HTTP families (requests, durations, gateway overhead) belong to the
 * server's pipeline (server/observe.c), the upstream and circuit families
 * to the bridge, the MCP families to the MCP engine; each module records
 * what it sees.
 *
 * Families (default registry, registered on first use):
 *   pennyworth_tokens_total{model,kind}                     prompt|completion|cached
 *   pennyworth_spend_usd_total{model}
 *   pennyworth_ratelimit_refusals_total{limit}              ip|requests|tokens
 *   pennyworth_budget_refusals_total
 *   pennyworth_auth_failures_total{reason}                  missing|malformed|...
 *   pennyworth_usage_dropped_total, pennyworth_usage_queue_records
 *   pennyworth_build_info{version,commit}                   gauge, always 1
 *
 * Families labelled by model get a series cap of CLIENT_SERIES
 * (pw_metric_limit) on top of the registry's bounds (values cut to
 * PW_METRICS_MAX_VALUE bytes, overflow into "other"): a refused request's
 * model is whatever the client sent.
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <pthread.h>

#include "pennyworth/metrics.h"

static struct access_metrics families;
static pthread_once_t once = PTHREAD_ONCE_INIT;

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Series per family labelled by model: every configured model with room
 * to spare, a small part of a scrape. */
#define CLIENT_SERIES 500

static void make(void)
{
    struct pw_metrics *r = pw_metrics_default();
    struct access_metrics *m = &families;
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
    m->usage_dropped = pw_metrics_counter(r, "pennyworth_usage_dropped_total",
                                          "Usage records lost (queue full or a failed "
                                          "commit).", NULL);
    m->usage_queue = pw_metrics_gauge(r, "pennyworth_usage_queue_records",
                                      "Usage records waiting for the writer.", NULL);
    struct pw_metric *client_labelled[] = {m->tokens, m->spend};
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
