/*
 * Prints the /metrics text with every one of access's metric families
 * exercised (tokens, spend, refusals, auth failures, usage queue), so that
 * meson's access-promtool-metrics test can feed it to `promtool check
 * metrics`, a real Prometheus parser and linter. The families of the
 * server, the bridge and the MCP engine are checked the same way on a live
 * server's scrape after traffic (tests/access/gateway.test.mjs).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pennyworth/access.h"
#include "pennyworth/metrics.h"

int main(void)
{
    char dir[] = "/tmp/pw-metrics-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[64];
    snprintf(path, sizeof path, "%s/m.db", dir);
    struct pw_access_options o = {.db_path = path};
    struct pw_access *acc = NULL;
    struct pw_error err = {0};
    if (pw_access_open(&o, &acc, &err) != PW_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    char key[PW_ACCESS_KEY_MAX];
    struct pw_access_key_spec spec = {.name = "m", .tier = "free", .budget_micros = 0};
    pw_access_key_create(acc, &spec, key, NULL, &err);
    struct pw_access_grant g;
    struct pw_access_request bad = {.api_key = "pw_wrong"};
    pw_access_admit(acc, &bad, &g);                      /* auth failure */
    struct pw_access_request broke = {.api_key = key, .model = "gpt-4o"};
    pw_access_admit(acc, &broke, &g);                    /* budget refusal */
    pw_access_finish(acc, &g, NULL);
    struct pw_access_key_spec rich = {.name = "r", .tier = "free", .budget_micros = -1};
    pw_access_key_create(acc, &rich, key, NULL, &err);
    for (int i = 0; i < 12; i++) {
        struct pw_access_request ok = {.api_key = key, .model = "gpt-4o", .est_tokens = 10};
        pw_access_admit(acc, &ok, &g);                   /* the 11th is rate limited */
        struct pw_access_usage u = {.request_id = "r", .route = "/v1/chat/completions",
                                    .model = "gpt-4o", .provider = "openai", .status = 200,
                                    .prompt_tokens = 10, .completion_tokens = 5,
                                    .cached_tokens = 2, .latency_us = 1200,
                                    .upstream_us = 1000};
        pw_access_finish(acc, &g, &u);
    }
    pw_access_close(acc);
    size_t len = 0;
    char *text = pw_metrics_render(pw_metrics_default(), &len);
    if (!text)
        return 1;
    fwrite(text, 1, len, stdout);
    free(text);
    unlink(path);
    char wal[80];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", path);
    unlink(wal);
    rmdir(dir);
    return 0;
}
