/*
 * JSON Schema validation: walks a compiled schema (core/jsonschema-int.h,
 * built by core/jsonschema.c) and an instance together and stops at the
 * first violation, reported with the instance's JSON pointer and a message
 * naming the field ("items[2].price: must be at least 0").
 *
 * For anyOf/oneOf, branches are tried against scratch reports and the
 * message explains the closest miss. Recursion is bounded by MAX_DEPTH
 * (instance nesting) and MAX_CHAIN (subschemas applied in place); the
 * compiled schema is only read, so validation may run on any thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include "core/jsonschema-int.h"

#include "core/jsonvalue.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * For the functions whose big locals (messages, scratch reports) must not
 * be inlined into the recursive check(): that frame is repeated once per
 * level of schema and instance, so it is kept small.
 */
#define OUTLINE __attribute__((noinline))

/* ------------------------------------------------------------------------
 * Numbers and values
 */

static bool is_multiple(json_t *v, json_t *m)
{
    if (json_is_integer(v) && json_is_integer(m))
        return json_integer_value(v) % json_integer_value(m) == 0;
    double q = json_number_value(v) / json_number_value(m);
    if (!isfinite(q))
        return false;
    return fabs(q - nearbyint(q)) <= 8 * DBL_EPSILON * fabs(q);
}

/* The shortest "%g" form that reads back as the same double. */
static const char *fmt_num(json_t *v, char buf[static 32])
{
    if (json_is_integer(v)) {
        snprintf(buf, 32, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    double d = json_real_value(v);
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    return buf;
}

/* The T_* bits an instance satisfies. */
static unsigned type_bits(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return T_OBJECT;
    case JSON_ARRAY:
        return T_ARRAY;
    case JSON_STRING:
        return T_STRING;
    case JSON_INTEGER:
        return T_NUMBER | T_INTEGER;
    case JSON_REAL: {
        double d = json_real_value(v);
        return T_NUMBER | (d == floor(d) ? T_INTEGER : 0);
    }
    case JSON_TRUE:
    case JSON_FALSE:
        return T_BOOLEAN;
    case JSON_NULL:
        return T_NULL;
    }
    return 0;
}

static const char *type_name(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}


/* ------------------------------------------------------------------------
 * Message text: a bounded buffer that ends in "..." when cut
 */

struct text {
    size_t len;
    bool cut;
    char buf[160];
};

static void text_add(struct text *t, const char *s)
{
    size_t n = strlen(s), room = sizeof t->buf - 4 - t->len; /* keep room for "..." */
    if (t->cut)
        return;
    if (n > room) {
        memcpy(t->buf + t->len, "...", 4);
        t->len += 3;
        t->cut = true;
        return;
    }
    memcpy(t->buf + t->len, s, n + 1);
    t->len += n;
}

/* Strings as they are, numbers in shortest form, the rest as compact JSON. */
static void text_value(struct text *t, json_t *v)
{
    char num[32];
    if (json_is_string(v)) {
        text_add(t, json_string_value(v));
    } else if (json_is_number(v)) {
        text_add(t, fmt_num(v, num));
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        text_add(t, s ? s : "?");
        free(s);
    }
}

/* "a", "a or b", "a, b or c" for the names of a T_* mask. */
static void text_types(struct text *t, unsigned mask)
{
    if ((mask & T_NUMBER) && (mask & T_INTEGER))
        mask &= ~(unsigned)T_INTEGER; /* "number" already says it */
    size_t left = 0;
    for (size_t i = 0; i < CORE_SCHEMA_NTYPES; i++)
        left += (mask & core_schema_types[i].bit) != 0;
    for (size_t i = 0; i < CORE_SCHEMA_NTYPES; i++) {
        if (!(mask & core_schema_types[i].bit))
            continue;
        text_add(t, core_schema_types[i].name);
        left--;
        if (left > 1)
            text_add(t, ", ");
        else if (left == 1)
            text_add(t, " or ");
    }
}


/* ------------------------------------------------------------------------
 * Validating
 */

/* The first violation found, and whether it was a type mismatch. */
struct report {
    struct pw_error e;
    unsigned expected; /* T_* the failed "type" wanted; 0 for other rules */
};

struct vc {
    struct report *rep; /* where violations go; swapped to try branches */
    struct path ptr;    /* JSON pointer of the current instance location */
    struct path name;   /* the same as a field name: "a.b[2]" */
    int depth;          /* instance nesting */
    int chain;          /* subschemas applied on the current path */
    bool nomem;
};

static bool vfail(struct vc *vc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool vfail(struct vc *vc, const char *fmt, ...)
{
    char msg[PW_ERROR_MESSAGE_MAX];
    const char *name = vc->name.len ? vc->name.buf : "(root)", *dots = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (vc->name.len > NAME_SHOWN) {
        name = vc->name.buf + vc->name.len - (NAME_SHOWN - 3);
        dots = "...";
    }
    pw_error_set(&vc->rep->e, PW_ERR_INVALID, vc->ptr.buf, "%s%s: %s", dots, name, msg);
    return false;
}

static OUTLINE bool fail_type(struct vc *vc, unsigned expected, json_t *v)
{
    struct text t = {0};
    if (vc->rep->e.code == PW_OK)
        vc->rep->expected = expected;
    text_types(&t, expected);
    return vfail(vc, "expected %s, got %s", t.buf, type_name(v));
}

/* "must be X" for const, "must be one of X, Y" for enum (`list`). */
static OUTLINE bool fail_values(struct vc *vc, const char *what, json_t *v, bool list)
{
    struct text t = {0};
    if (!list) {
        text_value(&t, v);
    } else {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (i)
                text_add(&t, ", ");
            text_value(&t, e);
        }
    }
    return vfail(vc, "%s%s", what, t.buf);
}

static bool too_deep(struct vc *vc)
{
    return vfail(vc, "nested deeper than %d levels", MAX_DEPTH);
}

struct mark {
    size_t ptr, name;
};

static struct mark push_key(struct vc *vc, const char *key)
{
    struct mark m = {vc->ptr.len, vc->name.len};
    core_schema_path_key(&vc->ptr, key);
    if (vc->name.len)
        core_schema_path_add(&vc->name, ".", 1);
    core_schema_path_add(&vc->name, *key ? key : "\"\"", *key ? strlen(key) : 2);
    return m;
}

static struct mark push_index(struct vc *vc, size_t i)
{
    struct mark m = {vc->ptr.len, vc->name.len};
    char buf[24];
    snprintf(buf, sizeof buf, "/%zu", i);
    core_schema_path_add(&vc->ptr, buf, strlen(buf));
    snprintf(buf, sizeof buf, "[%zu]", i);
    core_schema_path_add(&vc->name, buf, strlen(buf));
    return m;
}

static void pop(struct vc *vc, struct mark m)
{
    core_schema_path_cut(&vc->ptr, m.ptr);
    core_schema_path_cut(&vc->name, m.name);
}

static bool check(struct vc *vc, const struct node *n, json_t *v);

/* Apply `n` to `v` in place (same instance location). */
static bool apply(struct vc *vc, const struct node *n, json_t *v)
{
    if (vc->chain >= MAX_CHAIN)
        return vfail(vc, "schema recursion deeper than %d levels", MAX_CHAIN);
    vc->chain++;
    bool ok = check(vc, n, v);
    vc->chain--;
    return ok;
}

/* Apply `n` to the child `v` at the location just pushed. */
static bool descend(struct vc *vc, const struct node *n, json_t *v)
{
    if (vc->depth >= MAX_DEPTH)
        return too_deep(vc);
    vc->depth++;
    bool ok = apply(vc, n, v);
    vc->depth--;
    return ok;
}

static bool check_number(struct vc *vc, const struct node *n, json_t *v)
{
    char num[32];
    if (n->min && core_json_numcmp(v, n->min) < 0)
        return vfail(vc, "must be >= %s", fmt_num(n->min, num));
    if (n->max && core_json_numcmp(v, n->max) > 0)
        return vfail(vc, "must be <= %s", fmt_num(n->max, num));
    if (n->xmin && core_json_numcmp(v, n->xmin) <= 0)
        return vfail(vc, "must be > %s", fmt_num(n->xmin, num));
    if (n->xmax && core_json_numcmp(v, n->xmax) >= 0)
        return vfail(vc, "must be < %s", fmt_num(n->xmax, num));
    if (n->mult && !is_multiple(v, n->mult))
        return vfail(vc, "must be a multiple of %s", fmt_num(n->mult, num));
    return true;
}

static bool check_string(struct vc *vc, const struct node *n, json_t *v)
{
    const char *s = json_string_value(v);
    size_t bytes = json_string_length(v);
    if (n->min_len || n->max_len != SIZE_MAX) {
        size_t chars = 0;
        for (size_t i = 0; i < bytes; i++)
            chars += ((unsigned char)s[i] & 0xC0) != 0x80; /* not a continuation byte */
        if (chars < n->min_len)
            return vfail(vc, "must be at least %zu character%s long", n->min_len,
                         n->min_len == 1 ? "" : "s");
        if (chars > n->max_len)
            return vfail(vc, "must be at most %zu character%s long", n->max_len,
                         n->max_len == 1 ? "" : "s");
    }
    if (n->flags & F_PATTERN) {
        regmatch_t m[1] = {{.rm_so = 0, .rm_eo = (regoff_t)bytes}};
        if (regexec(&n->re, s, 1, m, REG_STARTEND) != 0)
            return vfail(vc, "must match pattern %s", n->pattern);
    }
    return true;
}

struct slot {
    uint64_t h;
    size_t i;
};

static int slot_order(const void *a, const void *b)
{
    const struct slot *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * uniqueItems in O(n log n): sort (hash, index) pairs, then compare only
 * items whose hashes collide. Reports the duplicate with the lowest index.
 */
static bool check_unique(struct vc *vc, json_t *arr)
{
    size_t n = json_array_size(arr), di = 0, dj = SIZE_MAX;
    bool deep = false;
    struct slot *s = malloc(n * sizeof *s);
    if (!s) {
        vc->nomem = true;
        return false;
    }
    for (size_t i = 0; i < n && !deep; i++) {
        s[i].i = i;
        deep = core_json_hash(json_array_get(arr, i), MAX_DEPTH - vc->depth - 1, &s[i].h) < 0;
    }
    if (!deep)
        qsort(s, n, sizeof *s, slot_order);
    for (size_t a = 0, b; a < n && !deep; a = b) {
        for (b = a + 1; b < n && s[b].h == s[a].h; b++)
            ;
        bool found = false;
        for (size_t j = a + 1; j < b && s[j].i < dj && !found && !deep; j++) {
            for (size_t k = a; k < j && !found; k++) {
                int r = core_json_equal(json_array_get(arr, s[k].i),
                                        json_array_get(arr, s[j].i), MAX_DEPTH - vc->depth - 1);
                deep = r < 0;
                if (r == 1) {
                    di = s[k].i;
                    dj = s[j].i;
                    found = true;
                }
                if (deep)
                    break;
            }
        }
    }
    free(s);
    if (deep)
        return too_deep(vc);
    if (dj != SIZE_MAX)
        return vfail(vc, "must not contain duplicate items (items %zu and %zu are equal)", di,
                     dj);
    return true;
}

static bool check_array(struct vc *vc, const struct node *n, json_t *v)
{
    size_t size = json_array_size(v);
    if (size < n->min_items)
        return vfail(vc, "must have at least %zu item%s", n->min_items,
                     n->min_items == 1 ? "" : "s");
    if (size > n->max_items)
        return vfail(vc, "must have at most %zu item%s", n->max_items,
                     n->max_items == 1 ? "" : "s");
    if (n->items) {
        for (size_t i = 0; i < size; i++) {
            struct mark m = push_index(vc, i);
            bool ok = descend(vc, n->items, json_array_get(v, i));
            pop(vc, m);
            if (!ok)
                return false;
        }
    }
    if ((n->flags & F_UNIQUE) && size > 1)
        return check_unique(vc, v);
    return true;
}

static int prop_find(const void *key, const void *elem)
{
    return strcmp(key, (*(struct prop *const *)elem)->name);
}

static bool check_object(struct vc *vc, const struct node *n, json_t *v)
{
    size_t size = json_object_size(v);
    if (size < n->min_props)
        return vfail(vc, "must have at least %zu propert%s", n->min_props,
                     n->min_props == 1 ? "y" : "ies");
    if (size > n->max_props)
        return vfail(vc, "must have at most %zu propert%s", n->max_props,
                     n->max_props == 1 ? "y" : "ies");
    if (n->required) {
        size_t i;
        json_t *name;
        json_array_foreach(n->required, i, name) {
            if (!json_object_get(v, json_string_value(name))) {
                struct mark mk = push_key(vc, json_string_value(name));
                vfail(vc, "is required");
                pop(vc, mk);
                return false;
            }
        }
    }
    for (size_t i = 0; i < n->nprops; i++) {
        json_t *m = json_object_get(v, n->props[i].name);
        if (!m)
            continue;
        struct mark mk = push_key(vc, n->props[i].name);
        bool ok = descend(vc, n->props[i].node, m);
        pop(vc, mk);
        if (!ok)
            return false;
    }
    if (n->additional) {
        const char *key;
        json_t *m;
        json_object_foreach(v, key, m) {
            if (n->nprops && bsearch(key, n->byname, n->nprops, sizeof *n->byname, prop_find))
                continue;
            struct mark mk = push_key(vc, key);
            bool ok = (n->additional->flags & F_FALSE)
                          ? vfail(vc, "unknown property (additionalProperties is false)")
                          : descend(vc, n->additional, m);
            pop(vc, mk);
            if (!ok)
                return false;
        }
    }
    return true;
}

/* Run `n` on `v` with violations going to `scratch`; true if it matched. */
static bool trial(struct vc *vc, const struct node *n, json_t *v, struct report *scratch)
{
    struct report *saved = vc->rep;
    memset(scratch, 0, sizeof *scratch);
    vc->rep = scratch;
    bool ok = apply(vc, n, v);
    vc->rep = saved;
    return ok;
}

/*
 * How the branches of anyOf/oneOf failed, to explain it well: when every
 * branch wanted another type here, say "expected A or B"; when exactly one
 * got past its type check, that was the branch meant, so report its error.
 */
struct misses {
    unsigned expected;
    size_t typed, other;
    struct report first;
};

static void tally(struct vc *vc, struct misses *m, const struct report *r)
{
    if (r->expected && strncmp(r->e.pointer, vc->ptr.buf, sizeof r->e.pointer - 1) == 0) {
        m->expected |= r->expected;
        m->typed++;
    } else if (m->other++ == 0) {
        m->first = *r;
    }
}

static bool explain(struct vc *vc, const struct misses *m, json_t *v, const char *general)
{
    if (m->other == 0 && m->typed)
        return fail_type(vc, m->expected, v);
    if (m->other == 1) {
        if (vc->rep->e.code == PW_OK)
            vc->rep->expected = m->first.expected;
        pw_error_set(&vc->rep->e, m->first.e.code, m->first.e.pointer, "%s", m->first.e.message);
        return false;
    }
    return vfail(vc, "%s", general);
}

static OUTLINE bool check_any(struct vc *vc, const struct nodes *list, json_t *v)
{
    struct misses m = {0};
    struct report r;
    for (size_t i = 0; i < list->n; i++) {
        if (trial(vc, list->v[i], v, &r))
            return true;
        if (vc->nomem)
            return false;
        tally(vc, &m, &r);
    }
    return explain(vc, &m, v, "must match at least one schema in anyOf");
}

static OUTLINE bool check_one(struct vc *vc, const struct nodes *list, json_t *v)
{
    struct misses m = {0};
    struct report r;
    size_t first = SIZE_MAX;
    for (size_t i = 0; i < list->n; i++) {
        bool ok = trial(vc, list->v[i], v, &r);
        if (vc->nomem)
            return false;
        if (ok && first != SIZE_MAX)
            return vfail(vc, "must match exactly one schema in oneOf, matches %zu and %zu",
                         first, i);
        if (ok)
            first = i;
        else
            tally(vc, &m, &r);
    }
    if (first != SIZE_MAX)
        return true;
    return explain(vc, &m, v, "must match exactly one schema in oneOf, matches none");
}

static OUTLINE bool check_not(struct vc *vc, const struct node *not_, json_t *v)
{
    struct report r;
    bool matched = trial(vc, not_, v, &r);
    if (vc->nomem)
        return false;
    if (matched)
        return vfail(vc, "must not match the schema in not");
    return true;
}

/* if/then/else: the outcome of `if` is not itself a violation; it only
 * picks which of then/else (either may be absent) must hold. */
static OUTLINE bool check_if(struct vc *vc, const struct node *n, json_t *v)
{
    struct report r;
    bool matched = trial(vc, n->if_, v, &r);
    if (vc->nomem)
        return false;
    const struct node *next = matched ? n->then_ : n->else_;
    return !next || apply(vc, next, v);
}

static bool check_applicators(struct vc *vc, const struct node *n, json_t *v)
{
    if (n->ref && !apply(vc, n->ref, v))
        return false;
    for (size_t i = 0; i < n->all_of.n; i++)
        if (!apply(vc, n->all_of.v[i], v))
            return false;
    if (n->any_of.n && !check_any(vc, &n->any_of, v))
        return false;
    if (n->one_of.n && !check_one(vc, &n->one_of, v))
        return false;
    if (n->not_ && !check_not(vc, n->not_, v))
        return false;
    if (n->if_ && !check_if(vc, n, v))
        return false;
    return true;
}

static bool check(struct vc *vc, const struct node *n, json_t *v)
{
    if (n->flags & F_FALSE)
        return vfail(vc, "not allowed (schema is false)");
    if (n->types && !(n->types & type_bits(v)))
        return fail_type(vc, n->types, v);
    if (n->const_val) {
        int r = core_json_equal(v, n->const_val, MAX_DEPTH - vc->depth);
        if (r != 1)
            return r < 0 ? too_deep(vc) : fail_values(vc, "must be ", n->const_val, false);
    }
    if (n->enum_vals) {
        size_t i;
        json_t *e;
        int r = 0;
        json_array_foreach(n->enum_vals, i, e) {
            r = core_json_equal(v, e, MAX_DEPTH - vc->depth);
            if (r != 0)
                break;
        }
        if (r != 1)
            return r < 0 ? too_deep(vc) : fail_values(vc, "must be one of ", n->enum_vals, true);
    }
    bool ok = true;
    switch (json_typeof(v)) {
    case JSON_INTEGER:
    case JSON_REAL:
        ok = check_number(vc, n, v);
        break;
    case JSON_STRING:
        ok = check_string(vc, n, v);
        break;
    case JSON_ARRAY:
        ok = check_array(vc, n, v);
        break;
    case JSON_OBJECT:
        ok = check_object(vc, n, v);
        break;
    default:
        break;
    }
    return ok && check_applicators(vc, n, v);
}

enum pw_err pw_jsonschema_validate(const struct pw_jsonschema *js, json_t *instance,
                                   struct pw_error *err)
{
    if (!js)
        return pw_error_set(err, PW_ERR_INTERNAL, "", "no compiled schema");
    if (!instance)
        return pw_error_set(err, PW_ERR_INVALID, "", "(root): no value");
    struct report top;
    struct vc vc;
    memset(&top, 0, sizeof top);
    memset(&vc, 0, sizeof vc);
    vc.rep = &top;
    bool ok = apply(&vc, js->top, instance);
    if (vc.nomem)
        return pw_error_set(err, PW_ERR_NOMEM, "", "out of memory");
    if (ok)
        return PW_OK;
    return pw_error_set(err, top.e.code, top.e.pointer, "%s", top.e.message);
}

enum pw_err pw_jsonschema_check(json_t *schema, json_t *instance, struct pw_error *err)
{
    struct pw_error cerr;
    pw_error_clear(&cerr);
    struct pw_jsonschema *js = pw_jsonschema_compile(schema, &cerr);
    if (!js) {
        if (cerr.code == PW_ERR_NOMEM)
            return pw_error_set(err, PW_ERR_NOMEM, "", "%s", cerr.message);
        return pw_error_set(err, PW_ERR_INTERNAL, "", "invalid schema at \"%s\": %s",
                            cerr.pointer, cerr.message);
    }
    enum pw_err rc = pw_jsonschema_validate(js, instance, err);
    pw_jsonschema_free(js);
    return rc;
}
