/*
 * WebSocket tickets: how a browser authenticates a WebSocket without
 * putting its key in a URL (see pw_access_ws_ticket in access.h).
 *
 * A ticket is 32 random bytes in base64url (43 characters), kept in memory
 * with the key id it was issued for and an expiry 30 s ahead. Redeeming
 * removes it, so a ticket that leaks after use (a proxy log of the upgrade
 * headers) is worth nothing. Tickets are compared with CRYPTO_memcmp.
 * Expired tickets are dropped whenever one is issued; at most 10,000 are
 * outstanding, and 1,000 for one key (beyond that, issuing fails rather
 * than grow, and one key cannot take every ticket from the others).
 *
 * Tickets do not survive a restart and are not shared between instances: a
 * page asks the instance it then connects to (sticky sessions), or retries.
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/encode.h"

#define TICKET_BYTES 32
#define TICKET_LEN PW_BASE64URL_LEN(TICKET_BYTES)
#define MAX_TICKETS 10000
#define MAX_TICKETS_PER_KEY 1000
#define PROTOCOL_PREFIX "pw-ticket."

struct access_ticket {
    struct access_ticket *next;
    char ticket[TICKET_LEN + 1];
    char key_id[PW_ACCESS_ID_MAX];
    int64_t expires_ms;
};

/* Drops expired tickets; returns how many remain, and in *mine how many of
 * them are key_id's. ticket_lock. */
static size_t prune_locked(struct pw_access *acc, int64_t now, const char *key_id, size_t *mine)
{
    size_t n = 0;
    *mine = 0;
    for (struct access_ticket **pp = &acc->tickets; *pp;) {
        struct access_ticket *t = *pp;
        if (t->expires_ms <= now) {
            *pp = t->next;
            OPENSSL_cleanse(t->ticket, sizeof t->ticket);
            free(t);
        } else {
            n++;
            *mine += strcmp(t->key_id, key_id) == 0;
            pp = &t->next;
        }
    }
    return n;
}

enum pw_err pw_access_ws_ticket(struct pw_access *acc, const struct pw_access_grant *g,
                                char ticket[PW_ACCESS_TICKET_MAX], struct pw_error *err)
{
    ticket[0] = '\0';
    if (g->status != 0)
        return pw_error_set(err, PW_ERR_AUTH, NULL, "tickets are issued to admitted requests");
    unsigned char raw[TICKET_BYTES];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return pw_error_set(err, PW_ERR_INTERNAL, NULL, "RAND_bytes failed");
    struct access_ticket *t = calloc(1, sizeof *t);
    if (!t)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    pw_base64url_encode(t->ticket, raw, sizeof raw);
    OPENSSL_cleanse(raw, sizeof raw);
    memcpy(t->key_id, g->key_id, sizeof t->key_id);
    int64_t now = access_now_ms(acc);
    t->expires_ms = now + PW_ACCESS_TICKET_TTL_MS;
    pthread_mutex_lock(&acc->ticket_lock);
    size_t mine;
    if (prune_locked(acc, now, t->key_id, &mine) >= MAX_TICKETS || mine >= MAX_TICKETS_PER_KEY) {
        pthread_mutex_unlock(&acc->ticket_lock);
        free(t);
        return pw_error_set(err, PW_ERR_TOO_LARGE, NULL,
                            "too many outstanding WebSocket tickets; retry shortly");
    }
    t->next = acc->tickets;
    acc->tickets = t;
    memcpy(ticket, t->ticket, TICKET_LEN + 1);
    pthread_mutex_unlock(&acc->ticket_lock);
    return PW_OK;
}

bool pw_access_ws_ticket_find(const char *protocols, char ticket[PW_ACCESS_TICKET_MAX])
{
    const char *p = protocols ? protocols : "";
    while (*p) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t,");
        size_t plen = sizeof PROTOCOL_PREFIX - 1;
        if (n > plen && n - plen < PW_ACCESS_TICKET_MAX &&
            strncmp(p, PROTOCOL_PREFIX, plen) == 0) {
            memcpy(ticket, p + plen, n - plen);
            ticket[n - plen] = '\0';
            return true;
        }
        p += n;
    }
    return false;
}

enum pw_err pw_access_ws_redeem(struct pw_access *acc, const char *ticket,
                                char key_id[PW_ACCESS_ID_MAX], struct pw_error *err)
{
    bool found = false;
    if (ticket && strlen(ticket) == TICKET_LEN) {
        int64_t now = access_now_ms(acc);
        pthread_mutex_lock(&acc->ticket_lock);
        for (struct access_ticket **pp = &acc->tickets; *pp; pp = &(*pp)->next) {
            struct access_ticket *t = *pp;
            if (CRYPTO_memcmp(t->ticket, ticket, TICKET_LEN) != 0)
                continue;
            *pp = t->next;
            found = t->expires_ms > now;
            if (found)
                memcpy(key_id, t->key_id, PW_ACCESS_ID_MAX);
            OPENSSL_cleanse(t->ticket, sizeof t->ticket);
            free(t);
            break;
        }
        pthread_mutex_unlock(&acc->ticket_lock);
    }
    if (!found)
        return pw_error_set(err, PW_ERR_AUTH, NULL, "unknown, used or expired ticket");
    return PW_OK;
}

void access_tickets_clear(struct pw_access *acc)
{
    struct access_ticket *t = acc->tickets;
    while (t) {
        struct access_ticket *next = t->next;
        free(t);
        t = next;
    }
    acc->tickets = NULL;
}
