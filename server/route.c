/*
 * The route table: which handler serves a request path.
 *
 * Rows are {path, flags, handler}; an exact row matches only its own path,
 * a PW_SERVER_ROUTE_PREFIX row matches every path that starts with it. When
 * several rows match, the longest path wins, so "/v1/" and "/" can live
 * side by side and "/mcp" is never shadowed by "/". The table is small and
 * fixed once listening, so a linear scan is the whole algorithm.
 *
 * Service thread (and the registration calls before listening).
 *
 * SPDX-License-Identifier: MIT
 */
#include "server/server-int.h"

#include <string.h>

const struct server_route *server_route_find(const struct server_route *routes, size_t n,
                                             const char *path)
{
    const struct server_route *best = NULL;
    size_t plen = strlen(path);
    for (size_t i = 0; i < n; i++) {
        const struct server_route *r = &routes[i];
        bool hit = (r->flags & PW_SERVER_ROUTE_PREFIX)
                       ? plen >= r->len && memcmp(path, r->path, r->len) == 0
                       : plen == r->len && memcmp(path, r->path, r->len) == 0;
        if (hit && (!best || r->len > best->len))
            best = r;
    }
    return best;
}
