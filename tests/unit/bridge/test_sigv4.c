/*
 * Data-driven tests for bridge/sigv4.c, plus a few explicit edge cases.
 *
 * Every argument is a directory of cases (fixtures/sigv4 is AWS's own suite,
 * fixtures/sigv4-extra holds Bedrock cases derived with @smithy/signature-v4);
 * every subdirectory is one case: request.txt (the HTTP request as sent),
 * context.json (credentials, region, service, timestamp, flags) and the
 * expectations header-{canonical-request,string-to-sign,signature}.txt for the
 * Authorization-header variant and query-*.txt for the presigned variant. A
 * variant whose files are absent is skipped; adding a case is adding a
 * directory. context.json keys: credentials {access_key_id,
 * secret_access_key, token?}, region, service, timestamp
 * ("YYYY-MM-DDTHH:MM:SSZ"), normalize, sign_body (x-amz-content-sha256),
 * omit_session_token, expiration_in_seconds, and our own
 * double_uri_encode (default true).
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bridge/sigv4.h"
#include "fixture_dir.h"

#define MAX_HEADERS 32

/* ---- fixture helpers --------------------------------------------------- */

/* Expected text with trailing newlines removed (the suite has none, but an
 * editor may add one). */
static char *expected(const char *dir, const char *name)
{
    char *s = fixture_read(dir, name, NULL);
    if (s) {
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
            s[--n] = '\0';
    }
    return s;
}

struct parsed {
    char *text; /* request.txt, cut up in place */
    char *method, *path, *query;
    struct bridge_sigv4_header headers[MAX_HEADERS];
    char *values[MAX_HEADERS]; /* unfolded values (new) */
    size_t n_headers;
    const char *body;
    size_t body_len;
};

static void parsed_free(struct parsed *p)
{
    for (size_t i = 0; i < p->n_headers; i++)
        free(p->values[i]);
    free(p->text);
}

/* Next line of *s (terminator removed), or NULL at the end. */
static char *next_line(char **s)
{
    if (!*s)
        return NULL;
    char *line = *s, *nl = strchr(line, '\n');
    if (nl) {
        *nl = '\0';
        *s = nl + 1;
    } else {
        *s = NULL;
    }
    size_t n = strlen(line);
    if (n > 0 && line[n - 1] == '\r')
        line[n - 1] = '\0';
    return line;
}

static void parse_request(const char *dir, struct parsed *p)
{
    memset(p, 0, sizeof *p);
    size_t len;
    p->text = fixture_read(dir, "request.txt", &len);
    assert_non_null(p->text);
    char *cur = p->text;
    char *line = next_line(&cur);
    assert_non_null(line);
    /* METHOD SP target SP version; the target may hold spaces. */
    char *sp1 = strchr(line, ' '), *sp2 = strrchr(line, ' ');
    assert_true(sp1 && sp2 && sp2 > sp1);
    *sp1 = '\0';
    *sp2 = '\0';
    p->method = line;
    p->path = sp1 + 1;
    char *q = strchr(p->path, '?');
    if (q) {
        *q = '\0';
        p->query = q + 1;
    }
    while ((line = next_line(&cur)) && line[0]) {
        if ((line[0] == ' ' || line[0] == '\t') && p->n_headers > 0) {
            /* obs-fold: the continuation joins the value with a space */
            char **v = &p->values[p->n_headers - 1];
            size_t a = strlen(*v), b = strlen(line);
            *v = realloc(*v, a + b + 2);
            assert_non_null(*v);
            (*v)[a] = ' ';
            memcpy(*v + a + 1, line, b + 1);
            p->headers[p->n_headers - 1].value = *v;
            continue;
        }
        char *colon = strchr(line, ':');
        assert_non_null(colon);
        assert_true(p->n_headers < MAX_HEADERS);
        *colon = '\0';
        p->values[p->n_headers] = strdup(colon + 1);
        assert_non_null(p->values[p->n_headers]);
        p->headers[p->n_headers] =
            (struct bridge_sigv4_header){line, p->values[p->n_headers]};
        p->n_headers++;
    }
    p->body = cur ? cur : "";
    p->body_len = cur ? len - (size_t)(cur - p->text) : 0;
}

static time_t parse_time(const char *s)
{
    /* YYYY-MM-DDTHH:MM:SSZ */
    static const int at[] = {0, 5, 8, 11, 14, 17};
    static const int width[] = {4, 2, 2, 2, 2, 2};
    int v[6];
    assert_int_equal(strlen(s), 20);
    for (int i = 0; i < 6; i++) {
        v[i] = 0;
        for (int k = 0; k < width[i]; k++) {
            char c = s[at[i] + k];
            assert_true(c >= '0' && c <= '9');
            v[i] = v[i] * 10 + (c - '0');
        }
    }
    struct tm tm = {.tm_year = v[0] - 1900, .tm_mon = v[1] - 1, .tm_mday = v[2],
                    .tm_hour = v[3], .tm_min = v[4], .tm_sec = v[5]};
    return timegm(&tm);
}

static int flag(json_t *ctx, const char *key, int dflt)
{
    json_t *v = json_object_get(ctx, key);
    return v ? json_is_true(v) : dflt;
}

/* The value of the "Authorization:" line of a signed-request file. */
static char *auth_line(char *signed_req)
{
    for (char *cur = signed_req, *line; (line = next_line(&cur));)
        if (strncasecmp(line, "authorization:", 14) == 0)
            return line + 14;
    return NULL;
}

/* ---- the data-driven case ---------------------------------------------- */

static void check(const char *dir, const char *variant, const char *what, const char *got)
{
    char name[64];
    snprintf(name, sizeof name, "%s-%s.txt", variant, what);
    char *want = expected(dir, name);
    assert_non_null(want);
    if (strcmp(want, got) != 0)
        print_error("%s/%s differs\n--- want\n%s\n--- got\n%s\n", dir, name, want, got);
    assert_string_equal(got, want);
    free(want);
}

static void vector_case(void **state)
{
    const char *dir = *state;
    struct parsed p;
    parse_request(dir, &p);
    char *ctx_text = fixture_read(dir, "context.json", NULL);
    assert_non_null(ctx_text);
    json_error_t jerr;
    json_t *ctx = json_loads(ctx_text, 0, &jerr);
    if (!ctx)
        fail_msg("%s/context.json: %s", dir, jerr.text);
    json_t *cj = json_object_get(ctx, "credentials");
    struct bridge_sigv4_credentials creds = {
        json_string_value(json_object_get(cj, "access_key_id")),
        json_string_value(json_object_get(cj, "secret_access_key")),
        json_string_value(json_object_get(cj, "token")),
    };
    unsigned flags = 0;
    if (flag(ctx, "normalize", 1))
        flags |= BRIDGE_SIGV4_NORMALIZE_PATH;
    if (flag(ctx, "double_uri_encode", 1))
        flags |= BRIDGE_SIGV4_DOUBLE_ENCODE;
    if (flag(ctx, "sign_body", 0))
        flags |= BRIDGE_SIGV4_CONTENT_SHA256;
    if (flag(ctx, "omit_session_token", 0))
        flags |= BRIDGE_SIGV4_UNSIGNED_TOKEN;
    json_t *exp = json_object_get(ctx, "expiration_in_seconds");
    struct bridge_sigv4_request req = {
        .method = p.method,
        .path = p.path,
        .query = p.query,
        .headers = p.headers,
        .n_headers = p.n_headers,
        .payload = p.body,
        .payload_len = p.body_len,
        .region = json_string_value(json_object_get(ctx, "region")),
        .service = json_string_value(json_object_get(ctx, "service")),
        .creds = &creds,
        .when = parse_time(json_string_value(json_object_get(ctx, "timestamp"))),
        .flags = flags,
    };
    int variants = 0;
    struct pw_error err;
    struct bridge_sigv4_result res;

    char *probe = expected(dir, "header-signature.txt");
    if (probe) {
        variants++;
        pw_error_clear(&err);
        if (bridge_sigv4_sign(&req, &res, &err) != PW_OK)
            fail_msg("%s: sign failed: %s", dir, err.message);
        check(dir, "header", "canonical-request", res.canonical_request);
        check(dir, "header", "string-to-sign", res.string_to_sign);
        check(dir, "header", "signature", res.signature);
        char *signed_req = fixture_read(dir, "header-signed-request.txt", NULL);
        char *want_auth = signed_req ? auth_line(signed_req) : NULL;
        if (want_auth)
            assert_string_equal(res.authorization, want_auth);
        free(signed_req);
        assert_string_equal(res.add[res.n_add - 1].value, res.authorization);
        bridge_sigv4_result_free(&res);
        free(probe);
    }
    probe = expected(dir, "query-signature.txt");
    if (probe) {
        variants++;
        pw_error_clear(&err);
        req.flags &= ~(unsigned)BRIDGE_SIGV4_CONTENT_SHA256;
        if (bridge_sigv4_presign(&req, exp ? (long)json_integer_value(exp) : 3600, &res,
                                 &err) != PW_OK)
            fail_msg("%s: presign failed: %s", dir, err.message);
        check(dir, "query", "canonical-request", res.canonical_request);
        check(dir, "query", "string-to-sign", res.string_to_sign);
        check(dir, "query", "signature", res.signature);
        assert_non_null(strstr(res.query, res.signature));
        assert_int_equal(res.n_add, 0);
        bridge_sigv4_result_free(&res);
        free(probe);
    }
    if (variants == 0)
        fail_msg("%s: no header-*.txt or query-*.txt expectations", dir);
    json_decref(ctx);
    free(ctx_text);
    parsed_free(&p);
}

/* ---- explicit cases ---------------------------------------------------- */

static const struct bridge_sigv4_credentials test_creds = {
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL};

static struct bridge_sigv4_request base_request(const struct bridge_sigv4_header *h,
                                                size_t n)
{
    return (struct bridge_sigv4_request){
        .method = "GET", .path = "/", .headers = h, .n_headers = n,
        .region = "us-east-1", .service = "service", .creds = &test_creds,
        .when = 1440938160, /* 2015-08-30T12:36:00Z */
        .flags = BRIDGE_SIGV4_DEFAULT,
    };
}

static void uri_encode(void **state)
{
    char buf[128];
    const char *id = "anthropic.claude-3-5-sonnet-20240620-v1:0";
    assert_int_equal(bridge_sigv4_uri_encode(buf, sizeof buf, id, strlen(id), 0), 43);
    assert_string_equal(buf, "anthropic.claude-3-5-sonnet-20240620-v1%3A0");
    const char *arn = "arn:aws:bedrock:us-east-1:1:inference-profile/us.x";
    bridge_sigv4_uri_encode(buf, sizeof buf, arn, strlen(arn), 0);
    assert_string_equal(buf, "arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.x");
    bridge_sigv4_uri_encode(buf, sizeof buf, "a/b c", 5, 1);
    assert_string_equal(buf, "a/b%20c");
    /* truncation reports the full length, like snprintf */
    assert_int_equal(bridge_sigv4_uri_encode(buf, 4, "::", 2, 0), 6);
    assert_string_equal(buf, "%3A");
}

static void rejects_bad_input(void **state)
{
    struct pw_error err;
    struct bridge_sigv4_result res;
    struct bridge_sigv4_header no_host[] = {{"Accept", "*/*"}};
    struct bridge_sigv4_request req = base_request(no_host, 1);
    pw_error_clear(&err);
    assert_int_equal(bridge_sigv4_sign(&req, &res, &err), PW_ERR_INVALID);
    assert_string_equal(err.message, "sigv4: no Host header");
    assert_null(res.canonical_request);

    struct bridge_sigv4_header crlf[] = {{"Host", "example.amazonaws.com"},
                                         {"X-Evil", "a\r\nInjected: 1"}};
    req = base_request(crlf, 2);
    pw_error_clear(&err);
    assert_int_equal(bridge_sigv4_sign(&req, &res, &err), PW_ERR_INVALID);

    struct bridge_sigv4_header dup_date[] = {{"Host", "example.amazonaws.com"},
                                             {"X-Amz-Date", "20150830T123600Z"}};
    req = base_request(dup_date, 2);
    pw_error_clear(&err);
    assert_int_equal(bridge_sigv4_sign(&req, &res, &err), PW_ERR_INVALID);
    assert_string_equal(err.message, "sigv4: header x-amz-date is set by the signer");

    struct bridge_sigv4_header host[] = {{"Host", "example.amazonaws.com"}};
    req = base_request(host, 1);
    req.path = "relative";
    pw_error_clear(&err);
    assert_int_equal(bridge_sigv4_sign(&req, &res, &err), PW_ERR_INVALID);

    req = base_request(host, 1);
    req.region = "us/east";
    pw_error_clear(&err);
    assert_int_equal(bridge_sigv4_sign(&req, &res, &err), PW_ERR_INVALID);

    req = base_request(host, 1);
    pw_error_clear(&err);
    assert_int_equal(bridge_sigv4_presign(&req, 604801, &res, &err), PW_ERR_INVALID);
    assert_int_equal(bridge_sigv4_presign(&req, 0, &res, &err), PW_ERR_INVALID);
}

/* Canonical URIs for path shapes the suites do not cover. */
static void path_rules(void **state)
{
    static const struct {
        const char *path;
        unsigned flags;
        const char *want;
    } rows[] = {
        {"/a/b/..", BRIDGE_SIGV4_DEFAULT, "/a/"},
        {"/a/./b/", BRIDGE_SIGV4_DEFAULT, "/a/b/"},
        {"/../..", BRIDGE_SIGV4_DEFAULT, "/"},
        {"/m/x%3A0/converse", BRIDGE_SIGV4_DEFAULT, "/m/x%253A0/converse"},
        {"/m/x%3A0/converse", BRIDGE_SIGV4_DOUBLE_ENCODE, "/m/x%253A0/converse"},
        {"/m/a%2Fb", BRIDGE_SIGV4_DEFAULT, "/m/a%252Fb"},
        {"/m//x%3A0/../y", 0, "/m//x%3A0/../y"},
        {"/m//x/../y", BRIDGE_SIGV4_NORMALIZE_PATH, "/m/y"},
    };
    struct bridge_sigv4_header host[] = {{"Host", "example.amazonaws.com"}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct bridge_sigv4_request req = base_request(host, 1);
        struct bridge_sigv4_result res;
        req.path = rows[i].path;
        req.flags = rows[i].flags;
        assert_int_equal(bridge_sigv4_sign(&req, &res, NULL), PW_OK);
        char *uri = strchr(res.canonical_request, '\n') + 1;
        *strchr(uri, '\n') = '\0';
        assert_string_equal(uri, rows[i].want);
        bridge_sigv4_result_free(&res);
    }
}

/* Header variant extras: the headers to add, unsigned headers, literal hash. */
static void added_headers(void **state)
{
    static const struct bridge_sigv4_credentials creds = {
        "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "TOKEN+/="};
    struct bridge_sigv4_header h[] = {{"Host", "example.amazonaws.com"},
                                      {"User-Agent", "pennyworth"},
                                      {"X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"}};
    struct bridge_sigv4_request req = base_request(h, 3);
    req.creds = &creds;
    req.payload_sha256 = "UNSIGNED-PAYLOAD";
    struct bridge_sigv4_result res;
    assert_int_equal(bridge_sigv4_sign(&req, &res, NULL), PW_OK);
    assert_int_equal(res.n_add, 3);
    assert_string_equal(res.add[0].name, "X-Amz-Date");
    assert_string_equal(res.add[0].value, "20150830T123600Z");
    assert_string_equal(res.add[1].name, "X-Amz-Security-Token");
    assert_string_equal(res.add[1].value, "TOKEN+/=");
    assert_string_equal(res.add[2].name, "Authorization");
    assert_null(strstr(res.canonical_request, "user-agent"));
    assert_non_null(strstr(res.canonical_request, "x-amz-content-sha256:UNSIGNED-PAYLOAD\n"));
    assert_non_null(strstr(res.canonical_request, "\nUNSIGNED-PAYLOAD"));
    assert_non_null(strstr(res.authorization,
                           "SignedHeaders=host;x-amz-content-sha256;x-amz-date;"
                           "x-amz-security-token, Signature="));
    bridge_sigv4_result_free(&res);

    /* presign with an unsigned token: appended after the signature */
    req.flags |= BRIDGE_SIGV4_UNSIGNED_TOKEN;
    assert_int_equal(bridge_sigv4_presign(&req, 60, &res, NULL), PW_OK);
    assert_null(strstr(res.canonical_request, "Security-Token"));
    const char *sig = strstr(res.query, "&X-Amz-Signature=");
    assert_non_null(sig);
    assert_string_equal(sig + 17 + 64, "&X-Amz-Security-Token=TOKEN%2B%2F%3D");
    bridge_sigv4_result_free(&res);
}

/* ---- driver ------------------------------------------------------------ */

int main(int argc, char **argv)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(uri_encode),
        cmocka_unit_test(rejects_bad_input),
        cmocka_unit_test(path_rules),
        cmocka_unit_test(added_headers),
    };
    return fixture_run("sigv4", fixed, sizeof fixed / sizeof fixed[0], vector_case, NULL, argc,
                       argv);
}
