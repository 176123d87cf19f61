/*
 * The tasks extension (io.modelcontextprotocol/tasks, SEP-2663) for modern
 * tools/call: a long call answers at once with a task handle and the
 * client polls tasks/get for its status and, once terminal, its result;
 * tasks/update carries the answers a task waits for; tasks/cancel asks it
 * to stop.
 *
 * The handler decides: pw_mcp_call_to_task turns its call into a task when
 * the client declared the extension (else the call simply goes on
 * synchronously), so a tool may first gather input with input_required
 * rounds and only then go long (SEP-2663's MRTR composition). A tool
 * registered PW_MCP_TASK_REQUIRED is refused with -32021 for clients that
 * did not declare the extension (modern.c, before the handler runs).
 *
 * The call lives on inside its task: the task holds a reference, and what
 * the handler does with the call afterwards lands in the task instead of
 * on the wire (call.c's complete() and mrtr.c hand over):
 *
 *   (call) --pw_mcp_call_to_task--> WORKING: CreateTaskResult answered
 *   WORKING --finish (mcp_task_finish)--> COMPLETED (tool errors too:
 *             result.isError) | FAILED (a JSON-RPC error)
 *   WORKING --input_required (mcp_task_input)--> INPUT_REQUIRED: the
 *             requests wait for tasks/update
 *   INPUT_REQUIRED --tasks/update answering every pending key
 *             (tasks_update: the handler runs again with every answer so
 *             far and its state)--> WORKING
 *   WORKING | INPUT_REQUIRED --tasks/cancel--> CANCELLED (the call is
 *             marked cancelled; what it still produces is dropped)
 *   terminal --TTL_MS after its last update (sweep)--> (freed)
 *
 * Task ids are 128 random bits, so they are unguessable handles; a task is
 * also bound to the principal (API key) that started it, and another's
 * task is reported unknown. The table is bounded (MAX_TASKS, and
 * MAX_TASKS_PER_PRINCIPAL for one key); when either is full a call goes on
 * synchronously.
 *
 * Threads: the table and every task are under `task_lock` (ms); handlers
 * reach it from any thread through the call. The tasks/get, tasks/update
 * and tasks/cancel requests, reruns and the sweep run on the loop thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mcp/modern-int.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pennyworth/assert.h"
#include "pennyworth/clock.h"
#include "pennyworth/log.h"

#define TTL_MS 3600000       /* a task stays readable this long after its last change */
#define POLL_MS 500          /* the polling interval suggested to clients */
#define MAX_TASKS 1024
/* Open tasks one principal (API key) may hold, so one key cannot fill the
 * table for everyone. */
#define MAX_TASKS_PER_PRINCIPAL 128

enum task_status { T_WORKING, T_INPUT, T_COMPLETED, T_FAILED, T_CANCELLED };

static const char *const status_names[] = {"working", "input_required", "completed", "failed",
                                           "cancelled"};

struct mcp_task {
    char id[33];
    enum task_status status;
    struct pw_mcp_call *call;   /* holds a reference */
    unsigned char principal[32]; /* whose it is: only they may read or change it */
    json_t *requests;           /* pending input requests by key (INPUT) */
    json_t *responses;          /* answers so far (object) */
    json_t *state;              /* the handler's state between rounds, or NULL */
    json_t *result, *error;     /* COMPLETED / FAILED */
    int64_t created_ms, updated_ms; /* wall clock */
    struct mcp_task *next;
};

static json_t *iso(int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    char buf[40];
    gmtime_r(&s, &tm);
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%03dZ", (int)(ms % 1000));
    return json_string(buf);
}

bool mcp_tasks_declared(json_t *caps)
{
    return json_object_get(json_object_get(caps, "extensions"), MCP_TASKS_EXT) != NULL;
}

void mcp_task_lock(struct mcp_modern_srv *ms)
{
    pthread_mutex_lock(&ms->task_lock);
    ms->task_lock_owner = pthread_self();
    ms->task_locked = true;
}

void mcp_task_unlock(struct mcp_modern_srv *ms)
{
    PW_ASSERT(mcp_task_lock_held(ms));
    ms->task_locked = false;
    pthread_mutex_unlock(&ms->task_lock);
}

/* Only the holder can see both fields set to itself, so the answer is exact
 * for the calling thread. */
bool mcp_task_lock_held(struct mcp_modern_srv *ms)
{
    return ms->task_locked && pthread_equal(ms->task_lock_owner, pthread_self());
}

/* The Task envelope (new); with `detail`, the DetailedTask fields too.
 * Under the lock. */
static json_t *envelope(const struct mcp_task *t, bool detail)
{
    json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:I, s:i}", "taskId", t->id, "status",
                          status_names[t->status], "createdAt", iso(t->created_ms),
                          "lastUpdatedAt", iso(t->updated_ms), "ttlMs", (json_int_t)TTL_MS,
                          "pollIntervalMs", POLL_MS);
    if (!detail)
        return o;
    if (t->status == T_INPUT)
        json_object_set(o, "inputRequests", t->requests);
    else if (t->status == T_COMPLETED)
        json_object_set(o, "result", t->result);
    else if (t->status == T_FAILED)
        json_object_set(o, "error", t->error);
    return o;
}

static void task_free(struct mcp_task *t)
{
    atomic_store(&t->call->task, NULL);
    mcp_call_unref(t->call);
    json_decref(t->requests);
    json_decref(t->responses);
    json_decref(t->state);
    json_decref(t->result);
    json_decref(t->error);
    free(t);
}

/* Frees terminal tasks past their TTL. Under the lock. */
static void sweep(struct mcp_modern_srv *ms, int64_t now)
{
    PW_ASSERT(mcp_task_lock_held(ms));
    for (struct mcp_task **pp = &ms->tasks; *pp;) {
        struct mcp_task *t = *pp;
        if (t->status >= T_COMPLETED && now - t->updated_ms > TTL_MS) {
            *pp = t->next;
            ms->ntasks--;
            task_free(t);
        } else {
            pp = &t->next;
        }
    }
}

static struct mcp_task *find(struct mcp_modern_srv *ms, const char *id)
{
    for (struct mcp_task *t = ms->tasks; t; t = t->next)
        if (strcmp(t->id, id) == 0)
            return t;
    return NULL;
}

bool pw_mcp_call_to_task(struct pw_mcp_call *call)
{
    struct mcp_modern_srv *ms = call->srv->modern;
    if (atomic_load(&call->task))
        return true; /* a rerun of a task's handler */
    if (!call->modern || !ms || strcmp(call->method, "tools/call") != 0 ||
        !mcp_tasks_declared(call->modern->caps) || atomic_load(&call->cancelled))
        return false;
    unsigned char raw[16];
    struct mcp_task *t = calloc(1, sizeof *t);
    if (!t || RAND_bytes(raw, sizeof raw) != 1) {
        free(t);
        return false;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(t->id + 2 * i, 3, "%02x", raw[i]);
    t->responses = json_object();
    t->created_ms = t->updated_ms = pw_clock_wall_ms();
    t->call = call;
    memcpy(t->principal, call->principal, sizeof t->principal);
    mcp_task_lock(ms);
    sweep(ms, t->created_ms);
    size_t mine = 0;
    for (const struct mcp_task *o = ms->tasks; o; o = o->next)
        mine += memcmp(o->principal, t->principal, sizeof t->principal) == 0;
    if (ms->ntasks >= MAX_TASKS || mine >= MAX_TASKS_PER_PRINCIPAL) {
        mcp_task_unlock(ms);
        pw_warn("mcp: %s tasks are open; %s runs without one",
                mine >= MAX_TASKS_PER_PRINCIPAL ? "this key's" : "the server's", call->method);
        json_decref(t->responses);
        free(t);
        return false;
    }
    mcp_call_ref(call);
    t->next = ms->tasks;
    ms->tasks = t;
    ms->ntasks++;
    json_t *created = envelope(t, false);
    atomic_store(&call->task, t);
    mcp_task_unlock(ms);
    /* Created before it is announced, so an immediate tasks/get finds it. */
    json_object_set_new(created, "resultType", json_string("task"));
    mcp_call_answer_early(call, created);
    return true;
}

bool mcp_task_finish(struct pw_mcp_call *call, json_t *msg, bool is_error)
{
    struct mcp_modern_srv *ms = call->srv->modern;
    mcp_task_lock(ms);
    struct mcp_task *t = atomic_load(&call->task);
    if (!t) {
        mcp_task_unlock(ms);
        return false;
    }
    if (t->status == T_WORKING) {
        if (is_error) {
            t->error = msg;
            t->status = T_FAILED;
        } else {
            json_object_del(msg, "resultType");
            t->result = msg;
            t->status = T_COMPLETED;
        }
        msg = NULL;
        t->updated_ms = pw_clock_wall_ms();
    }
    mcp_task_unlock(ms);
    json_decref(msg); /* a cancelled task's late answer */
    return true;
}

bool mcp_task_input(struct pw_mcp_call *call, json_t *requests_new, json_t *state_new)
{
    struct mcp_modern_srv *ms = call->srv->modern;
    mcp_task_lock(ms);
    struct mcp_task *t = atomic_load(&call->task);
    if (!t) {
        mcp_task_unlock(ms);
        return false;
    }
    if (t->status == T_WORKING && json_object_size(requests_new) > 0) {
        json_decref(t->requests);
        json_decref(t->state);
        t->requests = requests_new;
        t->state = state_new;
        requests_new = state_new = NULL;
        t->status = T_INPUT;
        t->updated_ms = pw_clock_wall_ms();
    }
    mcp_task_unlock(ms);
    json_decref(requests_new);
    json_decref(state_new);
    return true;
}

void mcp_tasks_cancel_all(struct pw_mcp_server *srv)
{
    struct mcp_modern_srv *ms = srv->modern;
    if (!ms)
        return;
    mcp_task_lock(ms);
    for (struct mcp_task *t = ms->tasks; t; t = t->next)
        atomic_store(&t->call->cancelled, true);
    mcp_task_unlock(ms);
}

void mcp_tasks_free(struct mcp_modern_srv *ms)
{
    while (ms->tasks) {
        struct mcp_task *t = ms->tasks;
        ms->tasks = t->next;
        task_free(t);
    }
    ms->ntasks = 0;
}

/* tasks/get, tasks/update, tasks/cancel ---------------------------------------------- */

/* The task a request names; NULL after answering the error. Returns with
 * the lock held when it found one. */
static struct mcp_task *named(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                              json_t *params)
{
    struct mcp_modern_srv *ms = s->srv->modern;
    if (!s->modern || !mcp_tasks_declared(s->modern->caps)) {
        mcp_session_reply(s, b, id,
                          mcp_error_object(MCP_MISSING_CAPABILITY,
                                           "Missing required client capability: the "
                                           MCP_TASKS_EXT " extension",
                                           json_pack("{s:{s:{s:{}}}}", "requiredCapabilities",
                                                     "extensions", MCP_TASKS_EXT)),
                          true);
        return NULL;
    }
    const char *tid = json_string_value(json_object_get(params, "taskId"));
    if (!tid) {
        mcp_session_reply(s, b, id,
                          mcp_error_object(MCP_INVALID_PARAMS,
                                           "Invalid params: taskId must be a string", NULL),
                          true);
        return NULL;
    }
    mcp_task_lock(ms);
    sweep(ms, pw_clock_wall_ms());
    struct mcp_task *t = find(ms, tid);
    if (t && memcmp(t->principal, s->principal, sizeof t->principal) != 0)
        t = NULL; /* another key's task is as good as unknown */
    if (!t) {
        mcp_task_unlock(ms);
        mcp_session_reply(s, b, id,
                          mcp_error_object(MCP_INVALID_PARAMS, "Invalid params: unknown taskId",
                                           json_pack("{s:s}", "taskId", tid)),
                          true);
    }
    return t;
}

void mcp_tasks_get(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id, json_t *params)
{
    struct mcp_task *t = named(s, b, id, params);
    if (!t)
        return;
    json_t *detail = envelope(t, true);
    mcp_task_unlock(s->srv->modern);
    mcp_session_reply(s, b, id, detail, false);
}

void mcp_tasks_cancel(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                      json_t *params)
{
    struct mcp_task *t = named(s, b, id, params);
    if (!t)
        return;
    if (t->status < T_COMPLETED) {
        t->status = T_CANCELLED;
        t->updated_ms = pw_clock_wall_ms();
        atomic_store(&t->call->cancelled, true);
    }
    mcp_task_unlock(s->srv->modern);
    mcp_session_reply(s, b, id, json_object(), false); /* idempotent on terminal tasks */
}

/* Runs a task's handler again with every answer so far (loop thread; no
 * round of it is running: the task was waiting for input). */
static void rerun(struct mcp_task *t)
{
    struct pw_mcp_call *c = t->call;
    json_decref(c->modern->input_responses);
    c->modern->input_responses = json_deep_copy(t->responses);
    json_decref(c->modern->state);
    c->modern->state = t->state ? json_incref(t->state) : NULL;
    if (c->flags & PW_MCP_ON_WORKER) {
        mcp_call_ref(c);
        mcp_workers_submit(c->srv->workers, c);
    } else {
        c->handler(c, c->handler_params, c->ud);
    }
}

void mcp_tasks_update(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id,
                      json_t *params)
{
    json_t *answers = json_object_get(params, "inputResponses");
    if (!json_is_object(answers)) {
        mcp_session_reply(s, b, id,
                          mcp_error_object(MCP_INVALID_PARAMS,
                                           "Invalid params: inputResponses must be an object",
                                           NULL),
                          true);
        return;
    }
    struct mcp_task *t = named(s, b, id, params);
    if (!t)
        return;
    bool resume = false;
    if (t->status == T_INPUT) {
        const char *key;
        json_t *v;
        json_object_foreach(answers, key, v) {
            if (json_object_get(t->requests, key) && json_is_object(v)) {
                json_object_set(t->responses, key, v);
                json_object_del(t->requests, key);
            }
        }
        if (json_object_size(t->requests) == 0) {
            t->status = T_WORKING;
            resume = true;
        }
        t->updated_ms = pw_clock_wall_ms();
    }
    struct pw_mcp_call *c = t->call;
    mcp_call_ref(c);
    mcp_task_unlock(s->srv->modern);
    mcp_session_reply(s, b, id, json_object(), false);
    if (resume) {
        struct mcp_modern_srv *ms = s->srv->modern;
        mcp_task_lock(ms);
        struct mcp_task *now = atomic_load(&c->task);
        mcp_task_unlock(ms);
        if (now && now->status == T_WORKING)
            rerun(now);
    }
    mcp_call_unref(c);
}
