/*
 * Tests for the OpenAI provider (bridge/openai.c) and the SSE parser under
 * it (bridge/stream.c). The decoder is data-driven: every
 * fixtures/bridge/openai-sse/NAME.sse is an upstream body and NAME.json
 * what must come out (format in fixtures/bridge/README.md); each body is
 * fed whole, one byte at a time and in pseudo-random pieces (fixed seeds),
 * and every way must give the same chunks and the same error. Request
 * preparation and HTTP error mapping are checked case by case.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fixture_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/bridge-int.h"
#include "bridge/openai.h"
#include "pennyworth/json.h"

static const struct bridge_provider *p = &bridge_provider_openai;

/* Feeds `body` in pieces of at most `piece` bytes (0: whole; a negative
 * value seeds pseudo-random sizes). Returns the outcome as "WHERE: CODE:
 * MESSAGE" or NULL (new), and the chunks in *chunks (new). */
static char *decode_all(const char *body, size_t len, bool include_usage, long piece,
                        json_t **chunks)
{
    struct bridge_decode_ctx ctx = {"chatcmpl-test", "client-model", 7, include_usage};
    struct bridge_decoder *d = NULL;
    assert_int_equal(p->decoder_new(&ctx, true, &d, NULL), PW_OK);
    *chunks = json_array();
    unsigned seed = piece < 0 ? (unsigned)-piece : 0;
    struct pw_error err = {0};
    bool retryable = false;
    const char *where = NULL;
    for (size_t off = 0; off < len && !where;) {
        size_t n = len - off;
        if (piece > 0 && n > (size_t)piece)
            n = (size_t)piece;
        if (piece < 0) {
            seed = seed * 1103515245u + 12345u;
            size_t r = 1 + (seed >> 16) % 17;
            n = n < r ? n : r;
        }
        if (p->decode(d, body + off, n, *chunks, &retryable, &err) != PW_OK)
            where = "decode";
        off += n;
    }
    json_t *completion = NULL;
    if (!where && p->finish(d, *chunks, &completion, &retryable, &err) != PW_OK)
        where = "finish";
    assert_null(completion);
    p->decoder_free(d);
    if (!where)
        return NULL;
    size_t n = strlen(err.message) + 64;
    char *s = malloc(n);
    snprintf(s, n, "%s: %s: %s", where, pw_err_name(err.code), err.message);
    return s;
}

static void run_case(void **state)
{
    const char *json_path = *state;
    json_t *want = fixture_json(json_path);
    char sse_path[4096];
    snprintf(sse_path, sizeof sse_path, "%.*s.sse", (int)(strlen(json_path) - 5), json_path);
    size_t len;
    char *body = fixture_read(sse_path, NULL, &len);
    if (!body)
        fail_msg("%s: missing", sse_path);
    bool usage = json_is_true(json_object_get(want, "include_usage"));
    const char *want_err = json_string_value(json_object_get(want, "error"));
    static const long pieces[] = {0, 1, 7, -1, -2, -3};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        json_t *chunks = NULL;
        char *got_err = decode_all(body, len, usage, pieces[i], &chunks);
        if (!json_equal(chunks, json_object_get(want, "chunks"))) {
            char *g = json_dumps(chunks, PW_JSON_WIRE | JSON_SORT_KEYS);
            print_error("pieces %ld: got chunks %s\n", pieces[i], g);
            free(g);
            fail();
        }
        if (!want_err != !got_err)
            fail_msg("pieces %ld: error %s, want %s", pieces[i], got_err ? got_err : "none",
                     want_err ? want_err : "none");
        if (want_err) {
            /* "WHERE: CODE: TEXT": the prefix exact, TEXT contained. */
            const char *second = strstr(want_err, ": ");
            const char *text = second ? strstr(second + 2, ": ") : NULL;
            size_t plen = text ? (size_t)(text - want_err) : strlen(want_err);
            if (strncmp(got_err, want_err, plen) != 0 || (text && !strstr(got_err, text + 2)))
                fail_msg("pieces %ld: error '%s', want '%s'", pieces[i], got_err, want_err);
        }
        free(got_err);
        json_decref(chunks);
    }
    free(body);
    json_decref(want);
}

static const char *header_of(struct bridge_http *h, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; h->headers[i]; i++)
        if (strncmp(h->headers[i], name, n) == 0 && h->headers[i][n] == ':')
            return h->headers[i] + n + 2;
    return NULL;
}

static void prepare_stream(void **state)
{
    (void)state;
    struct bridge_openai_target t = {
        .base = {&bridge_provider_openai, "gpt-4o-mini", "http://127.0.0.1:9/v1/"},
        .api_key = "sk-test"};
    json_t *req = json_loads("{\"model\":\"alias\",\"messages\":[{\"role\":\"user\","
                             "\"content\":\"hi\"}],\"stream_options\":{\"x\":1},"
                             "\"logit_bias\":{\"50256\":-100},\"stream\":true}", 0, NULL);
    struct bridge_http h;
    assert_int_equal(p->prepare(&t.base, req, true, 0, &h, NULL), PW_OK);
    assert_string_equal(h.method, "POST");
    assert_string_equal(h.url, "http://127.0.0.1:9/v1/chat/completions");
    assert_string_equal(header_of(&h, "Authorization"), "Bearer sk-test");
    assert_string_equal(header_of(&h, "Content-Type"), "application/json");
    json_t *body = json_loadb(h.body, h.body_len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(body, "model")), "gpt-4o-mini");
    assert_true(json_is_true(json_object_get(body, "stream")));
    json_t *so = json_object_get(body, "stream_options");
    assert_true(json_is_true(json_object_get(so, "include_usage")));
    assert_int_equal(json_integer_value(json_object_get(so, "x")), 1);
    assert_non_null(json_object_get(body, "logit_bias")); /* unknown fields pass */
    /* The client's request is not modified. */
    assert_string_equal(json_string_value(json_object_get(req, "model")), "alias");
    json_decref(body);
    bridge_http_clear(&h);
    json_decref(req);
}

static void prepare_plain(void **state)
{
    (void)state;
    struct bridge_openai_target t = {.base = {&bridge_provider_openai, "m", "http://h/v1"}};
    json_t *req = json_loads("{\"model\":\"a\",\"messages\":[],\"stream_options\":{}}", 0, NULL);
    struct bridge_http h;
    assert_int_equal(p->prepare(&t.base, req, false, 0, &h, NULL), PW_OK);
    assert_null(header_of(&h, "Authorization")); /* no key: none sent */
    json_t *body = json_loadb(h.body, h.body_len, 0, NULL);
    assert_true(json_is_false(json_object_get(body, "stream")));
    assert_null(json_object_get(body, "stream_options"));
    json_decref(body);
    bridge_http_clear(&h);
    json_decref(req);
}

static void errors(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *body;
        enum pw_err code;
        bool retryable;
        const char *text;
    } cases[] = {
        {400, "{\"error\":{\"message\":\"bad thing\",\"type\":\"invalid_request_error\"}}",
         PW_ERR_INVALID, false, "bad thing"},
        {401, "{\"error\":{\"message\":\"Incorrect API key\"}}", PW_ERR_AUTH, false,
         "Incorrect API key"},
        {404, "{}", PW_ERR_NOT_FOUND, false, "upstream 404"},
        {429, "{\"error\":{\"message\":\"slow down\"}}", PW_ERR_RATE_LIMITED, true,
         "slow down"},
        {500, "oops", PW_ERR_UPSTREAM, true, "oops"},
        {503, "", PW_ERR_UPSTREAM, true, "upstream 503"},
        {504, "", PW_ERR_TIMEOUT, true, "upstream 504"},
        {418, "{\"message\":\"teapot\"}", PW_ERR_INVALID, false, "teapot"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pw_error err = {0};
        bool retryable = !cases[i].retryable;
        enum pw_err rc = p->error(cases[i].status, NULL, NULL, cases[i].body,
                                  strlen(cases[i].body), &retryable, &err);
        assert_int_equal(rc, cases[i].code);
        assert_int_equal(err.code, cases[i].code);
        assert_int_equal(retryable, cases[i].retryable);
        if (!strstr(err.message, cases[i].text))
            fail_msg("%d: '%s' lacks '%s'", cases[i].status, err.message, cases[i].text);
    }
}

static void non_streamed(void **state)
{
    (void)state;
    struct bridge_decode_ctx ctx = {"chatcmpl-test", "client-model", 7, false};
    struct bridge_decoder *d = NULL;
    assert_int_equal(p->decoder_new(&ctx, false, &d, NULL), PW_OK);
    const char *body = "{\"id\":\"up\",\"object\":\"chat.completion\",\"created\":1,"
                       "\"model\":\"x\","
                       "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                       "\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}";
    json_t *chunks = json_array();
    bool retryable;
    assert_int_equal(p->decode(d, body, 10, chunks, &retryable, NULL), PW_OK);
    assert_int_equal(p->decode(d, body + 10, strlen(body) - 10, chunks, &retryable, NULL),
                     PW_OK);
    json_t *c = NULL;
    assert_int_equal(p->finish(d, chunks, &c, &retryable, NULL), PW_OK);
    assert_string_equal(json_string_value(json_object_get(c, "id")), "chatcmpl-test");
    assert_string_equal(json_string_value(json_object_get(c, "model")), "client-model");
    assert_int_equal(json_array_size(chunks), 0);
    json_decref(c);
    p->decoder_free(d);
    /* Garbage instead of a completion. */
    assert_int_equal(p->decoder_new(&ctx, false, &d, NULL), PW_OK);
    assert_int_equal(p->decode(d, "<html>", 6, chunks, &retryable, NULL), PW_OK);
    struct pw_error err = {0};
    c = NULL;
    assert_int_equal(p->finish(d, chunks, &c, &retryable, &err), PW_ERR_UPSTREAM);
    assert_true(retryable);
    assert_null(c);
    p->decoder_free(d);
    json_decref(chunks);
}

struct events {
    char buf[256];
    size_t n;
};

static enum pw_err collect(void *ud, const char *data, size_t len, struct pw_error *err)
{
    (void)err;
    struct events *e = ud;
    e->n += (size_t)snprintf(e->buf + e->n, sizeof e->buf - e->n, "[%.*s]", (int)len, data);
    return PW_OK;
}

static void sse_rules(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"data: a\n\n", "[a]"},
        {"data:a\r\n\r\n", "[a]"},
        {"data:  two spaces\n\n", "[ two spaces]"},
        {"data: x\ndata: y\n\n", "[x\ny]"},
        {": comment\n\nevent: e\nid: 1\nretry: 5\ndata: z\n\n", "[z]"},
        {"data\n\n", "[]"},
        {"event: only\n\n", ""},
        {"data: a\r\rdata: b\n\n", "[a][b]"},
        {"data: unterminated", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct bridge_sse sse = {0};
        struct events e = {{0}, 0};
        assert_int_equal(bridge_sse_feed(&sse, cases[i].in, strlen(cases[i].in), collect, &e,
                                         NULL),
                         PW_OK);
        if (strcmp(e.buf, cases[i].out) != 0)
            fail_msg("case %zu: got '%s', want '%s'", i, e.buf, cases[i].out);
        bridge_sse_clear(&sse);
    }
    /* The bound on one event. */
    struct bridge_sse sse = {.max = 16};
    struct events e = {{0}, 0};
    struct pw_error err = {0};
    assert_int_equal(bridge_sse_feed(&sse, "data: 0123456789abcdef\n\n", 24, collect, &e, &err),
                     PW_ERR_TOO_LARGE);
    bridge_sse_clear(&sse);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest fixed[] = {
        cmocka_unit_test(prepare_stream), cmocka_unit_test(prepare_plain),
        cmocka_unit_test(errors),         cmocka_unit_test(non_streamed),
        cmocka_unit_test(sse_rules),
    };
    return fixture_run("bridge-openai", fixed, sizeof fixed / sizeof fixed[0], run_case,
                       ".json", argc, argv);
}
