/*
 * Model prices and money: the built-in price table (schema/prices.json,
 * embedded at build time), configuration overrides, the cost of a call in
 * integer micro-dollars, and dollars <-> micro-dollars as text.
 *
 * Prices are kept as micro-dollars per million tokens (USD 2.50 per million
 * = 2,500,000), so a call's cost is one integer sum divided by a million,
 * rounded half up once at the end: no float ever touches a balance. Float
 * enters only when the JSON table is read, rounded to the nearest
 * micro-dollar per million tokens (exact for every list price, which have
 * at most six decimals).
 *
 * Look-up: the exact id, else the id without a "provider/" or cross-region
 * Bedrock prefix ("us.", "eu.", "apac.", "global."...), else the longest
 * entry that the id extends with "-<digit>..." (dated snapshots:
 * gpt-4o-mini-2024-07-18 is priced as gpt-4o-mini).
 *
 * SPDX-License-Identifier: MIT
 */
#include "access/access-int.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PRICE_USD 1000000.0 /* per million tokens: a typo guard */

static int by_model(const void *a, const void *b)
{
    return strcmp(((const struct access_price *)a)->model,
                  ((const struct access_price *)b)->model);
}

static enum pw_err usd_member(const json_t *entry, const char *name, const char *where,
                              bool required, int64_t *out, struct pw_error *err)
{
    json_t *v = json_object_get(entry, name);
    char ptr[PW_ERROR_POINTER_MAX];
    snprintf(ptr, sizeof ptr, "%s/%s", where, name);
    if (!v) {
        if (required)
            return pw_error_set(err, PW_ERR_INVALID, ptr, "%s: required", ptr);
        return PW_OK;
    }
    double d = json_number_value(v);
    if (!json_is_number(v) || !(d >= 0) || d > MAX_PRICE_USD)
        return pw_error_set(err, PW_ERR_INVALID, ptr,
                            "%s: must be USD per million tokens, 0 to %.0f", ptr,
                            MAX_PRICE_USD);
    *out = llround(d * 1e6);
    return PW_OK;
}

/* Adds or replaces the price of one model. */
static enum pw_err put_price(struct access_config *c, const char *model, const json_t *entry,
                             const char *where, struct pw_error *err)
{
    if (!json_is_object(entry))
        return pw_error_set(err, PW_ERR_INVALID, where, "%s: must be an object", where);
    struct access_price p = {.cached = -1};
    enum pw_err rc = usd_member(entry, "input", where, true, &p.input, err);
    if (!rc)
        rc = usd_member(entry, "output", where, true, &p.output, err);
    if (!rc)
        rc = usd_member(entry, "cachedInput", where, false, &p.cached, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < c->nprices; i++) {
        if (strcmp(c->prices[i].model, model) == 0) {
            p.model = c->prices[i].model;
            c->prices[i] = p;
            return PW_OK;
        }
    }
    struct access_price *grown = realloc(c->prices, (c->nprices + 1) * sizeof *grown);
    if (!grown)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    c->prices = grown;
    p.model = strdup(model);
    if (!p.model)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
    c->prices[c->nprices++] = p;
    return PW_OK;
}

static enum pw_err put_all(struct access_config *c, const json_t *models, const char *base,
                           struct pw_error *err)
{
    if (!json_is_object(models))
        return pw_error_set(err, PW_ERR_INVALID, base, "%s: must be an object", base);
    const char *model;
    json_t *entry;
    json_object_foreach((json_t *)models, model, entry) {
        char where[PW_ERROR_POINTER_MAX];
        snprintf(where, sizeof where, "%s/%s", base, model);
        enum pw_err rc = put_price(c, model, entry, where, err);
        if (rc)
            return rc;
    }
    return PW_OK;
}

enum pw_err access_prices_load(struct access_config *c, const json_t *override,
                               struct pw_error *err)
{
    json_error_t je;
    json_t *builtin = json_loadb((const char *)access_prices_json, access_prices_json_len, 0,
                                 &je);
    if (!builtin)
        return pw_error_set(err, PW_ERR_INTERNAL, NULL, "built-in prices: %s", je.text);
    enum pw_err rc = put_all(c, json_object_get(builtin, "models"), "prices.json/models", err);
    json_decref(builtin);
    if (!rc && override)
        rc = put_all(c, override, "/prices", err);
    if (!rc)
        qsort(c->prices, c->nprices, sizeof c->prices[0], by_model);
    return rc;
}

static const struct access_price *exact(const struct access_config *c, const char *model)
{
    struct access_price key = {.model = (char *)model};
    return bsearch(&key, c->prices, c->nprices, sizeof c->prices[0], by_model);
}

static const char *const regions[] = {"us.", "eu.", "apac.", "global.", "us-gov.", "ca.",
                                      "jp.", "au."};

static const char *strip_prefixes(const char *model)
{
    const char *slash = strchr(model, '/');
    if (slash)
        model = slash + 1;
    for (size_t i = 0; i < sizeof regions / sizeof regions[0]; i++)
        if (strncmp(model, regions[i], strlen(regions[i])) == 0)
            return model + strlen(regions[i]);
    return model;
}

const struct access_price *access_price_find(const struct access_config *c,
                                             const char *model)
{
    if (!model || !*model)
        return NULL;
    const struct access_price *p = exact(c, model);
    if (p)
        return p;
    model = strip_prefixes(model);
    p = exact(c, model);
    if (p)
        return p;
    const struct access_price *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < c->nprices; i++) {
        size_t n = strlen(c->prices[i].model);
        if (n > best_len && strncmp(model, c->prices[i].model, n) == 0 && model[n] == '-' &&
            isdigit((unsigned char)model[n + 1])) {
            best = &c->prices[i];
            best_len = n;
        }
    }
    return best;
}

int64_t access_price_cost(const struct access_price *p, int64_t prompt, int64_t completion,
                          int64_t cached)
{
    if (!p)
        return 0;
    if (prompt < 0)
        prompt = 0;
    if (completion < 0)
        completion = 0;
    if (cached < 0)
        cached = 0;
    if (cached > prompt)
        cached = prompt;
    int64_t cached_rate = p->cached >= 0 ? p->cached : p->input;
    /* Micro-dollars per million tokens x tokens. A client chooses the
     * counts a reservation is priced from (max_tokens), so every step
     * saturates at INT64_MAX rather than wrapping into a negative cost. */
    int64_t terms[3], sum = 0;
    bool over = __builtin_mul_overflow(prompt - cached, p->input, &terms[0]) ||
                __builtin_mul_overflow(cached, cached_rate, &terms[1]) ||
                __builtin_mul_overflow(completion, p->output, &terms[2]);
    for (int i = 0; i < 3 && !over; i++)
        over = __builtin_add_overflow(sum, terms[i], &sum);
    if (over || sum > INT64_MAX - 500000)
        return INT64_MAX / 1000000;
    return (sum + 500000) / 1000000;
}

int64_t pw_access_cost(struct pw_access *acc, const char *model, int64_t prompt,
                       int64_t completion, int64_t cached)
{
    return access_price_cost(access_price_find(&acc->cfg, model), prompt, completion, cached);
}

void pw_access_format_usd(int64_t micros, char *out, size_t size)
{
    const char *sign = micros < 0 ? "-" : "";
    uint64_t m = micros < 0 ? (uint64_t)0 - (uint64_t)micros : (uint64_t)micros;
    snprintf(out, size, "%s%" PRIu64 ".%06" PRIu64, sign, m / 1000000, m % 1000000);
}

bool pw_access_parse_usd(const char *s, int64_t *micros)
{
    if (!s || !isdigit((unsigned char)*s))
        return false;
    int64_t whole = 0, frac = 0;
    const char *p = s;
    for (; isdigit((unsigned char)*p); p++) {
        whole = whole * 10 + (*p - '0');
        if (whole > 1000000000000LL)
            return false;
    }
    if (*p == '.') {
        p++;
        int digits = 0;
        for (; isdigit((unsigned char)*p); p++, digits++) {
            if (digits == 6)
                return false; /* finer than a micro-dollar */
            frac = frac * 10 + (*p - '0');
        }
        if (digits == 0)
            return false;
        for (; digits < 6; digits++)
            frac *= 10;
    }
    if (*p)
        return false;
    *micros = whole * 1000000 + frac;
    return true;
}
