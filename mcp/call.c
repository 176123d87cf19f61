/*
 * Calls: requests that reached a handler, finished now or later, from the
 * loop thread or a worker.
 *
 * Invariants:
 *   1. A call is answered at most once: `done` is set by the first finish
 *      or fail; later ones are bugs and are logged and dropped.
 *   2. A response is sent only while the call is linked to a live session
 *      and not cancelled; otherwise it is dropped (the spec forbids
 *      answering a cancelled request).
 *   3. Batch accounting happens exactly once per call: at delivery, or at
 *      detachment (cancel or session end), whichever comes first; `batch`
 *      is cleared when it is done.
 *   4. The engine's reference is dropped at delivery. A detached call whose
 *      handler is still running stays alive through the handler's
 *      reference until it finishes.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mcp/mcp-int.h"
#include "mcp/modern-int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/log.h"

struct pw_mcp_call *mcp_call_new(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                                 const char *method, json_t *params)
{
    struct pw_mcp_call *c = calloc(1, sizeof *c);
    if (!c || !(c->method = strdup(method))) {
        free(c);
        return NULL;
    }
    atomic_init(&c->refs, 1);
    atomic_init(&c->cancelled, false);
    atomic_init(&c->done, false);
    c->srv = s->srv;
    c->session = s;
    c->client_caps = json_incref(s->client_caps);
    memcpy(c->principal, s->principal, sizeof c->principal);
    c->batch = b;
    if (b)
        mcp_batch_expect(b);
    c->id = json_incref(id);
    c->params = json_incref(params);
    json_t *meta = params ? json_object_get(params, "_meta") : NULL;
    json_t *tok = meta ? json_object_get(meta, "progressToken") : NULL;
    if (tok && (json_is_string(tok) || json_is_integer(tok)))
        c->progress_token = tok;
    c->next = s->inflight;
    if (s->inflight)
        s->inflight->prev = c;
    s->inflight = c;
    s->ninflight++;
    c->modern = s->modern; /* a modern request's context goes with its call */
    s->modern = NULL;
    return c;
}

void mcp_call_ref(struct pw_mcp_call *c) { atomic_fetch_add(&c->refs, 1); }

void mcp_call_unref(struct pw_mcp_call *c)
{
    if (atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    mcp_observe_tool_end(c, NULL, false);
    json_decref(c->id);
    json_decref(c->client_caps);
    json_decref(c->params);
    json_decref(c->handler_params);
    json_decref(c->hook_data);
    mcp_modern_free(c->modern);
    free(c->method);
    free(c);
}

static void unlink_call(struct pw_mcp_call *c)
{
    struct pw_mcp_session *s = c->session;
    if (!s)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->inflight = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
    s->ninflight--;
    c->session = NULL;
}

void mcp_call_start(struct pw_mcp_call *c, pw_mcp_handler fn, void *ud, unsigned flags,
                    json_t *handler_params_new)
{
    c->handler = fn;
    c->ud = ud;
    c->flags = flags;
    c->handler_params = handler_params_new ? handler_params_new : json_object();
    if (flags & PW_MCP_ON_WORKER) {
        mcp_call_ref(c);
        mcp_workers_submit(c->srv->workers, c);
    } else {
        fn(c, c->handler_params, ud);
    }
}

void mcp_call_deliver(struct pw_mcp_call *c, json_t *msg, bool is_error)
{
    struct pw_mcp_session *s = c->session;
    json_t *resp = NULL;
    mcp_observe_tool_end(c, msg, is_error);
    if (s && !atomic_load(&c->cancelled) && c->modern)
        msg = mcp_modern_decorate(c->srv, c->modern, msg, is_error);
    if (s && !atomic_load(&c->cancelled))
        resp = is_error ? mcp_error_response(c->id, msg) : mcp_response(c->id, msg);
    else
        json_decref(msg);
    if (c->batch) {
        struct mcp_batch *b = c->batch;
        c->batch = NULL;
        unlink_call(c);
        mcp_batch_add(s, b, resp);
    } else {
        unlink_call(c);
        if (resp)
            mcp_send(s, resp, c->id);
    }
    mcp_call_unref(c);
}

void mcp_call_detach(struct pw_mcp_call *c)
{
    atomic_store(&c->cancelled, true);
    struct pw_mcp_session *s = c->session;
    struct mcp_batch *b = c->batch;
    c->batch = NULL;
    unlink_call(c);
    if (b)
        mcp_batch_add(s, b, NULL);
}

struct pw_mcp_call *mcp_session_find_call(struct pw_mcp_session *s, json_t *id)
{
    for (struct pw_mcp_call *c = s->inflight; c; c = c->next)
        if (json_equal(c->id, id))
            return c;
    return NULL;
}

/* Hands a finished result or error to the loop thread (or delivers it if we
 * are on it). Steals msg. */
static void complete(struct pw_mcp_call *c, json_t *msg, bool is_error)
{
    if (atomic_load(&c->task) && mcp_task_finish(c, msg, is_error))
        return; /* the call became a task: its answer is the task's (tasks.c) */
    if (atomic_exchange(&c->done, true)) {
        pw_errorlog("mcp: %s answered twice; the second answer is dropped", c->method);
        json_decref(msg);
        return;
    }
    if (mcp_on_loop(c->srv)) {
        mcp_call_deliver(c, msg, is_error);
        return;
    }
    struct mcp_post *p = calloc(1, sizeof *p);
    if (!p) {
        pw_errorlog("mcp: out of memory handing over the answer to %s", c->method);
        json_decref(msg);
        return;
    }
    p->kind = MCP_POST_RESULT;
    mcp_call_ref(c);
    p->call = c;
    p->msg = msg;
    p->is_error = is_error;
    mcp_post(c->srv, p);
}

void mcp_call_fail_json(struct pw_mcp_call *c, json_t *error_new)
{
    complete(c, error_new, true);
}

void mcp_call_answer_early(struct pw_mcp_call *c, json_t *result_new)
{
    if (mcp_on_loop(c->srv)) {
        mcp_call_deliver(c, result_new, false);
        return;
    }
    struct mcp_post *p = calloc(1, sizeof *p);
    if (!p) {
        pw_errorlog("mcp: out of memory handing over the task of %s", c->method);
        json_decref(result_new);
        return;
    }
    p->kind = MCP_POST_RESULT;
    mcp_call_ref(c);
    p->call = c;
    p->msg = result_new;
    mcp_post(c->srv, p);
}

const char *pw_mcp_call_method(const struct pw_mcp_call *call) { return call->method; }
json_t *pw_mcp_call_request_params(const struct pw_mcp_call *call) { return call->params; }

void pw_mcp_call_finish(struct pw_mcp_call *call, json_t *result_new)
{
    if (!result_new)
        result_new = json_object();
    if (call->finish_hook && !atomic_load(&call->cancelled))
        result_new = call->finish_hook(call, result_new);
    complete(call, result_new, false);
}

void pw_mcp_call_fail(struct pw_mcp_call *call, const struct pw_error *err)
{
    if (err && err->code == PW_ERR_CANCELLED)
        atomic_store(&call->cancelled, true);
    /* MCP has its own code for a resource that is not there. */
    if (err && err->code == PW_ERR_NOT_FOUND && strcmp(call->method, "resources/read") == 0) {
        json_t *uri = json_object_get(call->params, "uri");
        complete(call, mcp_error_object(MCP_RESOURCE_NOT_FOUND, err->message,
                                        json_pack("{s:O}", "uri", uri ? uri : json_null())),
                 true);
        return;
    }
    complete(call, mcp_error_from(err), true);
}

bool pw_mcp_call_cancelled(const struct pw_mcp_call *call)
{
    return atomic_load(&call->cancelled);
}

json_t *pw_mcp_call_client_capabilities(const struct pw_mcp_call *call)
{
    return call->modern ? call->modern->caps : call->client_caps;
}

/* Sends a notification tied to the call, from any thread. `level` is the log
 * level index of a notifications/message, or -1. Steals note. */
static void notify(struct pw_mcp_call *c, json_t *note, int level)
{
    if (!note)
        return;
    if (mcp_on_loop(c->srv)) {
        struct pw_mcp_session *s = c->session;
        if (s && !atomic_load(&c->cancelled) && (level < 0 || mcp_modern_log_ok(c, level)))
            mcp_send(s, note, c->id);
        else
            json_decref(note);
        return;
    }
    struct mcp_post *p = calloc(1, sizeof *p);
    if (!p) {
        json_decref(note);
        return;
    }
    p->kind = MCP_POST_NOTIFY;
    mcp_call_ref(c);
    p->call = c;
    p->msg = note;
    p->log_level = level;
    mcp_post(c->srv, p);
}

void pw_mcp_call_progress(struct pw_mcp_call *call, double progress, double total,
                          const char *message)
{
    if (!call->progress_token || atomic_load(&call->cancelled))
        return;
    json_t *params = json_pack("{s:O, s:f}", "progressToken", call->progress_token,
                               "progress", progress);
    if (total > 0)
        json_object_set_new(params, "total", json_real(total));
    if (message)
        json_object_set_new(params, "message", json_string(message));
    notify(call, mcp_notification("notifications/progress", params), -1);
}

void pw_mcp_call_log(struct pw_mcp_call *call, const char *level, const char *logger,
                     json_t *data_new)
{
    int idx = mcp_log_level_index(level);
    if (idx < 0) {
        json_decref(data_new);
        return;
    }
    json_t *params = json_pack("{s:s, s:o}", "level", level, "data",
                               data_new ? data_new : json_null());
    if (logger)
        json_object_set_new(params, "logger", json_string(logger));
    notify(call, mcp_notification("notifications/message", params), idx);
}

json_t *pw_mcp_tool_result(json_t *structured_new, const char *text)
{
    json_t *r = json_pack("{s:[{s:s, s:s}]}", "content", "type", "text", "text",
                          text ? text : "");
    if (structured_new)
        json_object_set_new(r, "structuredContent", structured_new);
    return r;
}

json_t *pw_mcp_tool_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", msg,
                     "isError", 1);
}
