/*
 * The metrics registry (pennyworth/metrics.h): families of counters, gauges
 * and histograms, each a list of labelled series, rendered in the
 * Prometheus text format.
 *
 * Concurrency: a family's series form an append-only singly linked list.
 * Readers (updates, rendering) walk it without a lock, loading each `next`
 * with acquire order; a new series is fully built before it is published
 * with a release store, under the family's mutex (so two threads that miss
 * the same tuple at once create it once). Values are doubles kept as the
 * bits of an atomic 64-bit word and updated with compare-and-swap, so an
 * update never blocks and never tears. Series are never removed while the
 * registry lives. The registry's family list is guarded by its mutex.
 *
 * Bounds (pennyworth/metrics.h): label values are cut when a series is
 * made and when one is looked up, so a long value finds the series of its
 * cut form instead of making a new one each time. A family at its cap
 * sends further tuples to its overflow series (every label "other"),
 * which is made once, outside the cap, and kept in `other` so that a
 * stream of new tuples costs one failed search, not the family's mutex.
 *
 * Rendering reads each value once; a scrape that races updates sees every
 * series at some recent value, and a histogram's count may be a few
 * observations ahead of its buckets (as with every lock-free client).
 *
 * SPDX-License-Identifier: MIT
 */
#include "pennyworth/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/buf.h"
#include "pennyworth/encode.h"
#include "pennyworth/log.h"

enum kind { COUNTER, GAUGE, HISTOGRAM };

static const char *const kind_names[] = {"counter", "gauge", "histogram"};

struct series {
    struct series *_Atomic next;
    char *values[PW_METRICS_MAX_LABELS];
    _Atomic uint64_t bits;        /* counter/gauge value, or histogram sum (double bits) */
    _Atomic uint64_t count;       /* histogram observations */
    _Atomic uint64_t buckets[];   /* histogram: per bucket, not cumulative; last = +Inf */
};

struct pw_metric {
    struct pw_metric *next;       /* registry order; registry lock */
    struct pw_metrics *reg;
    enum kind kind;
    char *name, *help;
    size_t nlabels;
    char *labels[PW_METRICS_MAX_LABELS];
    double bounds[PW_METRICS_MAX_BUCKETS];
    size_t nbounds;
    pthread_mutex_t lock;         /* serialises series creation */
    struct series *_Atomic head;
    struct series *tail;          /* lock */
    _Atomic size_t nseries;       /* not counting the overflow series */
    _Atomic size_t max_series;
    struct series *_Atomic other; /* the overflow series, once made */
};

struct pw_metrics {
    pthread_mutex_t lock;         /* guards first/last */
    struct pw_metric *first, *last;
    struct pw_metric *overflow;   /* pennyworth_metrics_overflow_total */
};

const double PW_METRICS_LATENCY_BOUNDS[] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
};
const size_t PW_METRICS_LATENCY_NBOUNDS =
    sizeof PW_METRICS_LATENCY_BOUNDS / sizeof PW_METRICS_LATENCY_BOUNDS[0];

static double from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static void add_double(_Atomic uint64_t *p, double v)
{
    uint64_t old = atomic_load_explicit(p, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(p, &old, to_bits(from_bits(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

/* Registration --------------------------------------------------------------- */

static bool name_ok(const char *s, bool colon)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return false;
    for (const char *p = s; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '_' || (colon && *p == ':');
        if (!ok)
            return false;
    }
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Why `name` is not a good name for a family of this kind, or NULL. */
static const char *name_problem(enum kind k, const char *name)
{
    if (!name_ok(name, true))
        return "not a valid metric name";
    if (strncmp(name, "pennyworth_", 11) != 0)
        return "metric names start with pennyworth_";
    if (k == COUNTER && !ends_with(name, "_total"))
        return "counter names end in _total";
    if (k != COUNTER && ends_with(name, "_total"))
        return "only counters end in _total";
    if (k == HISTOGRAM && (ends_with(name, "_bucket") || ends_with(name, "_sum") ||
                           ends_with(name, "_count")))
        return "histogram names must not end in _bucket, _sum or _count";
    return NULL;
}

static bool same_labels(const struct pw_metric *f, const char *const *labels)
{
    size_t n = 0;
    while (labels && labels[n])
        n++;
    if (n != f->nlabels)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(f->labels[i], labels[i]) != 0)
            return false;
    return true;
}

static void family_free(struct pw_metric *f)
{
    struct series *s = atomic_load(&f->head);
    while (s) {
        struct series *next = atomic_load(&s->next);
        for (size_t i = 0; i < f->nlabels; i++)
            free(s->values[i]);
        free(s);
        s = next;
    }
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    pthread_mutex_destroy(&f->lock);
    free(f->name);
    free(f->help);
    free(f);
}

/* Label value i of an update ("" when absent). */
static const char *value_at(const char *const *values, size_t i)
{
    return values && values[i] ? values[i] : "";
}

/* How much of a label value is kept (at most PW_METRICS_MAX_VALUE bytes,
 * whole characters). */
static size_t kept(const char *v) { return pw_utf8_prefix(v, PW_METRICS_MAX_VALUE); }

static struct series *series_new(struct pw_metric *f, const char *const *values)
{
    size_t nb = f->kind == HISTOGRAM ? f->nbounds + 1 : 0;
    struct series *s = calloc(1, sizeof *s + nb * sizeof s->buckets[0]);
    if (!s)
        return NULL;
    for (size_t i = 0; i < f->nlabels; i++) {
        const char *v = value_at(values, i);
        s->values[i] = strndup(v, kept(v));
        if (!s->values[i]) {
            for (size_t j = 0; j < i; j++)
                free(s->values[j]);
            free(s);
            return NULL;
        }
    }
    return s;
}

static bool series_is(const struct pw_metric *f, const struct series *s,
                      const char *const *values)
{
    for (size_t i = 0; i < f->nlabels; i++) {
        const char *v = value_at(values, i);
        size_t n = kept(v);
        if (strncmp(s->values[i], v, n) != 0 || s->values[i][n] != '\0')
            return false;
    }
    return true;
}

static struct series *find(struct pw_metric *f, const char *const *values)
{
    for (struct series *s = atomic_load_explicit(&f->head, memory_order_acquire); s;
         s = atomic_load_explicit(&s->next, memory_order_acquire))
        if (series_is(f, s, values))
            return s;
    return NULL;
}

/* Makes and publishes a series (f->lock held); NULL when out of memory. */
static struct series *append(struct pw_metric *f, const char *const *values)
{
    struct series *s = series_new(f, values);
    if (!s)
        return NULL;
    if (f->tail)
        atomic_store_explicit(&f->tail->next, s, memory_order_release);
    else
        atomic_store_explicit(&f->head, s, memory_order_release);
    f->tail = s;
    return s;
}

static bool full(struct pw_metric *f)
{
    return atomic_load(&f->nseries) >= atomic_load(&f->max_series);
}

/* The overflow series (f->lock held): found (a client may have sent
 * "other" itself) or made. */
static struct series *other_locked(struct pw_metric *f)
{
    struct series *s = atomic_load_explicit(&f->other, memory_order_acquire);
    if (s)
        return s;
    const char *others[PW_METRICS_MAX_LABELS];
    for (size_t i = 0; i < f->nlabels; i++)
        others[i] = PW_METRICS_OTHER;
    s = find(f, others);
    if (!s)
        s = append(f, others);
    atomic_store_explicit(&f->other, s, memory_order_release);
    return s;
}

/* The series for `values`, created if needed; past the family's cap, the
 * overflow series. NULL only when out of memory. */
static struct series *lookup(struct pw_metric *f, const char *const *values)
{
    struct series *s = find(f, values);
    if (s)
        return s;
    struct series *o = atomic_load_explicit(&f->other, memory_order_acquire);
    bool over = o && full(f);
    if (!over) {
        pthread_mutex_lock(&f->lock);
        s = find(f, values);
        over = !s && full(f);
        if (over) {
            o = other_locked(f);
        } else if (!s && (s = append(f, values))) {
            atomic_fetch_add(&f->nseries, 1);
        }
        pthread_mutex_unlock(&f->lock);
    }
    if (!over)
        return s;
    if (f->reg && f->reg->overflow && f != f->reg->overflow)
        pw_metric_add(f->reg->overflow, NULL, 1);
    return o;
}

static struct pw_metric *family(struct pw_metrics *m, enum kind k, const char *name,
                                const char *help, const char *const *labels,
                                const double *bounds, size_t nbounds)
{
    if (!m)
        return NULL;
    const char *why = name_problem(k, name);
    size_t n = 0;
    while (!why && labels && labels[n]) {
        if (!name_ok(labels[n], false) || strncmp(labels[n], "__", 2) == 0 ||
            (k == HISTOGRAM && strcmp(labels[n], "le") == 0))
            why = "bad label name";
        n++;
    }
    if (!why && n > PW_METRICS_MAX_LABELS)
        why = "too many labels";
    if (!why && k == HISTOGRAM) {
        if (nbounds > PW_METRICS_MAX_BUCKETS)
            why = "too many buckets";
        for (size_t i = 1; !why && i < nbounds; i++)
            if (!(bounds[i] > bounds[i - 1]))
                why = "bucket bounds must increase";
    }
    if (why) {
        pw_errorlog("metrics: %s: %s", name ? name : "(null)", why);
        return NULL;
    }
    pthread_mutex_lock(&m->lock);
    for (struct pw_metric *f = m->first; f; f = f->next) {
        if (strcmp(f->name, name) != 0)
            continue;
        pthread_mutex_unlock(&m->lock);
        if (f->kind == k && same_labels(f, labels))
            return f;
        pw_errorlog("metrics: %s registered twice with different definitions", name);
        return NULL;
    }
    struct pw_metric *f = calloc(1, sizeof *f);
    bool ok = f != NULL;
    if (ok) {
        f->reg = m;
        f->kind = k;
        f->name = strdup(name);
        f->help = strdup(help ? help : "");
        atomic_store(&f->max_series, PW_METRICS_MAX_SERIES);
        pthread_mutex_init(&f->lock, NULL);
        ok = f->name && f->help;
        for (size_t i = 0; ok && i < n; i++) {
            f->labels[i] = strdup(labels[i]);
            ok = f->labels[i] != NULL;
            f->nlabels = i + 1;
        }
        if (k == HISTOGRAM) {
            memcpy(f->bounds, bounds, nbounds * sizeof bounds[0]);
            f->nbounds = nbounds;
        }
    }
    if (ok && n == 0)
        ok = lookup(f, NULL) != NULL; /* a labelless family shows 0 before any update */
    if (!ok) {
        if (f)
            family_free(f);
        pthread_mutex_unlock(&m->lock);
        return NULL;
    }
    if (m->last)
        m->last->next = f;
    else
        m->first = f;
    m->last = f;
    pthread_mutex_unlock(&m->lock);
    return f;
}

struct pw_metrics *pw_metrics_new(void)
{
    struct pw_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_mutex_init(&m->lock, NULL);
    m->overflow = pw_metrics_counter(m, "pennyworth_metrics_overflow_total",
                                     "Metric updates counted in their family's \"other\" "
                                     "series because it had reached its series cap.", NULL);
    return m;
}

void pw_metrics_free(struct pw_metrics *m)
{
    if (!m)
        return;
    struct pw_metric *f = m->first;
    while (f) {
        struct pw_metric *next = f->next;
        family_free(f);
        f = next;
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static struct pw_metrics *default_registry;

static void make_default(void) { default_registry = pw_metrics_new(); }

struct pw_metrics *pw_metrics_default(void)
{
    pthread_once(&default_once, make_default);
    return default_registry;
}

struct pw_metric *pw_metrics_counter(struct pw_metrics *m, const char *name,
                                     const char *help, const char *const *labels)
{
    return family(m, COUNTER, name, help, labels, NULL, 0);
}

struct pw_metric *pw_metrics_gauge(struct pw_metrics *m, const char *name, const char *help,
                                   const char *const *labels)
{
    return family(m, GAUGE, name, help, labels, NULL, 0);
}

struct pw_metric *pw_metrics_histogram(struct pw_metrics *m, const char *name,
                                       const char *help, const char *const *labels,
                                       const double *bounds, size_t nbounds)
{
    if (!bounds) {
        bounds = PW_METRICS_LATENCY_BOUNDS;
        nbounds = PW_METRICS_LATENCY_NBOUNDS;
    }
    return family(m, HISTOGRAM, name, help, labels, bounds, nbounds);
}

void pw_metric_limit(struct pw_metric *f, size_t max_series)
{
    if (!f)
        return;
    if (max_series < 1)
        max_series = 1;
    if (max_series > PW_METRICS_MAX_SERIES)
        max_series = PW_METRICS_MAX_SERIES;
    atomic_store(&f->max_series, max_series);
}

/* Updates -------------------------------------------------------------------- */

void pw_metric_add(struct pw_metric *f, const char *const *values, double v)
{
    if (!f || f->kind == HISTOGRAM || (f->kind == COUNTER && !(v >= 0)))
        return;
    struct series *s = lookup(f, values);
    if (s)
        add_double(&s->bits, v);
}

void pw_metric_set(struct pw_metric *f, const char *const *values, double v)
{
    if (!f || f->kind != GAUGE)
        return;
    struct series *s = lookup(f, values);
    if (s)
        atomic_store_explicit(&s->bits, to_bits(v), memory_order_relaxed);
}

void pw_metric_observe(struct pw_metric *f, const char *const *values, double v)
{
    if (!f || f->kind != HISTOGRAM || isnan(v))
        return;
    struct series *s = lookup(f, values);
    if (!s)
        return;
    size_t i = 0;
    while (i < f->nbounds && v > f->bounds[i])
        i++;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    add_double(&s->bits, v);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

double pw_metric_value(struct pw_metric *f, const char *const *values)
{
    struct series *s = f ? find(f, values) : NULL;
    if (!s)
        return 0;
    if (f->kind == HISTOGRAM)
        return (double)atomic_load(&s->count);
    return from_bits(atomic_load(&s->bits));
}

/* Rendering ------------------------------------------------------------------ */

/* HELP text escapes backslash and newline; label values also the quote. */
static void escaped(struct pw_buf *o, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            pw_buf_append_str(o, "\\\\");
        else if (*s == '\n')
            pw_buf_append_str(o, "\\n");
        else if (quote && *s == '"')
            pw_buf_append_str(o, "\\\"");
        else
            pw_buf_append(o, s, 1);
    }
}

/* A sample value or bucket bound as the exposition format spells it. */
static void format_number(double v, char buf[static 64])
{
    if (isnan(v))
        snprintf(buf, 64, "NaN");
    else if (isinf(v))
        snprintf(buf, 64, "%s", v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, 64, "%.0f", v);
    else
        snprintf(buf, 64, "%.15g", v);
}

/* name{l1="v1",...[,le="x"]} value\n */
static void line(struct pw_buf *o, const struct pw_metric *f, const struct series *s,
                 const char *suffix, const char *le, double v)
{
    pw_buf_append_str(o, f->name);
    pw_buf_append_str(o, suffix);
    if (f->nlabels || le) {
        pw_buf_append_str(o, "{");
        for (size_t i = 0; i < f->nlabels; i++) {
            if (i)
                pw_buf_append_str(o, ",");
            pw_buf_append_str(o, f->labels[i]);
            pw_buf_append_str(o, "=\"");
            escaped(o, s->values[i], true);
            pw_buf_append_str(o, "\"");
        }
        if (le) {
            pw_buf_append_str(o, f->nlabels ? ",le=\"" : "le=\"");
            pw_buf_append_str(o, le);
            pw_buf_append_str(o, "\"");
        }
        pw_buf_append_str(o, "}");
    }
    char num[64];
    format_number(v, num);
    pw_buf_appendf(o, " %s\n", num);
}

static void render_series(struct pw_buf *o, const struct pw_metric *f, const struct series *s)
{
    if (f->kind != HISTOGRAM) {
        line(o, f, s, "", NULL, from_bits(atomic_load(&s->bits)));
        return;
    }
    uint64_t cum = 0;
    char le[64];
    for (size_t i = 0; i <= f->nbounds; i++) {
        cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        if (i < f->nbounds)
            format_number(f->bounds[i], le);
        else
            snprintf(le, sizeof le, "+Inf");
        line(o, f, s, "_bucket", le, (double)cum);
    }
    line(o, f, s, "_sum", NULL, from_bits(atomic_load(&s->bits)));
    line(o, f, s, "_count", NULL, (double)cum);
}

char *pw_metrics_render(struct pw_metrics *m, size_t *len)
{
    struct pw_buf o = {0};
    if (!m)
        return NULL;
    pthread_mutex_lock(&m->lock);
    for (const struct pw_metric *f = m->first; f; f = f->next) {
        pw_buf_append_str(&o, "# HELP ");
        pw_buf_append_str(&o, f->name);
        pw_buf_append_str(&o, " ");
        escaped(&o, f->help, false);
        pw_buf_append_str(&o, "\n# TYPE ");
        pw_buf_append_str(&o, f->name);
        pw_buf_append_str(&o, " ");
        pw_buf_append_str(&o, kind_names[f->kind]);
        pw_buf_append_str(&o, "\n");
        for (const struct series *s = atomic_load_explicit(&f->head, memory_order_acquire);
             s; s = atomic_load_explicit(&s->next, memory_order_acquire))
            render_series(&o, f, s);
    }
    pthread_mutex_unlock(&m->lock);
    size_t n = o.len;
    char *text = pw_buf_take(&o); /* NULL if an append ran out of memory */
    if (text && len)
        *len = n;
    return text;
}
