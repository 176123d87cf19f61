/*
 * What every fuzz target of tests/fuzz/ shares: libFuzzer's entry points
 * (declared here because the build warns on functions without a prototype)
 * and small helpers for turning fuzzer bytes into the shapes parsers take.
 *
 * Invariants of every target: it frees everything an input made before
 * returning (leak detection is on), never writes outside its own scratch
 * files, and is deterministic for a given input as far as the code under
 * test allows (threads and clocks aside).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PW_FUZZ_H
#define PW_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a new NUL-terminated string (free()); an embedded NUL ends
 * it early, as it would for a C-string API. Aborts when out of memory. */
char *fuzz_text(const uint8_t *data, size_t size);

/* Splits the input at its first `sep` byte: *rest and *rest_size describe
 * what follows it (empty when there is none). Returns the first part as
 * fuzz_text does. */
char *fuzz_split(const uint8_t *data, size_t size, char sep, const uint8_t **rest,
                 size_t *rest_size);

/* Makes a scratch directory for the process (under $TMPDIR or /tmp),
 * removed with everything in it at exit. Returns its path (borrowed). */
const char *fuzz_scratch_dir(void);

#endif
