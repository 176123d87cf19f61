/*
 * The MCP server object: options, the session list, and the hand-off queue
 * from worker threads to the loop thread.
 *
 * The hand-off queue is the one place threads meet: a worker appends a post
 * under post_lock and calls the waker; the loop thread swaps the whole list
 * out under the lock and processes it without holding it. Wake-ups may
 * coalesce (one wake for many posts), which is why dispatch drains all.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mcp/mcp-int.h"
#include "mcp/modern-int.h"

#include <stdlib.h>
#include <string.h>

#include "pennyworth/clock.h"
#include "pennyworth/log.h"

const char *const pw_mcp_versions[] = {"2024-11-05", "2025-03-26", "2025-06-18",
                                       "2025-11-25", NULL};

bool mcp_on_loop(const struct pw_mcp_server *srv)
{
    return pthread_equal(pthread_self(), srv->loop_thread);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

enum pw_err pw_mcp_server_new(const struct pw_mcp_server_options *opt,
                              struct pw_mcp_server **out, struct pw_error *err)
{
    struct pw_mcp_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "mcp server: out of memory");
    srv->opt = *opt;
    if (srv->opt.workers <= 0)
        srv->opt.workers = 2;
    if (srv->opt.page_size <= 0)
        srv->opt.page_size = 50;
    if (srv->opt.sessions_per_principal <= 0)
        srv->opt.sessions_per_principal = 1000;
    if (srv->opt.states_per_principal <= 0)
        srv->opt.states_per_principal = 4096;
    if (srv->opt.request_timeout_ms <= 0)
        srv->opt.request_timeout_ms = 60000;
    srv->name = dup_or_null(opt->name ? opt->name : "pennyworth");
    srv->title = dup_or_null(opt->title);
    srv->version = dup_or_null(opt->version ? opt->version : "0");
    srv->instructions = dup_or_null(opt->instructions);
    srv->loop_thread = pthread_self();
    srv->next_out_id = 1;
    pthread_mutex_init(&srv->post_lock, NULL);
    srv->workers = mcp_workers_start(srv, srv->opt.workers);
    if (!srv->workers) {
        pw_mcp_server_free(srv);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "mcp server: cannot start workers");
    }
    *out = srv;
    return PW_OK;
}

static void free_post(struct mcp_post *p)
{
    if (p->call)
        mcp_call_unref(p->call);
    json_decref(p->msg);
    free(p->uri);
    free(p);
}

void pw_mcp_server_free(struct pw_mcp_server *srv)
{
    if (!srv)
        return;
    mcp_tasks_cancel_all(srv); /* long task handlers see it and end */
    if (srv->workers)
        mcp_workers_stop(srv->workers);
    /* Workers are gone (they fail what they had not started). Their posts
     * still hold the engine's reference to each call, which only delivery
     * drops; every session is detached by now, so delivery just releases. */
    pw_mcp_server_dispatch(srv);
    mcp_registry_free(srv);
    mcp_modern_srv_free(srv);
    pthread_mutex_destroy(&srv->post_lock);
    free(srv->name);
    free(srv->title);
    free(srv->version);
    free(srv->instructions);
    free(srv);
}

void pw_mcp_server_set_waker(struct pw_mcp_server *srv, void (*wake)(void *ud), void *ud)
{
    srv->wake = wake;
    srv->wake_ud = ud;
}

void mcp_post(struct pw_mcp_server *srv, struct mcp_post *p)
{
    p->next = NULL;
    pthread_mutex_lock(&srv->post_lock);
    if (srv->post_tail)
        srv->post_tail->next = p;
    else
        srv->post_head = p;
    srv->post_tail = p;
    pthread_mutex_unlock(&srv->post_lock);
    if (srv->wake)
        srv->wake(srv->wake_ud);
}

static void updated_now(struct pw_mcp_server *srv, const char *uri)
{
    for (struct pw_mcp_session *s = srv->sessions; s; s = s->next)
        mcp_session_notify_updated(s, uri);
    mcp_listen_updated(srv, uri);
}

void pw_mcp_server_dispatch(struct pw_mcp_server *srv)
{
    pthread_mutex_lock(&srv->post_lock);
    struct mcp_post *p = srv->post_head;
    srv->post_head = srv->post_tail = NULL;
    pthread_mutex_unlock(&srv->post_lock);
    while (p) {
        struct mcp_post *n = p->next;
        switch (p->kind) {
        case MCP_POST_RESULT:
            mcp_call_deliver(p->call, p->msg, p->is_error);
            p->msg = NULL; /* delivered: ownership moved */
            break;
        case MCP_POST_NOTIFY:
            if (p->call->session && !atomic_load(&p->call->cancelled) &&
                (p->log_level < 0 || mcp_modern_log_ok(p->call, p->log_level)))
                mcp_send(p->call->session, json_incref(p->msg), p->call->id);
            break;
        case MCP_POST_UPDATED:
            updated_now(srv, p->uri);
            break;
        }
        free_post(p);
        p = n;
    }
}

void pw_mcp_server_resource_updated(struct pw_mcp_server *srv, const char *uri)
{
    if (mcp_on_loop(srv)) {
        updated_now(srv, uri);
        return;
    }
    struct mcp_post *p = calloc(1, sizeof *p);
    if (!p || !(p->uri = strdup(uri))) {
        free(p);
        pw_errorlog("mcp: out of memory posting an update for %s", uri);
        return;
    }
    p->kind = MCP_POST_UPDATED;
    mcp_post(srv, p);
}

int64_t pw_mcp_server_timeout_ms(struct pw_mcp_server *srv)
{
    if (!srv->out_head)
        return -1;
    int64_t d = srv->out_head->deadline_ms - pw_clock_ms();
    return d < 0 ? 0 : d;
}

void pw_mcp_server_tick(struct pw_mcp_server *srv)
{
    mcp_outgoing_expire(srv, pw_clock_ms());
}
