/*
 * Upstream HTTP I/O for the providers, bridge-private: one libcurl multi
 * handle driven by one thread of its own, carrying every provider call
 * (connection reuse, HTTP/2 where the server offers it over TLS, no thread
 * per request). The service loop never touches curl.
 *
 * Hand-off: the loop thread starts and cancels transfers; the curl thread
 * picks them up after curl_multi_wakeup. What the curl thread sees (status
 * and headers, body bytes, the end) is queued as events and the `wake`
 * function given at creation is called; the loop thread then calls
 * bridge_upstream_dispatch, which runs the callbacks. So every callback runs
 * on the loop thread, in order, and never from inside a bridge_* call.
 *
 * Async contract (libuv's): bridge_xfer_start either fails now and never
 * calls back, or calls on_done exactly once, after any on_head / on_data,
 * unless the transfer is cancelled first (then nothing more is called).
 *
 * A local transfer (a provider that answers without a network, the offline
 * model) keeps the same contract: its response is queued as events at
 * start and delivered by the next dispatch, never from inside
 * bridge_xfer_start; the curl thread never sees it.
 *
 * Deadlines per transfer: connect, first byte (status line received), and
 * total; a deadline ends the transfer with PW_ERR_TIMEOUT and a message
 * naming which one. Retries, backoff and circuit breaking are policy and
 * live above this layer (attempt.c); this layer reports what happened.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_BRIDGE_UPSTREAM_H
#define PENNYWORTH_BRIDGE_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "pennyworth/error.h"

struct bridge_upstream;
struct bridge_xfer;

struct bridge_xfer_req {
    const char *method;              /* "POST", "GET" */
    const char *url;
    const char *const *headers;      /* "Name: value" lines, NULL terminated; copied */
    const void *body;                /* copied */
    size_t body_len;
    int connect_timeout_ms;          /* 0 = 10000 */
    int first_byte_timeout_ms;       /* 0 = 60000 */
    int total_timeout_ms;            /* 0 = 600000; capped at 900000 */
    bool local;                      /* no network: `body` is the whole 200 response,
                                        handed back through the callbacks (below) */
};

struct bridge_xfer_cb {
    /* The status line and headers are in (after redirects: none are
     * followed). Header values are readable with bridge_xfer_header during
     * this call only. */
    void (*on_head)(struct bridge_xfer *x, int status, void *ud);
    /* Body bytes as they arrive (decoded from chunked/gzip). */
    void (*on_data)(struct bridge_xfer *x, const char *data, size_t len, void *ud);
    /* The end: PW_OK after the whole body, else why (PW_ERR_TIMEOUT,
     * PW_ERR_UPSTREAM for connection failures and cut streams, with curl's
     * reason in err->message). `x` is freed when this returns. */
    void (*on_done)(struct bridge_xfer *x, enum pw_err rc, const struct pw_error *err,
                    void *ud);
};

/* Starts the curl thread. `wake` is called from that thread (and may be
 * called from any thread) when events are waiting; it must only make the
 * loop call bridge_upstream_dispatch soon (pw_server_wake does). *out is new. */
enum pw_err bridge_upstream_new(void (*wake)(void *ud), void *wake_ud,
                                struct bridge_upstream **out, struct pw_error *err);

/* Cancels every transfer still running (no callbacks), stops the thread,
 * frees. Loop thread. */
void bridge_upstream_free(struct bridge_upstream *up);

/* Runs the callbacks of every queued event. Loop thread. */
void bridge_upstream_dispatch(struct bridge_upstream *up);

/* Starts a transfer (loop thread). *out is borrowed: valid until on_done
 * returns or bridge_xfer_cancel is called. */
enum pw_err bridge_xfer_start(struct bridge_upstream *up, const struct bridge_xfer_req *req,
                              const struct bridge_xfer_cb *cb, void *ud,
                              struct bridge_xfer **out, struct pw_error *err);

/* Stops a transfer; no callback runs after this returns. Loop thread. */
void bridge_xfer_cancel(struct bridge_xfer *x);

/* Pauses or resumes delivery of body bytes (a slow client): the socket is
 * not read while paused, so the provider feels the back-pressure. */
void bridge_xfer_pause(struct bridge_xfer *x, bool paused);

/* A response header's value (name case-insensitive), or NULL; the pointer is
 * borrowed and valid during on_head only. */
const char *bridge_xfer_header(const struct bridge_xfer *x, const char *name);

/* Transfers in flight (for metrics and tests). */
size_t bridge_upstream_active(const struct bridge_upstream *up);

#endif
