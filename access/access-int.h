/*
 * Module-private declarations of access/, one section per file:
 *
 *   open.c          pw_access_open/close, the database connections
 *   schema.c        access's migrations (schema/access/NNN_name.sql)
 *   config.c        tiers, IP limit, retention, price overrides
 *   keyfmt.c        key strings: generate, parse, hash
 *   keys.c          key management (create, list, show, revoke, rotate, audit)
 *   keycache.c      the in-memory key cache and authentication
 *   store_memory.c  the in-memory counter store
 *   budget.c        monthly windows and the spend ledger's seeding
 *   admit.c         admission and reconciliation
 *   headers.c       x-ratelimit-* headers and OpenAI error bodies
 *   prices.c        the price table and dollars <-> micro-dollars
 *   usage_writer.c  the batching writer thread
 *   usage_report.c  aggregation for `pennyworth usage` and /admin/usage
 *   tickets.c       WebSocket tickets
 *   openmode.c      the open-mode rule
 *   observe.c       access's metric families (tokens, spend, refusals, usage)
 *   filter.c        the admission stage of the server's request pipeline
 *   admin_api.c     /admin/ routes (on server workers) and POST /auth/ws-ticket
 *   health.c        /metrics, /health, readiness, /v1/version; attach
 *   bridge_hooks.c  the bridge's questions about a caller (models, cache)
 *   mcp_gate.c      the WebSocket MCP transport's gate (upgrade, messages)
 *
 * Locks (never two at once, except keys_lock -> store stripe inside admit):
 *   keys_lock    the key cache and the read connection `rd`
 *   wr_lock      the management connection `wr`
 *   budget_lock  the set of budget windows seeded from the database
 *   ticket_lock  the WebSocket tickets
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_ACCESS_INT_H
#define PENNYWORTH_ACCESS_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "pennyworth/access.h"
#include "pennyworth/server.h"

#define ACCESS_BUSY_MS 5000
#define ACCESS_HASH_LEN 32
#define ACCESS_DISPLAY_MAX 24           /* "pw_" + id + "_" + 4 + NUL */
#define ACCESS_TIER_MAX 32

/* schema.c -------------------------------------------------------------- */

struct access_migration {
    int version;
    const char *name;
    const unsigned char *sql;
};
extern const struct access_migration access_migrations[];
extern const size_t access_migration_count;

/* Brings access's tables up to date on a read-write connection. */
enum pw_err access_migrate(sqlite3 *db, struct pw_error *err);
/* access's schema version in `db` (0 when none of its tables exist). */
int access_schema_version(sqlite3 *db);

/* open.c --------------------------------------------------------------- */

/* Opens a connection with access's pragmas (busy timeout, WAL). */
enum pw_err access_db_open(const char *path, bool readonly, sqlite3 **out,
                           struct pw_error *err);
enum pw_err access_db_error(sqlite3 *db, const char *what, struct pw_error *err);
enum pw_err access_exec(sqlite3 *db, const char *sql, struct pw_error *err);
int64_t access_now_ms(struct pw_access *acc);
/* "2026-05-01T12:00:00.000Z" for unix ms (32 bytes). */
void access_iso8601(int64_t ms, char out[32]);
/* Reads a usage row (usage_report.c's column order) as a JSON object. */
json_t *access_usage_row_json(sqlite3_stmt *st);
#define ACCESS_USAGE_COLUMNS \
    "request_id, ts_ms, key_id, route, model, provider, status, prompt_tokens," \
    " completion_tokens, cached_tokens, cost_micros, latency_us, upstream_us, products"

/* config.c ------------------------------------------------------------- */

struct access_tier {
    char name[ACCESS_TIER_MAX];
    int64_t per_minute, per_hour, tokens_per_minute; /* 0 = unlimited */
};

struct access_price {
    char *model;
    int64_t input, output, cached; /* micro-dollars per million tokens; cached -1 = none */
};

struct access_config {
    struct access_tier *tiers;
    size_t ntiers;
    int64_t ip_limit, ip_window_ms;   /* failed authentications per address; 0 = none */
    int retention_days;
    int64_t usage_queue_bytes;        /* the usage writer's queue bound */
    struct access_price *prices;      /* sorted by model */
    size_t nprices;
};

enum pw_err access_config_load(struct access_config *c, const json_t *config,
                               struct pw_error *err);
void access_config_clear(struct access_config *c);
const struct access_tier *access_tier_find(const struct access_config *c, const char *name);

/* prices.c -------------------------------------------------------------- */

extern const unsigned char access_prices_json[];
extern const size_t access_prices_json_len;

/* Loads the built-in table, then applies `override` (may be NULL). */
enum pw_err access_prices_load(struct access_config *c, const json_t *override,
                               struct pw_error *err);
const struct access_price *access_price_find(const struct access_config *c,
                                             const char *model);
int64_t access_price_cost(const struct access_price *p, int64_t prompt, int64_t completion,
                          int64_t cached);

/* keyfmt.c ------------------------------------------------------------- */

/* A new random id and secret (NUL-terminated), from RAND_bytes. */
enum pw_err access_key_generate(char id[PW_ACCESS_ID_MAX],
                                char secret[PW_ACCESS_SECRET_LEN + 1], struct pw_error *err);
/* Splits "pw_<id>_<secret>"; false when the shape is wrong. */
bool access_key_parse(const char *key, char id[PW_ACCESS_ID_MAX],
                      char secret[PW_ACCESS_SECRET_LEN + 1]);
void access_key_hash(const char *secret, unsigned char out[ACCESS_HASH_LEN]);
void access_key_display(const char *id, const char *secret, char out[ACCESS_DISPLAY_MAX]);
/* True when `s` has the shape of a key id (checked before any SQL). */
bool access_id_valid(const char *s);

/* keycache.c ----------------------------------------------------------- */

struct access_key {
    struct access_key *next;          /* hash chain */
    char id[PW_ACCESS_ID_MAX];
    unsigned char hash[ACCESS_HASH_LEN];
    char tier[ACCESS_TIER_MAX];
    int64_t budget_micros;            /* -1 = none */
    unsigned scopes;
    int64_t expires_at;               /* unix s, 0 = never */
    bool revoked;
    char **models;                    /* NULL = every model */
    size_t nmodels;
};

#define ACCESS_KEY_BUCKETS 256

struct access_keycache {
    struct access_key *buckets[ACCESS_KEY_BUCKETS];
    int64_t data_version;             /* of `rd` at the last check */
    int64_t generation;               /* keys_generation at the last load */
    bool loaded;
    sqlite3_stmt *data_version_st;    /* PRAGMA data_version on rd */
    sqlite3_stmt *generation_st;
};

enum access_auth {
    ACCESS_AUTH_OK,
    ACCESS_AUTH_MISSING,
    ACCESS_AUTH_MALFORMED,
    ACCESS_AUTH_UNKNOWN,
    ACCESS_AUTH_REVOKED,
    ACCESS_AUTH_EXPIRED,
};

/* Reloads the cache if the database's key generation moved. keys_lock. */
enum pw_err access_keycache_refresh_locked(struct pw_access *acc, struct pw_error *err);
/* Marks the cache stale (after a local change). keys_lock. */
void access_keycache_invalidate_locked(struct pw_access *acc);
void access_keycache_clear(struct access_keycache *kc);
const struct access_key *access_keycache_get_locked(struct pw_access *acc, const char *id);
/* Checks a plaintext key; on OK *key is the cache entry (keys_lock held). */
enum access_auth access_authenticate_locked(struct pw_access *acc, const char *plaintext,
                                            const struct access_key **key);
/* Checks an already authenticated key id (revocation, expiry). keys_lock. */
enum access_auth access_recheck_locked(struct pw_access *acc, const char *id,
                                       const struct access_key **key);
bool access_key_allows_model(const struct access_key *k, const char *model);

/* budget.c ------------------------------------------------------------- */

/* The calendar month (UTC) holding now_ms: [start, end) in ms, and
 * "YYYY-MM" in label (8 bytes). */
void access_month(int64_t now_ms, int64_t *start, int64_t *end, char label[8]);
/* Makes sure the store's budget counter for (key, month) holds the spend
 * committed in the database (once per process and window; local stores
 * only). */
enum pw_err access_budget_seed(struct pw_access *acc, const char *key_id, int64_t start,
                               int64_t end, const char *month, struct pw_error *err);
void access_budget_clear(struct pw_access *acc);
/* The store key of a budget counter ("b:<id>"). */
void access_budget_counter(const char *key_id, char *out, size_t size);

/* usage_writer.c ------------------------------------------------------- */

struct access_record {
    struct access_record *next;
    char request_id[PW_SERVER_REQID_MAX];
    char key_id[PW_ACCESS_ID_MAX];    /* "" = none */
    char month[8];
    int64_t ts_ms;
    char *model, *provider, *route, *products;  /* owned, may be NULL */
    int status;
    int64_t prompt, completion, cached, cost_micros, latency_us, upstream_us;
};

struct access_writer;

enum pw_err access_writer_start(struct pw_access *acc, struct pw_error *err);
/* Commits what is queued and joins the thread. */
void access_writer_stop(struct pw_access *acc);
/* Queues a record (taken). Never blocks on the database; over either
 * queue bound (records, bytes) the record is dropped, counted and logged. */
void access_writer_push(struct pw_access *acc, struct access_record *rec);
void access_record_free(struct access_record *rec);
/* Writes records directly (no writer thread: the CLI, tests). */
enum pw_err access_records_commit(sqlite3 *db, struct access_record *list,
                                  struct pw_error *err);

/* tickets.c ------------------------------------------------------------- */

struct access_ticket;
void access_tickets_clear(struct pw_access *acc);

/* observe.c ------------------------------------------------------------- */

struct access_metrics {
    struct pw_metric *tokens, *spend;
    struct pw_metric *ratelimited, *budget_refused, *auth_failures;
    struct pw_metric *usage_dropped, *usage_queue;
};
/* The gateway's families in the default registry (registered once). */
const struct access_metrics *access_metrics(void);

/* admin_api.c, health.c ------------------------------------------------- */

/* What the routes share (allocated by pw_access_attach, freed at close). */
struct access_routes {
    struct pw_access *acc;
    pw_access_circuits_fn circuits;
    void *circuits_ud;
    bool has_admin_key;
    unsigned char admin_hash[ACCESS_HASH_LEN]; /* SHA-256 of PENNYWORTH_ADMIN_KEY */
};

/* filter.c: what admission keeps in the request's context (ctx->grant). */
struct access_held {
    struct pw_access_grant grant;
    bool record;                /* finish it (a usage record, a refusal's count) */
};
struct pw_server;
void access_filter_install(struct access_routes *rt, struct pw_server *srv);

struct pw_server_req;
struct pw_server_handler;
extern const struct pw_server_handler access_admin_handler;   /* /admin/ */
extern const struct pw_server_handler access_ticket_handler;  /* POST /auth/ws-ticket */

/* An OpenAI-shaped error object (new). */
json_t *access_error_json(const char *type, const char *message);
/* Responds with a JSON value (stolen) or an OpenAI-shaped error. */
void access_respond_json(struct pw_server_req *r, int status, json_t *body,
                         const char *const *headers);
void access_respond_error(struct pw_server_req *r, int status, const char *type,
                          const char *message, const char *const *headers);
/* The credential of a request: the Bearer token, else X-API-Key ("" when
 * neither); `out` holds PW_ACCESS_KEY_MAX + 64 bytes. */
void access_req_credential(struct pw_server_req *r, char *out, size_t size);

/* The access object ------------------------------------------------------ */

struct pw_access {
    char *db_path;
    int64_t (*clock_ms)(void *ud);
    void *clock_ud;
    struct access_config cfg;
    struct pw_access_store store;

    pthread_mutex_t keys_lock;
    sqlite3 *rd;                      /* keys_lock: cache loads, spend seeding */
    struct access_keycache keys;      /* keys_lock */

    pthread_mutex_t wr_lock;
    sqlite3 *wr;                      /* wr_lock: key management, reports */
    atomic_bool stopping;             /* the server stops: statements on wr end */

    pthread_mutex_t budget_lock;
    struct access_seeded *seeded;     /* budget_lock */

    pthread_mutex_t ticket_lock;
    struct access_ticket *tickets;    /* ticket_lock */

    struct access_writer *writer;     /* NULL without a writer thread */
    struct access_routes *routes;     /* NULL until pw_access_attach */
};

#endif
