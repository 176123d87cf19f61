/*
 * JSON value comparison by JSON Schema's data model, for core/.
 *
 * Numbers compare by value, so the integer 1 equals the real 1.0 (jansson's
 * json_equal says they differ), and objects compare regardless of member
 * order. Every recursion takes a budget of nesting levels so a hostile,
 * deeply nested value cannot exhaust the stack.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_CORE_JSONVALUE_H
#define PENNYWORTH_CORE_JSONVALUE_H

#include <jansson.h>
#include <stdint.h>

/* Compare two JSON numbers: <0, 0, >0. Exact whenever an integer is involved. */
int core_json_numcmp(json_t *a, json_t *b);

/*
 * Returns 1 if equal, 0 if not, -1 if telling would mean entering more than
 * `levels` levels of arrays and objects.
 */
int core_json_equal(json_t *a, json_t *b, int levels);

/*
 * A 64-bit hash that agrees with core_json_equal (equal values hash the
 * same). Returns 0, or -1 past `levels` levels of nesting.
 */
int core_json_hash(json_t *v, int levels, uint64_t *out);

#endif
