/*
 * Tests for the upstream I/O layer (bridge/upstream.c) against a small HTTP
 * listener inside the test: one thread on 127.0.0.1 (ephemeral port) that
 * answers each request as the running case says (a body, nothing at all, a
 * cut body, a large body). The test thread plays the service loop: the
 * `wake` function signals a condition variable and the test dispatches.
 * Every wait is bounded (a few seconds), and the listener stops by itself
 * with the test.
 *
 * Checked: callbacks in order (head, data, done) with headers readable in
 * on_head; the first-byte deadline; a refused connection; a body cut short;
 * cancellation (no callback after it); pause and resume delivering the
 * whole body; keep-alive reuse of one connection for two requests.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bridge/upstream.h"

#define BIG (256 * 1024)

enum mode { M_OK, M_SILENT, M_CUT, M_BIG };

/* The listener ------------------------------------------------------------------------ */

static struct {
    int fd;
    int port;
    pthread_t thread;
    volatile int stop;
    volatile enum mode mode;
    int accepted;
    pthread_mutex_t mu;
} L;

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Reads one request (headers and a Content-Length body); false at EOF. */
static bool read_request(int fd)
{
    char buf[8192];
    size_t n = 0;
    char *end = NULL;
    while (!end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (L.stop || poll(&p, 1, 100) < 0)
            return false;
        if (!(p.revents & (POLLIN | POLLHUP)))
            continue;
        ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        if (r <= 0)
            return false;
        n += (size_t)r;
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (!end && n == sizeof buf - 1)
            return false;
    }
    const char *cl = strcasestr(buf, "content-length:");
    size_t want = cl ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
    size_t have = n - (size_t)(end + 4 - buf);
    while (have < want) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0)
            return false;
        have += (size_t)r;
    }
    return true;
}

static void serve(int fd)
{
    while (!L.stop && read_request(fd)) {
        switch (L.mode) {
        case M_OK: {
            const char *resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                               "X-Test: yes\r\nContent-Length: 5\r\n\r\nhello";
            write_all(fd, resp, strlen(resp));
            break;
        }
        case M_SILENT: /* until the case is over */
            while (!L.stop && L.mode == M_SILENT)
                usleep(10000);
            return;
        case M_CUT: {
            const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this";
            write_all(fd, resp, strlen(resp));
            return;
        }
        case M_BIG: {
            char head[128];
            int hn = snprintf(head, sizeof head,
                              "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", BIG);
            write_all(fd, head, (size_t)hn);
            char *body = malloc(BIG);
            for (int i = 0; i < BIG; i++)
                body[i] = (char)('a' + i % 26);
            write_all(fd, body, BIG);
            free(body);
            break;
        }
        }
    }
}

static void *listener(void *arg)
{
    (void)arg;
    while (!L.stop) {
        struct pollfd p = {L.fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(L.fd, NULL, NULL);
        if (c < 0)
            continue;
        pthread_mutex_lock(&L.mu);
        L.accepted++;
        pthread_mutex_unlock(&L.mu);
        serve(c);
        close(c);
    }
    return NULL;
}

static int setup(void **state)
{
    (void)state;
    memset(&L, 0, sizeof L);
    pthread_mutex_init(&L.mu, NULL);
    L.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(L.fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(L.fd, 8) != 0 ||
        getsockname(L.fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    L.port = ntohs(a.sin_port);
    return pthread_create(&L.thread, NULL, listener, NULL);
}

static int teardown(void **state)
{
    (void)state;
    L.stop = 1;
    pthread_join(L.thread, NULL);
    close(L.fd);
    pthread_mutex_destroy(&L.mu);
    return 0;
}

/* The "loop" ----------------------------------------------------------------------------- */

static pthread_mutex_t wmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wcv = PTHREAD_COND_INITIALIZER;
static int woken;

static void wake(void *ud)
{
    (void)ud;
    pthread_mutex_lock(&wmu);
    woken = 1;
    pthread_cond_signal(&wcv);
    pthread_mutex_unlock(&wmu);
}

struct result {
    int status;
    char xtest[16];
    char *body;
    size_t len;
    int heads, datas, dones;
    enum pw_err rc;
    char msg[PW_ERROR_MESSAGE_MAX];
    bool pause_first;
    struct bridge_xfer *x;
    bool paused;
};

static void on_head(struct bridge_xfer *x, int status, void *ud)
{
    struct result *r = ud;
    r->heads++;
    r->status = status;
    const char *v = bridge_xfer_header(x, "x-test");
    snprintf(r->xtest, sizeof r->xtest, "%s", v ? v : "");
    assert_null(bridge_xfer_header(x, "x-absent"));
}

static void on_data(struct bridge_xfer *x, const char *data, size_t len, void *ud)
{
    struct result *r = ud;
    assert_int_equal(r->heads, 1);
    r->datas++;
    r->body = realloc(r->body, r->len + len + 1);
    memcpy(r->body + r->len, data, len);
    r->len += len;
    r->body[r->len] = '\0';
    if (r->pause_first && r->datas == 1) {
        bridge_xfer_pause(x, true);
        r->paused = true;
    }
}

static void on_done(struct bridge_xfer *x, enum pw_err rc, const struct pw_error *err,
                    void *ud)
{
    (void)x;
    struct result *r = ud;
    r->dones++;
    r->rc = rc;
    snprintf(r->msg, sizeof r->msg, "%s", err ? err->message : "");
}

static const struct bridge_xfer_cb cb = {on_head, on_data, on_done};

/* Runs the loop until `r` is done or `ms` passed; resumes a paused
 * transfer on the first idle turn. */
static void run_until_done(struct bridge_upstream *up, struct result *r, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (r->dones == 0) {
        pthread_mutex_lock(&wmu);
        int rc = 0;
        while (!woken && rc == 0)
            rc = pthread_cond_timedwait(&wcv, &wmu, &until);
        woken = 0;
        pthread_mutex_unlock(&wmu);
        bridge_upstream_dispatch(up);
        if (r->paused && r->dones == 0) { /* after on_done `x` is gone */
            r->paused = false;
            bridge_xfer_pause(r->x, false);
        }
        if (rc != 0)
            break;
    }
}

static struct bridge_upstream *new_up(void)
{
    struct bridge_upstream *up = NULL;
    assert_int_equal(bridge_upstream_new(wake, NULL, &up, NULL), PW_OK);
    return up;
}

static void start(struct bridge_upstream *up, struct result *r, int first_byte_ms, int port)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/x", port);
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    struct bridge_xfer_req req = {"POST", url, hdrs, "{}", 2, 2000, first_byte_ms, 5000, false};
    assert_int_equal(bridge_xfer_start(up, &req, &cb, r, &r->x, NULL), PW_OK);
}

/* Cases ----------------------------------------------------------------------------------- */

static void ok_and_reuse(void **state)
{
    (void)state;
    L.mode = M_OK;
    struct bridge_upstream *up = new_up();
    for (int i = 0; i < 2; i++) {
        struct result r = {0};
        start(up, &r, 0, L.port);
        run_until_done(up, &r, 5000);
        assert_int_equal(r.dones, 1);
        assert_int_equal(r.rc, PW_OK);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.xtest, "yes");
        assert_string_equal(r.body, "hello");
        free(r.body);
    }
    assert_int_equal(L.accepted, 1); /* the connection was reused */
    /* The curl thread lets go of a transfer just after reporting its end. */
    for (int i = 0; i < 100 && bridge_upstream_active(up) > 0; i++)
        usleep(10000);
    assert_int_equal(bridge_upstream_active(up), 0);
    bridge_upstream_free(up);
}

static void first_byte_deadline(void **state)
{
    (void)state;
    L.mode = M_SILENT;
    struct bridge_upstream *up = new_up();
    struct result r = {0};
    start(up, &r, 200, L.port);
    run_until_done(up, &r, 5000);
    assert_int_equal(r.dones, 1);
    assert_int_equal(r.heads, 0);
    assert_int_equal(r.rc, PW_ERR_TIMEOUT);
    assert_non_null(strstr(r.msg, "first byte"));
    bridge_upstream_free(up);
    L.mode = M_OK;
}

static void refused(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &len);
    int port = ntohs(a.sin_port);
    close(s); /* bound, never listening, now closed: nothing is there */
    struct bridge_upstream *up = new_up();
    struct result r = {0};
    start(up, &r, 0, port);
    run_until_done(up, &r, 5000);
    assert_int_equal(r.dones, 1);
    assert_int_equal(r.rc, PW_ERR_UPSTREAM);
    bridge_upstream_free(up);
}

static void cut_body(void **state)
{
    (void)state;
    L.mode = M_CUT;
    struct bridge_upstream *up = new_up();
    struct result r = {0};
    start(up, &r, 0, L.port);
    run_until_done(up, &r, 5000);
    assert_int_equal(r.dones, 1);
    assert_int_equal(r.heads, 1);
    assert_int_equal(r.rc, PW_ERR_UPSTREAM);
    assert_string_equal(r.body, "only this");
    free(r.body);
    bridge_upstream_free(up);
    L.mode = M_OK;
}

static void cancel(void **state)
{
    (void)state;
    L.mode = M_SILENT;
    struct bridge_upstream *up = new_up();
    struct result r = {0};
    start(up, &r, 0, L.port);
    bridge_xfer_cancel(r.x);
    /* Whatever the curl thread was doing, nothing may reach us now. */
    for (int i = 0; i < 20 && bridge_upstream_active(up) > 0; i++) {
        usleep(10000);
        bridge_upstream_dispatch(up);
    }
    assert_int_equal(bridge_upstream_active(up), 0);
    assert_int_equal(r.heads + r.datas + r.dones, 0);
    bridge_upstream_free(up);
    L.mode = M_OK;
}

static void pause_resume(void **state)
{
    (void)state;
    L.mode = M_BIG;
    struct bridge_upstream *up = new_up();
    struct result r = {.pause_first = true};
    start(up, &r, 0, L.port);
    run_until_done(up, &r, 5000);
    assert_int_equal(r.dones, 1);
    assert_int_equal(r.rc, PW_OK);
    assert_int_equal(r.len, BIG);
    for (size_t i = 0; i < r.len; i++)
        if (r.body[i] != (char)('a' + i % 26))
            fail_msg("byte %zu differs", i);
    free(r.body);
    bridge_upstream_free(up);
    L.mode = M_OK;
}

static void free_with_transfers(void **state)
{
    (void)state;
    L.mode = M_SILENT;
    struct bridge_upstream *up = new_up();
    struct result r = {0};
    start(up, &r, 0, L.port);
    bridge_upstream_free(up); /* cancels without callbacks */
    assert_int_equal(r.heads + r.datas + r.dones, 0);
    L.mode = M_OK;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ok_and_reuse),    cmocka_unit_test(first_byte_deadline),
        cmocka_unit_test(refused),         cmocka_unit_test(cut_body),
        cmocka_unit_test(cancel),          cmocka_unit_test(pause_resume),
        cmocka_unit_test(free_with_transfers),
    };
    return cmocka_run_group_tests_name("bridge-upstream", tests, setup, teardown);
}
