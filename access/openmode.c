/*
 * Open mode: a server with no API key at all admits requests without one,
 * which is how a developer runs it on a laptop. It is a footgun anywhere
 * else, so it is allowed only on a loopback address (127.0.0.0/8, ::1,
 * "localhost") with a warning in the log, or on another address only when
 * the operator asked for it explicitly (`--allow-open`).
 *
 * The rule is checked once before listening; afterwards open mode ends by
 * itself with the first key created (admission sees the key table).
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "pennyworth/log.h"

static bool loopback(const char *host)
{
    if (!host || !*host)
        return false;
    if (strcasecmp(host, "localhost") == 0)
        return true;
    struct in_addr v4;
    if (inet_pton(AF_INET, host, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    struct in6_addr v6;
    return inet_pton(AF_INET6, host, &v6) == 1 && memcmp(&v6, &in6addr_loopback, 16) == 0;
}

enum pw_err pw_access_check_open(struct pw_access *acc, const char *host, bool allow_open,
                                 struct pw_error *err)
{
    bool any = false;
    pthread_mutex_lock(&acc->keys_lock);
    enum pw_err rc = access_keycache_refresh_locked(acc, err);
    for (size_t i = 0; !rc && !any && i < ACCESS_KEY_BUCKETS; i++)
        any = acc->keys.buckets[i] != NULL;
    pthread_mutex_unlock(&acc->keys_lock);
    if (rc || any)
        return rc;
    if (loopback(host)) {
        pw_warn("access: no API key exists: serving OPEN (no authentication) on loopback %s; "
                "create one with 'pennyworth keys create'", host);
        return PW_OK;
    }
    if (allow_open) {
        pw_warn("access: no API key exists: serving OPEN (no authentication) on %s, as "
                "--allow-open asked", host ? host : "every interface");
        return PW_OK;
    }
    return pw_error_set(err, PW_ERR_STATE, NULL,
                        "no API key exists and %s is not a loopback address: create a key "
                        "with 'pennyworth keys create --name NAME --tier TIER', or pass "
                        "--allow-open to serve without authentication",
                        host && *host ? host : "'*'");
}
