/*
 * Helpers shared by the access unit tests: scratch directories, a settable
 * clock, pw_access objects opened on a scratch database with that clock,
 * and keys created in one call. Every helper fails the running cmocka
 * test on error.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PW_TESTS_ACCESS_TESTUTIL_H
#define PW_TESTS_ACCESS_TESTUTIL_H

#include <stdatomic.h>
#include <stdint.h>

#include "pennyworth/access.h"

/* A clock the tests move by hand (unix ms). */
struct at_clock {
    _Atomic int64_t now;
};
int64_t at_clock_read(void *ud);

/* 2026-03-14T15:09:26Z, well inside a month. */
#define AT_T0 1773500966000LL

/* A new empty directory; free with at_rmdir. */
char *at_tmpdir(void);
void at_rmdir(char *dir);
/* "dir/name", new. */
char *at_path(const char *dir, const char *name);

/* Opens dir/access.db with the clock and `config` (JSON text or NULL). */
struct pw_access *at_open(const char *dir, struct at_clock *clock, const char *config,
                          bool writer);

/* Creates a key; `key` receives it. budget -1 = none. */
void at_key(struct pw_access *acc, const char *tier, int64_t budget, const char *models,
            unsigned scopes, char key[PW_ACCESS_KEY_MAX]);

/* The whole file (NUL-terminated), or NULL when absent. */
char *at_read(const char *path, size_t *len);

#endif
