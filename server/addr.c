/*
 * Listen addresses as users write them: "127.0.0.1:8080", "[::1]:8080",
 * "localhost:9000", "0.0.0.0:8080", "*:8080", ":8080", "8080" or just a host.
 *
 * The host part is copied without brackets and without interpretation (the
 * server resolves "localhost" and "*" itself); a bare number is a port. A
 * port must be 0..65535 (0 asks the kernel for a free one).
 *
 * Pure function, any thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include "server/server-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool all_digits(const char *s, size_t n)
{
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static enum pw_err parse_port(const char *s, size_t n, int *port, struct pw_error *err)
{
    if (!all_digits(s, n) || n > 5)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "bad port '%.*s'", (int)n, s);
    char buf[8];
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    long v = strtol(buf, NULL, 10);
    if (errno || v > 65535)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "port out of range: %s", buf);
    *port = (int)v;
    return PW_OK;
}

static enum pw_err copy_host(const char *s, size_t n, char *host, size_t hostlen,
                             struct pw_error *err)
{
    if (n + 1 > hostlen)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "host too long");
    memcpy(host, s, n);
    host[n] = '\0';
    return PW_OK;
}

enum pw_err pw_server_parse_listen(const char *spec, char *host, size_t hostlen, int *port,
                                   struct pw_error *err)
{
    if (!spec || !*spec)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "empty listen address");
    size_t len = strlen(spec);
    if (all_digits(spec, len))
        return parse_port(spec, len, port, err);
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close == spec + 1)
            return pw_error_set(err, PW_ERR_INVALID, NULL, "bad IPv6 address in '%s'", spec);
        enum pw_err rc = copy_host(spec + 1, (size_t)(close - spec - 1), host, hostlen, err);
        if (rc)
            return rc;
        if (!close[1])
            return PW_OK;
        if (close[1] != ':')
            return pw_error_set(err, PW_ERR_INVALID, NULL, "expected ':PORT' after ']' in '%s'",
                                spec);
        return parse_port(close + 2, strlen(close + 2), port, err);
    }
    const char *colon = strrchr(spec, ':');
    if (colon && strchr(spec, ':') != colon)
        return pw_error_set(err, PW_ERR_INVALID, NULL,
                            "IPv6 addresses need brackets: '[%s]:PORT'", spec);
    if (!colon)
        return copy_host(spec, len, host, hostlen, err);
    enum pw_err rc = copy_host(spec, (size_t)(colon - spec), host, hostlen, err);
    if (rc)
        return rc;
    return parse_port(colon + 1, strlen(colon + 1), port, err);
}
