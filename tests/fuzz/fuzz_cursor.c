/*
 * Fuzz target: both pagination cursor decoders, which take a client's
 * `cursor` verbatim: the MCP engine's list cursors (mcp/cursor.c; the
 * offset form used by tools/prompts/templates lists and the payload form
 * of resources/list) and the catalog's signed search cursors
 * (catalog/cursor.c, against an in-memory catalog made once, with its own
 * random key). The input is the cursor text.
 *
 * Round trips are checked too: a decoded MCP cursor re-encodes to one
 * that decodes to the same payload, and a catalog cursor made for an
 * offset taken from the input decodes back to that offset for its query
 * and is refused for another.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog-int.h"
#include "mcp/mcp-int.h"

static struct pw_catalog *cat;

static void close_catalog(void) { pw_catalog_close(cat); }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct pw_error err = {0};
    if (pw_catalog_open(":memory:", 0, &cat, &err) != PW_OK) {
        fprintf(stderr, "fuzz_cursor: %s\n", err.message);
        abort();
    }
    atexit(close_catalog);
    return 0;
}

static void mcp_cursors(const char *text)
{
    static const char *const kinds[] = {"tools", "prompts", "resourceTemplates", "resources"};
    char payload[MCP_CURSOR_MAX], again[MCP_CURSOR_MAX];
    size_t offset;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        mcp_cursor_offset(kinds[i], text, &offset, NULL);
        if (mcp_cursor_decode(kinds[i], text, payload, sizeof payload, NULL) != PW_OK)
            continue;
        char *re = mcp_cursor_encode(kinds[i], payload);
        if (!re || mcp_cursor_decode(kinds[i], re, again, sizeof again, NULL) != PW_OK ||
            strcmp(payload, again) != 0)
            abort();
        free(re);
    }
}

static void catalog_cursors(const char *text, const uint8_t *data, size_t size)
{
    unsigned char qhash[CATALOG_QUERY_HASH_LEN], other[CATALOG_QUERY_HASH_LEN];
    uint64_t offset, want = 0;
    catalog_query_hash(data, size, qhash);
    catalog_query_hash("other", 5, other);
    catalog_cursor_decode(cat, text, qhash, &offset, NULL);
    for (size_t i = 0; i < size && i < 8; i++)
        want = want << 8 | data[i];
    char *made = NULL;
    if (catalog_cursor_encode(cat, want, qhash, &made, NULL) != PW_OK ||
        catalog_cursor_decode(cat, made, qhash, &offset, NULL) != PW_OK || offset != want ||
        (memcmp(qhash, other, sizeof qhash) != 0 &&
         catalog_cursor_decode(cat, made, other, &offset, NULL) == PW_OK))
        abort();
    free(made);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    mcp_cursors(text);
    catalog_cursors(text, data, size);
    free(text);
    return 0;
}
