/*
 * Money and availability: the small value rules every other catalog file
 * relies on.
 *
 * Prices are integer minor units of their currency (1999 = 19.99 USD).
 * Decimal text is converted digit by digit, never through a double, so
 * "19.99" is exactly 1999 and "0.1" + "0.2" problems cannot arise; a price
 * with more fraction digits than the currency has ("19.999 USD") is
 * refused rather than rounded. The number of fraction digits comes from
 * ISO 4217 (JPY 0, KWD 3, most 2). A price that arrives as a JSON number
 * (an import row, an MCP tool argument) goes through the same parser: it is
 * first printed back as the decimal it was written as (catalog_json_decimal).
 *
 * Availability has three canonical values; the stock thresholds that map a
 * stock level onto them (CATALOG_LIMITED_MAX) live in catalog-int.h.
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/catalog-int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ISO 4217 currencies whose minor unit is not 1/100. */
static const struct {
    const char code[4];
    int exponent;
} exponents[] = {
    {"BIF", 0}, {"CLP", 0}, {"DJF", 0}, {"GNF", 0}, {"ISK", 0}, {"JPY", 0},
    {"KMF", 0}, {"KRW", 0}, {"PYG", 0}, {"RWF", 0}, {"UGX", 0}, {"UYI", 0},
    {"VND", 0}, {"VUV", 0}, {"XAF", 0}, {"XOF", 0}, {"XPF", 0},
    {"BHD", 3}, {"IQD", 3}, {"JOD", 3}, {"KWD", 3}, {"LYD", 3}, {"OMR", 3},
    {"TND", 3},
};

int catalog_currency_exponent(const char *currency)
{
    for (size_t i = 0; i < sizeof exponents / sizeof exponents[0]; i++)
        if (currency && strcmp(currency, exponents[i].code) == 0)
            return exponents[i].exponent;
    return 2;
}

/* Largest significant digits we accept: 10^16 minor units is far beyond any
 * price and well inside int64_t. */
#define MAX_DIGITS 16

bool catalog_parse_decimal(const char *s, int exponent, int64_t *out, const char **reason)
{
    char digits[64];
    size_t nd = 0;
    int scale = 0;     /* value = digits * 10^scale */
    bool any = false;  /* saw a mantissa digit */

    while (isspace((unsigned char)*s))
        s++;
    if (*s == '-') {
        *reason = "negative";
        return false;
    }
    if (*s == '+')
        s++;
    for (; isdigit((unsigned char)*s); s++) {
        any = true;
        if (nd == 0 && *s == '0')
            continue; /* leading zero */
        if (nd >= sizeof digits - 1)
            goto too_large;
        digits[nd++] = *s;
    }
    if (*s == '.') {
        for (s++; isdigit((unsigned char)*s); s++) {
            any = true;
            scale--;
            if (scale < -40) {
                *reason = "has too many decimal places";
                return false;
            }
            if (nd == 0 && *s == '0')
                continue;
            if (nd >= sizeof digits - 1)
                goto too_large;
            digits[nd++] = *s;
        }
    }
    if (!any) {
        *reason = "not a number";
        return false;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        int sign = 1, e = 0;
        if (*s == '+' || *s == '-')
            sign = *s++ == '-' ? -1 : 1;
        if (!isdigit((unsigned char)*s)) {
            *reason = "not a number";
            return false;
        }
        for (; isdigit((unsigned char)*s); s++)
            if (e < 1000)
                e = e * 10 + (*s - '0');
        scale += sign * e;
    }
    while (isspace((unsigned char)*s))
        s++;
    if (*s) {
        *reason = "not a number";
        return false;
    }
    /* Trailing zeros carry no value: 19.900 == 19.9. */
    while (nd > 0 && digits[nd - 1] == '0') {
        nd--;
        scale++;
    }
    if (nd == 0) {
        *out = 0;
        return true;
    }
    int shift = scale + exponent;
    if (shift < 0) {
        *reason = exponent == 0 ? "has decimals but the currency has no minor unit"
                                : "has more decimal places than the currency allows";
        return false;
    }
    if ((int)nd + shift > MAX_DIGITS)
        goto too_large;
    int64_t v = 0;
    for (size_t i = 0; i < nd; i++)
        v = v * 10 + (digits[i] - '0');
    for (int i = 0; i < shift; i++)
        v *= 10;
    *out = v;
    return true;
too_large:
    *reason = "too large";
    return false;
}

bool catalog_json_decimal(json_t *v, char *buf, size_t n)
{
    if (json_is_integer(v)) {
        snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return true;
    }
    if (!json_is_real(v))
        return false;
    /* The JSON text is gone once jansson has read it into a double, but a
     * decimal of up to 15 significant digits comes back exactly from "%.15g"
     * (a double holds 15.9 digits): "19.99" reads as 19.989999999999998 and
     * prints as 19.99. Doubles that need more digits to read back the same
     * get 16 or 17, so what was sent is never silently rounded to fit. */
    double d = json_real_value(v);
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, n, "%.*g", digits, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    return true;
}

bool catalog_price_from_json(json_t *v, const char *currency, int64_t *minor,
                             const char **reason)
{
    char text[64];
    if (!catalog_json_decimal(v, text, sizeof text)) {
        *reason = "not a number";
        return false;
    }
    return catalog_parse_decimal(text, catalog_currency_exponent(currency), minor, reason);
}

enum pw_err pw_catalog_price_parse(const char *decimal, const char *currency,
                                   int64_t *minor, struct pw_error *err)
{
    const char *reason = NULL;
    if (!decimal)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "price: missing");
    if (!catalog_parse_decimal(decimal, catalog_currency_exponent(currency ? currency : "USD"),
                               minor, &reason))
        return pw_error_set(err, PW_ERR_INVALID, NULL, "price: %s", reason);
    return PW_OK;
}

void catalog_format_decimal(int64_t minor, int exponent, char *buf, size_t n)
{
    const char *sign = minor < 0 ? "-" : "";
    uint64_t u = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
    if (exponent <= 0) {
        snprintf(buf, n, "%s%" PRIu64, sign, u);
        return;
    }
    if (exponent > 9)
        exponent = 9; /* no currency has more than 3 */
    uint64_t unit = 1;
    for (int i = 0; i < exponent; i++)
        unit *= 10;
    snprintf(buf, n, "%s%" PRIu64 ".%0*" PRIu64, sign, u / unit, exponent, u % unit);
}

void catalog_format_money(int64_t minor, const char *currency, char *buf, size_t n)
{
    char amount[48];
    catalog_format_decimal(minor, catalog_currency_exponent(currency), amount, sizeof amount);
    snprintf(buf, n, "%s %s", amount, currency);
}

const char *catalog_availability_from_stock(int64_t stock)
{
    if (stock <= 0)
        return "out-of-stock";
    if (stock <= CATALOG_LIMITED_MAX)
        return "limited";
    return "in-stock";
}

/* Accepted spellings, compared after lower-casing and mapping ' ' and '_'
 * to '-'. */
static const struct {
    const char *spelling;
    const char *canonical;
} spellings[] = {
    {"in-stock", "in-stock"},         {"instock", "in-stock"},
    {"available", "in-stock"},        {"limited", "limited"},
    {"low-stock", "limited"},         {"limited-stock", "limited"},
    {"out-of-stock", "out-of-stock"}, {"outofstock", "out-of-stock"},
    {"sold-out", "out-of-stock"},     {"unavailable", "out-of-stock"},
};

const char *catalog_availability_parse(const char *s)
{
    char norm[32];
    size_t n = 0;
    if (!s)
        return NULL;
    while (isspace((unsigned char)*s))
        s++;
    for (; *s && n < sizeof norm - 1; s++) {
        unsigned char c = (unsigned char)*s;
        norm[n++] = (c == ' ' || c == '_') ? '-' : (char)tolower(c);
    }
    if (*s)
        return NULL; /* longer than any spelling */
    while (n > 0 && norm[n - 1] == '-')
        n--;
    norm[n] = '\0';
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++)
        if (strcmp(norm, spellings[i].spelling) == 0)
            return spellings[i].canonical;
    return NULL;
}
