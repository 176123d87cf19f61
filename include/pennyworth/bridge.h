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
 * Admission is the server's (its pipeline, before any handler): the chat
 * and model routes carry `admit_class` from the options, and the server's
 * admission filter lets a request through or answers it. What a request
 * used is reported into its context (pw_server_req_ctx, pw_server_ctx_usage:
 * the model asked for, the provider and upstream model of the last
 * deployment tried, tokens, cost, the injected product ids) before its
 * answer is queued, and the upstream time of every attempt through
 * pw_server_ctx_upstream_begin / _end; the server records the status and
 * hands the context to the filter's `done`. CORS is the server's too.
 *
 * Metrics (default registry): pennyworth_upstream_duration_seconds
 * {provider,model} for every upstream attempt, and pennyworth_circuit_open
 * {provider} per deployment ("provider/model"), 1 while its breaker is
 * open (docs/internals/BRIDGE.md).
 *
 * Hooks (optional): what the bridge asks of whoever admitted the request,
 * with the request's context (the admission filter's principal and grant
 * are in ctx->principal and ctx->grant). Both run on the service thread
 * and must not block.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_BRIDGE_H
#define PENNYWORTH_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>

#include "pennyworth/error.h"
#include "pennyworth/mcp.h"
#include "pennyworth/server.h"

struct pw_bridge;

struct pw_bridge_hooks {
    /* Optional: GET /v1/models lists only the models this accepts for the
     * request. NULL lists every configured alias. */
    bool (*model_visible)(void *ud, const struct pw_server_ctx *ctx, const char *model);
    /*
     * Optional, with the response cache on: writes into `out` what
     * separates this request's callers from others' (requests share cached
     * answers only within one partition); false keeps the request out of
     * the cache. Without it every caller shares one partition.
     */
    bool (*cache_partition)(void *ud, const struct pw_server_ctx *ctx, char *out, size_t size);
    void *ud;
};

struct pw_bridge_options {
    const char *config_path;           /* NULL: routes from the environment only */
    struct pw_mcp_server *mcp;         /* the catalog's MCP server; NULL: no context */
    const struct pw_bridge_hooks *hooks; /* copied; NULL: none */
    unsigned admit_class;              /* the admission class (pw_server_route.admit) of
                                          /v1/chat/completions, /api/v1/completions and
                                          /v1/models; 0 = no admission */
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

/* Room for a model name (the schema's 256 bytes, a provider prefix, NUL). */
#define PW_BRIDGE_MODEL_MAX 320
/* The built-in offline model: no LLM, it lists the catalog's matches. */
#define PW_BRIDGE_OFFLINE_MODEL "pennyworth-offline"

/* The model a client that names none of its own should ask for, written
 * into `buf` ("" when none): the configuration file's first alias, else the
 * default model of the first provider the environment configures
 * ("openai/gpt-4o-mini"), else the built-in offline model
 * ("pennyworth-offline"), which answers from the catalog with no
 * credentials. /v1/models lists it after the aliases. Any thread (it reads
 * only the configuration, fixed at pw_bridge_new). */
void pw_bridge_default_model(const struct pw_bridge *b, char *buf, size_t size);

#endif
