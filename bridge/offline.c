/*
 * The offline provider: the built-in model "pennyworth-offline", which
 * answers from the catalog context without any network or credentials, so
 * that a fresh `pennyworth serve` shows a complete chat answer. It is a
 * provider row like the others (provider.h): the exchange runs it through
 * the same attempt, context injection, reply, usage and metrics paths, and
 * the page, the SDKs and /v1/models see OpenAI's shapes.
 *
 * How it fits: `prepare` composes the whole response from the request it
 * is given (offline.h says what the answer is) and returns it as a local
 * request (bridge_http.local), which the upstream layer hands back as a
 * 200 response without a socket (upstream.h). That response is OpenAI's
 * wire format, so decoding it is the OpenAI row's job: this row's decoders
 * are OpenAI's, and its `error` never runs (a local response is always a
 * 200).
 *
 * Configuration: none. The row has no environment, takes no deployment
 * members, is never "configured" (so a real provider, when there is one,
 * is the default model), and answers its built-in name from any
 * configuration; a file may also name it as a deployment ({"provider":
 * "offline", "model": "..."}), e.g. as the last fallback of an alias.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/offline.h"

#include <stdlib.h>
#include <string.h>

#include "bridge/context.h"
#include "bridge/provider.h"
#include "pennyworth/buf.h"
#include "pennyworth/json.h"

#define QUESTION_MAX 80          /* bytes of the user's text quoted back */
/* Products listed at most: the context search finds a few (5 by default);
 * the bound keeps an answer small whatever a message holds. */
#define PRODUCTS_MAX 20

/* The answer ---------------------------------------------------------------------------------- */

/* One "- [ID] NAME; key: value; ..." line of the injected context, as
 * the customer reads it: "- NAME (BRAND) [ID]: PRICE, AVAILABILITY". False
 * for a line that is not a product. */
static bool put_product(struct pw_buf *t, const char *line, size_t len)
{
    if (len < 4 || memcmp(line, "- [", 3) != 0)
        return false;
    const char *end = line + len;
    const char *id = line + 3;
    const char *close = memchr(id, ']', (size_t)(end - id));
    if (!close || close == id)
        return false;
    const char *p = close + 1 + (close + 1 < end && close[1] == ' ');
    const char *name = p;
    /* Every search stays within the line: a scan to the end of the whole
     * message per line would cost the square of its length. */
    const char *semi = memmem(p, (size_t)(end - p), "; ", 2);
    const char *name_end = semi ? semi : end;
    struct {
        const char *key, *val;
        size_t len;
    } f[] = {{"brand: ", NULL, 0}, {"price: ", NULL, 0}, {"availability: ", NULL, 0}};
    for (p = name_end; p < end;) {
        p += 2; /* "; " */
        const char *next = p < end ? memmem(p, (size_t)(end - p), "; ", 2) : NULL;
        const char *f_end = next ? next : end;
        for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
            size_t kl = strlen(f[k].key);
            if ((size_t)(f_end - p) > kl && memcmp(p, f[k].key, kl) == 0) {
                f[k].val = p + kl;
                f[k].len = (size_t)(f_end - p) - kl;
            }
        }
        p = f_end;
    }
    pw_buf_appendf(t, "- %.*s", (int)(name_end - name), name);
    if (f[0].val)
        pw_buf_appendf(t, " (%.*s)", (int)f[0].len, f[0].val);
    pw_buf_appendf(t, " [%.*s]", (int)(close - id), id);
    if (f[1].val)
        pw_buf_appendf(t, ": %.*s", (int)f[1].len, f[1].val);
    if (f[2].val) {
        /* "in-stock" reads "in stock". */
        pw_buf_append_str(t, ", ");
        for (size_t i = 0; i < f[2].len; i++)
            pw_buf_append(t, strchr("-_", f[2].val[i]) ? " " : &f[2].val[i], 1);
    }
    pw_buf_append_str(t, "\n");
    return true;
}

/* The products of the injected context message, at most PRODUCTS_MAX; how
 * many. That message is the last of the leading system messages
 * (enrich.c inserts it there) and starts with BRIDGE_CONTEXT_HEADER; the
 * client's own system messages are not read. */
static size_t put_products(struct pw_buf *t, json_t *messages)
{
    const char *text = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!role || (strcmp(role, "system") != 0 && strcmp(role, "developer") != 0))
            break;
        text = json_string_value(json_object_get(m, "content"));
    }
    static const char header[] = BRIDGE_CONTEXT_HEADER;
    if (!text || strncmp(text, header, sizeof header - 1) != 0)
        return 0;
    size_t n = 0;
    for (const char *line = text; *line && n < PRODUCTS_MAX;) {
        size_t len = strcspn(line, "\n");
        n += put_product(t, line, len);
        line += len + (line[len] == '\n');
    }
    return n;
}

/* The user's question, quoted on one line: white space folded, cut at
 * QUESTION_MAX bytes on a UTF-8 boundary. */
static void put_question(struct pw_buf *t, const char *q)
{
    size_t n = 0;
    bool space = false;
    pw_buf_append_str(t, "\"");
    for (const char *p = q + strspn(q, " \t\r\n"); *p; p++) {
        bool ws = *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n';
        if (ws) {
            space = true;
            continue;
        }
        if (n >= QUESTION_MAX && ((unsigned char)*p & 0xC0) != 0x80) {
            pw_buf_append_str(t, "...");
            break;
        }
        if (space)
            pw_buf_append(t, " ", 1);
        space = false;
        pw_buf_append(t, p, 1);
        n++;
    }
    pw_buf_append_str(t, "\"");
}

char *bridge_offline_answer(json_t *req)
{
    json_t *messages = json_object_get(req, "messages");
    char *question = bridge_context_user_text(messages);
    struct pw_buf list = {0}, t = {0};
    size_t n = put_products(&list, messages);
    pw_buf_append_str(&t, BRIDGE_OFFLINE_LABEL " ");
    if (n) {
        pw_buf_append_str(&t, "The catalog's best matches");
        if (question) {
            pw_buf_append_str(&t, " for ");
            put_question(&t, question);
        }
        pw_buf_appendf(&t, ":\n%s", pw_buf_str(&list));
        pw_buf_append_str(&t, "This list comes straight from the catalog search; start "
                              "pennyworth with OPENAI_API_KEY or AWS credentials for a "
                              "model's answer.");
    } else {
        pw_buf_append_str(&t, "Nothing in the catalog matches");
        if (question) {
            pw_buf_append_str(&t, " ");
            put_question(&t, question);
        }
        pw_buf_append_str(&t, ". Try a product, a brand or a category, e.g. \"phone\".");
    }
    free(question);
    bool failed = list.err != PW_OK;
    pw_buf_free(&list);
    if (failed) {
        pw_buf_free(&t);
        return NULL;
    }
    return pw_buf_take(&t); /* NULL when out of memory */
}

/* Tokens -------------------------------------------------------------------------------------- */

static bool word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c >= 0x80;
}

long long bridge_offline_tokens(const char *text)
{
    long long n = 0;
    for (const unsigned char *p = (const unsigned char *)text; p && *p;) {
        if (word_byte(*p)) {
            while (word_byte(*p))
                p++;
            n++;
        } else {
            n += !(*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n');
            p++;
        }
    }
    return n;
}

long long bridge_offline_prompt_tokens(json_t *req)
{
    long long n = 0;
    size_t i, j;
    json_t *m, *part;
    json_array_foreach(json_object_get(req, "messages"), i, m) {
        json_t *content = json_object_get(m, "content");
        n += bridge_offline_tokens(json_string_value(content));
        json_array_foreach(content, j, part)
            n += bridge_offline_tokens(json_string_value(json_object_get(part, "text")));
    }
    return n;
}

/* The wire body ------------------------------------------------------------------------------- */

/* One SSE event with `chunk`'s choices (stolen) in a chunk object. */
static void put_chunk(struct pw_buf *t, const char *model, json_t *choices, json_t *usage)
{
    json_t *c = json_pack("{s:s, s:s, s:i, s:s, s:o}", "id", "chatcmpl-offline", "object",
                          "chat.completion.chunk", "created", 0, "model", model, "choices",
                          choices);
    if (c && usage)
        json_object_set(c, "usage", usage);
    char *s = c ? json_dumps(c, PW_JSON_WIRE) : NULL;
    json_decref(c);
    if (!s) {
        t->err = PW_ERR_NOMEM;
        return;
    }
    pw_buf_appendf(t, "data: %s\n\n", s);
    free(s);
}

static json_t *delta_choice(json_t *delta, const char *finish)
{
    return json_pack("[{s:i, s:o, s:s?}]", "index", 0, "delta", delta, "finish_reason", finish);
}

char *bridge_offline_body(json_t *req, const char *model, bool stream, size_t *len)
{
    char *answer = bridge_offline_answer(req);
    if (!answer)
        return NULL;
    long long in = bridge_offline_prompt_tokens(req), out = bridge_offline_tokens(answer);
    json_t *usage = json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)in,
                              "completion_tokens", (json_int_t)out, "total_tokens",
                              (json_int_t)(in + out));
    struct pw_buf t = {0};
    if (!stream) {
        json_t *c = json_pack("{s:s, s:s, s:i, s:s, s:[{s:i, s:{s:s, s:s}, s:s}], s:O}", "id",
                              "chatcmpl-offline", "object", "chat.completion", "created", 0,
                              "model", model, "choices", "index", 0, "message", "role",
                              "assistant", "content", answer, "finish_reason", "stop",
                              "usage", usage);
        char *s = c ? json_dumps(c, PW_JSON_WIRE) : NULL;
        json_decref(c);
        if (s)
            pw_buf_append_str(&t, s);
        if (!s)
            t.err = PW_ERR_NOMEM;
        free(s);
    } else {
        /* Line by line, so a streaming client sees it arrive in pieces. */
        put_chunk(&t, model, delta_choice(json_pack("{s:s, s:s}", "role", "assistant",
                                                    "content", ""), NULL), NULL);
        for (const char *p = answer; *p;) {
            size_t n = strcspn(p, "\n");
            n += p[n] == '\n';
            put_chunk(&t, model, delta_choice(json_pack("{s:s%}", "content", p, n), NULL),
                      NULL);
            p += n;
        }
        put_chunk(&t, model, delta_choice(json_object(), "stop"), NULL);
        put_chunk(&t, model, json_array(), usage);
        pw_buf_append_str(&t, "data: [DONE]\n\n");
    }
    json_decref(usage);
    free(answer);
    if (t.err != PW_OK || !usage) {
        pw_buf_free(&t);
        return NULL;
    }
    *len = t.len;
    return pw_buf_take(&t);
}

/* The provider row ---------------------------------------------------------------------------- */

static enum pw_err defaults_new(bridge_getenv_fn getenv_fn, void **out, struct pw_error *err)
{
    (void)getenv_fn;
    (void)err;
    *out = NULL; /* no environment */
    return PW_OK;
}

static void defaults_free(void *defaults) { (void)defaults; }

static void target_free(struct bridge_target *t)
{
    if (!t)
        return;
    free(t->model);
    free(t);
}

static enum pw_err target_new(const void *defaults, const char *model, json_t *deploy,
                              bridge_getenv_fn getenv_fn, const char *ptr,
                              struct bridge_target **out, struct pw_error *err)
{
    (void)defaults;
    (void)getenv_fn;
    *out = NULL;
    if (json_object_get(deploy, "credentials") || json_object_get(deploy, "base_url") ||
        json_object_get(deploy, "region"))
        return pw_error_set(err, PW_ERR_INVALID, ptr,
                            "%s: the offline provider takes no credentials, base_url or "
                            "region", ptr);
    struct bridge_target *t = calloc(1, sizeof *t);
    if (t)
        t->model = strdup(model);
    if (!t || !t->model) {
        target_free(t);
        return pw_error_set(err, PW_ERR_NOMEM, ptr, "%s: out of memory", ptr);
    }
    t->provider = &bridge_provider_offline;
    *out = t;
    return PW_OK;
}

static enum pw_err prepare(const struct bridge_target *t, json_t *req, bool stream,
                           long long now, struct bridge_http *out, struct pw_error *err)
{
    (void)now;
    memset(out, 0, sizeof *out);
    out->local = true;
    out->method = strdup("POST");
    out->headers = calloc(1, sizeof *out->headers);
    out->body = bridge_offline_body(req, t->model, stream, &out->body_len);
    if (!out->method || !out->headers || !out->body) {
        bridge_http_clear(out);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "offline: out of memory");
    }
    return PW_OK;
}

static enum pw_err error(int status, const char *(*header)(void *hud, const char *name),
                         void *hud, const char *body, size_t len, bool *retryable,
                         struct pw_error *err)
{
    (void)header;
    (void)hud;
    (void)body;
    (void)len;
    *retryable = false;
    return pw_error_set(err, PW_ERR_INTERNAL, NULL, "offline: unexpected status %d", status);
}

/* OpenAI's wire format, so OpenAI's decoders (their functions are the
 * OpenAI row's; these forward to them). */
static enum pw_err decoder_new(const struct bridge_decode_ctx *ctx, bool stream,
                               struct bridge_decoder **out, struct pw_error *err)
{
    return bridge_provider_openai.decoder_new(ctx, stream, out, err);
}

static enum pw_err decode(struct bridge_decoder *d, const char *data, size_t len,
                          json_t *chunks, bool *retryable, struct pw_error *err)
{
    return bridge_provider_openai.decode(d, data, len, chunks, retryable, err);
}

static enum pw_err finish(struct bridge_decoder *d, json_t *chunks, json_t **completion,
                          bool *retryable, struct pw_error *err)
{
    return bridge_provider_openai.finish(d, chunks, completion, retryable, err);
}

static void decoder_free(struct bridge_decoder *d) { bridge_provider_openai.decoder_free(d); }

const struct bridge_provider bridge_provider_offline = {
    .name = "offline",
    .genai_system = "pennyworth.offline",
    .builtin = BRIDGE_OFFLINE_MODEL,
    .defaults_new = defaults_new,
    .defaults_free = defaults_free,
    .target_new = target_new,
    .target_free = target_free,
    .prepare = prepare,
    .error = error,
    .decoder_new = decoder_new,
    .decode = decode,
    .finish = finish,
    .decoder_free = decoder_free,
};
