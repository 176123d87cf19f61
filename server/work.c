/*
 * Worker threads for routes whose handler blocks (`on_work` in
 * pennyworth/server.h): a database aggregation or a write that may wait on
 * a lock must not stall the service thread, which answers every other
 * client. A request whose body is in and that admission let through is
 * queued here (state R_WORK); a worker runs the handler with a read-only
 * view of the request, keeps the answer it gives, and wakes the loop,
 * which sends it (server_work_deliver).
 *
 * Invariants:
 *   1. While a request is in R_WORK the worker reads its method, path,
 *      query, body and principal, and nothing on the service thread writes
 *      them; the service thread writes only loop-side fields (wsi, orphan).
 *   2. A request whose connection closes in R_WORK is not freed by the
 *      close (http.c req_detach marks it `orphan`); the delivery, or
 *      server_work_stop after the loop, frees it. So a worker never reads a
 *      freed request.
 *   3. At most MAX_QUEUED requests wait or run at once; past it the caller
 *      answers 503, so blocking work cannot pile up memory without bound.
 *   4. Threads start on the first request (a server without such routes
 *      has none) and are joined by server_work_stop before any request
 *      they may hold is freed.
 *
 * SPDX-License-Identifier: MIT
 */
#include "server/server-int.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/assert.h"
#include "pennyworth/log.h"

#define WORKERS 2
#define MAX_QUEUED 64

struct pw_server_work {
    struct pw_server_work *next;
    struct pw_server_req *r;
    int status;                 /* 0: the handler gave no answer (500) */
    char *ctype;
    char *body;
    size_t len;
};

struct server_workers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th[WORKERS];
    int nthreads;
    struct pw_server_work *todo, *todo_tail; /* FIFO {mu} */
    struct pw_server_work *done;             /* answered, for the loop {mu} */
    size_t queued;                           /* waiting or running {mu} */
    bool quit;                               /* {mu} */
};

static void job_free(struct pw_server_work *w)
{
    free(w->ctype);
    if (w->body)
        OPENSSL_cleanse(w->body, w->len); /* it may hold a new API key */
    free(w->body);
    free(w);
}

static void *worker(void *arg)
{
    struct pw_server *srv = arg;
    struct server_workers *ws = srv->work;
    pthread_mutex_lock(&ws->mu);
    for (;;) {
        while (!ws->todo && !ws->quit)
            pthread_cond_wait(&ws->cv, &ws->mu);
        if (ws->quit)
            break;
        struct pw_server_work *w = ws->todo;
        ws->todo = w->next;
        if (!ws->todo)
            ws->todo_tail = NULL;
        pthread_mutex_unlock(&ws->mu);
        const struct server_route *rt = w->r->route;
        rt->h->on_work(w, rt->ud);
        pthread_mutex_lock(&ws->mu);
        w->next = ws->done;
        ws->done = w;
        pthread_mutex_unlock(&ws->mu);
        pw_server_wake(srv);
        pthread_mutex_lock(&ws->mu);
    }
    pthread_mutex_unlock(&ws->mu);
    return NULL;
}

void server_work_init(struct pw_server *srv)
{
    srv->work = calloc(1, sizeof *srv->work);
    if (!srv->work)
        return; /* every submit then fails: 503 */
    pthread_mutex_init(&srv->work->mu, NULL);
    pthread_cond_init(&srv->work->cv, NULL);
}

bool server_work_submit(struct pw_server_req *r)
{
    PW_ASSERT(server_on_loop(r->srv));
    struct server_workers *ws = r->srv->work;
    struct pw_server_work *w = calloc(1, sizeof *w);
    if (!ws || !w) {
        free(w);
        return false;
    }
    w->r = r;
    pthread_mutex_lock(&ws->mu);
    bool ok = ws->queued < MAX_QUEUED && !ws->quit; /* invariant 3 */
    while (ok && ws->nthreads < WORKERS) {          /* invariant 4 */
        if (pthread_create(&ws->th[ws->nthreads], NULL, worker, r->srv) != 0) {
            ok = ws->nthreads > 0;
            break;
        }
        ws->nthreads++;
    }
    if (ok) {
        ws->queued++;
        r->state = R_WORK;
        if (ws->todo_tail)
            ws->todo_tail->next = w;
        else
            ws->todo = w;
        ws->todo_tail = w;
        pthread_cond_signal(&ws->cv);
    }
    pthread_mutex_unlock(&ws->mu);
    if (!ok)
        free(w);
    return ok;
}

static struct pw_server_work *take_done(struct server_workers *ws)
{
    pthread_mutex_lock(&ws->mu);
    struct pw_server_work *list = ws->done;
    ws->done = NULL;
    for (struct pw_server_work *w = list; w; w = w->next)
        ws->queued--;
    pthread_mutex_unlock(&ws->mu);
    return list;
}

void server_work_deliver(struct pw_server *srv)
{
    PW_ASSERT(server_on_loop(srv));
    if (!srv->work)
        return;
    struct pw_server_work *list = take_done(srv->work);
    while (list) {
        struct pw_server_work *w = list;
        list = w->next;
        struct pw_server_req *r = w->r;
        PW_ASSERT(r->state == R_WORK);
        if (r->orphan) {
            server_req_free(r); /* invariant 2 */
        } else {
            r->state = R_HANDLER;
            if (w->status)
                pw_server_req_respond(r, w->status, w->ctype, NULL, w->body, w->len);
            else
                pw_server_req_error(r, 500, "Internal Server Error: the handler gave no answer");
        }
        job_free(w);
    }
}

void server_work_stop(struct pw_server *srv)
{
    struct server_workers *ws = srv->work;
    if (!ws)
        return;
    pthread_mutex_lock(&ws->mu);
    ws->quit = true;
    pthread_cond_broadcast(&ws->cv);
    pthread_mutex_unlock(&ws->mu);
    for (int i = 0; i < ws->nthreads; i++)
        pthread_join(ws->th[i], NULL);
    ws->nthreads = 0;
    /* Every connection is closed now: what is left was orphaned. */
    struct pw_server_work *lists[2] = {take_done(ws), ws->todo};
    ws->todo = ws->todo_tail = NULL;
    for (int i = 0; i < 2; i++)
        while (lists[i]) {
            struct pw_server_work *w = lists[i];
            lists[i] = w->next;
            server_req_free(w->r);
            job_free(w);
        }
}

void server_work_free(struct pw_server *srv)
{
    if (!srv->work)
        return;
    server_work_stop(srv);
    pthread_mutex_destroy(&srv->work->mu);
    pthread_cond_destroy(&srv->work->cv);
    free(srv->work);
    srv->work = NULL;
}

/* The worker's view (invariant 1) ------------------------------------------------ */

const char *pw_server_work_method(const struct pw_server_work *w) { return w->r->method; }
const char *pw_server_work_path(const struct pw_server_work *w) { return w->r->path; }
const char *pw_server_work_query(const struct pw_server_work *w)
{
    return w->r->query ? w->r->query : "";
}
const char *pw_server_work_principal(const struct pw_server_work *w)
{
    return w->r->ctx.principal;
}

const char *pw_server_work_body(const struct pw_server_work *w, size_t *len)
{
    if (len)
        *len = w->r->body_len;
    return w->r->body;
}

enum pw_err pw_server_work_respond(struct pw_server_work *w, int status, const char *content_type,
                                   const void *body, size_t len)
{
    char *ct = content_type ? strdup(content_type) : NULL;
    char *b = malloc(len + 1);
    if ((content_type && !ct) || !b) {
        free(ct);
        free(b);
        return PW_ERR_NOMEM;
    }
    if (len)
        memcpy(b, body, len);
    b[len] = '\0';
    free(w->ctype);
    free(w->body);
    w->ctype = ct;
    w->body = b;
    w->len = len;
    w->status = status;
    return PW_OK;
}
