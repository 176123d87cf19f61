/*
 * The LLM bridge: an OpenAI-compatible chat completions API on the network
 * server, which adds catalog context (found through the MCP tools, in
 * process), routes each request to OpenAI or AWS Bedrock by model name or
 * configured alias, and answers in OpenAI's shapes, streamed or not.
 *
 * Routes: POST /v1/chat/completions, POST /api/v1/completions (the same),
 * GET /v1/models. docs/internals/BRIDGE.md has the configuration file, the
 * routing, the retry and fallback rules and the context modes.
 *
 * Life cycle (all on the server's service thread):
 *   pw_bridge_new      loads the configuration (a file, else the
 *                      environment); a bad file fails here with
 *                      "FILE: /json/pointer: reason"
 *   pw_bridge_attach   adds the routes, a timer and a wake hook to the
 *                      server, starts the upstream I/O thread and opens the
 *                      in-process MCP session for catalog context
 *   pw_server_run      ...
 *   pw_bridge_free     after pw_server_run has returned and before the MCP
 *                      server is freed: cancels what is still in flight
 *
 * Hooks (for access control and metering, all optional): `admit` runs for
 * every chat request after its body parsed and before it is routed, and may
 * refuse it; `usage` runs once for every admitted request when it is over,
 * with what it cost. Both run on the service thread and must not block.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_BRIDGE_H
#define PENNYWORTH_BRIDGE_H

#include <jansson.h>
#include <stdbool.h>

#include "pennyworth/error.h"
#include "pennyworth/mcp.h"
#include "pennyworth/server.h"

struct pw_bridge;

/* What one admitted request did, for the usage hook (strings borrowed for
 * the call). */
struct pw_bridge_usage {
    const char *request_id;     /* "chatcmpl-..." */
    const char *model;          /* what the client asked for */
    const char *provider;       /* of the last deployment tried; NULL if none */
    const char *upstream_model; /* likewise */
    int status;                 /* HTTP status the client got (499: it left) */
    bool stream;
    long long prompt_tokens;
    long long completion_tokens;
    long long cached_tokens;
    long long cost_micros;      /* from the deployment's prices, micro-units */
    long long latency_ms;       /* request in -> response finished */
    long long first_token_ms;   /* request in -> first content (-1: none) */
    int attempts;               /* upstream calls made */
};

struct pw_bridge_hooks {
    /*
     * After parsing, before routing. `r` is the request (headers readable
     * with pw_server_req_header during the call), `model` the requested
     * model, `body` the parsed request (borrowed; do not modify). Return
     * PW_OK to let it through, or an error whose code decides the status
     * (PW_ERR_AUTH 401, PW_ERR_FORBIDDEN 403, PW_ERR_RATE_LIMITED 429...).
     * `*ticket` is handed back to `usage` (and only for admitted requests).
     */
    enum pw_err (*admit)(void *ud, struct pw_server_req *r, const char *model, json_t *body,
                         void **ticket, struct pw_error *err);
    /* Once per admitted request, when it is over. */
    void (*usage)(void *ud, void *ticket, const struct pw_bridge_usage *u);
    void *ud;
    /*
     * Optional: answers a refusal itself (status, headers such as
     * retry-after, an OpenAI error body with its own `type`). When set and
     * admit refused leaving a non-NULL `*ticket`, the bridge calls this
     * instead of writing its error from `err`; it must respond and release
     * the ticket.
     */
    void (*refuse)(void *ud, struct pw_server_req *r, void *ticket, const struct pw_error *err);
    /*
     * Optional: GET /v1/models runs admit (with model "" and body NULL),
     * lists only the models this accepts for the ticket, then hands the
     * ticket to `usage` (status 200, model NULL).
     */
    bool (*model_visible)(void *ud, void *ticket, const char *model);
    /*
     * Optional, with the response cache on: writes into `out` what
     * separates this request's callers from others' (requests share cached
     * answers only within one partition); false keeps the request out of
     * the cache. Without it every caller shares one partition.
     */
    bool (*cache_partition)(void *ud, void *ticket, char *out, size_t size);
};

struct pw_bridge_options {
    const char *config_path;           /* NULL: routes from the environment only */
    struct pw_mcp_server *mcp;         /* the catalog's MCP server; NULL: no context */
    const struct pw_bridge_hooks *hooks; /* copied; NULL: none */
    /* The response cache for identical non-streamed requests at
     * temperature 0 (X-Cache: HIT | MISS): answers live this long (0 = no
     * cache), at most cache_entries of them (0 = 1000) and cache_bytes in
     * all (0 = 64 MiB). */
    long long cache_ttl_ms;
    size_t cache_entries;
    size_t cache_bytes;
};

/* Loads the configuration. *out is new (pw_bridge_free). */
enum pw_err pw_bridge_new(const struct pw_bridge_options *opt, struct pw_bridge **out,
                          struct pw_error *err);

/* Adds the routes, timer and wake hook to `srv` (before pw_server_listen),
 * starts the upstream thread and the context session. `srv` is borrowed
 * and must outlive the bridge's use of it (until pw_bridge_free). */
enum pw_err pw_bridge_attach(struct pw_bridge *b, struct pw_server *srv, struct pw_error *err);

/* Cancels what is in flight, stops the upstream thread, closes the context
 * session and frees. NULL is fine. */
void pw_bridge_free(struct pw_bridge *b);

/* One deployment's circuit breaker, for readiness checks. */
struct pw_bridge_circuit {
    const char *deployment;     /* "provider/model", borrowed from the bridge */
    bool open;                  /* failing: calls are not sent to it */
};

/* Fills up to `max` circuits (configured and prefix-routed deployments);
 * returns how many there are. Service thread. */
size_t pw_bridge_circuits(const struct pw_bridge *b, struct pw_bridge_circuit *out, size_t max);

#endif
