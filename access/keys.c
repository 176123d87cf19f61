/*
 * Key management: create, list, show, revoke, rotate and audit, on the
 * management connection (wr_lock), for the CLI and the admin API.
 *
 * The plaintext key exists only in the caller's buffer filled by create
 * and rotate; this file writes its hash and display prefix to the
 * database and wipes its own copies (OPENSSL_cleanse). Every change
 * invalidates the local key cache at once; other processes notice through
 * the keys_generation counter (keycache.c).
 *
 * Writes run on the caller's thread. On a server that is the service
 * thread: a key change is a single-row transaction that waits at most for
 * one usage batch to commit (milliseconds), which is acceptable for an
 * administrative call that happens a few times a day.
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/json.h"

#define NAME_MAX_LEN 100
#define MODEL_MAX_LEN 128
#define MAX_MODELS 64

static const char *const scope_names[] = {"chat", "mcp", "admin"};

bool pw_access_scopes_parse(const char *list, unsigned *out)
{
    unsigned bits = 0;
    const char *p = list ? list : "";
    while (*p) {
        size_t n = strcspn(p, ",");
        bool known = false;
        for (size_t i = 0; i < sizeof scope_names / sizeof scope_names[0]; i++) {
            if (n == strlen(scope_names[i]) && strncmp(p, scope_names[i], n) == 0) {
                bits |= 1u << i;
                known = true;
            }
        }
        if (!known)
            return false;
        p += n;
        if (*p == ',')
            p++;
    }
    if (!bits)
        return false;
    *out = bits;
    return true;
}

static json_t *scopes_json(unsigned bits)
{
    json_t *a = json_array();
    for (size_t i = 0; i < sizeof scope_names / sizeof scope_names[0]; i++)
        if (bits & (1u << i))
            json_array_append_new(a, json_string(scope_names[i]));
    return a;
}

/* "a, b,c" -> ["a","b","c"] (new), or NULL after setting err. */
static json_t *models_json(const char *list, struct pw_error *err)
{
    json_t *a = json_array();
    const char *p = list ? list : "";
    while (a && *p) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, ",");
        while (n && p[n - 1] == ' ')
            n--;
        if (n) {
            if (n > MODEL_MAX_LEN || json_array_size(a) == MAX_MODELS) {
                pw_error_set(err, PW_ERR_INVALID, "/models",
                             "models: at most %d names of up to %d characters", MAX_MODELS,
                             MODEL_MAX_LEN);
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, json_stringn(p, n));
        }
        p += n;
    }
    if (!a)
        pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    return a;
}

static void put_time(json_t *o, const char *name, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL) {
        json_object_set_new(o, name, json_null());
        return;
    }
    char buf[32];
    access_iso8601(sqlite3_column_int64(st, col) * 1000, buf);
    json_object_set_new(o, name, json_string(buf));
}

#define KEY_COLUMNS                                                                 \
    "k.id, k.prefix, k.name, k.tier, k.budget_micros, k.models, k.scopes,"          \
    " k.expires_at, k.status, k.created_at, k.last_used_at, k.rotated_at,"          \
    " k.revoked_at, coalesce((SELECT micros FROM key_spend AS s"                    \
    " WHERE s.key_id = k.id AND s.month = ?1), 0)"

/* One row of KEY_COLUMNS as the public record. */
static json_t *record(struct pw_access *acc, sqlite3_stmt *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string((const char *)sqlite3_column_text(st, 0)));
    json_object_set_new(o, "prefix", json_string((const char *)sqlite3_column_text(st, 1)));
    json_object_set_new(o, "name", json_string((const char *)sqlite3_column_text(st, 2)));
    json_object_set_new(o, "tier", json_string((const char *)sqlite3_column_text(st, 3)));
    json_object_set_new(o, "budgetMicros", sqlite3_column_type(st, 4) == SQLITE_NULL
                                               ? json_null()
                                               : json_integer(sqlite3_column_int64(st, 4)));
    json_t *models = json_loads((const char *)sqlite3_column_text(st, 5), 0, NULL);
    json_object_set_new(o, "models", models ? models : json_array());
    json_object_set_new(o, "scopes", scopes_json((unsigned)sqlite3_column_int(st, 6)));
    put_time(o, "expiresAt", st, 7);
    const char *status = (const char *)sqlite3_column_text(st, 8);
    int64_t expires = sqlite3_column_int64(st, 7);
    if (strcmp(status, "active") == 0 && expires && access_now_ms(acc) >= expires * 1000)
        status = "expired";
    json_object_set_new(o, "status", json_string(status));
    put_time(o, "createdAt", st, 9);
    put_time(o, "lastUsedAt", st, 10);
    put_time(o, "rotatedAt", st, 11);
    put_time(o, "revokedAt", st, 12);
    json_object_set_new(o, "spentMicros", json_integer(sqlite3_column_int64(st, 13)));
    return o;
}

static void bind_month(struct pw_access *acc, sqlite3_stmt *st)
{
    int64_t start, end;
    char month[8];
    access_month(access_now_ms(acc), &start, &end, month);
    sqlite3_bind_text(st, 1, month, -1, SQLITE_TRANSIENT);
}

/* The record of `id`, wr_lock held. */
static enum pw_err show_locked(struct pw_access *acc, const char *id, json_t **out,
                               struct pw_error *err)
{
    if (!access_id_valid(id))
        return pw_error_set(err, PW_ERR_NOT_FOUND, NULL, "no key with id '%.40s'",
                            id ? id : "");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(acc->wr, "SELECT " KEY_COLUMNS " FROM api_keys AS k WHERE k.id = ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return access_db_error(acc->wr, "show key", err);
    bind_month(acc, st);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    enum pw_err rc = PW_OK;
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        *out = record(acc, st);
    else if (s == SQLITE_DONE)
        rc = pw_error_set(err, PW_ERR_NOT_FOUND, NULL, "no key with id '%s'", id);
    else
        rc = access_db_error(acc->wr, "show key", err);
    sqlite3_finalize(st);
    return rc;
}

static void invalidate(struct pw_access *acc)
{
    pthread_mutex_lock(&acc->keys_lock);
    access_keycache_invalidate_locked(acc);
    pthread_mutex_unlock(&acc->keys_lock);
}

static enum pw_err check_spec(struct pw_access *acc, const struct pw_access_key_spec *spec,
                              struct pw_error *err)
{
    size_t n = spec->name ? strlen(spec->name) : 0;
    if (n == 0 || n > NAME_MAX_LEN)
        return pw_error_set(err, PW_ERR_INVALID, "/name",
                            "name: required, at most %d characters", NAME_MAX_LEN);
    for (const unsigned char *p = (const unsigned char *)spec->name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return pw_error_set(err, PW_ERR_INVALID, "/name", "name: no control characters");
    if (!access_tier_find(&acc->cfg, spec->tier)) {
        char known[256] = "";
        size_t used = 0;
        for (size_t i = 0; i < acc->cfg.ntiers && used < sizeof known; i++) {
            int w = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                             acc->cfg.tiers[i].name);
            used += w > 0 ? (size_t)w : 0;
        }
        return pw_error_set(err, PW_ERR_INVALID, "/tier", "tier: '%.40s' is not one of %s",
                            spec->tier ? spec->tier : "", known);
    }
    if (spec->budget_micros < -1)
        return pw_error_set(err, PW_ERR_INVALID, "/budget", "budget: must not be negative");
    if (spec->scopes > 7)
        return pw_error_set(err, PW_ERR_INVALID, "/scopes", "scopes: unknown scope bits");
    if (spec->expires_at < 0)
        return pw_error_set(err, PW_ERR_INVALID, "/expires", "expires: must be in the future");
    return PW_OK;
}

enum pw_err pw_access_key_create(struct pw_access *acc, const struct pw_access_key_spec *spec,
                                 char key[PW_ACCESS_KEY_MAX], json_t **info,
                                 struct pw_error *err)
{
    key[0] = '\0';
    enum pw_err rc = check_spec(acc, spec, err);
    if (rc)
        return rc;
    json_t *models = models_json(spec->models, err);
    if (!models)
        return err && err->code ? err->code : PW_ERR_NOMEM;
    char *models_text = json_dumps(models, PW_JSON_WIRE);
    json_decref(models);
    if (!models_text)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    char id[PW_ACCESS_ID_MAX], secret[PW_ACCESS_SECRET_LEN + 1];
    pthread_mutex_lock(&acc->wr_lock);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(acc->wr,
                           "INSERT INTO api_keys (id, prefix, secret_hash, name, tier,"
                           " budget_micros, models, scopes, expires_at, created_at)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                           -1, &st, NULL) != SQLITE_OK)
        rc = access_db_error(acc->wr, "create key", err);
    /* A clash of 60-bit random ids is all but impossible; retrying keeps
     * it from ever surfacing as an error. */
    for (int attempt = 0; !rc && attempt < 3; attempt++) {
        rc = access_key_generate(id, secret, err);
        if (rc)
            break;
        unsigned char digest[ACCESS_HASH_LEN];
        char prefix[ACCESS_DISPLAY_MAX];
        access_key_hash(secret, digest);
        access_key_display(id, secret, prefix);
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, digest, ACCESS_HASH_LEN, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, spec->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, spec->tier, -1, SQLITE_STATIC);
        if (spec->budget_micros >= 0)
            sqlite3_bind_int64(st, 6, spec->budget_micros);
        else
            sqlite3_bind_null(st, 6);
        sqlite3_bind_text(st, 7, models_text, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 8, (int)(spec->scopes ? spec->scopes
                                                   : PW_ACCESS_SCOPE_CHAT | PW_ACCESS_SCOPE_MCP));
        if (spec->expires_at)
            sqlite3_bind_int64(st, 9, spec->expires_at);
        else
            sqlite3_bind_null(st, 9);
        sqlite3_bind_int64(st, 10, access_now_ms(acc) / 1000);
        int s = sqlite3_step(st);
        if (s == SQLITE_DONE) {
            snprintf(key, PW_ACCESS_KEY_MAX, "pw_%s_%s", id, secret);
            break;
        }
        if (sqlite3_extended_errcode(acc->wr) != SQLITE_CONSTRAINT_PRIMARYKEY || attempt == 2)
            rc = access_db_error(acc->wr, "create key", err);
    }
    OPENSSL_cleanse(secret, sizeof secret);
    sqlite3_finalize(st);
    free(models_text);
    if (!rc && info)
        rc = show_locked(acc, id, info, err);
    pthread_mutex_unlock(&acc->wr_lock);
    invalidate(acc);
    if (rc)
        OPENSSL_cleanse(key, PW_ACCESS_KEY_MAX);
    return rc;
}

enum pw_err pw_access_key_list(struct pw_access *acc, json_t **out, struct pw_error *err)
{
    sqlite3_stmt *st;
    pthread_mutex_lock(&acc->wr_lock);
    if (sqlite3_prepare_v2(acc->wr,
                           "SELECT " KEY_COLUMNS " FROM api_keys AS k"
                           " ORDER BY k.created_at DESC, k.id",
                           -1, &st, NULL) != SQLITE_OK) {
        enum pw_err rc = access_db_error(acc->wr, "list keys", err);
        pthread_mutex_unlock(&acc->wr_lock);
        return rc;
    }
    bind_month(acc, st);
    json_t *keys = json_array();
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(keys, record(acc, st));
    enum pw_err rc = s == SQLITE_DONE ? PW_OK : access_db_error(acc->wr, "list keys", err);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&acc->wr_lock);
    if (rc) {
        json_decref(keys);
        return rc;
    }
    *out = json_pack("{s:o}", "keys", keys);
    return PW_OK;
}

enum pw_err pw_access_key_show(struct pw_access *acc, const char *id, json_t **out,
                               struct pw_error *err)
{
    pthread_mutex_lock(&acc->wr_lock);
    enum pw_err rc = show_locked(acc, id, out, err);
    pthread_mutex_unlock(&acc->wr_lock);
    return rc;
}

/* Runs one UPDATE on the key `id`; PW_ERR_NOT_FOUND when no row matched. */
static enum pw_err update_locked(struct pw_access *acc, const char *sql, const char *id,
                                 const void *hash, const char *prefix, const char *what,
                                 struct pw_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(acc->wr, sql, -1, &st, NULL) != SQLITE_OK)
        return access_db_error(acc->wr, what, err);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, access_now_ms(acc) / 1000);
    if (hash) {
        sqlite3_bind_blob(st, 3, hash, ACCESS_HASH_LEN, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, prefix, -1, SQLITE_STATIC);
    }
    enum pw_err rc = PW_OK;
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = access_db_error(acc->wr, what, err);
    else if (sqlite3_changes(acc->wr) == 0)
        rc = pw_error_set(err, PW_ERR_NOT_FOUND, NULL, "no key with id '%s'", id);
    sqlite3_finalize(st);
    return rc;
}

enum pw_err pw_access_key_revoke(struct pw_access *acc, const char *id, struct pw_error *err)
{
    if (!access_id_valid(id))
        return pw_error_set(err, PW_ERR_NOT_FOUND, NULL, "no key with id '%.40s'",
                            id ? id : "");
    pthread_mutex_lock(&acc->wr_lock);
    enum pw_err rc = update_locked(acc,
                                   "UPDATE api_keys SET status = 'revoked',"
                                   " revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
                                   id, NULL, NULL, "revoke key", err);
    pthread_mutex_unlock(&acc->wr_lock);
    invalidate(acc);
    return rc;
}

enum pw_err pw_access_key_rotate(struct pw_access *acc, const char *id,
                                 char key[PW_ACCESS_KEY_MAX], json_t **info,
                                 struct pw_error *err)
{
    key[0] = '\0';
    json_t *cur = NULL;
    pthread_mutex_lock(&acc->wr_lock);
    enum pw_err rc = show_locked(acc, id, &cur, err);
    if (!rc && strcmp(json_string_value(json_object_get(cur, "status")), "revoked") == 0)
        rc = pw_error_set(err, PW_ERR_STATE, NULL, "key '%s' is revoked; create a new one",
                          id);
    json_decref(cur);
    char fresh_id[PW_ACCESS_ID_MAX], secret[PW_ACCESS_SECRET_LEN + 1];
    if (!rc)
        rc = access_key_generate(fresh_id, secret, err);
    if (!rc) {
        unsigned char digest[ACCESS_HASH_LEN];
        char prefix[ACCESS_DISPLAY_MAX];
        access_key_hash(secret, digest);
        access_key_display(id, secret, prefix);
        rc = update_locked(acc,
                           "UPDATE api_keys SET secret_hash = ?3, prefix = ?4, rotated_at = ?2"
                           " WHERE id = ?1 AND status = 'active'",
                           id, digest, prefix, "rotate key", err);
        if (!rc)
            snprintf(key, PW_ACCESS_KEY_MAX, "pw_%s_%s", id, secret);
        OPENSSL_cleanse(secret, sizeof secret);
    }
    if (!rc && info)
        rc = show_locked(acc, id, info, err);
    pthread_mutex_unlock(&acc->wr_lock);
    invalidate(acc);
    if (rc)
        OPENSSL_cleanse(key, PW_ACCESS_KEY_MAX);
    return rc;
}

enum pw_err pw_access_key_audit(struct pw_access *acc, const char *id, int limit,
                                json_t **out, struct pw_error *err)
{
    if (limit <= 0 || limit > 1000)
        limit = 50;
    json_t *key = NULL;
    pthread_mutex_lock(&acc->wr_lock);
    enum pw_err rc = show_locked(acc, id, &key, err);
    sqlite3_stmt *st = NULL;
    if (!rc && sqlite3_prepare_v2(acc->wr,
                                  "SELECT " ACCESS_USAGE_COLUMNS " FROM usage WHERE key_id = ?1"
                                  " ORDER BY ts_ms DESC LIMIT ?2",
                                  -1, &st, NULL) != SQLITE_OK)
        rc = access_db_error(acc->wr, "audit key", err);
    json_t *rows = json_array();
    if (!rc) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, limit);
        int s;
        while ((s = sqlite3_step(st)) == SQLITE_ROW)
            json_array_append_new(rows, access_usage_row_json(st));
        if (s != SQLITE_DONE)
            rc = access_db_error(acc->wr, "audit key", err);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&acc->wr_lock);
    if (rc) {
        json_decref(key);
        json_decref(rows);
        return rc;
    }
    *out = json_pack("{s:o, s:o}", "key", key, "usage", rows);
    return PW_OK;
}
