/*
 * Server-to-client requests (sampling/createMessage, elicitation/create,
 * roots/list): correlation of the client's response, and timeouts.
 *
 * Every pending request sits in one server-wide list ordered by deadline;
 * since all requests get the same timeout, appending keeps the order and
 * the head is always the next to expire. Each entry is answered exactly
 * once: by the client's response, by its deadline (the client is then told
 * with notifications/cancelled), or by its session ending.
 *
 * Only the loop thread touches this list.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mcp/mcp-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/clock.h"
#include "pennyworth/log.h"

/* The client capability each server-to-client method needs. */
static const struct {
    const char *method;
    const char *capability;
} needs[] = {
    {"sampling/createMessage", "sampling"},
    {"elicitation/create", "elicitation"},
    {"roots/list", "roots"},
};

static void unlink_out(struct pw_mcp_server *srv, struct mcp_outgoing *o)
{
    if (o->prev)
        o->prev->next = o->next;
    else
        srv->out_head = o->next;
    if (o->next)
        o->next->prev = o->prev;
    else
        srv->out_tail = o->prev;
}

/* Calls the reply function once and frees the entry (already unlinked). */
static void answer(struct mcp_outgoing *o, json_t *result, const struct pw_error *err)
{
    o->reply(o->call, result, err, o->ud);
    if (o->call)
        mcp_call_unref(o->call);
    free(o);
}

enum pw_err pw_mcp_call_request(struct pw_mcp_call *call, const char *method,
                                json_t *params_new, pw_mcp_reply_fn reply, void *ud,
                                struct pw_error *err)
{
    struct pw_mcp_session *s = call->session;
    if (call->modern) { /* 2026-07-28 asks with input_required (mrtr.c) */
        json_decref(params_new);
        return pw_error_set(err, PW_ERR_UNSUPPORTED, NULL,
                            "%s: a 2026-07-28 request cannot make server-to-client requests",
                            method);
    }
    if (!s || atomic_load(&call->cancelled)) {
        json_decref(params_new);
        return pw_error_set(err, PW_ERR_STATE, NULL, "%s: the request was cancelled", method);
    }
    for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++) {
        if (strcmp(needs[i].method, method) == 0 &&
            !json_object_get(s->client_caps, needs[i].capability)) {
            json_decref(params_new);
            return pw_error_set(err, PW_ERR_UNSUPPORTED, NULL,
                                "%s: the client did not declare the %s capability", method,
                                needs[i].capability);
        }
    }
    struct mcp_outgoing *o = calloc(1, sizeof *o);
    if (!o) {
        json_decref(params_new);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "%s: out of memory", method);
    }
    struct pw_mcp_server *srv = s->srv;
    o->id = srv->next_out_id++;
    o->session = s;
    o->call = call;
    mcp_call_ref(call);
    o->reply = reply;
    o->ud = ud;
    o->deadline_ms = pw_clock_ms() + srv->opt.request_timeout_ms;
    o->prev = srv->out_tail;
    if (srv->out_tail)
        srv->out_tail->next = o;
    else
        srv->out_head = o;
    srv->out_tail = o;
    json_t *msg = json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", o->id, "method", method);
    json_object_set_new(msg, "params", params_new ? params_new : json_object());
    mcp_send(s, msg, call->id);
    return PW_OK;
}

void mcp_outgoing_response(struct pw_mcp_session *s, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    struct pw_mcp_server *srv = s->srv;
    if (!json_is_integer(id)) {
        pw_debug("mcp: dropped a response with an id we never used");
        return;
    }
    struct mcp_outgoing *o = srv->out_head;
    while (o && !(o->session == s && o->id == json_integer_value(id)))
        o = o->next;
    if (!o) {
        pw_debug("mcp: dropped a response to unknown request %" JSON_INTEGER_FORMAT,
                 json_integer_value(id));
        return;
    }
    unlink_out(srv, o);
    json_t *error = json_object_get(msg, "error");
    if (error) {
        struct pw_error e = {.code = PW_ERR_UPSTREAM};
        json_t *m = json_object_get(error, "message");
        snprintf(e.message, sizeof e.message, "client error %" JSON_INTEGER_FORMAT ": %s",
                 json_integer_value(json_object_get(error, "code")),
                 json_is_string(m) ? json_string_value(m) : "(no message)");
        answer(o, NULL, &e);
        return;
    }
    json_t *result = json_object_get(msg, "result");
    answer(o, result ? result : json_null(), NULL);
}

void mcp_outgoing_fail_session(struct pw_mcp_session *s)
{
    struct pw_mcp_server *srv = s->srv;
    for (struct mcp_outgoing *o = srv->out_head, *n; o; o = n) {
        n = o->next;
        if (o->session != s)
            continue;
        unlink_out(srv, o);
        struct pw_error e = {.code = PW_ERR_CANCELLED, .message = "the session ended"};
        answer(o, NULL, &e);
    }
}

void mcp_outgoing_expire(struct pw_mcp_server *srv, int64_t now)
{
    while (srv->out_head && srv->out_head->deadline_ms <= now) {
        struct mcp_outgoing *o = srv->out_head;
        unlink_out(srv, o);
        json_t *cancel = json_pack("{s:I, s:s}", "requestId", o->id, "reason",
                                   "timed out waiting for the response");
        mcp_send(o->session, mcp_notification("notifications/cancelled", cancel),
                 o->call ? o->call->id : NULL);
        struct pw_error e = {.code = PW_ERR_TIMEOUT};
        snprintf(e.message, sizeof e.message, "the client did not answer within %d ms",
                 srv->opt.request_timeout_ms);
        answer(o, NULL, &e);
    }
}
