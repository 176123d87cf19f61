/*
 * The bridge's private shared declarations: configuration and routing
 * (config.c), the resilience policy (breaker.c), chunk aggregation
 * (aggregate.c), the SSE line parser shared by the OpenAI provider
 * (stream.c), the response cache (cache.c), the bridge's metric families
 * (observe.c), the exchange's entry points and the HTTP front (api.c).
 * The exchange itself is four files sharing exchange.h: exchange.c (its
 * life and state machine), attempt.c (sending, retries, fallback and the
 * breakers), reply.c (the answer: holding, committing, SSE, completions,
 * usage) and enrich.c (catalog context and catalog tool rounds). Provider,
 * upstream and context interfaces have their own headers (provider.h,
 * openai.h, bedrock.h, upstream.h, context.h).
 *
 * Threads: everything here runs on the service thread, except the pure
 * functions (breaker, backoff, aggregation, SSE parsing, configuration
 * parsing), which touch only their arguments.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_BRIDGE_INT_H
#define PENNYWORTH_BRIDGE_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "bridge/provider.h"
#include "pennyworth/bridge.h"
#include "pennyworth/buf.h"
#include "pennyworth/error.h"

/* Context modes. */
enum bridge_mode { BRIDGE_CTX_AUTO, BRIDGE_CTX_TOOLS, BRIDGE_CTX_OFF };

/* "auto" | "tools" | "off" -> *out; false for anything else. */
bool bridge_mode_parse(const char *s, enum bridge_mode *out);
const char *bridge_mode_name(enum bridge_mode m);

/* Circuit breaker and backoff (breaker.c) --------------------------------------- */

#define BRIDGE_BREAKER_FAILURES 5
#define BRIDGE_BREAKER_COOLDOWN_MS 30000

enum bridge_breaker_state { BRIDGE_CLOSED, BRIDGE_OPEN, BRIDGE_HALF_OPEN };

/*
 * One deployment's breaker:
 *
 *   CLOSED --`threshold` consecutive failures--> OPEN
 *   OPEN --cool-down passed, one request allowed (the probe)--> HALF_OPEN
 *   HALF_OPEN --probe succeeds--> CLOSED    --probe fails--> OPEN (again)
 *
 * While HALF_OPEN, only the probe is in flight; others are refused. These
 * functions are pure; attempt.c mirrors every change between CLOSED and
 * not CLOSED in the pennyworth_circuit_open gauge (observe.c).
 */
struct bridge_breaker {
    enum bridge_breaker_state state;
    int failures;            /* consecutive, while CLOSED */
    long long open_until_ms; /* OPEN: when the probe may go */
    int threshold;           /* 0 = BRIDGE_BREAKER_FAILURES */
    int cooldown_ms;         /* 0 = BRIDGE_BREAKER_COOLDOWN_MS */
};

/* May a request go to this deployment now? (May move OPEN -> HALF_OPEN.) */
bool bridge_breaker_allow(struct bridge_breaker *b, long long now_ms);
/* The outcome of a request that was allowed. */
void bridge_breaker_record(struct bridge_breaker *b, bool ok, long long now_ms);

/*
 * Delay before retry number `attempt` (1 for the first retry): exponential
 * from base_ms, capped at max_ms, with "equal jitter" (half fixed, half
 * random from `rnd` in [0, 1)), and never less than `retry_after_ms`
 * (from Retry-After; -1 when absent) capped at max_retry_after_ms.
 * Returns -1 when Retry-After asks for longer than that cap (do not retry
 * this deployment).
 */
long long bridge_backoff_ms(int attempt, int base_ms, int max_ms, long long retry_after_ms,
                            long long max_retry_after_ms, double rnd);

/* A Retry-After (or retry-after-ms) value in milliseconds: delta seconds
 * ("2", "1.5") or an HTTP date relative to now_s; -1 when unparseable. */
long long bridge_retry_after_ms(const char *value, long long now_s);

/* Configuration and routing (config.c) ----------------------------------------------- */

/* One upstream a request can go to. */
struct bridge_deploy {
    struct bridge_target *t;  /* owned (t->provider->target_free) */
    char *label;              /* "provider/model" for logs, errors and metrics */
    bool priced;              /* the file gave a price */
    long long price_in;       /* micro-units per million input tokens */
    long long price_out;      /* ... output tokens */
    bool upstream_stream;     /* stream from the provider for non-streaming clients */
    int retries;              /* retries on this deployment before the next */
    int connect_ms, first_byte_ms, total_ms;
    struct bridge_breaker breaker;
};

/* A model name clients use, and where it goes: `deps` in order, each
 * borrowed from the config's deployment pool (so a deployment shared by
 * several aliases through fallbacks shares one breaker). */
struct bridge_alias {
    char *name;
    bool has_mode;
    enum bridge_mode mode;
    struct bridge_deploy **deps;
    size_t ndeps;
};

struct bridge_config {
    char *path;               /* NULL: from the environment */
    struct bridge_alias *aliases;
    size_t naliases;
    struct bridge_deploy **pool; /* every deployment, owned */
    size_t npool;
    bool passthrough;         /* model names route by a provider's prefix */
    int backoff_base_ms, backoff_max_ms;
    long long max_retry_after_ms;
    int def_retries, def_connect_ms, def_first_byte_ms, def_total_ms;
    int breaker_failures, breaker_cooldown_ms;
    /* Each provider row's environment defaults (provider.h: defaults_new),
     * by row index (bridge_provider_at), owned. */
    void **defaults;
    /* Aliases made for prefix-routed model names, kept for their breakers. */
    struct bridge_alias **dyn;
    size_t ndyn;
};

/* The configuration schema (schema/config.schema.json, embedded). */
extern const unsigned char bridge_config_schema[];
extern const size_t bridge_config_schema_len;

/*
 * Builds the configuration from a parsed file (`doc` borrowed; NULL: no
 * file) and the environment (`getenv_fn(name)`, getenv in production).
 * Errors name the JSON pointer in err->pointer and read "POINTER: reason".
 * *out is new.
 */
enum pw_err bridge_config_build(json_t *doc, const char *path, bridge_getenv_fn getenv_fn,
                                struct bridge_config **out, struct pw_error *err);

/* Reads and builds `path` (NULL: environment only); errors read
 * "PATH: POINTER: reason". *out is new. */
enum pw_err bridge_config_load(const char *path, struct bridge_config **out,
                               struct pw_error *err);

void bridge_config_free(struct bridge_config *cfg);

/* The alias for a client's model name (borrowed; may be made and kept for
 * a prefix-routed name), or NULL with PW_ERR_NOT_FOUND in err. */
const struct bridge_alias *bridge_config_route(struct bridge_config *cfg, const char *model,
                                               struct pw_error *err);

/* The model a client that names none of its own should ask for (the
 * serve banner's curl; the page's choice through /v1/models): the file's
 * first alias, else the default model of the first provider row the
 * environment configures ("openai/gpt-4o-mini"), else a row's built-in
 * model (the offline model). Written into `buf`; "" when there is none. */
void bridge_config_default_model(const struct bridge_config *cfg, char *buf, size_t size);

/* Aggregation (aggregate.c) ---------------------------------------------------------------- */

/*
 * Folds chat.completion.chunk objects into one chat.completion: content
 * and refusal appended per choice, tool calls joined by index (id, type and
 * name from their first delta, arguments appended), the last finish_reason,
 * usage from whichever chunk carries it.
 */
struct bridge_agg;

struct bridge_agg *bridge_agg_new(void);
void bridge_agg_free(struct bridge_agg *a);
/* `chunk` borrowed. */
enum pw_err bridge_agg_add(struct bridge_agg *a, json_t *chunk, struct pw_error *err);
/* The completion so far (new); `id`, `model`, `created` given. */
json_t *bridge_agg_result(const struct bridge_agg *a, const char *id, const char *model,
                          long long created);
/* The usage object seen (borrowed) or NULL. */
json_t *bridge_agg_usage(const struct bridge_agg *a);
/* Whether any content, refusal or tool call has been folded in. */
bool bridge_agg_has_content(const struct bridge_agg *a);

/* Whether a chunk carries something a client reads: text, a refusal, a
 * tool call or a finish_reason. */
bool bridge_chunk_is_content(json_t *chunk);

/* SSE parsing (stream.c) -------------------------------------------------------------------- */

/*
 * An incremental parser of text/event-stream (the WHATWG rules: lines end
 * with CRLF, LF or CR; "data:" lines accumulate, one space after the colon
 * dropped; ":" lines are comments; a blank line dispatches). Only `data`
 * matters to us: each dispatched event's data is passed to `on_event`,
 * which returns PW_OK to go on.
 */
struct bridge_sse {
    struct pw_buf line;       /* the line being read */
    struct pw_buf data;       /* the event's data lines so far, joined by LF */
    bool has_data;
    bool last_cr;
    size_t max;               /* bound on one event's bytes (0 = 4 MiB) */
};

typedef enum pw_err (*bridge_sse_fn)(void *ud, const char *data, size_t len,
                                     struct pw_error *err);

enum pw_err bridge_sse_feed(struct bridge_sse *p, const char *buf, size_t len,
                            bridge_sse_fn on_event, void *ud, struct pw_error *err);
void bridge_sse_clear(struct bridge_sse *p);

/* The exchange (exchange.h has its parts) ---------------------------------------------------- */

struct pw_bridge;
struct bridge_exchange;
struct bridge_cache_key;

/* Starts serving a parsed, validated, admitted chat request; takes `body`
 * (the reference). With `key` (else NULL) a complete answer is stored
 * under it in b->cache. Answers through `r` now or later. */
void bridge_exchange_start(struct pw_bridge *b, struct pw_server_req *r, json_t *body,
                           const struct bridge_alias *alias, enum bridge_mode mode,
                           const struct bridge_cache_key *key);

/* The client went away: cancel and free. */
void bridge_exchange_closed(struct bridge_exchange *x);

/* Timer work: backoff waits that ended, keep-alives, back-pressure. */
void bridge_exchanges_tick(struct pw_bridge *b);

/* Cancels and frees every exchange (shutdown). */
void bridge_exchanges_free(struct pw_bridge *b);

/* The response cache (cache.c) ---------------------------------------------------------------- */

struct bridge_cache;
struct bridge_cache_key {
    unsigned char digest[32];
};

/* A cache of max_entries answers, max_bytes in all, each for ttl_ms. *out
 * is new (bridge_cache_free). */
enum pw_err bridge_cache_new(size_t max_entries, size_t max_bytes, long long ttl_ms,
                             struct bridge_cache **out);
void bridge_cache_free(struct bridge_cache *c);
/* The key of a request, or false when it is not cacheable (streamed, no
 * temperature 0, n > 1). `partition` separates callers that must never
 * share answers (NULL = ""). */
bool bridge_cache_key(const json_t *body, int mode, const char *partition,
                      struct bridge_cache_key *key);
/* A live answer (borrowed until the next put) and its products header. */
const char *bridge_cache_get(struct bridge_cache *c, const struct bridge_cache_key *key,
                             long long now_ms, const char **products);
/* Stores an answer (copied), evicting expired and least recently used ones. */
void bridge_cache_put(struct bridge_cache *c, const struct bridge_cache_key *key,
                      const char *body, const char *products, long long now_ms);

/* Metrics (observe.c) ------------------------------------------------------------------------ */

/* One upstream attempt took `seconds`: pennyworth_upstream_duration_seconds
 * {provider, model} (the provider's name, the upstream model id). */
void bridge_observe_upstream(const char *provider, const char *model, double seconds);

/* A deployment's breaker opened (true) or closed: pennyworth_circuit_open
 * {provider} with the deployment's label "provider/model". */
void bridge_observe_circuit(const char *deployment, bool open);

/* The bridge (api.c), shared with the exchange ----------------------------------------------- */

struct bridge_upstream;
struct bridge_context;

struct pw_bridge {
    struct bridge_config *cfg;
    struct pw_bridge_hooks hooks;     /* zeroes when none */
    unsigned admit_class;              /* the chat and model routes' admission class */
    struct pw_mcp_server *mcp;
    struct pw_server *srv;
    struct bridge_upstream *up;
    struct bridge_context *ctx;
    struct bridge_exchange *exchanges; /* in flight */
    unsigned long long rng;            /* jitter state */
    struct bridge_cache *cache;        /* NULL: no response cache */
};

/* An error body in OpenAI's shape (new string). `param` and `code` may be
 * NULL (JSON null). */
char *bridge_error_body(const char *message, const char *type, const char *param,
                        const char *code);

/* Checks every field of a chat completions body that we read or document
 * (types, required fields, ranges, messages, tools); false with `e` naming
 * the first offending field (its pointer becomes OpenAI's `param`). Pure:
 * the fuzz target runs it too. */
bool bridge_chat_validate(json_t *body, struct pw_error *e);
/* Answers `r` with an OpenAI error for `err` (status from its code). */
void bridge_respond_error(struct pw_server_req *r, const struct pw_error *err,
                          const char *products);

/* Reports into r's context the model a request asked for, when it ends
 * before any upstream attempt (a refusal of ours, a cached answer). */
void bridge_report_model(struct pw_server_req *r, const char *model);

#endif
