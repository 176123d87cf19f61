/*
 * Access control and metering for the network API: hashed API keys, tiers
 * and rate limits, monthly budgets, per-request usage records, and the
 * observability routes (/metrics, /health, /v1/version, /admin/).
 *
 * A `struct pw_access` belongs to one database file (the catalog's, by
 * default: the keys, spend and usage tables live beside the products) and
 * holds:
 *   - the key cache: every key's settings and SHA-256 hash in memory,
 *     refreshed when the keys' generation counter in the database moves
 *     (any process that changes a key moves it), so revocation, expiry and
 *     rotation count from the very next request at the cost of one
 *     in-memory PRAGMA per admission;
 *   - the limiter: fixed-window counters behind a counter-store vtable
 *     (pw_access_store; in-memory by default, shareable later), checked and
 *     consumed in one atomic step;
 *   - the budget ledger: spend this calendar month (UTC) per key, in
 *     integer micro-dollars, reserved at admission and reconciled with the
 *     real cost afterwards;
 *   - the usage writer: a thread that commits usage records in batches
 *     (every 200 ms or 256 records) off the request path.
 *
 * Key format: "pw_" + 12-character public id + "_" + 52-character secret
 * (256 random bits, lower-case base32). Only SHA-256(secret) and a display
 * prefix ("pw_<id>_abcd") are stored; the key is shown once, by
 * pw_access_key_create / pw_access_key_rotate, and never again.
 *
 * Request flow (docs/internals/ACCESS.md has the whole picture):
 *   pw_access_admit    client IP guard, authentication, scope and model,
 *                      budget, request and token limits -> a grant (allowed
 *                      or refused with status, OpenAI error type, headers)
 *   ... the request runs ...
 *   pw_access_finish   reconciles the reservations, prices the usage,
 *                      queues the usage record, updates the metrics
 *
 * Threads: every function may be called from any thread unless it says
 * otherwise; admission takes short mutexes and reads the database only
 * when the keys changed (a small indexed read on the cache's own
 * connection). Database writes made by key management (create, revoke...)
 * run on the caller's thread; they are rare and short.
 *
 * Ownership: json_t results are new references; strings passed in are
 * borrowed for the call; `struct pw_access_grant` is the caller's.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_ACCESS_H
#define PENNYWORTH_ACCESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pennyworth/error.h"

struct pw_access;
struct pw_server;

/* Key ids, display prefixes and whole keys (with their NULs). */
#define PW_ACCESS_ID_LEN 12
#define PW_ACCESS_SECRET_LEN 52
#define PW_ACCESS_KEY_MAX (3 + PW_ACCESS_ID_LEN + 1 + PW_ACCESS_SECRET_LEN + 1)
#define PW_ACCESS_ID_MAX (PW_ACCESS_ID_LEN + 1)

/* Scopes a key may hold. */
enum {
    PW_ACCESS_SCOPE_CHAT = 1 << 0,  /* /v1 (OpenAI-compatible API) */
    PW_ACCESS_SCOPE_MCP = 1 << 1,   /* /mcp, /ws */
    PW_ACCESS_SCOPE_ADMIN = 1 << 2, /* /admin/ (besides PENNYWORTH_ADMIN_KEY) */
};

/* Parses "chat,mcp,admin" into scope bits; false on an unknown name. */
bool pw_access_scopes_parse(const char *list, unsigned *out);

/* Counter store: the seam for sharing limits between instances -------------- */

struct pw_access_consumed {
    bool allowed;
    int64_t count;       /* the window's count after the call */
    int64_t remaining;   /* limit - count, at least 0 (-1 when unlimited) */
    int64_t reset_ms;    /* until the window ends */
};

enum {
    /* Allow while the count is below the limit, then add the cost (a budget
     * admits a request that starts under it); without it the count plus
     * the cost must fit in the limit. */
    PW_ACCESS_CONSUME_SOFT = 1 << 0,
};

/*
 * A store of counters, one per (key, window). `consume` must be atomic: it
 * checks and adds in one step, so N concurrent callers against a limit L
 * are allowed exactly min(N, L) times however they interleave. A window is
 * [start_ms, end_ms); a counter whose window differs from the caller's
 * starts again from 0. `adjust` adds a signed delta to the counter if it is
 * still in that window (reconciling a reservation; never below 0).
 *
 * `shared` says the counters outlive this process (a networked store):
 * then budgets are not re-seeded from the local database at start.
 */
struct pw_access_store {
    enum pw_err (*consume)(void *self, const char *key, int64_t start_ms, int64_t end_ms,
                           int64_t now_ms, int64_t cost, int64_t limit, unsigned flags,
                           struct pw_access_consumed *out);
    void (*adjust)(void *self, const char *key, int64_t start_ms, int64_t end_ms,
                   int64_t delta);
    void (*free)(void *self);
    void *self;
    bool shared;
};

/* The in-memory store (lock-striped hash table; expired windows are dropped
 * as they are met). *out is filled with a new store (out->free releases). */
enum pw_err pw_access_store_memory(struct pw_access_store *out, struct pw_error *err);

/* Opening ---------------------------------------------------------------------- */

/*
 * The per-client-IP guard: an address that fails authentication (missing,
 * malformed, unknown, revoked or expired credential) `failures` times in a
 * fixed window is refused with 429 before its credential is looked at,
 * until the window ends. Authenticated requests never count, so one
 * address carrying a lot of keyed traffic is limited by its keys' tiers
 * only. Default 2000 per 5 minutes.
 */
struct pw_access_ip_limit {
    int64_t failures;           /* per window; 0 = no guard */
    int64_t window_ms;          /* 0 = keep the configured window */
};

/* Parses "N" or "N/DURATION" (serve --ip-limit 100/5m; DURATION as for
 * pw_access_duration_parse, 1 s to 1 day); false when malformed. */
bool pw_access_ip_limit_parse(const char *s, struct pw_access_ip_limit *out);

struct pw_access_options {
    const char *db_path;
    /*
     * Configuration (borrowed for the call; NULL = every default):
     *   {"tiers": {"NAME": {"requestsPerMinute": N, "requestsPerHour": N,
     *                       "tokensPerMinute": N}, ...},
     *    "ipLimit": {"requests": 2000, "windowSeconds": 300},
     *    "prices": {"MODEL": {"input": USD, "output": USD, "cachedInput": USD}},
     *    "usage": {"retentionDays": 90, "queueBytes": 67108864}}
     * Tiers given replace the defaults of the same name; 0 or absent = no
     * limit of that kind. Prices are USD per million tokens. ipLimit's
     * "requests" are failed authentications (pw_access_ip_limit). queueBytes
     * bounds the usage records waiting for the writer (at least 4096).
     */
    const json_t *config;
    const struct pw_access_ip_limit *ip_limit; /* over the configuration's
                                                  ipLimit; NULL keeps it */
    bool writer;                /* start the usage writer (serve); the CLI
                                   reads and manages keys without one */
    const struct pw_access_store *store; /* NULL: the in-memory store (copied;
                                            freed by pw_access_close) */
    int64_t (*clock_ms)(void *ud);       /* wall clock in ms; NULL = the real one */
    void *clock_ud;
};

/* Opens the database (bringing access's tables up to date), loads the
 * configuration and the keys. *out is new (pw_access_close). A bad
 * configuration fails with err->pointer at the offending member. */
enum pw_err pw_access_open(const struct pw_access_options *opt, struct pw_access **out,
                           struct pw_error *err);

/* Stops the usage writer after committing every queued record, and frees. */
void pw_access_close(struct pw_access *acc);

/* Keys --------------------------------------------------------------------------- */

struct pw_access_key_spec {
    const char *name;           /* required, 1..100 characters */
    const char *tier;           /* a configured tier */
    int64_t budget_micros;      /* monthly, micro-dollars; -1 = none */
    const char *models;         /* "a,b" allowed models; NULL or "" = all */
    unsigned scopes;            /* PW_ACCESS_SCOPE_*; 0 = chat|mcp */
    int64_t expires_at;         /* unix seconds; 0 = never */
};

/*
 * Creates a key. `key` receives the plaintext (PW_ACCESS_KEY_MAX bytes),
 * the only time it exists outside the client; *info (may be NULL) the
 * key's public record:
 *   {"id", "prefix", "name", "tier", "budgetMicros" | null, "models": [],
 *    "scopes": ["chat", ...], "expiresAt": "...Z" | null, "status":
 *    "active" | "revoked" | "expired", "createdAt", "lastUsedAt" | null,
 *    "spentMicros": N (this month)}
 */
enum pw_err pw_access_key_create(struct pw_access *acc, const struct pw_access_key_spec *spec,
                                 char key[PW_ACCESS_KEY_MAX], json_t **info,
                                 struct pw_error *err);
/* Every key, newest first: {"keys": [record, ...]}. */
enum pw_err pw_access_key_list(struct pw_access *acc, json_t **out, struct pw_error *err);
/* One key's record; PW_ERR_NOT_FOUND when absent. */
enum pw_err pw_access_key_show(struct pw_access *acc, const char *id, json_t **out,
                               struct pw_error *err);
/* Revokes (idempotent); the key fails from the next request on. */
enum pw_err pw_access_key_revoke(struct pw_access *acc, const char *id, struct pw_error *err);
/* A new secret for the same id and settings; the old key stops working.
 * `key` receives the new plaintext. A revoked key cannot be rotated. */
enum pw_err pw_access_key_rotate(struct pw_access *acc, const char *id,
                                 char key[PW_ACCESS_KEY_MAX], json_t **info,
                                 struct pw_error *err);
/* The key's most recent usage records (up to `limit`, newest first):
 * {"key": record, "usage": [usage record, ...]}. */
enum pw_err pw_access_key_audit(struct pw_access *acc, const char *id, int limit,
                                json_t **out, struct pw_error *err);

/* Number of keys that can still authenticate (active, unexpired). */
int pw_access_key_count(struct pw_access *acc);

/* Whether the key may use `model` (no model list = every model). */
bool pw_access_model_allowed(struct pw_access *acc, const char *key_id, const char *model);

/*
 * Open mode: with no usable key, requests are admitted without one. That is
 * allowed only on a loopback `host` (with a warning), or anywhere when
 * `allow_open` (an explicit flag) is set; otherwise PW_ERR_STATE with a
 * message that says how to create a key. Call before listening; a key
 * created later closes open mode from its next request on.
 */
enum pw_err pw_access_check_open(struct pw_access *acc, const char *host, bool allow_open,
                                 struct pw_error *err);

/* Admission -------------------------------------------------------------------------- */

struct pw_access_request {
    const char *authorization;  /* the Authorization header ("Bearer KEY"), or NULL */
    const char *api_key;        /* the X-API-Key header, or NULL */
    const char *key_id;         /* instead of a credential: an already
                                   authenticated session's key (WebSocket, MCP
                                   session); re-checked, so revocation applies */
    const char *client_ip;      /* for the per-IP guard; NULL = not guarded */
    unsigned scope;             /* the PW_ACCESS_SCOPE_* the route needs */
    const char *model;          /* the model asked for, or NULL */
    int64_t est_tokens;         /* tokens to reserve (pw_access_estimate_tokens) */
};

/*
 * The outcome of admission. `status` 0 = admitted; otherwise the HTTP
 * status (401, 403, 429) with an OpenAI error `type`/`code` and a message
 * that never contains the key. The limit fields feed the x-ratelimit-*
 * headers (-1 = no such limit). Reservations are private bookkeeping for
 * pw_access_finish, which must be called exactly once for an admitted
 * grant (and may be called for a refused one: it only counts it).
 */
struct pw_access_grant {
    int status;
    enum pw_err code;
    const char *type;           /* "invalid_api_key", "insufficient_permissions",
                                   "rate_limit_exceeded", "budget_exceeded" */
    char message[200];
    bool should_retry;          /* false: x-should-retry: false */
    int64_t retry_after_ms;
    bool open;                  /* admitted in open mode (no key) */
    char key_id[PW_ACCESS_ID_MAX];
    char tier[32];
    int64_t limit_requests, remaining_requests, reset_requests_ms;
    int64_t limit_tokens, remaining_tokens, reset_tokens_ms;
    /* private to access/ */
    int64_t admitted_ms;
    int64_t tok_start, tok_end, tok_reserved;
    int64_t bud_start, bud_end, bud_reserved;
    bool finished;
};

/* Runs admission and fills *g (always; never fails otherwise). */
void pw_access_admit(struct pw_access *acc, const struct pw_access_request *req,
                     struct pw_access_grant *g);

/* What a request used, for pw_access_finish (strings borrowed). */
struct pw_access_usage {
    const char *request_id;
    const char *route;          /* "/v1/chat/completions", "/mcp", ... */
    const char *model;          /* priced by this name (NULL: not a model call);
                                   recorded cut to 256 bytes (whole UTF-8
                                   characters): a refused request's model is
                                   whatever the client sent */
    const char *provider;
    int status;
    int64_t prompt_tokens, completion_tokens, cached_tokens;
    int64_t cost_micros;        /* > 0, or `priced`: already priced by the
                                   caller; else from the price table */
    bool priced;                /* cost_micros is the price even when 0 (a
                                   deployment priced at zero) */
    int64_t latency_us;         /* request in -> response done */
    int64_t upstream_us;        /* time waiting on the provider */
    const char *products;       /* JSON array text of injected product ids, or NULL */
};

/* Reconciles the grant's reservations with what was used, queues the usage
 * record (admitted grants only) and updates the metrics. Idempotent. */
void pw_access_finish(struct pw_access *acc, struct pw_access_grant *g,
                      const struct pw_access_usage *u);

/* Tokens to reserve for an OpenAI chat request body: a prompt estimate
 * (characters / 4) plus max_completion_tokens / max_tokens (or 256). */
int64_t pw_access_estimate_tokens(const json_t *body);

/*
 * Response headers for a grant: x-ratelimit-{limit,remaining,reset}-{requests,
 * tokens} when such limits apply, and for a refusal retry-after,
 * retry-after-ms or x-should-retry: false. `h` is the caller's storage;
 * returns h->v, a NULL-terminated name/value list for pw_server_req_respond.
 */
#define PW_ACCESS_HEADERS_MAX 24
struct pw_access_headers {
    const char *v[PW_ACCESS_HEADERS_MAX + 1];
    char buf[512];
};
const char *const *pw_access_headers(const struct pw_access_grant *g,
                                     struct pw_access_headers *h);

/* The OpenAI error body for a refused grant: new string (free()). */
char *pw_access_error_body(const struct pw_access_grant *g);

/* WebSocket tickets ------------------------------------------------------------------ */

/*
 * Browsers cannot set headers on a WebSocket, and a key in the URL lands in
 * logs. Instead a page asks POST /auth/ws-ticket (with its key in a header)
 * for a ticket: 32 random bytes, single use, valid 30 s, bound to the key.
 * It offers the ticket as an extra WebSocket subprotocol,
 * new WebSocket(url, ["mcp", "pw-ticket." + ticket]); the server picks
 * "mcp" and redeems the ticket at the upgrade. The session then carries
 * the key id (pw_access_request.key_id) and is re-checked per message.
 */
#define PW_ACCESS_TICKET_MAX 64
#define PW_ACCESS_TICKET_TTL_MS 30000

/* Issues a ticket for an admitted grant with a key. */
enum pw_err pw_access_ws_ticket(struct pw_access *acc, const struct pw_access_grant *g,
                                char ticket[PW_ACCESS_TICKET_MAX], struct pw_error *err);
/* Finds "pw-ticket.X" in a Sec-WebSocket-Protocol value; false when absent. */
bool pw_access_ws_ticket_find(const char *protocols, char ticket[PW_ACCESS_TICKET_MAX]);
/* Redeems a ticket (once): the key id it was issued for. PW_ERR_AUTH when
 * unknown, used or expired. */
enum pw_err pw_access_ws_redeem(struct pw_access *acc, const char *ticket,
                                char key_id[PW_ACCESS_ID_MAX], struct pw_error *err);

/* Usage --------------------------------------------------------------------------------- */

enum pw_access_usage_by {
    PW_ACCESS_BY_KEY,
    PW_ACCESS_BY_MODEL,
    PW_ACCESS_BY_DAY,
};

/* Parses "key" | "model" | "day". */
bool pw_access_usage_by_parse(const char *s, enum pw_access_usage_by *out);
/* Parses a duration "90s" "15m" "12h" "7d" "4w" into milliseconds. */
bool pw_access_duration_parse(const char *s, int64_t *ms);

/*
 * Aggregates the usage records since `since_ms` (unix ms):
 *   {"by": "model", "since": "...Z", "rows": [{"group": "gpt-4o-mini",
 *    "requests": N, "errors": N, "promptTokens": N, "completionTokens": N,
 *    "cachedTokens": N, "costMicros": N, "costUsd": "0.001234",
 *    "avgLatencyMs": N}, ...], "total": {same without group}}
 * Rows are sorted by cost, then requests (by day: by day).
 */
enum pw_err pw_access_usage_report(struct pw_access *acc, enum pw_access_usage_by by,
                                   int64_t since_ms, json_t **out, struct pw_error *err);

/* Waits until every record queued so far is committed. */
void pw_access_usage_flush(struct pw_access *acc);

/* Deletes usage records older than the retention period; returns how many. */
int64_t pw_access_usage_purge(struct pw_access *acc);

/* Prices ------------------------------------------------------------------------------- */

/* The cost in micro-dollars of a call to `model` (NULL-safe: 0 when the
 * model has no price; a dated or region-prefixed id is priced by its base
 * entry). `cached` tokens are part of `prompt` and priced at the cached
 * rate where the model has one. */
int64_t pw_access_cost(struct pw_access *acc, const char *model, int64_t prompt,
                       int64_t completion, int64_t cached);

/* Formats micro-dollars as "12.345678" (no currency sign). */
void pw_access_format_usd(int64_t micros, char *out, size_t size);
/* Parses "12", "12.5", "0.000001" (dollars) into micro-dollars. */
bool pw_access_parse_usd(const char *s, int64_t *micros);

/* Observability ------------------------------------------------------------------------ */

/* Circuit states for the readiness check, one per provider. */
struct pw_access_provider_state {
    const char *provider;
    bool open;                  /* circuit open: the provider is failing */
};

/* A callback that lists the providers' circuit states (up to max; returns
 * the count); called on the service thread by /api/v1/health/ready. */
typedef size_t (*pw_access_circuits_fn)(void *ud, struct pw_access_provider_state *out,
                                        size_t max);

struct pw_access_routes {
    pw_access_circuits_fn circuits;   /* NULL: no providers */
    void *circuits_ud;
    const char *admin_key;            /* NULL: PENNYWORTH_ADMIN_KEY from the
                                         environment (read once, here) */
};

/*
 * Route classes for the server's admission stage (pw_server_route.admit):
 * the scope a key needs and how a refusal is written. pw_access_attach
 * installs access as the server's admission filter; a module that adds a
 * keyed route sets its class.
 */
enum pw_access_route_class {
    PW_ACCESS_ROUTE_CHAT = 1,   /* /v1: chat scope; model and tokens from the
                                   JSON body; OpenAI error objects */
    PW_ACCESS_ROUTE_MCP,        /* /mcp: mcp scope; the route's own error shape */
    PW_ACCESS_ROUTE_TICKET,     /* /auth/ws-ticket: mcp scope, no usage record */
    PW_ACCESS_ROUTE_ADMIN,      /* /admin/: the admin key or the admin scope */
};

/*
 * Adds the routes to `srv` and installs access as its admission filter
 * (before pw_server_listen):
 *   /admin/keys[/ID[/revoke|/rotate|/audit]], /admin/usage[/BY[/SINCE]]
 *   POST /auth/ws-ticket, GET /metrics, GET /health,
 *   GET /api/v1/health/live, GET /api/v1/health/ready, GET /v1/version
 * Admin routes take PENNYWORTH_ADMIN_KEY (Bearer or X-API-Key, compared in
 * constant time) or a key with the admin scope. `acc` must outlive `srv`.
 */
enum pw_err pw_access_attach(struct pw_access *acc, struct pw_server *srv,
                             const struct pw_access_routes *opt, struct pw_error *err);

/* Fills the bridge's hooks (pennyworth/bridge.h): which models a caller
 * may see, and the response cache's partition for a caller. `acc` must
 * outlive the bridge. */
struct pw_bridge_hooks;
void pw_access_bridge_hooks(struct pw_access *acc, struct pw_bridge_hooks *out);

/* Fills the WebSocket MCP transport's gate (pennyworth/mcp_net.h): /ws
 * admits the upgrade by a header or a "pw-ticket.<t>" subprotocol and then
 * every message by the key id, with the mcp scope (/mcp is an HTTP route:
 * the admission stage admits it, class PW_ACCESS_ROUTE_MCP). `acc` must
 * outlive the transport. */
struct pw_mcp_gate;
void pw_access_mcp_gate(struct pw_access *acc, struct pw_mcp_gate *out);

/* The version and the git commit the binary was built from. */
const char *pw_access_version(void);
const char *pw_access_git_commit(void);

#endif
