/*
 * JSON value equality and hashing by JSON Schema's data model.
 *
 * Equality is what "enum", "const" and "uniqueItems" need: numbers by value
 * and objects as unordered maps. The hash agrees with it, so uniqueItems can
 * sort by hash and compare only colliding items: an integer that converts
 * to a double without loss hashes as that double (so 1 and 1.0 meet), any
 * other integer hashes by its own bits (no real can equal it), and -0.0
 * hashes as 0.0. Objects combine member hashes with a sum, which does not
 * depend on member order. Pure functions; any thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include "core/jsonvalue.h"

#include <math.h>
#include <string.h>

/* Compare an integer with a real exactly. */
static int cmp_int_real(json_int_t i, double r)
{
    if (r >= 9223372036854775808.0)
        return -1;
    if (r < -9223372036854775808.0)
        return 1;
    double fl = floor(r);
    json_int_t ri = (json_int_t)fl;
    if (i != ri)
        return i < ri ? -1 : 1;
    return fl < r ? -1 : 0;
}

int core_json_numcmp(json_t *a, json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_integer(a))
        return cmp_int_real(json_integer_value(a), json_real_value(b));
    if (json_is_integer(b))
        return -cmp_int_real(json_integer_value(b), json_real_value(a));
    double x = json_real_value(a), y = json_real_value(b);
    return x < y ? -1 : x > y;
}

int core_json_equal(json_t *a, json_t *b, int levels)
{
    if (a == b)
        return 1;
    if (json_is_number(a) && json_is_number(b))
        return core_json_numcmp(a, b) == 0;
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY: {
        if (json_array_size(a) != json_array_size(b))
            return 0;
        if (levels <= 0)
            return -1;
        for (size_t i = 0; i < json_array_size(a); i++) {
            int r = core_json_equal(json_array_get(a, i), json_array_get(b, i), levels - 1);
            if (r != 1)
                return r;
        }
        return 1;
    }
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        if (levels <= 0)
            return -1;
        const char *key;
        json_t *av;
        json_object_foreach(a, key, av) {
            json_t *bv = json_object_get(b, key);
            if (!bv)
                return 0;
            int r = core_json_equal(av, bv, levels - 1);
            if (r != 1)
                return r;
        }
        return 1;
    }
    default:
        return 1; /* true, false, null: the same type is the same value */
    }
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9u;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3u;
    return mix(h);
}

static uint64_t hash_double(double d)
{
    uint64_t u;
    if (d == 0)
        d = 0.0;
    memcpy(&u, &d, sizeof u);
    return mix(u ^ 0x6e756d);
}

int core_json_hash(json_t *v, int levels, uint64_t *out)
{
    uint64_t h = 0, c;
    switch (json_typeof(v)) {
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(v);
        double d = (double)i;
        if (d < 9223372036854775808.0 && (json_int_t)d == i)
            h = hash_double(d);
        else
            h = mix((uint64_t)i ^ 0x696e74);
        break;
    }
    case JSON_REAL:
        h = hash_double(json_real_value(v));
        break;
    case JSON_STRING:
        h = hash_bytes(json_string_value(v), json_string_length(v));
        break;
    case JSON_ARRAY:
        if (levels <= 0)
            return -1;
        h = 0x617272;
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (core_json_hash(json_array_get(v, i), levels - 1, &c) < 0)
                return -1;
            h = mix(h ^ c);
        }
        break;
    case JSON_OBJECT: {
        if (levels <= 0)
            return -1;
        const char *key;
        json_t *m;
        h = 0x6f626a;
        json_object_foreach(v, key, m) {
            if (core_json_hash(m, levels - 1, &c) < 0)
                return -1;
            h += mix(hash_bytes(key, strlen(key)) ^ mix(c));
        }
        break;
    }
    case JSON_TRUE:
        h = mix(1);
        break;
    case JSON_FALSE:
        h = mix(2);
        break;
    case JSON_NULL:
        h = mix(3);
        break;
    }
    *out = h;
    return 0;
}
