/*
 * JSON Schema validation for MCP tool arguments (a draft 2020-12 subset).
 *
 * A schema is compiled once into a graph of `struct node`s, one per
 * subschema, each holding its constraints in fields ready to test; the
 * keyword table maps every keyword to its compiler (or marks it an ignored
 * annotation, or refuses it as unsupported). $ref targets are compiled once
 * each, from a work list, so a recursive schema becomes a cyclic graph and
 * never a deep recursion at compile time. Validation walks the graph and the
 * instance together and stops at the first violation, which it reports
 * with the instance's JSON pointer and a message naming the field.
 *
 * Invariants: a compiled schema is never modified after compile, so it may
 * be shared by threads. Its nodes borrow values (enum lists, limits,
 * property names) from the schema document, which it holds a reference to.
 * Every recursion is bounded: compile nesting by MAX_DEPTH, the chain of
 * subschemas applied in place ($ref, allOf, anyOf, oneOf, not) by
 * MAX_CHAIN (and a cycle of them that never descends into the instance is
 * refused at compile time), instance nesting by MAX_DEPTH.
 *
 * Value equality and hashing (enum, const, uniqueItems) live in
 * core/jsonvalue.c and the ECMA-262 "pattern" translation in core/ecmare.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include "pennyworth/jsonschema.h"
#include "pennyworth/encode.h"

#include "core/ecmare.h"
#include "core/jsonvalue.h"

#include <float.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH PW_JSONSCHEMA_MAX_DEPTH
#define MAX_CHAIN (4 * PW_JSONSCHEMA_MAX_DEPTH)
#define PATH_CAP 512
#define NAME_SHOWN 96 /* longer field names are shown as "..." + their tail */
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/*
 * For the functions whose big locals (messages, scratch reports) must not
 * be inlined into the recursive check(): that frame is repeated once per
 * level of schema and instance, so it is kept small.
 */
#define OUTLINE __attribute__((noinline))

/* ------------------------------------------------------------------------
 * The compiled form
 */

enum {
    T_OBJECT = 1u << 0,
    T_ARRAY = 1u << 1,
    T_STRING = 1u << 2,
    T_NUMBER = 1u << 3,
    T_INTEGER = 1u << 4,
    T_BOOLEAN = 1u << 5,
    T_NULL = 1u << 6,
};

static const struct {
    const char *name;
    unsigned bit;
} types[] = {
    {"object", T_OBJECT}, {"array", T_ARRAY},     {"string", T_STRING}, {"number", T_NUMBER},
    {"integer", T_INTEGER}, {"boolean", T_BOOLEAN}, {"null", T_NULL},
};

enum {
    F_FALSE = 1u << 0,   /* the schema `false`: nothing is valid */
    F_UNIQUE = 1u << 1,  /* uniqueItems: true */
    F_PATTERN = 1u << 2, /* `re` holds a compiled pattern */
};

struct node;

struct prop {
    const char *name; /* borrowed from the schema */
    struct node *node;
};

struct nodes {
    struct node **v;
    size_t n;
};

struct node {
    struct node *next;     /* every node of one compiled schema, for freeing */
    const char *where;     /* for $ref targets: their pointer in the document */
    unsigned flags;        /* F_* */
    unsigned types;        /* T_* accepted; 0 when "type" is absent */
    int mark;              /* cycle check: 0 new, 1 on the path, 2 done */
    json_t *enum_vals;     /* borrowed array, or NULL */
    json_t *const_val;     /* borrowed, or NULL */
    json_t *min, *max, *xmin, *xmax, *mult; /* borrowed numbers, or NULL */
    size_t min_len, max_len, min_items, max_items, min_props, max_props;
    const char *pattern;   /* borrowed, as written in the schema */
    regex_t re;
    struct prop *props;    /* "properties" in declaration order */
    struct prop **byname;  /* the same, sorted by name for bsearch */
    size_t nprops;
    json_t *required;      /* borrowed array of strings, or NULL */
    struct node *additional, *items, *not_, *ref;
    struct nodes all_of, any_of, one_of;
};

struct target {
    json_t *schema;   /* borrowed from the document */
    struct node *node;
    char *where;      /* JSON pointer of the target (the $ref without '#') */
};

struct pw_jsonschema {
    json_t *root;     /* a reference we own */
    struct node *top;
    struct node *nodes;
    struct target *targets;
    size_t ntargets, cap;
};

/* ------------------------------------------------------------------------
 * Paths: JSON pointers (and display names) built while walking
 */

struct path {
    size_t len;
    char buf[PATH_CAP];
};

/* Append, silently cutting at the capacity (the error struct cuts sooner). */
static void path_add(struct path *p, const char *s, size_t n)
{
    size_t room = sizeof p->buf - 1 - p->len;
    if (n > room)
        n = room;
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = '\0';
}

static void path_cut(struct path *p, size_t len)
{
    p->len = len;
    p->buf[len] = '\0';
}

static void path_set(struct path *p, const char *s)
{
    path_cut(p, 0);
    path_add(p, s, strlen(s));
}

/* Append "/key" with the RFC 6901 escapes "~0" and "~1". */
static void path_key(struct path *p, const char *key)
{
    path_add(p, "/", 1);
    for (const char *c = key; *c; c++) {
        if (*c == '~')
            path_add(p, "~0", 2);
        else if (*c == '/')
            path_add(p, "~1", 2);
        else
            path_add(p, c, 1);
    }
}

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
    for (size_t i = 0; i < COUNT(types); i++)
        left += (mask & types[i].bit) != 0;
    for (size_t i = 0; i < COUNT(types); i++) {
        if (!(mask & types[i].bit))
            continue;
        text_add(t, types[i].name);
        left--;
        if (left > 1)
            text_add(t, ", ");
        else if (left == 1)
            text_add(t, " or ");
    }
}

/* ------------------------------------------------------------------------
 * Compiling
 */

struct cc {
    struct pw_jsonschema *js;
    struct pw_error *err;
    struct path path;  /* pointer into the schema document */
    const char *kw;    /* keyword being compiled, named in messages */
    int depth;
};

static enum pw_err cfail(struct cc *cc, enum pw_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum pw_err cfail(struct cc *cc, enum pw_err code, const char *fmt, ...)
{
    char msg[PW_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cc->kw)
        return pw_error_set(cc->err, code, cc->path.buf, "%s: %s", cc->kw, msg);
    return pw_error_set(cc->err, code, cc->path.buf, "%s", msg);
}

static struct node *node_new(struct pw_jsonschema *js)
{
    struct node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->max_len = n->max_items = n->max_props = SIZE_MAX;
    n->next = js->nodes;
    js->nodes = n;
    return n;
}

static enum pw_err compile_node(struct cc *cc, struct node *n, json_t *s);
static enum pw_err compile_pattern(struct cc *cc, struct node *n, const char *src, size_t len);

/* Compile the subschema `s` found at the current path into a new node. */
static enum pw_err sub(struct cc *cc, json_t *s, struct node **out)
{
    const char *kw = cc->kw;
    if (cc->depth >= MAX_DEPTH) {
        cc->kw = NULL;
        return cfail(cc, PW_ERR_TOO_LARGE, "schema nested deeper than %d levels", MAX_DEPTH);
    }
    struct node *n = node_new(cc->js);
    if (!n)
        return cfail(cc, PW_ERR_NOMEM, "out of memory");
    *out = n;
    cc->depth++;
    enum pw_err rc = compile_node(cc, n, s);
    cc->depth--;
    cc->kw = kw;
    return rc;
}

/*
 * The node for the $ref target `s` at pointer `where`: the one made before
 * for the same target, or a new one queued for compile.
 */
static enum pw_err target(struct cc *cc, json_t *s, const char *where, struct node **out)
{
    struct pw_jsonschema *js = cc->js;
    for (size_t i = 0; i < js->ntargets; i++) {
        if (js->targets[i].schema == s) {
            *out = js->targets[i].node;
            return PW_OK;
        }
    }
    if (js->ntargets == js->cap) {
        size_t cap = js->cap ? 2 * js->cap : 8;
        struct target *t = realloc(js->targets, cap * sizeof *t);
        if (!t)
            return cfail(cc, PW_ERR_NOMEM, "out of memory");
        js->targets = t;
        js->cap = cap;
    }
    struct target *t = &js->targets[js->ntargets];
    t->schema = s;
    t->where = strdup(where);
    t->node = t->where ? node_new(js) : NULL;
    if (!t->node) {
        free(t->where);
        return cfail(cc, PW_ERR_NOMEM, "out of memory");
    }
    t->node->where = t->where;
    js->ntargets++;
    *out = t->node;
    return PW_OK;
}

/*
 * Resolve a JSON pointer (from a URI fragment, so percent-decoded too)
 * inside the document. Returns a borrowed value or NULL.
 */
static json_t *resolve(json_t *doc, const char *ptr)
{
    char tok[256];
    while (*ptr) {
        if (*ptr++ != '/')
            return NULL;
        size_t n = 0;
        while (*ptr && *ptr != '/') {
            int c = (unsigned char)*ptr++;
            if (c == '%') {
                int hi = pw_hex_digit(ptr[0]), lo = hi < 0 ? -1 : pw_hex_digit(ptr[1]);
                if (lo < 0)
                    return NULL;
                c = hi * 16 + lo;
                ptr += 2;
            }
            if (c == '~') {
                if (*ptr != '0' && *ptr != '1')
                    return NULL;
                c = *ptr++ == '0' ? '~' : '/';
            }
            if (c == 0 || n + 1 >= sizeof tok)
                return NULL;
            tok[n++] = (char)c;
        }
        tok[n] = '\0';
        if (json_is_object(doc)) {
            doc = json_object_get(doc, tok);
        } else if (json_is_array(doc)) {
            if (n == 0 || n > 9 || (tok[0] == '0' && n > 1) || strspn(tok, "0123456789") != n)
                return NULL;
            doc = json_array_get(doc, strtoul(tok, NULL, 10));
        } else {
            return NULL;
        }
        if (!doc)
            return NULL;
    }
    return doc;
}

/* Keyword compilers. `off` is the row's offset into struct node, if any. */

static enum pw_err add_type(struct cc *cc, struct node *n, json_t *name)
{
    if (json_is_string(name))
        for (size_t i = 0; i < COUNT(types); i++)
            if (strcmp(json_string_value(name), types[i].name) == 0) {
                n->types |= types[i].bit;
                return PW_OK;
            }
    if (json_is_string(name))
        return cfail(cc, PW_ERR_INVALID, "unknown type \"%s\"", json_string_value(name));
    return cfail(cc, PW_ERR_INVALID, "must be a type name or an array of type names");
}

static enum pw_err kw_type(struct cc *cc, struct node *n, json_t *v, size_t off)
{
    if (!json_is_array(v))
        return add_type(cc, n, v);
    if (json_array_size(v) == 0)
        return cfail(cc, PW_ERR_INVALID, "must not be an empty array");
    size_t i;
    json_t *t;
    json_array_foreach(v, i, t) {
        enum pw_err rc = add_type(cc, n, t);
        if (rc)
            return rc;
    }
    return PW_OK;
}

static enum pw_err kw_enum(struct cc *cc, struct node *n, json_t *v, size_t off)
{
    if (!json_is_array(v) || json_array_size(v) == 0)
        return cfail(cc, PW_ERR_INVALID, "must be a non-empty array");
    n->enum_vals = v;
    return PW_OK;
}

static enum pw_err kw_const(struct cc *cc, struct node *n, json_t *v, size_t off)
{
    n->const_val = v;
    return PW_OK;
}

static enum pw_err kw_count(struct cc *cc, struct node *n, json_t *v, size_t off)
{
    size_t *out = (size_t *)((char *)n + off);
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (size_t)json_integer_value(v);
        return PW_OK;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d >= 0 && d <= 9007199254740992.0 && d == floor(d)) {
            *out = (size_t)d;
            return PW_OK;
        }
    }
    return cfail(cc, PW_ERR_INVALID, "must be a non-negative integer");
}

static enum pw_err kw_limit(struct cc *cc, struct node *n, json_t *v, size_t off)
{
    if (json_is_boolean(v) && strncmp(cc->kw, "exclusive", 9) == 0)
        return cfail(cc, PW_ERR_UNSUPPORTED,
                     "the boolean form (draft 4) is not supported; give the limit as a number");
    if (!json_is_number(v))
        return cfail(cc, PW_ERR_INVALID, "must be a number");
    *(json_t **)((char *)n + off) = v;
    return PW_OK;
}

static enum pw_err kw_multiple(struct cc *cc, struct node *n, json_t *v, size_t off)
{
    if (!json_is_number(v) || json_number_value(v) <= 0)
        return cfail(cc, PW_ERR_INVALID, "must be a number greater than 0");
    n->mult = v;
    return PW_OK;
}

static enum pw_err kw_pattern(struct cc *cc, struct node *n, json_t *v, size_t off)
{
    if (!json_is_string(v))
        return cfail(cc, PW_ERR_INVALID, "must be a string");
    return compile_pattern(cc, n, json_string_value(v), json_string_length(v));
}

static enum pw_err kw_unique(struct cc *cc, struct node *n, json_t *v, size_t off)
{
    if (!json_is_boolean(v))
        return cfail(cc, PW_ERR_INVALID, "must be a boolean");
    if (json_is_true(v))
        n->flags |= F_UNIQUE;
    return PW_OK;
}

static enum pw_err kw_required(struct cc *cc, struct node *n, json_t *v, size_t off)
{
    size_t i;
    json_t *name;
    if (!json_is_array(v))
        return cfail(cc, PW_ERR_INVALID, "must be an array of strings");
    json_array_foreach(v, i, name)
        if (!json_is_string(name))
            return cfail(cc, PW_ERR_INVALID, "must be an array of strings");
    n->required = v;
    return PW_OK;
}

static enum pw_err kw_schema(struct cc *cc, struct node *n, json_t *v, size_t off)
{
    return sub(cc, v, (struct node **)((char *)n + off));
}

static enum pw_err kw_items(struct cc *cc, struct node *n, json_t *v, size_t off)
{
    if (json_is_array(v))
        return cfail(cc, PW_ERR_UNSUPPORTED,
                     "the array form (tuple validation) is not supported");
    return kw_schema(cc, n, v, off);
}

static int prop_order(const void *a, const void *b)
{
    const struct prop *x = *(struct prop *const *)a, *y = *(struct prop *const *)b;
    return strcmp(x->name, y->name);
}

static enum pw_err kw_properties(struct cc *cc, struct node *n, json_t *v, size_t off)
{
    if (!json_is_object(v))
        return cfail(cc, PW_ERR_INVALID, "must be an object");
    size_t count = json_object_size(v);
    if (count == 0)
        return PW_OK;
    n->props = calloc(count, sizeof *n->props);
    n->byname = calloc(count, sizeof *n->byname);
    if (!n->props || !n->byname)
        return cfail(cc, PW_ERR_NOMEM, "out of memory");
    const char *key;
    json_t *s;
    json_object_foreach(v, key, s) {
        struct prop *p = &n->props[n->nprops];
        size_t len = cc->path.len;
        p->name = key;
        n->byname[n->nprops++] = p;
        path_key(&cc->path, key);
        enum pw_err rc = sub(cc, s, &p->node);
        path_cut(&cc->path, len);
        if (rc)
            return rc;
    }
    qsort(n->byname, n->nprops, sizeof *n->byname, prop_order);
    return PW_OK;
}

static enum pw_err kw_list(struct cc *cc, struct node *n, json_t *v, size_t off)
{
    struct nodes *list = (struct nodes *)((char *)n + off);
    if (!json_is_array(v) || json_array_size(v) == 0)
        return cfail(cc, PW_ERR_INVALID, "must be a non-empty array of schemas");
    list->v = calloc(json_array_size(v), sizeof *list->v);
    if (!list->v)
        return cfail(cc, PW_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < json_array_size(v); i++) {
        char idx[24];
        size_t len = cc->path.len;
        snprintf(idx, sizeof idx, "/%zu", i);
        path_add(&cc->path, idx, strlen(idx));
        enum pw_err rc = sub(cc, json_array_get(v, i), &list->v[list->n++]);
        path_cut(&cc->path, len);
        if (rc)
            return rc;
    }
    return PW_OK;
}

static enum pw_err kw_ref(struct cc *cc, struct node *n, json_t *v, size_t off)
{
    if (!json_is_string(v))
        return cfail(cc, PW_ERR_INVALID, "must be a string");
    const char *ref = json_string_value(v);
    if (ref[0] != '#')
        return cfail(cc, PW_ERR_UNSUPPORTED,
                     "only references inside this schema (\"#/...\") are supported, not %s", ref);
    if (ref[1] != '\0' && ref[1] != '/')
        return cfail(cc, PW_ERR_UNSUPPORTED, "anchor references such as %s are not supported",
                     ref);
    json_t *t = resolve(cc->js->root, ref + 1);
    if (!t)
        return cfail(cc, PW_ERR_INVALID, "cannot resolve %s", ref);
    return target(cc, t, ref + 1, &n->ref);
}

typedef enum pw_err (*kw_fn)(struct cc *, struct node *, json_t *, size_t);

/*
 * Every keyword we know. A row with a compiler is enforced; a row without
 * one is an annotation (ignored, as are keywords not listed); a row marked
 * `refuse` is a keyword whose meaning we do not implement, so a schema
 * using it cannot compile.
 */
static const struct keyword {
    const char *name;
    kw_fn compile;
    size_t off;
    bool refuse;
} keywords[] = {
    {"type", kw_type, 0, false},
    {"enum", kw_enum, 0, false},
    {"const", kw_const, 0, false},
    {"minimum", kw_limit, offsetof(struct node, min), false},
    {"maximum", kw_limit, offsetof(struct node, max), false},
    {"exclusiveMinimum", kw_limit, offsetof(struct node, xmin), false},
    {"exclusiveMaximum", kw_limit, offsetof(struct node, xmax), false},
    {"multipleOf", kw_multiple, 0, false},
    {"minLength", kw_count, offsetof(struct node, min_len), false},
    {"maxLength", kw_count, offsetof(struct node, max_len), false},
    {"pattern", kw_pattern, 0, false},
    {"minItems", kw_count, offsetof(struct node, min_items), false},
    {"maxItems", kw_count, offsetof(struct node, max_items), false},
    {"uniqueItems", kw_unique, 0, false},
    {"items", kw_items, offsetof(struct node, items), false},
    {"minProperties", kw_count, offsetof(struct node, min_props), false},
    {"maxProperties", kw_count, offsetof(struct node, max_props), false},
    {"properties", kw_properties, 0, false},
    {"required", kw_required, 0, false},
    {"additionalProperties", kw_schema, offsetof(struct node, additional), false},
    {"allOf", kw_list, offsetof(struct node, all_of), false},
    {"anyOf", kw_list, offsetof(struct node, any_of), false},
    {"oneOf", kw_list, offsetof(struct node, one_of), false},
    {"not", kw_schema, offsetof(struct node, not_), false},
    {"$ref", kw_ref, 0, false},

    {"$schema", NULL, 0, false},
    {"$id", NULL, 0, false},
    {"$comment", NULL, 0, false},
    {"$anchor", NULL, 0, false},
    {"$defs", NULL, 0, false},
    {"definitions", NULL, 0, false},
    {"$vocabulary", NULL, 0, false},
    {"title", NULL, 0, false},
    {"description", NULL, 0, false},
    {"default", NULL, 0, false},
    {"examples", NULL, 0, false},
    {"format", NULL, 0, false},
    {"deprecated", NULL, 0, false},
    {"readOnly", NULL, 0, false},
    {"writeOnly", NULL, 0, false},
    {"contentEncoding", NULL, 0, false},
    {"contentMediaType", NULL, 0, false},

    {"if", NULL, 0, true},
    {"then", NULL, 0, true},
    {"else", NULL, 0, true},
    {"prefixItems", NULL, 0, true},
    {"contains", NULL, 0, true},
    {"minContains", NULL, 0, true},
    {"maxContains", NULL, 0, true},
    {"additionalItems", NULL, 0, true},
    {"patternProperties", NULL, 0, true},
    {"propertyNames", NULL, 0, true},
    {"dependentRequired", NULL, 0, true},
    {"dependentSchemas", NULL, 0, true},
    {"dependencies", NULL, 0, true},
    {"unevaluatedItems", NULL, 0, true},
    {"unevaluatedProperties", NULL, 0, true},
    {"$dynamicRef", NULL, 0, true},
    {"$dynamicAnchor", NULL, 0, true},
    {"$recursiveRef", NULL, 0, true},
    {"$recursiveAnchor", NULL, 0, true},
};

static const struct keyword *keyword(const char *name)
{
    for (size_t i = 0; i < COUNT(keywords); i++)
        if (strcmp(keywords[i].name, name) == 0)
            return &keywords[i];
    return NULL;
}

static enum pw_err compile_node(struct cc *cc, struct node *n, json_t *s)
{
    cc->kw = NULL;
    if (json_is_boolean(s)) {
        if (json_is_false(s))
            n->flags |= F_FALSE;
        return PW_OK;
    }
    if (!json_is_object(s))
        return cfail(cc, PW_ERR_INVALID, "a schema must be an object or a boolean");
    const char *key;
    json_t *v;
    json_object_foreach(s, key, v) {
        const struct keyword *k = keyword(key);
        if (!k || (!k->compile && !k->refuse))
            continue;
        size_t len = cc->path.len;
        enum pw_err rc;
        path_key(&cc->path, key);
        cc->kw = k->name;
        if (k->refuse)
            rc = cfail(cc, PW_ERR_UNSUPPORTED,
                       "keyword not supported (pennyworth validates a subset of 2020-12)");
        else
            rc = k->compile(cc, n, v, k->off);
        path_cut(&cc->path, len);
        cc->kw = NULL;
        if (rc)
            return rc;
    }
    return PW_OK;
}

/*
 * Refuse cycles of in-place subschemas ($ref, allOf, anyOf, oneOf, not):
 * validating one would recurse without consuming the instance. `where` is
 * the $ref target we are inside, to point at in the error.
 */
static enum pw_err visit(struct cc *cc, struct node *n, const char *where, int depth)
{
    if (n->mark == 2)
        return PW_OK;
    if (n->where)
        where = n->where;
    if (n->mark == 1 || depth > MAX_CHAIN) {
        path_set(&cc->path, where);
        cc->kw = NULL;
        if (n->mark == 1)
            return cfail(cc, PW_ERR_INVALID,
                         "$ref cycle that never descends into the instance");
        return cfail(cc, PW_ERR_TOO_LARGE,
                     "chain of $ref/allOf/anyOf/oneOf/not longer than %d", MAX_CHAIN);
    }
    n->mark = 1;
    const struct nodes *lists[] = {&n->all_of, &n->any_of, &n->one_of};
    struct node *one[] = {n->not_, n->ref};
    enum pw_err rc = PW_OK;
    for (size_t l = 0; l < COUNT(lists) && !rc; l++)
        for (size_t i = 0; i < lists[l]->n && !rc; i++)
            rc = visit(cc, lists[l]->v[i], where, depth + 1);
    for (size_t i = 0; i < COUNT(one) && !rc; i++)
        if (one[i])
            rc = visit(cc, one[i], where, depth + 1);
    n->mark = 2;
    return rc;
}

struct pw_jsonschema *pw_jsonschema_compile(json_t *schema, struct pw_error *err)
{
    if (!schema) {
        pw_error_set(err, PW_ERR_INVALID, "", "no schema");
        return NULL;
    }
    struct pw_jsonschema *js = calloc(1, sizeof *js);
    if (!js) {
        pw_error_set(err, PW_ERR_NOMEM, "", "out of memory");
        return NULL;
    }
    js->root = json_incref(schema);
    struct cc cc = {.js = js, .err = err};
    enum pw_err rc = target(&cc, schema, "", &js->top);
    /* compiling may queue more targets; the loop picks them up */
    for (size_t i = 0; rc == PW_OK && i < js->ntargets; i++) {
        path_set(&cc.path, js->targets[i].where);
        cc.depth = 0;
        rc = compile_node(&cc, js->targets[i].node, js->targets[i].schema);
    }
    for (struct node *n = js->nodes; n && rc == PW_OK; n = n->next)
        rc = visit(&cc, n, "", 0);
    if (rc != PW_OK) {
        pw_jsonschema_free(js);
        return NULL;
    }
    return js;
}

void pw_jsonschema_free(struct pw_jsonschema *js)
{
    if (!js)
        return;
    struct node *n = js->nodes;
    while (n) {
        struct node *next = n->next;
        if (n->flags & F_PATTERN)
            regfree(&n->re);
        free(n->props);
        free(n->byname);
        free(n->all_of.v);
        free(n->any_of.v);
        free(n->one_of.v);
        free(n);
        n = next;
    }
    for (size_t i = 0; i < js->ntargets; i++)
        free(js->targets[i].where);
    free(js->targets);
    json_decref(js->root);
    free(js);
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
    path_key(&vc->ptr, key);
    if (vc->name.len)
        path_add(&vc->name, ".", 1);
    path_add(&vc->name, *key ? key : "\"\"", *key ? strlen(key) : 2);
    return m;
}

static struct mark push_index(struct vc *vc, size_t i)
{
    struct mark m = {vc->ptr.len, vc->name.len};
    char buf[24];
    snprintf(buf, sizeof buf, "/%zu", i);
    path_add(&vc->ptr, buf, strlen(buf));
    snprintf(buf, sizeof buf, "[%zu]", i);
    path_add(&vc->name, buf, strlen(buf));
    return m;
}

static void pop(struct vc *vc, struct mark m)
{
    path_cut(&vc->ptr, m.ptr);
    path_cut(&vc->name, m.name);
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

static enum pw_err compile_pattern(struct cc *cc, struct node *n, const char *src, size_t len)
{
    struct pw_error e;
    pw_error_clear(&e);
    if (core_ecmare_compile(&n->re, src, len, &e) != PW_OK)
        return cfail(cc, e.code, "%s", e.message);
    n->flags |= F_PATTERN;
    n->pattern = src;
    return PW_OK;
}
