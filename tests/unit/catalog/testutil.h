/*
 * Helpers shared by the catalog unit tests: scratch directories, catalogs
 * opened on them (empty or holding the demo data), whole-file reads and
 * exports captured in memory. Every helper fails the running cmocka test
 * on error, so tests read as the steps they check.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PW_TESTS_CATALOG_TESTUTIL_H
#define PW_TESTS_CATALOG_TESTUTIL_H

#include <stddef.h>

#include "pennyworth/catalog.h"

/* fixtures/catalog in the source tree (set by meson.build). */
#ifndef PW_CATALOG_FIXTURES
#error "PW_CATALOG_FIXTURES must be defined by the build"
#endif

/* A new empty directory under $TMPDIR (or /tmp); free() the result. */
char *tu_tmpdir(void);

/* Removes a directory made by tu_tmpdir() and everything in it, then frees it. */
void tu_rmdir(char *dir);

/* "dir/name", new. */
char *tu_path(const char *dir, const char *name);

/* Opens (creating) the catalog at dir/name. */
struct pw_catalog *tu_open(const char *dir, const char *name);

/* Opens dir/name and seeds the demo catalog into it. */
struct pw_catalog *tu_open_demo(const char *dir, const char *name);

/* The whole file, NUL-terminated; *len may be NULL. NULL if it cannot be read. */
char *tu_read(const char *path, size_t *len);

/* Writes `text` to dir/name; returns the new path. */
char *tu_write(const char *dir, const char *name, const char *text);

/* The export of `cat` in `fmt`, NUL-terminated, new. */
char *tu_export(struct pw_catalog *cat, enum pw_catalog_format fmt);

/* JSON Lines with "updatedAt" removed from every object (it is the time of
 * the import, so never reproducible); new. */
char *tu_without_updated_at(const char *jsonl);

/* The number of products in `cat`. */
long long tu_count(struct pw_catalog *cat);

#endif
