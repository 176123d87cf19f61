/*
 * Bridge configuration and model routing: what is the same for every
 * provider (aliases, fallbacks, retries, timeouts, backoff, breaker
 * settings, prices, context modes). What a provider needs of its own (its
 * environment variables, a deployment's region, base_url and credentials)
 * its row reads (provider.h: defaults_new, target_new), so this file never
 * names a provider.
 *
 * Sources: the environment always (each provider row reads its own
 * variables once, here at build time), and optionally a JSON file
 * (`serve --config FILE`) checked against the embedded
 * schema/config.schema.json with the project's validator, then for what a
 * schema cannot say (fallbacks naming real aliases, credentials a provider
 * does not take). Every error names the JSON pointer, so start-up fails
 * with "FILE: /models/chat/deployments/0/provider: reason".
 *
 * Routing: a model name is an alias of the file (its deployments in order,
 * then those of its fallbacks), or a provider row's built-in model
 * ("pennyworth-offline", always there), or, unless the file turns
 * passthrough off, a provider's prefix and a model id ("openai/NAME",
 * "bedrock/MODEL_ID") routed to one deployment built from that provider's
 * environment defaults. Those are made on first use and kept (with
 * their breakers) up to MAX_DYNAMIC names.
 *
 * The default model (what a client that names none of its own should ask
 * for) follows what is configured: the file's first alias, else the first
 * row the environment configures, else a built-in model, so with no
 * credentials at all the offline model is the default.
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

static void deploy_free(struct bridge_deploy *d)
{
    if (!d)
        return;
    if (d->t)
        d->t->provider->target_free(d->t);
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
    const struct bridge_provider *p;
    for (size_t i = 0; cfg->defaults && (p = bridge_provider_at(i)); i++)
        p->defaults_free(cfg->defaults[i]);
    free(cfg->defaults);
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

static char *label_of(const char *provider, const char *model)
{
    size_t n = strlen(provider) + strlen(model) + 2;
    char *l = malloc(n);
    if (l)
        snprintf(l, n, "%s/%s", provider, model);
    return l;
}

/* The provider's defaults from the environment (borrowed). */
static const void *defaults_of(const struct bridge_config *cfg, const struct bridge_provider *p)
{
    const struct bridge_provider *q;
    for (size_t i = 0; (q = bridge_provider_at(i)); i++)
        if (q == p)
            return cfg->defaults[i];
    return NULL;
}

/* A deployment of `p`: its provider's target from the environment
 * defaults and `o`, the file's deployment object (NULL for prefix
 * routing), and the globals, which the file's own members override after
 * (build_deploy). */
static enum pw_err deploy_new(const struct bridge_config *cfg, const struct globals *g,
                              const struct bridge_provider *p, const char *model, json_t *o,
                              bridge_getenv_fn getenv_fn, const char *ptr,
                              struct bridge_deploy **out, struct pw_error *err)
{
    *out = NULL;
    struct bridge_deploy *d = calloc(1, sizeof *d);
    if (!d)
        return pw_error_set(err, PW_ERR_NOMEM, ptr, "%s: out of memory", ptr);
    enum pw_err rc = p->target_new(defaults_of(cfg, p), model, o, getenv_fn, ptr, &d->t, err);
    if (rc != PW_OK) {
        free(d);
        return rc;
    }
    d->label = label_of(p->name, model);
    d->upstream_stream = true;
    d->retries = g->retries;
    d->connect_ms = g->connect_ms;
    d->first_byte_ms = g->first_byte_ms;
    d->total_ms = g->total_ms;
    d->breaker.threshold = g->threshold;
    d->breaker.cooldown_ms = g->cooldown_ms;
    if (!d->label) {
        deploy_free(d);
        return pw_error_set(err, PW_ERR_NOMEM, ptr, "%s: out of memory", ptr);
    }
    *out = d;
    return PW_OK;
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

static enum pw_err build_deploy(struct bridge_config *cfg, const struct globals *g, json_t *o,
                                const char *ptr, bridge_getenv_fn getenv_fn,
                                struct bridge_deploy **out, struct pw_error *err)
{
    /* The schema has checked the name against the table's (its enum). */
    const struct bridge_provider *p =
        bridge_provider_find(json_string_value(json_object_get(o, "provider")));
    const char *model = json_string_value(json_object_get(o, "model"));
    if (!p)
        return pw_error_set(err, PW_ERR_INVALID, ptr, "%s/provider: unknown provider", ptr);
    struct bridge_deploy *d = NULL;
    enum pw_err rc = deploy_new(cfg, g, p, model, o, getenv_fn, ptr, &d, err);
    if (rc != PW_OK)
        return rc;
    json_t *price = json_object_get(o, "price");
    if (price) {
        d->priced = true;
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
                                 json_t *models, bridge_getenv_fn getenv_fn,
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

/* Every provider's environment defaults, one slot per table row. */
static enum pw_err env_defaults(struct bridge_config *cfg, bridge_getenv_fn getenv_fn,
                                struct pw_error *err)
{
    size_t n = 0;
    while (bridge_provider_at(n))
        n++;
    if (!(cfg->defaults = calloc(n, sizeof *cfg->defaults)))
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    enum pw_err rc = PW_OK;
    for (size_t i = 0; rc == PW_OK && i < n; i++)
        rc = bridge_provider_at(i)->defaults_new(getenv_fn, &cfg->defaults[i], err);
    return rc;
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

enum pw_err bridge_config_build(json_t *doc, const char *path, bridge_getenv_fn getenv_fn,
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
    /* A built-in model first (always there), then prefix routing. */
    const struct bridge_provider *p = bridge_provider_builtin(model);
    const char *upstream = model;
    if (!p && cfg->passthrough && (p = bridge_provider_for_model(model)))
        upstream = model + strlen(p->prefix);
    if (!p) {
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
    struct bridge_deploy *d = NULL;
    if (al && nd)
        deploy_new(cfg, &g, p, upstream, NULL, NULL, "/model", &d, NULL);
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

void bridge_config_default_model(const struct bridge_config *cfg, char *buf, size_t size)
{
    buf[0] = '\0';
    if (cfg->naliases) {
        snprintf(buf, size, "%s", cfg->aliases[0].name);
        return;
    }
    const struct bridge_provider *p;
    for (size_t i = 0; cfg->passthrough && (p = bridge_provider_at(i)); i++)
        if (p->configured && p->prefix && p->default_model && p->configured(cfg->defaults[i])) {
            snprintf(buf, size, "%s%s", p->prefix, p->default_model);
            return;
        }
    for (size_t i = 0; (p = bridge_provider_at(i)); i++)
        if (p->builtin) {
            snprintf(buf, size, "%s", p->builtin);
            return;
        }
}
