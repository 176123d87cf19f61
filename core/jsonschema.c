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
 * subschemas applied in place ($ref, allOf, anyOf, oneOf, not, if/then/else) by
 * MAX_CHAIN (and a cycle of them that never descends into the instance is
 * refused at compile time), instance nesting by MAX_DEPTH.
 *
 * This file compiles; core/jsonschema_check.c validates. Value equality
 * and hashing (enum, const, uniqueItems) live in core/jsonvalue.c and the
 * ECMA-262 "pattern" translation in core/ecmare.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include "core/jsonschema-int.h"

#include "core/ecmare.h"
#include "pennyworth/encode.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct core_schema_type core_schema_types[CORE_SCHEMA_NTYPES] = {
    {"object", T_OBJECT}, {"array", T_ARRAY},     {"string", T_STRING}, {"number", T_NUMBER},
    {"integer", T_INTEGER}, {"boolean", T_BOOLEAN}, {"null", T_NULL},
};

/* Append, silently cutting at the capacity (the error struct cuts sooner). */
void core_schema_path_add(struct path *p, const char *s, size_t n)
{
    size_t room = sizeof p->buf - 1 - p->len;
    if (n > room)
        n = room;
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = '\0';
}

void core_schema_path_cut(struct path *p, size_t len)
{
    p->len = len;
    p->buf[len] = '\0';
}

void core_schema_path_set(struct path *p, const char *s)
{
    core_schema_path_cut(p, 0);
    core_schema_path_add(p, s, strlen(s));
}

/* Append "/key" with the RFC 6901 escapes "~0" and "~1". */
void core_schema_path_key(struct path *p, const char *key)
{
    core_schema_path_add(p, "/", 1);
    for (const char *c = key; *c; c++) {
        if (*c == '~')
            core_schema_path_add(p, "~0", 2);
        else if (*c == '/')
            core_schema_path_add(p, "~1", 2);
        else
            core_schema_path_add(p, c, 1);
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
        for (size_t i = 0; i < CORE_SCHEMA_NTYPES; i++)
            if (strcmp(json_string_value(name), core_schema_types[i].name) == 0) {
                n->types |= core_schema_types[i].bit;
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
        core_schema_path_key(&cc->path, key);
        enum pw_err rc = sub(cc, s, &p->node);
        core_schema_path_cut(&cc->path, len);
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
        core_schema_path_add(&cc->path, idx, strlen(idx));
        enum pw_err rc = sub(cc, json_array_get(v, i), &list->v[list->n++]);
        core_schema_path_cut(&cc->path, len);
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
    {"if", kw_schema, offsetof(struct node, if_), false},
    {"then", kw_schema, offsetof(struct node, then_), false},
    {"else", kw_schema, offsetof(struct node, else_), false},
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
        core_schema_path_key(&cc->path, key);
        cc->kw = k->name;
        if (k->refuse)
            rc = cfail(cc, PW_ERR_UNSUPPORTED,
                       "keyword not supported (pennyworth validates a subset of 2020-12)");
        else
            rc = k->compile(cc, n, v, k->off);
        core_schema_path_cut(&cc->path, len);
        cc->kw = NULL;
        if (rc)
            return rc;
    }
    return PW_OK;
}

/*
 * Refuse cycles of in-place subschemas ($ref, allOf, anyOf, oneOf, not, if/then/else):
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
        core_schema_path_set(&cc->path, where);
        cc->kw = NULL;
        if (n->mark == 1)
            return cfail(cc, PW_ERR_INVALID,
                         "$ref cycle that never descends into the instance");
        return cfail(cc, PW_ERR_TOO_LARGE,
                     "chain of $ref/allOf/anyOf/oneOf/not/if longer than %d", MAX_CHAIN);
    }
    n->mark = 1;
    const struct nodes *lists[] = {&n->all_of, &n->any_of, &n->one_of};
    struct node *one[] = {n->not_, n->ref, n->if_, n->then_, n->else_};
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
        core_schema_path_set(&cc.path, js->targets[i].where);
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
