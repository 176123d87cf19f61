/*
 * The exporter: a bounded queue of ended spans and one thread that sends
 * them to the collector in batches, over one reused libcurl easy handle
 * (so one kept-alive connection).
 *
 *   any thread                     exporter thread
 *   pw_trace_span_end              waits for batch_spans queued, delay_ms,
 *     -> trace_export_push            or the stop
 *        {mu}: queue it, or drop   takes up to batch_spans {mu}
 *        when over max_spans /     encodes (otlp.c) and POSTs, mu released
 *        max_bytes or stopping     counts exported or failed
 *
 * The queue's mutex is held only to link and unlink spans: a request's
 * thread never waits on the network or on the exporter's encoding. A slow
 * or absent collector holds up the exporter alone (each export bounded by
 * the timeout), the queue fills, and later spans are dropped and counted.
 *
 * Stop (pw_trace_free): the process's tracer is cleared, `stopping` set,
 * and the thread exports what is queued until `flush_ms` have passed; an
 * export in flight at that moment is aborted (the progress callback) and
 * the rest is dropped. Then the thread ends and is joined.
 *
 * Metrics (default registry):
 *   pennyworth_trace_spans_exported_total  accepted by the collector (2xx)
 *   pennyworth_trace_spans_failed_total    sent, but the export failed
 *   pennyworth_trace_spans_dropped_total   never sent: queue full, or stop
 *
 * Invariants:
 *   1. count and bytes are the sums over the queued spans {mu}.
 *   2. Every span pushed is exactly once exported, failed or dropped.
 *
 * SPDX-License-Identifier: MIT
 */
#include "trace/trace-int.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/assert.h"
#include "pennyworth/clock.h"
#include "pennyworth/json.h"
#include "pennyworth/log.h"
#include "pennyworth/metrics.h"

struct pw_trace {
    struct trace_options o;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;             /* CLOCK_MONOTONIC */
    struct pw_trace_span *head, *tail; /* {mu} */
    size_t count, bytes;           /* {mu} */
    bool stopping;                 /* {mu} */
    atomic_llong abort_at_ms;      /* monotonic; exports past it are cut */
    /* exporter thread only */
    CURL *easy;
    struct curl_slist *headers;
    struct pw_metric *exported, *failed, *dropped;
};

static void drop(struct pw_trace *t, size_t n)
{
    pw_metric_add(t->dropped, NULL, (double)n);
}

void trace_export_push(struct pw_trace *t, struct pw_trace_span *sp)
{
    pthread_mutex_lock(&t->mu);
    if (t->stopping || t->count >= t->o.max_spans || t->bytes + sp->bytes > t->o.max_bytes) {
        pthread_mutex_unlock(&t->mu);
        trace_span_free(sp);
        drop(t, 1);
        return;
    }
    sp->next = NULL;
    if (t->tail)
        t->tail->next = sp;
    else
        t->head = sp;
    t->tail = sp;
    t->count++;
    t->bytes += sp->bytes;
    bool full = t->count >= t->o.batch_spans;
    pthread_mutex_unlock(&t->mu);
    if (full)
        pthread_cond_signal(&t->cv);
}

/* Exporter thread -------------------------------------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static int progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct pw_trace *t = ud;
    return pw_clock_ms() > atomic_load(&t->abort_at_ms); /* nonzero aborts */
}

static bool setup(struct pw_trace *t)
{
    t->easy = curl_easy_init();
    if (!t->easy)
        return false;
    t->headers = curl_slist_append(NULL, "Content-Type: application/json");
    for (size_t i = 0; t->headers && t->o.headers[i]; i++)
        t->headers = curl_slist_append(t->headers, t->o.headers[i]);
    if (!t->headers)
        return false;
    curl_easy_setopt(t->easy, CURLOPT_URL, t->o.url);
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(t->easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(t->easy, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(t->easy, CURLOPT_XFERINFODATA, t);
    curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    return true;
}

/* POSTs `n` spans from `head`; true when the collector took them. */
static bool send_batch(struct pw_trace *t, const struct pw_trace_span *head, size_t n)
{
    json_t *doc = trace_otlp_encode(head, n, t->o.service_name);
    char *body = doc ? json_dumps(doc, PW_JSON_WIRE) : NULL;
    json_decref(doc);
    if (!body)
        return false;
    long timeout = t->o.timeout_ms;
    long long left = atomic_load(&t->abort_at_ms) - pw_clock_ms();
    if (left < timeout)
        timeout = left > 1 ? (long)left : 1;
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    CURLcode rc = curl_easy_perform(t->easy);
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    free(body);
    if (rc != CURLE_OK || status < 200 || status > 299) {
        pw_debug("trace: export of %zu spans failed: %s (HTTP %ld)", n,
                 rc != CURLE_OK ? curl_easy_strerror(rc) : "refused", status);
        return false;
    }
    return true;
}

static void free_list(struct pw_trace_span *sp)
{
    while (sp) {
        struct pw_trace_span *next = sp->next;
        trace_span_free(sp);
        sp = next;
    }
}

/* Unlinks up to batch_spans from the queue's head {mu}. */
static struct pw_trace_span *take_locked(struct pw_trace *t, size_t *n)
{
    struct pw_trace_span *head = t->head, *last = NULL;
    size_t k = 0;
    for (struct pw_trace_span *sp = head; sp && k < t->o.batch_spans; sp = sp->next) {
        last = sp;
        t->bytes -= sp->bytes;
        k++;
    }
    if (last) {
        t->head = last->next;
        last->next = NULL;
        if (!t->head)
            t->tail = NULL;
    }
    t->count -= k;
    PW_ASSERT(t->count || (!t->head && !t->bytes)); /* invariant 1 */
    *n = k;
    return k ? head : NULL;
}

static void *run(void *arg)
{
    struct pw_trace *t = arg;
    bool ready = setup(t);
    if (!ready)
        pw_warn("trace: cannot set up the exporter; spans will be dropped");
    pthread_mutex_lock(&t->mu);
    for (;;) {
        struct timespec due = pw_clock_deadline(t->o.delay_ms);
        while (!t->stopping && t->count < t->o.batch_spans)
            if (pthread_cond_timedwait(&t->cv, &t->mu, &due) == ETIMEDOUT)
                break;
        bool late = t->stopping && pw_clock_ms() >= atomic_load(&t->abort_at_ms);
        size_t n;
        struct pw_trace_span *batch = take_locked(t, &n);
        if (!batch) {
            if (t->stopping)
                break;
            continue;
        }
        pthread_mutex_unlock(&t->mu);
        if (!ready || late)
            drop(t, n);
        else if (send_batch(t, batch, n))
            pw_metric_add(t->exported, NULL, (double)n);
        else
            pw_metric_add(t->failed, NULL, (double)n);
        free_list(batch);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* Life ----------------------------------------------------------------------------- */

static const char *env(const char *name) { return getenv(name); }

static void free_tracer(struct pw_trace *t)
{
    if (t->easy)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    trace_options_clear(&t->o);
    free(t);
    curl_global_cleanup();
}

enum pw_err pw_trace_new_from_env(struct pw_trace **out, struct pw_error *err)
{
    *out = NULL;
    struct trace_options o;
    bool enabled;
    enum pw_err rc = trace_options_env(env, &o, &enabled, err);
    if (rc != PW_OK || !enabled)
        return rc;
    struct pw_trace *t = calloc(1, sizeof *t);
    if (!t) {
        trace_options_clear(&o);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    t->o = o;
    atomic_init(&t->abort_at_ms, INT64_MAX);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&t->mu, NULL);
    struct pw_metrics *m = pw_metrics_default();
    t->exported = pw_metrics_counter(m, "pennyworth_trace_spans_exported_total",
                                     "Spans the OTLP collector accepted.", NULL);
    t->failed = pw_metrics_counter(m, "pennyworth_trace_spans_failed_total",
                                   "Spans sent in an export that failed.", NULL);
    t->dropped = pw_metrics_counter(m, "pennyworth_trace_spans_dropped_total",
                                    "Spans never sent: the export queue was full or "
                                    "tracing was stopping.", NULL);
    if (pthread_create(&t->thread, NULL, run, t) != 0) {
        free_tracer(t);
        return pw_error_set(err, PW_ERR_INTERNAL, NULL, "cannot start the trace exporter");
    }
    /* The URL may carry user:token@: log the scheme and host part only. */
    const char *scheme_end = strstr(t->o.url, "://");
    const char *host = scheme_end ? scheme_end + 3 : t->o.url;
    const char *at = strchr(host, '@');
    const char *slash = strchr(host, '/');
    if (at && (!slash || at < slash))
        host = at + 1;
    pw_info("trace: exporting spans to %.*s%s as service %s",
            scheme_end ? (int)(scheme_end + 3 - t->o.url) : 0, t->o.url, host,
            t->o.service_name);
    trace_install(t);
    *out = t;
    return PW_OK;
}

void pw_trace_free(struct pw_trace *t)
{
    if (!t)
        return;
    trace_install(NULL);
    pthread_mutex_lock(&t->mu);
    t->stopping = true;
    atomic_store(&t->abort_at_ms, pw_clock_ms() + t->o.flush_ms);
    pthread_mutex_unlock(&t->mu);
    pthread_cond_signal(&t->cv);
    pthread_join(t->thread, NULL);
    PW_ASSERT(!t->head && !t->count); /* invariant 2: nothing left behind */
    free_tracer(t);
}
