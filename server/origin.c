/*
 * The Origin allow-list: DNS-rebinding protection for the MCP endpoints.
 *
 * A browser page on any site can make a user's browser talk to a server on
 * loopback; the Origin header is what tells us which site it was. Allowed:
 *   - no Origin header at all (non-browser clients: SDKs, curl, agents);
 *   - http or https on localhost, 127.0.0.1 or [::1], with any port (local
 *     development tools and our own page);
 *   - each configured entry, compared exactly (ASCII case-insensitive, as
 *     origins are), or "*" for anything.
 * Everything else is refused, including "null" (sandboxed frames, file://)
 * and look-alikes such as "http://localhost.evil.example" or
 * "http://127.0.0.1.nip.io": the host must end where the port or the value
 * ends, and an origin never carries a path, user info or query.
 *
 * Pure functions, any thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include "server/server-int.h"

#include <string.h>
#include <strings.h>

/* After the scheme: host [":" port] and nothing else, host one of ours. */
static bool loopback_authority(const char *a)
{
    static const char *const hosts[] = {"localhost", "127.0.0.1", "[::1]"};
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        size_t n = strlen(hosts[i]);
        if (strncasecmp(a, hosts[i], n) != 0)
            continue;
        const char *p = a + n;
        if (!*p)
            return true;
        if (*p != ':')
            return false;
        p++;
        size_t digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 6) {
            p++;
            digits++;
        }
        return digits >= 1 && digits <= 5 && !*p;
    }
    return false;
}

bool server_origin_allowed(const char *origin, char *const *extra, size_t n)
{
    if (!origin)
        return true;
    for (size_t i = 0; i < n; i++)
        if (strcmp(extra[i], "*") == 0 || strcasecmp(extra[i], origin) == 0)
            return true;
    if (strncasecmp(origin, "http://", 7) == 0)
        return loopback_authority(origin + 7);
    if (strncasecmp(origin, "https://", 8) == 0)
        return loopback_authority(origin + 8);
    return false;
}
