/*
 * Tests for the Bedrock provider's request side (bridge/bedrock.c):
 * prepare() against fixed inputs, and error() for HTTP error responses.
 *
 * Every fixtures/bedrock/prepare/NAME.json is one case: a target, `stream`,
 * `now` (the signing time), the OpenAI request, and `expect` {method, url,
 * headers (the exact "Name: value" lines, in order), body (the exact bytes)}.
 * The signatures in `expect` come from @smithy/signature-v4, not from our
 * code (tests/tools/gen_bedrock_prepare.mjs), so a case checks our signer,
 * our path encoding (':' as %3A on the wire, %253A in the canonical
 * request) and the signed header set all at once.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fixture_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bridge/bedrock.h"

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A target as the fixture gives it (strings borrowed from the case). */
static struct bridge_bedrock_target target_of(json_t *t)
{
    return (struct bridge_bedrock_target){
        .base = {.provider = &bridge_provider_bedrock,
                 .model = (char *)str(t, "model"),
                 .base_url = (char *)str(t, "base_url")},
        .api_key = (char *)str(t, "api_key"),
        .region = (char *)str(t, "region"),
        .access_key_id = (char *)str(t, "access_key_id"),
        .secret_access_key = (char *)str(t, "secret_access_key"),
        .session_token = (char *)str(t, "session_token"),
    };
}

static void prepare_case(void **state)
{
    const char *path = *state;
    json_t *c = fixture_json(path);
    json_t *expect = json_object_get(c, "expect");
    struct bridge_bedrock_target t = target_of(json_object_get(c, "target"));
    struct bridge_http h;
    struct pw_error err;
    pw_error_clear(&err);
    enum pw_err rc = bridge_provider_bedrock.prepare(
        &t.base, json_object_get(c, "openai"), json_is_true(json_object_get(c, "stream")),
        (long long)json_integer_value(json_object_get(c, "now")), &h, &err);
    if (rc != PW_OK)
        fail_msg("%s: %s", path, err.message);
    assert_string_equal(h.method, str(expect, "method"));
    assert_string_equal(h.url, str(expect, "url"));
    json_t *want = json_object_get(expect, "headers");
    size_t n = 0;
    while (h.headers[n]) {
        const char *w = json_string_value(json_array_get(want, n));
        if (!w || strcmp(w, h.headers[n]) != 0)
            fail_msg("%s: header %zu is \"%s\", want \"%s\"", path, n, h.headers[n],
                     w ? w : "(none)");
        n++;
    }
    assert_int_equal(n, json_array_size(want));
    const char *body = str(expect, "body");
    assert_int_equal(h.body_len, strlen(body));
    assert_memory_equal(h.body, body, h.body_len);
    bridge_http_clear(&h);
    json_decref(c);
}

static json_t *simple_request(void)
{
    return json_pack("{s:[{s:s, s:s}]}", "messages", "role", "user", "content", "hi");
}

static void refuses_bad_targets(void **state)
{
    json_t *req = simple_request();
    struct bridge_http h;
    struct pw_error err;
    struct bridge_bedrock_target t = {.base = {&bridge_provider_bedrock, "m", NULL},
                                      .region = "us-east-1"};
    pw_error_clear(&err);
    assert_int_equal(bridge_provider_bedrock.prepare(&t.base, req, false, 0, &h, &err),
                     PW_ERR_INTERNAL);
    assert_non_null(strstr(err.message, "no credentials"));
    assert_null(h.url);

    t.access_key_id = "AKID";
    t.secret_access_key = "secret";
    t.region = NULL;
    pw_error_clear(&err);
    assert_int_equal(bridge_provider_bedrock.prepare(&t.base, req, false, 0, &h, &err),
                     PW_ERR_INTERNAL);
    assert_non_null(strstr(err.message, "AWS_REGION"));

    t.region = "us-east-1";
    t.base.base_url = "ftp://example.com";
    pw_error_clear(&err);
    assert_int_equal(bridge_provider_bedrock.prepare(&t.base, req, false, 0, &h, &err),
                     PW_ERR_INTERNAL);
    t.base.base_url = "http://user@example.com";
    assert_int_equal(bridge_provider_bedrock.prepare(&t.base, req, false, 0, &h, NULL),
                     PW_ERR_INTERNAL);
    json_decref(req);
}

/* A translation failure is the client's 400, with its pointer. */
static void translation_errors_pass_through(void **state)
{
    json_t *req = simple_request();
    json_object_set_new(req, "n", json_integer(3));
    struct bridge_bedrock_target t = {.base = {&bridge_provider_bedrock, "m", NULL},
                                      .region = "us-east-1", .api_key = "k"};
    struct bridge_http h;
    struct pw_error err;
    pw_error_clear(&err);
    assert_int_equal(bridge_provider_bedrock.prepare(&t.base, req, true, 0, &h, &err),
                     PW_ERR_INVALID);
    assert_string_equal(err.pointer, "/n");
    assert_string_equal(err.message, "n > 1 is not supported by Bedrock");
    assert_null(h.body);
    json_decref(req);
}

/* Response headers for error(): NULL-terminated name/value pairs. */
static const char *lookup(void *hud, const char *name)
{
    for (const char *const *p = hud; p[0]; p += 2)
        if (strcasecmp(p[0], name) == 0)
            return p[1];
    return NULL;
}

static void http_errors(void **state)
{
    static const struct {
        int status;
        const char *type_header;
        const char *body;
        enum pw_err code;
        bool retryable;
        const char *message;
    } rows[] = {
        {429, "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
         "{\"message\":\"Too many requests\"}", PW_ERR_RATE_LIMITED, true,
         "bedrock ThrottlingException: Too many requests"},
        {400, NULL, "{\"__type\":\"com.amazon.bedrock#ValidationException\","
                    "\"message\":\"bad input\"}", PW_ERR_INVALID, false,
         "bedrock ValidationException: bad input"},
        {403, "AccessDeniedException", "{\"Message\":\"no access\"}", PW_ERR_FORBIDDEN, false,
         "bedrock AccessDeniedException: no access"},
        {503, NULL, "<html>\nService Unavailable</html>", PW_ERR_UPSTREAM, true,
         "bedrock: <html> (HTTP 503)"},
        {500, NULL, "", PW_ERR_UPSTREAM, true, "bedrock: HTTP 500"},
        {404, "ResourceNotFoundException", "not json", PW_ERR_NOT_FOUND, false,
         "bedrock ResourceNotFoundException: not json"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *headers[] = {"X-Amzn-ErrorType", rows[i].type_header, NULL, NULL};
        if (!rows[i].type_header)
            headers[0] = NULL;
        struct pw_error err;
        pw_error_clear(&err);
        bool retryable = !rows[i].retryable;
        enum pw_err rc = bridge_provider_bedrock.error(rows[i].status, lookup, headers,
                                                       rows[i].body, strlen(rows[i].body),
                                                       &retryable, &err);
        assert_int_equal(rc, rows[i].code);
        assert_int_equal(retryable, rows[i].retryable);
        assert_string_equal(err.message, rows[i].message);
    }
}

static void registered(void **state)
{
    assert_ptr_equal(bridge_provider_find("bedrock"), &bridge_provider_bedrock);
    assert_string_equal(bridge_provider_bedrock.name, "bedrock");
}

int main(int argc, char **argv)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(refuses_bad_targets),
        cmocka_unit_test(translation_errors_pass_through),
        cmocka_unit_test(http_errors),
        cmocka_unit_test(registered),
    };
    return fixture_run("bedrock-prepare", fixed, sizeof fixed / sizeof fixed[0], prepare_case,
                       ".json", argc, argv);
}
