/*
 * The key cache: every key's settings and secret hash in memory, so that
 * authenticating a request costs a hash-table probe, one SHA-256 and a
 * constant-time compare, and never waits on the disk.
 *
 * Freshness: revocation, expiry and rotation must count from the very next
 * request, even when another process (the `pennyworth keys` CLI) made the
 * change. Each admission therefore asks the read connection for PRAGMA
 * data_version, which moves when any other connection commits and costs no
 * page read; only then is the one-row keys_generation read (triggers bump
 * it on every change that matters to authentication, not on last_used
 * stamps), and only when that moved is the keys table read again. A
 * change made through this `pw_access` invalidates the cache directly.
 * Expiry needs no database at all: it is compared with the clock on every
 * check.
 *
 * Everything here runs under keys_lock (the cache and `rd` share it).
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static size_t bucket(const char *id)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % ACCESS_KEY_BUCKETS;
}

static void key_free(struct access_key *k)
{
    for (size_t i = 0; i < k->nmodels; i++)
        free(k->models[i]);
    free(k->models);
    free(k);
}

static void drop_all(struct access_keycache *kc)
{
    for (size_t i = 0; i < ACCESS_KEY_BUCKETS; i++) {
        struct access_key *k = kc->buckets[i];
        while (k) {
            struct access_key *next = k->next;
            key_free(k);
            k = next;
        }
        kc->buckets[i] = NULL;
    }
}

void access_keycache_clear(struct access_keycache *kc)
{
    drop_all(kc);
    sqlite3_finalize(kc->data_version_st);
    sqlite3_finalize(kc->generation_st);
    kc->data_version_st = kc->generation_st = NULL;
    kc->loaded = false;
}

void access_keycache_invalidate_locked(struct pw_access *acc) { acc->keys.loaded = false; }

static int64_t step_int(sqlite3_stmt *st)
{
    int64_t v = -1;
    sqlite3_reset(st);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return v;
}

static bool models_load(struct access_key *k, const char *text)
{
    json_t *arr = json_loads(text ? text : "[]", 0, NULL);
    size_t n = json_array_size(arr);
    bool ok = true;
    if (n) {
        k->models = calloc(n, sizeof *k->models);
        ok = k->models != NULL;
        for (size_t i = 0; ok && i < n; i++) {
            k->models[i] = strdup(json_string_value(json_array_get(arr, i)) ?
                                  json_string_value(json_array_get(arr, i)) : "");
            ok = k->models[i] != NULL;
            k->nmodels = i + 1;
        }
    }
    json_decref(arr);
    return ok;
}

static enum pw_err reload(struct pw_access *acc, struct pw_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(acc->rd,
                           "SELECT id, secret_hash, tier, budget_micros, models, scopes,"
                           " expires_at, status FROM api_keys",
                           -1, &st, NULL) != SQLITE_OK)
        return access_db_error(acc->rd, "load keys", err);
    struct access_key *fresh[ACCESS_KEY_BUCKETS] = {0};
    enum pw_err rc = PW_OK;
    int s;
    while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
        struct access_key *k = calloc(1, sizeof *k);
        if (!k) {
            rc = pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
            break;
        }
        snprintf(k->id, sizeof k->id, "%s", (const char *)sqlite3_column_text(st, 0));
        if (sqlite3_column_bytes(st, 1) == ACCESS_HASH_LEN)
            memcpy(k->hash, sqlite3_column_blob(st, 1), ACCESS_HASH_LEN);
        snprintf(k->tier, sizeof k->tier, "%s", (const char *)sqlite3_column_text(st, 2));
        k->budget_micros = sqlite3_column_type(st, 3) == SQLITE_NULL
                               ? -1 : sqlite3_column_int64(st, 3);
        k->scopes = (unsigned)sqlite3_column_int(st, 5);
        k->expires_at = sqlite3_column_int64(st, 6);
        k->revoked = strcmp((const char *)sqlite3_column_text(st, 7), "active") != 0;
        if (!models_load(k, (const char *)sqlite3_column_text(st, 4))) {
            key_free(k);
            rc = pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
            break;
        }
        size_t b = bucket(k->id);
        k->next = fresh[b];
        fresh[b] = k;
    }
    if (!rc && s != SQLITE_DONE)
        rc = access_db_error(acc->rd, "load keys", err);
    sqlite3_finalize(st);
    if (rc) {
        struct access_keycache tmp = {0};
        memcpy(tmp.buckets, fresh, sizeof fresh);
        drop_all(&tmp);
        return rc;
    }
    drop_all(&acc->keys);
    memcpy(acc->keys.buckets, fresh, sizeof fresh);
    return PW_OK;
}

enum pw_err access_keycache_refresh_locked(struct pw_access *acc, struct pw_error *err)
{
    struct access_keycache *kc = &acc->keys;
    if (!kc->data_version_st &&
        (sqlite3_prepare_v3(acc->rd, "PRAGMA data_version", -1, SQLITE_PREPARE_PERSISTENT,
                            &kc->data_version_st, NULL) != SQLITE_OK ||
         sqlite3_prepare_v3(acc->rd,
                            "SELECT value FROM access_meta WHERE name = 'keys_generation'",
                            -1, SQLITE_PREPARE_PERSISTENT, &kc->generation_st,
                            NULL) != SQLITE_OK))
        return access_db_error(acc->rd, "prepare key cache checks", err);
    int64_t dv = step_int(kc->data_version_st);
    if (kc->loaded && dv == kc->data_version)
        return PW_OK;
    int64_t gen = step_int(kc->generation_st);
    if (gen < 0)
        return access_db_error(acc->rd, "read keys_generation", err);
    if (!kc->loaded || gen != kc->generation) {
        enum pw_err rc = reload(acc, err);
        if (rc)
            return rc;
    }
    kc->data_version = dv;
    kc->generation = gen;
    kc->loaded = true;
    return PW_OK;
}

const struct access_key *access_keycache_get_locked(struct pw_access *acc, const char *id)
{
    if (!id)
        return NULL;
    for (const struct access_key *k = acc->keys.buckets[bucket(id)]; k; k = k->next)
        if (strcmp(k->id, id) == 0)
            return k;
    return NULL;
}

static enum access_auth state(struct pw_access *acc, const struct access_key *k)
{
    if (k->revoked)
        return ACCESS_AUTH_REVOKED;
    if (k->expires_at && access_now_ms(acc) >= k->expires_at * 1000)
        return ACCESS_AUTH_EXPIRED;
    return ACCESS_AUTH_OK;
}

enum access_auth access_authenticate_locked(struct pw_access *acc, const char *plaintext,
                                            const struct access_key **key)
{
    char id[PW_ACCESS_ID_MAX];
    char secret[PW_ACCESS_SECRET_LEN + 1];
    if (!plaintext || !*plaintext)
        return ACCESS_AUTH_MISSING;
    if (!access_key_parse(plaintext, id, secret))
        return ACCESS_AUTH_MALFORMED;
    unsigned char digest[ACCESS_HASH_LEN];
    access_key_hash(secret, digest);
    OPENSSL_cleanse(secret, sizeof secret);
    const struct access_key *k = access_keycache_get_locked(acc, id);
    if (!k || CRYPTO_memcmp(digest, k->hash, ACCESS_HASH_LEN) != 0)
        return ACCESS_AUTH_UNKNOWN;
    *key = k;
    return state(acc, k);
}

enum access_auth access_recheck_locked(struct pw_access *acc, const char *id,
                                       const struct access_key **key)
{
    const struct access_key *k = access_keycache_get_locked(acc, id);
    if (!k)
        return ACCESS_AUTH_UNKNOWN;
    *key = k;
    return state(acc, k);
}

bool access_key_allows_model(const struct access_key *k, const char *model)
{
    if (!k->nmodels)
        return true;
    for (size_t i = 0; model && i < k->nmodels; i++)
        if (strcmp(k->models[i], model) == 0)
            return true;
    return false;
}

bool pw_access_model_allowed(struct pw_access *acc, const char *key_id, const char *model)
{
    pthread_mutex_lock(&acc->keys_lock);
    const struct access_key *k = access_keycache_get_locked(acc, key_id);
    bool ok = k && access_key_allows_model(k, model);
    pthread_mutex_unlock(&acc->keys_lock);
    return ok;
}

int pw_access_key_count(struct pw_access *acc)
{
    int n = 0;
    pthread_mutex_lock(&acc->keys_lock);
    if (access_keycache_refresh_locked(acc, NULL) == PW_OK)
        for (size_t i = 0; i < ACCESS_KEY_BUCKETS; i++)
            for (const struct access_key *k = acc->keys.buckets[i]; k; k = k->next)
                n += state(acc, k) == ACCESS_AUTH_OK;
    pthread_mutex_unlock(&acc->keys_lock);
    return n;
}
