/*
 * Helpers shared by the access unit tests (see testutil.h): scratch
 * directories removed with nftw(), a hand-moved clock, pw_access objects
 * and keys on scratch databases, whole files read into memory.
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

int64_t at_clock_read(void *ud) { return atomic_load(&((struct at_clock *)ud)->now); }

char *at_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

char *at_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *dir = at_path(base && *base ? base : "/tmp", "pw-access-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

void at_rmdir(char *dir)
{
    if (dir)
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

struct pw_access *at_open(const char *dir, struct at_clock *clock, const char *config,
                          bool writer)
{
    char *path = at_path(dir, "access.db");
    json_t *cfg = NULL;
    if (config) {
        cfg = json_loads(config, 0, NULL);
        assert_non_null(cfg);
    }
    struct pw_access_options o = {
        .db_path = path,
        .config = cfg,
        .writer = writer,
        .clock_ms = clock ? at_clock_read : NULL,
        .clock_ud = clock,
    };
    struct pw_access *acc = NULL;
    struct pw_error err = {0};
    if (pw_access_open(&o, &acc, &err) != PW_OK)
        fail_msg("open %s: %s", path, err.message);
    json_decref(cfg);
    free(path);
    return acc;
}

void at_key(struct pw_access *acc, const char *tier, int64_t budget, const char *models,
            unsigned scopes, char key[PW_ACCESS_KEY_MAX])
{
    struct pw_access_key_spec spec = {
        .name = "test", .tier = tier, .budget_micros = budget, .models = models,
        .scopes = scopes,
    };
    struct pw_error err = {0};
    if (pw_access_key_create(acc, &spec, key, NULL, &err) != PW_OK)
        fail_msg("create key: %s", err.message);
}

char *at_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t got = fread(buf + n, 1, 4096, f);
        n += got;
        if (got < 4096)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}
