/*
 * The fixture-directory walker and file helpers shared by the data-driven
 * bridge tests (fixture_dir.h). Directories are listed with readdir and
 * sorted, so case order (and cmocka's output) does not depend on the file
 * system.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fixture_dir.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct cases {
    char **paths;
    size_t n, cap;
};

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool wanted(const char *path, const char *name, const char *suffix)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return false;
    if (!suffix)
        return S_ISDIR(st.st_mode);
    size_t n = strlen(name), k = strlen(suffix);
    return S_ISREG(st.st_mode) && n > k && strcmp(name + n - k, suffix) == 0;
}

/* Adds the cases of `dir`, sorted. Returns 0, or -1 with a message printed. */
static int collect(struct cases *c, const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "cannot open fixture directory %s\n", dir);
        return -1;
    }
    size_t first = c->n;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *path = malloc(len);
        if (!path)
            break;
        snprintf(path, len, "%s/%s", dir, e->d_name);
        if (!wanted(path, e->d_name, suffix)) {
            free(path);
            continue;
        }
        if (c->n == c->cap) {
            size_t cap = c->cap ? 2 * c->cap : 16;
            char **more = realloc(c->paths, cap * sizeof *more);
            if (!more) {
                free(path);
                break;
            }
            c->paths = more;
            c->cap = cap;
        }
        c->paths[c->n++] = path;
    }
    closedir(d);
    qsort(c->paths + first, c->n - first, sizeof *c->paths, name_cmp);
    return 0;
}

int fixture_run(const char *group, const struct CMUnitTest *fixed, size_t n_fixed,
                CMUnitTestFunction fn, const char *suffix, int argc, char **argv)
{
    struct cases c = {0};
    int rc = 1;
    for (int a = 1; a < argc; a++)
        if (collect(&c, argv[a], suffix) != 0)
            goto out;
    if (argc > 1 && c.n == 0) {
        fprintf(stderr, "%s: no cases found\n", group);
        goto out;
    }
    struct CMUnitTest *tests = calloc(n_fixed + c.n + 1, sizeof *tests);
    if (!tests)
        goto out;
    for (size_t i = 0; i < n_fixed; i++)
        tests[i] = fixed[i];
    for (size_t i = 0; i < c.n; i++) {
        tests[n_fixed + i] = (struct CMUnitTest)cmocka_unit_test_prestate(fn, c.paths[i]);
        tests[n_fixed + i].name = c.paths[i];
    }
    rc = _cmocka_run_group_tests(group, tests, n_fixed + c.n, NULL, NULL);
    free(tests);
out:
    for (size_t i = 0; i < c.n; i++)
        free(c.paths[i]);
    free(c.paths);
    return rc;
}

char *fixture_read(const char *dir, const char *name, size_t *len_out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s", dir, name ? "/" : "", name ? name : "");
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
        if (cap - len - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

json_t *fixture_json(const char *path)
{
    size_t len;
    char *text = fixture_read(path, NULL, &len);
    if (!text)
        fail_msg("%s: cannot read", path);
    json_error_t je;
    json_t *v = json_loadb(text, len, 0, &je);
    free(text);
    if (!v)
        fail_msg("%s:%d: %s", path, je.line, je.text);
    return v;
}
