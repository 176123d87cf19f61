/*
 * The stdio transport: newline-delimited JSON-RPC on a pair of file
 * descriptors, driven by a poll(2) loop on the calling thread.
 *
 * The loop waits on: input (while open), a wake pipe (the engine's waker,
 * written by worker threads and by the signal handler), and output (while
 * bytes are queued). Nothing in it blocks: input is read as it comes, output
 * is queued and written as the peer drains it, and handlers that block run
 * on the engine's workers, so ping and cancellation are answered while a
 * slow tool runs.
 *
 * Input: a line that arrives whole in one read (64 KiB, far below the
 * bound) is handed over from the read buffer; only an unfinished line is
 * copied, into `in`, whose bound is PW_MCP_STDIO_MAX_LINE. A line over it is
 * discarded up to its newline and answered with one JSON-RPC error; `in`
 * never grows past the bound. Logs go to stderr only; stdout carries
 * protocol messages.
 *
 * SPDX-License-Identifier: MIT
 */
#include "pennyworth/json.h"
#include "mcp/mcp-int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pennyworth/buf.h"
#include "pennyworth/clock.h"
#include "pennyworth/log.h"

struct stdio_loop {
    struct pw_mcp_server *srv;
    struct pw_mcp_session *session;
    int in_fd, out_fd;
    int wake[2];
    struct pw_buf in;      /* the unfinished line, max PW_MCP_STDIO_MAX_LINE */
    struct pw_buf out;     /* messages waiting for the peer to read them */
    size_t out_off;        /* bytes of `out` already written */
    bool in_open;
    bool discarding;       /* skipping the rest of an oversized line */
    bool out_broken;       /* the peer stopped reading for good */
};

static int wake_fd = -1;   /* for the signal handler */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
    if (wake_fd >= 0) {
        ssize_t w = write(wake_fd, "s", 1);
        (void)w;
    }
}

static void waker(void *ud)
{
    struct stdio_loop *l = ud;
    ssize_t w = write(l->wake[1], "w", 1);
    (void)w; /* EAGAIN: the pipe is full, so a wake-up is pending anyway */
}

static void flush_out(struct stdio_loop *l)
{
    while (l->out_off < l->out.len && !l->out_broken) {
        ssize_t w = write(l->out_fd, l->out.data + l->out_off, l->out.len - l->out_off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                pw_warn("stdio: output closed (%s); dropping further messages", strerror(errno));
                l->out_broken = true;
            }
            break;
        }
        l->out_off += (size_t)w;
    }
    if (l->out_off == l->out.len || l->out_broken) {
        pw_buf_clear(&l->out);
        l->out_off = 0;
    }
}

static void send_msg(void *ctx, json_t *msg, json_t *related)
{
    struct stdio_loop *l = ctx;
    if (l->out_broken)
        return;
    char *text = json_dumps(msg, PW_JSON_WIRE);
    size_t n = text ? strlen(text) : 0;
    if (!text || pw_buf_reserve(&l->out, n + 1) != PW_OK) {
        pw_errorlog("stdio: out of memory queueing a message; it is dropped");
    } else { /* both fit now: a message is queued whole or not at all */
        pw_buf_append(&l->out, text, n);
        pw_buf_append(&l->out, "\n", 1);
    }
    free(text);
    flush_out(l);
}

static void oversized(struct stdio_loop *l)
{
    char msg[128];
    snprintf(msg, sizeof msg, "Invalid Request: message exceeds the %u-byte line limit",
             PW_MCP_STDIO_MAX_LINE);
    mcp_send(l->session, mcp_error_response(NULL, mcp_error_object(MCP_INVALID_REQUEST, msg,
                                                                   NULL)), NULL);
}

/* A complete line (without its newline) for the session; blank ones are
 * skipped. */
static void deliver(struct stdio_loop *l, const char *line, size_t n)
{
    if (n && line[n - 1] == '\r')
        n--;
    size_t i = 0;
    while (i < n && strchr(" \t", line[i]))
        i++;
    if (i < n)
        pw_mcp_session_receive(l->session, line, n);
}

/* Adds `n` bytes of the line being read to `in`. When that passes the bound
 * the line is refused (one error), when memory runs out it is dropped; either
 * way `in` is emptied and false returned. */
static bool keep(struct stdio_loop *l, const char *data, size_t n)
{
    enum pw_err rc = pw_buf_append(&l->in, data, n);
    if (rc == PW_OK)
        return true;
    if (rc == PW_ERR_TOO_LARGE)
        oversized(l);
    else
        pw_errorlog("stdio: out of memory reading input");
    pw_buf_clear(&l->in);
    return false;
}

/* Hands every line that `data` completes to the session; the unfinished
 * last one waits in `in` (or, once refused, is skipped to its newline). */
static void consume(struct stdio_loop *l, const char *data, size_t n)
{
    const char *nl;
    while ((nl = memchr(data, '\n', n))) {
        size_t k = (size_t)(nl - data);
        if (l->discarding) {
            l->discarding = false;
        } else if (l->in.len == 0) {
            deliver(l, data, k);
        } else if (keep(l, data, k)) {
            deliver(l, l->in.data, l->in.len);
            pw_buf_clear(&l->in);
        }
        data += k + 1;
        n -= k + 1;
    }
    if (n && !l->discarding && !keep(l, data, n))
        l->discarding = true;
}

static void read_input(struct stdio_loop *l)
{
    char chunk[65536];
    ssize_t n = read(l->in_fd, chunk, sizeof chunk);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return;
        pw_warn("stdio: input error (%s); treating it as end of input", strerror(errno));
        n = 0;
    }
    if (n == 0) {
        l->in_open = false;
        if (l->in.len)
            pw_mcp_session_receive(l->session, l->in.data, l->in.len);
        pw_buf_clear(&l->in);
        /* Nobody can answer our requests any more. */
        mcp_outgoing_fail_session(l->session);
        return;
    }
    consume(l, chunk, (size_t)n);
}

static void drain_wake(struct stdio_loop *l)
{
    char tmp[256];
    while (read(l->wake[0], tmp, sizeof tmp) > 0)
        ;
}

/* Output may be made non-blocking only when it is ours alone (a pipe or a
 * socket): O_NONBLOCK on a terminal would leak into the shell. */
static void nonblocking_if_private(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int pw_mcp_stdio_run(struct pw_mcp_server *srv, int in_fd, int out_fd,
                     void (*tick)(void *ud), void *ud, int tick_ms, int drain_ms)
{
    struct stdio_loop l = {.srv = srv, .in_fd = in_fd, .out_fd = out_fd, .in_open = true};
    pw_buf_init(&l.in, PW_MCP_STDIO_MAX_LINE);
    if (pipe2(l.wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        pw_errorlog("stdio: cannot make the wake pipe: %s", strerror(errno));
        return 1;
    }
    struct pw_mcp_transport t = {.send = send_msg, .ctx = &l, .name = PW_MCP_TRANSPORT_STDIO};
    struct pw_error err = {0};
    if (pw_mcp_session_new(srv, &t, &l.session, &err) != PW_OK) {
        pw_errorlog("stdio: %s", err.message);
        close(l.wake[0]);
        close(l.wake[1]);
        return 1;
    }
    pw_mcp_server_set_waker(srv, waker, &l);
    nonblocking_if_private(out_fd);
    wake_fd = l.wake[1];
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    int64_t next_tick = pw_clock_ms() + tick_ms;
    int64_t drain_deadline = -1;
    while (!stop_signal) {
        if (!l.in_open) {
            if (drain_deadline < 0)
                drain_deadline = pw_clock_ms() + drain_ms;
            if ((l.session->ninflight == 0 && l.out.len == 0) || pw_clock_ms() >= drain_deadline ||
                l.out_broken)
                break;
        }
        int64_t now = pw_clock_ms();
        int64_t timeout = pw_mcp_server_timeout_ms(srv);
        if (tick && (timeout < 0 || next_tick - now < timeout))
            timeout = next_tick - now < 0 ? 0 : next_tick - now;
        if (drain_deadline >= 0 && (timeout < 0 || drain_deadline - now < timeout))
            timeout = drain_deadline - now < 0 ? 0 : drain_deadline - now;
        struct pollfd fds[3] = {
            {.fd = l.in_open ? in_fd : -1, .events = POLLIN},
            {.fd = l.wake[0], .events = POLLIN},
            {.fd = l.out.len ? out_fd : -1, .events = POLLOUT},
        };
        int n = poll(fds, 3, (int)(timeout > 60000 ? 60000 : timeout));
        if (n < 0 && errno != EINTR) {
            pw_errorlog("stdio: poll: %s", strerror(errno));
            break;
        }
        if (n > 0 && (fds[1].revents & POLLIN))
            drain_wake(&l);
        pw_mcp_server_dispatch(srv);
        if (n > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
            read_input(&l);
        if (n > 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP)))
            flush_out(&l);
        pw_mcp_server_tick(srv);
        if (tick && pw_clock_ms() >= next_tick) {
            tick(ud);
            next_tick = pw_clock_ms() + tick_ms;
        }
    }
    if (stop_signal)
        pw_info("stdio: stopping on signal %d", (int)stop_signal);
    pw_mcp_session_free(l.session);
    pw_mcp_server_dispatch(srv);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    wake_fd = -1;
    pw_mcp_server_set_waker(srv, NULL, NULL);
    close(l.wake[0]);
    close(l.wake[1]);
    pw_buf_free(&l.in);
    pw_buf_free(&l.out);
    return 0;
}
