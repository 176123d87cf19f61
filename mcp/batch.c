/*
 * JSON-RPC batches (revision 2025-03-26 only): the responses to the requests
 * of one batch go back as one array, whenever the last of them finishes.
 *
 * A batch counts the responses it still waits for. It is sealed once every
 * message of the incoming array has been dispatched; when it is sealed and
 * nothing is pending it sends its array (unless it is empty: a batch of
 * notifications gets no answer) and frees itself. A cancelled call reports
 * "no response" with mcp_batch_add(..., NULL). With no session (the client
 * went away) the array is dropped.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mcp/mcp-int.h"

#include <stdlib.h>

struct mcp_batch {
    json_t *responses;
    json_t *related;
    int pending;
    bool sealed;
};

struct mcp_batch *mcp_batch_new(json_t *related)
{
    struct mcp_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->responses = json_array();
    b->related = json_incref(related);
    return b;
}

void mcp_batch_expect(struct mcp_batch *b) { b->pending++; }

static void flush(struct pw_mcp_session *s, struct mcp_batch *b)
{
    if (!b->sealed || b->pending > 0)
        return;
    if (s && json_array_size(b->responses) > 0)
        mcp_send(s, json_incref(b->responses), b->related);
    json_decref(b->responses);
    json_decref(b->related);
    free(b);
}

void mcp_batch_add(struct pw_mcp_session *s, struct mcp_batch *b, json_t *msg_new)
{
    if (msg_new)
        json_array_append_new(b->responses, msg_new);
    b->pending--;
    flush(s, b);
}

void mcp_batch_seal(struct pw_mcp_session *s, struct mcp_batch *b)
{
    b->sealed = true;
    flush(s, b);
}
