/*
 * Bridge configuration and model routing.
 *
 * Sources: the environment always (the openai SDKs' OPENAI_API_KEY and
 * OPENAI_BASE_URL; AWS_REGION, the standard AWS credential variables,
 * AWS_BEARER_TOKEN_BEDROCK and the endpoint overrides
 * AWS_ENDPOINT_URL_BEDROCK_RUNTIME, else AWS_ENDPOINT_URL), and optionally a
 * JSON file (`serve --config FILE`) checked against the embedded
 * schema/config.schema.json with the project's validator, then for what a
 * schema cannot say (fallbacks naming real aliases, bedrock needing a
 * region). Every error names the JSON pointer, so start-up fails with
 * "FILE: /models/chat/deployments/0/provider: reason".
 *
 * Routing: a model name is an alias of the file (its deployments in order,
 * then those of its fallbacks), or, unless the file turns passthrough off,
 * "openai/NAME" or "bedrock/MODEL_ID" routed by prefix to one deployment
 * built from the environment. Those are made on first use and kept (with
 * their breakers) up to MAX_DYNAMIC names.
 *
 * Deployments live in one pool owned by the config; aliases point into it,
 * so an alias that falls back to another shares that alias's breakers.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/bridge-int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/jsonschema.h"

#define MAX_DYNAMIC 1024
#define DEF_RETRIES 2
#define DEF_CONNECT_MS 10000
#define DEF_FIRST_BYTE_MS 60000
#define DEF_TOTAL_MS 600000
#define DEF_BACKOFF_BASE_MS 250
#define DEF_BACKOFF_MAX_MS 8000
#define DEF_MAX_RETRY_AFTER_MS 30000
#define OPENAI_DEFAULT_BASE "https://api.openai.com/v1"

static const struct {
    const char *name;
    enum bridge_mode mode;
} modes[] = {
    {"auto", BRIDGE_CTX_AUTO},
    {"tools", BRIDGE_CTX_TOOLS},
    {"off", BRIDGE_CTX_OFF},
};

bool bridge_mode_parse(const char *s, enum bridge_mode *out)
{
    for (size_t i = 0; s && i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(modes[i].name, s) == 0) {
            *out = modes[i].mode;
            return true;
        }
    return false;
}

const char *bridge_mode_name(enum bridge_mode m)
{
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (modes[i].mode == m)
            return modes[i].name;
    return "auto";
}

/* Build state: what the file says globally. */
struct globals {
    int retries;
    int connect_ms, first_byte_ms, total_ms;
    int threshold, cooldown_ms;
};

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

static const char *env(const char *(*getenv_fn)(const char *), const char *name)
{
    const char *v = name ? getenv_fn(name) : NULL;
    return v && *v ? v : NULL;
}

static void deploy_free(struct bridge_deploy *d)
{
    if (!d)
        return;
    free((char *)d->t.provider);
    free((char *)d->t.model);
    free((char *)d->t.base_url);
    free((char *)d->t.api_key);
    free((char *)d->t.region);
    free((char *)d->t.access_key_id);
    free((char *)d->t.secret_access_key);
    free((char *)d->t.session_token);
    free(d->label);
    free(d);
}

static void alias_clear(struct bridge_alias *a)
{
    free(a->name);
    free(a->deps);
}

void bridge_config_free(struct bridge_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->naliases; i++)
        alias_clear(&cfg->aliases[i]);
    free(cfg->aliases);
    for (size_t i = 0; i < cfg->ndyn; i++) {
        alias_clear(cfg->dyn[i]);
        free(cfg->dyn[i]);
    }
    free(cfg->dyn);
    for (size_t i = 0; i < cfg->npool; i++)
        deploy_free(cfg->pool[i]);
    free(cfg->pool);
    free(cfg->path);
    free(cfg->openai_base);
    free(cfg->openai_key);
    free(cfg->aws_region);
    free(cfg->aws_endpoint);
    free(cfg->aws_key_id);
    free(cfg->aws_secret);
    free(cfg->aws_token);
    free(cfg->aws_bearer);
    free(cfg);
}

static bool pool_add(struct bridge_config *cfg, struct bridge_deploy *d)
{
    struct bridge_deploy **np = realloc(cfg->pool, (cfg->npool + 1) * sizeof *np);
    if (!np)
        return false;
    cfg->pool = np;
    np[cfg->npool++] = d;
    return true;
}

/* The Bedrock endpoint for a region: the override, else AWS's own. */
static char *bedrock_endpoint(const struct bridge_config *cfg, const char *region)
{
    if (cfg->aws_endpoint)
        return strdup(cfg->aws_endpoint);
    size_t n = strlen(region) + 64;
    char *u = malloc(n);
    if (u)
        snprintf(u, n, "https://bedrock-runtime.%s.amazonaws.com", region);
    return u;
}

static char *label_of(const char *provider, const char *model)
{
    size_t n = strlen(provider) + strlen(model) + 2;
    char *l = malloc(n);
    if (l)
        snprintf(l, n, "%s/%s", provider, model);
    return l;
}

/* A deployment from the environment defaults (prefix routing) or as the
 * base a file entry overrides. */
static struct bridge_deploy *deploy_default(const struct bridge_config *cfg,
                                            const struct globals *g, const char *provider,
                                            const char *model)
{
    struct bridge_deploy *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->t.provider = strdup(provider);
    d->t.model = strdup(model);
    d->label = label_of(provider, model);
    d->upstream_stream = true;
    d->retries = g->retries;
    d->connect_ms = g->connect_ms;
    d->first_byte_ms = g->first_byte_ms;
    d->total_ms = g->total_ms;
    d->breaker.threshold = g->threshold;
    d->breaker.cooldown_ms = g->cooldown_ms;
    bool ok = d->t.provider && d->t.model && d->label;
    if (strcmp(provider, "openai") == 0) {
        d->t.base_url = strdup(cfg->openai_base);
        d->t.api_key = dup_or_null(cfg->openai_key);
        ok = ok && d->t.base_url;
    } else {
        d->t.region = strdup(cfg->aws_region);
        d->t.base_url = bedrock_endpoint(cfg, cfg->aws_region);
        d->t.api_key = dup_or_null(cfg->aws_bearer);
        d->t.access_key_id = dup_or_null(cfg->aws_key_id);
        d->t.secret_access_key = dup_or_null(cfg->aws_secret);
        d->t.session_token = dup_or_null(cfg->aws_token);
        ok = ok && d->t.region && d->t.base_url;
    }
    if (!ok) {
        deploy_free(d);
        return NULL;
    }
    return d;
}

static void read_timeouts(json_t *o, int *connect_ms, int *first_byte_ms, int *total_ms)
{
    json_t *v;
    if ((v = json_object_get(o, "connect_ms")))
        *connect_ms = (int)json_integer_value(v);
    if ((v = json_object_get(o, "first_byte_ms")))
        *first_byte_ms = (int)json_integer_value(v);
    if ((v = json_object_get(o, "total_ms")))
        *total_ms = (int)json_integer_value(v);
}

/* Replaces *slot with the value of the environment variable named in
 * `creds` under `key`, when the file names one. */
static void cred(json_t *creds, const char *key, const char *(*getenv_fn)(const char *),
                 const char **slot)
{
    const char *name = json_string_value(json_object_get(creds, key));
    if (!name)
        return;
    free((char *)*slot);
    *slot = dup_or_null(env(getenv_fn, name));
}

static enum pw_err build_deploy(struct bridge_config *cfg, const struct globals *g, json_t *o,
                                const char *ptr, const char *(*getenv_fn)(const char *),
                                struct bridge_deploy **out, struct pw_error *err)
{
    const char *provider = json_string_value(json_object_get(o, "provider"));
    const char *model = json_string_value(json_object_get(o, "model"));
    struct bridge_deploy *d = deploy_default(cfg, g, provider, model);
    if (!d)
        return pw_error_set(err, PW_ERR_NOMEM, ptr, "%s: out of memory", ptr);
    const char *region = json_string_value(json_object_get(o, "region"));
    if (region && strcmp(provider, "bedrock") == 0) {
        free((char *)d->t.region);
        free((char *)d->t.base_url);
        d->t.region = strdup(region);
        d->t.base_url = bedrock_endpoint(cfg, region);
    }
    const char *base = json_string_value(json_object_get(o, "base_url"));
    if (base) {
        free((char *)d->t.base_url);
        d->t.base_url = strdup(base);
    }
    json_t *creds = json_object_get(o, "credentials");
    if (creds) {
        /* Naming any variable means: these credentials, not the defaults. */
        free((char *)d->t.api_key);
        free((char *)d->t.access_key_id);
        free((char *)d->t.secret_access_key);
        free((char *)d->t.session_token);
        d->t.api_key = d->t.access_key_id = d->t.secret_access_key = d->t.session_token = NULL;
        const char *key_name = strcmp(provider, "openai") == 0 ? "api_key_env" : "bearer_token_env";
        cred(creds, key_name, getenv_fn, &d->t.api_key);
        cred(creds, "access_key_id_env", getenv_fn, &d->t.access_key_id);
        cred(creds, "secret_access_key_env", getenv_fn, &d->t.secret_access_key);
        cred(creds, "session_token_env", getenv_fn, &d->t.session_token);
        if (strcmp(provider, "openai") == 0 && json_object_get(creds, "bearer_token_env")) {
            deploy_free(d);
            return pw_error_set(err, PW_ERR_INVALID, ptr,
                                "%s/credentials: bearer_token_env is for bedrock; openai "
                                "takes api_key_env", ptr);
        }
    }
    json_t *price = json_object_get(o, "price");
    if (price) {
        d->price_in = llround(json_number_value(json_object_get(price, "input")) * 1e6);
        d->price_out = llround(json_number_value(json_object_get(price, "output")) * 1e6);
    }
    json_t *v;
    if ((v = json_object_get(o, "upstream_stream")))
        d->upstream_stream = json_is_true(v);
    if ((v = json_object_get(o, "retries")))
        d->retries = (int)json_integer_value(v);
    read_timeouts(json_object_get(o, "timeouts"), &d->connect_ms, &d->first_byte_ms,
                  &d->total_ms);
    if (!d->t.base_url || (region && !d->t.region)) {
        deploy_free(d);
        return pw_error_set(err, PW_ERR_NOMEM, ptr, "%s: out of memory", ptr);
    }
    *out = d;
    return PW_OK;
}

/* JSON pointer escaping of one reference token (RFC 6901). */
static void ptr_join(char *buf, size_t size, const char *base, const char *token)
{
    size_t n = (size_t)snprintf(buf, size, "%s/", base);
    for (const char *p = token; *p && n + 3 < size; p++) {
        if (*p == '~' || *p == '/') {
            buf[n++] = '~';
            buf[n++] = *p == '~' ? '0' : '1';
        } else {
            buf[n++] = *p;
        }
    }
    buf[n < size ? n : size - 1] = '\0';
}

static enum pw_err build_aliases(struct bridge_config *cfg, const struct globals *g,
                                 json_t *models, const char *(*getenv_fn)(const char *),
                                 struct pw_error *err)
{
    size_t n = json_object_size(models);
    if (!n)
        return PW_OK;
    cfg->aliases = calloc(n, sizeof *cfg->aliases);
    if (!cfg->aliases)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    /* Own deployments first (fallbacks may name aliases further down). */
    const char *name;
    json_t *a;
    size_t *own = calloc(n, sizeof *own);
    if (!own)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    enum pw_err rc = PW_OK;
    json_object_foreach(models, name, a) {
        struct bridge_alias *al = &cfg->aliases[cfg->naliases];
        char ptr[PW_ERROR_POINTER_MAX];
        ptr_join(ptr, sizeof ptr, "/models", name);
        al->name = strdup(name);
        json_t *deps = json_object_get(a, "deployments");
        al->deps = calloc(json_array_size(deps) + 1, sizeof *al->deps);
        cfg->naliases++;
        if (!al->name || !al->deps) {
            rc = pw_error_set(err, PW_ERR_NOMEM, ptr, "%s: out of memory", ptr);
            break;
        }
        const char *mode = json_string_value(json_object_get(a, "context"));
        al->has_mode = mode && bridge_mode_parse(mode, &al->mode);
        size_t i;
        json_t *dj;
        json_array_foreach(deps, i, dj) {
            char dptr[PW_ERROR_POINTER_MAX + 64];
            snprintf(dptr, sizeof dptr, "%s/deployments/%zu", ptr, i);
            struct bridge_deploy *d = NULL;
            rc = build_deploy(cfg, g, dj, dptr, getenv_fn, &d, err);
            if (rc != PW_OK)
                break;
            if (!pool_add(cfg, d)) {
                deploy_free(d);
                rc = pw_error_set(err, PW_ERR_NOMEM, dptr, "%s: out of memory", dptr);
                break;
            }
            al->deps[al->ndeps++] = d;
            const char *dmode = json_string_value(json_object_get(dj, "context"));
            if (i == 0 && !al->has_mode && dmode)
                al->has_mode = bridge_mode_parse(dmode, &al->mode);
        }
        if (rc != PW_OK)
            break;
        own[cfg->naliases - 1] = al->ndeps;
    }
    /* Then fallbacks: the named aliases' own deployments, appended. */
    size_t ai = 0;
    json_object_foreach(models, name, a) {
        if (rc != PW_OK)
            break;
        struct bridge_alias *al = &cfg->aliases[ai];
        size_t idx;
        json_t *fb;
        json_array_foreach(json_object_get(a, "fallbacks"), idx, fb) {
            char ptr[PW_ERROR_POINTER_MAX], fptr[PW_ERROR_POINTER_MAX + 64];
            ptr_join(ptr, sizeof ptr, "/models", name);
            snprintf(fptr, sizeof fptr, "%s/fallbacks/%zu", ptr, idx);
            const char *fname = json_string_value(fb);
            size_t k = 0;
            while (k < cfg->naliases && strcmp(cfg->aliases[k].name, fname) != 0)
                k++;
            if (k == cfg->naliases) {
                rc = pw_error_set(err, PW_ERR_INVALID, fptr, "%s: unknown model alias '%s'",
                                  fptr, fname);
                break;
            }
            if (k == ai) {
                rc = pw_error_set(err, PW_ERR_INVALID, fptr, "%s: '%s' falls back to itself",
                                  fptr, fname);
                break;
            }
            struct bridge_alias *to = &cfg->aliases[k];
            struct bridge_deploy **nd =
                realloc(al->deps, (al->ndeps + own[k] + 1) * sizeof *nd);
            if (!nd) {
                rc = pw_error_set(err, PW_ERR_NOMEM, fptr, "%s: out of memory", fptr);
                break;
            }
            al->deps = nd;
            for (size_t j = 0; j < own[k]; j++) {
                bool dup = false;
                for (size_t m = 0; m < al->ndeps; m++)
                    dup = dup || al->deps[m] == to->deps[j];
                if (!dup)
                    al->deps[al->ndeps++] = to->deps[j];
            }
        }
        ai++;
    }
    free(own);
    return rc;
}

static struct pw_jsonschema *schema_compile(struct pw_error *err)
{
    json_error_t je;
    json_t *doc = json_loadb((const char *)bridge_config_schema, bridge_config_schema_len, 0,
                             &je);
    if (!doc) {
        pw_error_set(err, PW_ERR_INTERNAL, NULL, "config schema: %s", je.text);
        return NULL;
    }
    struct pw_jsonschema *s = pw_jsonschema_compile(doc, err);
    json_decref(doc); /* the compiled form keeps its own reference */
    return s;
}

static enum pw_err env_defaults(struct bridge_config *cfg,
                                const char *(*getenv_fn)(const char *), struct pw_error *err)
{
    const char *region = env(getenv_fn, "AWS_REGION");
    if (!region)
        region = env(getenv_fn, "AWS_DEFAULT_REGION");
    const char *endpoint = env(getenv_fn, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME");
    if (!endpoint)
        endpoint = env(getenv_fn, "AWS_ENDPOINT_URL");
    const char *base = env(getenv_fn, "OPENAI_BASE_URL");
    cfg->openai_base = strdup(base ? base : OPENAI_DEFAULT_BASE);
    cfg->openai_key = dup_or_null(env(getenv_fn, "OPENAI_API_KEY"));
    cfg->aws_region = strdup(region ? region : "us-east-1");
    cfg->aws_endpoint = dup_or_null(endpoint);
    cfg->aws_key_id = dup_or_null(env(getenv_fn, "AWS_ACCESS_KEY_ID"));
    cfg->aws_secret = dup_or_null(env(getenv_fn, "AWS_SECRET_ACCESS_KEY"));
    cfg->aws_token = dup_or_null(env(getenv_fn, "AWS_SESSION_TOKEN"));
    cfg->aws_bearer = dup_or_null(env(getenv_fn, "AWS_BEARER_TOKEN_BEDROCK"));
    if (!cfg->openai_base || !cfg->aws_region)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    return PW_OK;
}

/* The globals of the file (defaults when absent). */
static struct globals read_globals(struct bridge_config *cfg, json_t *doc)
{
    struct globals g = {DEF_RETRIES, DEF_CONNECT_MS, DEF_FIRST_BYTE_MS, DEF_TOTAL_MS, 0, 0};
    cfg->passthrough = true;
    cfg->backoff_base_ms = DEF_BACKOFF_BASE_MS;
    cfg->backoff_max_ms = DEF_BACKOFF_MAX_MS;
    cfg->max_retry_after_ms = DEF_MAX_RETRY_AFTER_MS;
    if (!doc)
        return g;
    json_t *v;
    if ((v = json_object_get(doc, "passthrough")))
        cfg->passthrough = json_is_true(v);
    if ((v = json_object_get(doc, "retries")))
        g.retries = (int)json_integer_value(v);
    read_timeouts(json_object_get(doc, "timeouts"), &g.connect_ms, &g.first_byte_ms,
                  &g.total_ms);
    json_t *bo = json_object_get(doc, "backoff");
    if ((v = json_object_get(bo, "base_ms")))
        cfg->backoff_base_ms = (int)json_integer_value(v);
    if ((v = json_object_get(bo, "max_ms")))
        cfg->backoff_max_ms = (int)json_integer_value(v);
    if ((v = json_object_get(bo, "max_retry_after_ms")))
        cfg->max_retry_after_ms = json_integer_value(v);
    json_t *br = json_object_get(doc, "breaker");
    if ((v = json_object_get(br, "failures")))
        g.threshold = (int)json_integer_value(v);
    if ((v = json_object_get(br, "cooldown_ms")))
        g.cooldown_ms = (int)json_integer_value(v);
    return g;
}

/* The globals kept for deployments made later (prefix routing). */
static void keep_globals(struct bridge_config *cfg, const struct globals *g)
{
    cfg->def_retries = g->retries;
    cfg->def_connect_ms = g->connect_ms;
    cfg->def_first_byte_ms = g->first_byte_ms;
    cfg->def_total_ms = g->total_ms;
    cfg->breaker_failures = g->threshold;
    cfg->breaker_cooldown_ms = g->cooldown_ms;
}

enum pw_err bridge_config_build(json_t *doc, const char *path,
                                const char *(*getenv_fn)(const char *),
                                struct bridge_config **out, struct pw_error *err)
{
    *out = NULL;
    struct bridge_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    struct pw_error e = {0};
    enum pw_err rc = env_defaults(cfg, getenv_fn, &e);
    if (rc == PW_OK && path && !(cfg->path = strdup(path)))
        rc = pw_error_set(&e, PW_ERR_NOMEM, NULL, "out of memory");
    if (rc == PW_OK && doc) {
        struct pw_jsonschema *s = schema_compile(&e);
        if (!s) {
            rc = e.code;
        } else {
            struct pw_error ve = {0};
            rc = pw_jsonschema_validate(s, doc, &ve);
            pw_jsonschema_free(s);
            /* The validator names the field ("models.chat.provider: ..."); the
             * pointer says the same, so keep only the rule. */
            const char *rule = strstr(ve.message, ": ");
            if (rc != PW_OK)
                pw_error_set(&e, rc, ve.pointer, "%s: %s", ve.pointer[0] ? ve.pointer : "/",
                             rule ? rule + 2 : ve.message);
        }
    }
    struct globals g = read_globals(cfg, doc);
    keep_globals(cfg, &g);
    if (rc == PW_OK && doc)
        rc = build_aliases(cfg, &g, json_object_get(doc, "models"), getenv_fn, &e);
    if (rc != PW_OK) {
        bridge_config_free(cfg);
        return pw_error_set(err, rc, e.pointer, "%s", e.message);
    }
    *out = cfg;
    return PW_OK;
}

static const char *real_getenv(const char *name) { return getenv(name); }

enum pw_err bridge_config_load(const char *path, struct bridge_config **out,
                               struct pw_error *err)
{
    *out = NULL;
    json_t *doc = NULL;
    if (path) {
        json_error_t je;
        doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!doc)
            return pw_error_set(err, PW_ERR_PARSE, "", "%s: line %d: %s", path, je.line,
                                je.text);
    }
    struct pw_error e = {0};
    enum pw_err rc = bridge_config_build(doc, path, real_getenv, out, &e);
    json_decref(doc);
    if (rc != PW_OK)
        return pw_error_set(err, rc, e.pointer, "%s: %s", path, e.message);
    return PW_OK;
}

const struct bridge_alias *bridge_config_route(struct bridge_config *cfg, const char *model,
                                               struct pw_error *err)
{
    for (size_t i = 0; i < cfg->naliases; i++)
        if (strcmp(cfg->aliases[i].name, model) == 0)
            return &cfg->aliases[i];
    const char *slash = strchr(model, '/');
    const char *provider = NULL;
    if (cfg->passthrough && slash && slash[1]) {
        if ((size_t)(slash - model) == 6 && strncmp(model, "openai", 6) == 0)
            provider = "openai";
        else if ((size_t)(slash - model) == 7 && strncmp(model, "bedrock", 7) == 0)
            provider = "bedrock";
    }
    if (!provider) {
        pw_error_set(err, PW_ERR_NOT_FOUND, "/model",
                     "The model '%s' does not exist or you do not have access to it.", model);
        return NULL;
    }
    for (size_t i = 0; i < cfg->ndyn; i++)
        if (strcmp(cfg->dyn[i]->name, model) == 0)
            return cfg->dyn[i];
    if (cfg->ndyn == MAX_DYNAMIC) {
        pw_error_set(err, PW_ERR_TOO_LARGE, "/model",
                     "too many distinct model names routed by prefix (%d)", MAX_DYNAMIC);
        return NULL;
    }
    struct globals g = {cfg->def_retries,      cfg->def_connect_ms,   cfg->def_first_byte_ms,
                        cfg->def_total_ms,     cfg->breaker_failures, cfg->breaker_cooldown_ms};
    struct bridge_alias *al = calloc(1, sizeof *al);
    struct bridge_alias **nd = realloc(cfg->dyn, (cfg->ndyn + 1) * sizeof *nd);
    if (nd)
        cfg->dyn = nd;
    struct bridge_deploy *d = al && nd ? deploy_default(cfg, &g, provider, slash + 1) : NULL;
    if (al) {
        al->name = strdup(model);
        al->deps = calloc(1, sizeof *al->deps);
    }
    if (!d || !al->name || !al->deps || !pool_add(cfg, d)) {
        deploy_free(d);
        if (al)
            alias_clear(al);
        free(al);
        pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    al->deps[0] = d;
    al->ndeps = 1;
    cfg->dyn[cfg->ndyn++] = al;
    return al;
}
