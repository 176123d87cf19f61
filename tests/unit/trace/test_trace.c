/*
 * Unit tests for trace/: the W3C traceparent parser (valid headers, a later
 * version, version ff, all-zero ids, wrong lengths and separators, upper
 * case), its formatter, the OTLP/JSON encoding of a small span tree (ids
 * as hex, times as decimal strings of wall-clock nanoseconds from the
 * monotonic marks, kind and status as integers, typed attributes, the
 * parent link) and the OTel variables (endpoint forms, header decoding,
 * the switches that turn tracing off).
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace-int.h"

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define SID "00f067aa0ba902b7"

static bool parse(const char *s, struct pw_trace_ctx *c)
{
    return pw_trace_parse_traceparent(s, strlen(s), c);
}

static void traceparent_valid(void **state)
{
    struct pw_trace_ctx c;
    assert_true(parse("00-" TID "-" SID "-01", &c));
    assert_int_equal(c.trace_id[0], 0x4b);
    assert_int_equal(c.trace_id[15], 0x36);
    assert_int_equal(c.span_id[7], 0xb7);
    assert_int_equal(c.flags, 1);
    char out[PW_TRACE_TRACEPARENT_LEN + 1];
    pw_trace_format_traceparent(&c, out);
    assert_string_equal(out, "00-" TID "-" SID "-01");
    assert_true(parse(" \t00-" TID "-" SID "-00 ", &c)); /* optional whitespace */
    assert_int_equal(c.flags, 0);
    /* A later version: read as 00, what follows after a '-' ignored. */
    assert_true(parse("01-" TID "-" SID "-01", &c));
    assert_true(parse("cc-" TID "-" SID "-01-what-the-future-holds", &c));
}

static void traceparent_invalid(void **state)
{
    static const char *const bad[] = {
        "",
        "00",
        "ff-" TID "-" SID "-01",                                /* version ff */
        "00-" TID "-" SID "-01-extra",                          /* 00 is exactly 55 */
        "00-" TID "-" SID "-011",
        "cc-" TID "-" SID "-01x",                               /* no '-' after 55 */
        "00-00000000000000000000000000000000-" SID "-01",       /* zero trace id */
        "00-" TID "-0000000000000000-01",                       /* zero span id */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-" SID "-01",       /* upper case */
        "00-" TID "-" SID "-0",                                 /* short flags */
        "00-4bf92f3577b34da6a3ce929d0e0e473-" SID "-01",        /* short trace id */
        "00-" TID "-00f067aa0ba902b-01",                        /* short span id */
        "00-" TID "x" SID "-01",                                /* wrong separator */
        "0x-" TID "-" SID "-01",                                /* version not hex */
        "00-" TID "-" SID "-g1",                                /* flags not hex */
        "00_" TID "-" SID "-01",
    };
    struct pw_trace_ctx c;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (parse(bad[i], &c))
            fail_msg("accepted: '%s'", bad[i]);
    /* The length given wins over a NUL further on. */
    const char *ok = "00-" TID "-" SID "-01";
    assert_false(pw_trace_parse_traceparent(ok, strlen(ok) - 1, &c));
}

static struct pw_trace_span *mk(const char *name, enum pw_trace_kind kind, uint8_t sid_last)
{
    struct pw_trace_span *sp = calloc(1, sizeof *sp);
    assert_non_null(sp);
    sp->name = strdup(name);
    sp->kind = kind;
    assert_true(parse("00-" TID "-" SID "-01", &sp->ctx));
    sp->ctx.span_id[7] = sid_last;
    sp->ctx.wall_offset_us = 1700000000000000LL; /* wall = monotonic + this */
    return sp;
}

static void add_attr(struct pw_trace_span *sp, const char *key, const char *s, int64_t i)
{
    struct trace_attr *a = &sp->attrs[sp->nattrs++];
    a->key = key;
    a->type = s ? TRACE_ATTR_STR : TRACE_ATTR_INT;
    a->s = s ? strdup(s) : NULL;
    a->i = i;
}

static const char *attr_of(json_t *span, const char *key, const char *type)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(span, "attributes"), i, a)
        if (strcmp(json_string_value(json_object_get(a, "key")), key) == 0)
            return json_string_value(json_object_get(json_object_get(a, "value"), type));
    return NULL;
}

static void otlp_encoding(void **state)
{
    struct pw_trace_span *root = mk("POST /v1/", PW_TRACE_SERVER, 0xb7);
    root->start_us = 1000;
    root->end_us = 2500;
    root->tracestate = strdup("vendor=1");
    add_attr(root, "http.request.method", "POST", 0);
    add_attr(root, "http.response.status_code", NULL, 200);
    struct pw_trace_span *att = mk("chat gpt-4o-mini", PW_TRACE_CLIENT, 0x01);
    memcpy(att->parent_id, root->ctx.span_id, 8);
    att->has_parent = true;
    att->start_us = 1200;
    att->end_us = 2400;
    att->failed = true;
    att->status_message = strdup("upstream answered 429");
    add_attr(att, "gen_ai.usage.input_tokens", NULL, 42);
    add_attr(att, "error.type", "429", 0);
    root->next = att;

    json_t *doc = trace_otlp_encode(root, 2, "shop");
    assert_non_null(doc);
    json_t *rs = json_array_get(json_object_get(doc, "resourceSpans"), 0);
    json_t *res = json_object_get(rs, "resource");
    assert_string_equal(attr_of(res, "service.name", "stringValue"), "shop");
    json_t *ss = json_array_get(json_object_get(rs, "scopeSpans"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ss, "scope"), "name")),
                        "pennyworth");
    json_t *spans = json_object_get(ss, "spans");
    assert_int_equal(json_array_size(spans), 2);

    json_t *s0 = json_array_get(spans, 0);
    assert_string_equal(json_string_value(json_object_get(s0, "traceId")), TID);
    assert_string_equal(json_string_value(json_object_get(s0, "spanId")), SID);
    assert_null(json_object_get(s0, "parentSpanId"));
    assert_string_equal(json_string_value(json_object_get(s0, "traceState")), "vendor=1");
    assert_string_equal(json_string_value(json_object_get(s0, "name")), "POST /v1/");
    assert_int_equal(json_integer_value(json_object_get(s0, "kind")), 2);
    assert_string_equal(json_string_value(json_object_get(s0, "startTimeUnixNano")),
                        "1700000000001000000");
    assert_string_equal(json_string_value(json_object_get(s0, "endTimeUnixNano")),
                        "1700000000002500000");
    assert_string_equal(attr_of(s0, "http.request.method", "stringValue"), "POST");
    assert_string_equal(attr_of(s0, "http.response.status_code", "intValue"), "200");
    assert_int_equal(json_object_size(json_object_get(s0, "status")), 0); /* unset */

    json_t *s1 = json_array_get(spans, 1);
    assert_string_equal(json_string_value(json_object_get(s1, "parentSpanId")), SID);
    assert_string_equal(json_string_value(json_object_get(s1, "spanId")), "00f067aa0ba90201");
    assert_int_equal(json_integer_value(json_object_get(s1, "kind")), 3);
    assert_string_equal(attr_of(s1, "gen_ai.usage.input_tokens", "intValue"), "42");
    assert_string_equal(attr_of(s1, "error.type", "stringValue"), "429");
    json_t *st = json_object_get(s1, "status");
    assert_int_equal(json_integer_value(json_object_get(st, "code")), 2);
    assert_string_equal(json_string_value(json_object_get(st, "message")),
                        "upstream answered 429");
    json_decref(doc);
    trace_span_free(root);
    trace_span_free(att);
}

/* A fake environment: NAME=VALUE pairs. */
static const char *const *env_vars;

static const char *fake_env(const char *name)
{
    for (size_t i = 0; env_vars[i]; i += 2)
        if (strcmp(env_vars[i], name) == 0)
            return env_vars[i + 1];
    return NULL;
}

static bool configure(const char *const *vars, struct trace_options *o, enum pw_err *rc)
{
    env_vars = vars;
    bool on = false;
    struct pw_error err = {0};
    *rc = trace_options_env(fake_env, o, &on, &err);
    return on;
}

static void environment(void **state)
{
    struct trace_options o;
    enum pw_err rc;
    assert_false(configure((const char *[]){NULL}, &o, &rc));
    assert_int_equal(rc, PW_OK);

    assert_true(configure((const char *[]){"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/",
                                           "OTEL_EXPORTER_OTLP_HEADERS",
                                           "api-key=a%3Db%20c, x-t = 1", NULL},
                          &o, &rc));
    assert_string_equal(o.url, "http://c:4318/v1/traces");
    assert_string_equal(o.service_name, "pennyworth");
    assert_string_equal(o.headers[0], "api-key: a=b c");
    assert_string_equal(o.headers[1], "x-t: 1");
    assert_null(o.headers[2]);
    trace_options_clear(&o);

    assert_true(configure((const char *[]){"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318",
                                           "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t/x",
                                           "OTEL_EXPORTER_OTLP_HEADERS", "a=1",
                                           "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "b=2",
                                           "OTEL_SERVICE_NAME", "shop",
                                           "OTEL_BSP_MAX_QUEUE_SIZE", "10",
                                           "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "50", NULL},
                          &o, &rc));
    assert_string_equal(o.url, "http://t/x");
    assert_string_equal(o.headers[0], "b: 2");
    assert_string_equal(o.service_name, "shop");
    assert_int_equal(o.max_spans, 10);
    assert_int_equal(o.batch_spans, 10); /* never more than the queue holds */
    trace_options_clear(&o);

    assert_false(configure((const char *[]){"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c",
                                            "OTEL_SDK_DISABLED", "true", NULL},
                           &o, &rc));
    assert_false(configure((const char *[]){"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c",
                                            "OTEL_TRACES_EXPORTER", "none", NULL},
                           &o, &rc));
    assert_false(configure((const char *[]){"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c",
                                            "OTEL_EXPORTER_OTLP_HEADERS", "novalue", NULL},
                           &o, &rc));
    assert_int_equal(rc, PW_ERR_INVALID);
    assert_false(configure((const char *[]){"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c",
                                            "OTEL_EXPORTER_OTLP_HEADERS", "a=%zz", NULL},
                           &o, &rc));
    assert_int_equal(rc, PW_ERR_INVALID);
    assert_false(configure((const char *[]){"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c",
                                            "OTEL_BSP_SCHEDULE_DELAY", "soon", NULL},
                           &o, &rc));
    assert_int_equal(rc, PW_ERR_INVALID);
}

static void off_records_nothing(void **state)
{
    assert_false(pw_trace_on());
    assert_null(pw_trace_span_begin(NULL, "x", PW_TRACE_INTERNAL, 0));
    assert_null(pw_trace_span_begin_remote("00-" TID "-" SID "-01", NULL, "x", PW_TRACE_SERVER,
                                           0));
    /* Every call takes the NULL span. */
    pw_trace_span_str(NULL, "k", "v");
    pw_trace_span_int(NULL, "k", 1);
    pw_trace_span_error(NULL, "t", "m");
    pw_trace_span_end(NULL, 0);
    assert_null(pw_trace_span_ctx(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(traceparent_valid),   cmocka_unit_test(traceparent_invalid),
        cmocka_unit_test(otlp_encoding),       cmocka_unit_test(environment),
        cmocka_unit_test(off_records_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
