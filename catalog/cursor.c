/*
 * Pagination cursors: opaque, signed, and bound to one query.
 *
 * A cursor is base64url (no padding) of 21 bytes:
 *
 *   [0]      format version (1)
 *   [1..8]   offset of the next page, big-endian
 *   [9..20]  first 12 bytes of HMAC-SHA256(key, bytes[0..8] || query hash)
 *
 * The query hash (catalog_query_hash) covers everything that decides the
 * result order: the normalized words, every filter and the sort, but not
 * the page size, so a client may change `limit` between pages. The key is
 * 32 random bytes made by schema/002_search.sql and kept in catalog_meta,
 * so every connection and process on the same file agrees on it, and
 * nobody without the file can mint one. Editing the offset, or replaying
 * the cursor against a different query, fails the HMAC check and is
 * rejected as PW_ERR_INVALID at "/cursor".
 *
 * Offsets, not keyset positions: simple and exact while the catalog holds
 * still. A write between pages may shift rows by one (a duplicate or a
 * gap); the client sees fresh data either way.
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/catalog-int.h"

#include "pennyworth/encode.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#define VERSION 1
#define MAC_LEN 12
#define RAW_LEN (1 + 8 + MAC_LEN)
#define TEXT_LEN PW_BASE64URL_LEN(RAW_LEN)

static enum pw_err load_key(struct pw_catalog *cat, struct pw_error *err)
{
    if (cat->have_cursor_key)
        return PW_OK;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(cat->db, "SELECT value FROM catalog_meta WHERE key = 'cursor_key'",
                           -1, &st, NULL) != SQLITE_OK)
        return catalog_db_error(cat, "cursor key", err);
    const char *hex = sqlite3_step(st) == SQLITE_ROW
                          ? (const char *)sqlite3_column_text(st, 0)
                          : NULL;
    bool ok = hex && strlen(hex) == 2 * sizeof cat->cursor_key &&
              pw_hex_decode(cat->cursor_key, hex, sizeof cat->cursor_key);
    sqlite3_finalize(st);
    if (!ok)
        return pw_error_set(err, PW_ERR_DB, NULL, "catalog_meta has no valid cursor_key");
    cat->have_cursor_key = true;
    return PW_OK;
}

static void sign(struct pw_catalog *cat, const unsigned char raw[RAW_LEN],
                 const unsigned char qhash[CATALOG_QUERY_HASH_LEN], unsigned char mac[MAC_LEN])
{
    unsigned char msg[9 + CATALOG_QUERY_HASH_LEN];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    memcpy(msg, raw, 9);
    memcpy(msg + 9, qhash, CATALOG_QUERY_HASH_LEN);
    HMAC(EVP_sha256(), cat->cursor_key, (int)sizeof cat->cursor_key, msg, sizeof msg, md,
         &mdlen);
    memcpy(mac, md, MAC_LEN);
}

void catalog_query_hash(const void *canon, size_t n, unsigned char out[CATALOG_QUERY_HASH_LEN])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(canon, n, md);
    memcpy(out, md, CATALOG_QUERY_HASH_LEN);
}

enum pw_err catalog_cursor_encode(struct pw_catalog *cat, uint64_t offset,
                                  const unsigned char qhash[CATALOG_QUERY_HASH_LEN],
                                  char **out, struct pw_error *err)
{
    *out = NULL;
    enum pw_err rc = load_key(cat, err);
    if (rc)
        return rc;
    unsigned char raw[RAW_LEN];
    raw[0] = VERSION;
    for (int i = 0; i < 8; i++)
        raw[1 + i] = (unsigned char)(offset >> (56 - 8 * i));
    sign(cat, raw, qhash, raw + 9);
    char *text = malloc(TEXT_LEN + 1);
    if (!text)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    pw_base64url_encode(text, raw, RAW_LEN);
    *out = text;
    return PW_OK;
}

enum pw_err catalog_cursor_decode(struct pw_catalog *cat, const char *cursor,
                                  const unsigned char qhash[CATALOG_QUERY_HASH_LEN],
                                  uint64_t *offset, struct pw_error *err)
{
    unsigned char raw[RAW_LEN], mac[MAC_LEN];
    enum pw_err rc = load_key(cat, err);
    if (rc)
        return rc;
    if (pw_base64url_decode(raw, RAW_LEN, cursor, strlen(cursor)) != RAW_LEN ||
        raw[0] != VERSION)
        return pw_error_set(err, PW_ERR_INVALID, "/cursor", "cursor is malformed");
    sign(cat, raw, qhash, mac);
    if (CRYPTO_memcmp(mac, raw + 9, MAC_LEN) != 0)
        return pw_error_set(err, PW_ERR_INVALID, "/cursor",
                            "cursor does not belong to this query");
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | raw[1 + i];
    *offset = v;
    return PW_OK;
}
