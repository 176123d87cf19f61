/*
 * Fuzz target: the ECMA-262 regular expression translator (core/ecmare.c)
 * behind JSON Schema's "pattern". The input is "PATTERN\nSUBJECT": the
 * pattern (any bytes, NUL included, as a JSON string can hold) is
 * translated and compiled, and a compiled one is run on the subject, so
 * that a translation libc accepts but cannot run safely shows up too.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "core/ecmare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t plen = nl ? (size_t)(nl - data) : size;
    char *subject = nl ? fuzz_text(nl + 1, size - plen - 1) : fuzz_text(data, 0);
    regex_t re;
    if (core_ecmare_compile(&re, (const char *)data, plen, NULL) == PW_OK) {
        regexec(&re, subject, 0, NULL, 0);
        regfree(&re);
    }
    free(subject);
    return 0;
}
