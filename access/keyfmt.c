/*
 * The shape of an API key: "pw_" + public id + "_" + secret.
 *
 *   pw_k7m2q9x4ab3d_4hs2...  (3 + 12 + 1 + 52 = 68 characters)
 *
 * Both parts are lower-case base32 characters (a-z, 2-7): no two that look
 * alike in most fonts, nothing a shell or URL needs to quote, and a double
 * click selects the whole key. The id (60 random bits) names the key's row
 * and is public: it appears in logs, metrics and the admin API. The secret
 * (52 x 5 = 260 random bits, from OpenSSL's RAND_bytes) is never stored:
 * the database keeps SHA-256(secret), and authentication compares digests
 * with CRYPTO_memcmp. A plain hash suffices because the secret is random
 * and long; there is nothing for a salt or a slow hash to protect.
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

static bool in_alphabet(char c) { return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'); }

/* n random characters and a NUL; each uses 5 bits of one random byte, so
 * every character is uniform. */
static enum pw_err random_chars(char *out, size_t n, struct pw_error *err)
{
    unsigned char raw[PW_ACCESS_SECRET_LEN];
    if (n > sizeof raw || RAND_bytes(raw, (int)n) != 1)
        return pw_error_set(err, PW_ERR_INTERNAL, NULL, "RAND_bytes failed");
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[raw[i] & 31];
    out[n] = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
    return PW_OK;
}

enum pw_err access_key_generate(char id[PW_ACCESS_ID_MAX],
                                char secret[PW_ACCESS_SECRET_LEN + 1], struct pw_error *err)
{
    enum pw_err rc = random_chars(id, PW_ACCESS_ID_LEN, err);
    return rc ? rc : random_chars(secret, PW_ACCESS_SECRET_LEN, err);
}

bool access_id_valid(const char *s)
{
    if (!s || strlen(s) != PW_ACCESS_ID_LEN)
        return false;
    for (const char *p = s; *p; p++)
        if (!in_alphabet(*p))
            return false;
    return true;
}

bool access_key_parse(const char *key, char id[PW_ACCESS_ID_MAX],
                      char secret[PW_ACCESS_SECRET_LEN + 1])
{
    if (!key || strlen(key) != PW_ACCESS_KEY_MAX - 1 || strncmp(key, "pw_", 3) != 0 ||
        key[3 + PW_ACCESS_ID_LEN] != '_')
        return false;
    const char *s = key + 3 + PW_ACCESS_ID_LEN + 1;
    for (size_t i = 0; i < PW_ACCESS_SECRET_LEN; i++)
        if (!in_alphabet(s[i]))
            return false;
    memcpy(id, key + 3, PW_ACCESS_ID_LEN);
    id[PW_ACCESS_ID_LEN] = '\0';
    if (!access_id_valid(id))
        return false;
    memcpy(secret, s, PW_ACCESS_SECRET_LEN + 1);
    return true;
}

void access_key_hash(const char *secret, unsigned char out[ACCESS_HASH_LEN])
{
    unsigned int n = 0;
    EVP_Digest(secret, strlen(secret), out, &n, EVP_sha256(), NULL);
}

void access_key_display(const char *id, const char *secret, char out[ACCESS_DISPLAY_MAX])
{
    snprintf(out, ACCESS_DISPLAY_MAX, "pw_%s_%.4s", id, secret);
}
