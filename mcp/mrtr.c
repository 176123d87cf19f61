/*
 * Multi-round-trip requests (revision 2026-07-28): a modern tools/call,
 * prompts/get or resources/read may answer `input_required`, asking the
 * client for elicitation, sampling or roots; the client retries the same
 * request with `inputResponses` and the `requestState` it was given.
 *
 * requestState passes through the client, so it is sealed:
 *
 *     state = b64url(payload) "." b64url(HMAC-SHA256(key, "pw-rs1." b64url(payload)))
 *     payload = {"v":1, "b":<binding>, "e":<expiry, unix s>, "n":<nonce>, "s":<handler state>}
 *
 * and a retry is refused (-32602, before any handler runs) unless:
 *   1. the MAC matches (forged or altered states fail here);
 *   2. the binding matches: SHA-256 of the method, the tool/prompt name or
 *      resource URI and the arguments, so a state cannot move to another
 *      request;
 *   3. it has not expired (STATE_TTL_S: long enough for a person to answer
 *      a form, short enough to bound replays);
 *   4. its nonce was not used before: each state is good for one retry
 *      (remembered in a ring of NONCES entries while they can still be
 *      valid; a restart forgets them, so a replay after a restart is
 *      bounded by the expiry alone).
 * The key is random per process unless the host sets one
 * (pw_mcp_server_set_state_key), in which case states survive a restart.
 *
 * inputResponses must be an object of objects; keys the handler did not
 * ask for are its to ignore.
 *
 * Sealing runs on the thread that finishes the call (the key is only
 * written before sessions exist); verification and the nonce ring are on
 * the loop thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mcp/modern-int.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pennyworth/json.h"
#include "pennyworth/log.h"

#define STATE_TTL_S 900
#define NONCES 4096
#define NONCE_HEX 32
#define MAX_STATE 16384

struct mcp_nonce {
    char hex[NONCE_HEX + 1];
    int64_t expires;
};

/* Base64url without padding ------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encodes len bytes; returns new text, or NULL. */
static char *b64url(const unsigned char *in, size_t len)
{
    char *out = malloc(len / 3 * 4 + 5);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        if (i + 1 < len)
            out[o++] = b64[v >> 6 & 63];
        if (i + 2 < len)
            out[o++] = b64[v & 63];
    }
    out[o] = '\0';
    return out;
}

/* Decodes n characters into out (room for n bytes); returns the length or
 * -1 when the text is not base64url. */
static long unb64url(const char *in, size_t n, unsigned char *out)
{
    unsigned v = 0;
    int bits = 0;
    long o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = in[i] ? strchr(b64, in[i]) : NULL;
        if (!p)
            return -1;
        v = v << 6 | (unsigned)(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(v >> bits & 0xff);
        }
    }
    return bits >= 6 ? -1 : o;
}

static void hex(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static void mac(const unsigned char key[32], const char *payload, unsigned char out[32])
{
    static const char label[] = "pw-rs1.";
    size_t n = strlen(payload);
    unsigned char *msg = malloc(sizeof label - 1 + n);
    unsigned int len = 32;
    if (!msg) {
        memset(out, 0, 32);
        return;
    }
    memcpy(msg, label, sizeof label - 1);
    memcpy(msg + sizeof label - 1, payload, n);
    HMAC(EVP_sha256(), key, 32, msg, sizeof label - 1 + n, out, &len);
    free(msg);
}

/* The binding of a request: what a state may be used with. */
static void binding(const char *method, json_t *params, char out[65])
{
    json_t *args = json_object_get(params, "arguments");
    json_t *key = json_object_get(params, strcmp(method, "resources/read") == 0 ? "uri" : "name");
    json_t *what = json_pack("{s:s, s:O, s:O}", "m", method, "k", key ? key : json_null(), "a",
                             args ? args : json_null());
    char *text = json_dumps(what, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)(text ? text : ""), text ? strlen(text) : 0, md);
    hex(md, sizeof md, out);
    free(text);
    json_decref(what);
}

/* Sealing (any thread) ------------------------------------------------------------ */

static char *seal(struct pw_mcp_server *srv, const struct mcp_modern *m, json_t *state)
{
    unsigned char nonce[NONCE_HEX / 2];
    char nonce_hex[NONCE_HEX + 1];
    if (RAND_bytes(nonce, (int)sizeof nonce) != 1)
        return NULL;
    hex(nonce, sizeof nonce, nonce_hex);
    json_t *payload = json_pack("{s:i, s:s, s:I, s:s, s:O}", "v", 1, "b", m->bind, "e",
                                (json_int_t)time(NULL) + STATE_TTL_S, "n", nonce_hex, "s",
                                state ? state : json_null());
    char *text = json_dumps(payload, PW_JSON_WIRE);
    json_decref(payload);
    if (!text)
        return NULL;
    char *body = b64url((const unsigned char *)text, strlen(text));
    free(text);
    if (!body)
        return NULL;
    unsigned char tag[32];
    mac(srv->modern->key, body, tag);
    char *sig = b64url(tag, sizeof tag);
    size_t n = strlen(body) + 1 + (sig ? strlen(sig) : 0) + 1;
    char *out = sig ? malloc(n) : NULL;
    if (out)
        snprintf(out, n, "%s.%s", body, sig);
    free(body);
    free(sig);
    return out;
}

static const struct {
    const char *method;
    const char *capability;
} asks[] = {
    {"elicitation/create", "elicitation"},
    {"sampling/createMessage", "sampling"},
    {"roots/list", "roots"},
};

void pw_mcp_call_input_required(struct pw_mcp_call *call, json_t *requests_new,
                                json_t *state_new)
{
    struct mcp_modern *m = call->modern;
    if (atomic_load(&call->task) && mcp_task_input(call, requests_new, state_new))
        return; /* a task waits for tasks/update instead (tasks.c) */
    if (!m || (strcmp(call->method, "tools/call") != 0 &&
               strcmp(call->method, "prompts/get") != 0 &&
               strcmp(call->method, "resources/read") != 0)) {
        pw_errorlog("mcp: %s asked for client input outside a modern tools/call, prompts/get "
                    "or resources/read", call->method);
        json_decref(requests_new);
        json_decref(state_new);
        struct pw_error e = {.code = PW_ERR_INTERNAL,
                             .message = "internal error: client input asked where it cannot be"};
        pw_mcp_call_fail(call, &e);
        return;
    }
    const char *key;
    json_t *req;
    json_object_foreach(requests_new, key, req) {
        const char *method = json_string_value(json_object_get(req, "method"));
        size_t i = 0;
        while (i < sizeof asks / sizeof asks[0] && (!method || strcmp(asks[i].method, method)))
            i++;
        if (i == sizeof asks / sizeof asks[0]) {
            pw_errorlog("mcp: %s asked the client for %s, which is not an input request",
                        call->method, method ? method : "(no method)");
            json_decref(requests_new);
            json_decref(state_new);
            struct pw_error e = {.code = PW_ERR_INTERNAL,
                                 .message = "internal error: not an input request"};
            pw_mcp_call_fail(call, &e);
            return;
        }
        if (!json_object_get(m->caps, asks[i].capability)) {
            json_decref(requests_new);
            json_decref(state_new);
            pw_mcp_call_fail_capability(call, asks[i].capability);
            return;
        }
    }
    char *sealed = seal(call->srv, m, state_new);
    json_decref(state_new);
    if (!sealed) {
        json_decref(requests_new);
        struct pw_error e = {.code = PW_ERR_NOMEM, .message = "cannot seal requestState"};
        pw_mcp_call_fail(call, &e);
        return;
    }
    json_t *result = json_pack("{s:s, s:s}", "resultType", "input_required", "requestState",
                               sealed);
    free(sealed);
    if (requests_new)
        json_object_set_new(result, "inputRequests", requests_new);
    pw_mcp_call_finish(call, result);
}

/* Verification (loop thread) ------------------------------------------------------ */

/* Marks a nonce used; false if it already was. */
static bool spend(struct mcp_modern_srv *ms, const char *nonce, int64_t expires, int64_t now)
{
    if (!ms->nonces && !(ms->nonces = calloc(NONCES, sizeof *ms->nonces)))
        return false;
    for (size_t i = 0; i < ms->nnonces; i++)
        if (ms->nonces[i].expires >= now && strcmp(ms->nonces[i].hex, nonce) == 0)
            return false;
    struct mcp_nonce *slot = &ms->nonces[ms->nonce_head];
    ms->nonce_head = (ms->nonce_head + 1) % NONCES;
    if (ms->nnonces < NONCES)
        ms->nnonces++;
    else if (slot->expires >= now)
        pw_warn("mcp: more than %d requestStates in flight; the oldest may be replayed",
                NONCES);
    snprintf(slot->hex, sizeof slot->hex, "%s", nonce);
    slot->expires = expires;
    return true;
}

/* Opens a state; NULL with *why set when it must be refused. New. */
static json_t *open_state(struct pw_mcp_server *srv, const struct mcp_modern *m,
                          const char *state, const char **why)
{
    struct mcp_modern_srv *ms = mcp_modern_srv(srv);
    size_t n = strlen(state);
    const char *dot = strchr(state, '.');
    *why = "requestState is not one of ours";
    if (!ms || !dot || n > MAX_STATE)
        return NULL;
    size_t blen = (size_t)(dot - state);
    char *body = strndup(state, blen);
    unsigned char want[32], got[40];
    if (!body)
        return NULL;
    mac(ms->key, body, want);
    long glen = unb64url(dot + 1, strlen(dot + 1), got);
    if (glen != 32 || CRYPTO_memcmp(want, got, 32) != 0) {
        free(body);
        *why = "requestState failed its integrity check";
        return NULL;
    }
    unsigned char *raw = malloc(blen + 1);
    long rlen = raw ? unb64url(body, blen, raw) : -1;
    free(body);
    json_t *p = rlen > 0 ? json_loadb((const char *)raw, (size_t)rlen, 0, NULL) : NULL;
    free(raw);
    json_t *s = json_object_get(p, "s");
    const char *b = json_string_value(json_object_get(p, "b"));
    const char *nonce = json_string_value(json_object_get(p, "n"));
    json_int_t exp = json_integer_value(json_object_get(p, "e"));
    int64_t now = (int64_t)time(NULL);
    if (!p || json_integer_value(json_object_get(p, "v")) != 1 || !s || !b || !nonce ||
        strlen(nonce) != NONCE_HEX) {
        json_decref(p);
        return NULL;
    }
    if (strcmp(b, m->bind) != 0)
        *why = "requestState belongs to another request";
    else if (exp < now)
        *why = "requestState has expired";
    else if (!spend(ms, nonce, exp, now))
        *why = "requestState was already used";
    else
        *why = NULL;
    json_incref(s);
    json_decref(p);
    if (*why) {
        json_decref(s);
        return NULL;
    }
    return s;
}

static bool refuse(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id, const char *msg)
{
    mcp_session_reply(s, b, id, mcp_error_object(MCP_INVALID_PARAMS, msg, NULL), true);
    return false;
}

bool mcp_mrtr_accept(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                     json_t *params, struct mcp_modern *m)
{
    binding(m->method, params, m->bind);
    json_t *responses = json_object_get(params, "inputResponses");
    json_t *state = json_object_get(params, "requestState");
    if (responses) {
        const char *key;
        json_t *v;
        if (!json_is_object(responses))
            return refuse(s, b, id, "Invalid params: inputResponses must be an object");
        json_object_foreach(responses, key, v) {
            if (!json_is_object(v)) {
                char msg[200];
                snprintf(msg, sizeof msg,
                         "Invalid params: inputResponses.%.100s must be a result object", key);
                return refuse(s, b, id, msg);
            }
        }
        m->input_responses = json_incref(responses);
    }
    if (!state)
        return true;
    if (!json_is_string(state))
        return refuse(s, b, id, "Invalid params: requestState must be a string");
    const char *why;
    json_t *opened = open_state(s->srv, m, json_string_value(state), &why);
    if (!opened) {
        char msg[200];
        snprintf(msg, sizeof msg, "Invalid params: %s", why);
        return refuse(s, b, id, msg);
    }
    if (json_is_null(opened))
        json_decref(opened);
    else
        m->state = opened;
    return true;
}
