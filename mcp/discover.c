/*
 * server/discover (revision 2026-07-28): what a modern client may ask before
 * anything else, or never: the revisions served per request, the
 * capabilities and the instructions. The server's identity rides in the
 * result's `_meta` like on every modern result (modern.c decorates), and
 * the answer is cacheable for an hour: it changes only with a new build.
 *
 * Only modern revisions are listed: the session revisions are reached with
 * initialize, never per request, so offering them here would invite a
 * request this server would refuse.
 *
 * Loop thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mcp/modern-int.h"

void mcp_discover(struct pw_mcp_session *s, struct mcp_batch *b, json_t *id, json_t *params)
{
    (void)params;
    struct pw_mcp_server *srv = s->srv;
    json_t *versions = json_array();
    for (int i = 0; pw_mcp_modern_versions[i]; i++)
        json_array_append_new(versions, json_string(pw_mcp_modern_versions[i]));
    json_t *result = json_pack("{s:o, s:o}", "supportedVersions", versions, "capabilities",
                               mcp_modern_capabilities(srv));
    if (srv->instructions)
        json_object_set_new(result, "instructions", json_string(srv->instructions));
    mcp_session_reply(s, b, id, result, false);
}
