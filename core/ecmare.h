/*
 * ECMA-262 regular expressions on top of POSIX regex.h, for core/.
 *
 * JSON Schema's "pattern" is written in ECMA-262 syntax; libc offers POSIX
 * extended expressions. This translates the common subset into an ERE and
 * compiles it, and refuses (rather than silently misreads) the constructs
 * whose meaning it cannot keep. The dialect is listed in
 * pennyworth/jsonschema.h under "pattern dialect".
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_CORE_ECMARE_H
#define PENNYWORTH_CORE_ECMARE_H

#include <regex.h>
#include <stddef.h>

#include "pennyworth/error.h"

/*
 * Compile the ECMA-262 pattern `src` (`len` bytes) into `re` with
 * REG_EXTENDED | REG_NOSUB. Returns PW_OK (release `re` with regfree), or
 * PW_ERR_UNSUPPORTED, PW_ERR_INVALID or PW_ERR_NOMEM with `err` set to a
 * reason and the pointer "". Any thread.
 */
enum pw_err core_ecmare_compile(regex_t *re, const char *src, size_t len, struct pw_error *err);

#endif
