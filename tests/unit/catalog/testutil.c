/*
 * Helpers shared by the catalog unit tests (see testutil.h): scratch
 * directories removed with nftw(), catalogs on them, files and exports
 * read into memory. Failures end the running cmocka test.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *tu_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *dir = tu_path(base && *base ? base : "/tmp", "pw-catalog-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

void tu_rmdir(char *dir)
{
    if (dir)
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

char *tu_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

struct pw_catalog *tu_open(const char *dir, const char *name)
{
    char *path = tu_path(dir, name);
    struct pw_catalog *cat = NULL;
    struct pw_error err = {0};
    if (pw_catalog_open(path, 0, &cat, &err) != PW_OK)
        fail_msg("open %s: %s", path, err.message);
    free(path);
    return cat;
}

struct pw_catalog *tu_open_demo(const char *dir, const char *name)
{
    struct pw_catalog *cat = tu_open(dir, name);
    struct pw_error err = {0};
    bool seeded = false;
    if (pw_catalog_seed_demo(cat, &seeded, &err) != PW_OK)
        fail_msg("seed: %s", err.message);
    assert_true(seeded);
    return cat;
}

char *tu_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

char *tu_write(const char *dir, const char *name, const char *text)
{
    char *path = tu_path(dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    return path;
}

char *tu_export(struct pw_catalog *cat, enum pw_catalog_format fmt)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    struct pw_error err = {0};
    if (pw_catalog_export(cat, f, fmt, NULL, NULL, &err) != PW_OK)
        fail_msg("export: %s", err.message);
    fclose(f);
    return buf;
}

char *tu_without_updated_at(const char *jsonl)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    const char *line = jsonl;
    while (*line) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        json_error_t jerr;
        json_t *v = json_loadb(line, n, 0, &jerr);
        if (!v)
            fail_msg("not JSON: %.*s (%s)", (int)n, line, jerr.text);
        json_object_del(v, "updatedAt");
        json_dumpf(v, f, JSON_COMPACT | JSON_REAL_PRECISION(15));
        fputc('\n', f);
        json_decref(v);
        line += n + (nl ? 1 : 0);
    }
    fclose(f);
    return out;
}

long long tu_count(struct pw_catalog *cat)
{
    json_t *stats = NULL;
    struct pw_error err = {0};
    if (pw_catalog_stats(cat, &stats, &err) != PW_OK)
        fail_msg("stats: %s", err.message);
    long long n = json_integer_value(json_object_get(stats, "products"));
    json_decref(stats);
    return n;
}
