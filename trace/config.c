/*
 * The OpenTelemetry SDK environment variables (the subset trace.h lists)
 * as exporter options. Kept apart from the exporter so that what a value
 * means is in one place and the exporter only sees checked numbers.
 *
 * Rules taken from the OTel specification:
 *   - OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn tracing off
 *     whatever else is set; without an endpoint it is off too (we have no
 *     default collector to send to: tracing is opt-in here).
 *   - The signal-specific variable wins over the general one; the general
 *     endpoint gets "/v1/traces" appended, the specific one is used as is.
 *   - Header lists are "key=value" pairs joined by ',', each side trimmed,
 *     values percent-decoded (W3C Baggage's format).
 *   - Only the http/json protocol is spoken; asking for another one is
 *     logged and JSON is sent anyway (a collector's OTLP/HTTP receiver
 *     takes both encodings on the same path).
 *
 * Called once at start-up, on the main thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include "trace/trace-int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pennyworth/log.h"

#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_DELAY_MS 1000 /* the spec's 5000 keeps traces from view too long */
#define DEFAULT_BATCH 512
#define DEFAULT_QUEUE 2048
#define QUEUE_BYTES ((size_t)16 * 1024 * 1024)
#define FLUSH_MS 2000
#define MAX_HEADERS 32

static const char *either(const char *(*getenv_fn)(const char *), const char *specific,
                          const char *general)
{
    const char *v = getenv_fn(specific);
    return v && *v ? v : getenv_fn(general);
}

static enum pw_err number(const char *name, const char *v, long lo, long hi, long dflt,
                          long *out, struct pw_error *err)
{
    *out = dflt;
    if (!v || !*v)
        return PW_OK;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < lo || n > hi)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "%s: '%s' is not a number in %ld..%ld",
                            name, v, lo, hi);
    *out = n;
    return PW_OK;
}

static int xval(char c)
{
    return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

/* Trims and percent-decodes [s, e) into a new string; NULL when a '%' is
 * not followed by two hex digits. */
static char *decode(const char *s, const char *e)
{
    while (s < e && isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    char *out = malloc((size_t)(e - s) + 1);
    size_t n = 0;
    for (; out && s < e; s++) {
        if (*s != '%') {
            out[n++] = *s;
            continue;
        }
        if (e - s < 3 || !isxdigit((unsigned char)s[1]) || !isxdigit((unsigned char)s[2])) {
            free(out);
            return NULL;
        }
        out[n++] = (char)(xval(s[1]) << 4 | xval(s[2]));
        s += 2;
    }
    if (out)
        out[n] = '\0';
    return out;
}

/* A header name or value that would break the request's framing. */
static bool header_safe(const char *s, bool name)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || (name && (*s == ':' || *s == ' ')))
            return false;
    return true;
}

static enum pw_err headers(const char *list, struct trace_options *o, struct pw_error *err)
{
    o->headers = calloc(MAX_HEADERS + 1, sizeof *o->headers);
    if (!o->headers)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    size_t n = 0;
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        char *k = eq ? decode(p, eq) : NULL;
        char *v = eq ? decode(eq + 1, end) : NULL;
        bool ok = k && v && *k && header_safe(k, true) && header_safe(v, false) &&
                  n < MAX_HEADERS;
        size_t len = ok ? strlen(k) + strlen(v) + 3 : 0;
        char *line = ok ? malloc(len) : NULL;
        if (line)
            snprintf(line, len, "%s: %s", k, v);
        free(k);
        free(v);
        if (!line) /* the entry's value may be a secret: name its place only */
            return pw_error_set(err, PW_ERR_INVALID, NULL,
                                "OTEL_EXPORTER_OTLP_HEADERS: entry %zu (%s) is malformed, "
                                "or more than %d are given", n + 1,
                                eq ? "KEY=VALUE with a bad character" : "no '='",
                                MAX_HEADERS);
        o->headers[n++] = line;
        p = comma ? comma + 1 : end;
    }
    return PW_OK;
}

enum pw_err trace_options_env(const char *(*getenv_fn)(const char *), struct trace_options *o,
                              bool *enabled, struct pw_error *err)
{
    memset(o, 0, sizeof *o);
    *enabled = false;
    const char *off = getenv_fn("OTEL_SDK_DISABLED");
    const char *exporter = getenv_fn("OTEL_TRACES_EXPORTER");
    if ((off && strcasecmp(off, "true") == 0) || (exporter && strcasecmp(exporter, "none") == 0))
        return PW_OK;
    const char *specific = getenv_fn("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    const char *general = getenv_fn("OTEL_EXPORTER_OTLP_ENDPOINT");
    if (specific && *specific) {
        o->url = strdup(specific);
    } else if (general && *general) {
        size_t n = strlen(general);
        bool slash = general[n - 1] == '/';
        o->url = malloc(n + sizeof "/v1/traces");
        if (o->url)
            snprintf(o->url, n + sizeof "/v1/traces", "%s%s", general,
                     slash ? "v1/traces" : "/v1/traces");
    } else {
        return PW_OK;
    }
    const char *proto = either(getenv_fn, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                               "OTEL_EXPORTER_OTLP_PROTOCOL");
    if (proto && *proto && strcmp(proto, "http/json") != 0)
        pw_warn("trace: OTLP protocol '%s' is not spoken; sending http/json", proto);
    const char *svc = getenv_fn("OTEL_SERVICE_NAME");
    o->service_name = strdup(svc && *svc ? svc : "pennyworth");
    long batch, queue;
    enum pw_err rc = !o->url || !o->service_name
                         ? pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory")
                         : headers(either(getenv_fn, "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                                          "OTEL_EXPORTER_OTLP_HEADERS"), o, err);
    if (rc == PW_OK)
        rc = number("OTEL_EXPORTER_OTLP_TIMEOUT",
                    either(getenv_fn, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                           "OTEL_EXPORTER_OTLP_TIMEOUT"),
                    1, 600000, DEFAULT_TIMEOUT_MS, &o->timeout_ms, err);
    if (rc == PW_OK)
        rc = number("OTEL_BSP_SCHEDULE_DELAY", getenv_fn("OTEL_BSP_SCHEDULE_DELAY"), 1, 600000,
                    DEFAULT_DELAY_MS, &o->delay_ms, err);
    if (rc == PW_OK)
        rc = number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", getenv_fn("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
                    1, 100000, DEFAULT_BATCH, &batch, err);
    if (rc == PW_OK)
        rc = number("OTEL_BSP_MAX_QUEUE_SIZE", getenv_fn("OTEL_BSP_MAX_QUEUE_SIZE"), 1, 1000000,
                    DEFAULT_QUEUE, &queue, err);
    if (rc != PW_OK) {
        trace_options_clear(o);
        return rc;
    }
    o->batch_spans = (size_t)(batch < queue ? batch : queue);
    o->max_spans = (size_t)queue;
    o->max_bytes = QUEUE_BYTES;
    o->flush_ms = FLUSH_MS;
    *enabled = true;
    return PW_OK;
}

void trace_options_clear(struct trace_options *o)
{
    free(o->url);
    free(o->service_name);
    for (size_t i = 0; o->headers && o->headers[i]; i++)
        free(o->headers[i]);
    free(o->headers);
    memset(o, 0, sizeof *o);
}
