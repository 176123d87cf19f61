/*
 * Private declarations of the Streamable HTTP transport: the request side
 * (http.c), sessions and their streams (http_session.c), and the SSE replay
 * ring (sse.c).
 *
 * The objects (drawn in http.c's opening comment): an mcp_hsess per MCP
 * session, an mcp_hpost per POST still waiting for answers, an mcp_hstream
 * per SSE stream (stream 0 is the session's own GET stream). A
 * pw_server_req's data pointer is either an mcp_hpost or an mcp_hstream;
 * both start with an `int kind` (MCP_HK_*) that says which.
 *
 * An SSE stream of an HTTP session keeps the events it sent (already
 * formatted, "id: ...\nevent: message\ndata: ...\n\n") in a bounded ring so
 * a client that lost its connection can resume with Last-Event-ID. Event
 * ids are "<stream>-<seq>": the stream number makes them unique within the
 * session and lets a Last-Event-ID name its stream; seq counts up from 1
 * within the stream. A priming event (an id and empty data, SEP-1699) takes
 * a seq without being stored.
 *
 * Invariants of a ring:
 *   1. Stored seqs are strictly increasing from the oldest to the newest.
 *   2. count <= max_events and bytes <= max_bytes once a push returns, except
 *      that the newest event is always kept even if it alone is larger.
 *   3. evicted_upto is the largest seq that was dropped (0 = none), so a
 *      resume from below it has a gap.
 *
 * Not thread-safe; the service thread owns every ring.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PW_MCP_HTTP_INT_H
#define PW_MCP_HTTP_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pennyworth/mcp_net.h"

struct mcp_sse_event {
    uint64_t seq;
    size_t len;
    char *text;                 /* the whole formatted event */
};

/* The budget every ring of one transport shares: replay text is memory a
 * vanished client pins until its session expires, so besides each ring's
 * own bounds the rings together stay under max_bytes (a ring over it gives
 * up its own oldest events first; a ring keeps at least the event being
 * sent, so the overshoot is at most one event per stream). */
struct mcp_sse_pool {
    size_t bytes;               /* text bytes stored in every ring */
    size_t max_bytes;
};

struct mcp_sse_ring {
    struct mcp_sse_pool *pool;  /* shared budget (borrowed), or NULL */
    uint64_t no;                /* stream number within the session */
    uint64_t next_seq;          /* seq the next event gets (starts at 1) */
    struct mcp_sse_event *ev;   /* circular, `cap` slots */
    size_t cap, head, count;
    size_t bytes;               /* text bytes stored */
    size_t max_events, max_bytes;
    uint64_t evicted_upto;
};

void mcp_sse_init(struct mcp_sse_ring *r, struct mcp_sse_pool *pool, uint64_t no,
                  size_t max_events, size_t max_bytes);
void mcp_sse_clear(struct mcp_sse_ring *r);

/* Stores one message (JSON text, no newlines) as an event; returns its seq,
 * or 0 when out of memory. */
uint64_t mcp_sse_push(struct mcp_sse_ring *r, const char *json, size_t len);

/* Takes a seq without storing anything (for a priming event). */
uint64_t mcp_sse_skip(struct mcp_sse_ring *r);

/* The index (0 = oldest) of the first stored event with seq >= `seq`;
 * r->count when there is none. */
size_t mcp_sse_find(const struct mcp_sse_ring *r, uint64_t seq);
const struct mcp_sse_event *mcp_sse_at(const struct mcp_sse_ring *r, size_t i);

/* Writes "<no>-<seq>"; returns the length or -1. */
int mcp_sse_event_id(char *buf, size_t size, uint64_t no, uint64_t seq);
/* Parses an event id; false when it is not ours. */
bool mcp_sse_parse_id(const char *s, uint64_t *no, uint64_t *seq);

/* Formats a priming event ("id: X\ndata: \n\n", with "retry: N\n" first when
 * retry_ms > 0); returns the length or -1. */
int mcp_sse_prime(char *buf, size_t size, uint64_t no, uint64_t seq, int retry_ms);

/* Streamable HTTP sessions ---------------------------------------------------------- */

#define MCP_HTTP_SID_BYTES 16 /* 128 random bits */
#define MCP_HTTP_SID_LEN (2 * MCP_HTTP_SID_BYTES)

/* JSON-RPC error codes of transport errors. */
#define MCP_HTTP_E_PARSE -32700
#define MCP_HTTP_E_INVALID -32600
#define MCP_HTTP_E_TRANSPORT -32000
#define MCP_HTTP_E_NO_SESSION -32001

enum { MCP_HK_POST = 1, MCP_HK_STREAM = 2, MCP_HK_MODERN = 3 };

struct mcp_hsess;

struct mcp_hstream {
    int kind;                   /* MCP_HK_STREAM (first: the request's data tag) */
    struct mcp_hsess *sess;
    struct mcp_sse_ring ring;
    struct pw_server_req *req;  /* the connected client, or NULL */
    uint64_t cursor;            /* next seq to write to `req` */
    bool done;                  /* its last answer is in the ring */
    int64_t attached_ms;        /* when `req` was attached */
    int64_t detached_ms;        /* when it lost its client */
    int64_t last_write_ms;
    struct mcp_hstream *prev, *next;
};

enum mcp_hpost_mode { MCP_HP_UNDECIDED, MCP_HP_SSE };

struct mcp_hpost {
    int kind;                   /* MCP_HK_POST */
    struct mcp_hsess *sess;
    struct pw_server_req *req;  /* undecided: the client; SSE: NULL */
    json_t *pending;            /* ids not answered yet (array) */
    json_t *answers;            /* undecided: answers collected (array) */
    bool batch;
    bool sse_ok;
    bool init;
    enum mcp_hpost_mode mode;
    int64_t started_ms;         /* when the POST arrived (its connection's age) */
    struct mcp_hstream *stream; /* SSE mode */
    struct mcp_hpost *prev, *next;
};

enum mcp_hsess_state { MCP_HS_INIT, MCP_HS_READY };

struct mcp_hsess {
    char id[MCP_HTTP_SID_LEN + 1];
    struct pw_mcp_http *h;
    struct pw_mcp_session *mcp;
    enum mcp_hsess_state state;
    bool doomed;                /* initialize failed: end when safe */
    int64_t created_ms;
    int64_t last_active_ms;
    uint64_t next_stream;       /* the next POST stream's number */
    struct mcp_hstream *own;    /* stream 0 (also in `streams`) */
    struct mcp_hstream *streams;
    struct mcp_hpost *posts;
    struct mcp_hpost *feeding;  /* the POST whose body the engine is reading */
    struct mcp_hsess *hnext;    /* hash chain */
};

struct pw_mcp_http {
    struct pw_server *srv;
    struct pw_mcp_server *mcp;
    struct pw_mcp_http_options opt; /* resolved */
    struct mcp_hsess **buckets;
    size_t nbuckets;
    size_t count;
    struct mcp_sse_pool replay; /* every stream's replay ring shares it */
    bool stopping;
    struct mcp_hmodern *modern; /* revision 2026-07-28 requests (http_modern.c) */
};

/* http.c: response helpers. mcp_http_error answers with a JSON-RPC error
 * body whose id is null (CORS headers come from the server's pipeline). */
void mcp_http_error(struct pw_server_req *r, int status, int code,
                    const char *message);

/* http_session.c: sessions. new/find/end as in http.c's state machine; end
 * is never called from inside the engine's send (http.c invariant 1). */
struct mcp_hsess *mcp_hsess_new(struct pw_mcp_http *h);
struct mcp_hsess *mcp_hsess_find(struct pw_mcp_http *h, const char *id);
void mcp_hsess_end(struct mcp_hsess *s, const char *why);
/* Timer work: keep-alives, SEP-1699 closes, expiry of streams and of the
 * session itself (which may end it: do not touch s afterwards). */
void mcp_hsess_sweep(struct mcp_hsess *s, int64_t now);
/* Graceful stop: ends the session's own stream and finished streams. */
void mcp_hsess_stop(struct mcp_hsess *s);

/* http_session.c: POSTs and streams. */
struct mcp_hpost *mcp_hpost_new(struct mcp_hsess *s, struct pw_server_req *r, json_t *ids,
                                bool batch, bool sse_ok, bool init);
struct mcp_hpost *mcp_hpost_find(struct mcp_hsess *s, json_t *id);
void mcp_hpost_to_sse(struct mcp_hpost *p);
void mcp_hstream_attach(struct mcp_hstream *st, struct pw_server_req *r, uint64_t from,
                        bool with_sid);
/* The route's on_close: the client of a POST or stream went away. */
void mcp_http_detach(struct pw_server_req *r);
/* Binds a session to the identity admission let in (`who`), else to the
 * request's credential (Authorization, else X-API-Key); see
 * pw_mcp_session_set_principal. mcp_http_principal_is asks whether a
 * request may use a session bound earlier. */
enum pw_err mcp_http_principal(struct pw_server_req *r, const char *who,
                               struct pw_mcp_session *s);
bool mcp_http_principal_is(struct pw_server_req *r, const char *who,
                           const struct pw_mcp_session *s);

/* http_modern.c: revision 2026-07-28 POSTs, each with a short-lived engine
 * session. request: true when it took (and answered or holds) `r`;
 * detach: true when `r` was one of its requests. */
bool mcp_hmodern_request(struct pw_mcp_http *h, struct pw_server_req *r, const char *who);
bool mcp_hmodern_detach(struct pw_server_req *r);
void mcp_hmodern_sweep(struct pw_mcp_http *h, int64_t now);
void mcp_hmodern_stop(struct pw_mcp_http *h);
void mcp_hmodern_free_all(struct pw_mcp_http *h);

#endif
