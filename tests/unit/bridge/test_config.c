/*
 * Data-driven tests for the bridge configuration (bridge/config.c): every
 * .json file under fixtures/config/{valid,invalid,examples} is a case (see
 * fixtures/config/README.md). Valid cases load through bridge_config_load
 * with the expectation's environment (the real environment is set for the
 * duration of the case and restored), and their routes, context modes and
 * refusals are checked; invalid cases must fail with "FILE: POINTER" and
 * the expected text. The context-mode names are checked here too.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fixture_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/bedrock.h"
#include "bridge/bridge-int.h"

static const char *const env_names[] = {
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "AWS_REGION", "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK",
};

/* Replaces the environment the configuration reads with `env` (may be
 * NULL: all unset). */
static void set_env(json_t *env)
{
    for (size_t i = 0; i < sizeof env_names / sizeof env_names[0]; i++)
        unsetenv(env_names[i]);
    const char *k;
    json_t *v;
    json_object_foreach(env, k, v)
        setenv(k, json_string_value(v), 1);
}

static char *sibling(const char *path, const char *ext)
{
    size_t n = strlen(path);
    char *s = malloc(n + strlen(ext) + 1);
    assert_non_null(s);
    memcpy(s, path, n - 5); /* drop ".json" */
    snprintf(s + n - 5, strlen(ext) + 6, "%s", ext);
    return s;
}

static void route_matches(struct bridge_config *cfg, const char *model, json_t *want)
{
    struct pw_error err = {0};
    const struct bridge_alias *a = bridge_config_route(cfg, model, &err);
    if (!a)
        fail_msg("%s: not routed: %s", model, err.message);
    assert_int_equal(a->ndeps, json_array_size(want));
    for (size_t i = 0; i < a->ndeps; i++) {
        char got[1024];
        const struct bridge_target *t = a->deps[i]->t;
        snprintf(got, sizeof got, "%s/%s @ %s", t->provider->name, t->model, t->base_url);
        const char *exp = json_string_value(json_array_get(want, i));
        if (strcmp(got, exp) != 0)
            fail_msg("%s deployment %zu: got '%s', want '%s'", model, i, got, exp);
    }
}

static void check_valid(const char *path)
{
    char *expect_path = sibling(path, ".expect");
    char *text = fixture_read(expect_path, NULL, NULL);
    json_t *expect = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    free(expect_path);
    set_env(json_object_get(expect, "env"));
    struct bridge_config *cfg = NULL;
    struct pw_error err = {0};
    if (bridge_config_load(path, &cfg, &err) != PW_OK)
        fail_msg("%s: %s", path, err.message);
    const char *model;
    json_t *v;
    json_object_foreach(json_object_get(expect, "routes"), model, v)
        route_matches(cfg, model, v);
    /* A prefix-routed name resolves to the same alias (and breaker) twice. */
    json_object_foreach(json_object_get(expect, "routes"), model, v) {
        const struct bridge_alias *a = bridge_config_route(cfg, model, NULL);
        assert_ptr_equal(a, bridge_config_route(cfg, model, NULL));
    }
    json_object_foreach(json_object_get(expect, "mode"), model, v) {
        const struct bridge_alias *a = bridge_config_route(cfg, model, NULL);
        assert_non_null(a);
        const char *got = a->has_mode ? bridge_mode_name(a->mode) : "auto";
        assert_string_equal(got, json_string_value(v));
    }
    size_t i;
    json_array_foreach(json_object_get(expect, "not_found"), i, v) {
        struct pw_error nf = {0};
        if (bridge_config_route(cfg, json_string_value(v), &nf))
            fail_msg("%s: routed, but should not be", json_string_value(v));
        assert_int_equal(nf.code, PW_ERR_NOT_FOUND);
        assert_string_equal(nf.pointer, "/model");
    }
    bridge_config_free(cfg);
    json_decref(expect);
    set_env(NULL);
}

static void check_invalid(const char *path)
{
    char *error_path = sibling(path, ".error");
    char *want = fixture_read(error_path, NULL, NULL);
    if (!want)
        fail_msg("%s: missing", error_path);
    free(error_path);
    want[strcspn(want, "\n")] = '\0';
    /* "POINTER|TEXT": the message starts "FILE: POINTER" and holds TEXT. */
    char *bar = strchr(want, '|');
    const char *text = "";
    if (bar) {
        *bar = '\0';
        text = bar + 1;
    }
    set_env(NULL);
    struct bridge_config *cfg = NULL;
    struct pw_error err = {0};
    assert_int_not_equal(bridge_config_load(path, &cfg, &err), PW_OK);
    assert_null(cfg);
    char prefix[1024];
    snprintf(prefix, sizeof prefix, "%s: %s", path, want);
    if (strncmp(err.message, prefix, strlen(prefix)) != 0 || !strstr(err.message, text))
        fail_msg("got \"%s\", want \"%s...%s\"", err.message, prefix, text);
    free(want);
}

static void run_case(void **state)
{
    const char *path = *state;
    if (strstr(path, "/invalid/"))
        check_invalid(path);
    else
        check_valid(path);
}

static void modes(void **state)
{
    (void)state;
    enum bridge_mode m;
    assert_true(bridge_mode_parse("auto", &m) && m == BRIDGE_CTX_AUTO);
    assert_true(bridge_mode_parse("tools", &m) && m == BRIDGE_CTX_TOOLS);
    assert_true(bridge_mode_parse("off", &m) && m == BRIDGE_CTX_OFF);
    assert_false(bridge_mode_parse("Auto", &m));
    assert_false(bridge_mode_parse(NULL, &m));
    assert_string_equal(bridge_mode_name(BRIDGE_CTX_TOOLS), "tools");
}

static void missing_file(void **state)
{
    (void)state;
    struct bridge_config *cfg = NULL;
    struct pw_error err = {0};
    assert_int_equal(bridge_config_load("/nonexistent/pw.json", &cfg, &err), PW_ERR_PARSE);
    assert_non_null(strstr(err.message, "/nonexistent/pw.json: "));
}

static void no_file(void **state)
{
    (void)state;
    set_env(NULL);
    struct bridge_config *cfg = NULL;
    assert_int_equal(bridge_config_load(NULL, &cfg, NULL), PW_OK);
    const struct bridge_alias *a = bridge_config_route(cfg, "bedrock/amazon.nova-pro-v1:0", NULL);
    assert_non_null(a);
    const struct bridge_bedrock_target *t = (const struct bridge_bedrock_target *)a->deps[0]->t;
    assert_string_equal(t->base.base_url, "https://bedrock-runtime.us-east-1.amazonaws.com");
    assert_string_equal(t->region, "us-east-1");
    assert_int_equal(a->deps[0]->retries, 2);
    assert_int_equal(a->deps[0]->total_ms, 600000);
    bridge_config_free(cfg);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest fixed[] = {
        cmocka_unit_test(modes),
        cmocka_unit_test(missing_file),
        cmocka_unit_test(no_file),
    };
    return fixture_run("bridge-config", fixed, sizeof fixed / sizeof fixed[0], run_case,
                       ".json", argc, argv);
}
