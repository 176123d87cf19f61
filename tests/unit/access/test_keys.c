/*
 * The key lifecycle: creation (shown once, stored only hashed), use,
 * rotation, revocation and expiry counting from the very next request,
 * also when another process (another pw_access on the same file) makes the
 * change; scopes, model lists, open mode and its loopback rule.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static int admit_key(struct pw_access *acc, const char *key, unsigned scope, const char *model)
{
    struct pw_access_request req = {.api_key = key, .scope = scope, .model = model};
    struct pw_access_grant g;
    pw_access_admit(acc, &req, &g);
    pw_access_finish(acc, &g, NULL);
    return g.status;
}

static void bytes_absent(const char *path, const char *needle)
{
    size_t len = 0;
    char *data = at_read(path, &len);
    if (!data)
        return;
    size_t n = strlen(needle);
    assert_int_equal(n, PW_ACCESS_SECRET_LEN);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(data + i, needle, n) == 0)
            fail_msg("%s holds the secret at byte %zu", path, i);
    free(data);
}

static void lifecycle(void **state)
{
    char *dir = at_tmpdir();
    struct at_clock clock = {AT_T0};
    struct pw_access *acc = at_open(dir, &clock, NULL, true);
    char key[PW_ACCESS_KEY_MAX], rotated[PW_ACCESS_KEY_MAX];
    json_t *info = NULL;
    struct pw_error err = {0};
    struct pw_access_key_spec spec = {.name = "shop", .tier = "premium", .budget_micros = -1,
                                      .expires_at = AT_T0 / 1000 + 3600};
    assert_int_equal(pw_access_key_create(acc, &spec, key, &info, &err), PW_OK);
    assert_int_equal(strlen(key), PW_ACCESS_KEY_MAX - 1);
    assert_memory_equal(key, "pw_", 3);
    const char *id = json_string_value(json_object_get(info, "id"));
    assert_memory_equal(key + 3, id, PW_ACCESS_ID_LEN);
    assert_string_equal(json_string_value(json_object_get(info, "status")), "active");
    char prefix[32];
    snprintf(prefix, sizeof prefix, "%.20s", key);
    assert_string_equal(json_string_value(json_object_get(info, "prefix")), prefix);

    /* Use: both header forms. */
    assert_int_equal(admit_key(acc, key, PW_ACCESS_SCOPE_CHAT, NULL), 0);
    char bearer[PW_ACCESS_KEY_MAX + 8];
    snprintf(bearer, sizeof bearer, "Bearer %s", key);
    struct pw_access_request req = {.authorization = bearer, .scope = PW_ACCESS_SCOPE_MCP};
    struct pw_access_grant g;
    pw_access_admit(acc, &req, &g);
    assert_int_equal(g.status, 0);
    assert_string_equal(g.key_id, id);
    assert_string_equal(g.tier, "premium");

    /* A wrong secret with the right id, a malformed key, no key. */
    char wrong[PW_ACCESS_KEY_MAX];
    memcpy(wrong, key, sizeof wrong);
    wrong[PW_ACCESS_KEY_MAX - 2] = wrong[PW_ACCESS_KEY_MAX - 2] == 'a' ? 'b' : 'a';
    assert_int_equal(admit_key(acc, wrong, 0, NULL), 401);
    assert_int_equal(admit_key(acc, "pw_short", 0, NULL), 401);
    assert_int_equal(admit_key(acc, NULL, 0, NULL), 401);

    /* Rotation: the new key works, the old one stops at once. */
    assert_int_equal(pw_access_key_rotate(acc, id, rotated, NULL, &err), PW_OK);
    assert_string_not_equal(rotated, key);
    assert_memory_equal(rotated, key, 3 + PW_ACCESS_ID_LEN + 1);
    assert_int_equal(admit_key(acc, key, 0, NULL), 401);
    assert_int_equal(admit_key(acc, rotated, 0, NULL), 0);

    /* Expiry, by the clock alone. */
    atomic_store(&clock.now, AT_T0 + 3600 * 1000);
    assert_int_equal(admit_key(acc, rotated, 0, NULL), 401);
    atomic_store(&clock.now, AT_T0);
    assert_int_equal(admit_key(acc, rotated, 0, NULL), 0);

    /* Revocation from another "process" (a second pw_access on the file)
     * counts from the next request here, also for a session's key id. */
    struct pw_access *other = at_open(dir, &clock, NULL, false);
    assert_int_equal(pw_access_key_revoke(other, id, &err), PW_OK);
    assert_int_equal(admit_key(acc, rotated, 0, NULL), 401);
    struct pw_access_request session = {.key_id = id};
    pw_access_admit(acc, &session, &g);
    assert_int_equal(g.status, 401);
    assert_non_null(strstr(g.message, "revoked"));
    char refused[PW_ACCESS_KEY_MAX];
    assert_int_equal(pw_access_key_rotate(other, id, refused, NULL, &err), PW_ERR_STATE);
    assert_string_equal(refused, "");
    pw_access_close(other);

    /* Nothing the client holds was written: not the key, not its secret. */
    pw_access_usage_flush(acc);
    json_decref(info);
    pw_access_close(acc);
    char *db = at_path(dir, "access.db"), *wal = at_path(dir, "access.db-wal");
    const char *secrets[] = {key + 3 + PW_ACCESS_ID_LEN + 1,
                             rotated + 3 + PW_ACCESS_ID_LEN + 1};
    for (size_t i = 0; i < 2; i++) {
        bytes_absent(db, secrets[i]);
        bytes_absent(wal, secrets[i]);
    }
    free(db);
    free(wal);
    at_rmdir(dir);
}

static void list_show_audit(void **state)
{
    char *dir = at_tmpdir();
    struct at_clock clock = {AT_T0};
    struct pw_access *acc = at_open(dir, &clock, NULL, false);
    char a[PW_ACCESS_KEY_MAX], b[PW_ACCESS_KEY_MAX];
    at_key(acc, "free", 2500000, "gpt-4o-mini, gpt-4o", 0, a);
    atomic_store(&clock.now, AT_T0 + 1000);
    at_key(acc, "basic", -1, NULL, PW_ACCESS_SCOPE_CHAT | PW_ACCESS_SCOPE_ADMIN, b);
    json_t *list = NULL;
    struct pw_error err = {0};
    assert_int_equal(pw_access_key_list(acc, &list, &err), PW_OK);
    json_t *keys = json_object_get(list, "keys");
    assert_int_equal(json_array_size(keys), 2);
    json_t *first = json_array_get(keys, 0), *second = json_array_get(keys, 1);
    assert_string_equal(json_string_value(json_object_get(first, "tier")), "basic");
    assert_true(json_is_null(json_object_get(first, "budgetMicros")));
    assert_int_equal(json_array_size(json_object_get(first, "scopes")), 2);
    assert_int_equal(json_integer_value(json_object_get(second, "budgetMicros")), 2500000);
    json_t *models = json_object_get(second, "models");
    assert_int_equal(json_array_size(models), 2);
    assert_string_equal(json_string_value(json_array_get(models, 1)), "gpt-4o");
    /* No listing shows a secret. */
    char *text = json_dumps(list, 0);
    assert_null(strstr(text, a + 3 + PW_ACCESS_ID_LEN + 1));
    assert_null(strstr(text, b + 3 + PW_ACCESS_ID_LEN + 1));
    free(text);
    json_decref(list);

    char id[PW_ACCESS_ID_MAX];
    snprintf(id, sizeof id, "%.12s", a + 3);
    struct pw_access_request req = {.api_key = a, .model = "gpt-4o-mini"};
    struct pw_access_grant g;
    pw_access_admit(acc, &req, &g);
    assert_int_equal(g.status, 0);
    struct pw_access_usage u = {.request_id = "req-1", .route = "/v1/chat/completions",
                                .model = "gpt-4o-mini", .provider = "openai", .status = 200,
                                .prompt_tokens = 1000, .completion_tokens = 100,
                                .latency_us = 1500};
    pw_access_finish(acc, &g, &u);
    json_t *audit = NULL;
    assert_int_equal(pw_access_key_audit(acc, id, 10, &audit, &err), PW_OK);
    json_t *rows = json_object_get(audit, "usage");
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0),
                                                          "requestId")), "req-1");
    /* gpt-4o-mini: 1000 x 0.15 + 100 x 0.60 per million = 210 micro-dollars. */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0),
                                                        "costMicros")), 210);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(audit, "key"),
                                                        "spentMicros")), 210);
    assert_false(json_is_null(json_object_get(json_object_get(audit, "key"), "lastUsedAt")));
    json_decref(audit);

    assert_int_equal(pw_access_key_show(acc, "nosuchkeyid1", &audit, &err), PW_ERR_NOT_FOUND);
    assert_int_equal(pw_access_key_show(acc, "../../etc", &audit, &err), PW_ERR_NOT_FOUND);
    struct pw_access_key_spec bad = {.name = "x", .tier = "gold", .budget_micros = -1};
    char k[PW_ACCESS_KEY_MAX];
    err = (struct pw_error){0};
    assert_int_equal(pw_access_key_create(acc, &bad, k, NULL, &err), PW_ERR_INVALID);
    assert_non_null(strstr(err.message, "gold"));
    pw_access_close(acc);
    at_rmdir(dir);
}

static void scopes_and_models(void **state)
{
    char *dir = at_tmpdir();
    struct pw_access *acc = at_open(dir, NULL, NULL, false);
    char chat[PW_ACCESS_KEY_MAX];
    at_key(acc, "enterprise", -1, "gpt-4o-mini", PW_ACCESS_SCOPE_CHAT, chat);
    assert_int_equal(admit_key(acc, chat, PW_ACCESS_SCOPE_CHAT, "gpt-4o-mini"), 0);
    assert_int_equal(admit_key(acc, chat, PW_ACCESS_SCOPE_CHAT, "gpt-4o"), 403);
    assert_int_equal(admit_key(acc, chat, PW_ACCESS_SCOPE_MCP, NULL), 403);
    assert_int_equal(admit_key(acc, chat, PW_ACCESS_SCOPE_ADMIN, NULL), 403);
    char id[PW_ACCESS_ID_MAX];
    snprintf(id, sizeof id, "%.12s", chat + 3);
    assert_true(pw_access_model_allowed(acc, id, "gpt-4o-mini"));
    assert_false(pw_access_model_allowed(acc, id, "gpt-4o"));
    unsigned bits = 0;
    assert_true(pw_access_scopes_parse("chat,admin", &bits));
    assert_int_equal(bits, PW_ACCESS_SCOPE_CHAT | PW_ACCESS_SCOPE_ADMIN);
    assert_false(pw_access_scopes_parse("chat,root", &bits));
    assert_false(pw_access_scopes_parse("", &bits));
    pw_access_close(acc);
    at_rmdir(dir);
}

static void open_mode(void **state)
{
    char *dir = at_tmpdir();
    struct pw_access *acc = at_open(dir, NULL, NULL, false);
    struct pw_error err = {0};
    assert_int_equal(pw_access_check_open(acc, "127.0.0.1", false, &err), PW_OK);
    assert_int_equal(pw_access_check_open(acc, "::1", false, &err), PW_OK);
    assert_int_equal(pw_access_check_open(acc, "localhost", false, &err), PW_OK);
    assert_int_equal(pw_access_check_open(acc, "0.0.0.0", false, &err), PW_ERR_STATE);
    assert_non_null(strstr(err.message, "--allow-open"));
    assert_int_equal(pw_access_check_open(acc, "192.168.1.5", true, NULL), PW_OK);
    /* No key at all: requests without one get in. */
    struct pw_access_request req = {.scope = PW_ACCESS_SCOPE_CHAT};
    struct pw_access_grant g;
    pw_access_admit(acc, &req, &g);
    assert_int_equal(g.status, 0);
    assert_true(g.open);
    /* The first key ends open mode. */
    char key[PW_ACCESS_KEY_MAX];
    at_key(acc, "free", -1, NULL, 0, key);
    pw_access_admit(acc, &req, &g);
    assert_int_equal(g.status, 401);
    assert_int_equal(pw_access_check_open(acc, "0.0.0.0", false, &err), PW_OK);
    pw_access_close(acc);
    at_rmdir(dir);
}

static void tickets(void **state)
{
    char *dir = at_tmpdir();
    struct at_clock clock = {AT_T0};
    struct pw_access *acc = at_open(dir, &clock, NULL, false);
    char key[PW_ACCESS_KEY_MAX];
    at_key(acc, "free", -1, NULL, 0, key);
    struct pw_access_request req = {.api_key = key, .scope = PW_ACCESS_SCOPE_MCP};
    struct pw_access_grant g;
    pw_access_admit(acc, &req, &g);
    assert_int_equal(g.status, 0);
    char t1[PW_ACCESS_TICKET_MAX], t2[PW_ACCESS_TICKET_MAX], found[PW_ACCESS_TICKET_MAX];
    char id[PW_ACCESS_ID_MAX];
    struct pw_error err = {0};
    assert_int_equal(pw_access_ws_ticket(acc, &g, t1, &err), PW_OK);
    assert_int_equal(pw_access_ws_ticket(acc, &g, t2, &err), PW_OK);
    char protocols[160];
    snprintf(protocols, sizeof protocols, "mcp, pw-ticket.%s", t1);
    assert_true(pw_access_ws_ticket_find(protocols, found));
    assert_string_equal(found, t1);
    assert_false(pw_access_ws_ticket_find("mcp", found));
    assert_int_equal(pw_access_ws_redeem(acc, found, id, &err), PW_OK);
    assert_string_equal(id, g.key_id);
    /* Single use. */
    assert_int_equal(pw_access_ws_redeem(acc, found, id, &err), PW_ERR_AUTH);
    /* Expired. */
    atomic_store(&clock.now, AT_T0 + PW_ACCESS_TICKET_TTL_MS);
    assert_int_equal(pw_access_ws_redeem(acc, t2, id, &err), PW_ERR_AUTH);
    assert_int_equal(pw_access_ws_redeem(acc, "nonsense", id, &err), PW_ERR_AUTH);
    pw_access_close(acc);
    at_rmdir(dir);
}

/* One key cannot hold every outstanding ticket: past its own cap it is
 * refused while another key still gets one. */
static void tickets_per_key(void **state)
{
    char *dir = at_tmpdir();
    struct at_clock clock = {AT_T0};
    struct pw_access *acc = at_open(dir, &clock, NULL, false);
    char k1[PW_ACCESS_KEY_MAX], k2[PW_ACCESS_KEY_MAX];
    at_key(acc, "free", -1, NULL, 0, k1);
    at_key(acc, "free", -1, NULL, 0, k2);
    struct pw_access_grant g1, g2;
    struct pw_access_request r1 = {.api_key = k1, .scope = PW_ACCESS_SCOPE_MCP};
    struct pw_access_request r2 = {.api_key = k2, .scope = PW_ACCESS_SCOPE_MCP};
    pw_access_admit(acc, &r1, &g1);
    pw_access_admit(acc, &r2, &g2);
    assert_int_equal(g1.status, 0);
    assert_int_equal(g2.status, 0);
    char t[PW_ACCESS_TICKET_MAX];
    struct pw_error err = {0};
    int issued = 0;
    while (issued < 5000 && pw_access_ws_ticket(acc, &g1, t, &err) == PW_OK)
        issued++;
    assert_int_equal(issued, 1000);
    assert_int_equal(err.code, PW_ERR_TOO_LARGE);
    assert_int_equal(pw_access_ws_ticket(acc, &g2, t, &err), PW_OK);
    /* Expired tickets free the key's share again. */
    atomic_store(&clock.now, AT_T0 + PW_ACCESS_TICKET_TTL_MS);
    assert_int_equal(pw_access_ws_ticket(acc, &g1, t, &err), PW_OK);
    pw_access_close(acc);
    at_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lifecycle),
        cmocka_unit_test(list_show_audit),
        cmocka_unit_test(scopes_and_models),
        cmocka_unit_test(open_mode),
        cmocka_unit_test(tickets),
        cmocka_unit_test(tickets_per_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
