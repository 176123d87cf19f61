/*
 * One input record -> one product: the shared front door of the importer
 * and of pw_catalog_upsert().
 *
 * Three shapes are accepted, told apart key by key rather than up front, so
 * a file may even mix them:
 *
 *   seed       productId, name, category, price (major units, "19.99" or
 *              19.99), brand, availability, description, rating; optional
 *              stock, currency, sku, tags, attributes
 *   DummyJSON  id (number), title, availabilityStatus ("In Stock", "Low
 *              Stock", "Out of Stock"), brand may be absent, plus extras
 *   canonical  what pw_catalog_export() writes: id, name, price
 *              {amountMinor, currency} (or priceMinor + currency)
 *
 * Keys we do not model go into `attributes` (weight, dimensions,
 * warrantyInformation, shippingInformation, returnPolicy,
 * minimumOrderQuantity, discountPercentage, thumbnail, a CSV's extra
 * columns...), except the bulky or volatile ones in `skipped` (reviews,
 * images, meta). CSV cells arrive as strings, so every numeric field also
 * accepts a string, and tags may be a JSON array or "a;b;c".
 *
 * Errors name the canonical field ("price", not "priceMinor") and say what
 * is wrong in a few words; the importer prefixes FILE:LINE.
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/catalog-int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys read into product fields. */
static const char *const known[] = {
    "productId", "id", "name", "title", "category", "price", "priceMinor", "currency",
    "brand", "sku", "availability", "availabilityStatus", "stock", "rating",
    "description", "tags", "attributes", "updatedAt",
};

/* Keys dropped: large, or describing the source rather than the product. */
static const char *const skipped[] = {"reviews", "images", "meta"};

static bool fail(struct catalog_row_error *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail(struct catalog_row_error *e, const char *field, const char *fmt, ...)
{
    va_list ap;
    snprintf(e->field, sizeof e->field, "%s", field);
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    return false;
}

static bool in(const char *key, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(key, list[i]) == 0)
            return true;
    return false;
}

size_t catalog_utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* The first of `a`, `b` present and not null. */
static json_t *pick(json_t *row, const char *a, const char *b)
{
    json_t *v = json_object_get(row, a);
    if ((!v || json_is_null(v)) && b)
        v = json_object_get(row, b);
    return v && !json_is_null(v) ? v : NULL;
}

/* A string field: missing/null is *out = NULL (an error if required). */
static bool text(json_t *row, const char *a, const char *b, const char *field,
                 bool required, size_t max_chars, const char **out,
                 struct catalog_row_error *e)
{
    json_t *v = pick(row, a, b);
    *out = NULL;
    if (!v)
        return required ? fail(e, field, "missing") : true;
    if (!json_is_string(v))
        return fail(e, field, "must be a string");
    const char *s = json_string_value(v);
    const char *t = s;
    while (isspace((unsigned char)*t))
        t++;
    if (!*t)
        return required ? fail(e, field, "empty") : true;
    if (catalog_utf8_chars(s) > max_chars)
        return fail(e, field, "longer than %zu characters", max_chars);
    *out = s;
    return true;
}

static bool read_id(json_t *row, struct catalog_product *p, struct catalog_row_error *e)
{
    json_t *v = pick(row, "productId", "id");
    if (!v)
        return fail(e, "id", "missing");
    if (json_is_integer(v)) {
        snprintf(p->idbuf, sizeof p->idbuf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        p->id = p->idbuf;
        return true;
    }
    if (!json_is_string(v))
        return fail(e, "id", "must be a string or an integer");
    const char *s = json_string_value(v);
    if (!*s)
        return fail(e, "id", "empty");
    if (strlen(s) > CATALOG_ID_MAX)
        return fail(e, "id", "longer than %d bytes", CATALOG_ID_MAX);
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return fail(e, "id", "contains control characters");
    if (isspace((unsigned char)s[0]) || isspace((unsigned char)s[strlen(s) - 1]))
        return fail(e, "id", "has leading or trailing spaces");
    p->id = s;
    return true;
}

static bool read_currency(json_t *v, struct catalog_product *p, struct catalog_row_error *e)
{
    if (!v || json_is_null(v))
        return true;
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    if (strlen(s) != 3)
        return fail(e, "currency", "must be a 3-letter ISO 4217 code");
    for (int i = 0; i < 3; i++) {
        if (!isalpha((unsigned char)s[i]))
            return fail(e, "currency", "must be a 3-letter ISO 4217 code");
        p->currency[i] = (char)toupper((unsigned char)s[i]);
    }
    p->currency[3] = '\0';
    return true;
}

/* A JSON number or numeric string as decimal text; false if neither. */
static bool number_text(json_t *v, char *buf, size_t n)
{
    if (json_is_string(v)) {
        snprintf(buf, n, "%s", json_string_value(v));
        return true;
    }
    return catalog_json_decimal(v, buf, n);
}

static bool read_price(json_t *row, struct catalog_product *p, struct catalog_row_error *e)
{
    json_t *price = pick(row, "price", NULL);
    json_t *minor = pick(row, "priceMinor", NULL);
    if (!read_currency(json_object_get(row, "currency"), p, e))
        return false;
    if (json_is_object(price)) { /* canonical {"amountMinor", "currency"} */
        minor = json_object_get(price, "amountMinor");
        if (!read_currency(json_object_get(price, "currency"), p, e))
            return false;
        price = NULL;
        if (!minor)
            return fail(e, "price", "missing amountMinor");
    }
    if (minor) {
        if (!json_is_integer(minor))
            return fail(e, "price", "amountMinor must be an integer");
        if (json_integer_value(minor) < 0)
            return fail(e, "price", "negative");
        p->price_minor = json_integer_value(minor);
        return true;
    }
    if (!price)
        return fail(e, "price", "missing");
    char buf[128];
    const char *reason = NULL;
    if (!number_text(price, buf, sizeof buf))
        return fail(e, "price", "not a number");
    if (!catalog_parse_decimal(buf, catalog_currency_exponent(p->currency), &p->price_minor,
                               &reason))
        return fail(e, "price", "%s", reason);
    return true;
}

static bool read_stock(json_t *row, struct catalog_product *p, struct catalog_row_error *e)
{
    json_t *v = pick(row, "stock", NULL);
    p->stock = -1;
    if (!v)
        return true;
    if (json_is_integer(v)) {
        p->stock = json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
               fabs(json_real_value(v)) < 1e15) {
        p->stock = (int64_t)json_real_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        while (isspace((unsigned char)*end))
            end++;
        if (end == s || *end || errno == ERANGE)
            return fail(e, "stock", "must be a whole number");
        p->stock = n;
    } else {
        return fail(e, "stock", "must be a whole number");
    }
    if (p->stock < 0)
        return fail(e, "stock", "negative");
    return true;
}

static bool read_rating(json_t *row, struct catalog_product *p, struct catalog_row_error *e)
{
    json_t *v = pick(row, "rating", NULL);
    p->rating = -1;
    if (!v)
        return true;
    double r;
    if (json_is_number(v)) {
        r = json_number_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        r = strtod(s, &end);
        while (isspace((unsigned char)*end))
            end++;
        if (end == s || *end || !isfinite(r))
            return fail(e, "rating", "not a number");
    } else {
        return fail(e, "rating", "not a number");
    }
    if (!(r >= 0 && r <= 5))
        return fail(e, "rating", "must be between 0 and 5");
    p->rating = r;
    return true;
}

static bool read_availability(json_t *row, struct catalog_product *p,
                              struct catalog_row_error *e)
{
    json_t *v = pick(row, "availability", "availabilityStatus");
    if (!v) {
        p->availability = p->stock >= 0 ? catalog_availability_from_stock(p->stock)
                                        : "in-stock";
        return true;
    }
    if (!json_is_string(v))
        return fail(e, "availability", "must be a string");
    p->availability = catalog_availability_parse(json_string_value(v));
    if (!p->availability)
        return fail(e, "availability",
                    "unknown value \"%.40s\" (expected in-stock, limited or out-of-stock)",
                    json_string_value(v));
    return true;
}

/* tags: a JSON array of strings, or (from CSV) its text, or "a;b;c". */
static bool read_tags(json_t *row, struct catalog_product *p, struct catalog_row_error *e)
{
    json_t *v = pick(row, "tags", NULL);
    json_t *parsed = NULL;
    json_t *tags = json_array();
    bool ok = false;
    if (!tags)
        return fail(e, "tags", "out of memory");
    if (v && json_is_string(v)) {
        const char *s = json_string_value(v);
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '[') {
            parsed = json_loads(s, 0, NULL);
            if (!parsed) {
                fail(e, "tags", "not a valid JSON array");
                goto out;
            }
            v = parsed;
        } else {
            for (const char *t = s; *t;) {
                const char *end = strchr(t, ';');
                size_t n = end ? (size_t)(end - t) : strlen(t);
                while (n > 0 && isspace((unsigned char)*t)) {
                    t++;
                    n--;
                }
                while (n > 0 && isspace((unsigned char)t[n - 1]))
                    n--;
                if (n > 0)
                    json_array_append_new(tags, json_stringn(t, n));
                t = end ? end + 1 : t + strlen(t);
            }
            v = NULL;
        }
    }
    if (v) {
        size_t i;
        json_t *tag;
        if (!json_is_array(v)) {
            fail(e, "tags", "must be an array of strings");
            goto out;
        }
        json_array_foreach(v, i, tag) {
            if (!json_is_string(tag)) {
                fail(e, "tags", "must be an array of strings");
                goto out;
            }
            if (catalog_utf8_chars(json_string_value(tag)) > CATALOG_SHORT_MAX) {
                fail(e, "tags", "a tag is longer than %d characters", CATALOG_SHORT_MAX);
                goto out;
            }
            json_array_append(tags, tag);
        }
    }
    if (json_array_size(tags) > CATALOG_TAGS_MAX) {
        fail(e, "tags", "more than %d tags", CATALOG_TAGS_MAX);
        goto out;
    }
    p->tags = json_dumps(tags, JSON_COMPACT);
    ok = p->tags != NULL || fail(e, "tags", "out of memory");
out:
    json_decref(parsed);
    json_decref(tags);
    return ok;
}

/* attributes: the given object (or its JSON text), plus unmodelled keys. */
static bool read_attributes(json_t *row, struct catalog_product *p,
                            struct catalog_row_error *e)
{
    json_t *v = pick(row, "attributes", NULL);
    json_t *attrs = NULL;
    if (v && json_is_string(v)) {
        attrs = json_loads(json_string_value(v), 0, NULL);
        if (!json_is_object(attrs)) {
            json_decref(attrs);
            return fail(e, "attributes", "must be a JSON object");
        }
    } else if (v && json_is_object(v)) {
        attrs = json_deep_copy(v);
    } else if (v) {
        return fail(e, "attributes", "must be a JSON object");
    } else {
        attrs = json_object();
    }
    if (!attrs)
        return fail(e, "attributes", "out of memory");
    const char *key;
    json_t *val;
    json_object_foreach(row, key, val) {
        if (in(key, known, sizeof known / sizeof known[0]) ||
            in(key, skipped, sizeof skipped / sizeof skipped[0]) || json_is_null(val) ||
            json_object_get(attrs, key))
            continue;
        json_object_set(attrs, key, val);
    }
    p->attributes = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
    json_decref(attrs);
    return p->attributes != NULL || fail(e, "attributes", "out of memory");
}

bool catalog_row_parse(json_t *row, struct catalog_product *p, struct catalog_row_error *e)
{
    memset(p, 0, sizeof *p);
    memcpy(p->currency, "USD", 4);
    p->stock = -1;
    p->rating = -1;
    p->description = "";
    if (!json_is_object(row))
        return fail(e, "row", "not a JSON object");
    const char *desc;
    if (!read_id(row, p, e) ||
        !text(row, "name", "title", "name", true, CATALOG_NAME_MAX, &p->name, e) ||
        !text(row, "category", NULL, "category", true, CATALOG_SHORT_MAX, &p->category, e) ||
        !read_price(row, p, e) ||
        !text(row, "brand", NULL, "brand", false, CATALOG_SHORT_MAX, &p->brand, e) ||
        !text(row, "sku", NULL, "sku", false, CATALOG_SHORT_MAX, &p->sku, e) ||
        !read_stock(row, p, e) || !read_availability(row, p, e) || !read_rating(row, p, e) ||
        !text(row, "description", NULL, "description", false, CATALOG_DESCRIPTION_MAX,
              &desc, e) ||
        !read_tags(row, p, e) || !read_attributes(row, p, e))
        return false;
    if (desc)
        p->description = desc;
    return true;
}

void catalog_product_clear(struct catalog_product *p)
{
    free(p->tags);
    free(p->attributes);
    p->tags = NULL;
    p->attributes = NULL;
}
