/*
 * Metrics: a registry of counters, gauges and histograms with labels, read
 * out in the Prometheus text exposition format (version 0.0.4) by
 * GET /metrics.
 *
 * A family (one metric name) is registered once with its label names; each
 * distinct tuple of label values is a series, created on first use. Names
 * follow Prometheus conventions and are checked at registration: every
 * name starts with "pennyworth_", counters end in "_total", durations are
 * in seconds ("_seconds"), label names are [a-zA-Z_][a-zA-Z0-9_]* and never
 * "le" (histograms own it) or "__"-prefixed. A family refused at
 * registration comes back NULL, and every update on NULL does nothing, so a
 * typo shows in the log and the /metrics output, never as a crash.
 *
 * Threads: every function may be called from any thread. Updates are lock
 * free once a series exists (atomic adds on the value's bits); creating a
 * series or a family takes the family's or the registry's mutex.
 *
 * Bounds, so that a label value a client chose (a model name, a method)
 * cannot grow memory or the scrape without limit: a label value is cut to
 * PW_METRICS_MAX_VALUE bytes (at a UTF-8 character boundary; values that
 * agree up to the cut share a series), and a family holds at most
 * PW_METRICS_MAX_SERIES series (less with pw_metric_limit). Updates for a
 * further label tuple go to the family's overflow series, whose every
 * label is PW_METRICS_OTHER, and are counted in
 * pennyworth_metrics_overflow_total; totals stay right, only the breakdown
 * is lost.
 *
 * Ownership: the registry owns its families; pointers returned by the
 * registration functions are borrowed and live as long as the registry.
 * Label name and value arrays are borrowed for the call (values are copied
 * into a new series).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_METRICS_H
#define PENNYWORTH_METRICS_H

#include <stddef.h>

#define PW_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define PW_METRICS_MAX_LABELS 4
#define PW_METRICS_MAX_SERIES 2000
#define PW_METRICS_MAX_VALUE 128
#define PW_METRICS_OTHER "other"
#define PW_METRICS_MAX_BUCKETS 24

struct pw_metrics;
struct pw_metric;

/* The process-wide registry that GET /metrics serves (created on first use,
 * never freed). */
struct pw_metrics *pw_metrics_default(void);

/* A private registry (tests, tools); *new*, free with pw_metrics_free. */
struct pw_metrics *pw_metrics_new(void);
void pw_metrics_free(struct pw_metrics *m);

/*
 * Registers a family, or returns the existing one when a family of the same
 * name, type and label names exists. `labels` is a NULL-terminated list of
 * label names (NULL for none). Returns NULL (and logs why) for a name that
 * breaks the conventions above or a clash with a different definition.
 */
struct pw_metric *pw_metrics_counter(struct pw_metrics *m, const char *name,
                                     const char *help, const char *const *labels);
struct pw_metric *pw_metrics_gauge(struct pw_metrics *m, const char *name, const char *help,
                                   const char *const *labels);
/* `bounds` are the buckets' upper bounds, strictly increasing (+Inf is
 * implicit); NULL uses PW_METRICS_LATENCY_BOUNDS. */
struct pw_metric *pw_metrics_histogram(struct pw_metrics *m, const char *name,
                                       const char *help, const char *const *labels,
                                       const double *bounds, size_t nbounds);

/* Lowers a family's series cap to `max_series` (at least 1, at most
 * PW_METRICS_MAX_SERIES; the overflow series comes on top). For families
 * whose labels a client can influence, so that their share of a scrape
 * stays small. Series already created stay. */
void pw_metric_limit(struct pw_metric *f, size_t max_series);

/* Latency buckets, seconds: 50 us .. 60 s. */
extern const double PW_METRICS_LATENCY_BOUNDS[];
extern const size_t PW_METRICS_LATENCY_NBOUNDS;

/*
 * Updates. `values` holds one value per label name, in registration order
 * (NULL when the family has no labels). A counter only goes up: a negative
 * pw_metric_add on a counter is ignored.
 */
void pw_metric_add(struct pw_metric *f, const char *const *values, double v);
void pw_metric_set(struct pw_metric *f, const char *const *values, double v);
void pw_metric_observe(struct pw_metric *f, const char *const *values, double v);

/* The current value of a counter or gauge series (0 when absent); for a
 * histogram, its count. For tests and health checks. */
double pw_metric_value(struct pw_metric *f, const char *const *values);

/* Renders every family in registration order. Returns a new NUL-terminated
 * string (free()), *len its length; NULL when out of memory. */
char *pw_metrics_render(struct pw_metrics *m, size_t *len);

#endif
