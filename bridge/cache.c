/*
 * The response cache: identical non-streamed chat requests at temperature 0
 * are answered from memory instead of the provider, with `X-Cache: HIT`
 * (a cacheable request that went upstream says `MISS`).
 *
 * What is identical: the request body with its keys sorted (so the order
 * a client wrote them in does not matter), the context mode, and a
 * partition string from the access layer (the key's model permissions):
 * two keys share an entry only when they may use exactly the same models,
 * so an answer never reaches a key that could not have asked for it.
 * Entries hold the answer body and the context-products header, keyed by
 * the SHA-256 of all that: the mode, the partition's length and the whole
 * partition, then the body. Nothing is cut, so two partitions that differ
 * anywhere (model lists sharing a long prefix) never share an entry, and
 * the length keeps a partition from running into the body.
 *
 * Bounds: at most `max_entries` answers and `max_bytes` of bodies; each
 * lives `ttl_ms` (catalog context may change under it); the least recently
 * used goes first. A plain array searched linearly: a few hundred entries,
 * compared by 32-byte digests, cost less than one upstream call by orders
 * of magnitude.
 *
 * Threads: the service thread only (on_chat and the exchange's answer).
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/bridge-int.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/json.h"

struct entry {
    unsigned char digest[32];
    char *body;
    char *products;
    size_t bytes;
    long long expires_ms;
    unsigned long long used;    /* LRU clock */
};

struct bridge_cache {
    struct entry *v;
    size_t n, cap;
    size_t bytes, max_bytes;
    long long ttl_ms;
    unsigned long long clock;
};

enum pw_err bridge_cache_new(size_t max_entries, size_t max_bytes, long long ttl_ms,
                             struct bridge_cache **out)
{
    *out = NULL;
    struct bridge_cache *c = calloc(1, sizeof *c);
    if (!c || !(c->v = calloc(max_entries ? max_entries : 1, sizeof *c->v))) {
        free(c);
        return PW_ERR_NOMEM;
    }
    c->cap = max_entries ? max_entries : 1;
    c->max_bytes = max_bytes;
    c->ttl_ms = ttl_ms;
    *out = c;
    return PW_OK;
}

static void drop(struct bridge_cache *c, size_t i)
{
    c->bytes -= c->v[i].bytes;
    free(c->v[i].body);
    free(c->v[i].products);
    c->v[i] = c->v[--c->n];
}

void bridge_cache_free(struct bridge_cache *c)
{
    if (!c)
        return;
    while (c->n)
        drop(c, 0);
    free(c->v);
    free(c);
}

bool bridge_cache_key(const json_t *body, int mode, const char *partition,
                      struct bridge_cache_key *key)
{
    json_t *t = json_object_get(body, "temperature");
    json_t *n = json_object_get(body, "n");
    if (json_is_true(json_object_get(body, "stream")) || !json_is_number(t) ||
        json_number_value(t) != 0 || (n && json_integer_value(n) != 1))
        return false;
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    if (!text)
        return false;
    if (!partition)
        partition = "";
    size_t plen = strlen(partition);
    char head[64];
    int hn = snprintf(head, sizeof head, "%d\n%zu\n", mode, plen);
    unsigned int len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
              EVP_DigestUpdate(md, head, (size_t)hn) &&
              EVP_DigestUpdate(md, partition, plen) &&
              EVP_DigestUpdate(md, text, strlen(text)) &&
              EVP_DigestFinal_ex(md, key->digest, &len) && len == sizeof key->digest;
    EVP_MD_CTX_free(md);
    free(text);
    return ok;
}

const char *bridge_cache_get(struct bridge_cache *c, const struct bridge_cache_key *key,
                             long long now_ms, const char **products)
{
    for (size_t i = 0; i < c->n; i++) {
        if (memcmp(c->v[i].digest, key->digest, sizeof key->digest) != 0)
            continue;
        if (c->v[i].expires_ms <= now_ms) {
            drop(c, i);
            return NULL;
        }
        c->v[i].used = ++c->clock;
        *products = c->v[i].products;
        return c->v[i].body;
    }
    return NULL;
}

/* The least recently used entry (c->n > 0). */
static size_t oldest(const struct bridge_cache *c)
{
    size_t o = 0;
    for (size_t i = 1; i < c->n; i++)
        if (c->v[i].used < c->v[o].used)
            o = i;
    return o;
}

void bridge_cache_put(struct bridge_cache *c, const struct bridge_cache_key *key,
                      const char *body, const char *products, long long now_ms)
{
    size_t bytes = strlen(body) + (products ? strlen(products) : 0);
    if (bytes > c->max_bytes)
        return;
    for (size_t i = 0; i < c->n; i++)
        if (memcmp(c->v[i].digest, key->digest, sizeof key->digest) == 0)
            drop(c, i--);
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].expires_ms <= now_ms)
            drop(c, i--);
    while (c->n && (c->n == c->cap || c->bytes + bytes > c->max_bytes))
        drop(c, oldest(c));
    struct entry e = {.bytes = bytes, .expires_ms = now_ms + c->ttl_ms, .used = ++c->clock};
    memcpy(e.digest, key->digest, sizeof e.digest);
    e.body = strdup(body);
    e.products = strdup(products ? products : "");
    if (!e.body || !e.products) {
        free(e.body);
        free(e.products);
        return;
    }
    c->v[c->n++] = e;
    c->bytes += bytes;
}
