/*
 * Observability routes and the one call that attaches every access route
 * to the server.
 *
 *   GET /metrics                 the default metrics registry, Prometheus text
 *   GET /health                  {"status": "ok"} while the process serves
 *   GET /api/v1/health/live      the same (liveness: restart me if absent)
 *   GET /api/v1/health/ready     200 {"status": "ready", "checks": {...}} when the
 *                                database answers and not every provider's
 *                                circuit is open; else 503 "not_ready"
 *   GET /v1/version              {"version", "commit"}
 *
 * None of them needs a key: they reveal nothing but health, version and
 * aggregate numbers. Operators who want /metrics private bind the server
 * to a private address or filter the path at their proxy.
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <stdlib.h>
#include <string.h>

#include "pennyworth/log.h"
#include "pennyworth/metrics.h"
#include "pennyworth/server.h"

#define MAX_PROVIDERS 32

static bool is_get(struct pw_server_req *r)
{
    if (strcmp(pw_server_req_method(r), "GET") == 0)
        return true;
    access_respond_error(r, 405, "invalid_request_error", "use GET", NULL);
    return false;
}

static void on_metrics(struct pw_server_req *r, void *ud)
{
    (void)ud;
    if (!is_get(r))
        return;
    size_t len = 0;
    char *text = pw_metrics_render(pw_metrics_default(), &len);
    if (!text) {
        pw_server_req_error(r, 500, "out of memory");
        return;
    }
    pw_server_req_respond(r, 200, PW_METRICS_CONTENT_TYPE, NULL, text, len);
    free(text);
}

static void on_live(struct pw_server_req *r, void *ud)
{
    (void)ud;
    if (is_get(r))
        access_respond_json(r, 200, json_pack("{s:s}", "status", "ok"), NULL);
}

/* A one-row read on the cache's connection: the file is there and sane. */
static bool database_ok(struct pw_access *acc)
{
    sqlite3_stmt *st;
    bool ok = false;
    pthread_mutex_lock(&acc->keys_lock);
    if (sqlite3_prepare_v2(acc->rd, "SELECT value FROM access_meta WHERE name ="
                           " 'keys_generation'", -1, &st, NULL) == SQLITE_OK) {
        ok = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&acc->keys_lock);
    return ok;
}

static void on_ready(struct pw_server_req *r, void *ud)
{
    struct access_routes *rt = ud;
    if (!is_get(r))
        return;
    bool db = database_ok(rt->acc);
    json_t *providers = json_object();
    size_t n = 0, open = 0;
    if (rt->circuits) {
        struct pw_access_provider_state st[MAX_PROVIDERS];
        n = rt->circuits(rt->circuits_ud, st, MAX_PROVIDERS);
        if (n > MAX_PROVIDERS)
            n = MAX_PROVIDERS;
        for (size_t i = 0; i < n; i++) {
            open += st[i].open;
            json_object_set_new(providers, st[i].provider ? st[i].provider : "",
                                json_string(st[i].open ? "open" : "closed"));
        }
    }
    bool ready = db && (n == 0 || open < n);
    access_respond_json(r, ready ? 200 : 503,
                        json_pack("{s:s, s:{s:s, s:o}}", "status", ready ? "ready" : "not_ready",
                                  "checks", "database", db ? "ok" : "unreachable",
                                  "providers", providers),
                        NULL);
}

static void on_version(struct pw_server_req *r, void *ud)
{
    (void)ud;
    if (is_get(r))
        access_respond_json(r, 200,
                            json_pack("{s:s, s:s}", "version", pw_access_version(), "commit",
                                      pw_access_git_commit()),
                            NULL);
}

static const struct pw_server_handler metrics_handler = {.on_request = on_metrics};
static const struct pw_server_handler live_handler = {.on_request = on_live};
static const struct pw_server_handler ready_handler = {.on_request = on_ready};
static const struct pw_server_handler version_handler = {.on_request = on_version};

/* A graceful stop has begun: a report or key write running on a server
 * worker ends now (SQLITE_INTERRUPT, a 500 to a client that is being let
 * go anyway) instead of holding the stop until its query is done, and so
 * does every one still queued behind it (the progress handler: an
 * interrupt only reaches the statement running at the time). The usage
 * writer has its own connection and commits what is queued. */
static void interrupt_work(void *ud)
{
    struct pw_access *acc = ud;
    atomic_store(&acc->stopping, true);
    sqlite3_interrupt(acc->wr);
}

static int stop_check(void *ud)
{
    struct pw_access *acc = ud;
    return atomic_load(&acc->stopping);
}

enum pw_err pw_access_attach(struct pw_access *acc, struct pw_server *srv,
                             const struct pw_access_routes *opt, struct pw_error *err)
{
    if (acc->routes)
        return pw_error_set(err, PW_ERR_STATE, NULL, "access routes are already attached");
    struct access_routes *rt = calloc(1, sizeof *rt);
    if (!rt)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    rt->acc = acc;
    rt->circuits = opt ? opt->circuits : NULL;
    rt->circuits_ud = opt ? opt->circuits_ud : NULL;
    const char *admin = opt && opt->admin_key ? opt->admin_key : getenv("PENNYWORTH_ADMIN_KEY");
    if (admin && *admin) {
        if (strlen(admin) < 16) {
            free(rt);
            return pw_error_set(err, PW_ERR_INVALID, NULL,
                                "PENNYWORTH_ADMIN_KEY is too short: use at least 16 "
                                "random characters");
        }
        access_key_hash(admin, rt->admin_hash);
        rt->has_admin_key = true;
    }
    acc->routes = rt;
    access_filter_install(rt, srv);
    const struct pw_server_route rows[] = {
        {.path = "/admin/", .flags = PW_SERVER_ROUTE_PREFIX | PW_SERVER_ROUTE_CORS,
         .max_body = 64 * 1024, .handler = &access_admin_handler, .ud = rt,
         .admit = PW_ACCESS_ROUTE_ADMIN, .methods = "GET, POST, DELETE"},
        {.path = "/auth/ws-ticket", .flags = PW_SERVER_ROUTE_CORS, .max_body = 4096,
         .handler = &access_ticket_handler, .ud = rt, .admit = PW_ACCESS_ROUTE_TICKET,
         .methods = "POST"},
        {.path = "/metrics", .handler = &metrics_handler, .ud = rt},
        {.path = "/health", .handler = &live_handler, .ud = rt},
        {.path = "/api/v1/health/live", .handler = &live_handler, .ud = rt},
        {.path = "/api/v1/health/ready", .handler = &ready_handler, .ud = rt},
        {.path = "/v1/version", .handler = &version_handler, .ud = rt},
    };
    /* Before listening: no other thread uses the connection yet. */
    sqlite3_progress_handler(acc->wr, 10000, stop_check, acc);
    enum pw_err rc = pw_server_on_stop(srv, interrupt_work, acc, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if ((rc = pw_server_add_route(srv, &rows[i], err)))
            return rc;
    }
    if (!rt->has_admin_key)
        pw_info("access: PENNYWORTH_ADMIN_KEY is not set: /admin/ accepts only keys with "
                "the admin scope");
    return PW_OK;
}
