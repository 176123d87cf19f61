/*
 * Upstream HTTP I/O (upstream.h): one libcurl multi handle on one thread of
 * its own. The loop thread never calls curl on a handle that is in the
 * multi; the curl thread never runs a caller's callback.
 *
 * Two queues cross the threads, both under `mu`:
 *   commands  loop -> curl thread: START, CANCEL, PAUSE (the paused flag is
 *             read when the command runs); pushed, then curl_multi_wakeup.
 *   events    curl thread -> loop: HEAD (status and a copy of the headers),
 *             DATA (a copy of the bytes), DONE (the result); pushed, then
 *             the `wake` function; bridge_upstream_dispatch drains them.
 *
 * Lifetime of a transfer: a reference count under `mu`. The loop side holds
 * one from start until on_done has run or the caller cancelled; the curl
 * side holds one while the easy handle is in the multi; every queued
 * command and event holds one. The last release frees it, on whichever
 * thread that is (the easy handle is out of the multi by then, so cleaning
 * it up there is safe). Once `cancelled` is set (loop thread, under `mu`),
 * dispatch skips the transfer's events, so no callback runs after
 * bridge_xfer_cancel returns.
 *
 * A local transfer has no easy handle: bridge_xfer_start queues its HEAD
 * (200), DATA (the given body) and DONE events at once, from the loop
 * thread, under the same references, so dispatch, cancel and free treat
 * it like any other; no command about it ever goes to the curl thread.
 *
 * Deadlines: connect and total are curl's own (CONNECTTIMEOUT_MS,
 * TIMEOUT_MS); the first-byte deadline is checked by this thread, which
 * therefore never sleeps past the earliest one. A timeout is named by how
 * far the transfer got: no connection yet -> connect, no status line yet ->
 * first byte, else total.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/upstream.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pennyworth/buf.h"
#include "pennyworth/clock.h"

#define DEF_CONNECT_MS 10000
#define DEF_FIRST_BYTE_MS 60000
#define DEF_TOTAL_MS 600000
#define MAX_TOTAL_MS 900000
#define MAX_HEADER_BYTES 65536
#define IDLE_POLL_MS 1000

enum cmd_kind { C_START, C_CANCEL, C_PAUSE };
enum ev_kind { E_HEAD, E_DATA, E_DONE };

struct cmd {
    struct cmd *next;
    enum cmd_kind kind;
    struct bridge_xfer *x;
};

struct event {
    struct event *next;
    enum ev_kind kind;
    struct bridge_xfer *x;
    int status;            /* HEAD */
    char *data;            /* HEAD: header block ("name: value\0" ...); DATA: bytes */
    size_t len;
    enum pw_err rc;        /* DONE */
    struct pw_error err;   /* DONE */
};

struct bridge_upstream {
    CURLM *multi;
    pthread_t thread;
    bool started;
    void (*wake)(void *ud);
    void *wake_ud;
    pthread_mutex_t mu;
    /* Under mu: */
    struct cmd *cmd_head, *cmd_tail;
    struct event *ev_head, *ev_tail;
    bool stop;
    size_t active;
    /* Loop thread only: transfers whose loop reference is held. */
    struct bridge_xfer *live;
};

struct bridge_xfer {
    struct bridge_upstream *up;
    CURL *easy;
    struct curl_slist *hdrs;
    char *body;
    size_t body_len;
    struct bridge_xfer_cb cb;
    void *ud;
    int first_byte_ms;
    /* Under up->mu: */
    int refs;
    bool cancelled;
    bool paused;
    /* Loop thread only: */
    struct bridge_xfer *live_prev, *live_next;
    bool loop_ref;
    const char *cur_headers; /* during on_head */
    size_t cur_headers_len;
    /* Curl thread only: */
    bool in_multi;
    bool head_sent;
    bool curl_paused;
    long long first_byte_at;  /* monotonic ms */
    struct pw_buf head;       /* header lines being collected, each NUL-terminated;
                               * max MAX_HEADER_BYTES */
    char errbuf[CURL_ERROR_SIZE];
};

static void xfer_destroy(struct bridge_xfer *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    free(x->body);
    pw_buf_free(&x->head);
    free(x);
}

/* Drops one reference; mu must be held. Returns the transfer to destroy
 * (after unlocking) or NULL. */
static struct bridge_xfer *unref_locked(struct bridge_xfer *x)
{
    if (--x->refs == 0) {
        x->up->active--;
        return x;
    }
    return NULL;
}

static void unref(struct bridge_xfer *x)
{
    struct bridge_upstream *up = x->up;
    pthread_mutex_lock(&up->mu);
    struct bridge_xfer *dead = unref_locked(x);
    pthread_mutex_unlock(&up->mu);
    if (dead)
        xfer_destroy(dead);
}

/* Queues a command (taking a new reference) and wakes the curl thread. */
static bool push_cmd(struct bridge_upstream *up, enum cmd_kind kind, struct bridge_xfer *x)
{
    struct cmd *c = calloc(1, sizeof *c);
    if (!c)
        return false;
    c->kind = kind;
    c->x = x;
    pthread_mutex_lock(&up->mu);
    x->refs++;
    if (up->cmd_tail)
        up->cmd_tail->next = c;
    else
        up->cmd_head = c;
    up->cmd_tail = c;
    pthread_mutex_unlock(&up->mu);
    curl_multi_wakeup(up->multi);
    return true;
}

/* Curl thread: queues an event (taking a reference) and wakes the loop.
 * On allocation failure the event is lost; a lost DONE would leave the
 * caller waiting, so DONE events are allocated before the transfer is
 * taken out of the multi (see finish). */
static void push_event(struct bridge_upstream *up, struct event *e)
{
    pthread_mutex_lock(&up->mu);
    e->x->refs++;
    if (up->ev_tail)
        up->ev_tail->next = e;
    else
        up->ev_head = e;
    up->ev_tail = e;
    pthread_mutex_unlock(&up->mu);
    up->wake(up->wake_ud);
}

/* Curl thread callbacks ------------------------------------------------------------------------ */

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    struct bridge_xfer *x = ud;
    size_t len = size * n;
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        pw_buf_clear(&x->head); /* a new response (after 1xx): forget the last one */
        return len;
    }
    size_t end = len;
    while (end > 0 && (buf[end - 1] == '\r' || buf[end - 1] == '\n'))
        end--;
    if (end == 0) {
        long status = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status < 200 || x->head_sent)
            return len;
        struct event *e = calloc(1, sizeof *e);
        if (!e)
            return 0;
        e->kind = E_HEAD;
        e->x = x;
        e->status = (int)status;
        e->len = x->head.len;
        e->data = pw_buf_take(&x->head);
        x->head_sent = true;
        push_event(x->up, e);
        return len;
    }
    if (pw_buf_reserve(&x->head, end + 1) != PW_OK)
        return 0; /* a runaway header block (or no memory): fail the transfer */
    pw_buf_append(&x->head, buf, end);
    pw_buf_append(&x->head, "", 1);
    return len;
}

static size_t on_write(char *buf, size_t size, size_t n, void *ud)
{
    struct bridge_xfer *x = ud;
    size_t len = size * n;
    pthread_mutex_lock(&x->up->mu);
    bool paused = x->paused;
    pthread_mutex_unlock(&x->up->mu);
    if (paused) {
        x->curl_paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (len == 0)
        return 0;
    struct event *e = calloc(1, sizeof *e);
    char *copy = malloc(len);
    if (!e || !copy) {
        free(e);
        free(copy);
        return 0;
    }
    memcpy(copy, buf, len);
    e->kind = E_DATA;
    e->x = x;
    e->data = copy;
    e->len = len;
    push_event(x->up, e);
    return len;
}

/* Curl thread: the transfer is over (done, failed, timed out, or
 * cancelled: `e` NULL means no DONE event is wanted). */
static void finish(struct bridge_upstream *up, struct bridge_xfer *x, struct event *e)
{
    curl_multi_remove_handle(up->multi, x->easy);
    x->in_multi = false;
    if (e)
        push_event(up, e);
    unref(x); /* the curl side's reference */
}

static void fill_done(struct bridge_xfer *x, CURLcode cc, struct event *e)
{
    e->kind = E_DONE;
    e->x = x;
    if (cc == CURLE_OK) {
        e->rc = PW_OK;
        return;
    }
    const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        curl_off_t connected = 0;
        curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &connected);
        const char *which = !x->head_sent && connected == 0 ? "connect"
                            : !x->head_sent                 ? "first byte"
                                                            : "total";
        e->rc = pw_error_set(&e->err, PW_ERR_TIMEOUT, NULL, "upstream %s deadline passed (%s)",
                             which, why);
        return;
    }
    e->rc = pw_error_set(&e->err, PW_ERR_UPSTREAM, NULL, "upstream transfer failed: %s", why);
}

static void run_cmd(struct bridge_upstream *up, struct cmd *c)
{
    struct bridge_xfer *x = c->x;
    pthread_mutex_lock(&up->mu);
    bool cancelled = x->cancelled, paused = x->paused;
    pthread_mutex_unlock(&up->mu);
    switch (c->kind) {
    case C_START:
        if (cancelled) {
            unref(x); /* the curl side's reference: never added */
            break;
        }
        x->first_byte_at = pw_clock_ms() + x->first_byte_ms;
        if (curl_multi_add_handle(up->multi, x->easy) != CURLM_OK) {
            struct event *e = calloc(1, sizeof *e);
            if (e) {
                e->kind = E_DONE;
                e->x = x;
                e->rc = pw_error_set(&e->err, PW_ERR_UPSTREAM, NULL,
                                     "upstream transfer could not start");
                push_event(up, e);
            }
            unref(x);
            break;
        }
        x->in_multi = true;
        break;
    case C_CANCEL:
        if (x->in_multi)
            finish(up, x, NULL);
        break;
    case C_PAUSE:
        if (x->in_multi && !paused && x->curl_paused) {
            x->curl_paused = false;
            curl_easy_pause(x->easy, CURLPAUSE_CONT);
        }
        break;
    }
}

/* Curl thread: the transfers in the multi, for the first-byte deadline
 * and for taking them all out when stopping. */
struct watch {
    struct bridge_xfer **v;
    size_t n, cap;
};

static bool watch_add(struct watch *w, struct bridge_xfer *x)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        struct bridge_xfer **nv = realloc(w->v, cap * sizeof *nv);
        if (!nv)
            return false;
        w->v = nv;
        w->cap = cap;
    }
    w->v[w->n++] = x;
    return true;
}

static void watch_drop(struct watch *w, struct bridge_xfer *x)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->v[i] == x) {
            w->v[i] = w->v[--w->n];
            return;
        }
}

/* Fails transfers whose first byte is late; returns how long the thread
 * may sleep before the next such deadline. */
static int check_first_byte(struct bridge_upstream *up, struct watch *w)
{
    long long now = pw_clock_ms();
    long long next = now + IDLE_POLL_MS;
    for (size_t i = 0; i < w->n;) {
        struct bridge_xfer *x = w->v[i];
        if (x->head_sent) {
            i++;
            continue;
        }
        if (x->first_byte_at <= now) {
            struct event *e = calloc(1, sizeof *e);
            w->v[i] = w->v[--w->n];
            if (e) {
                e->kind = E_DONE;
                e->x = x;
                e->rc = pw_error_set(&e->err, PW_ERR_TIMEOUT, NULL,
                                     "upstream first byte deadline passed (%d ms)",
                                     x->first_byte_ms);
            }
            finish(up, x, e);
            continue;
        }
        if (x->first_byte_at < next)
            next = x->first_byte_at;
        i++;
    }
    long long ms = next - now;
    return ms < 1 ? 1 : (int)ms;
}

static void *curl_main(void *arg)
{
    struct bridge_upstream *up = arg;
    struct watch w = {0};
    for (;;) {
        pthread_mutex_lock(&up->mu);
        struct cmd *cmds = up->cmd_head;
        up->cmd_head = up->cmd_tail = NULL;
        bool stop = up->stop;
        pthread_mutex_unlock(&up->mu);
        while (cmds) {
            struct cmd *c = cmds;
            cmds = c->next;
            struct bridge_xfer *x = c->x;
            if (c->kind == C_START && stop) {
                pthread_mutex_lock(&up->mu);
                x->cancelled = true;
                pthread_mutex_unlock(&up->mu);
            }
            bool was_in = x->in_multi;
            run_cmd(up, c);
            if (c->kind == C_START && x->in_multi && !watch_add(&w, x))
                finish(up, x, NULL); /* cannot watch it: drop it */
            else if (c->kind == C_CANCEL && was_in)
                watch_drop(&w, x);
            unref(x); /* the command's reference */
            free(c);
        }
        if (stop)
            break;
        int running = 0;
        curl_multi_perform(up->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(up->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            char *priv = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
            struct bridge_xfer *x = (struct bridge_xfer *)priv;
            CURLcode cc = m->data.result;
            struct event *e = calloc(1, sizeof *e);
            if (e)
                fill_done(x, cc, e);
            watch_drop(&w, x);
            finish(up, x, e);
        }
        int wait = check_first_byte(up, &w);
        curl_multi_poll(up->multi, NULL, 0, wait, NULL);
    }
    /* Stopping: take every transfer out of the multi. */
    for (size_t i = 0; i < w.n; i++)
        finish(up, w.v[i], NULL);
    free(w.v);
    return NULL;
}

/* Loop thread API ------------------------------------------------------------------------------ */

enum pw_err bridge_upstream_new(void (*wake)(void *ud), void *wake_ud,
                                struct bridge_upstream **out, struct pw_error *err)
{
    *out = NULL;
    struct bridge_upstream *up = calloc(1, sizeof *up);
    if (!up)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "upstream: out of memory");
    up->wake = wake;
    up->wake_ud = wake_ud;
    pthread_mutex_init(&up->mu, NULL);
    up->multi = curl_multi_init();
    if (!up->multi) {
        bridge_upstream_free(up);
        return pw_error_set(err, PW_ERR_INTERNAL, NULL, "upstream: curl_multi_init failed");
    }
    curl_multi_setopt(up->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(up->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    if (pthread_create(&up->thread, NULL, curl_main, up) != 0) {
        bridge_upstream_free(up);
        return pw_error_set(err, PW_ERR_INTERNAL, NULL, "upstream: cannot start the thread");
    }
    up->started = true;
    *out = up;
    return PW_OK;
}

static void live_remove(struct bridge_upstream *up, struct bridge_xfer *x)
{
    if (!x->loop_ref)
        return;
    x->loop_ref = false;
    if (x->live_prev)
        x->live_prev->live_next = x->live_next;
    else
        up->live = x->live_next;
    if (x->live_next)
        x->live_next->live_prev = x->live_prev;
    x->live_prev = x->live_next = NULL;
}

static void free_event(struct event *e)
{
    struct bridge_xfer *x = e->x;
    free(e->data);
    free(e);
    unref(x);
}

void bridge_upstream_free(struct bridge_upstream *up)
{
    if (!up)
        return;
    if (up->started) {
        pthread_mutex_lock(&up->mu);
        up->stop = true;
        for (struct bridge_xfer *x = up->live; x; x = x->live_next)
            x->cancelled = true;
        pthread_mutex_unlock(&up->mu);
        curl_multi_wakeup(up->multi);
        pthread_join(up->thread, NULL);
    }
    while (up->live) {
        struct bridge_xfer *x = up->live;
        live_remove(up, x);
        unref(x);
    }
    while (up->ev_head) {
        struct event *e = up->ev_head;
        up->ev_head = e->next;
        free_event(e);
    }
    while (up->cmd_head) {
        struct cmd *c = up->cmd_head;
        up->cmd_head = c->next;
        unref(c->x);
        free(c);
    }
    if (up->multi)
        curl_multi_cleanup(up->multi);
    pthread_mutex_destroy(&up->mu);
    free(up);
}

void bridge_upstream_dispatch(struct bridge_upstream *up)
{
    pthread_mutex_lock(&up->mu);
    struct event *evs = up->ev_head;
    up->ev_head = up->ev_tail = NULL;
    pthread_mutex_unlock(&up->mu);
    while (evs) {
        struct event *e = evs;
        evs = e->next;
        struct bridge_xfer *x = e->x;
        pthread_mutex_lock(&up->mu);
        bool cancelled = x->cancelled;
        pthread_mutex_unlock(&up->mu);
        if (!cancelled && x->loop_ref) {
            switch (e->kind) {
            case E_HEAD:
                x->cur_headers = e->data;
                x->cur_headers_len = e->len;
                if (x->cb.on_head)
                    x->cb.on_head(x, e->status, x->ud);
                x->cur_headers = NULL;
                x->cur_headers_len = 0;
                break;
            case E_DATA:
                if (x->cb.on_data)
                    x->cb.on_data(x, e->data, e->len, x->ud);
                break;
            case E_DONE:
                live_remove(up, x);
                x->cb.on_done(x, e->rc, e->rc ? &e->err : NULL, x->ud);
                unref(x); /* the loop side's reference */
                break;
            }
        }
        free_event(e);
    }
}

/* Registers a started transfer on the loop side's live list. */
static void live_add(struct bridge_upstream *up, struct bridge_xfer *x)
{
    x->loop_ref = true;
    x->live_next = up->live;
    if (up->live)
        up->live->live_prev = x;
    up->live = x;
}

/* A local transfer (no easy handle): its whole response queued as events
 * now, all allocated before any is queued, so a failure leaves nothing to
 * call back. */
static enum pw_err start_local(struct bridge_upstream *up, struct bridge_xfer *x,
                               const struct bridge_xfer_req *req, struct pw_error *err)
{
    struct event *ev[3];
    for (size_t i = 0; i < 3; i++)
        ev[i] = calloc(1, sizeof *ev[i]);
    char *copy = malloc(req->body_len ? req->body_len : 1);
    if (!ev[0] || !ev[1] || !ev[2] || !copy) {
        for (size_t i = 0; i < 3; i++)
            free(ev[i]);
        free(copy);
        xfer_destroy(x);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "upstream: out of memory");
    }
    memcpy(copy, req->body, req->body_len);
    *ev[0] = (struct event){.kind = E_HEAD, .x = x, .status = 200};
    *ev[1] = (struct event){.kind = E_DATA, .x = x, .data = copy, .len = req->body_len};
    *ev[2] = (struct event){.kind = E_DONE, .x = x, .rc = PW_OK};
    x->refs = 1; /* the loop side; each event takes its own */
    pthread_mutex_lock(&up->mu);
    up->active++;
    pthread_mutex_unlock(&up->mu);
    live_add(up, x);
    for (size_t i = 0; i < 3; i++)
        push_event(up, ev[i]);
    return PW_OK;
}

enum pw_err bridge_xfer_start(struct bridge_upstream *up, const struct bridge_xfer_req *req,
                              const struct bridge_xfer_cb *cb, void *ud,
                              struct bridge_xfer **out, struct pw_error *err)
{
    *out = NULL;
    struct bridge_xfer *x = calloc(1, sizeof *x);
    if (!x)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "upstream: out of memory");
    x->up = up;
    pw_buf_init(&x->head, MAX_HEADER_BYTES);
    x->cb = *cb;
    x->ud = ud;
    if (req->local) {
        enum pw_err rc = start_local(up, x, req, err);
        if (rc == PW_OK)
            *out = x;
        return rc;
    }
    x->easy = curl_easy_init();
    if (!x->easy)
        goto nomem;
    if (req->body_len) {
        x->body = malloc(req->body_len);
        if (!x->body)
            goto nomem;
        memcpy(x->body, req->body, req->body_len);
        x->body_len = req->body_len;
    }
    for (size_t i = 0; req->headers && req->headers[i]; i++) {
        struct curl_slist *l = curl_slist_append(x->hdrs, req->headers[i]);
        if (!l)
            goto nomem;
        x->hdrs = l;
    }
    /* No "Expect: 100-continue" round trip before the body. */
    struct curl_slist *l = curl_slist_append(x->hdrs, "Expect:");
    if (!l)
        goto nomem;
    x->hdrs = l;

    int connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms : DEF_CONNECT_MS;
    int total_ms = req->total_timeout_ms > 0 ? req->total_timeout_ms : DEF_TOTAL_MS;
    if (total_ms > MAX_TOTAL_MS)
        total_ms = MAX_TOTAL_MS;
    x->first_byte_ms = req->first_byte_timeout_ms > 0 ? req->first_byte_timeout_ms
                                                       : DEF_FIRST_BYTE_MS;
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body ? x->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)total_ms);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);

    x->refs = 2; /* the loop side, the curl side */
    pthread_mutex_lock(&up->mu);
    up->active++;
    pthread_mutex_unlock(&up->mu);
    live_add(up, x);
    if (!push_cmd(up, C_START, x)) {
        live_remove(up, x);
        pthread_mutex_lock(&up->mu);
        up->active--;
        pthread_mutex_unlock(&up->mu);
        xfer_destroy(x);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "upstream: out of memory");
    }
    *out = x;
    return PW_OK;
nomem:
    xfer_destroy(x);
    return pw_error_set(err, PW_ERR_NOMEM, NULL, "upstream: out of memory");
}

void bridge_xfer_cancel(struct bridge_xfer *x)
{
    struct bridge_upstream *up = x->up;
    if (!x->loop_ref)
        return;
    pthread_mutex_lock(&up->mu);
    x->cancelled = true;
    pthread_mutex_unlock(&up->mu);
    live_remove(up, x);
    /* The command holds its own reference, so dropping ours next is safe
     * even if the curl thread finishes the transfer meanwhile. Without
     * memory for the command the transfer runs to its end unobserved. A
     * local transfer has nothing on the curl thread to stop. */
    if (x->easy)
        push_cmd(up, C_CANCEL, x);
    unref(x);
}

void bridge_xfer_pause(struct bridge_xfer *x, bool paused)
{
    struct bridge_upstream *up = x->up;
    pthread_mutex_lock(&up->mu);
    bool was = x->paused;
    x->paused = paused;
    pthread_mutex_unlock(&up->mu);
    if (was && !paused && x->easy)
        push_cmd(up, C_PAUSE, x);
}

const char *bridge_xfer_header(const struct bridge_xfer *x, const char *name)
{
    size_t nlen = strlen(name);
    const char *p = x->cur_headers, *end = p ? p + x->cur_headers_len : NULL;
    while (p && p < end) {
        size_t len = strlen(p);
        if (len > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            return v;
        }
        p += len + 1;
    }
    return NULL;
}

size_t bridge_upstream_active(const struct bridge_upstream *up)
{
    struct bridge_upstream *m = (struct bridge_upstream *)up;
    pthread_mutex_lock(&m->mu);
    size_t n = m->active;
    pthread_mutex_unlock(&m->mu);
    return n;
}
