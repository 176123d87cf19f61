/*
 * Unit tests for what the MCP engine reports (mcp/observe.c): sessions
 * opened and closed reach the observer with their transport name and move
 * pennyworth_mcp_sessions; requests and notifications reach it with the
 * engine's own method name, or "other" for one it does not serve, and
 * count in pennyworth_mcp_requests_total; a carrier session without a
 * transport name (one stateless 2026-07-28 request) counts its request but
 * is no session. The metrics live in the process's default registry, so
 * each test compares before and after rather than absolute values.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/mcp.h"
#include "pennyworth/metrics.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Every event the observer heard, as "session <transport> <delta>" or
 * "request <method>" lines. */
struct heard {
    char log[4096];
    pthread_t loop;
};

static void on_session(void *ud, const char *transport, int delta)
{
    struct heard *h = ud;
    assert_true(pthread_equal(pthread_self(), h->loop));
    size_t n = strlen(h->log);
    snprintf(h->log + n, sizeof h->log - n, "session %s %+d\n", transport, delta);
}

static void on_request(void *ud, const char *method)
{
    struct heard *h = ud;
    assert_true(pthread_equal(pthread_self(), h->loop));
    size_t n = strlen(h->log);
    snprintf(h->log + n, sizeof h->log - n, "request %s\n", method);
}

static void drop(void *ctx, json_t *msg, json_t *related) {}

static struct pw_mcp_server *server(struct heard *h)
{
    memset(h, 0, sizeof *h);
    h->loop = pthread_self();
    struct pw_mcp_server_options o = {.name = "t", .version = "1"};
    struct pw_mcp_server *srv;
    assert_int_equal(pw_mcp_server_new(&o, &srv, NULL), PW_OK);
    struct pw_mcp_observer obs = {.session = on_session, .request = on_request, .ud = h};
    pw_mcp_server_set_observer(srv, &obs);
    return srv;
}

static struct pw_mcp_session *open_session(struct pw_mcp_server *srv, const char *name)
{
    struct pw_mcp_transport t = {.send = drop, .ctx = NULL, .name = name};
    struct pw_mcp_session *s;
    assert_int_equal(pw_mcp_session_new(srv, &t, &s, NULL), PW_OK);
    return s;
}

static void in(struct pw_mcp_session *s, const char *text)
{
    pw_mcp_session_receive(s, text, strlen(text));
}

static struct pw_metric *sessions_family(void)
{
    return pw_metrics_gauge(pw_metrics_default(), "pennyworth_mcp_sessions",
                            "Open MCP sessions by transport.", L("transport"));
}

static struct pw_metric *requests_family(void)
{
    return pw_metrics_counter(pw_metrics_default(), "pennyworth_mcp_requests_total",
                              "MCP requests by method.", L("method"));
}

/* True when the default registry's text holds `line` as a whole line. */
static bool scrape_has(const char *line)
{
    size_t len;
    char *text = pw_metrics_render(pw_metrics_default(), &len);
    assert_non_null(text);
    char want[256];
    snprintf(want, sizeof want, "\n%s\n", line);
    bool found = strstr(text, want) != NULL;
    free(text);
    return found;
}

static void session_open_and_close_reach_the_observer(void **state)
{
    struct heard h;
    struct pw_mcp_server *srv = server(&h);
    struct pw_mcp_session *ws = open_session(srv, PW_MCP_TRANSPORT_WS);
    struct pw_mcp_session *http = open_session(srv, PW_MCP_TRANSPORT_HTTP);
    assert_string_equal(h.log, "session ws +1\nsession http +1\n");
    assert_true(scrape_has("pennyworth_mcp_sessions{transport=\"ws\"} 1"));
    pw_mcp_session_free(http);
    pw_mcp_session_free(ws);
    assert_string_equal(h.log, "session ws +1\nsession http +1\nsession http -1\n"
                               "session ws -1\n");
    pw_mcp_server_free(srv);
}

static void gauge_is_back_at_zero_after_close(void **state)
{
    struct heard h;
    struct pw_mcp_server *srv = server(&h);
    struct pw_mcp_session *s[3];
    for (int i = 0; i < 3; i++)
        s[i] = open_session(srv, PW_MCP_TRANSPORT_STDIO);
    assert_true(scrape_has("pennyworth_mcp_sessions{transport=\"stdio\"} 3"));
    for (int i = 0; i < 3; i++)
        pw_mcp_session_free(s[i]);
    assert_true(scrape_has("pennyworth_mcp_sessions{transport=\"stdio\"} 0"));
    assert_true(pw_metric_value(sessions_family(), L("stdio")) == 0);
    pw_mcp_server_free(srv);
}

static void requests_carry_known_names_or_other(void **state)
{
    struct heard h;
    struct pw_mcp_server *srv = server(&h);
    struct pw_mcp_session *s = open_session(srv, PW_MCP_TRANSPORT_WS);
    double other = pw_metric_value(requests_family(), L("other"));
    double ping = pw_metric_value(requests_family(), L("ping"));
    h.log[0] = '\0';
    in(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");  /* before initialize */
    in(s, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{"
          "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}}}");
    in(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    in(s, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}");
    in(s, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"secret/x-client-chose-this\"}");
    in(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/whatever\"}");
    in(s, "{\"jsonrpc\":\"2.0\",\"id\":[5],\"method\":\"ping\"}"); /* refused, still seen */
    in(s, "{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{}}");        /* a response: no request */
    in(s, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"server/discover\"}");
    assert_string_equal(h.log, "request ping\n"
                               "request initialize\n"
                               "request notifications/initialized\n"
                               "request tools/list\n"
                               "request other\n"
                               "request other\n"
                               "request ping\n"
                               "request server/discover\n");
    assert_true(pw_metric_value(requests_family(), L("other")) == other + 2);
    assert_true(pw_metric_value(requests_family(), L("ping")) == ping + 2);
    size_t len;
    char *text = pw_metrics_render(pw_metrics_default(), &len);
    assert_null(strstr(text, "x-client-chose-this")); /* never a label */
    free(text);
    pw_mcp_session_free(s);
    pw_mcp_server_free(srv);
}

/* The Streamable HTTP transport serves each stateless 2026-07-28 request on
 * an engine session of its own, made without a transport name. */
static void stateless_requests_count_once_without_a_session(void **state)
{
    struct heard h;
    struct pw_mcp_server *srv = server(&h);
    double before = pw_metric_value(requests_family(), L("tools/list"));
    struct pw_mcp_session *s = open_session(srv, NULL);
    in(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"_meta\":{"
          "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
          "\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
    in(s, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tasks/get\",\"params\":{\"_meta\":{"
          "\"io.modelcontextprotocol/protocolVersion\":\"1999-01-01\","
          "\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
    pw_mcp_session_free(s);
    assert_string_equal(h.log, "request tools/list\nrequest tasks/get\n");
    assert_true(pw_metric_value(requests_family(), L("tools/list")) == before + 1);
    pw_mcp_server_free(srv);
}

static void no_observer_still_counts(void **state)
{
    struct heard h;
    struct pw_mcp_server *srv = server(&h);
    pw_mcp_server_set_observer(srv, NULL);
    double before = pw_metric_value(sessions_family(), L(PW_MCP_TRANSPORT_BRIDGE));
    struct pw_mcp_session *s = open_session(srv, PW_MCP_TRANSPORT_BRIDGE);
    assert_true(pw_metric_value(sessions_family(), L(PW_MCP_TRANSPORT_BRIDGE)) == before + 1);
    pw_mcp_session_free(s);
    assert_true(pw_metric_value(sessions_family(), L(PW_MCP_TRANSPORT_BRIDGE)) == before);
    assert_string_equal(h.log, "");
    pw_mcp_server_free(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(session_open_and_close_reach_the_observer),
        cmocka_unit_test(gauge_is_back_at_zero_after_close),
        cmocka_unit_test(requests_carry_known_names_or_other),
        cmocka_unit_test(stateless_requests_count_once_without_a_session),
        cmocka_unit_test(no_observer_still_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
