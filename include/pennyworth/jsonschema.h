/*
 * JSON Schema validation for MCP tool arguments.
 *
 * Tool input schemas use a small part of JSON Schema draft 2020-12, and this
 * validator supports exactly that part, listed below. A schema is compiled
 * once (at tool registration) into an immutable tree; compiling rejects the
 * keywords whose meaning we do not implement, so a tool author learns at
 * registration time instead of a peer slipping past a rule we ignored.
 *
 * Supported keywords:
 *   type (a name or an array of names; "integer" accepts JSON integers and
 *   reals with a zero fraction), enum (non-empty), const, properties, required,
 *   additionalProperties (boolean or schema), minProperties, maxProperties,
 *   items (a single schema), minItems, maxItems, uniqueItems, minimum,
 *   maximum, exclusiveMinimum, exclusiveMaximum (numbers, as in 2020-12),
 *   multipleOf, minLength, maxLength (counted in Unicode code points),
 *   pattern, allOf, anyOf, oneOf, not, if/then/else, $ref to a JSON pointer inside the
 *   same document ("#", "#/$defs/name", "#/definitions/name", ...), and the
 *   boolean schemas true and false.
 *
 * Ignored annotations: $schema, $id, $comment, $anchor, $defs, definitions,
 * title, description, default, examples, format, deprecated, readOnly,
 * writeOnly, contentEncoding, contentMediaType; unknown keywords are ignored
 * too, as the specification asks.
 *
 * Rejected with PW_ERR_UNSUPPORTED: prefixItems, contains,
 * minContains, maxContains, additionalItems, patternProperties,
 * propertyNames, dependentRequired, dependentSchemas, dependencies,
 * unevaluatedItems, unevaluatedProperties, $dynamicRef, $dynamicAnchor,
 * $recursiveRef, $recursiveAnchor, remote $ref, the array form of items,
 * and the draft-04 boolean form of exclusiveMinimum/exclusiveMaximum.
 *
 * pattern dialect: patterns are written in the ECMA-262 syntax JSON Schema
 * specifies; core/ecmare.c translates them to POSIX extended regular
 * expressions (regex.h). It handles literals, ".", anchors, groups, "(?:",
 * alternation, the quantifiers * + ? {n} {n,} {n,m} (a lazy "?" suffix is
 * dropped: it cannot change whether a string matches; a "{" that is not a
 * quantifier is a literal), bracket classes, the escapes \d \D \w \W \s
 * \S (\D \W \S outside classes only), \t \n \r \f \v, \xHH, \uHHHH
 * (non-ASCII as UTF-8 bytes) and escaped punctuation. Look-around, back
 * references, \b, \B, \p{..}, named groups, inline flags and non-ASCII
 * characters inside classes are refused at compile time, and so are a
 * quantifier right after another ("a++", a syntax error in ECMA-262) and
 * counted repetitions that would expand past about 4,000 nodes once
 * nested counts are multiplied out ("((a{99}){99}){99}", ".{0,5000}";
 * libc's compiler copies repeated subexpressions). Matching is a
 * search (unanchored unless the pattern anchors itself) and works on bytes
 * in the C locale: "." and classes see one UTF-8 byte, and "." also matches
 * a newline; use minLength/maxLength for lengths.
 *
 * Bounds: a value inside more than PW_JSONSCHEMA_MAX_DEPTH arrays and
 * objects, where the schema (or enum, const, uniqueItems) has to look, is
 * rejected with PW_ERR_INVALID ("nested deeper than 64 levels"); a schema
 * nested deeper is refused by the compiler with PW_ERR_TOO_LARGE, and a
 * cycle of $ref/allOf/anyOf/oneOf/not that never descends into the
 * instance with PW_ERR_INVALID. Hostile input cannot exhaust the stack.
 * uniqueItems runs in O(n log n). Pointers longer than the error struct
 * holds (PW_ERROR_POINTER_MAX - 1) are cut; very long field names in
 * messages are shown as "..." and their tail.
 *
 * Errors: a violation returns PW_ERR_INVALID and sets the first error: its
 * pointer is the RFC 6901 pointer of the offending instance location ("" for
 * the root; for "required" and for unknown properties, the location of the
 * missing or unknown member, e.g. "/id"), and its message names the field
 * and the rule, e.g. "limit: must be <= 50", "ids[2]: expected string, got
 * number", "id: is required". Fields are named by their path with
 * properties joined by "." and indices in brackets ("filters.tags[1]"); the
 * root is named "(root)". Rules are checked in this order, and the first
 * violation is the one reported: type, const, enum, then the keywords of
 * the instance's type (objects: min/maxProperties, required in its order,
 * properties in schema order, additionalProperties in instance order;
 * arrays: min/maxItems, items, uniqueItems), then $ref, allOf, anyOf,
 * oneOf, not. When every anyOf/oneOf branch fails on "type" the message
 * merges them ("expected string or null, got number"); when exactly one
 * branch gets past its type, its own error is reported.
 *
 * Threads: any thread may compile, validate or free. A compiled schema is
 * immutable, so any number of threads may validate against it at once.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_JSONSCHEMA_H
#define PENNYWORTH_JSONSCHEMA_H

#include <jansson.h>

#include "pennyworth/error.h"

/* How deep instances and schemas may nest, in objects and arrays. */
#define PW_JSONSCHEMA_MAX_DEPTH 64

struct pw_jsonschema;

/*
 * Compile `schema` (borrowed; an object or a boolean). Returns a new
 * compiled schema, or NULL with `err` set: PW_ERR_UNSUPPORTED for a keyword
 * or $ref we do not implement, PW_ERR_INVALID for a malformed keyword or an
 * unresolvable $ref, PW_ERR_TOO_LARGE for nesting over the bound,
 * PW_ERR_NOMEM. The error's pointer is the offending location in the
 * schema. The compiled form keeps a reference to `schema`; do not modify
 * the schema while the compiled form exists.
 */
struct pw_jsonschema *pw_jsonschema_compile(json_t *schema, struct pw_error *err);

/*
 * Validate `instance` (borrowed) against a compiled schema. Returns PW_OK,
 * PW_ERR_INVALID with `err` set as described above, or PW_ERR_NOMEM.
 */
enum pw_err pw_jsonschema_validate(const struct pw_jsonschema *schema, json_t *instance,
                                   struct pw_error *err);

/* Free a compiled schema; NULL is fine. */
void pw_jsonschema_free(struct pw_jsonschema *schema);

/*
 * One-shot: compile `schema`, validate `instance`, free. Instance violations
 * are reported as by pw_jsonschema_validate. A schema that does not compile
 * is the tool author's bug, not the peer's, so it is reported as
 * PW_ERR_INTERNAL with the pointer "" and a message "invalid schema at
 * <schema pointer>: ..." (PW_ERR_NOMEM stays PW_ERR_NOMEM).
 */
enum pw_err pw_jsonschema_check(json_t *schema, json_t *instance, struct pw_error *err);

#endif
