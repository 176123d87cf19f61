/*
 * `pennyworth keys`: API key management, on the local database (--db, the
 * same default as the other commands) or on a running server's admin API
 * (--url URL, with PENNYWORTH_ADMIN_KEY).
 *
 *   keys create --name NAME --tier TIER [--budget USD] [--models a,b]
 *               [--scopes chat,mcp,admin] [--expires DURATION]
 *   keys list | show ID | revoke ID | rotate ID | audit ID
 *
 * A new or rotated key is printed once, on stdout, and never again; every
 * other output shows keys by id and display prefix only. --json prints
 * the API's JSON instead of tables.
 *
 * The remote calls use libcurl's easy interface: the CLI is a short-lived
 * client, not the server's loop, so blocking is fine here.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/cli.h"

#include <curl/curl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/access.h"
#include "pennyworth/buf.h"
#include "pennyworth/clock.h"

struct keys_opts {
    const char *db, *url, *name, *tier, *budget, *models, *scopes, *expires;
    bool json;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pennyworth keys create --name NAME --tier TIER [--budget USD]\n"
            "                              [--models a,b] [--scopes chat,mcp,admin]\n"
            "                              [--expires DURATION]\n"
            "       pennyworth keys list | show ID | revoke ID | rotate ID | audit ID\n"
            "\n"
            "options:\n"
            "  --db FILE     the database (default: PENNYWORTH_DB or the XDG data directory)\n"
            "  --url URL     manage the keys of a running server through its /admin/ API\n"
            "                (authenticated with PENNYWORTH_ADMIN_KEY)\n"
            "  --json        print JSON instead of tables\n"
            "\n"
            "Tiers: free, basic, premium, enterprise (or configured ones). A budget is\n"
            "monthly, in US dollars. DURATION is like 90m, 12h, 30d, 4w.\n"
            "The key is shown once, when it is created or rotated: store it then.\n");
    cli_help_reads(f, CLI_HELP_DB | CLI_HELP_LOG | CLI_HELP_ADMIN_URL);
}

/* Remote calls ------------------------------------------------------------------ */

/* curl's write callback: a short count makes curl fail the transfer. */
static size_t collect(char *data, size_t size, size_t n, void *ud)
{
    return pw_buf_append(ud, data, size * n) == PW_OK ? size * n : 0;
}

int cli_admin_call(const char *url, const char *method, const char *path, const json_t *body,
                   json_t **out)
{
    const char *admin = getenv("PENNYWORTH_ADMIN_KEY");
    if (!admin || !*admin) {
        fprintf(stderr, "pennyworth: --url needs PENNYWORTH_ADMIN_KEY in the environment\n");
        return 1;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        fprintf(stderr, "pennyworth: curl_easy_init failed\n");
        return 1;
    }
    char full[2048], auth[1024];
    size_t ulen = strlen(url);
    while (ulen && url[ulen - 1] == '/')
        ulen--;
    snprintf(full, sizeof full, "%.*s%s", (int)ulen, url, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", admin);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    OPENSSL_cleanse(auth, sizeof auth);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct pw_buf b = {0};
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (text)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(text);
    int result = 0;
    json_t *j = b.data ? json_loads(b.data, 0, NULL) : NULL;
    if (rc != CURLE_OK) {
        fprintf(stderr, "pennyworth: %s: %s\n", full, curl_easy_strerror(rc));
        result = 1;
    } else if (status < 200 || status >= 300) {
        const char *msg = json_string_value(json_object_get(json_object_get(j, "error"),
                                                            "message"));
        fprintf(stderr, "pennyworth: %s: HTTP %ld: %s\n", path, status, msg ? msg : "failed");
        result = 1;
    } else if (!j) {
        fprintf(stderr, "pennyworth: %s: the answer is not JSON\n", path);
        result = 1;
    }
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    pw_buf_free(&b);
    if (result)
        json_decref(j);
    else
        *out = j;
    return result;
}

/* Printing ------------------------------------------------------------------------ */

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static void usd(const json_t *micros, char *out, size_t size)
{
    if (!json_is_integer(micros)) {
        snprintf(out, size, "-");
        return;
    }
    pw_access_format_usd(json_integer_value(micros), out, size);
}

static void print_list(const json_t *keys)
{
    printf("%-12s  %-22s  %-20s  %-10s  %-8s  %12s  %12s  %s\n", "ID", "PREFIX", "NAME",
           "TIER", "STATUS", "BUDGET USD", "SPENT USD", "LAST USED");
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        char budget[32], spent[32];
        usd(json_object_get(k, "budgetMicros"), budget, sizeof budget);
        usd(json_object_get(k, "spentMicros"), spent, sizeof spent);
        printf("%-12s  %-22s  %-20.20s  %-10s  %-8s  %12s  %12s  %s\n", str(k, "id"),
               str(k, "prefix"), str(k, "name"), str(k, "tier"), str(k, "status"), budget,
               spent, str(k, "lastUsedAt"));
    }
}

static void print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    if (s)
        printf("%s\n", s);
    free(s);
}

static void print_audit(const json_t *a)
{
    const json_t *key = json_object_get(a, "key");
    printf("key %s (%s), %s, tier %s\n\n", str(key, "id"), str(key, "name"),
           str(key, "status"), str(key, "tier"));
    printf("%-24s  %-24s  %-22s  %6s  %8s  %8s  %12s  %9s\n", "TIME", "REQUEST", "MODEL",
           "STATUS", "PROMPT", "COMPL", "COST USD", "LATENCY");
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(a, "usage"), i, u) {
        char cost[32];
        usd(json_object_get(u, "costMicros"), cost, sizeof cost);
        printf("%-24s  %-24.24s  %-22.22s  %6lld  %8lld  %8lld  %12s  %7lldms\n",
               str(u, "time"), str(u, "requestId"), str(u, "model"),
               (long long)json_integer_value(json_object_get(u, "status")),
               (long long)json_integer_value(json_object_get(u, "promptTokens")),
               (long long)json_integer_value(json_object_get(u, "completionTokens")), cost,
               (long long)json_integer_value(json_object_get(u, "latencyUs")) / 1000);
    }
}

static void print_new_key(const char *key, const json_t *record, bool json)
{
    if (json) {
        json_t *o = json_pack("{s:s, s:O}", "key", key, "record", record);
        print_json(o);
        json_decref(o);
        return;
    }
    printf("%s\n", key);
    fprintf(stderr,
            "key %s (%s, tier %s): this is the only time the key is shown; store it now.\n",
            str(record, "id"), str(record, "name"), str(record, "tier"));
}

/* Local and remote actions -------------------------------------------------------- */

static int fail(const struct pw_error *err)
{
    fprintf(stderr, "pennyworth keys: %s\n", err->message);
    return 1;
}

static json_t *create_body(const struct keys_opts *o)
{
    json_t *b = json_pack("{s:s, s:s}", "name", o->name, "tier", o->tier);
    if (o->budget)
        json_object_set_new(b, "budgetUsd", json_string(o->budget));
    if (o->models)
        json_object_set_new(b, "models", json_string(o->models));
    if (o->scopes)
        json_object_set_new(b, "scopes", json_string(o->scopes));
    if (o->expires)
        json_object_set_new(b, "expires", json_string(o->expires));
    return b;
}

static int remote(const struct keys_opts *o, const char *verb, const char *id)
{
    char path[256];
    json_t *out = NULL, *body = NULL;
    const char *method = "GET";
    if (strcmp(verb, "create") == 0) {
        snprintf(path, sizeof path, "/admin/keys");
        method = "POST";
        body = create_body(o);
    } else if (strcmp(verb, "list") == 0) {
        snprintf(path, sizeof path, "/admin/keys");
    } else if (strcmp(verb, "show") == 0) {
        snprintf(path, sizeof path, "/admin/keys/%s", id);
    } else {
        snprintf(path, sizeof path, "/admin/keys/%s/%s", id, verb);
        method = strcmp(verb, "audit") == 0 ? "GET" : "POST";
    }
    int rc = cli_admin_call(o->url, method, path, body, &out);
    json_decref(body);
    if (rc)
        return rc;
    if (strcmp(verb, "create") == 0 || strcmp(verb, "rotate") == 0) {
        const char *key = json_string_value(json_object_get(out, "key"));
        print_new_key(key ? key : "", json_object_get(out, "record"), o->json);
    } else if (!o->json && strcmp(verb, "list") == 0) {
        print_list(json_object_get(out, "keys"));
    } else if (!o->json && strcmp(verb, "audit") == 0) {
        print_audit(out);
    } else {
        print_json(out);
    }
    json_decref(out);
    return 0;
}

static int local(const struct keys_opts *o, const char *verb, const char *id)
{
    char *db = cli_db_path(o->db);
    struct pw_access *acc = NULL;
    struct pw_error err = {0};
    struct pw_access_options ao = {.db_path = db};
    if (!db || pw_access_open(&ao, &acc, &err) != PW_OK) {
        free(db);
        return fail(&err);
    }
    int rc = 0;
    json_t *out = NULL;
    char key[PW_ACCESS_KEY_MAX];
    if (strcmp(verb, "create") == 0) {
        struct pw_access_key_spec spec = {.name = o->name, .tier = o->tier,
                                          .budget_micros = -1, .models = o->models};
        int64_t ms = 0;
        if (o->budget && !pw_access_parse_usd(o->budget, &spec.budget_micros)) {
            fprintf(stderr, "pennyworth keys: --budget: dollars, e.g. 25 or 12.50\n");
            rc = 2;
        } else if (o->scopes && !pw_access_scopes_parse(o->scopes, &spec.scopes)) {
            fprintf(stderr, "pennyworth keys: --scopes: a list of chat, mcp, admin\n");
            rc = 2;
        } else if (o->expires && (!pw_access_duration_parse(o->expires, &ms) || ms <= 0)) {
            fprintf(stderr, "pennyworth keys: --expires: a duration like 30d, 12h, 90m\n");
            rc = 2;
        } else {
            if (ms)
                spec.expires_at = (pw_clock_wall_ms() + ms) / 1000;
            if (pw_access_key_create(acc, &spec, key, &out, &err) == PW_OK)
                print_new_key(key, out, o->json);
        }
    } else if (strcmp(verb, "rotate") == 0) {
        if (pw_access_key_rotate(acc, id, key, &out, &err) == PW_OK)
            print_new_key(key, out, o->json);
    } else if (strcmp(verb, "list") == 0) {
        if (pw_access_key_list(acc, &out, &err) == PW_OK) {
            if (o->json)
                print_json(out);
            else
                print_list(json_object_get(out, "keys"));
        }
    } else if (strcmp(verb, "show") == 0) {
        if (pw_access_key_show(acc, id, &out, &err) == PW_OK)
            print_json(out);
    } else if (strcmp(verb, "revoke") == 0) {
        if (pw_access_key_revoke(acc, id, &err) == PW_OK &&
            pw_access_key_show(acc, id, &out, &err) == PW_OK)
            print_json(out);
    } else if (pw_access_key_audit(acc, id, 50, &out, &err) == PW_OK) {
        if (o->json)
            print_json(out);
        else
            print_audit(out);
    }
    OPENSSL_cleanse(key, sizeof key);
    json_decref(out);
    if (!rc && err.code)
        rc = fail(&err);
    pw_access_close(acc);
    free(db);
    return rc;
}

static const char *const verbs[] = {"create", "list", "show", "revoke", "rotate", "audit"};

int cli_keys(int argc, char **argv)
{
    enum { O_DB = 256, O_URL, O_NAME, O_TIER, O_BUDGET, O_MODELS, O_SCOPES, O_EXPIRES,
           O_JSON, O_HELP };
    static const struct option longopts[] = {
        {"db", required_argument, NULL, O_DB},
        {"url", required_argument, NULL, O_URL},
        {"name", required_argument, NULL, O_NAME},
        {"tier", required_argument, NULL, O_TIER},
        {"budget", required_argument, NULL, O_BUDGET},
        {"models", required_argument, NULL, O_MODELS},
        {"scopes", required_argument, NULL, O_SCOPES},
        {"expires", required_argument, NULL, O_EXPIRES},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    struct keys_opts o = {0};
    const char **slot[] = {[O_DB - O_DB] = &o.db, [O_URL - O_DB] = &o.url,
                           [O_NAME - O_DB] = &o.name, [O_TIER - O_DB] = &o.tier,
                           [O_BUDGET - O_DB] = &o.budget, [O_MODELS - O_DB] = &o.models,
                           [O_SCOPES - O_DB] = &o.scopes, [O_EXPIRES - O_DB] = &o.expires};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c >= O_DB && c <= O_EXPIRES) {
            *slot[c - O_DB] = optarg;
        } else if (c == O_JSON) {
            o.json = true;
        } else if (c == O_HELP) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "pennyworth keys: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    const char *verb = optind < argc ? argv[optind] : NULL;
    const char *id = optind + 1 < argc ? argv[optind + 1] : NULL;
    bool known = false;
    for (size_t i = 0; verb && i < sizeof verbs / sizeof verbs[0]; i++)
        known |= strcmp(verb, verbs[i]) == 0;
    bool wants_id = known && strcmp(verb, "create") != 0 && strcmp(verb, "list") != 0;
    if (!known || (wants_id != (id != NULL)) || optind + 1 + wants_id < argc) {
        usage(stderr);
        return 2;
    }
    if (strcmp(verb, "create") == 0 && (!o.name || !o.tier)) {
        fprintf(stderr, "pennyworth keys create: --name and --tier are required\n");
        return 2;
    }
    if (o.url && o.db) {
        fprintf(stderr, "pennyworth keys: --url and --db exclude each other\n");
        return 2;
    }
    return o.url ? remote(&o, verb, id) : local(&o, verb, id);
}
