/*
 * Fuzz target: URI template matching (mcp/uritemplate.c), which a
 * resources/read URI from the client goes through against every registered
 * template. The input is "TEMPLATE\nURI"; templates are ours in production,
 * but fuzzing both sides also checks the matcher never trusts its template.
 * A match must give an object of strings.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include <stdlib.h>

#include "mcp/mcp-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *rest;
    size_t rest_size;
    char *tmpl = fuzz_split(data, size, '\n', &rest, &rest_size);
    char *uri = fuzz_text(rest, rest_size);
    json_t *vars = NULL;
    if (mcp_uritemplate_match(tmpl, uri, &vars)) {
        const char *k;
        json_t *v;
        if (!json_is_object(vars))
            abort();
        json_object_foreach(vars, k, v)
            if (!json_is_string(v))
                abort();
        json_decref(vars);
    }
    free(uri);
    free(tmpl);
    return 0;
}
