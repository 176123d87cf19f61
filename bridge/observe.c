/*
 * The bridge's metric families, in the default registry (served by
 * GET /metrics), registered on first use:
 *
 *   pennyworth_upstream_duration_seconds{provider,model}   histogram
 *       every upstream attempt, from just before its transfer starts to
 *       its end (success, error, timeout or cancel); provider is the row's
 *       name ("openai", "bedrock"), model the upstream model id
 *   pennyworth_circuit_open{provider}                      gauge
 *       per deployment, labelled "provider/model": 1 from the moment its
 *       breaker opens until it closes again (the half-open probe
 *       included), else 0; configured deployments start at 0
 *
 * Both are labelled by names a client can reach (prefix-routed model ids),
 * so each keeps at most CLIENT_SERIES series (pw_metric_limit); the rest
 * count in the overflow series. They are the bridge's alone: no other
 * module sees an upstream attempt or a breaker.
 *
 * Threads: any (the registry's own rules); the bridge calls these on the
 * service thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/bridge-int.h"

#include <pthread.h>

#include "pennyworth/metrics.h"

#define CLIENT_SERIES 500

static struct pw_metric *upstream, *circuit;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void make(void)
{
    struct pw_metrics *r = pw_metrics_default();
    upstream = pw_metrics_histogram(r, "pennyworth_upstream_duration_seconds",
                                    "Time waiting on the provider.",
                                    (const char *const[]){"provider", "model", NULL}, NULL, 0);
    circuit = pw_metrics_gauge(r, "pennyworth_circuit_open",
                               "Circuit breaker state by provider (1 open, 0 closed).",
                               (const char *const[]){"provider", NULL});
    pw_metric_limit(upstream, CLIENT_SERIES);
    pw_metric_limit(circuit, CLIENT_SERIES);
}

void bridge_observe_upstream(const char *provider, const char *model, double seconds)
{
    pthread_once(&once, make);
    pw_metric_observe(upstream, (const char *const[]){provider, model}, seconds);
}

void bridge_observe_circuit(const char *deployment, bool open)
{
    pthread_once(&once, make);
    pw_metric_set(circuit, (const char *const[]){deployment}, open ? 1 : 0);
}
