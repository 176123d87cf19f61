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
 *      resource URI, the arguments and the session's principal (a hash of
 *      the credential it came with), so a state cannot move to another
 *      request or to another key;
 *   3. it has not expired (STATE_TTL_S: long enough for a person to answer
 *      a form, short enough to bound replays);
 *   4. its nonce was not used before: each state is good for one retry.
 *      Every spent nonce is remembered until its state expires (a hash set
 *      of at most SPENT_MAX; when that many are live, retries are refused
 *      rather than one forgotten), so no replay succeeds within a state's
 *      lifetime. A restart forgets them, so a replay after a restart is
 *      bounded by the expiry alone.
 *
 * Decoding is bounded: each part is decoded into a buffer of its own
 * capacity, and a part of the wrong length is refused (-32602).
 * The key is random per process unless the host sets one
 * (pw_mcp_server_set_state_key), in which case states survive a restart.
 *
 * inputResponses must be an object of objects; keys the handler did not
 * ask for are its to ignore.
 *
 * Sealing runs on the thread that finishes the call (the key is only
 * written before sessions exist); verification and the spent set are on
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

#include "pennyworth/encode.h"
#include "pennyworth/json.h"
#include "pennyworth/log.h"

#define STATE_TTL_S 900
#define NONCE_BYTES 16
#define NONCE_HEX (2 * NONCE_BYTES)
#define MAX_STATE 16384
/* Spent states remembered at once, each until it expires; past this a
 * retry is refused (fail closed) rather than forgetting one. One principal
 * (API key) may hold states_per_principal of them (a server option), so
 * one client cannot refuse every other key's retries. */
#define SPENT_MAX 65536
#define SPENT_MIN_CAP 64

struct mcp_nonce {
    unsigned char id[NONCE_BYTES];
    uint64_t who;               /* the spender's principal (its first 8 bytes) */
    int64_t expires;            /* 0: free slot */
};

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

/* The binding of a request: what a state may be used with, and by whom
 * (the session's principal, a hash of its credential). */
static void binding(const char *method, json_t *params, const unsigned char principal[32],
                    char out[65])
{
    char who[65];
    pw_hex_encode(who, principal, 32);
    json_t *args = json_object_get(params, "arguments");
    json_t *key = json_object_get(params, strcmp(method, "resources/read") == 0 ? "uri" : "name");
    json_t *what = json_pack("{s:s, s:O, s:O, s:s}", "m", method, "k", key ? key : json_null(),
                             "a", args ? args : json_null(), "p", who);
    char *text = json_dumps(what, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)(text ? text : ""), text ? strlen(text) : 0, md);
    pw_hex_encode(out, md, sizeof md);
    free(text);
    json_decref(what);
}

/* Sealing (any thread) ------------------------------------------------------------ */

static char *seal(struct pw_mcp_server *srv, const struct mcp_modern *m, json_t *state)
{
    unsigned char nonce[NONCE_BYTES];
    char nonce_hex[NONCE_HEX + 1];
    if (RAND_bytes(nonce, (int)sizeof nonce) != 1)
        return NULL;
    pw_hex_encode(nonce_hex, nonce, sizeof nonce);
    json_t *payload = json_pack("{s:i, s:s, s:I, s:s, s:O}", "v", 1, "b", m->bind, "e",
                                (json_int_t)time(NULL) + STATE_TTL_S, "n", nonce_hex, "s",
                                state ? state : json_null());
    char *text = json_dumps(payload, PW_JSON_WIRE);
    json_decref(payload);
    if (!text)
        return NULL;
    size_t tlen = strlen(text);
    char *out = malloc(PW_BASE64URL_LEN(tlen) + 1 + PW_BASE64URL_LEN(32) + 1);
    if (!out) {
        free(text);
        return NULL;
    }
    size_t blen = pw_base64url_encode(out, text, tlen);
    free(text);
    unsigned char tag[32];
    mac(srv->modern->key, out, tag);
    out[blen] = '.';
    pw_base64url_encode(out + blen + 1, tag, sizeof tag);
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

/* The spent set keeps every spent nonce until its state expires, so a state
 * can never be used twice within its lifetime: it is rebuilt without the
 * expired entries whenever it is half full, growing while live entries
 * need it, up to SPENT_MAX. Beside it, a count of live entries per
 * principal (same capacity, rebuilt with it) enforces the per-principal
 * bound. */
static size_t slot_of(const void *key, size_t cap)
{
    uint64_t h;
    memcpy(&h, key, sizeof h); /* random or hashed bytes: a fine hash */
    return (size_t)h & (cap - 1);
}

/* The live count of `who`, creating its slot. */
static uint32_t *count_of(struct mcp_modern_srv *ms, uint64_t who)
{
    size_t j = slot_of(&who, ms->spent_cap);
    while (ms->spent_by[j].n && ms->spent_by[j].who != who)
        j = (j + 1) & (ms->spent_cap - 1);
    ms->spent_by[j].who = who;
    return &ms->spent_by[j].n;
}

static bool spent_rebuild(struct mcp_modern_srv *ms, int64_t now)
{
    size_t live = 0;
    for (size_t i = 0; i < ms->spent_cap; i++)
        live += ms->spent[i].expires >= now;
    if (live >= SPENT_MAX)
        return false;
    size_t cap = SPENT_MIN_CAP;
    while (cap < 4 * (live + 1))
        cap *= 2;
    struct mcp_nonce *tab = calloc(cap, sizeof *tab);
    struct mcp_spent_by *by = calloc(cap, sizeof *by);
    if (!tab || !by) {
        free(tab);
        free(by);
        return false;
    }
    for (size_t i = 0; i < ms->spent_cap; i++) {
        if (ms->spent[i].expires < now)
            continue;
        size_t j = slot_of(ms->spent[i].id, cap);
        while (tab[j].expires)
            j = (j + 1) & (cap - 1);
        tab[j] = ms->spent[i];
    }
    free(ms->spent);
    free(ms->spent_by);
    ms->spent = tab;
    ms->spent_by = by;
    ms->spent_cap = cap;
    ms->nspent = live;
    for (size_t i = 0; i < cap; i++)
        if (tab[i].expires)
            (*count_of(ms, tab[i].who))++;
    return true;
}

/* Marks a nonce spent by `principal`. NULL, or why it must be refused. */
static const char *spend(struct mcp_modern_srv *ms, uint32_t per_principal,
                         const unsigned char principal[32], const char *nonce_hex,
                         int64_t expires, int64_t now)
{
    unsigned char id[NONCE_BYTES];
    if (!pw_hex_decode(id, nonce_hex, sizeof id))
        return "requestState is not one of ours";
    if ((2 * (ms->nspent + 1) > ms->spent_cap || ms->nspent >= SPENT_MAX) &&
        !spent_rebuild(ms, now)) {
        pw_warn("mcp: %d requestStates spent and not yet expired; refusing more retries",
                SPENT_MAX);
        return "too many requestStates in use; retry the request from the start";
    }
    uint64_t who;
    memcpy(&who, principal, sizeof who);
    /* Counts include expired entries until a rebuild drops them. */
    if (*count_of(ms, who) >= per_principal &&
        (!spent_rebuild(ms, now) || *count_of(ms, who) >= per_principal))
        return "too many requestStates of this key in use; retry the request from the start";
    uint32_t *n = count_of(ms, who);
    size_t j = slot_of(id, ms->spent_cap);
    for (; ms->spent[j].expires; j = (j + 1) & (ms->spent_cap - 1))
        if (memcmp(ms->spent[j].id, id, sizeof id) == 0 && ms->spent[j].expires >= now)
            return "requestState was already used";
    memcpy(ms->spent[j].id, id, sizeof id);
    ms->spent[j].who = who;
    ms->spent[j].expires = expires > 0 ? expires : 1;
    ms->nspent++;
    (*n)++;
    return NULL;
}

/* Opens a state; NULL with *why set when it must be refused. New. */
static json_t *open_state(struct pw_mcp_server *srv, const struct mcp_modern *m,
                          const unsigned char principal[32], const char *state,
                          const char **why)
{
    struct mcp_modern_srv *ms = mcp_modern_srv(srv);
    size_t n = strlen(state);
    const char *dot = strchr(state, '.');
    *why = "requestState is not one of ours";
    if (!ms || !dot || n > MAX_STATE)
        return NULL;
    size_t blen = (size_t)(dot - state);
    char *body = strndup(state, blen);
    unsigned char want[32], got[32];
    if (!body)
        return NULL;
    mac(ms->key, body, want);
    long glen = pw_base64url_decode(got, sizeof got, dot + 1, n - blen - 1);
    if (glen != (long)sizeof got || CRYPTO_memcmp(want, got, sizeof got) != 0) {
        free(body);
        *why = "requestState failed its integrity check";
        return NULL;
    }
    size_t rcap = blen / 4 * 3 + 3;
    unsigned char *raw = malloc(rcap);
    long rlen = raw ? pw_base64url_decode(raw, rcap, body, blen) : -1;
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
    else
        *why = spend(ms, (uint32_t)srv->opt.states_per_principal, principal, nonce, exp, now);
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
    binding(m->method, params, s->principal, m->bind);
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
    json_t *opened = open_state(s->srv, m, s->principal, json_string_value(state), &why);
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
