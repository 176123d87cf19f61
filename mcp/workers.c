/*
 * The worker pool: a fixed number of threads that run PW_MCP_ON_WORKER
 * handlers, which may block (SQLite, disk). No thread per request or per
 * connection: jobs wait in a FIFO under `lock` and the pool size bounds the
 * concurrency of blocking work.
 *
 * A job holds a reference to its call. A handler finishes the call through
 * pw_mcp_call_finish(), which from a worker posts the result to the loop
 * thread (server.c). A call cancelled before a worker picks it up is
 * skipped without running its handler.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mcp/mcp-int.h"

#include <stdlib.h>

#include "pennyworth/log.h"

struct job {
    struct pw_mcp_call *call;
    struct job *next;
};

struct mcp_workers {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct job *head, *tail; /* {lock} */
    bool stopping;           /* {lock} */
    int n;
    pthread_t threads[];
};

static void *run(void *arg)
{
    struct mcp_workers *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->cond, &w->lock);
        struct job *j = w->head;
        if (!j) {
            pthread_mutex_unlock(&w->lock);
            return NULL;
        }
        w->head = j->next;
        if (!w->head)
            w->tail = NULL;
        pthread_mutex_unlock(&w->lock);

        struct pw_mcp_call *c = j->call;
        free(j);
        if (atomic_load(&c->cancelled) || w->stopping) {
            struct pw_error e = {.code = PW_ERR_CANCELLED};
            pw_mcp_call_fail(c, &e);
        } else {
            c->handler(c, c->handler_params, c->ud);
        }
        mcp_call_unref(c);
    }
}

struct mcp_workers *mcp_workers_start(struct pw_mcp_server *srv, int n)
{
    struct mcp_workers *w = calloc(1, sizeof *w + (size_t)n * sizeof(pthread_t));
    if (!w)
        return NULL;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    for (int i = 0; i < n; i++) {
        if (pthread_create(&w->threads[i], NULL, run, w) != 0) {
            pw_errorlog("mcp: cannot start worker thread %d", i);
            break;
        }
        w->n++;
    }
    if (w->n == 0) {
        mcp_workers_stop(w);
        return NULL;
    }
    return w;
}

void mcp_workers_stop(struct mcp_workers *w)
{
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    for (struct job *j = w->head, *n; j; j = n) {
        n = j->next;
        mcp_call_unref(j->call);
        free(j);
    }
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}

void mcp_workers_submit(struct mcp_workers *w, struct pw_mcp_call *call)
{
    struct job *j = malloc(sizeof *j);
    if (!j) {
        struct pw_error e = {.code = PW_ERR_NOMEM, .message = "out of memory queueing the request"};
        pw_mcp_call_fail(call, &e);
        mcp_call_unref(call);
        return;
    }
    j->call = call;
    j->next = NULL;
    pthread_mutex_lock(&w->lock);
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}
