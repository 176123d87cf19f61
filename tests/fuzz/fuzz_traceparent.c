/*
 * Fuzz target: the W3C traceparent parser (trace/context.c), which reads a
 * header any HTTP client may send. The input is the header value, with
 * its length (embedded NULs included, as the parser takes a length).
 *
 * Round trip checked: whatever is accepted formats to a version-00 value
 * that parses back to the same ids and flags, and nothing accepted has an
 * all-zero trace or span id.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "pennyworth/trace.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) { return 0; }

static bool zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pw_trace_ctx c, back;
    if (!pw_trace_parse_traceparent((const char *)data, size, &c))
        return 0;
    if (zero(c.trace_id, sizeof c.trace_id) || zero(c.span_id, sizeof c.span_id))
        abort();
    char out[PW_TRACE_TRACEPARENT_LEN + 1];
    pw_trace_format_traceparent(&c, out);
    if (strlen(out) != PW_TRACE_TRACEPARENT_LEN ||
        !pw_trace_parse_traceparent(out, strlen(out), &back) ||
        memcmp(c.trace_id, back.trace_id, sizeof c.trace_id) != 0 ||
        memcmp(c.span_id, back.span_id, sizeof c.span_id) != 0 || c.flags != back.flags)
        abort();
    return 0;
}
