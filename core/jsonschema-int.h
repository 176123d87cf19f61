/*
 * Private to core/jsonschema*.c: the compiled form of a JSON Schema (a
 * graph of nodes, one per subschema) shared by the compiler
 * (jsonschema.c) and the validator (jsonschema_check.c), and the JSON
 * pointer builder both use for their messages.
 *
 * A compiled schema is immutable after pw_jsonschema_compile returns, so
 * the validator only reads these structures (from any thread).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PW_CORE_JSONSCHEMA_INT_H
#define PW_CORE_JSONSCHEMA_INT_H

#include <jansson.h>
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "pennyworth/jsonschema.h"

#define MAX_DEPTH PW_JSONSCHEMA_MAX_DEPTH
#define MAX_CHAIN (4 * PW_JSONSCHEMA_MAX_DEPTH)
#define PATH_CAP 512
#define NAME_SHOWN 96 /* longer field names are shown as "..." + their tail */
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

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

/* Type names and their bits, in the order messages list them. */
struct core_schema_type {
    const char *name;
    unsigned bit;
};
#define CORE_SCHEMA_NTYPES 7
extern const struct core_schema_type core_schema_types[CORE_SCHEMA_NTYPES];

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
    struct node *if_, *then_, *else_; /* then/else matter only with if */
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
void core_schema_path_add(struct path *p, const char *s, size_t n);
/* Back to an earlier length. */
void core_schema_path_cut(struct path *p, size_t len);
void core_schema_path_set(struct path *p, const char *s);
/* Append "/key" with RFC 6901 escaping. */
void core_schema_path_key(struct path *p, const char *key);

#endif
