/*
 * The helpers of fuzz.h, linked into every fuzz target. Allocation
 * failures abort: a target that cannot copy its input has nothing to test.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *fuzz_text(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

char *fuzz_split(const uint8_t *data, size_t size, char sep, const uint8_t **rest,
                 size_t *rest_size)
{
    const uint8_t *at = memchr(data, sep, size);
    size_t n = at ? (size_t)(at - data) : size;
    *rest = at ? at + 1 : data + size;
    *rest_size = at ? size - n - 1 : 0;
    return fuzz_text(data, n);
}

static char scratch[4096];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void remove_scratch(void)
{
    nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_scratch_dir(void)
{
    if (scratch[0])
        return scratch;
    const char *base = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/pw-fuzz-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(scratch))
        abort();
    atexit(remove_scratch);
    return scratch;
}
