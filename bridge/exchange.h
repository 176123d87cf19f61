/*
 * One exchange's state, shared by the four files that drive it (the state
 * machine is drawn in exchange.c):
 *
 *   exchange.c  its life: start, the client leaving, the timer, the end
 *   attempt.c   one upstream attempt after another: the breakers, sending,
 *               the upstream callbacks, retries with backoff, fallback to
 *               the next deployment, the upstream time and its metrics
 *   reply.c     the answer: chunks held until content, the commit of a
 *               stream, SSE lines, the aggregated completion, errors, and
 *               the usage reported into the request's context
 *   enrich.c    what the catalog adds: context injected before the first
 *               attempt (auto mode) and catalog tool rounds (tools mode)
 *   trace.c     its spans: the catalog context and each upstream attempt
 *
 * Threads: the service thread only. Ownership: an exchange is on its
 * bridge's list from bridge_exchange_start until bridge_exchange_finish,
 * which every way out calls exactly once; after it `x` is gone.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_BRIDGE_EXCHANGE_H
#define PENNYWORTH_BRIDGE_EXCHANGE_H

#include <stdint.h>

#include "bridge/bridge-int.h"
#include "pennyworth/buf.h"
#include "pennyworth/server.h"
#include "pennyworth/trace.h"

#define BRIDGE_MAX_CALLS 128     /* tool calls of one upstream response we track */
#define BRIDGE_SAVED_HEADERS 5   /* response headers an error mapping may read */
#define BRIDGE_MAX_ERROR_BODY ((size_t)64 * 1024) /* of an error response, the rest dropped */

enum bridge_phase {
    BRIDGE_PHASE_CONTEXT,        /* the catalog search runs (enrich.c) */
    BRIDGE_PHASE_WAIT,           /* backoff before a retry (the timer resumes) */
    BRIDGE_PHASE_UPSTREAM,       /* an attempt is in flight */
    BRIDGE_PHASE_TOOLS,          /* catalog tool calls run (enrich.c) */
};

struct bridge_tool_call;         /* enrich.c */

struct bridge_exchange {
    struct bridge_exchange *prev, *next;
    struct pw_bridge *b;
    struct pw_server_req *r;       /* NULL once the client has gone */
    struct pw_server_ctx *sctx;    /* r's context; NULL once the server is gone */
    json_t *req;                   /* the client's request, context applied */
    const struct bridge_alias *alias;
    enum bridge_mode mode;
    char id[40];
    char *model;                   /* what the client asked for */
    long long created;
    bool client_stream, include_usage;
    enum bridge_phase phase;
    /* routing (attempt.c) */
    size_t dep;                    /* index into alias->deps */
    int tries;                     /* retries made on deps[dep] */
    int attempts;
    long long wait_until;          /* BRIDGE_PHASE_WAIT: monotonic ms */
    struct pw_error last;
    const struct bridge_deploy *cur; /* the last deployment tried */
    const struct bridge_provider *prov;
    bool up_stream;
    struct bridge_xfer *xfer;
    struct bridge_decoder *dec;
    int status;
    struct pw_buf ebuf;            /* an error response's body, max BRIDGE_MAX_ERROR_BODY */
    char *saved[BRIDGE_SAVED_HEADERS];
    bool timing;                   /* an attempt's upstream time is running */
    int64_t first_byte_us;         /* its response head came (0: not yet) */
    /* output (reply.c) */
    json_t *att, *out;             /* chunks: this attempt, accepted */
    bool committed;
    long long last_write;
    bool paused;
    long long usage_in, usage_out, usage_cached;
    bool usage_seen;
    /* context (enrich.c) */
    struct bridge_context_op *op;
    json_t *products;              /* product ids, unique, in order */
    int rounds;
    struct bridge_agg *round;      /* tools mode: this attempt, unfiltered */
    signed char owned[BRIDGE_MAX_CALLS]; /* per upstream call: 1 ours, 0 client, -1 unseen */
    int client_index[BRIDGE_MAX_CALLS];
    int nclient;
    struct bridge_tool_call *calls;
    size_t ncalls, pending;
    /* spans (trace.c); `traced` false: none, nothing allocated */
    bool traced;
    struct pw_trace_ctx trace;     /* the request's SERVER span, copied */
    char *tracestate;              /* the client's, for upstreams (owned) */
    struct pw_trace_span *ctx_span, *att_span; /* open spans, or NULL */
    long long att_in0, att_out0;   /* usage when the attempt began */
    /* response cache: a complete answer is stored under this key */
    bool cached;
    struct bridge_cache_key cache_key;
};

/* exchange.c: unlinks and frees (the upstream and context work cancelled). */
void bridge_exchange_finish(struct bridge_exchange *x);

/* attempt.c */
/* The next attempt: the first deployment from x->dep whose breaker allows
 * it; none left: the final failure. */
void bridge_attempt_next(struct bridge_exchange *x);
/* Cancels the attempt in flight (its upstream time ends) and drops what it
 * held. */
void bridge_attempt_drop(struct bridge_exchange *x);

/* reply.c */
/* Chunks an attempt decoded (borrowed): usage taken, catalog calls
 * withheld, held until content, then streamed to a streaming client. */
void bridge_reply_chunks(struct bridge_exchange *x, json_t *chunks);
/* The exchange ended well: the completion, or the stream's end. */
void bridge_reply_complete(struct bridge_exchange *x);
/* A non-streaming answer from what was accepted, with `notice` (or NULL)
 * when a deadline cut it. */
void bridge_reply_completion(struct bridge_exchange *x, const struct pw_error *notice);
/* The exchange failed with x->last: an error answer, or the stream ends
 * with an error event. */
void bridge_reply_fail(struct bridge_exchange *x);
/* Reports the model, deployment, tokens, cost and products into the
 * request's context (before the answer is queued, or as the client goes). */
void bridge_reply_usage(struct bridge_exchange *x);
/* Timer work on a committed stream: resume a paused upstream, keep-alive. */
void bridge_reply_tick(struct bridge_exchange *x, long long now_ms);

/* enrich.c */
/* Starts the exchange: the catalog search first in auto mode, then the
 * first attempt. */
void bridge_enrich_begin(struct bridge_exchange *x);
/* The request for the next attempt (new): tools mode adds the catalog
 * tools while rounds remain. */
json_t *bridge_enrich_request(struct bridge_exchange *x);
/* Tools mode: withholds our calls' deltas from `chunk`, renumbers the
 * client's; false when nothing of the chunk is left for the client. */
bool bridge_enrich_filter(struct bridge_exchange *x, json_t *chunk);
/* An attempt ended well: when its only calls were ours and rounds remain,
 * runs them and goes back to the model (true); false: the answer is done. */
bool bridge_enrich_round(struct bridge_exchange *x);
/* Cancels and frees the catalog calls of a round. */
void bridge_enrich_clear(struct bridge_exchange *x);

/* trace.c (every function does nothing for an exchange not traced) */
/* Copies the request's span context: the parent of the exchange's spans. */
void bridge_trace_start(struct bridge_exchange *x);
/* The catalog context span begins; its context (borrowed, or NULL), to
 * make current around the in-process MCP calls. */
const struct pw_trace_ctx *bridge_trace_context_begin(struct bridge_exchange *x);
/* It ends, with the products collected so far; `error` (or NULL) fails it. */
void bridge_trace_context_end(struct bridge_exchange *x, const char *error);
/* An attempt's span begins: GenAI attributes from `d`, and its
 * traceparent (and the client's tracestate) added to `h`'s headers. */
void bridge_trace_attempt_begin(struct bridge_exchange *x, const struct bridge_deploy *d,
                                struct bridge_http *h);
/* The attempt's span ends: its tokens, status and `err` (NULL: success). */
void bridge_trace_attempt_end(struct bridge_exchange *x, const struct pw_error *err);
/* Ends what is still open (cancelled) and frees; from bridge_exchange_finish. */
void bridge_trace_finish(struct bridge_exchange *x);

#endif
