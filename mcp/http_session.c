/*
 * Streamable HTTP sessions, their SSE streams and their waiting POSTs, and
 * the routing of everything the MCP engine sends (sess_send). The request
 * side, the state machine and the invariants are in http.c; the shared
 * types in http-int.h.
 *
 * Routing (sess_send, `related` = the id of the client request a message
 * belongs to):
 *   - a response, or a batch of them, goes to the POST whose pending ids
 *     contain its id; a null-id error produced while a POST is being fed
 *     answers that POST;
 *   - a request or notification with `related` goes to that POST, turning
 *     an undecided POST into an SSE stream (mcp_hpost_to_sse) when the
 *     client accepts one, else falling back to the session's own stream;
 *   - anything else (resources/updated, list_changed) goes to stream 0,
 *     which buffers in its replay ring while no GET is connected.
 *
 * A stream's connection: attach (mcp_hstream_attach, from a POST turning
 * SSE, or from a GET) -> writes (stream_flush) -> end once its last answer
 * is out, or detach when the client goes away (mcp_http_detach), or a
 * SEP-1699 close (sweep_stream: a `retry:` hint, then end; the client
 * resumes with GET + Last-Event-ID; a POST still undecided after the
 * polling interval turns SSE first, mcp_hsess_sweep). Finished streams
 * stay resumable for RESUME_WINDOW_MS, at most MAX_RETAINED_STREAMS per
 * session.
 *
 * Service thread only (the engine's loop thread).
 *
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/json.h"
#include "mcp/http-int.h"
#include "pennyworth/clock.h"
#include "pennyworth/log.h"

#define RESUME_WINDOW_MS 60000       /* a finished stream stays resumable */
#define MAX_RETAINED_STREAMS 32      /* finished, detached streams per session */
#define INIT_TIMEOUT_MS 60000        /* an initialize that never completed */

/* The session table --------------------------------------------------------------------------- */

static size_t bucket_of(const struct pw_mcp_http *h, const char *id)
{
    uint64_t x = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = id; *p; p++) {
        x ^= (unsigned char)*p;
        x *= 1099511628211ull;
    }
    return (size_t)(x & (h->nbuckets - 1));
}

struct mcp_hsess *mcp_hsess_find(struct pw_mcp_http *h, const char *id)
{
    if (strlen(id) != MCP_HTTP_SID_LEN)
        return NULL;
    for (struct mcp_hsess *s = h->buckets[bucket_of(h, id)]; s; s = s->hnext)
        if (CRYPTO_memcmp(s->id, id, MCP_HTTP_SID_LEN) == 0)
            return s;
    return NULL;
}

static void table_grow(struct pw_mcp_http *h)
{
    size_t n = h->nbuckets * 2;
    struct mcp_hsess **b = calloc(n, sizeof *b);
    if (!b)
        return; /* longer chains; still correct */
    struct mcp_hsess **old = h->buckets;
    size_t oldn = h->nbuckets;
    h->buckets = b;
    h->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        for (struct mcp_hsess *s = old[i], *next; s; s = next) {
            next = s->hnext;
            size_t k = bucket_of(h, s->id);
            s->hnext = b[k];
            b[k] = s;
        }
    }
    free(old);
}

static void table_remove(struct pw_mcp_http *h, struct mcp_hsess *s)
{
    for (struct mcp_hsess **pp = &h->buckets[bucket_of(h, s->id)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == s) {
            *pp = s->hnext;
            h->count--;
            return;
        }
    }
}

static const char *sess_version(const struct mcp_hsess *s)
{
    const char *v = pw_mcp_session_version(s->mcp);
    return v ? v : "2025-03-26";
}

/* SEP-1699 priming and polling apply from 2025-11-25 on. */
static bool sess_polls(const struct mcp_hsess *s)
{
    return strcmp(sess_version(s), "2025-11-25") >= 0;
}

static struct mcp_hstream *stream_new(struct mcp_hsess *s, uint64_t no)
{
    struct mcp_hstream *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->kind = MCP_HK_STREAM;
    st->sess = s;
    mcp_sse_init(&st->ring, &s->h->replay, no, s->h->opt.replay_events, s->h->opt.replay_bytes);
    st->cursor = 1;
    st->next = s->streams;
    if (s->streams)
        s->streams->prev = st;
    s->streams = st;
    return st;
}

static void stream_free(struct mcp_hstream *st)
{
    struct mcp_hsess *s = st->sess;
    if (st->prev)
        st->prev->next = st->next;
    else
        s->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    if (st->req)
        pw_server_req_end(st->req);
    mcp_sse_clear(&st->ring);
    free(st);
}

static void post_free(struct mcp_hpost *p)
{
    struct mcp_hsess *s = p->sess;
    if (p->prev)
        p->prev->next = p->next;
    else
        s->posts = p->next;
    if (p->next)
        p->next->prev = p->prev;
    if (s->feeding == p)
        s->feeding = NULL;
    if (p->stream)
        p->stream->done = true;
    json_decref(p->pending);
    json_decref(p->answers);
    free(p);
}

static void sess_send(void *ctx, json_t *msg, json_t *related);

struct mcp_hsess *mcp_hsess_new(struct pw_mcp_http *h)
{
    unsigned char raw[MCP_HTTP_SID_BYTES];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return NULL;
    struct mcp_hsess *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < MCP_HTTP_SID_BYTES; i++) {
        s->id[2 * i] = hex[raw[i] >> 4];
        s->id[2 * i + 1] = hex[raw[i] & 15];
    }
    s->h = h;
    s->created_ms = s->last_active_ms = pw_clock_ms();
    s->next_stream = 1;
    struct pw_mcp_transport t = {.send = sess_send, .ctx = s, .name = PW_MCP_TRANSPORT_HTTP};
    struct pw_error err = {0};
    if (pw_mcp_session_new(h->mcp, &t, &s->mcp, &err) != PW_OK) {
        pw_warn("mcp http: cannot make a session: %s", err.message);
        free(s);
        return NULL;
    }
    s->own = stream_new(s, 0);
    if (!s->own) {
        pw_mcp_session_free(s->mcp);
        free(s);
        return NULL;
    }
    if (h->count + 1 > h->nbuckets * 2)
        table_grow(h);
    size_t k = bucket_of(h, s->id);
    s->hnext = h->buckets[k];
    h->buckets[k] = s;
    h->count++;
    return s;
}

/* Ends a session: answers or ends what is open, frees everything. Never
 * from inside sess_send (invariant 1). */
void mcp_hsess_end(struct mcp_hsess *s, const char *why)
{
    pw_debug("mcp http: session %.8s... ends (%s)", s->id, why);
    table_remove(s->h, s);
    while (s->posts) {
        struct mcp_hpost *p = s->posts;
        if (p->req) {
            mcp_http_error(p->req, 404, MCP_HTTP_E_NO_SESSION, "Session terminated");
            p->req = NULL;
        }
        post_free(p);
    }
    while (s->streams)
        stream_free(s->streams);
    pw_mcp_session_free(s->mcp); /* the engine never calls sess_send again */
    free(s);
}

/* Streams ------------------------------------------------------------------------------- */

/* Writes what the connected client has not had yet; ends the response when
 * the stream is done and everything is out. */
static void stream_flush(struct mcp_hstream *st)
{
    if (!st->req)
        return;
    size_t i = mcp_sse_find(&st->ring, st->cursor);
    const struct mcp_sse_event *e;
    while ((e = mcp_sse_at(&st->ring, i++)) != NULL) {
        if (pw_server_req_write(st->req, e->text, e->len) != PW_OK)
            return; /* the server drops the client; on_close detaches it */
        st->cursor = e->seq + 1;
        st->last_write_ms = pw_clock_ms();
    }
    if (st->done && st->cursor >= st->ring.next_seq) {
        pw_server_req_end(st->req);
        st->req = NULL;
        st->detached_ms = pw_clock_ms();
        st->sess->last_active_ms = st->detached_ms;
    }
}

static void stream_push(struct mcp_hstream *st, json_t *msg)
{
    char *text = json_dumps(msg, PW_JSON_WIRE);
    if (!text || !mcp_sse_push(&st->ring, text, strlen(text)))
        pw_warn("mcp http: could not queue a message on stream %" PRIu64, st->ring.no);
    free(text);
    stream_flush(st);
}

/*
 * Connects a client to a stream, replaying from `from` (a seq). Sends the
 * SSE head and, for 2025-11-25 sessions when nothing is about to be
 * written, a priming event so the client holds an event id.
 */
void mcp_hstream_attach(struct mcp_hstream *st, struct pw_server_req *r, uint64_t from,
                        bool with_sid)
{
    struct mcp_hsess *s = st->sess;
    if (st->req) {
        /* A newer connection takes the stream over (the old one may be
         * half-open); the old response ends cleanly. */
        pw_server_req_end(st->req);
        st->req = NULL;
    }
    const char *h[16];
    size_t n = 0;
    h[n++] = "cache-control";
    h[n++] = "no-cache";
    h[n++] = "x-accel-buffering";
    h[n++] = "no";
    if (with_sid) {
        h[n++] = "mcp-session-id";
        h[n++] = s->id;
    }
    h[n] = NULL;
    /* Attached before start: if the start fails the server drops the
     * client and on_close finds the stream (invariant 2). */
    st->req = r;
    pw_server_req_set_data(r, st);
    st->attached_ms = st->last_write_ms = pw_clock_ms();
    if (pw_server_req_start(r, 200, "text/event-stream", h) != PW_OK)
        return;
    if (from <= st->ring.evicted_upto && from < st->ring.next_seq)
        pw_warn("mcp http: session %.8s... stream %" PRIu64 ": events up to %" PRIu64
                " were evicted before the client resumed",
                s->id, st->ring.no, st->ring.evicted_upto);
    st->cursor = from;
    bool pending = mcp_sse_at(&st->ring, mcp_sse_find(&st->ring, from)) != NULL;
    if (!pending && !st->done && sess_polls(s)) {
        char buf[96];
        int len = mcp_sse_prime(buf, sizeof buf, st->ring.no, mcp_sse_skip(&st->ring), 0);
        if (len > 0)
            pw_server_req_write(r, buf, (size_t)len);
        st->cursor = st->ring.next_seq;
    }
    stream_flush(st);
}

/* POSTs -------------------------------------------------------------------------------- */

struct mcp_hpost *mcp_hpost_new(struct mcp_hsess *s, struct pw_server_req *r, json_t *ids,
                                bool batch, bool sse_ok, bool init)
{
    struct mcp_hpost *p = calloc(1, sizeof *p);
    json_t *answers = json_array();
    if (!p || !answers) {
        free(p);
        json_decref(answers);
        return NULL;
    }
    p->kind = MCP_HK_POST;
    p->sess = s;
    p->req = r;
    p->pending = json_incref(ids);
    p->answers = answers;
    p->batch = batch;
    p->sse_ok = sse_ok;
    p->init = init;
    p->started_ms = pw_clock_ms();
    p->next = s->posts;
    if (s->posts)
        s->posts->prev = p;
    s->posts = p;
    pw_server_req_set_data(r, p);
    return p;
}

static bool same_id(json_t *a, json_t *b) { return a && b && json_equal(a, b); }

/* Removes `id` from the pending list; true when it was there. */
static bool take_id(struct mcp_hpost *p, json_t *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(p->pending, i, v) {
        if (same_id(v, id)) {
            json_array_remove(p->pending, i);
            return true;
        }
    }
    return false;
}

static bool has_id(const struct mcp_hpost *p, json_t *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(p->pending, i, v)
        if (same_id(v, id))
            return true;
    return false;
}

struct mcp_hpost *mcp_hpost_find(struct mcp_hsess *s, json_t *id)
{
    if (!id || json_is_null(id))
        return NULL;
    for (struct mcp_hpost *p = s->posts; p; p = p->next)
        if (has_id(p, id))
            return p;
    return NULL;
}

static bool is_answer(json_t *m)
{
    return json_is_object(m) && !json_object_get(m, "method") &&
           (json_object_get(m, "result") || json_object_get(m, "error"));
}

/* A message the engine sends that answers requests: a response, or a
 * batch (array) of them. */
static bool is_answers(json_t *m)
{
    if (!json_is_array(m))
        return is_answer(m);
    size_t i;
    json_t *v;
    json_array_foreach(m, i, v)
        if (!is_answer(v))
            return false;
    return json_array_size(m) > 0;
}

/* The POST an answer message belongs to, by its ids. */
static struct mcp_hpost *post_for_answers(struct mcp_hsess *s, json_t *m)
{
    if (!json_is_array(m))
        return mcp_hpost_find(s, json_object_get(m, "id"));
    size_t i;
    json_t *v;
    json_array_foreach(m, i, v) {
        struct mcp_hpost *p = mcp_hpost_find(s, json_object_get(v, "id"));
        if (p)
            return p;
    }
    return NULL;
}

/* Marks the ids an answer message carries as answered. */
static void take_answers(struct mcp_hpost *p, json_t *m, bool everything)
{
    if (everything) {
        json_array_clear(p->pending);
        return;
    }
    if (!json_is_array(m)) {
        take_id(p, json_object_get(m, "id"));
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(m, i, v)
        take_id(p, json_object_get(v, "id"));
}

/* The JSON answer of an undecided POST whose requests are all answered. */
static void post_finish_json(struct mcp_hpost *p)
{
    struct mcp_hsess *s = p->sess;
    json_t *body;
    if (json_array_size(p->answers) == 1) {
        body = json_incref(json_array_get(p->answers, 0));
    } else {
        body = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(p->answers, i, v) {
            if (json_is_array(v))
                json_array_extend(body, v);
            else
                json_array_append(body, v);
        }
    }
    int status = 200;
    if (json_is_object(body) && json_is_null(json_object_get(body, "id")) &&
        json_object_get(body, "error"))
        status = 400; /* the engine refused the whole body */
    if (p->req) {
        char *text = json_dumps(body, PW_JSON_WIRE);
        const char *h[16];
        size_t n = 0;
        if (p->init && s->state == MCP_HS_READY) {
            h[n++] = "mcp-session-id";
            h[n++] = s->id;
        }
        h[n] = NULL;
        pw_server_req_respond(p->req, status, "application/json", h, text ? text : "",
                              text ? strlen(text) : 0);
        free(text);
        p->req = NULL;
    }
    json_decref(body);
    post_free(p);
}

/* Turns a POST into an SSE stream (its own stream number). */
void mcp_hpost_to_sse(struct mcp_hpost *p)
{
    struct mcp_hsess *s = p->sess;
    struct mcp_hstream *st = stream_new(s, s->next_stream++);
    if (!st)
        return;
    p->mode = MCP_HP_SSE;
    p->stream = st;
    struct pw_server_req *r = p->req;
    p->req = NULL;
    if (r) {
        mcp_hstream_attach(st, r, 1, p->init);
        /* The connection is as old as the POST: polling counts from there. */
        st->attached_ms = p->started_ms;
    } else
        st->detached_ms = pw_clock_ms();
    size_t i;
    json_t *v;
    json_array_foreach(p->answers, i, v)
        stream_push(st, v);
    json_array_clear(p->answers);
}

/* Delivers one engine message to a POST. `final` when it answers requests;
 * `everything` when it answers the whole POST (a null-id error). */
static void post_deliver(struct mcp_hpost *p, json_t *msg, bool final, bool everything)
{
    struct mcp_hsess *s = p->sess;
    if (final) {
        take_answers(p, msg, everything);
        if (p->init && json_array_size(p->pending) == 0) {
            /* The initialize answer decides the session's fate. */
            if (json_is_object(msg) && json_object_get(msg, "result"))
                s->state = MCP_HS_READY;
            else
                s->doomed = true;
        }
    }
    if (p->mode == MCP_HP_UNDECIDED) {
        if (final) {
            json_array_append(p->answers, msg);
            if (json_array_size(p->pending) == 0)
                post_finish_json(p);
            return;
        }
        if (!p->sse_ok || !p->req) {
            stream_push(s->own, msg); /* no stream to put it on */
            return;
        }
        mcp_hpost_to_sse(p);
        if (!p->stream) {
            stream_push(s->own, msg);
            return;
        }
    }
    stream_push(p->stream, msg);
    if (final && json_array_size(p->pending) == 0) {
        struct mcp_hstream *st = p->stream;
        post_free(p); /* marks the stream done */
        stream_flush(st);
    }
}

/* The engine's send() for an HTTP session (invariant 1: never ends it). */
static void sess_send(void *ctx, json_t *msg, json_t *related)
{
    struct mcp_hsess *s = ctx;
    if (is_answers(msg)) {
        struct mcp_hpost *p = post_for_answers(s, msg);
        bool everything = false;
        if (!p && s->feeding && json_is_object(msg) &&
            json_is_null(json_object_get(msg, "id"))) {
            p = s->feeding;
            everything = true;
        }
        if (!p)
            p = mcp_hpost_find(s, related);
        if (!p) {
            pw_debug("mcp http: session %.8s...: an answer for a request whose client is "
                     "gone; dropped",
                     s->id);
            return;
        }
        post_deliver(p, msg, true, everything);
        return;
    }
    struct mcp_hpost *p = mcp_hpost_find(s, related);
    if (p)
        post_deliver(p, msg, false, false);
    else
        stream_push(s->own, msg);
}

/* The client went away before its answer was complete (invariant 2). */
void mcp_http_detach(struct pw_server_req *r)
{
    int *kind = pw_server_req_data(r);
    if (!kind)
        return;
    if (*kind == MCP_HK_POST) {
        struct mcp_hpost *p = (struct mcp_hpost *)kind;
        p->req = NULL;
        p->sess->last_active_ms = pw_clock_ms();
        post_free(p); /* its answers, when they come, are dropped */
    } else {
        struct mcp_hstream *st = (struct mcp_hstream *)kind;
        if (st->req == r) {
            st->req = NULL;
            st->detached_ms = st->sess->last_active_ms = pw_clock_ms();
        }
    }
}

/* Timers and stop ----------------------------------------------------------------- */

static void sweep_stream(struct mcp_hstream *st, int64_t now)
{
    struct mcp_hsess *s = st->sess;
    struct pw_mcp_http *h = s->h;
    if (st->req) {
        if (h->opt.sse_poll_ms > 0 && !st->done && sess_polls(s) &&
            now - st->attached_ms >= h->opt.sse_poll_ms) {
            /* SEP-1699: end the connection, not the stream. */
            char buf[48];
            int n = snprintf(buf, sizeof buf, "retry: %d\n\n", h->opt.sse_retry_ms);
            pw_server_req_write(st->req, buf, (size_t)n);
            pw_server_req_end(st->req);
            st->req = NULL;
            st->detached_ms = s->last_active_ms = now;
        } else if (now - st->last_write_ms >= (int64_t)h->opt.keepalive_s * 1000) {
            pw_server_req_write(st->req, ": keep-alive\n\n", 14);
            st->last_write_ms = now;
        }
    }
}

void mcp_hsess_sweep(struct mcp_hsess *s, int64_t now)
{
    struct pw_mcp_http *h = s->h;
    if (s->doomed ||
        (s->state == MCP_HS_INIT && !s->posts && now - s->created_ms > INIT_TIMEOUT_MS)) {
        mcp_hsess_end(s, "initialize never completed");
        return;
    }
    /* SEP-1699 polling covers a POST still waiting for its answer too: it
     * becomes an SSE stream (the priming event gives the client an id to
     * resume from), which sweep_stream then closes with the retry hint. */
    if (h->opt.sse_poll_ms > 0 && sess_polls(s)) {
        for (struct mcp_hpost *p = s->posts; p; p = p->next)
            if (p->mode == MCP_HP_UNDECIDED && p->req && p->sse_ok &&
                now - p->started_ms >= h->opt.sse_poll_ms)
                mcp_hpost_to_sse(p);
    }
    bool busy = s->posts != NULL;
    size_t retained = 0;
    for (struct mcp_hstream *st = s->streams, *next; st; st = next) {
        next = st->next;
        sweep_stream(st, now);
        if (st->req)
            busy = true;
        if (st != s->own && st->done && !st->req) {
            if (now - st->detached_ms > RESUME_WINDOW_MS || retained >= MAX_RETAINED_STREAMS)
                stream_free(st);
            else
                retained++;
        }
    }
    if (!busy && now - s->last_active_ms > (int64_t)h->opt.idle_timeout_s * 1000)
        mcp_hsess_end(s, "idle");
}

void mcp_hsess_stop(struct mcp_hsess *s)
{
    for (struct mcp_hstream *st = s->streams; st; st = st->next) {
        if (st->req && (st == s->own || st->done)) {
            pw_server_req_end(st->req);
            st->req = NULL;
            st->detached_ms = pw_clock_ms();
        }
    }
}
