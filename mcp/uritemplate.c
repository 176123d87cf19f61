/*
 * Matching a URI against an RFC 6570 level-1 template ("catalog://products/{id}").
 *
 * Only simple expressions are supported, which is what resource templates
 * use: each {name} matches one or more characters up to the next literal
 * character of the template (or the end), never across '/'. Matched values
 * are percent-decoded. On success *vars is a new object {name: value}.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mcp/mcp-int.h"

#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes [s, s+n) into a new string, NULL if malformed. */
static char *decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
        int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return NULL;
        }
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = '\0';
    return out;
}

bool mcp_uritemplate_match(const char *tmpl, const char *uri, json_t **vars)
{
    json_t *v = json_object();
    const char *t = tmpl, *u = uri;
    if (!v)
        return false;
    while (*t) {
        if (*t != '{') {
            if (*t != *u)
                goto fail;
            t++;
            u++;
            continue;
        }
        const char *close = strchr(t, '}');
        if (!close)
            goto fail;
        char name[64];
        size_t nlen = (size_t)(close - t - 1);
        if (nlen == 0 || nlen >= sizeof name)
            goto fail;
        memcpy(name, t + 1, nlen);
        name[nlen] = '\0';
        char stop = close[1];
        const char *end = u;
        while (*end && *end != '/' && *end != stop)
            end++;
        if (end == u)
            goto fail;
        char *val = decode(u, (size_t)(end - u));
        if (!val)
            goto fail;
        json_object_set_new(v, name, json_string(val));
        free(val);
        u = end;
        t = close + 1;
    }
    if (*u)
        goto fail;
    *vars = v;
    return true;
fail:
    json_decref(v);
    return false;
}
