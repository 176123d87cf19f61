/*
 * The fixture-directory walker shared by the data-driven bridge tests: every
 * command-line argument is a directory of cases, each case (a subdirectory,
 * or a file with a given suffix) becomes one cmocka test named by its path,
 * so adding a case is adding a file and a failure names the case.
 *
 * Helpers fail the running test (cmocka) on error, so tests read as the
 * steps they check.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PW_TESTS_BRIDGE_FIXTURE_DIR_H
#define PW_TESTS_BRIDGE_FIXTURE_DIR_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>

/*
 * Runs the group `group`: the `n_fixed` tests of `fixed` first, then `fn`
 * once per case of every directory in argv[1..argc-1], sorted by name within
 * a directory. A case is a subdirectory when `suffix` is NULL, else a
 * regular file whose name ends in `suffix` (".json"). The case's path is
 * the test's initial state (`*state` is the path as a const char *). Returns
 * cmocka's result, or 1 when a directory cannot be read or holds no case.
 */
int fixture_run(const char *group, const struct CMUnitTest *fixed, size_t n_fixed,
                CMUnitTestFunction fn, const char *suffix, int argc, char **argv);

/* The whole file dir/name (or dir alone when name is NULL), NUL-terminated
 * (new; the NUL is not counted in *len, which may be NULL), or NULL when it
 * does not exist. */
char *fixture_read(const char *dir, const char *name, size_t *len);

/* The JSON file at `path` (new); fails the test when it does not parse. */
json_t *fixture_json(const char *path);

#endif
